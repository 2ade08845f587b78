//! Self-attention over all tokens.

use candle_core::{D, Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::parameters::Block;
use crate::net::Linear;
use crate::net::fused;

/// Multi-head self-attention of the official GPT, non-causal: every token attends to every token, since a BFN
/// network sees all of θ at once. The fused `c_attn` projection is split into q, k and v; each head takes
/// softmax(q·kᵀ/√h)·v (the softmax fused, `net::fused`); `c_proj` mixes the heads. [batch, tokens, d] in and
/// out. A [`Module`]: dropout comes after it, in the [`crate::net::Block`].
///
/// ```
/// use bevy_bfn::model::parameters::Block;
/// use bevy_bfn::net::Attention;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let varmap = VarMap::new(); // variables created on first use, zero
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let attention = Attention::new(&vb, &Block::new(0, 16), 4)?;
/// let x = Tensor::randn(0f32, 1.0, (2, 5, 16), &Device::Cpu)?;
/// assert_eq!(attention.forward(&x)?.dims(), [2, 5, 16]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Attention {
    c_attn: Linear,
    c_proj: Linear,
    heads: usize,
}

impl Attention {
    /// The attention of `block`, with `heads` heads (which must divide the width), its projections from `vb`.
    pub fn new(vb: &VarBuilder, block: &Block, heads: usize) -> Result<Self> {
        Ok(Self {
            c_attn: Linear::new(vb, &block.c_attn)?,
            c_proj: Linear::new(vb, &block.attn_proj)?,
            heads,
        })
    }
}

impl Module for Attention {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, tokens, d) = x.dims3()?;
        let heads = self.heads;
        let head_size = d / heads;
        let qkv = self.c_attn.forward(x)?;
        let split = |i: usize| -> Result<Tensor> {
            qkv.narrow(D::Minus1, i * d, d)?
                .reshape((batch, tokens, heads, head_size))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (split(0)?, split(1)?, split(2)?);
        let weights =
            fused::scaled_softmax(&q.matmul(&k.t()?)?, (head_size as f32).sqrt().recip())?;
        let attention = weights.matmul(&v)?;
        let attention = attention.transpose(1, 2)?.reshape((batch, tokens, d))?;
        self.c_proj.forward(&attention)
    }
}
