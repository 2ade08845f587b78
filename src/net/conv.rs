//! A convolution over a canvas of cells.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::unet_parameters;
use crate::net::fused;

/// A k × k convolution with a bias over [batch, channels, height, width], as PyTorch's `Conv2d` with zero
/// padding k/2: 3×3 keeps the canvas (or halves it at stride 2), 1×1 mixes channels. It runs as one unfolding and
/// one matrix product (`net::fused::conv2d`), forward and back, where candle's own backward pass loops directly.
/// The attention's 1-D projections, stored as PyTorch's `Conv1d` [out, in, 1], load as 1×1 convolutions.
///
/// ```
/// use bevy_bfn::model::unet_parameters::Conv;
/// use bevy_bfn::net::Conv2d;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let varmap = VarMap::new(); // variables created on first use, zero
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let down = Conv { name: "op".into(), outputs: 8, inputs: 4, kernel: 3, stride: 2, one_dimensional: false };
/// let conv = Conv2d::new(&vb, &down)?;
/// let x = Tensor::ones((2, 4, 6, 10), DType::F32, &Device::Cpu)?;
/// assert_eq!(conv.forward(&x)?.dims(), [2, 8, 3, 5]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// [out, in, k, k].
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    padding: usize,
}

impl Conv2d {
    /// The convolution `parameters` names, its weight and bias from `vb`.
    pub fn new(vb: &VarBuilder, parameters: &unet_parameters::Conv) -> Result<Self> {
        let weight = vb.get(parameters.weight_shape(), &parameters.weight())?;
        let k = parameters.kernel;
        let weight = weight.reshape((parameters.outputs, parameters.inputs, k, k))?;
        Ok(Self {
            weight,
            bias: vb.get(parameters.outputs, &parameters.bias())?,
            stride: parameters.stride,
            padding: parameters.padding(),
        })
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        fused::conv2d(x, &self.weight, Some(&self.bias), self.stride, self.padding)
    }
}
