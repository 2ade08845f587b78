//! The official BFN GPT in candle (feature `train`): the trainer's network and the CPU reference the GPU
//! kernels are tested against.
//!
//! Pre-LayerNorm blocks (LayerNorm with bias, ε = 10⁻⁵; fused `c_attn` split into q, k, v; softmax attention over
//! all tokens; `c_proj`; MLP d → 4d → d with tanh-GELU), a final LayerNorm, and the `skip` head that concatenates
//! the final features with the input adapter's output before `lm_head`. The input adapter is the official text
//! adapter — Linear(input → d) + fixed positions + Linear(1 → d) applied to 2t − 1 — fed with 2θ − 1 for discrete
//! data and with μ per channel for continuous and discretised data. A conditional model adds its class's
//! embedding row to the adapter's output, where the time enters, so that the class steers every layer and the
//! skip head alike.

use candle_core::{D, Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::ModelConfig;
use crate::model::parameters::{LABEL_EMBEDDING, Parameters};
use crate::net::class_embedding::class_rows;
use crate::net::dropout::drop;
use crate::net::{Block, Dropout, InputAdapter, LayerNorm, Linear};

/// The network. Not a [`Module`]: it takes the times beside the network inputs.
///
/// ```
/// use bevy_bfn::model::{GptConfig, KindConfig, Layout, ModelConfig, NetworkConfig, Positions};
/// use bevy_bfn::net::{Gpt, initial_varmap};
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::VarBuilder;
///
/// # fn main() -> candle_core::Result<()> {
/// let config = ModelConfig {
///     kind: KindConfig::Discrete { beta_1: 3.0, classes: 27 },
///     layout: Layout { height: 1, width: 5, channels: 1 },
///     patch: 1,
///     network: NetworkConfig::Gpt(GptConfig { layers: 2, heads: 4, width: 16, positions: Positions::Sequence }),
///     legend: Vec::new(),
///     normalisation: None,
///     sampling_steps: None,
///     sampler: None,
///     provenance: String::new(),
///     training_data: None,
///     labels: Vec::new(),
/// };
/// let varmap = initial_varmap(&config, 7, &Device::Cpu)?;
/// let gpt = Gpt::new(&config, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
/// let theta = Tensor::full(1f32 / 27.0, (2, 5, 27), &Device::Cpu)?;
/// let t = Tensor::new(&[0.25f32, 0.5], &Device::Cpu)?;
/// let logits = gpt.forward(&theta.affine(2.0, -1.0)?, &t, &[], None)?; // 2θ − 1: `Network::network_input`
/// assert_eq!(logits.dims(), [2, 5, 27]);
/// # Ok(())
/// # }
/// ```
pub struct Gpt {
    config: ModelConfig,
    input_adapter: InputAdapter,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    lm_head: Linear,
    /// [classes + 1, width], the last row "no class"; `None` for an unconditional model.
    label_embedding: Option<Tensor>,
}

impl Gpt {
    /// The network of `config` with its parameters from `vb`: from [`crate::net::initial_varmap`] for training,
    /// or from a weights file through [`crate::net::Network::from_weights`].
    pub fn new(config: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let Some(net) = config.network.as_gpt() else {
            candle_core::bail!("a {} network is not a GPT", config.network.architecture());
        };
        let parameters = Parameters::new(config, net);
        let blocks = parameters
            .blocks
            .iter()
            .map(|block| Block::new(&vb, block, net.heads))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: config.clone(),
            input_adapter: InputAdapter::new(&vb, config, net, &parameters)?,
            blocks,
            ln_f: LayerNorm::new(&vb, &parameters.ln_f)?,
            lm_head: Linear::new(&vb, &parameters.lm_head)?,
            label_embedding: parameters
                .label_embedding
                .map(|[rows, width]| vb.get((rows, width), LABEL_EMBEDDING))
                .transpose()?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Output parameters [batch, tokens, outputs per token] for network inputs [batch, tokens, inputs per token]
    /// (2θ − 1 or μ, see [`crate::net::Network::network_input`]) at times `t` (one per example), asking example b
    /// for class `labels[b]` (`None`: no class; empty: no class anywhere), with `dropout` while training. Callers
    /// go through [`crate::net::Network`], whose wrappers serve both architectures.
    pub fn forward(
        &self,
        input: &Tensor,
        t: &Tensor,
        labels: &[Option<u32>],
        dropout: Option<&Dropout>,
    ) -> Result<Tensor> {
        let x_in = self.input_adapter.forward(input, t)?;
        let (batch, _, width) = x_in.dims3()?;
        let x_in = match class_rows(self.label_embedding.as_ref(), labels, batch)? {
            Some(rows) => x_in.broadcast_add(&rows.reshape((batch, 1, width))?)?,
            None => x_in,
        };
        let mut x = drop(dropout, x_in.clone(), 0)?;
        for (layer, block) in self.blocks.iter().enumerate() {
            x = block.forward_with_dropout(&x, dropout, layer)?;
        }
        let x = self.ln_f.forward(&x)?;
        self.lm_head.forward(&Tensor::cat(&[&x, &x_in], D::Minus1)?)
    }
}
