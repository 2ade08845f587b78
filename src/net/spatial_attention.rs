//! Self-attention over the cells of a canvas.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::unet_parameters::AttentionBlock;
use crate::net::{Conv2d, GroupNorm, fused};

/// The official `AttentionBlock`: GroupNorm, a 1×1 projection to q, k and v, softmax(qᵀk / √c) per head over every
/// cell, a zero-initialised 1×1 projection, plus the input. Each head's q, k and v lie together in the
/// projection's output (improved-diffusion's legacy order), so a head is one contiguous slice of channels. The
/// only layer that sees the whole canvas at once: what makes a level hang together where convolutions see
/// 3 × 3.
///
/// ```
/// use bevy_bfn::model::unet_parameters::UnetParameters;
/// use bevy_bfn::model::{KindConfig, Layout, ModelConfig, NetworkConfig, UnetConfig};
/// use bevy_bfn::net::{SpatialAttention, initial_varmap};
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder};
///
/// # fn main() -> candle_core::Result<()> {
/// # let net = UnetConfig { channels: 8, multipliers: vec![1, 2], res_blocks: 1, attention_levels: vec![],
/// #     heads: 2, groups: 4, context: false };
/// # let config = ModelConfig { kind: KindConfig::Continuous { sigma_1: 0.03 },
/// #     layout: Layout { height: 4, width: 4, channels: 1 }, patch: 1, network: NetworkConfig::Unet(net.clone()),
/// #     legend: vec![], normalisation: None, sampling_steps: None, sampler: None, provenance: String::new(),
/// #     training_data: None, labels: vec![] };
/// let parameters = UnetParameters::new(&config, &net);
/// let middle = parameters.attentions().next().unwrap(); // the middle block's, 16 channels
/// let varmap = initial_varmap(&config, 7, &Device::Cpu)?;
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let attention = SpatialAttention::new(&vb, middle, net.heads, net.groups)?;
/// let x = Tensor::randn(0f32, 1.0, (2, 16, 2, 3), &Device::Cpu)?;
/// assert_eq!(attention.forward(&x)?.dims(), [2, 16, 2, 3]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SpatialAttention {
    norm: GroupNorm,
    qkv: Conv2d,
    proj_out: Conv2d,
    heads: usize,
}

impl SpatialAttention {
    /// The block `parameters` names, with `heads` heads, normalised in `groups` groups.
    pub fn new(
        vb: &VarBuilder,
        parameters: &AttentionBlock,
        heads: usize,
        groups: usize,
    ) -> Result<Self> {
        Ok(Self {
            norm: GroupNorm::new(vb, &parameters.norm, groups, false)?,
            qkv: Conv2d::new(vb, &parameters.qkv)?,
            proj_out: Conv2d::new(vb, &parameters.proj_out)?,
            heads,
        })
    }
}

impl Module for SpatialAttention {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, channels, height, width) = x.dims4()?;
        let cells = height * width;
        let head = channels / self.heads;
        let qkv = self.qkv.forward(&self.norm.forward(x)?)?.reshape((
            batch * self.heads,
            3 * head,
            cells,
        ))?;
        let part = |i: usize| qkv.narrow(1, i * head, head)?.contiguous();
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        let scores = q.transpose(1, 2)?.contiguous()?.matmul(&k)?;
        let weights = fused::scaled_softmax(&scores, (head as f32).sqrt().recip())?;
        let attended = v.matmul(&weights.t()?.contiguous()?)?;
        let attended = attended.reshape((batch, channels, height, width))?;
        x + self.proj_out.forward(&attended)?
    }
}
