//! LayerNorm, fused.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::parameters::Affine;
use crate::net::fused;
use crate::net::linear::weight_and_bias;

/// ε, as the official module's `nn.LayerNorm` has it.
const EPS: f32 = 1e-5;

/// LayerNorm over the last dimension, with a gain and a bias, by the fused kernel (`net::fused`): candle-nn's
/// fused LayerNorm has no backward pass, and its unfused one is a handful of passes over the activations. A
/// [`Module`]: it is a function of one tensor and knows no training.
///
/// ```
/// use bevy_bfn::model::parameters::Affine;
/// use bevy_bfn::net::LayerNorm;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let varmap = VarMap::new(); // variables created on first use, zero
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let norm = LayerNorm::new(&vb, &Affine::layer_norm("transformer.ln_f", 16))?;
/// let x = Tensor::randn(0f32, 1.0, (2, 5, 16), &Device::Cpu)?;
/// assert_eq!(norm.forward(&x)?.dims(), [2, 5, 16]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    /// The LayerNorm `parameters` names, its gain and bias from `vb`.
    pub fn new(vb: &VarBuilder, parameters: &Affine) -> Result<Self> {
        let (weight, bias) = weight_and_bias(vb, parameters)?;
        Ok(Self { weight, bias })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        fused::layer_norm(x, &self.weight, &self.bias, EPS)
    }
}
