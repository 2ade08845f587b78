//! The settings of the convolutional U-Net (the official `networks/unet_improved.py`, improved-diffusion's
//! `UNetModel`): the network the official code uses for every image, and ours for grids.

use serde::{Deserialize, Serialize};

use crate::error::{BfnError, Result};
use crate::model::ModelConfig;
use crate::model::unet_parameters::UnetParameters;

/// A U-Net's settings, under the official constructor's names where they apply.
///
/// It has no absolute positions: every layer is a convolution, a normalisation or an attention over all cells,
/// so a model samples any canvas whose sides are multiples of 2^(levels − 1), not only the one it was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnetConfig {
    /// Channels at the first level (`model_channels`); the time embedding has four times as many.
    pub channels: usize,
    /// Channels of each level as multiples of `channels` (`channel_mult`), one entry a level: every level but
    /// the last halves the canvas.
    pub multipliers: Vec<usize>,
    /// Residual blocks a level on the way down (`num_res_blocks`); the way up has one more, to take the
    /// downsampling's skip too.
    pub res_blocks: usize,
    /// The levels (0 the full canvas) whose residual blocks are followed by self-attention
    /// (`attention_resolutions`, given as levels instead of downsampling factors). The middle block always
    /// has one.
    #[serde(default)]
    pub attention_levels: Vec<usize>,
    /// Attention heads (`num_heads`); must divide the channels where attention runs.
    pub heads: usize,
    /// GroupNorm groups (32 in the official code, where every level has at least 128 channels); must divide
    /// the channels of every normalisation.
    pub groups: usize,
    /// Whether the network reads a context beside θ: per variable a known-mask channel and the known value
    /// (its one-hot, or the value), so that constraints and painting reach it from the first step instead of
    /// through the slow Bayesian flow of the known values alone. Trained on random masks
    /// (`[training] context`); with an empty mask the model is the unconditional one. Not an official setting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub context: bool,
}

impl UnetConfig {
    /// Context channels per cell for `model`'s data (0 without a context): a mask and the known value in θ's
    /// coordinates per variable — 1 + K for a class, 2 per channel of values.
    pub fn context_channels(&self, model: &ModelConfig) -> usize {
        if self.context {
            let channels = model.layout.channels;
            channels + model.kind.input_per_token(channels)
        } else {
            0
        }
    }

    /// Levels of resolution: the canvas and each halving.
    pub fn levels(&self) -> usize {
        self.multipliers.len()
    }

    /// The factor every side of a canvas must be a multiple of: each level but the last halves it.
    pub fn side_multiple(&self) -> usize {
        1 << self.levels().saturating_sub(1)
    }

    /// Checks the settings, and that they fit `model`'s data: one cell a token, sides that halve evenly, and
    /// group and head counts that divide the channels they split.
    pub(crate) fn validate(&self, model: &ModelConfig) -> Result<()> {
        let fail = |why: String| Err(BfnError::Config(format!("network (U-Net): {why}")));
        if self.channels == 0 || self.res_blocks == 0 || self.heads == 0 || self.groups == 0 {
            return fail("channels, res_blocks, heads and groups must be positive".into());
        }
        if self.multipliers.is_empty() || self.multipliers.contains(&0) {
            return fail(format!(
                "multipliers {:?}: one positive multiplier a level",
                self.multipliers
            ));
        }
        if let Some(level) = self.attention_levels.iter().find(|&&l| l >= self.levels()) {
            return fail(format!(
                "attention at level {level}, but there are {} levels",
                self.levels()
            ));
        }
        if model.patch != 1 {
            return fail(format!(
                "patch {}: a U-Net sees every cell, its convolutions take the place of patches",
                model.patch
            ));
        }
        let side = self.side_multiple();
        let layout = model.layout;
        if !layout.height.is_multiple_of(side) || !layout.width.is_multiple_of(side) {
            return fail(format!(
                "a canvas of {}×{} cells does not halve {} times: its sides must be multiples of {side}",
                layout.width,
                layout.height,
                self.levels() - 1
            ));
        }
        let parameters = UnetParameters::new(model, self);
        if let Some(norm) = parameters
            .norms()
            .find(|n| !n.outputs().is_multiple_of(self.groups))
        {
            return fail(format!(
                "{} normalises {} channels, which {} groups do not divide",
                norm.name,
                norm.outputs(),
                self.groups
            ));
        }
        if let Some(attention) = parameters
            .attentions()
            .find(|a| !a.channels().is_multiple_of(self.heads))
        {
            return fail(format!(
                "{} attends over {} channels, which {} heads do not divide",
                attention.name,
                attention.channels(),
                self.heads
            ));
        }
        Ok(())
    }
}
