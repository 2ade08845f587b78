//! A model's configuration: everything needed to rebuild the network and to interpret its samples, stored as JSON
//! in the weights file's metadata so that one file is all a game ships.

use serde::{Deserialize, Serialize};

use crate::error::{BfnError, Result};
use crate::flow::gaussian_input::GaussianInput;
use crate::flow::{
    AccuracySchedule, BayesianFlow, Continuous, Discrete, Discretised, SamplingMethod,
};
pub use crate::model::unet_config::UnetConfig;

/// How the variables of one example are arranged: `height` × `width` tokens (a sequence has height 1), each
/// holding `channels` variables (RGBA pixels have 4). Variables are stored token-major, channels innermost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Rows of tokens (1 for a sequence).
    pub height: usize,
    /// Tokens per row.
    pub width: usize,
    /// Variables per token.
    pub channels: usize,
}

impl Layout {
    /// Tokens per example.
    pub fn tokens(&self) -> usize {
        self.height * self.width
    }

    /// Variables per example.
    pub fn variables(&self) -> usize {
        self.tokens() * self.channels
    }
}

/// Maps model values in [−1, 1] back to the data's own units: `raw = value · scale + offset` (metres of
/// elevation, say).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalisation {
    /// Units per model unit.
    pub scale: f32,
    /// The raw value that model value 0 stands for.
    pub offset: f32,
}

/// The data kind and its accuracy setting.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum KindConfig {
    /// Real values; σ₁ is the input standard deviation at t = 1.
    Continuous {
        /// σ₁ ∈ (0, 1).
        sigma_1: f64,
    },
    /// Values on K levels.
    Discretised {
        /// σ₁ ∈ (0, 1).
        sigma_1: f64,
        /// K ≥ 2.
        bins: u32,
    },
    /// One of K classes.
    Discrete {
        /// β₁ > 0.
        beta_1: f64,
        /// K ≥ 2.
        classes: u32,
    },
}

/// The data kind, built and checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Continuous data.
    Continuous(Continuous),
    /// Discretised data.
    Discretised(Discretised),
    /// Discrete data.
    Discrete(Discrete),
}

impl Kind {
    /// The accuracy schedule β(t) of the kind's input side.
    pub fn schedule(&self) -> AccuracySchedule {
        match self {
            Kind::Continuous(k) => k.input().schedule(),
            Kind::Discretised(k) => k.input().schedule(),
            Kind::Discrete(k) => k.input().schedule(),
        }
    }

    /// The Gaussian input side that continuous and discretised data share; `None` for discrete data.
    pub fn gaussian_input(&self) -> Option<&GaussianInput> {
        match self {
            Kind::Continuous(k) => Some(k.input()),
            Kind::Discretised(k) => Some(k.input()),
            Kind::Discrete(_) => None,
        }
    }

    /// θ values per variable (K for discrete data, μ alone otherwise) and the prior's (θ value, precision).
    pub fn input_width_and_prior(&self) -> (usize, (f32, f32)) {
        fn of<B: BayesianFlow<f32>>(input: &B) -> (usize, (f32, f32)) {
            (input.input_width(), input.prior())
        }
        match self {
            Kind::Continuous(k) => of(k.input()),
            Kind::Discretised(k) => of(k.input()),
            Kind::Discrete(k) => of(k.input()),
        }
    }
}

impl KindConfig {
    /// The kind, with its settings checked.
    pub fn build(&self) -> Result<Kind> {
        Ok(match *self {
            KindConfig::Continuous { sigma_1 } => Kind::Continuous(Continuous::new(sigma_1)?),
            KindConfig::Discretised { sigma_1, bins } => {
                Kind::Discretised(Discretised::new(sigma_1, bins)?)
            }
            KindConfig::Discrete { beta_1, classes } => {
                Kind::Discrete(Discrete::new(beta_1, classes)?)
            }
        })
    }

    /// σ₁ (continuous, discretised) or β₁ (discrete): the setting of the accuracy schedule.
    pub fn accuracy(&self) -> f64 {
        match *self {
            KindConfig::Continuous { sigma_1 } | KindConfig::Discretised { sigma_1, .. } => sigma_1,
            KindConfig::Discrete { beta_1, .. } => beta_1,
        }
    }

    /// The same kind with another σ₁ or β₁: a sampler may run a model with a sharper or softer schedule than it
    /// was trained with (the designer's knob). Checked when built.
    pub fn with_accuracy(&self, accuracy: f64) -> Self {
        match *self {
            KindConfig::Continuous { .. } => KindConfig::Continuous { sigma_1: accuracy },
            KindConfig::Discretised { bins, .. } => KindConfig::Discretised {
                sigma_1: accuracy,
                bins,
            },
            KindConfig::Discrete { classes, .. } => KindConfig::Discrete {
                beta_1: accuracy,
                classes,
            },
        }
    }

    /// Network inputs per token for `channels` variables per token: K probabilities (θ) per discrete variable,
    /// or one μ per channel. A discrete token holds one variable, or a patch of them.
    pub fn input_per_token(&self, channels: usize) -> usize {
        match *self {
            KindConfig::Discrete { classes, .. } => classes as usize * channels,
            _ => channels,
        }
    }

    /// Network outputs per token: K logits per discrete variable, one ε̂ per channel, or (μ_ε, ln σ_ε) per
    /// channel.
    pub fn output_per_token(&self, channels: usize) -> usize {
        match *self {
            KindConfig::Continuous { .. } => channels,
            KindConfig::Discretised { .. } => 2 * channels,
            KindConfig::Discrete { classes, .. } => classes as usize * channels,
        }
    }
}

/// How token positions reach the network: fixed sinusoids, as the official text adapter's `pe_encode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Positions {
    /// One index per token, row-major.
    Sequence,
    /// Row and column, each encoded into half of the features: neighbours above and below look alike.
    Grid,
}

/// The non-causal GPT of the official BFN code, over tokens of 1 or patch² cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptConfig {
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads; must divide `width`.
    pub heads: usize,
    /// Features per token (`n_embd`).
    pub width: usize,
    /// How positions are encoded.
    pub positions: Positions,
}

/// The network: which architecture, and its settings. A model file names the architecture in a `type` field
/// (`{"type": "unet", …}`); a file without one was written before there was a choice, and is a GPT.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum NetworkConfig {
    /// The official text GPT (`networks/transformer.py`).
    Gpt(GptConfig),
    /// The official image U-Net (`networks/unet_improved.py`).
    Unet(UnetConfig),
}

/// What a model file's `network` holds: the architecture named, or a GPT's fields alone.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum TaggedNetwork {
    Gpt(GptConfig),
    Unet(UnetConfig),
}

impl<'de> Deserialize<'de> for NetworkConfig {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let mut value = serde_json::Value::deserialize(deserializer)?;
        if let Some(fields) = value.as_object_mut()
            && !fields.contains_key("type")
        {
            fields.insert("type".into(), "gpt".into());
        }
        Ok(
            match TaggedNetwork::deserialize(value).map_err(serde::de::Error::custom)? {
                TaggedNetwork::Gpt(gpt) => NetworkConfig::Gpt(gpt),
                TaggedNetwork::Unet(unet) => NetworkConfig::Unet(unet),
            },
        )
    }
}

impl NetworkConfig {
    /// The architecture's name, as the model file spells it.
    pub fn architecture(&self) -> &'static str {
        match self {
            NetworkConfig::Gpt(_) => "gpt",
            NetworkConfig::Unet(_) => "unet",
        }
    }

    /// The GPT's settings, for code that only a GPT has (positions, patches); `None` for another network.
    pub fn as_gpt(&self) -> Option<&GptConfig> {
        match self {
            NetworkConfig::Gpt(gpt) => Some(gpt),
            NetworkConfig::Unet(_) => None,
        }
    }

    /// A line for a panel or a log: the architecture and its size.
    pub fn summary(&self) -> String {
        match self {
            NetworkConfig::Gpt(g) => format!("GPT {} × {}", g.layers, g.width),
            NetworkConfig::Unet(u) => format!(
                "U-Net {} × {:?}, {} res blocks a level",
                u.channels, u.multipliers, u.res_blocks
            ),
        }
    }
}

/// Everything about a model but its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The data kind and its accuracy setting.
    pub kind: KindConfig,
    /// The shape of one example, in tokens: with patches, `channels` counts the channels of all the pixels of a
    /// patch.
    pub layout: Layout,
    /// Pixels per side of the square patch one token holds (1: a token per pixel or cell). Patches cut the
    /// number of tokens, and with it the network's cost, by patch²: the official code's "later optimisation".
    #[serde(default = "one")]
    pub patch: usize,
    /// The network.
    pub network: NetworkConfig,
    /// For discrete data, what each class is (a tile glyph, a character): one entry per class, or empty.
    #[serde(default)]
    pub legend: Vec<String>,
    /// For continuous data, the map back to the data's units.
    #[serde(default)]
    pub normalisation: Option<Normalisation>,
    /// The number of sampling steps n its samples need, where 50 are too few: in 50, terrain's levels come out
    /// squeezed together (`docs/models.md`). A sampler not told otherwise takes these; `None`: 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_steps: Option<u32>,
    /// The sampler its samples are drawn with where nobody says otherwise, with `sampling_steps`: a few-step
    /// solver reaches in 10 network calls what the standard sampler needs 50 for (`docs/sampling.md`). `None`:
    /// the standard sampler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler: Option<SamplingMethod>,
    /// Where the model came from: dataset, training config, steps, licence of the data.
    #[serde(default)]
    pub provenance: String,
    /// The trainer's `[data]` table, so that `bfn-train eval --model FILE` finds the same held-out split.
    #[serde(default)]
    pub training_data: Option<serde_json::Value>,
    /// The classes a conditional model can be asked for (`"7"`, `"female"`, `"wall"`), by index: a sampler
    /// names them, the network embeds their index (`label_embedding.weight`, one row per class and a last one
    /// for "no class"). Empty for an unconditional model, which is every model written before classes existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

fn one() -> usize {
    1
}

/// The sampling steps of a model that names none.
pub const DEFAULT_SAMPLING_STEPS: u32 = 50;

impl ModelConfig {
    /// The number of sampling steps n its samples need: its own `sampling_steps`, or 50.
    pub fn sampling_steps(&self) -> u32 {
        self.sampling_steps.unwrap_or(DEFAULT_SAMPLING_STEPS)
    }

    /// The sampler its samples are drawn with: its own `sampler`, or the standard one.
    pub fn sampler(&self) -> SamplingMethod {
        self.sampler.unwrap_or_default()
    }

    /// The shape of one example in pixels (cells, characters): the token layout with the patches unfolded.
    pub fn pixel_layout(&self) -> Layout {
        let p = self.patch;
        Layout {
            height: self.layout.height * p,
            width: self.layout.width * p,
            channels: self.layout.channels / (p * p),
        }
    }

    /// Where channel `channel` of pixel (`row`, `column`) lives among a token-major example's variables: in token
    /// (row/p, column/p), after the channels of the pixels before it in the patch (row-major).
    pub fn variable_of_pixel(&self, row: usize, column: usize, channel: usize) -> usize {
        let p = self.patch;
        let pixel_channels = self.layout.channels / (p * p);
        let token = (row / p) * self.layout.width + column / p;
        let within = ((row % p) * p + column % p) * pixel_channels + channel;
        token * self.layout.channels + within
    }

    /// The index of the class called `name`, or an error that lists the classes the model has.
    pub fn label_index(&self, name: &str) -> Result<u32> {
        if self.labels.is_empty() {
            return Err(BfnError::Config(format!(
                "the model has no classes, so class {name:?} cannot be asked for"
            )));
        }
        self.labels
            .iter()
            .position(|l| l == name)
            .map(|i| i as u32)
            .ok_or_else(|| {
                BfnError::Config(format!(
                    "the model has no class {name:?}; its classes are {}",
                    self.labels.join(", ")
                ))
            })
    }

    /// Checks every setting and their agreement; returns the data kind.
    pub fn validate(&self) -> Result<Kind> {
        let kind = self.kind.build()?;
        if let Some((i, name)) = self
            .labels
            .iter()
            .enumerate()
            .find(|(i, name)| name.is_empty() || self.labels[..*i].contains(name))
        {
            return Err(BfnError::Config(format!(
                "class {i} ({name:?}) is empty or repeated: a sampler asks for classes by name"
            )));
        }
        let layout = self.layout;
        let p = self.patch;
        if p == 0 || !layout.channels.is_multiple_of(p * p) {
            return Err(BfnError::Config(format!(
                "patch {p}: a token's {} channels must be patch² pixels' channels",
                layout.channels
            )));
        }
        if layout.height == 0 || layout.width == 0 || layout.channels == 0 {
            return Err(BfnError::Config(format!(
                "layout {layout:?} has an empty dimension"
            )));
        }
        if let KindConfig::Discrete { classes, .. } = self.kind {
            if layout.channels != p * p {
                return Err(BfnError::Config(format!(
                    "discrete data have one class per cell, but the layout has {} channels in patches of {p}",
                    layout.channels
                )));
            }
            if !self.legend.is_empty() && self.legend.len() != classes as usize {
                return Err(BfnError::Config(format!(
                    "the legend names {} classes, the kind has {classes}",
                    self.legend.len()
                )));
            }
        }
        if let Some(sampler) = self.sampler {
            sampler.check()?;
        }
        if self.sampling_steps == Some(0) {
            return Err(BfnError::Config(
                "sampling_steps 0: a sampler takes at least one step".into(),
            ));
        }
        match &self.network {
            NetworkConfig::Gpt(net) => net.validate()?,
            NetworkConfig::Unet(net) => net.validate(self)?,
        }
        Ok(kind)
    }
}

impl GptConfig {
    /// Checks the GPT's settings.
    fn validate(&self) -> Result<()> {
        if self.layers == 0
            || self.heads == 0
            || self.width == 0
            || !self.width.is_multiple_of(self.heads)
        {
            return Err(BfnError::Config(format!(
                "network {self:?}: layers, heads and width must be positive and heads must divide width"
            )));
        }
        if self.positions == Positions::Grid && !self.width.is_multiple_of(4) {
            return Err(BfnError::Config(format!(
                "grid positions need a width divisible by 4, got {}",
                self.width
            )));
        }
        Ok(())
    }
}
