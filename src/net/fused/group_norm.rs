//! GroupNorm over [batch, channels, ...spatial] (PyTorch's `GroupNorm`: the biased variance of each group of
//! channels of each image, a per-channel gain and bias), optionally followed by SiLU in the same pass.
//!
//! As candle tensor operations, GroupNorm is a reshape, two means, a handful of broadcast operations and the
//! affine, each a pass over the activations into a fresh allocation, and its backward pass about three times as
//! many, with the gain's and bias's gradients strided reductions over batch and pixels: about fifteen times the
//! forward pass on the U-Net. The U-Net follows most of its GroupNorms with SiLU, another two passes forward and
//! four back. Here each is one pass forward and one back over
//! each group, the sums in f64 where they run over a whole group or batch.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::{accurate_sum, rows_of, vector_of};

/// GroupNorm of `x` [batch, channels, ...] in `groups` groups of channels, with `gain` and `bias` [channels],
/// then SiLU (z · sigmoid(z)) if `silu`.
pub fn group_norm(
    x: &Tensor,
    gain: &Tensor,
    bias: &Tensor,
    groups: usize,
    eps: f64,
    silu: bool,
) -> Result<Tensor> {
    let dims = x.dims();
    if dims.len() < 2 || groups == 0 || !dims[1].is_multiple_of(groups) {
        bail!("group-norm: {groups} groups for a tensor of shape {dims:?}");
    }
    if super::candle_ops() {
        return super::candle_ops::group_norm(x, gain, bias, groups, eps, silu);
    }
    x.contiguous()?
        .apply_op3(gain, bias, GroupNorm { groups, eps, silu })
}

#[derive(Clone, Copy)]
struct GroupNorm {
    groups: usize,
    eps: f64,
    silu: bool,
}

/// The gradients of [`GroupNorm`]'s input, gain and bias, flattened one after the other (a custom operation
/// returns one tensor); its inputs are x, the gain and bias stacked as [2, channels], and the result's gradient.
struct GroupNormBackward(GroupNorm);

/// The sizes of a GroupNorm: elements per channel plane and per group, channels per group, channels.
#[derive(Clone, Copy)]
struct Sizes {
    plane: usize,
    group: usize,
    channels_per_group: usize,
    channels: usize,
}

impl GroupNorm {
    fn sizes(&self, layout: &Layout) -> Sizes {
        let dims = layout.shape().dims();
        let plane = dims[2..].iter().product::<usize>();
        let channels_per_group = dims[1] / self.groups;
        Sizes {
            plane,
            group: channels_per_group * plane,
            channels_per_group,
            channels: dims[1],
        }
    }

    /// The group's mean and 1/√(variance + ε), the variance taken about the mean (two passes, as the expression),
    /// both summed in f64.
    fn moments(&self, x: &[f32]) -> (f32, f32) {
        let n = x.len().max(1) as f64;
        let mean = accurate_sum(x, x, |v, _| v) / n;
        let centre = mean as f32;
        let variance = accurate_sum(x, x, |v, _| (v - centre) * (v - centre)) / n;
        (centre, (1.0 / (variance + self.eps).sqrt()) as f32)
    }
}

/// σ(z).
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl CustomOp3 for GroupNorm {
    fn name(&self) -> &'static str {
        "group-norm"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        gain_storage: &CpuStorage,
        gain_layout: &Layout,
        bias_storage: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = rows_of(self.name(), x_storage, x_layout)?;
        let s = self.sizes(x_layout);
        let gain = vector_of(self.name(), gain_storage, gain_layout, s.channels)?;
        let bias = vector_of(self.name(), bias_storage, bias_layout, s.channels)?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(s.group.max(1))
            .zip(x.par_chunks(s.group.max(1)))
            .enumerate()
            .for_each(|(index, (y, x))| {
                let (mean, inverse_std) = self.moments(x);
                let first = (index % self.groups) * s.channels_per_group;
                for ((y, x), c) in y
                    .chunks_mut(s.plane.max(1))
                    .zip(x.chunks(s.plane.max(1)))
                    .zip(first..)
                {
                    let (scale, shift) = (inverse_std * gain[c], bias[c]);
                    let affine = |x: f32| (x - mean) * scale + shift;
                    // Two loops, not one with a choice inside, which the compiler would turn into an exp for
                    // every element either way.
                    if self.silu {
                        for (y, &x) in y.iter_mut().zip(x) {
                            let z = affine(x);
                            *y = z * sigmoid(z);
                        }
                    } else {
                        for (y, &x) in y.iter_mut().zip(x) {
                            *y = affine(x);
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(y), x_layout.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gain: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let parameters = Tensor::stack(&[gain, bias], 0)?;
        let stacked = x.apply_op3_no_bwd(
            &parameters,
            &grad_res.contiguous()?,
            &GroupNormBackward(*self),
        )?;
        let (count, channels) = (x.elem_count(), gain.elem_count());
        Ok((
            Some(stacked.narrow(0, 0, count)?.reshape(x.shape())?),
            Some(stacked.narrow(0, count, channels)?),
            Some(stacked.narrow(0, count + channels, channels)?),
        ))
    }
}

impl CustomOp3 for GroupNormBackward {
    fn name(&self) -> &'static str {
        "group-norm-backward"
    }

    /// With z = x̂ · gain + bias the affine's output and dz = dy (or dy · silu′(z)): per group, with dx̂ = dz · gain,
    /// dx = (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)) / √(variance + ε); the gain's gradient is Σ dz ⊙ x̂ and the bias's
    /// Σ dz over images and pixels. The sums of dz and dz ⊙ x̂ over each channel plane serve both.
    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        parameters_storage: &CpuStorage,
        parameters_layout: &Layout,
        dy_storage: &CpuStorage,
        dy_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let forward = self.0;
        let x = rows_of(self.name(), x_storage, x_layout)?;
        let s = forward.sizes(x_layout);
        let parameters = rows_of(self.name(), parameters_storage, parameters_layout)?;
        if parameters_layout.shape().dims() != [2, s.channels] {
            bail!(
                "{}: gain and bias of shape {:?} for {} channels",
                self.name(),
                parameters_layout.shape(),
                s.channels
            );
        }
        let (gain, bias) = parameters.split_at(s.channels);
        let dy = rows_of(self.name(), dy_storage, dy_layout)?;
        if dy.len() != x.len() {
            bail!(
                "{}: {} gradients for {} inputs",
                self.name(),
                dy.len(),
                x.len()
            );
        }
        let n = s.group.max(1) as f64;
        let mut dx = vec![0f32; x.len()];
        // For each group, the sums over each of its channel planes of dz and of dz ⊙ x̂.
        let plane_sums: Vec<Vec<(f64, f64)>> = dx
            .par_chunks_mut(s.group.max(1))
            .zip(
                x.par_chunks(s.group.max(1))
                    .zip(dy.par_chunks(s.group.max(1))),
            )
            .enumerate()
            .map(|(index, (dx, (x, dy)))| {
                let (mean, inverse_std) = forward.moments(x);
                let first = (index % forward.groups) * s.channels_per_group;
                let plane = s.plane.max(1);
                // dz first, into dx's own buffer, and its sums.
                let sums: Vec<(f64, f64)> = dx
                    .chunks_mut(plane)
                    .zip(x.chunks(plane).zip(dy.chunks(plane)))
                    .zip(first..)
                    .map(|((dz, (x, dy)), c)| {
                        if forward.silu {
                            let (scale, shift) = (inverse_std * gain[c], bias[c]);
                            for ((dz, &x), &dy) in dz.iter_mut().zip(x).zip(dy) {
                                let z = (x - mean) * scale + shift;
                                let sig = sigmoid(z);
                                *dz = dy * sig * (1.0 + z * (1.0 - sig));
                            }
                        } else {
                            dz.copy_from_slice(dy);
                        }
                        (
                            accurate_sum(dz, dz, |d, _| d),
                            accurate_sum(dz, x, |d, x| d * (x - mean) * inverse_std),
                        )
                    })
                    .collect();
                let (mut mean_dx_hat, mut mean_dx_hat_x_hat) = (0f64, 0f64);
                for (&(dz, dz_x_hat), c) in sums.iter().zip(first..) {
                    mean_dx_hat += f64::from(gain[c]) * dz;
                    mean_dx_hat_x_hat += f64::from(gain[c]) * dz_x_hat;
                }
                let (mean_dx_hat, mean_dx_hat_x_hat) =
                    ((mean_dx_hat / n) as f32, (mean_dx_hat_x_hat / n) as f32);
                for ((dx, x), c) in dx.chunks_mut(plane).zip(x.chunks(plane)).zip(first..) {
                    let g = gain[c];
                    for (dx, &x) in dx.iter_mut().zip(x) {
                        let x_hat = (x - mean) * inverse_std;
                        *dx = (*dx * g - mean_dx_hat - x_hat * mean_dx_hat_x_hat) * inverse_std;
                    }
                }
                sums
            })
            .collect();
        // The gain's and bias's gradients: the plane sums over the images, in order.
        let mut gain_grad = vec![0f64; s.channels];
        let mut bias_grad = vec![0f64; s.channels];
        for (index, sums) in plane_sums.iter().enumerate() {
            let first = (index % forward.groups) * s.channels_per_group;
            for (&(dz, dz_x_hat), c) in sums.iter().zip(first..) {
                gain_grad[c] += dz_x_hat;
                bias_grad[c] += dz;
            }
        }
        dx.extend(gain_grad.iter().chain(&bias_grad).map(|&v| v as f32));
        let len = dx.len();
        Ok((CpuStorage::F32(dx), Shape::from(len)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::{assert_matches, assert_same_bits_on_any_number_of_threads};

    const EPS: f64 = 1e-5;

    fn check(shape: &[usize], groups: usize, silu: bool) {
        let channels = shape[1];
        assert_matches(
            &[shape, &[channels], &[channels]],
            1e-4,
            |t| super::group_norm(&t[0], &t[1], &t[2], groups, EPS, silu),
            |t| super::super::candle_ops::group_norm(&t[0], &t[1], &t[2], groups, EPS, silu),
        );
    }

    #[test]
    fn unet_group_norm_matches_candle() {
        check(&[2, 8, 5, 7], 4, false);
        check(&[3, 6, 9], 3, false);
        check(&[2, 4, 3, 3], 1, false);
    }

    #[test]
    fn unet_group_norm_with_silu_matches_candle() {
        check(&[2, 8, 5, 7], 4, true);
        check(&[3, 6, 9], 2, true);
        check(&[2, 6, 3, 3], 6, true);
    }

    #[test]
    fn unet_group_norm_is_the_same_bits_on_any_number_of_threads() {
        for silu in [false, true] {
            assert_same_bits_on_any_number_of_threads(&[&[4, 32, 9, 11], &[32], &[32]], |t| {
                super::group_norm(&t[0], &t[1], &t[2], 8, EPS, silu)
            });
        }
    }
}
