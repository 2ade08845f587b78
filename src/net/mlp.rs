//! The blocks' feed-forward layer.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::parameters::Block;
use crate::net::Linear;
use crate::net::fused;

/// The official GPT's MLP: d → 4d, tanh-GELU (fused, `net::fused`), 4d → d, on every token alike. A [`Module`]:
/// dropout comes after it, in the [`crate::net::Block`].
///
/// ```
/// use bevy_bfn::model::parameters::Block;
/// use bevy_bfn::net::Mlp;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let varmap = VarMap::new(); // variables created on first use, zero
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let mlp = Mlp::new(&vb, &Block::new(0, 16))?;
/// let x = Tensor::randn(0f32, 1.0, (2, 5, 16), &Device::Cpu)?;
/// assert_eq!(mlp.forward(&x)?.dims(), [2, 5, 16]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Mlp {
    c_fc: Linear,
    c_proj: Linear,
}

impl Mlp {
    /// The MLP of `block`, its layers from `vb`.
    pub fn new(vb: &VarBuilder, block: &Block) -> Result<Self> {
        Ok(Self {
            c_fc: Linear::new(vb, &block.c_fc)?,
            c_proj: Linear::new(vb, &block.mlp_proj)?,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.c_proj.forward(&fused::gelu(&self.c_fc.forward(x)?)?)
    }
}
