//! The training loop: batches, Bayesian-flow inputs, the loss, AdamW, checkpoints.
//!
//! Every random choice of step s — which examples, which times, which flow noise, which Monte Carlo draws — comes
//! from the run's [`CounterRng`] keyed by s. A run resumed from the checkpoint of step s therefore draws exactly
//! what the uninterrupted run would have, and (on the same machine and thread count) ends with the same weights.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use crate::atomic_file::write_atomic;
use crate::flow::loss::bayesian_flow;
use crate::flow::{CounterRng, DataKind, Datum, Shape, Stream};
use crate::model::memory::network_bytes;
use crate::model::weights::{TensorData, decode, encode};
use crate::model::{Kind, ModelConfig, NetworkConfig, Weights, WeightsError};
use crate::net::{
    Dropout, Network, initial_varmap, tensor_data, varmap_from_weights, weights_from_varmap,
};
use crate::train::config::TrainConfig;
use crate::train::context_mask::ContextMasks;
use crate::train::dataset::{CropSource, Dataset, Examples, in_token_order};
use crate::train::loss::{LossSpec, Target, loss};
use crate::train::optimizer::{Optimizer, SlotState, learning_rate};

const CHECKPOINT_FORMAT: &str = "bevy_bfn-checkpoint";

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The data or the configuration cannot be used.
    #[error("{0}")]
    Setup(String),
    /// candle failed.
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    /// The flow maths rejected something.
    #[error(transparent)]
    Flow(#[from] crate::BfnError),
    /// A checkpoint or model file could not be read or written.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// A checkpoint belongs to another run.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What disagrees.
        message: String,
    },
}

/// Where a run stands, for progress reports.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Steps done.
    pub step: u32,
    /// Steps in the run.
    pub steps: u32,
    /// This step's loss (nats per dimension, averaged over the batch).
    pub loss: f32,
    /// The gradient norm before clipping.
    pub grad_norm: f64,
    /// Steps per second since the run (or the resume) began.
    pub steps_per_second: f64,
    /// The stage of the schedule these steps belong to.
    pub stage: Stage,
}

/// Where a run stands in its schedule's stages ([`TrainConfig::stages`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    /// 0 for `[training]`'s, 1 for the first `[[stage]]`.
    pub index: usize,
    /// The stages of the schedule.
    pub count: usize,
    /// The steps of the stages before this one.
    pub steps_before: u32,
}

/// The weights a run starts from: those the stage before ends with, those of `training.init` when it
/// fine-tunes — either must be a network of the very shape this run trains, on classes that mean the same — or
/// else drawn from its seed.
fn starting_varmap(
    config: &TrainConfig,
    model: &ModelConfig,
    device: &Device,
    start: Option<&Weights>,
) -> Result<VarMap, TrainError> {
    let loaded;
    let (weights, from) = match (start, &config.training.init) {
        (Some(weights), _) => (weights, "the stage before".to_owned()),
        (None, Some(path)) => {
            loaded = Weights::load_with_limits(path, &config.limits)?;
            (&loaded, format!("training.init {}", path.display()))
        }
        (None, None) => return Ok(initial_varmap(model, config.training.seed, device)?),
    };
    let theirs = weights.config();
    let refuse = |what: &str, ours: &dyn Debug, file: &dyn Debug| {
        Err(TrainError::Setup(format!(
            "{}: {from} was trained with another {what} ({file:?}) than this run's ({ours:?})",
            config.name
        )))
    };
    if theirs.kind != model.kind {
        return refuse("data kind", &model.kind, &theirs.kind);
    }
    if (theirs.layout, theirs.patch) != (model.layout, model.patch) {
        return refuse(
            "layout and patch",
            &(model.layout, model.patch),
            &(theirs.layout, theirs.patch),
        );
    }
    if theirs.network != model.network {
        return refuse("network", &model.network, &theirs.network);
    }
    if theirs.legend != model.legend {
        return refuse("legend", &model.legend, &theirs.legend);
    }
    // An unconditional model may become a conditional one (its class embedding starts at zero); classes it
    // already has must be this run's.
    if !theirs.labels.is_empty() && theirs.labels != model.labels {
        return refuse("set of classes", &model.labels, &theirs.labels);
    }
    Ok(varmap_from_weights(weights, model, device)?)
}

/// One example of a training batch: its index among the training draws ([`Dataset::train_draws`]), its
/// symmetry, and for a crop source the window's offset (row, column).
#[derive(Clone, Copy, Debug)]
struct Draw {
    example: usize,
    symmetry: usize,
    offset: Option<(usize, usize)>,
}

/// A training run: one stage of its schedule at a time.
pub struct Trainer {
    /// The configuration as written, every stage in it.
    schedule: TrainConfig,
    /// This stage's run alone ([`TrainConfig::stage`]).
    config: TrainConfig,
    stage: Stage,
    data: Dataset,
    model: ModelConfig,
    kind: Kind,
    varmap: VarMap,
    network: Network,
    optimizer: Optimizer,
    device: Device,
    rng: CounterRng,
    /// The training symmetries as permutations of an example's variables, the identity first.
    symmetries: Vec<Vec<usize>>,
    /// For a model with a context input, the masks of known cells its examples are shown with.
    context: Option<ContextMasks>,
}

impl Trainer {
    /// A fresh run, in its first stage: the network drawn from the run's seed, or loaded from `training.init`.
    pub fn new(config: TrainConfig, data: Dataset) -> Result<Self, TrainError> {
        Self::in_stage(config, 0, data, None)
    }

    /// The run of `schedule`'s stage `index`, from `start` (the weights the stage before ends with; `None` for
    /// the first stage, which starts as `[training]` says).
    fn in_stage(
        schedule: TrainConfig,
        index: usize,
        data: Dataset,
        start: Option<&Weights>,
    ) -> Result<Self, TrainError> {
        let setup = |message: String| TrainError::Setup(format!("{}: {message}", schedule.name));
        let config = schedule.stage(index).map_err(setup)?;
        let steps_before = (0..index)
            .map(|earlier| schedule.stage(earlier).map(|run| run.training.steps))
            .sum::<Result<u32, String>>()
            .map_err(setup)?;
        let stage = Stage {
            index,
            count: schedule.stage_count(),
            steps_before,
        };
        let (data, model) = config
            .prepare(data)
            .map_err(|e| TrainError::Setup(e.to_string()))?;
        if data.count <= data.test_count {
            return Err(TrainError::Setup(format!(
                "{}: no training examples left after the test split",
                config.name
            )));
        }
        let kind = model.validate()?;
        let setup =
            |e: crate::model::LimitError| TrainError::Setup(format!("{}: {e}", config.name));
        let parameters = config.limits.check_model(&model).map_err(setup)?;
        config
            .limits
            .check_memory(
                &format!("training on batches of {}", config.training.batch),
                network_bytes(&model, parameters, config.training.batch, true),
            )
            .map_err(setup)?;
        let symmetries = config
            .training
            .augment
            .permutations(&model)
            .map_err(|e| TrainError::Setup(format!("{}: {e}", config.name)))?;
        let device = Device::Cpu;
        let varmap = starting_varmap(&config, &model, &device, start)?;
        let network = Network::new(
            &model,
            VarBuilder::from_varmap(&varmap, DType::F32, &device),
        )?;
        let optimizer = Optimizer::new(&varmap, &config.training)?;
        let rng = CounterRng::new(config.training.seed);
        let context = match &model.network {
            NetworkConfig::Unet(net) if net.context => Some(ContextMasks::new(
                config.training.seed,
                config.training.context,
            )),
            _ => None,
        };
        Ok(Self {
            schedule,
            config,
            stage,
            data,
            model,
            kind,
            varmap,
            network,
            optimizer,
            device,
            rng,
            symmetries,
            context,
        })
    }

    /// The model's configuration.
    pub fn model_config(&self) -> &ModelConfig {
        &self.model
    }

    /// Steps done in this stage.
    pub fn step(&self) -> u32 {
        self.optimizer.step
    }

    /// Steps done in all the stages so far.
    pub fn steps_in_all(&self) -> u32 {
        self.stage.steps_before + self.step()
    }

    /// The stage of the schedule this run is in.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The schedule's next stage, starting from this one's averaged weights (the model file it writes), or
    /// `None` after the last.
    pub fn next_stage(&self, data: Dataset) -> Result<Option<Self>, TrainError> {
        let next = self.stage.index + 1;
        if next == self.stage.count {
            return Ok(None);
        }
        let start = self.model_weights()?;
        Self::in_stage(self.schedule.clone(), next, data, Some(&start)).map(Some)
    }

    /// The run `schedule`'s checkpoint was written by, in the stage it was written in, restored to its step.
    pub fn resumed(schedule: TrainConfig, data: Dataset) -> Result<Self, TrainError> {
        let checkpoint = Checkpoint::read(&schedule.checkpoint_path())?;
        let mut trainer = Self::in_stage(schedule, checkpoint.stage()?, data, None)?;
        trainer.restore(&checkpoint)?;
        Ok(trainer)
    }

    /// The path of this run's checkpoint: the model file's with `.ckpt` appended.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.config.checkpoint_path()
    }

    /// Trains until `until` steps are done, checkpointing every `checkpoint_every` steps and at the end;
    /// `report` sees every step.
    pub fn run(&mut self, until: u32, mut report: impl FnMut(Progress)) -> Result<(), TrainError> {
        let until = until.min(self.config.training.steps);
        let started = (Instant::now(), self.step());
        while self.step() < until {
            let (loss, grad_norm) = self.train_step()?;
            let elapsed = started.0.elapsed().as_secs_f64().max(1e-9);
            report(Progress {
                step: self.step(),
                steps: self.config.training.steps,
                loss,
                grad_norm,
                steps_per_second: f64::from(self.step() - started.1) / elapsed,
                stage: self.stage,
            });
            if self
                .step()
                .is_multiple_of(self.config.training.checkpoint_every)
                || self.step() == until
            {
                self.save_checkpoint()?;
                self.save_model()?;
            }
        }
        Ok(())
    }

    /// Trains stage after stage, each from the weights the one before ends with, until `until` steps in all or
    /// the schedule's end; returns the run of the stage it stopped in.
    pub fn run_stages(
        mut self,
        until: u32,
        data: &Dataset,
        mut report: impl FnMut(Progress),
    ) -> Result<Self, TrainError> {
        loop {
            self.run(until.saturating_sub(self.stage.steps_before), &mut report)?;
            if self.steps_in_all() >= until {
                return Ok(self);
            }
            match self.next_stage(data.clone())? {
                Some(next) => self = next,
                None => return Ok(self),
            }
        }
    }

    /// One optimiser step; returns the loss and the gradient norm.
    pub fn train_step(&mut self) -> Result<(f32, f64), TrainError> {
        let s = self.step();
        let settings = &self.config.training;
        let batch = settings.batch;
        let train_draws = self.data.train_draws() as u64;
        // Each draw picks an example with its first word and the example's symmetry with its second; a crop
        // source's offset comes from draw batch + b.
        let symmetries = self.symmetries.len() as u64;
        let pick = |word: u32, count: u64| ((u64::from(word) * count) >> 32) as usize;
        let pixels = self.model.pixel_layout();
        let draws: Vec<Draw> = (0..batch as u32)
            .map(|b| {
                let [example, symmetry] = self.rng.bits(s, Stream::Output, b);
                let example = pick(example, train_draws);
                let offset = example.checked_sub(self.data.train_count()).map(|source| {
                    let source = &self.data.crops[source];
                    let [y, x] = self.rng.bits(s, Stream::Output, batch as u32 + b);
                    (
                        pick(y, (source.height - pixels.height + 1) as u64),
                        pick(x, (source.width - pixels.width + 1) as u64),
                    )
                });
                Draw {
                    example,
                    symmetry: pick(symmetry, symmetries),
                    offset,
                }
            })
            .collect();
        // Stratified times: one uniform shift of an even grid, so every batch covers [0, 1) evenly (a lower-
        // variance estimate of E_t[L] than independent draws).
        let shift: f64 = self.rng.uniform(s, Stream::Time, 0);
        let t: Vec<f32> = (0..batch)
            .map(|b| {
                let u = (shift + b as f64 / batch as f64).fract();
                match settings.loss {
                    LossSpec::Continuous => u as f32,
                    LossSpec::Discrete { steps, .. } => {
                        ((u * f64::from(steps)).floor() / f64::from(steps)) as f32
                    }
                }
            })
            .collect();
        let (input, target) = self.batch_inputs(&draws, &t, s)?;
        let labels = self.batch_labels(&draws, s);
        let context = self.batch_context(&target, s)?;
        let dropout = Dropout::new(settings.dropout, settings.seed, s);
        let output = self.network.forward_in_context(
            &self.network.network_input(&input)?,
            &Tensor::from_slice(&t, batch, &self.device)?,
            &labels,
            context.as_ref(),
            Some(&dropout),
        )?;
        let loss = loss(
            &self.kind,
            settings.loss,
            &target,
            &input,
            &output,
            &t,
            &self.rng,
            s,
        )?
        .mean_all()?;
        let grads = loss.backward()?;
        let lr = learning_rate(settings, s);
        let grad_norm = self.optimizer.step(&grads, lr)?;
        Ok((loss.to_scalar::<f32>()?, grad_norm))
    }

    /// The classes of the chosen examples, each replaced by "no class" with probability `label_dropout`: the
    /// coin of row b is uniform b + 1 of the time stream (uniform 0 is the time grid's shift). Empty for an
    /// unconditional run.
    fn batch_labels(&self, draws: &[Draw], step: u32) -> Vec<Option<u32>> {
        let Some(labels) = &self.data.labels else {
            return Vec::new();
        };
        let p = self.config.training.label_dropout;
        draws
            .iter()
            .enumerate()
            .map(|(b, draw)| {
                let coin: f64 = self.rng.uniform(step, Stream::Time, b as u32 + 1);
                // A crop has no class: its source is no example.
                let label = labels.of_example.get(draw.example).copied().flatten();
                label.filter(|_| coin >= p && draw.offset.is_none())
            })
            .collect()
    }

    /// For a model with a context input, the batch's context [batch, tokens, context channels]: per variable a
    /// mask (row b's [`ContextMasks`] draw, a cell's channels together) and the masked datum in θ's coordinates,
    /// as the sampler gives it ([`crate::flow::Denoiser::output_params_in_context`]). `None` otherwise.
    fn batch_context(&self, target: &Target, step: u32) -> Result<Option<Tensor>, TrainError> {
        let Some(masks) = &self.context else {
            return Ok(None);
        };
        let layout = self.data.layout;
        let batch = self.config.training.batch;
        let variables = layout.variables();
        let mask: Vec<f32> = (0..batch)
            .flat_map(|row| {
                masks
                    .cells(step, row, layout.height, layout.width)
                    .into_iter()
                    .flat_map(|known| {
                        std::iter::repeat_n(f32::from(u8::from(known)), layout.channels)
                    })
            })
            .collect();
        let mask = Tensor::from_vec(mask, (batch, variables, 1), &self.device)?;
        let datum = match target {
            Target::Classes { one_hot, .. } => one_hot.clone(),
            Target::Values(x) => x.reshape((batch, variables, 1))?,
        };
        let context = Tensor::cat(&[&mask, &datum.broadcast_mul(&mask)?], 2)?;
        Ok(Some(context.reshape((batch, layout.tokens(), ()))?))
    }

    /// θ ~ p_F for the chosen examples at their times, as [batch, tokens, input width], and their data.
    fn batch_inputs(
        &self,
        draws: &[Draw],
        t: &[f32],
        step: u32,
    ) -> Result<(Tensor, Target), TrainError> {
        let layout = self.data.layout;
        let per_example = layout.variables();
        let shape = Shape::new(draws.len(), per_example)?;
        let dims = (draws.len(), layout.tokens());
        Ok(match (&self.kind, &self.data.examples) {
            (Kind::Continuous(k), Examples::Values(all)) => {
                self.gaussian_batch(k, all, draws, shape, t, step)?
            }
            (Kind::Discretised(k), Examples::Values(all)) => {
                self.gaussian_batch(k, all, draws, shape, t, step)?
            }
            (Kind::Discrete(k), Examples::Classes(all)) => {
                let classes = self.gather(all, draws, |source| match &source.cells {
                    Examples::Classes(cells) => cells,
                    Examples::Values(_) => &[],
                });
                let theta = bayesian_flow(k, &classes, shape, t, &self.rng, step)?;
                let width = k.classes() as usize;
                let input = Tensor::from_slice(
                    theta.values(),
                    (dims.0, dims.1, layout.channels * width),
                    &self.device,
                )?;
                let mut one_hot = vec![0f32; classes.len() * width];
                classes
                    .iter()
                    .enumerate()
                    .for_each(|(v, &c)| one_hot[v * width + c as usize] = 1.0);
                // [batch, variables, K]: a token of a patch holds several variables.
                let one_hot =
                    Tensor::from_vec(one_hot, (dims.0, per_example, width), &self.device)?;
                (input, Target::Classes { one_hot, classes })
            }
            _ => {
                return Err(TrainError::Setup(
                    "the data do not match the model's kind".into(),
                ));
            }
        })
    }

    fn gaussian_batch<K: DataKind<f32, Flow = crate::flow::gaussian_input::GaussianInput>>(
        &self,
        kind: &K,
        all: &[f32],
        draws: &[Draw],
        shape: Shape,
        t: &[f32],
        step: u32,
    ) -> Result<(Tensor, Target), TrainError> {
        let layout = self.data.layout;
        let x: Vec<Datum<f32, K>> = self.gather(all, draws, |source| match &source.cells {
            Examples::Values(cells) => cells,
            Examples::Classes(_) => &[],
        });
        let theta = bayesian_flow(kind, &x, shape, t, &self.rng, step)?;
        let dims = (draws.len(), layout.tokens(), layout.channels);
        let input = Tensor::from_slice(theta.values(), dims, &self.device)?;
        Ok((
            input,
            Target::Values(Tensor::from_vec(x, dims, &self.device)?),
        ))
    }

    /// The drawn examples (a crop source's at its drawn offset, `cells` giving its cells), each seen through its
    /// drawn symmetry, concatenated.
    fn gather<'a, T: Copy + Default + 'a>(
        &'a self,
        all: &[T],
        draws: &[Draw],
        cells: impl Fn(&'a CropSource) -> &'a [T],
    ) -> Vec<T> {
        let per_example = self.data.layout.variables();
        let pixels = self.model.pixel_layout();
        draws
            .iter()
            .flat_map(|draw| {
                let example = match draw.offset {
                    None => all[draw.example * per_example..][..per_example].to_vec(),
                    Some(offset) => {
                        let source = &self.data.crops[draw.example - self.data.train_count()];
                        let window = source.window(cells(source), pixels, offset);
                        in_token_order(window, pixels, &self.model)
                    }
                };
                self.symmetries[draw.symmetry]
                    .iter()
                    .map(|&v| example[v])
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The model as it would be saved now: the moving average of the weights, or its tail mean.
    pub fn model_weights(&self) -> Result<Weights, TrainError> {
        let mut tensors = BTreeMap::new();
        for slot in self.optimizer.slots() {
            tensors.insert(slot.name.clone(), tensor_data(slot.averaged())?);
        }
        let mut weights = weights_from_varmap(&self.model, &self.varmap)?
            .tensors()
            .clone();
        weights.extend(tensors);
        let mut config = self.model.clone();
        config.provenance = match self.stage.count {
            1 => format!("{} ({} steps)", config.provenance, self.step()),
            count => format!(
                "{} ({} steps, stage {} of {count})",
                config.provenance,
                self.steps_in_all(),
                self.stage.index + 1
            ),
        };
        Ok(Weights::new_with_limits(
            config,
            weights,
            &self.config.limits,
        )?)
    }

    /// Writes the model file (the averaged weights).
    pub fn save_model(&self) -> Result<(), TrainError> {
        if let Some(dir) = self
            .config
            .output
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| WeightsError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        Ok(self.model_weights()?.save(&self.config.output)?)
    }

    /// Writes the checkpoint: parameters, moments, averages (and tail means), the step and the configuration,
    /// atomically.
    pub fn save_checkpoint(&self) -> Result<(), TrainError> {
        let mut tensors = BTreeMap::new();
        for slot in self.optimizer.slots() {
            tensors.insert(
                format!("param/{}", slot.name),
                tensor_data(slot.var.as_tensor())?,
            );
            tensors.insert(format!("adam_m/{}", slot.name), tensor_data(&slot.m)?);
            tensors.insert(format!("adam_v/{}", slot.name), tensor_data(&slot.v)?);
            tensors.insert(format!("ema/{}", slot.name), tensor_data(&slot.ema)?);
            if let Some(tail) = &slot.tail {
                tensors.insert(format!("tail/{}", slot.name), tensor_data(tail)?);
            }
        }
        let metadata = HashMap::from([
            ("format".to_owned(), CHECKPOINT_FORMAT.to_owned()),
            ("step".to_owned(), self.step().to_string()),
            ("stage".to_owned(), self.stage.index.to_string()),
            (
                "train_config".to_owned(),
                serde_json::to_string(&self.config).expect("the config serialises"),
            ),
        ]);
        let path = self.checkpoint_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| WeightsError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        write_atomic(&path, &encode(&tensors, metadata)).map_err(|source| WeightsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(())
    }

    /// Continues from a checkpoint of the same configuration and stage, up to the model's default sampler and
    /// steps: those do not change training, and are chosen by measuring the trained model
    /// (`docs/sampling.md`), so a finished run resumed with new ones writes its model file again with them
    /// ([`Trainer::save_model`]).
    pub fn resume(&mut self, path: &Path) -> Result<(), TrainError> {
        self.restore(&Checkpoint::read(path)?)
    }

    fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        let fail = |message: String| checkpoint.error(message);
        let mut theirs: TrainConfig = serde_json::from_str(checkpoint.get("train_config"))
            .map_err(|e| fail(format!("unreadable configuration: {e}")))?;
        theirs.model.sampling_steps = self.config.model.sampling_steps;
        theirs.model.sampler = self.config.model.sampler;
        if theirs != self.config || checkpoint.stage()? != self.stage.index {
            return Err(fail(
                "written by a different configuration; start afresh or restore that configuration"
                    .into(),
            ));
        }
        let step: u32 = checkpoint
            .get("step")
            .parse()
            .map_err(|_| fail("no step".into()))?;
        let device = self.device.clone();
        let has_tail = self.optimizer.tail_length(step).is_some();
        let get = |kind: &str, name: &str| -> candle_core::Result<Tensor> {
            let t = checkpoint
                .tensors
                .get(&format!("{kind}/{name}"))
                .ok_or_else(|| candle_core::Error::Msg(format!("missing {kind}/{name}")))?;
            Tensor::from_slice(&t.values, t.shape.as_slice(), &device)
        };
        self.optimizer
            .restore(step, |name| {
                Ok(SlotState {
                    param: get("param", name)?,
                    m: get("adam_m", name)?,
                    v: get("adam_v", name)?,
                    ema: get("ema", name)?,
                    tail: has_tail.then(|| get("tail", name)).transpose()?,
                })
            })
            .map_err(|e| fail(e.to_string()))?;
        Ok(())
    }
}

/// A checkpoint file as read: its metadata (format, stage, step, the stage's configuration) and its tensors.
struct Checkpoint {
    path: PathBuf,
    metadata: HashMap<String, String>,
    tensors: BTreeMap<String, TensorData>,
}

impl Checkpoint {
    fn read(path: &Path) -> Result<Self, TrainError> {
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let (metadata, tensors) = decode(&bytes)?;
        let checkpoint = Self {
            path: path.to_owned(),
            metadata,
            tensors,
        };
        if checkpoint.get("format") != CHECKPOINT_FORMAT {
            return Err(checkpoint.error("not a bfn-train checkpoint".into()));
        }
        Ok(checkpoint)
    }

    /// A metadata entry, empty where it is missing.
    fn get(&self, key: &str) -> &str {
        self.metadata.get(key).map_or("", String::as_str)
    }

    /// The stage it was written in: 0 where it names none (a checkpoint from before stages).
    fn stage(&self) -> Result<usize, TrainError> {
        match self.metadata.get("stage") {
            None => Ok(0),
            Some(stage) => stage
                .parse()
                .map_err(|_| self.error(format!("unreadable stage {stage:?}"))),
        }
    }

    fn error(&self, message: String) -> TrainError {
        TrainError::Checkpoint {
            path: self.path.display().to_string(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::dataset::DataSpec;
    use crate::train::datasets::load;

    fn digits_run(label_dropout: f64) -> Trainer {
        let text = format!(
            "name = \"t\"\noutput = \"unused.safetensors\"\n[data]\nsource = \"digits\"\nlabels = true\n\
             [model]\nsigma_1 = 0.0316\nlayers = 1\nheads = 2\nwidth = 16\npositions = \"grid\"\n\
             [training]\nsteps = 10\nbatch = 1000\nlearning_rate = 1e-3\nwarmup = 1\nweight_decay = 0.0\n\
             betas = [0.9, 0.98]\ngrad_clip = 1.0\nema_decay = 0.9\nlabel_dropout = {label_dropout}\n\
             loss = \"continuous\"\nseed = 3\ncheckpoint_every = 100\n"
        );
        let config: TrainConfig = toml::from_str(&text).unwrap();
        Trainer::new(config, load(&DataSpec::Digits).unwrap()).unwrap()
    }

    #[test]
    fn label_dropout_hides_that_share_of_the_classes() {
        let draws: Vec<Draw> = (0..1000)
            .map(|example| Draw {
                example,
                symmetry: 0,
                offset: None,
            })
            .collect();
        let kept = digits_run(0.0).batch_labels(&draws, 4);
        let truth = &digits_run(0.0).data.labels.clone().unwrap().of_example;
        assert_eq!(kept, truth[..1000], "no dropout keeps every class");
        let run = digits_run(0.2);
        let dropped = run.batch_labels(&draws, 4);
        let hidden = dropped.iter().filter(|l| l.is_none()).count();
        assert!(
            (150..250).contains(&hidden),
            "{hidden} of 1000 hidden at 0.2"
        );
        assert!(
            dropped
                .iter()
                .zip(truth)
                .all(|(d, t)| d.is_none() || d == t),
            "a kept class is the example's own"
        );
        assert_eq!(dropped, run.batch_labels(&draws, 4), "the step's draws");
        assert_ne!(
            dropped,
            run.batch_labels(&draws, 5),
            "each step draws afresh"
        );
    }
}
