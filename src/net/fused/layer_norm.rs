//! LayerNorm over the last dimension, (x − mean) / √(variance + ε) · gain + bias, whose backward pass gives the
//! gradients of the input, the gain and the bias in one pass over the rows.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{column_sums, row_width, rows_of, vector_of};

/// LayerNorm of `x` with `gain` and `bias` (vectors as long as `x`'s last dimension).
pub fn layer_norm(x: &Tensor, gain: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    x.contiguous()?.apply_op3(gain, bias, LayerNorm { eps })
}

#[derive(Clone)]
struct LayerNorm {
    eps: f32,
}

/// The gradients of [`LayerNorm`]'s three inputs, stacked as [rows + 2, width]: the input's rows, then the gain's
/// and the bias's (a custom operation returns one tensor).
struct LayerNormBackward(LayerNorm);

impl LayerNorm {
    /// The row's mean and 1/√(variance + ε), the variance taken about the mean (two passes, as the expression).
    fn moments(&self, x: &[f32]) -> (f32, f32) {
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let variance = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        (mean, 1.0 / (variance + self.eps).sqrt())
    }
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "layer-norm"
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
        let width = row_width(x_layout);
        let gain = vector_of(self.name(), gain_storage, gain_layout, width)?;
        let bias = vector_of(self.name(), bias_storage, bias_layout, width)?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(width)
            .zip(x.par_chunks(width))
            .for_each(|(y, x)| {
                let (mean, inverse_std) = self.moments(x);
                for (((y, &x), &g), &b) in y.iter_mut().zip(x).zip(gain).zip(bias) {
                    *y = (x - mean) * inverse_std * g + b;
                }
            });
        Ok((CpuStorage::F32(y), x_layout.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gain: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let stacked = x.apply_op3_no_bwd(
            gain,
            &grad_res.contiguous()?,
            &LayerNormBackward(self.clone()),
        )?;
        let rows = stacked.dim(0)? - 2;
        let dx = stacked.narrow(0, 0, rows)?.reshape(x.shape())?;
        Ok((
            Some(dx),
            Some(stacked.get(rows)?),
            Some(stacked.get(rows + 1)?),
        ))
    }
}

impl CustomOp3 for LayerNormBackward {
    fn name(&self) -> &'static str {
        "layer-norm-backward"
    }

    /// With x̂ the normalised row and dx̂ = dy ⊙ gain: dx = (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)) / √(variance + ε);
    /// the gain's gradient is Σ dy ⊙ x̂ and the bias's Σ dy over the rows.
    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        gain_storage: &CpuStorage,
        gain_layout: &Layout,
        dy_storage: &CpuStorage,
        dy_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = rows_of(self.name(), x_storage, x_layout)?;
        let width = row_width(x_layout);
        let gain = vector_of(self.name(), gain_storage, gain_layout, width)?;
        let dy = rows_of(self.name(), dy_storage, dy_layout)?;
        if dy.len() != x.len() {
            candle_core::bail!(
                "{}: {} gradients for {} inputs",
                self.name(),
                dy.len(),
                x.len()
            );
        }
        let n = width as f32;
        let rows = x.len() / width;
        let moments: Vec<(f32, f32)> = x.par_chunks(width).map(|x| self.0.moments(x)).collect();
        let mut dx = vec![0f32; x.len()];
        dx.par_chunks_mut(width)
            .zip(x.par_chunks(width).zip(dy.par_chunks(width)))
            .zip(&moments)
            .for_each(|((dx, (x, dy)), &(mean, inverse_std))| {
                let x_hat = |x: f32| (x - mean) * inverse_std;
                let (mut mean_dx_hat, mut mean_dx_hat_x_hat) = (0.0, 0.0);
                for ((&x, &dy), &g) in x.iter().zip(dy).zip(gain) {
                    mean_dx_hat += dy * g;
                    mean_dx_hat_x_hat += dy * g * x_hat(x);
                }
                mean_dx_hat /= n;
                mean_dx_hat_x_hat /= n;
                for (((dx, &x), &dy), &g) in dx.iter_mut().zip(x).zip(dy).zip(gain) {
                    *dx = (dy * g - mean_dx_hat - x_hat(x) * mean_dx_hat_x_hat) * inverse_std;
                }
            });
        let parameter_grads = column_sums(rows, 2 * width, |row, sums| {
            let (mean, inverse_std) = moments[row];
            let span = row * width..(row + 1) * width;
            let (gain_sums, bias_sums) = sums.split_at_mut(width);
            for (((g, b), &x), &dy) in gain_sums
                .iter_mut()
                .zip(bias_sums)
                .zip(&x[span.clone()])
                .zip(&dy[span])
            {
                *g += dy * (x - mean) * inverse_std;
                *b += dy;
            }
        });
        dx.extend(parameter_grads);
        Ok((CpuStorage::F32(dx), Shape::from((rows + 2, width))))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::D;

    use super::super::reference::assert_matches;

    #[test]
    fn equals_the_layer_norm_expression_in_values_and_all_three_gradients() {
        let eps = 1e-5;
        assert_matches(
            &[&[3, 5, 96], &[96], &[96]],
            1e-4,
            |t| super::layer_norm(&t[0], &t[1], &t[2], eps as f32),
            |t| {
                let centred = t[0].broadcast_sub(&t[0].mean_keepdim(D::Minus1)?)?;
                let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
                centred
                    .broadcast_div(&(variance + eps)?.sqrt()?)?
                    .broadcast_mul(&t[1])?
                    .broadcast_add(&t[2])
            },
        );
    }
}
