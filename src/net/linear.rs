//! A linear layer whose bias the fused kernel adds.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::parameters::Affine;
use crate::net::fused;

/// x·Wᵀ + b over the last dimension. candle-nn's `Linear` would do, but its batched product and broadcast bias
/// make two strided reductions of the backward pass; this one multiplies [rows, inputs] at once and adds the
/// bias with the fused kernel (`net::fused`). A [`Module`]: it is a function of one tensor and knows no training.
///
/// ```
/// use bevy_bfn::model::parameters::Affine;
/// use bevy_bfn::net::Linear;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let varmap = VarMap::new(); // variables created on first use, zero
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let head = Linear::new(&vb, &Affine::linear("lm_head", 32, 27))?;
/// let x = Tensor::ones((2, 5, 32), DType::F32, &Device::Cpu)?;
/// assert_eq!(head.forward(&x)?.dims(), [2, 5, 27]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Linear(candle_nn::Linear);

impl Linear {
    /// The layer `parameters` names, its weight and bias from `vb`.
    pub fn new(vb: &VarBuilder, parameters: &Affine) -> Result<Self> {
        let (weight, bias) = weight_and_bias(vb, parameters)?;
        Ok(Self(candle_nn::Linear::new(weight, Some(bias))))
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        fused::linear(&self.0, x)
    }
}

/// The weight and the bias of a layer, by their official names and shapes.
pub(crate) fn weight_and_bias(vb: &VarBuilder, parameters: &Affine) -> Result<(Tensor, Tensor)> {
    Ok((
        vb.get(parameters.shape.as_slice(), &parameters.weight())?,
        vb.get(parameters.outputs(), &parameters.bias())?,
    ))
}
