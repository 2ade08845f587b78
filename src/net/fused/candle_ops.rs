//! The U-Net's fused operations as candle's own compositions: what each fused kernel replaces, so what its tests
//! compare it with, and what the training benchmark runs instead of it (`use_candle_ops`) to measure the saving.

use candle_core::{Result, Tensor};

/// candle's convolution plus the bias, broadcast over the canvas.
pub(crate) fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let y = x.conv2d(weight, padding, stride, 1, 1)?;
    match bias {
        Some(bias) => y.broadcast_add(&bias.reshape((1, bias.dim(0)?, 1, 1))?),
        None => Ok(y),
    }
}

/// GroupNorm as tensor operations: centred values over their group's standard deviation (biased, plus ε), the
/// gain and bias per channel, then SiLU if `silu`.
pub(crate) fn group_norm(
    x: &Tensor,
    gain: &Tensor,
    bias: &Tensor,
    groups: usize,
    eps: f64,
    silu: bool,
) -> Result<Tensor> {
    let dims = x.dims();
    let (batch, channels) = (dims[0], dims[1]);
    let grouped = x.reshape((batch, groups, ()))?;
    let centred = grouped.broadcast_sub(&grouped.mean_keepdim(2)?)?;
    let variance = centred.sqr()?.mean_keepdim(2)?;
    let mut affine_shape = vec![1, channels];
    affine_shape.resize(dims.len(), 1);
    let z = centred
        .broadcast_div(&(variance + eps)?.sqrt()?)?
        .reshape(dims)?
        .broadcast_mul(&gain.reshape(affine_shape.as_slice())?)?
        .broadcast_add(&bias.reshape(affine_shape.as_slice())?)?;
    if silu {
        candle_nn::ops::silu(&z)
    } else {
        Ok(z)
    }
}

/// candle's nearest doubling.
pub(crate) fn upsample_nearest2x(x: &Tensor) -> Result<Tensor> {
    let (_, _, height, width) = x.dims4()?;
    x.upsample_nearest2d(2 * height, 2 * width)
}
