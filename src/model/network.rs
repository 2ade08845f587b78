//! The seam between a model and its network's architecture: what the rest of the crate asks of "a network"
//! (its parameters, its sizes within the limits, its memory), answered by one `match` on
//! [`NetworkConfig`] per question. A new architecture adds its own files and one arm to each.

use crate::model::limits::{LimitError, Limits, product, within};
use crate::model::parameters::Parameters;
use crate::model::unet_parameters::UnetParameters;
use crate::model::{GptConfig, ModelConfig, NetworkConfig, UnetConfig};

impl ModelConfig {
    /// Every tensor of the network, name and shape, in the order of the architecture's official state dict:
    /// what a weights file must hold, exactly.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        match &self.network {
            NetworkConfig::Gpt(gpt) => Parameters::new(self, gpt).shapes(),
            NetworkConfig::Unet(unet) => UnetParameters::new(self, unet).shapes(),
        }
    }
}

impl NetworkConfig {
    /// Places in the network where training drops units: after the GPT's embedding and each block's attention
    /// and MLP, before the last convolution of each U-Net residual block.
    pub fn dropout_sites(&self) -> usize {
        match self {
            NetworkConfig::Gpt(gpt) => 2 * gpt.layers + 1,
            NetworkConfig::Unet(unet) => {
                let levels = unet.multipliers.len();
                levels * unet.res_blocks + 2 + levels * (unet.res_blocks + 1)
            }
        }
    }

    /// Checks the sizes the architecture's settings claim, before anything of their size is built.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), LimitError> {
        match self {
            NetworkConfig::Gpt(gpt) => gpt.check_limits(limits),
            NetworkConfig::Unet(unet) => unet.check_limits(limits),
        }
    }

    /// Bytes of activations one example keeps per position (token or cell) at the widest point of a run,
    /// with `keeps_all` when training keeps every layer's for the backward pass; and the positions' count
    /// squared times heads that attention scores take.
    pub(crate) fn activation_bytes(&self, positions: u128, keeps_all: bool) -> u128 {
        match self {
            NetworkConfig::Gpt(gpt) => gpt.activation_bytes(positions, keeps_all),
            NetworkConfig::Unet(unet) => unet.activation_bytes(positions, keeps_all),
        }
    }
}

/// Bytes of an f32.
const F32: u128 = 4;

/// Activations a GPT block keeps per token and feature for the backward pass: the two LayerNorms' inputs and
/// outputs, q, k, v, the attention's output and projection, the MLP's 4d hidden layer before and after GELU,
/// and the residual sums (candle keeps each op's output).
const GPT_SAVED_PER_FEATURE: u128 = 20;

/// Activations a U-Net residual block keeps per cell and channel: two GroupNorms' inputs and outputs, two
/// SiLUs, two convolutions with their unfolded inputs (nine columns each), the time sum and the residual.
const UNET_SAVED_PER_CHANNEL: u128 = 30;

impl GptConfig {
    fn check_limits(&self, limits: &Limits) -> Result<(), LimitError> {
        within(
            "network.layers",
            self.layers as u64,
            "layers",
            limits.layers as u64,
        )?;
        within(
            "network.width",
            self.width as u64,
            "width",
            limits.width as u64,
        )?;
        within(
            "network.heads",
            self.heads as u64,
            "heads",
            limits.heads as u64,
        )
    }

    fn activation_bytes(&self, tokens: u128, keeps_all: bool) -> u128 {
        let blocks = if keeps_all { self.layers as u128 } else { 1 };
        let per_block =
            tokens * (GPT_SAVED_PER_FEATURE * self.width as u128 + 2 * self.heads as u128 * tokens);
        blocks * per_block * F32
    }
}

impl UnetConfig {
    fn check_limits(&self, limits: &Limits) -> Result<(), LimitError> {
        within(
            "network.channels",
            self.channels as u64,
            "width",
            limits.width as u64,
        )?;
        let levels = self.multipliers.len();
        within(
            "network.multipliers (levels)",
            levels as u64,
            "layers",
            limits.layers as u64,
        )?;
        within(
            "network.res_blocks",
            self.res_blocks as u64,
            "layers",
            limits.layers as u64,
        )?;
        within(
            "network.heads",
            self.heads as u64,
            "heads",
            limits.heads as u64,
        )?;
        within(
            "network.groups",
            self.groups as u64,
            "width",
            limits.width as u64,
        )?;
        for (level, &mult) in self.multipliers.iter().enumerate() {
            let what = format!("network.channels × multipliers[{level}]");
            let channels = product(&what, &[self.channels, mult])?;
            within(&what, channels as u64, "width", limits.width as u64)?;
        }
        // Each level but the last halves the canvas: more levels than a side has bits halve it to nothing.
        within(
            "network.multipliers (levels)",
            levels as u64,
            "layers",
            24u64,
        )
    }

    fn activation_bytes(&self, cells: u128, keeps_all: bool) -> u128 {
        let c = self.channels as u128;
        let mut total = 0u128;
        let mut widest = 0u128;
        for (level, &mult) in self.multipliers.iter().enumerate() {
            let cells_here = cells >> (2 * level as u32);
            let blocks = 2 * self.res_blocks as u128 + 1;
            let attention = if self.attention_levels.contains(&level) {
                2 * self.heads as u128 * cells_here * cells_here
            } else {
                0
            };
            let bytes = cells_here * (UNET_SAVED_PER_CHANNEL * 2 * mult as u128 * c) + attention;
            total += blocks * bytes;
            widest = widest.max(bytes);
        }
        if keeps_all { total * F32 } else { widest * F32 }
    }
}
