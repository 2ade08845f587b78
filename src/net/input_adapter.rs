//! The input adapter: tokens and time into features.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::parameters::Parameters;
use crate::model::positions::position_table;
use crate::model::{GptConfig, ModelConfig};
use crate::net::Linear;

/// The official text adapter: Linear(inputs → d) of each token's network input, plus the fixed position features,
/// plus Linear(1 → d) of 2t − 1. Not a [`Module`]: it takes the time beside the tokens, one per example.
///
/// ```
/// use bevy_bfn::model::parameters::Parameters;
/// use bevy_bfn::model::{GptConfig, KindConfig, Layout, ModelConfig, NetworkConfig, Positions};
/// use bevy_bfn::net::InputAdapter;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let net = GptConfig { layers: 1, heads: 4, width: 16, positions: Positions::Sequence };
/// let config = ModelConfig {
///     kind: KindConfig::Discrete { beta_1: 3.0, classes: 27 },
///     layout: Layout { height: 1, width: 5, channels: 1 },
///     patch: 1,
///     network: NetworkConfig::Gpt(net),
///     legend: Vec::new(),
///     normalisation: None,
///     sampling_steps: None,
///     sampler: None,
///     provenance: String::new(),
///     training_data: None,
///     labels: Vec::new(),
/// };
/// let varmap = VarMap::new(); // variables created on first use, zero
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let adapter = InputAdapter::new(&vb, &config, &net, &Parameters::new(&config, &net))?;
/// let theta = Tensor::ones((2, 5, 27), DType::F32, &Device::Cpu)?;
/// let t = Tensor::new(&[0.25f32, 0.5], &Device::Cpu)?;
/// assert_eq!(adapter.forward(&theta, &t)?.dims(), [2, 5, 16]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InputAdapter {
    inp_embedding: Linear,
    t_embedding: Linear,
    /// [tokens, d], not trained.
    positions: Tensor,
}

impl InputAdapter {
    /// The adapter of `config`'s network, its embeddings from `vb`.
    pub fn new(
        vb: &VarBuilder,
        config: &ModelConfig,
        net: &GptConfig,
        parameters: &Parameters,
    ) -> Result<Self> {
        let table = position_table(config.layout, net.width, net.positions);
        Ok(Self {
            inp_embedding: Linear::new(vb, &parameters.inp_embedding)?,
            t_embedding: Linear::new(vb, &parameters.t_embedding)?,
            positions: Tensor::from_vec(table, &parameters.positions, vb.device())?,
        })
    }

    /// Features [batch, tokens, d] of network inputs [batch, tokens, inputs per token] at times `t` (one per
    /// example).
    pub fn forward(&self, input: &Tensor, t: &Tensor) -> Result<Tensor> {
        let (batch, _, _) = input.dims3()?;
        let time = t.affine(2.0, -1.0)?.reshape((batch, 1, 1))?;
        self.inp_embedding
            .forward(input)?
            .broadcast_add(&self.positions)?
            .broadcast_add(&self.t_embedding.forward(&time)?)
    }
}
