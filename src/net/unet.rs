//! The official BFN U-Net in candle (feature `train`): the network for grids.
//!
//! improved-diffusion's `UNetModel` as the official code uses it for images (`networks/unet_improved.py`): a 3×3
//! convolution in; on the way down, residual blocks (with self-attention at the levels asked for) and a stride-2
//! convolution between levels, each block's output kept; a middle of residual block, attention, residual block;
//! on the way up, residual blocks that take the kept features beside their own, and nearest doubling with a
//! convolution between levels; GroupNorm, SiLU and a zero-initialised 3×3 convolution out. The time enters every
//! residual block through its sinusoidal embedding, and a class through its embedding row added to the time's.
//!
//! Departures from the official module, each because our data and sampler ask for it:
//! - The input is the official adapters' per-cell features (2θ − 1 per class of discrete data, μ per channel
//!   otherwise) with 2t − 1 as one more channel, fed straight to the first convolution; the official image
//!   adapters add Fourier features of the input, which our 16-level and class data do not need. A model with a
//!   context input (`UnetConfig::context`) reads the known values and their mask as more channels.
//! - The last convolution gives the outputs per cell that the GPT gives per token (logits; ε̂; μ_ε and ln σ_ε),
//!   so that `flow` does not change; the official `skip` concatenation and output adapter are left out.
//! - The class embedding has one more row, "no class", for classifier-free guidance.
//! - Biases start at zero (`initial_varmap`).
//! - Any canvas whose sides are multiples of 2^(levels − 1), not one `image_size`: nothing in it is absolute.

use candle_core::{D, Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::unet_parameters::{LABEL_EMB, Layer, UnetParameters};
use crate::model::{ModelConfig, UnetConfig};
use crate::net::class_embedding::class_rows;
use crate::net::{Conv2d, Dropout, GroupNorm, ResBlock, SpatialAttention, TimeEmbedding, Upsample};

/// One layer of a block, built.
#[derive(Clone, Debug)]
enum UnetLayer {
    Conv(Conv2d),
    Res(ResBlock),
    Attention(SpatialAttention),
    Upsample(Upsample),
}

/// The network. Not a [`Module`]: it takes the times and classes beside the canvas.
///
/// ```
/// use bevy_bfn::model::{KindConfig, Layout, ModelConfig, NetworkConfig, UnetConfig};
/// use bevy_bfn::net::{Unet, initial_varmap};
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::VarBuilder;
///
/// # fn main() -> candle_core::Result<()> {
/// let net = UnetConfig {
///     channels: 16, multipliers: vec![1, 2], res_blocks: 1, attention_levels: vec![1], heads: 2, groups: 8,
///     context: false,
/// };
/// let config = ModelConfig {
///     kind: KindConfig::Discrete { beta_1: 1.0, classes: 9 },
///     layout: Layout { height: 8, width: 8, channels: 1 },
///     patch: 1,
///     network: NetworkConfig::Unet(net),
///     legend: Vec::new(),
///     normalisation: None,
///     sampling_steps: None,
///     sampler: None,
///     provenance: String::new(),
///     training_data: None,
///     labels: Vec::new(),
/// };
/// let varmap = initial_varmap(&config, 7, &Device::Cpu)?;
/// let unet = Unet::new(&config, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
/// // A canvas larger than the training one: 12 × 20 cells, 9 inputs (2θ − 1) each.
/// let input = Tensor::zeros((2, 12, 20, 9), DType::F32, &Device::Cpu)?;
/// let t = Tensor::new(&[0.25f32, 0.5], &Device::Cpu)?;
/// let logits = unet.forward(&input, &t, &[], None, None)?;
/// assert_eq!(logits.dims(), [2, 12, 20, 9]);
/// # Ok(())
/// # }
/// ```
pub struct Unet {
    config: ModelConfig,
    net: UnetConfig,
    time_embed: TimeEmbedding,
    /// [classes + 1, time features], the last row "no class"; `None` for an unconditional model.
    label_emb: Option<Tensor>,
    input_blocks: Vec<Vec<UnetLayer>>,
    middle_block: Vec<UnetLayer>,
    output_blocks: Vec<Vec<UnetLayer>>,
    out_norm: GroupNorm,
    out_conv: Conv2d,
}

impl Unet {
    /// The network of `config` with its parameters from `vb`.
    pub fn new(config: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let crate::model::NetworkConfig::Unet(net) = &config.network else {
            candle_core::bail!("a {} network is not a U-Net", config.network.architecture());
        };
        let parameters = UnetParameters::new(config, net);
        let build = |layer: &Layer| -> Result<UnetLayer> {
            Ok(match layer {
                Layer::Conv(c) | Layer::Downsample(c) => UnetLayer::Conv(Conv2d::new(&vb, c)?),
                Layer::Res(r) => UnetLayer::Res(ResBlock::new(&vb, r, net.groups)?),
                Layer::Attention(a) => {
                    UnetLayer::Attention(SpatialAttention::new(&vb, a, net.heads, net.groups)?)
                }
                Layer::Upsample(c) => UnetLayer::Upsample(Upsample::new(&vb, c)?),
            })
        };
        let blocks = |blocks: &[Vec<Layer>]| -> Result<Vec<Vec<UnetLayer>>> {
            blocks
                .iter()
                .map(|block| block.iter().map(build).collect())
                .collect()
        };
        Ok(Self {
            config: config.clone(),
            net: net.clone(),
            time_embed: TimeEmbedding::new(&vb, &parameters.time_embed, parameters.time_channels)?,
            label_emb: parameters
                .label_emb
                .map(|[rows, features]| vb.get((rows, features), LABEL_EMB))
                .transpose()?,
            input_blocks: blocks(&parameters.input_blocks)?,
            middle_block: parameters
                .middle_block
                .iter()
                .map(build)
                .collect::<Result<_>>()?,
            output_blocks: blocks(&parameters.output_blocks)?,
            out_norm: GroupNorm::new(&vb, &parameters.out_norm, net.groups, true)?,
            out_conv: Conv2d::new(&vb, &parameters.out_conv)?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Output parameters [batch, height, width, outputs per cell] for network inputs [batch, height, width, inputs
    /// per cell] (2θ − 1 or μ) at times `t` (one per example), asking example b for class `labels[b]` (`labels`
    /// empty: no class anywhere), with `dropout` while training. A network with a context input reads `context`
    /// [batch, height, width, context channels] (see [`crate::flow::Denoiser::output_params_in_context`];
    /// `None`: nothing known); one without ignores it. Any canvas whose sides are multiples of 2^(levels − 1).
    pub fn forward(
        &self,
        input: &Tensor,
        t: &Tensor,
        labels: &[Option<u32>],
        context: Option<&Tensor>,
        dropout: Option<&Dropout>,
    ) -> Result<Tensor> {
        let (batch, height, width, _) = input.dims4()?;
        let side = self.net.side_multiple();
        if !height.is_multiple_of(side) || !width.is_multiple_of(side) {
            candle_core::bail!(
                "a canvas of {width}×{height} cells: this U-Net's sides must be multiples of {side}"
            );
        }
        let time = t
            .affine(2.0, -1.0)?
            .reshape((batch, 1, 1, 1))?
            .broadcast_as((batch, height, width, 1))?;
        let mut parts = vec![input.clone(), time.contiguous()?];
        let context_channels = self.net.context_channels(&self.config);
        if context_channels > 0 {
            parts.push(match context {
                Some(context) => context.clone(),
                None => Tensor::zeros(
                    (batch, height, width, context_channels),
                    input.dtype(),
                    input.device(),
                )?,
            });
        }
        let x = Tensor::cat(&parts, D::Minus1)?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        let mut emb = self.time_embed.forward(t)?;
        if let Some(rows) = class_rows(self.label_emb.as_ref(), labels, batch)? {
            emb = (emb + rows)?;
        }
        let mut site = 0;
        let mut run = |block: &[UnetLayer], mut h: Tensor| -> Result<Tensor> {
            for layer in block {
                h = match layer {
                    UnetLayer::Conv(conv) => conv.forward(&h)?,
                    UnetLayer::Res(res) => {
                        site += 1;
                        res.forward(&h, &emb, dropout, site - 1)?
                    }
                    UnetLayer::Attention(attention) => attention.forward(&h)?,
                    UnetLayer::Upsample(up) => up.forward(&h)?,
                };
            }
            Ok(h)
        };
        let mut kept = Vec::with_capacity(self.input_blocks.len());
        let mut h = x;
        for block in &self.input_blocks {
            h = run(block, h)?;
            kept.push(h.clone());
        }
        h = run(&self.middle_block, h)?;
        for block in &self.output_blocks {
            let Some(skip) = kept.pop() else {
                candle_core::bail!("more output blocks than input blocks");
            };
            h = run(block, Tensor::cat(&[&h, &skip], 1)?)?;
        }
        self.out_conv
            .forward(&self.out_norm.forward(&h)?)?
            .permute((0, 2, 3, 1))?
            .contiguous()
    }
}
