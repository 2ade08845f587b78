//! A transformer block.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::parameters;
use crate::net::dropout::drop;
use crate::net::{Attention, Dropout, LayerNorm, Mlp};

/// A pre-LayerNorm block of the official GPT: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)).
///
/// A [`Module`] for inference. Not a `ModuleT`: the trainer's dropout masks depend on the step and on the place
/// in the network, which a train flag does not carry, so training goes through [`Block::forward_with_dropout`].
///
/// ```
/// use bevy_bfn::model::parameters;
/// use bevy_bfn::net::Block;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let varmap = VarMap::new(); // variables created on first use, zero
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let block = Block::new(&vb, &parameters::Block::new(0, 16), 4)?;
/// let x = Tensor::randn(0f32, 1.0, (2, 5, 16), &Device::Cpu)?;
/// assert_eq!(block.forward(&x)?.dims(), [2, 5, 16]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Block {
    ln_1: LayerNorm,
    attention: Attention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    /// The block `parameters` names, with `heads` attention heads, its layers from `vb`.
    pub fn new(vb: &VarBuilder, parameters: &parameters::Block, heads: usize) -> Result<Self> {
        Ok(Self {
            ln_1: LayerNorm::new(vb, &parameters.ln_1)?,
            attention: Attention::new(vb, parameters, heads)?,
            ln_2: LayerNorm::new(vb, &parameters.ln_2)?,
            mlp: Mlp::new(vb, parameters)?,
        })
    }

    /// The block as block `layer` of a network being trained, with `dropout` (if any) after the attention and
    /// after the MLP.
    pub fn forward_with_dropout(
        &self,
        x: &Tensor,
        dropout: Option<&Dropout>,
        layer: usize,
    ) -> Result<Tensor> {
        let attended = self.attention.forward(&self.ln_1.forward(x)?)?;
        let x = (x + drop(dropout, attended, 1 + 2 * layer)?)?;
        let transformed = self.mlp.forward(&self.ln_2.forward(&x)?)?;
        x + drop(dropout, transformed, 2 + 2 * layer)?
    }
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with_dropout(x, None, 0)
    }
}
