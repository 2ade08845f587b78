//! Nearest-neighbour upsampling by two, each pixel repeated 2×2, whose backward pass sums each 2×2 block.
//!
//! candle's `upsample_nearest2d` is general (any target size), and its backward pass is a general scatter,
//! about a hundred times the forward pass on the U-Net's sizes; the U-Net only ever doubles, for which the gradient
//! is one pass of 2×2 sums.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::rows_of;

/// `x` [batch, channels, height, width] as [batch, channels, 2·height, 2·width], each pixel repeated 2×2: candle's
/// `upsample_nearest2d(2·height, 2·width)`.
pub fn upsample_nearest2x(x: &Tensor) -> Result<Tensor> {
    if super::candle_ops() {
        return super::candle_ops::upsample_nearest2x(x);
    }
    let (_, _, height, width) = x.dims4()?;
    x.contiguous()?.apply_op1(Upsample2x { height, width })
}

/// The upsampling, for images of `height` × `width`.
#[derive(Clone, Copy)]
struct Upsample2x {
    height: usize,
    width: usize,
}

/// Its gradient: the sum of each 2×2 block, (top left + top right) + (bottom left + bottom right).
struct BlockSums(Upsample2x);

impl CustomOp1 for Upsample2x {
    fn name(&self) -> &'static str {
        "upsample-nearest-2x"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = rows_of(self.name(), storage, layout)?;
        let (batch, channels, height, width) = layout.shape().dims4()?;
        let mut y = vec![0f32; x.len() * 4];
        y.par_chunks_mut((4 * width).max(1))
            .zip(x.par_chunks(width.max(1)))
            .for_each(|(y, x)| {
                let (top, bottom) = y.split_at_mut(2 * width);
                for (pair, &v) in top.chunks_exact_mut(2).zip(x) {
                    pair.fill(v);
                }
                bottom.copy_from_slice(top);
            });
        Ok((
            CpuStorage::F32(y),
            Shape::from((batch, channels, 2 * height, 2 * width)),
        ))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            grad_res.contiguous()?.apply_op1_no_bwd(&BlockSums(*self))?,
        ))
    }
}

impl CustomOp1 for BlockSums {
    fn name(&self) -> &'static str {
        "upsample-nearest-2x-backward"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dy = rows_of(self.name(), storage, layout)?;
        let (batch, channels, _, _) = layout.shape().dims4()?;
        let Upsample2x { height, width } = self.0;
        if layout.shape().dims() != [batch, channels, 2 * height, 2 * width] {
            candle_core::bail!(
                "{}: a gradient of shape {:?} for {height}×{width} images",
                self.name(),
                layout.shape()
            );
        }
        let mut dx = vec![0f32; dy.len() / 4];
        dx.par_chunks_mut(width.max(1))
            .zip(dy.par_chunks((4 * width).max(1)))
            .for_each(|(dx, dy)| {
                let (top, bottom) = dy.split_at(2 * width);
                for ((dx, top), bottom) in dx
                    .iter_mut()
                    .zip(top.chunks_exact(2))
                    .zip(bottom.chunks_exact(2))
                {
                    *dx = (top[0] + top[1]) + (bottom[0] + bottom[1]);
                }
            });
        Ok((
            CpuStorage::F32(dx),
            Shape::from((batch, channels, height, width)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::{assert_matches, assert_same_bits_on_any_number_of_threads};

    #[test]
    fn unet_upsample_matches_candle() {
        for (height, width) in [(5, 7), (4, 4), (1, 3)] {
            assert_matches(
                &[&[2, 3, height, width]],
                1e-6,
                |t| super::upsample_nearest2x(&t[0]),
                |t| super::super::candle_ops::upsample_nearest2x(&t[0]),
            );
        }
    }

    #[test]
    fn unet_upsample_is_the_same_bits_on_any_number_of_threads() {
        assert_same_bits_on_any_number_of_threads(&[&[4, 32, 9, 11]], |t| {
            super::upsample_nearest2x(&t[0])
        });
    }
}
