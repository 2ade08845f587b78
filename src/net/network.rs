//! "A network": the seam that the trainer, the CPU sampler, `eval`, `quality` and the benchmarks hold, whatever
//! the architecture the model file names.

use std::collections::HashMap;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::{KindConfig, ModelConfig, NetworkConfig, Weights};
use crate::net::{Dropout, Gpt, Unet};

/// The network of a model, of either architecture: inputs per token or cell and times in, output parameters per
/// variable out, in the same layout for both, so that `flow` never knows which it talks to.
///
/// ```
/// use bevy_bfn::model::{KindConfig, Layout, ModelConfig, NetworkConfig, UnetConfig};
/// use bevy_bfn::net::{Network, initial_varmap};
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::VarBuilder;
///
/// # fn main() -> candle_core::Result<()> {
/// let config = ModelConfig {
///     kind: KindConfig::Continuous { sigma_1: 0.03 },
///     layout: Layout { height: 4, width: 4, channels: 3 },
///     patch: 1,
///     network: NetworkConfig::Unet(UnetConfig {
///         channels: 8, multipliers: vec![1, 2], res_blocks: 1, attention_levels: vec![], heads: 1, groups: 4,
///         context: false,
///     }),
///     legend: Vec::new(),
///     normalisation: None,
///     sampling_steps: None,
///     sampler: None,
///     provenance: String::new(),
///     training_data: None,
///     labels: Vec::new(),
/// };
/// let varmap = initial_varmap(&config, 7, &Device::Cpu)?;
/// let network = Network::new(&config, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
/// let mu = Tensor::zeros((2, 16, 3), DType::F32, &Device::Cpu)?; // [batch, cells, channels]
/// let t = Tensor::new(&[0.25f32, 0.5], &Device::Cpu)?;
/// let epsilon = network.forward(&network.network_input(&mu)?, &t)?;
/// assert_eq!(epsilon.dims(), [2, 16, 3]);
/// # Ok(())
/// # }
/// ```
pub enum Network {
    /// The official text GPT.
    Gpt(Gpt),
    /// The official image U-Net.
    Unet(Unet),
}

impl Network {
    /// The network `config` names, with its parameters from `vb`: from [`crate::net::initial_varmap`] for
    /// training, or from a weights file through [`Network::from_weights`].
    pub fn new(config: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(match config.network {
            NetworkConfig::Gpt(_) => Network::Gpt(Gpt::new(config, vb)?),
            NetworkConfig::Unet(_) => Network::Unet(Unet::new(config, vb)?),
        })
    }

    /// The network of a weights file, on `device`.
    pub fn from_weights(weights: &Weights, device: &Device) -> Result<Self> {
        let tensors = weights
            .tensors()
            .iter()
            .map(|(name, t)| {
                Ok((
                    name.clone(),
                    Tensor::from_slice(&t.values, t.shape.as_slice(), device)?,
                ))
            })
            .collect::<Result<HashMap<_, _>>>()?;
        Self::new(
            weights.config(),
            VarBuilder::from_tensors(tensors, DType::F32, device),
        )
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        match self {
            Network::Gpt(gpt) => gpt.config(),
            Network::Unet(unet) => unet.config(),
        }
    }

    /// What the network is fed: 2θ − 1 for discrete data (the official adapters'), μ as it is for continuous and
    /// discretised data. `values` is θ [batch, tokens, input width].
    pub fn network_input(&self, values: &Tensor) -> Result<Tensor> {
        match self.config().kind {
            KindConfig::Discrete { .. } => values.affine(2.0, -1.0),
            _ => Ok(values.clone()),
        }
    }

    /// Output parameters [batch, tokens, outputs per token] for network inputs [batch, tokens, inputs per token]
    /// on the model's own canvas at times `t` (one per example), asking for no class.
    pub fn forward(&self, input: &Tensor, t: &Tensor) -> Result<Tensor> {
        self.forward_with_dropout(input, t, &[], None)
    }

    /// [`Network::forward`] asking example b for class `labels[b]` (`None`: no class). `labels` is one per
    /// example, or empty for no class anywhere.
    pub fn forward_labelled(
        &self,
        input: &Tensor,
        t: &Tensor,
        labels: &[Option<u32>],
    ) -> Result<Tensor> {
        self.forward_with_dropout(input, t, labels, None)
    }

    /// [`Network::forward_labelled`] while training, with `dropout` if any.
    pub fn forward_with_dropout(
        &self,
        input: &Tensor,
        t: &Tensor,
        labels: &[Option<u32>],
        dropout: Option<&Dropout>,
    ) -> Result<Tensor> {
        self.forward_in_context(input, t, labels, None, dropout)
    }

    /// [`Network::forward_with_dropout`] with the known values as `context` [batch, tokens, context channels]
    /// (`UnetConfig::context_channels`), which a network with a context input reads and any other ignores.
    pub fn forward_in_context(
        &self,
        input: &Tensor,
        t: &Tensor,
        labels: &[Option<u32>],
        context: Option<&Tensor>,
        dropout: Option<&Dropout>,
    ) -> Result<Tensor> {
        match self {
            Network::Gpt(gpt) => gpt.forward(input, t, labels, dropout),
            Network::Unet(unet) => {
                // The canvas is the configuration's: a U-Net on a larger one is the same weights with a larger
                // layout (`Weights::with_canvas`).
                let layout = unet.config().layout;
                let (batch, tokens, inputs) = input.dims3()?;
                if tokens != layout.tokens() {
                    candle_core::bail!(
                        "{tokens} cells for a canvas of {}×{}",
                        layout.width,
                        layout.height
                    );
                }
                let grid = input.reshape((batch, layout.height, layout.width, inputs))?;
                let context = context
                    .map(|c| c.reshape((batch, layout.height, layout.width, ())))
                    .transpose()?;
                let output = unet.forward(&grid, t, labels, context.as_ref(), dropout)?;
                let outputs = output.dim(3)?;
                output.reshape((batch, tokens, outputs))
            }
        }
    }
}
