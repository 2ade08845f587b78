//! What a game spawns: a generator, its progress, its preview image and the message it sends when done.

use std::sync::Arc;

use bevy::prelude::*;

use crate::flow::{AnyDatum, Constraints, SamplingMethod};
use crate::gpu::JobSettings;
use crate::model::{Guidance, ModelConfig, Samples, Weights, WeightsError};
use crate::plugin::asset::BfnModel;
use crate::plugin::constraints::BfnConstraints;
use crate::plugin::output::BfnOutput;

/// Generates content with a model on the GPU, a few BFN steps each frame.
///
/// Change `seed`, `steps`, `batch`, `accuracy`, `sampler`, `guidance`, `canvas` or the model (a reloaded file included) and the generator starts
/// again with them; trigger [`BfnRestart`] to start again with the same settings, and [`BfnStepOnce`] to take one
/// step while paused.
#[derive(Component, Reflect, Clone, Debug)]
#[reflect(Component)]
#[require(BfnProgress, BfnPreview, Run)]
pub struct BfnGenerator {
    /// The model to sample.
    pub model: Handle<BfnModel>,
    /// Examples generated together (maps, sprites, names).
    pub batch: usize,
    /// n, the number of BFN steps: more steps, better samples. `None`: the steps the model's samples need
    /// ([`ModelConfig::sampling_steps`]: 50 unless its file names others), so that a model that needs 200 is not
    /// drawn squeezed by a game that never asked.
    pub steps: Option<u32>,
    /// Steps recorded each frame (unless `gpu_budget_ms` is set).
    pub steps_per_frame: u32,
    /// GPU milliseconds to spend each frame instead: the steps per frame follow from the measured GPU time per
    /// step (timestamp queries; one step a frame until the first measurement, or where the device has none).
    pub gpu_budget_ms: Option<f32>,
    /// The seed: one seed, one result.
    pub seed: u64,
    /// σ₁ or β₁ to sample with instead of the model's own (`None`: the model's).
    pub accuracy: Option<f64>,
    /// The sampler instead of the model's own (`None`: the model's, [`ModelConfig::sampler`]). The model's steps
    /// are meant for its own sampler: with another, set `steps` too. (Not reflected: `flow` knows no Bevy.)
    #[reflect(ignore)]
    pub sampler: Option<SamplingMethod>,
    /// Holds the flow where it is ([`BfnStepOnce`] still steps it).
    pub paused: bool,
    /// For a conditional model (one whose file names classes): the class each example is asked to be, and the
    /// classifier-free guidance weight ([`Guidance`]); the default asks for no class. (Not reflected.)
    #[reflect(ignore)]
    pub guidance: Guidance,
    /// The canvas, (width, height) in cells, instead of the model's own (`None`): a U-Net model samples a whole
    /// level of any size whose sides are multiples of 2^(levels − 1) in one pass ([`BfnModel::on_canvas`]).
    pub canvas: Option<(usize, usize)>,
}

impl BfnGenerator {
    /// One example of `model` in the steps the model needs, 4 a frame, seed 0.
    pub fn new(model: Handle<BfnModel>) -> Self {
        Self {
            model,
            batch: 1,
            steps: None,
            steps_per_frame: 4,
            gpu_budget_ms: None,
            seed: 0,
            accuracy: None,
            sampler: None,
            paused: false,
            guidance: Guidance::default(),
            canvas: None,
        }
    }

    /// With `batch` examples.
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// With n = `steps` instead of the model's own.
    pub fn with_steps(mut self, steps: u32) -> Self {
        self.steps = Some(steps);
        self
    }

    /// With `k` steps a frame.
    pub fn with_steps_per_frame(mut self, k: u32) -> Self {
        self.steps_per_frame = k;
        self
    }

    /// With a GPU-time budget of `ms` milliseconds a frame instead of a fixed number of steps.
    pub fn with_gpu_budget_ms(mut self, ms: f32) -> Self {
        self.gpu_budget_ms = Some(ms);
        self
    }

    /// With `seed`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// With σ₁ (continuous, discretised) or β₁ (discrete) `accuracy` instead of the model's own.
    pub fn with_accuracy(mut self, accuracy: f64) -> Self {
        self.accuracy = Some(accuracy);
        self
    }

    /// With `sampler` instead of the model's own, in `steps` steps (a model's own steps are its own sampler's).
    pub fn with_sampler(mut self, sampler: SamplingMethod, steps: u32) -> Self {
        self.sampler = Some(sampler);
        self.steps = Some(steps);
        self
    }

    /// Every example asked to be class `class` of a conditional model (an index into its `labels`), with guidance
    /// weight `weight` (0: the conditional model alone; more: closer to the class, less varied).
    pub fn with_class(mut self, class: u32, weight: f64) -> Self {
        self.guidance = Guidance::class(class, weight);
        self
    }

    /// With classes per example and a guidance weight.
    pub fn with_guidance(mut self, guidance: Guidance) -> Self {
        self.guidance = guidance;
        self
    }

    /// On a canvas of `width` × `height` cells instead of the model's own (a U-Net model's; see
    /// [`BfnGenerator::canvas`]).
    pub fn with_canvas(mut self, width: usize, height: usize) -> Self {
        self.canvas = Some((width, height));
        self
    }

    /// The weights it samples with: `model`'s on its canvas.
    pub fn weights(&self, model: &BfnModel) -> Result<Arc<Weights>, WeightsError> {
        model.on_canvas(self.canvas)
    }

    /// Paused from the start: nothing runs until `paused` is cleared or [`BfnStepOnce`] is triggered.
    pub fn paused(mut self) -> Self {
        self.paused = true;
        self
    }

    /// The n it samples a model of this configuration with: its own `steps`, or the model's.
    pub fn steps_for(&self, model: &ModelConfig) -> u32 {
        self.steps.unwrap_or_else(|| model.sampling_steps())
    }

    /// The sampler it samples a model of this configuration with: its own `sampler`, or the model's.
    pub fn sampler_for(&self, model: &ModelConfig) -> SamplingMethod {
        self.sampler.unwrap_or_else(|| model.sampler())
    }

    /// What its GPU job samples, for a model of this configuration.
    pub fn job_settings(&self, model: &ModelConfig) -> JobSettings {
        JobSettings {
            batch: self.batch,
            steps: self.steps_for(model),
            seed: self.seed,
            accuracy: self.accuracy,
            sampler: self.sampler_for(model),
        }
    }
}

/// Starts a generator again from the prior with its current settings:
/// `commands.trigger(BfnRestart { entity })`. (Changing a setting restarts it by itself.)
#[derive(EntityEvent, Clone, Copy, Debug)]
pub struct BfnRestart {
    /// The generator.
    pub entity: Entity,
}

/// Takes one step of a generator, paused or not (while running, on top of the frame's steps):
/// `commands.trigger(BfnStepOnce { entity })`. Events are not lost between frames: three triggers before the
/// next frame take three steps.
#[derive(EntityEvent, Clone, Copy, Debug)]
pub struct BfnStepOnce {
    /// The generator.
    pub entity: Entity,
}

/// Which run of its generator the render world's work belongs to. It moves on whenever the generator starts
/// again (new settings, a reloaded model, [`BfnRestart`]), so that reports of an earlier run still in flight
/// between the worlds are dropped instead of being taken for the new one's.
#[derive(Component, Clone, Debug, Default)]
pub(crate) struct Run {
    /// Counts the starts.
    pub epoch: u32,
    /// What the current run samples. `None` until the model loads.
    pub key: Option<RunKey>,
    /// The last result that arrived, in the network's order, for [`BfnRegenerate`](crate::plugin::BfnRegenerate).
    pub finished: Option<Samples>,
}

/// What a run samples: a change of any part starts a new one.
#[derive(Clone, Debug)]
pub(crate) struct RunKey {
    pub settings: JobSettings,
    /// The model's content.
    pub weights: Arc<Weights>,
    /// The generator's constraints as it holds them (in the data's layout).
    pub constraints: Option<BfnConstraints>,
    /// The same placed on the job's variables, or why they cannot be.
    pub placed: Result<Arc<Constraints<AnyDatum>>, String>,
    /// The window of a mosaic the run draws.
    pub window: Option<usize>,
    /// The classes asked for and the guidance weight.
    pub guidance: Guidance,
}

impl RunKey {
    /// Whether a run of this key samples what a generator asks for now, compared in place: the main world asks
    /// this of every generator every frame, and a key built to compare would clone its constraints each time.
    pub fn samples(
        &self,
        settings: JobSettings,
        weights: &Arc<Weights>,
        constraints: Option<&BfnConstraints>,
        window: Option<usize>,
        guidance: &Guidance,
    ) -> bool {
        self.settings == settings
            && Arc::ptr_eq(&self.weights, weights)
            && self.constraints.as_ref() == constraints
            && self.window == window
            && self.guidance == *guidance
    }
}

/// How far a generator is, as the render world last reported it.
#[derive(Component, Reflect, Clone, Debug, Default, PartialEq)]
#[reflect(Component)]
pub struct BfnProgress {
    /// Steps taken (updates of θ).
    pub steps_done: u32,
    /// Steps in all: n, or n − 1 for a few-step solver, whose n-th network call is the sample itself.
    pub steps: u32,
    /// GPU milliseconds per step, as measured by timestamp queries (where the device has them).
    pub gpu_ms_per_step: Option<f32>,
    /// Whether the result has arrived (see [`BfnFinished`]).
    pub finished: bool,
    /// Why the generator cannot run (a model that failed to load, a batch too large for the device…).
    pub error: Option<String>,
    /// For a [`BfnMosaic`](crate::plugin::BfnMosaic): the windows whose runs are done (`steps_done` and `steps`
    /// count the current window's).
    pub windows_done: usize,
    /// For a [`BfnMosaic`](crate::plugin::BfnMosaic): its windows in all; 0 for a generator of one canvas.
    pub windows: usize,
}

impl BfnProgress {
    /// Steps taken over steps in all, in [0, 1] (of every window of a mosaic).
    pub fn fraction(&self) -> f32 {
        let within = if self.steps == 0 {
            0.0
        } else {
            self.steps_done as f32 / self.steps as f32
        };
        if self.windows == 0 {
            within
        } else {
            ((self.windows_done as f32 + within) / self.windows as f32).min(1.0)
        }
    }
}

/// The live picture of the flow: an RGBA image the GPU rewrites every frame (probability-weighted class colours
/// for discrete data, values as grey or colour), the examples side by side. The plugin creates it once the
/// model is loaded; draw it with a `Sprite`.
#[derive(Component, Reflect, Clone, Debug, Default)]
#[reflect(Component)]
pub struct BfnPreview {
    /// The image (the default handle until the model is loaded).
    pub image: Handle<Image>,
}

/// Sent once when a generator's result has been read back from the GPU.
#[derive(Message, Clone, Debug)]
pub struct BfnFinished {
    /// The generator.
    pub entity: Entity,
    /// What it generated.
    pub output: BfnOutput,
}

/// Add to a generator to have its θ read back every frame (a frame or two late), for views of the flow: the
/// panels draw per-variable entropy, θ over time and a ternary plot from it. Costs a copy and a read-back of θ
/// each frame, so only generators being watched should carry it.
#[derive(Component, Clone, Debug, Default)]
pub struct BfnWatch {
    /// The step θ was read at.
    pub step: u32,
    /// θ: per variable, K probabilities (discrete) or the mean μ (continuous, discretised).
    pub theta: Vec<f32>,
}
