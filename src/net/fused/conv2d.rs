//! A two-dimensional convolution, PyTorch's `Conv2d` (cross-correlation, zero padding, a square kernel), as the
//! input unfolded into columns (im2col) times the weight, forward and back.
//!
//! candle's CPU convolution runs its forward pass this way too, but its input gradient is a `conv_transpose2d` of
//! direct loops, several times the forward pass at the U-Net's sizes. Here every product, forward and back, is one
//! call of candle's matrix product (its fast GEMM, with its own backward pass), the input gradient folds the
//! columns' gradient back into the image (col2im), and the weight's gradient is one product over the whole batch
//! rather than a product per image summed afterwards.
//!
//! The columns are laid out [in · k · k, batch · pixels], so that the product with the weight [out, in · k · k] is
//! [out, batch · pixels]: each output channel's rows of pixels are already contiguous, and the move to
//! [batch, out, pixels] copies whole rows.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::{accurate_sum, rows_of, vector_of};

/// `x` [batch, in, height, width] convolved with `weight` [out, in, k, k] (candle's and PyTorch's layout), plus
/// `bias` [out]: [batch, out, (height + 2·padding − k) / stride + 1, (width + 2·padding − k) / stride + 1].
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    if super::candle_ops() {
        return super::candle_ops::conv2d(x, weight, bias, stride, padding);
    }
    let (batch, channels, height, width) = x.dims4()?;
    let (outputs, weight_channels, kernel, kernel_width) = weight.dims4()?;
    if weight_channels != channels || kernel_width != kernel {
        bail!(
            "conv2d: a weight of shape {:?} for {channels} input channels",
            weight.dims()
        );
    }
    if stride == 0 || kernel == 0 || height + 2 * padding < kernel || width + 2 * padding < kernel {
        bail!(
            "conv2d: a {kernel}×{kernel} kernel with stride {stride} and padding {padding} on {height}×{width}"
        );
    }
    let geometry = Geometry {
        batch,
        channels,
        height,
        width,
        kernel,
        stride,
        padding,
        out_height: (height + 2 * padding - kernel) / stride + 1,
        out_width: (width + 2 * padding - kernel) / stride + 1,
    };
    let columns = if kernel == 1 && stride == 1 && padding == 0 {
        // Each column is a pixel already: the unfolding would only be this transposition.
        x.transpose(0, 1)?
            .contiguous()?
            .reshape((channels, batch * height * width))?
    } else {
        x.contiguous()?.apply_op1(Im2Col(geometry))?
    };
    let product = weight
        .reshape((outputs, channels * kernel * kernel))?
        .matmul(&columns)?;
    let product = match bias {
        Some(bias) => product.apply_op2(bias, AddRowBias)?,
        None => product,
    };
    product
        .reshape((outputs, batch, geometry.out_height, geometry.out_width))?
        .transpose(0, 1)?
        .contiguous()
}

/// The sizes of a convolution.
#[derive(Clone, Copy)]
struct Geometry {
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    out_height: usize,
    out_width: usize,
}

impl Geometry {
    /// Output pixels per image.
    fn pixels(&self) -> usize {
        self.out_height * self.out_width
    }

    /// The input coordinate that output coordinate `out` reads at kernel offset `offset`, if it is inside the image
    /// of extent `extent` (outside, it reads the zero padding).
    fn input(&self, out: usize, offset: usize, extent: usize) -> Option<usize> {
        (out * self.stride + offset)
            .checked_sub(self.padding)
            .filter(|&i| i < extent)
    }

    /// The output columns [first, end) whose input column at kernel offset `offset` is inside the image.
    fn inside_columns(&self, offset: usize) -> (usize, usize) {
        let end = (self.width + self.padding)
            .saturating_sub(offset)
            .div_ceil(self.stride)
            .min(self.out_width);
        let first = self.padding.saturating_sub(offset).div_ceil(self.stride);
        (first.min(end), end)
    }
}

/// Unfolds [batch, in, height, width] into columns [in · k · k, batch · out pixels]: row (c, i, j) holds, for
/// every output pixel, the input pixel of channel c under kernel tap (i, j).
struct Im2Col(Geometry);

/// The gradient of [`Im2Col`]: each column's gradient added back onto the input pixel it was read from.
struct Col2Im(Geometry);

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let x = rows_of(self.name(), storage, layout)?;
        let (plane, pixels) = (g.height * g.width, g.pixels());
        let row_len = g.batch * pixels;
        let rows = g.channels * g.kernel * g.kernel;
        let mut columns = vec![0f32; rows * row_len];
        columns
            .par_chunks_mut(row_len.max(1))
            .enumerate()
            .for_each(|(row, out)| {
                let (channel, tap) = (row / (g.kernel * g.kernel), row % (g.kernel * g.kernel));
                let (ki, kj) = (tap / g.kernel, tap % g.kernel);
                let (first, end) = g.inside_columns(kj);
                if first == end {
                    // Every pixel this tap reads is padding; the buffer starts at zero.
                    return;
                }
                let start = first * g.stride + kj - g.padding;
                for (b, out) in out.chunks_mut(pixels).enumerate() {
                    let source = &x[(b * g.channels + channel) * plane..][..plane];
                    for (oy, out) in out.chunks_mut(g.out_width).enumerate() {
                        // The buffer starts at zero: only the pixels inside the image are written.
                        let Some(iy) = g.input(oy, ki, g.height) else {
                            continue;
                        };
                        let source = &source[iy * g.width..][..g.width];
                        if g.stride == 1 {
                            out[first..end].copy_from_slice(&source[start..start + end - first]);
                        } else {
                            for (out, &v) in out[first..end]
                                .iter_mut()
                                .zip(source[start..].iter().step_by(g.stride))
                            {
                                *out = v;
                            }
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(columns), Shape::from((rows, row_len))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            grad_res.contiguous()?.apply_op1_no_bwd(&Col2Im(self.0))?,
        ))
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    /// Parallel over the input's (image, channel) planes, each written by one thread, its kernel taps added in a
    /// fixed order: the scatter-add is the same bits on any number of threads.
    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let columns = rows_of(self.name(), storage, layout)?;
        let (plane, pixels) = (g.height * g.width, g.pixels());
        let row_len = g.batch * pixels;
        if columns.len() != g.channels * g.kernel * g.kernel * row_len {
            bail!(
                "{}: {} column gradients for shape {:?}",
                self.name(),
                columns.len(),
                layout.shape()
            );
        }
        let mut dx = vec![0f32; g.batch * g.channels * plane];
        dx.par_chunks_mut(plane.max(1))
            .enumerate()
            .for_each(|(index, dx)| {
                let (b, channel) = (index / g.channels, index % g.channels);
                for ki in 0..g.kernel {
                    for kj in 0..g.kernel {
                        let row = (channel * g.kernel + ki) * g.kernel + kj;
                        let gradient = &columns[row * row_len + b * pixels..][..pixels];
                        let (first, end) = g.inside_columns(kj);
                        if first == end {
                            continue;
                        }
                        let start = first * g.stride + kj - g.padding;
                        for (oy, gradient) in gradient.chunks(g.out_width).enumerate() {
                            let Some(iy) = g.input(oy, ki, g.height) else {
                                continue;
                            };
                            let dx = &mut dx[iy * g.width..][..g.width];
                            if g.stride == 1 {
                                for (dx, &d) in dx[start..].iter_mut().zip(&gradient[first..end]) {
                                    *dx += d;
                                }
                            } else {
                                for (dx, &d) in dx[start..]
                                    .iter_mut()
                                    .step_by(g.stride)
                                    .zip(&gradient[first..end])
                                {
                                    *dx += d;
                                }
                            }
                        }
                    }
                }
            });
        Ok((
            CpuStorage::F32(dx),
            Shape::from((g.batch, g.channels, g.height, g.width)),
        ))
    }
}

/// x + b for x [rows, width] and b [rows]: the convolution's bias, added to each output channel's row.
struct AddRowBias;

/// Σ over each row of a [rows, width] tensor, in f64: the gradient of [`AddRowBias`]'s bias, a sum over the whole
/// batch's pixels.
struct RowSums;

impl CustomOp2 for AddRowBias {
    fn name(&self) -> &'static str {
        "add-row-bias"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        bias_storage: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = rows_of(self.name(), x_storage, x_layout)?;
        let (rows, width) = x_layout.shape().dims2()?;
        let bias = vector_of(self.name(), bias_storage, bias_layout, rows)?;
        let mut y = x.to_vec();
        y.par_chunks_mut(width.max(1))
            .zip(bias)
            .for_each(|(row, b)| row.iter_mut().for_each(|y| *y += b));
        Ok((CpuStorage::F32(y), x_layout.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let bias_grad = grad_res.contiguous()?.apply_op1_no_bwd(&RowSums)?;
        Ok((Some(grad_res.clone()), Some(bias_grad)))
    }
}

impl CustomOp1 for RowSums {
    fn name(&self) -> &'static str {
        "row-sums"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = rows_of(self.name(), storage, layout)?;
        let (rows, width) = layout.shape().dims2()?;
        let sums = if width == 0 {
            vec![0f32; rows]
        } else {
            x.par_chunks(width)
                .map(|row| accurate_sum(row, row, |v, _| v) as f32)
                .collect()
        };
        Ok((CpuStorage::F32(sums), Shape::from(rows)))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Result, Tensor};

    use super::super::reference::{assert_matches, assert_same_bits_on_any_number_of_threads};

    /// candle's own convolution plus the bias: what [`super::conv2d`] replaces.
    fn candle_conv(t: &[Tensor], stride: usize, padding: usize) -> Result<Tensor> {
        super::super::candle_ops::conv2d(&t[0], &t[1], Some(&t[2]), stride, padding)
    }

    /// Sizes whose height and width leave the same remainder in a stride-2 convolution: for the others, candle's
    /// own input gradient has the wrong shape (its backward pass takes the transposed convolution's output padding
    /// from the height alone), see [`unet_conv2d_matches_candle_where_candles_stride_2_gradient_fails`].
    fn check(kernel: usize, stride: usize, padding: usize) {
        for (height, width) in [(5, 7), (6, 6), (8, 4), (3, 9)] {
            assert_matches(
                &[&[2, 3, height, width], &[4, 3, kernel, kernel], &[4]],
                1e-5,
                |t| super::conv2d(&t[0], &t[1], Some(&t[2]), stride, padding),
                |t| candle_conv(t, stride, padding),
            );
        }
    }

    #[test]
    fn unet_conv2d_matches_candle_3x3() {
        check(3, 1, 1);
    }

    #[test]
    fn unet_conv2d_matches_candle_3x3_stride_2() {
        check(3, 2, 1);
    }

    #[test]
    fn unet_conv2d_matches_candle_1x1() {
        check(1, 1, 0);
    }

    #[test]
    fn unet_conv2d_matches_candle_without_padding_and_without_bias() {
        assert_matches(
            &[&[2, 3, 7, 9], &[4, 3, 3, 3]],
            1e-5,
            |t| super::conv2d(&t[0], &t[1], None, 2, 0),
            |t| t[0].conv2d(&t[1], 0, 2, 1, 1),
        );
    }

    #[test]
    fn unet_conv2d_matches_candle_where_candles_stride_2_gradient_fails() {
        // 8 × 3 with stride 2: candle's backward pass gives x a gradient of 8 × 4. A zero column on the right
        // changes no output (the kernel reads it where it read padding), so candle on the padded image, its input
        // gradient cut back to 8 × 3, is the reference.
        assert_matches(
            &[&[2, 3, 8, 3], &[4, 3, 3, 3], &[4]],
            1e-5,
            |t| super::conv2d(&t[0], &t[1], Some(&t[2]), 2, 1),
            |t| {
                let padded = t[0].pad_with_zeros(3, 0, 1)?;
                candle_conv(&[padded, t[1].clone(), t[2].clone()], 2, 1)
            },
        );
    }

    #[test]
    fn unet_conv2d_is_the_same_bits_on_any_number_of_threads() {
        for (kernel, stride, padding) in [(3, 1, 1), (3, 2, 1), (1, 1, 0)] {
            assert_same_bits_on_any_number_of_threads(
                &[&[4, 16, 9, 11], &[24, 16, kernel, kernel], &[24]],
                |t| super::conv2d(&t[0], &t[1], Some(&t[2]), stride, padding),
            );
        }
    }
}
