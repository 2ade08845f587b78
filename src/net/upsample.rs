//! The U-Net's way back up a level.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::unet_parameters::Conv;
use crate::net::{Conv2d, fused};

/// The official `Upsample` with `conv_resample`: every cell repeated 2 × 2 (nearest), then a 3×3 convolution,
/// so that the doubled canvas is learned rather than blocky. The doubling is a fused kernel whose backward pass
/// sums each 2 × 2 block (candle's costs a hundred times its forward).
///
/// ```
/// use bevy_bfn::model::unet_parameters::Conv;
/// use bevy_bfn::net::Upsample;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let varmap = VarMap::new();
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let conv = Conv { name: "conv".into(), outputs: 4, inputs: 4, kernel: 3, stride: 1, one_dimensional: false };
/// let up = Upsample::new(&vb, &conv)?;
/// let x = Tensor::ones((1, 4, 3, 5), DType::F32, &Device::Cpu)?;
/// assert_eq!(up.forward(&x)?.dims(), [1, 4, 6, 10]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Upsample(Conv2d);

impl Upsample {
    /// The upsampling whose convolution `conv` names.
    pub fn new(vb: &VarBuilder, conv: &Conv) -> Result<Self> {
        Ok(Self(Conv2d::new(vb, conv)?))
    }
}

impl Module for Upsample {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.0.forward(&fused::upsample_nearest2x(x)?)
    }
}
