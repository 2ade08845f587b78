//! A training run's configuration, read from TOML (`configs/NAME.toml`): the data, the model and the schedule.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::flow::SamplingMethod;
use crate::model::limits::within;
use crate::model::{
    GptConfig, KindConfig, Layout, LimitError, Limits, ModelConfig, NetworkConfig, Positions,
    UnetConfig,
};
use crate::train::augment::Augment;
use crate::train::dataset::{DataSection, Dataset, Examples};
use crate::train::loss::LossSpec;

/// The whole file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The model's name, used for files and messages.
    pub name: String,
    /// Where the trained model is written (its checkpoint goes beside it, with `.ckpt` appended).
    pub output: PathBuf,
    /// What to train on.
    pub data: DataSection,
    /// The data kind's accuracy setting and the network.
    pub model: ModelSection,
    /// The optimisation: the schedule's first stage.
    pub training: TrainingSection,
    /// `[[stage]]` tables: the schedule's later stages, run in order after `[training]`'s. Each is `[training]`
    /// with the settings it names replaced (not the stage before it: a stage reads whole beside `[training]`),
    /// and starts from the weights the stage before it ends with — its moving average, as its model file holds
    /// them — with a fresh optimiser, step and schedule: a warm restart of the learning rate, as a run from
    /// `training.init` is, kept in the model's one file and resumed across by one checkpoint.
    #[serde(default, rename = "stage", skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<toml::Table>,
    /// `[limits]`: the largest sizes the run accepts from its settings and its data, for a run that needs more
    /// than the defaults (see [`Limits`]); each left out keeps its default.
    #[serde(default)]
    pub limits: Limits,
}

/// `[model]`: the kind (its class or bin count comes from the data) and the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// σ₁, for continuous and discretised data.
    #[serde(default)]
    pub sigma_1: Option<f64>,
    /// β₁, for discrete data.
    #[serde(default)]
    pub beta_1: Option<f64>,
    /// The network's architecture: `"gpt"` (the default) or `"unet"`. Each takes its own settings below, and
    /// refuses the other's.
    #[serde(default)]
    pub network: Architecture,
    /// GPT: transformer blocks.
    #[serde(default)]
    pub layers: Option<usize>,
    /// GPT and U-Net: attention heads (default 1 for a U-Net).
    #[serde(default)]
    pub heads: Option<usize>,
    /// GPT: features per token.
    #[serde(default)]
    pub width: Option<usize>,
    /// GPT: `"sequence"` or `"grid"`.
    #[serde(default)]
    pub positions: Option<Positions>,
    /// U-Net: channels at the first level.
    #[serde(default)]
    pub channels: Option<usize>,
    /// U-Net: channel multipliers, one a level.
    #[serde(default)]
    pub multipliers: Option<Vec<usize>>,
    /// U-Net: residual blocks a level.
    #[serde(default)]
    pub res_blocks: Option<usize>,
    /// U-Net: the levels (0 the full canvas) with self-attention; the middle always has it (default none).
    #[serde(default)]
    pub attention_levels: Option<Vec<usize>>,
    /// U-Net: GroupNorm groups.
    #[serde(default)]
    pub groups: Option<usize>,
    /// U-Net: whether the network reads the known values as a context beside θ (default false), trained on
    /// random masks (`[training] context`).
    #[serde(default)]
    pub context: Option<bool>,
    /// Pixels (or map cells) per side of the square patch a token holds (default 1; images and maps).
    #[serde(default)]
    pub patch: Option<usize>,
    /// The sampling steps the model's samples need, written into the model file for samplers to take
    /// (default: none written, and samplers take 50).
    #[serde(default)]
    pub sampling_steps: Option<u32>,
    /// The sampler its samples are drawn with, by name (`"ode2"`) or with settings (`{ redraw = { temperature
    /// = 0.5 } }`), written into the model file beside `sampling_steps` (default: none, the standard sampler).
    #[serde(default)]
    pub sampler: Option<SamplingMethod>,
}

/// The architecture `[model] network` names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// The official text GPT, over tokens of 1 or patch² cells.
    #[default]
    Gpt,
    /// The official image U-Net, over cells.
    Unet,
}

impl ModelSection {
    /// The network these settings describe: the settings of the architecture named, each required, and none of
    /// the other's, so that a setting that would be ignored is an error instead.
    pub fn network_config(&self) -> Result<NetworkConfig, String> {
        fn need<T: Clone>(value: &Option<T>, name: &str, architecture: &str) -> Result<T, String> {
            value
                .clone()
                .ok_or_else(|| format!("model.{name} is needed by a {architecture} network"))
        }
        let gpt_only = [
            ("layers", self.layers.is_some()),
            ("width", self.width.is_some()),
            ("positions", self.positions.is_some()),
        ];
        let unet_only = [
            ("channels", self.channels.is_some()),
            ("multipliers", self.multipliers.is_some()),
            ("res_blocks", self.res_blocks.is_some()),
            ("attention_levels", self.attention_levels.is_some()),
            ("groups", self.groups.is_some()),
            ("context", self.context.is_some()),
        ];
        let (architecture, foreign) = match self.network {
            Architecture::Gpt => ("GPT", &unet_only[..]),
            Architecture::Unet => ("U-Net", &gpt_only[..]),
        };
        if let Some((name, _)) = foreign.iter().find(|(_, set)| *set) {
            return Err(format!(
                "model.{name} is not a setting of a {architecture} network (model.network)"
            ));
        }
        Ok(match self.network {
            Architecture::Gpt => NetworkConfig::Gpt(GptConfig {
                layers: need(&self.layers, "layers", architecture)?,
                heads: need(&self.heads, "heads", architecture)?,
                width: need(&self.width, "width", architecture)?,
                positions: need(&self.positions, "positions", architecture)?,
            }),
            Architecture::Unet => NetworkConfig::Unet(UnetConfig {
                channels: need(&self.channels, "channels", architecture)?,
                multipliers: need(&self.multipliers, "multipliers", architecture)?,
                res_blocks: need(&self.res_blocks, "res_blocks", architecture)?,
                attention_levels: self.attention_levels.clone().unwrap_or_default(),
                heads: self.heads.unwrap_or(1),
                groups: need(&self.groups, "groups", architecture)?,
                context: self.context.unwrap_or(false),
            }),
        })
    }
}

/// `[training]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSection {
    /// Optimiser steps.
    pub steps: u32,
    /// Examples per step.
    pub batch: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Steps of linear warm-up from 0 to the peak.
    pub warmup: u32,
    /// Whether the learning rate then decays along a cosine to a tenth of the peak at the last step (or at
    /// `lr_decay_steps`).
    #[serde(default)]
    pub cosine_decay: bool,
    /// The step the cosine reaches its tenth at, when not the run's last (nanoGPT's `lr_decay_iters`): a run
    /// on little data can stop part-way down a longer schedule, before the annealed learning rate fits the
    /// training set's noise, with its first steps those of the longer run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_decay_steps: Option<u32>,
    /// AdamW's decoupled weight decay (applied to matrices only, as the official `get_optim_groups` does).
    pub weight_decay: f64,
    /// AdamW's β₁ and β₂.
    #[serde(deserialize_with = "crate::train::exact::exactly")]
    pub betas: [f64; 2],
    /// The global gradient norm is clipped to this.
    pub grad_clip: f64,
    /// Decay of the exponential moving average of the weights that is saved as the model.
    pub ema_decay: f64,
    /// When set, the saved model is the mean of the moving average over every step from this one to the end
    /// (tail averaging, as stochastic weight averaging does): once a long cosine run has levelled off, its
    /// moving average still wanders with the last thousand steps' batches, and the mean over the plateau
    /// generalises a little better than any one point of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_from: Option<u32>,
    /// Dropout rate while training (default 0), nanoGPT's places; see [`crate::net::Dropout`].
    #[serde(default)]
    pub dropout: f32,
    /// For a conditional model (`[data] labels = true`), the probability that an example is shown with "no
    /// class" instead of its own (default 0; 0.1 to 0.2 is usual): the one network also learns the
    /// unconditional distribution, which classifier-free guidance pushes the conditional one away from.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_dropout: f64,
    /// The class embedding's own peak learning rate (default the run's), on the same schedule. A fine-tuning
    /// run keeps the rest of a trained network near its optimum with a small rate, while the embedding starts at
    /// zero and must grow to the size of the features it is added to: at the run's rate it stays too small for
    /// the class to steer the samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_learning_rate: Option<f64>,
    /// For a model with a context input (`[model] context = true`), the share of training examples shown with
    /// a random mask of known cells (half maps, rectangles, borders, brush strokes, scattered cells; see
    /// `train::context_mask`) as their context; the rest have an empty one, so the model stays the
    /// unconditional one too (default 0.5).
    #[serde(default = "half", skip_serializing_if = "is_half")]
    pub context: f64,
    /// Symmetries the data do not care about, applied to training examples (default none; see
    /// [`Augment`]).
    #[serde(default)]
    pub augment: Augment,
    /// A model file to start from instead of freshly drawn weights: fine-tuning, to give a model more steps
    /// than one sitting allows or to teach a shipped model a game's own data of the same shape. Only the
    /// weights come over — the optimiser's moments, moving average and step start afresh, so the run has its own
    /// warm-up and schedule — and the file's network, kind, layout and legend must be this run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    /// The loss.
    pub loss: LossSpec,
    /// Seed of every random draw of the run.
    pub seed: u64,
    /// Steps between checkpoints (and model files).
    pub checkpoint_every: u32,
}

/// A TOML error on one line, `line L, column C: message`: the parser's own display quotes the line with a caret
/// under it, which a log line or a game's error label cannot show.
fn one_line(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

fn half() -> f64 {
    0.5
}

fn is_half(value: &f64) -> bool {
    *value == 0.5
}

/// A configuration that cannot be used, with the setting at fault.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl TrainConfig {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let error = |message: String| ConfigError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        Self::from_toml(&text).map_err(error)
    }

    /// Parses and checks a configuration's text: the file loader's work without the file.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| one_line(text, &e))?;
        config.check()?;
        Ok(config)
    }

    /// Where a run of this configuration keeps its checkpoint: beside the model file, with `.ckpt` appended
    /// (one for all its stages).
    pub fn checkpoint_path(&self) -> PathBuf {
        let mut path = self.output.clone().into_os_string();
        path.push(".ckpt");
        PathBuf::from(path)
    }

    /// The stages of the schedule: `[training]` and then each `[[stage]]`.
    pub fn stage_count(&self) -> usize {
        1 + self.stages.len()
    }

    /// The run of stage `index` (0 is `[training]`'s) alone: this configuration with that stage's training
    /// settings and no stages. A later stage starts from the weights of the one before, so it has no `init`.
    pub fn stage(&self, index: usize) -> Result<TrainConfig, String> {
        let mut run = TrainConfig {
            stages: Vec::new(),
            ..self.clone()
        };
        if index == 0 {
            return Ok(run);
        }
        let changes = self.stages.get(index - 1).ok_or_else(|| {
            format!(
                "stage {} asked of a schedule of {}",
                index + 1,
                self.stage_count()
            )
        })?;
        let named = |message: String| format!("stage {} ([[stage]] {index}): {message}", index + 1);
        if changes.contains_key("init") {
            return Err(named(
                "init is [training]'s alone: a later stage starts from the weights of the stage before it"
                    .into(),
            ));
        }
        let mut settings = serde_json::to_value(&self.training).expect("the settings serialise");
        let changes = serde_json::to_value(changes).map_err(|e| named(e.to_string()))?;
        if let (Some(settings), Some(changes)) = (settings.as_object_mut(), changes.as_object()) {
            settings.remove("init");
            settings.extend(changes.clone());
        }
        run.training = serde_json::from_value(settings).map_err(|e| named(e.to_string()))?;
        run.check().map_err(named)?;
        Ok(run)
    }

    /// Optimiser steps in all the stages together.
    pub fn steps_in_all(&self) -> u32 {
        (0..self.stage_count())
            .filter_map(|index| self.stage(index).ok())
            .map(|run| run.training.steps)
            .sum()
    }

    /// The sizes the settings claim, within [`TrainConfig::limits`].
    fn check_sizes(&self) -> Result<(), LimitError> {
        let (m, t, limits) = (&self.model, &self.training, &self.limits);
        if let Ok(network) = m.network_config() {
            network.check_limits(limits)?;
        }
        within(
            "training.batch",
            t.batch as u64,
            "batch",
            limits.batch as u64,
        )?;
        if let Some(steps) = m.sampling_steps {
            within(
                "model.sampling_steps",
                steps,
                "sampling_steps",
                limits.sampling_steps,
            )?;
        }
        if let LossSpec::Discrete { steps, .. } = t.loss {
            within(
                "training.loss.discrete.steps",
                steps,
                "sampling_steps",
                limits.sampling_steps,
            )?;
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        let network = self.model.network_config()?;
        self.check_sizes().map_err(|e| e.to_string())?;
        let t = &self.training;
        if t.steps == 0 || t.batch == 0 || t.checkpoint_every == 0 {
            return Err(
                "training.steps, training.batch and training.checkpoint_every must be positive"
                    .into(),
            );
        }
        if !(t.learning_rate > 0.0 && t.learning_rate.is_finite()) {
            return Err(format!(
                "training.learning_rate must be positive, got {}",
                t.learning_rate
            ));
        }
        if !(0.0..1.0).contains(&t.ema_decay) || t.betas.iter().any(|b| !(0.0..1.0).contains(b)) {
            return Err("training.ema_decay and training.betas must lie in [0, 1)".into());
        }
        if t.grad_clip.is_nan() || t.grad_clip <= 0.0 || t.weight_decay < 0.0 {
            return Err(
                "training.grad_clip must be positive and training.weight_decay not negative".into(),
            );
        }
        if let Some(from) = t.average_from
            && !(1..=t.steps).contains(&from)
        {
            return Err(format!(
                "training.average_from must lie in 1..={} (the run's steps), got {from}",
                t.steps
            ));
        }
        if let Some(decay) = t.lr_decay_steps
            && (!t.cosine_decay || decay <= t.warmup)
        {
            return Err(format!(
                "training.lr_decay_steps needs cosine_decay = true and must exceed the warm-up ({}), got {decay}",
                t.warmup
            ));
        }
        if !(0.0..1.0).contains(&t.dropout) {
            return Err(format!(
                "training.dropout must lie in [0, 1), got {}",
                t.dropout
            ));
        }
        if !(0.0..1.0).contains(&t.label_dropout) {
            return Err(format!(
                "training.label_dropout must lie in [0, 1), got {}",
                t.label_dropout
            ));
        }
        if let Some(rate) = t.label_learning_rate
            && !(rate > 0.0 && rate.is_finite())
        {
            return Err(format!(
                "training.label_learning_rate must be positive, got {rate}"
            ));
        }
        if !(0.0..=1.0).contains(&t.context) {
            return Err(format!(
                "training.context must lie in [0, 1], got {}",
                t.context
            ));
        }
        if t.label_dropout > 0.0 && !self.data.labels {
            return Err(
                "training.label_dropout needs classes to drop: set labels = true in [data]".into(),
            );
        }
        if network.dropout_sites() > 32 && t.dropout > 0.0 {
            return Err(format!(
                "dropout supports at most 32 mask sites a step, and this network has {} (15 GPT layers, or 32 \
                 U-Net residual blocks)",
                network.dropout_sites()
            ));
        }
        if let LossSpec::Discrete { steps, draws } = t.loss
            && (steps == 0 || draws == 0)
        {
            return Err("training.loss.discrete.steps and .draws must be positive".into());
        }
        for index in 1..self.stage_count() {
            self.stage(index)?;
        }
        Ok(())
    }

    /// The model configuration for this run's data, and the data cut into the model's tokens: the kind follows
    /// from the data (values on bins are discretised, other values continuous, classes discrete), its setting
    /// and the network from `[model]`.
    pub fn prepare(&self, data: Dataset) -> Result<(Dataset, ModelConfig), ConfigError> {
        let error = |message: String| ConfigError {
            path: self.name.clone(),
            message,
        };
        let kind = match (&data.examples, data.bins) {
            (Examples::Values(_), Some(bins)) => KindConfig::Discretised {
                sigma_1: self
                    .model
                    .sigma_1
                    .ok_or_else(|| error("discretised data need model.sigma_1".into()))?,
                bins,
            },
            (Examples::Values(_), None) => KindConfig::Continuous {
                sigma_1: self
                    .model
                    .sigma_1
                    .ok_or_else(|| error("continuous data need model.sigma_1".into()))?,
            },
            (Examples::Classes(_), _) => KindConfig::Discrete {
                beta_1: self
                    .model
                    .beta_1
                    .ok_or_else(|| error("discrete data need model.beta_1".into()))?,
                classes: data.legend.len() as u32,
            },
        };
        let patch = self.model.patch.unwrap_or(1);
        if patch == 0
            || !data.layout.height.is_multiple_of(patch)
            || !data.layout.width.is_multiple_of(patch)
        {
            return Err(error(format!(
                "model.patch {patch} must divide the data's {:?}",
                data.layout
            )));
        }
        let config = ModelConfig {
            kind,
            layout: Layout {
                height: data.layout.height / patch,
                width: data.layout.width / patch,
                channels: data.layout.channels * patch * patch,
            },
            patch,
            network: self.model.network_config().map_err(error)?,
            legend: data.legend.clone(),
            normalisation: data.normalisation,
            sampling_steps: self.model.sampling_steps,
            sampler: self.model.sampler,
            provenance: format!(
                "trained by bfn-train from config `{}`{} on {}",
                self.name,
                self.training
                    .init
                    .as_ref()
                    .map(|p| format!(", starting from the weights of {}", p.display()))
                    .unwrap_or_default(),
                data.provenance
            ),
            training_data: Some(
                serde_json::to_value(&self.data).expect("the data spec serialises"),
            ),
            labels: data
                .labels
                .as_ref()
                .map(|labels| labels.names.clone())
                .unwrap_or_default(),
        };
        self.limits
            .check_model(&config)
            .map_err(|e| error(e.to_string()))?;
        config.validate().map_err(|e| error(e.to_string()))?;
        let data = data.patched(&config).map_err(|e| error(e.to_string()))?;
        Ok((data, config))
    }
}
