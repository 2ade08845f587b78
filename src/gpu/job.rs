//! A sampling job: one generator's state on the GPU (θ, the step counter, the network's activations), allocated
//! once, advanced by recording steps into the caller's command encoder.

use crate::error::BfnError;
use crate::flow::accuracy_schedule::check_steps;
use crate::flow::{Constraints, CounterRng, RuntimeDatum, SamplingMethod, Shape};
use crate::gpu::constraints::{constraint_words, encode_constraints};
use crate::gpu::device::checked;
use crate::gpu::error::GpuError;
use crate::gpu::guidance::{label_words, mix_words};
use crate::gpu::kernel::{Dispatch, check_groups, grid, storage, storage_with};
use crate::gpu::memory::{self, GpuMemory, counted};
use crate::gpu::model::{GpuModel, check_binding};
use crate::gpu::network::{NetworkInputs, NetworkPass};
use crate::gpu::read_back::PendingMap;
use crate::gpu::step_table::{ENTRY_WORDS, flow_space, step_table};
use crate::gpu::step_timer::StepTimer;
use crate::model::{Guidance, Kind, Samples};

/// Invocations per workgroup of the BFN step kernels.
const STEP_WORKGROUP: u32 = 64;

/// What to sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JobSettings {
    /// Examples sampled together.
    pub batch: usize,
    /// n, the number of BFN steps (what it counts depends on the sampler: [`SamplingMethod`]).
    pub steps: u32,
    /// The seed: the same seed gives the same samples as the CPU sampler's (up to rounding).
    pub seed: u64,
    /// σ₁ or β₁ to sample with instead of the model's own (see [`crate::model::KindConfig::with_accuracy`]).
    pub accuracy: Option<f64>,
    /// The sampler: the paper's, a few-step solver or a flow redraw, each the CPU sampler's twin.
    pub sampler: SamplingMethod,
}

impl Default for JobSettings {
    /// One example, 50 steps, seed 0, the model's own accuracy, the standard sampler.
    fn default() -> Self {
        Self {
            batch: 1,
            steps: 50,
            seed: 0,
            accuracy: None,
            sampler: SamplingMethod::Standard,
        }
    }
}

/// One sampling run of a [`GpuModel`].
///
/// Record steps with [`record_steps`](Self::record_steps) into any command encoder and submit it; the job keeps
/// its own step counter on the GPU, so every step recorded must be submitted, in order.
#[derive(Debug)]
pub struct SamplingJob {
    kind: Kind,
    settings: JobSettings,
    variables: usize,
    input_width: usize,
    theta: wgpu::Buffer,
    /// The few-step samplers' state u and previous x̂ (one word each for the standard sampler, which has none).
    state: wgpu::Buffer,
    previous: wgpu::Buffer,
    /// What the run must keep ([`write_constraints`](Self::write_constraints)); all zeros for nothing.
    constraints: wgpu::Buffer,
    preview: wgpu::Buffer,
    result: wgpu::Buffer,
    table: wgpu::Buffer,
    progress: wgpu::Buffer,
    job: wgpu::Buffer,
    /// The class of every example the network runs on ([`write_guidance`](Self::write_guidance)).
    labels: wgpu::Buffer,
    /// For a guided job, the mix's uniform.
    mix: Option<wgpu::Buffer>,
    network: NetworkPass,
    step: Dispatch,
    advance: Dispatch,
    finish: Dispatch,
    staging: wgpu::Buffer,
    /// An asynchronous read-back of the samples under way.
    pending: Option<PendingMap>,
    /// Updates recorded so far, and in the whole run ([`SamplingMethod::updates`]: n, or n − 1 for the solvers).
    recorded: u32,
    updates: u32,
    finish_recorded: bool,
    /// What its buffers take.
    memory: GpuMemory,
}

impl SamplingJob {
    /// Allocates the job's buffers and binds its dispatches; fails with [`GpuError::TooLarge`] when a buffer
    /// would exceed the device's limits and with [`GpuError::Settings`] for a batch of 0, n out of range or a
    /// sampler's setting out of range ([`SamplingMethod::check`]). A conditional model samples with no class.
    pub fn new(
        device: &wgpu::Device,
        model: &GpuModel,
        settings: JobSettings,
    ) -> Result<Self, GpuError> {
        Self::guided(device, model, settings, &Guidance::default())
    }

    /// As [`new`](Self::new), asking a conditional model for classes with classifier-free guidance
    /// ([`Guidance`]). With w > 0 and a class asked for, the network runs on the batch twice a step, with the
    /// classes and without, in one pass of twice the rows; otherwise once. Fails as [`Guidance::per_example`]
    /// says for classes the model does not have or a weight out of range.
    pub fn guided(
        device: &wgpu::Device,
        model: &GpuModel,
        settings: JobSettings,
        guidance: &Guidance,
    ) -> Result<Self, GpuError> {
        check_steps(settings.steps)?;
        settings.sampler.check()?;
        if settings.batch == 0 {
            return Err(BfnError::Config("the batch must hold at least one example".into()).into());
        }
        let kind = match settings.accuracy {
            None => model.kind(),
            Some(accuracy) => model.config().kind.with_accuracy(accuracy).build()?,
        };
        let (input_width, _) = kind.input_width_and_prior();
        // A batch from a game's settings: its product with the example's size must not wrap.
        let variables = settings
            .batch
            .checked_mul(model.config().layout.variables())
            .ok_or_else(|| {
                BfnError::Config(format!(
                    "a batch of {} examples of {} variables overflows",
                    settings.batch,
                    model.config().layout.variables()
                ))
            })?;
        check_binding(device, "θ", (variables * input_width * 4) as u64)?;
        let updates = settings.sampler.updates(settings.steps);
        check_binding(
            device,
            "the step table",
            (u64::from(updates) + 1) * ENTRY_WORDS as u64 * 4,
        )?;
        let groups = grid(variables, STEP_WORKGROUP);
        check_groups(device, "the BFN step over the job's variables", groups)?;
        let table = step_table(&kind, settings.sampler, settings.steps)?;
        let times: Vec<f32> = table
            .chunks_exact(ENTRY_WORDS)
            .map(|entry| f32::from_bits(entry[0]))
            .collect();
        let labels = guidance.per_example(model.classes(), settings.batch)?;
        let guided = guidance.is_guided();
        let no_class = model.classes() as u32;
        let per_example = model.config().layout.tokens()
            * model
                .config()
                .kind
                .output_per_token(model.config().layout.channels);
        let (job, memory) = counted(|| {
            checked(device, "the sampling job", || {
                let start = Start::new(&kind, settings, variables);
                let theta = storage_with(device, "θ", &start.theta);
                let state = storage_with(device, "flow state", &start.state);
                let previous = storage(device, "previous x̂", start.state.len());
                let constraints =
                    storage(device, "constraints", constraint_words(&kind, variables));
                let preview = storage_with(device, "preview", &start.prior);
                let result = storage(device, "result", variables);
                let table = storage_with(device, "step table", &table);
                let progress = storage_with(device, "progress", &[0u32]);
                let job = memory::buffer(
                    device,
                    &wgpu::BufferDescriptor {
                        label: Some("job"),
                        size: 16,
                        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: true,
                    },
                );
                job.slice(..)
                    .get_mapped_range_mut()
                    .copy_from_slice(bytemuck::cast_slice(&job_words(
                        settings, variables, updates,
                    )));
                job.unmap();
                let label_buffer =
                    storage_with(device, "labels", &label_words(&labels, no_class, guided));
                let mix = guided.then(|| {
                    memory::buffer_init(
                        device,
                        &wgpu::util::BufferInitDescriptor {
                            label: Some("guidance mix"),
                            contents: bytemuck::cast_slice(&mix_words(
                                settings.batch * per_example,
                                per_example,
                                no_class,
                                guidance.weight,
                            )),
                            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                        },
                    )
                });
                let network = NetworkPass::new(
                    device,
                    model,
                    NetworkInputs {
                        theta: &theta,
                        table: &table,
                        progress: &progress,
                        labels: &label_buffer,
                        mix: mix.as_ref(),
                        times: &times,
                        constraints: &constraints,
                    },
                    settings.batch,
                )?;
                let kernels = &model.kernels.bfn_step;
                let buffers = [
                    &theta,
                    &network.output,
                    &preview,
                    &result,
                    &table,
                    &progress,
                    &job,
                    &state,
                    &previous,
                    &constraints,
                ];
                let step = match settings.sampler {
                    SamplingMethod::Standard => &kernels.step,
                    _ => &kernels.flow_step,
                }
                .bind(device, &buffers, groups);
                let finish = kernels.finish.bind(device, &buffers, groups);
                let advance = kernels.advance.bind(device, &buffers, [1, 1, 1]);
                let largest = (variables * input_width)
                    .max(network.output.size() as usize / 4)
                    .max(variables);
                let staging = memory::buffer(
                    device,
                    &wgpu::BufferDescriptor {
                        label: Some("read-back"),
                        size: (largest * 4) as u64,
                        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    },
                );
                Ok(Self {
                    kind,
                    settings,
                    variables,
                    input_width,
                    theta,
                    state,
                    previous,
                    constraints,
                    preview,
                    result,
                    table,
                    progress,
                    job,
                    labels: label_buffer,
                    mix,
                    network,
                    step,
                    advance,
                    finish,
                    staging,
                    pending: None,
                    recorded: 0,
                    updates,
                    finish_recorded: false,
                    memory: GpuMemory::default(),
                })
            })
        });
        job.map(|job| Self { memory, ..job })
    }

    /// The buffers it holds on the GPU and their bytes: its state, the network's activations and the uniforms
    /// of its dispatches.
    pub fn gpu_memory(&self) -> GpuMemory {
        self.memory
    }

    /// The settings.
    pub fn settings(&self) -> JobSettings {
        self.settings
    }

    /// Bytes of GPU memory the job holds (its state, the network's activations, the read-back buffer), beside
    /// the model's weights ([`GpuModel::memory_bytes`]).
    pub fn memory_bytes(&self) -> u64 {
        [
            &self.theta,
            &self.state,
            &self.previous,
            &self.constraints,
            &self.preview,
            &self.result,
            &self.table,
            &self.progress,
            &self.job,
            &self.labels,
            &self.staging,
        ]
        .iter()
        .map(|b| b.size())
        .sum::<u64>()
            + self.network.bytes
    }

    /// Steps recorded so far: updates of θ, of which a run has n, or n − 1 for the solvers
    /// ([`SamplingMethod::updates`]).
    pub fn steps_recorded(&self) -> u32 {
        self.recorded
    }

    /// Updates in the whole run: n, or n − 1 for the solvers, whose n counts network calls.
    pub fn steps_in_run(&self) -> u32 {
        self.updates
    }

    /// Whether all updates and the final ask have been recorded.
    pub fn is_finished(&self) -> bool {
        self.finish_recorded
    }

    /// Records the next `k` steps (fewer if fewer are left) into `encoder`; once the last is recorded, the final
    /// ask follows (at t = 1, or for the solvers at t_{n−1}), which writes the samples. Returns the number of
    /// steps recorded.
    pub fn record_steps(&mut self, encoder: &mut wgpu::CommandEncoder, k: u32) -> u32 {
        self.record_steps_timed(encoder, k, None)
    }

    /// [`record_steps`](Self::record_steps), with the steps timed on the GPU by `timer` when it is free.
    pub fn record_steps_timed(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        k: u32,
        mut timer: Option<&mut StepTimer>,
    ) -> u32 {
        let todo = k.min(self.updates - self.recorded);
        if todo == 0 && self.finish_recorded {
            return 0;
        }
        let timed = timer
            .as_deref_mut()
            .and_then(|t| t.pass_writes(todo))
            .is_some();
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("bfn steps"),
            timestamp_writes: if timed {
                timer.as_deref().map(StepTimer::writes)
            } else {
                None
            },
        });
        for _ in 0..todo {
            self.network.record(&mut pass);
            self.step.record(&mut pass);
            self.advance.record(&mut pass);
        }
        self.recorded += todo;
        if self.recorded == self.updates {
            self.network.record(&mut pass);
            self.finish.record(&mut pass);
            self.finish_recorded = true;
        }
        drop(pass);
        if timed && let Some(timer) = timer {
            timer.finish_pass(encoder);
        }
        todo
    }

    /// Records only the network's forward pass at the current step (for inspection with
    /// [`read_output_params`](Self::read_output_params); sampling does not need it).
    pub fn record_network(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("bfn network"),
            timestamp_writes: None,
        });
        self.network.record(&mut pass);
    }

    /// Starts again with `seed` (from the prior, or the solvers' start at η): the writes go through `queue` and
    /// take effect at its next
    /// submission, before any command recorded after this call. A read-back of the samples still under way is
    /// abandoned (its buffer unmapped), so that the next finish can copy into it again.
    pub fn restart(&mut self, queue: &wgpu::Queue, seed: u64) {
        if self.pending.take().is_some() {
            self.staging.unmap();
        }
        self.settings.seed = seed;
        let start = Start::new(&self.kind, self.settings, self.variables);
        queue.write_buffer(&self.theta, 0, bytemuck::cast_slice(&start.theta));
        queue.write_buffer(&self.state, 0, bytemuck::cast_slice(&start.state));
        queue.write_buffer(&self.preview, 0, bytemuck::cast_slice(&start.prior));
        queue.write_buffer(&self.progress, 0, bytemuck::cast_slice(&[0u32]));
        queue.write_buffer(
            &self.job,
            0,
            bytemuck::cast_slice(&job_words(self.settings, self.variables, self.updates)),
        );
        self.recorded = 0;
        self.finish_recorded = false;
    }

    /// Replaces θ (variables × input width values, the CPU's [`crate::flow::InputParams`] layout), for starting
    /// from given beliefs. The standard sampler and the redraw read θ alone; the solvers move their own state u,
    /// which this leaves as it is, so that their next step overwrites θ.
    pub fn write_input_params(&self, queue: &wgpu::Queue, values: &[f32]) -> Result<(), GpuError> {
        crate::error::check_len("θ", values.len(), self.variables * self.input_width)?;
        queue.write_buffer(&self.theta, 0, bytemuck::cast_slice(values));
        Ok(())
    }

    /// Replaces the constraints the job keeps from its next step on: known classes (discrete data) or values (the
    /// others) with their strength, and allowed classes (discrete data), for the job's batch
    /// ([`Constraints`]); the empty [`Constraints::default`] lifts them all. The write goes through `queue`,
    /// like [`restart`](Self::restart)'s, which keeps them. Fails as
    /// [`Sampler::start_constrained`](crate::flow::Sampler::start_constrained) does for constraints that do not
    /// fit the kind or the batch, and with [`GpuError::Settings`] for known values of the other type than the
    /// kind's data.
    pub fn write_constraints<D: RuntimeDatum>(
        &self,
        queue: &wgpu::Queue,
        constraints: &Constraints<D>,
    ) -> Result<(), GpuError> {
        let shape = Shape::new(self.settings.batch, self.variables / self.settings.batch)?;
        let words = encode_constraints(&self.kind, shape, constraints)?;
        queue.write_buffer(&self.constraints, 0, bytemuck::cast_slice(&words));
        Ok(())
    }

    /// Rewrites the classes and the guidance weight for the runs that follow, as
    /// [`write_constraints`](Self::write_constraints) does the constraints. Fails as [`Guidance::per_example`]
    /// says, and with [`GpuError::Settings`] where the guidance would turn the second pass on or off: that
    /// changes the job's shape, so it needs a new job ([`guided`](Self::guided)).
    pub fn write_guidance(
        &self,
        queue: &wgpu::Queue,
        model: &GpuModel,
        guidance: &Guidance,
    ) -> Result<(), GpuError> {
        let labels = guidance.per_example(model.classes(), self.settings.batch)?;
        if guidance.is_guided() != self.mix.is_some() {
            return Err(BfnError::Config(
                "guidance that turns the unconditional pass on or off needs a new job".into(),
            )
            .into());
        }
        let no_class = model.classes() as u32;
        let words = label_words(&labels, no_class, self.mix.is_some());
        queue.write_buffer(&self.labels, 0, bytemuck::cast_slice(&words));
        if let Some(mix) = &self.mix {
            let weight = (guidance.weight as f32).to_bits();
            queue.write_buffer(mix, 12, bytemuck::cast_slice(&[weight]));
        }
        Ok(())
    }

    /// The buffer of θ.
    pub fn input_params_buffer(&self) -> &wgpu::Buffer {
        &self.theta
    }

    /// The preview: per variable, p_O's probabilities (discrete, one per class) or its centre (one value),
    /// as of the last step recorded.
    pub fn preview_buffer(&self) -> &wgpu::Buffer {
        &self.preview
    }

    /// θ now, read back (waits for the queue).
    pub fn read_input_params(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<Vec<f32>, GpuError> {
        self.read_floats(device, queue, &self.theta)
    }

    /// The network's latest output parameters, read back (waits for the queue).
    pub fn read_output_params(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<Vec<f32>, GpuError> {
        self.read_floats(device, queue, &self.network.output)
    }

    /// The preview, read back (waits for the queue).
    pub fn read_preview(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<Vec<f32>, GpuError> {
        self.read_floats(device, queue, &self.preview)
    }

    /// The samples, read back once the job is finished (waits for the queue): class indices for discrete data,
    /// values for the others.
    pub fn read_samples(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<Samples, GpuError> {
        if !self.finish_recorded {
            return Err(BfnError::StepOutOfRange {
                i: self.recorded.into(),
                n: self.updates.into(),
            }
            .into());
        }
        let words = read_words(device, queue, &self.result, &self.staging)?;
        Ok(self.samples_of(words))
    }

    /// The asynchronous read-back for a frame loop, in three calls: record the copy of the samples after the
    /// step that finished the job, submit, [`request_samples`](Self::request_samples), then call
    /// [`take_samples`](Self::take_samples) once a frame until it answers (the engine polls the device).
    pub fn record_samples_copy(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.copy_buffer_to_buffer(&self.result, 0, &self.staging, 0, self.result.size());
    }

    /// Asks the device to map the copied samples; see [`record_samples_copy`](Self::record_samples_copy).
    pub fn request_samples(&mut self) {
        self.pending = Some(PendingMap::request(&self.staging, self.result.size()));
    }

    /// The samples once the read-back requested by [`request_samples`](Self::request_samples) has arrived.
    pub fn take_samples(&mut self) -> Option<Result<Samples, GpuError>> {
        let words = self.pending.as_ref()?.try_words(&self.staging)?;
        self.pending = None;
        Some(words.map(|words| self.samples_of(words)))
    }

    fn samples_of(&self, words: Vec<u32>) -> Samples {
        match self.kind {
            Kind::Discrete(_) => Samples::Classes(words),
            _ => Samples::Values(words.into_iter().map(f32::from_bits).collect()),
        }
    }

    /// The result buffer: class indices, or the f32 bits of values.
    pub fn result_buffer(&self) -> &wgpu::Buffer {
        &self.result
    }

    /// The progress buffer (one u32: the table entry the job is at).
    pub fn progress_buffer(&self) -> &wgpu::Buffer {
        &self.progress
    }

    fn read_floats(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        buffer: &wgpu::Buffer,
    ) -> Result<Vec<f32>, GpuError> {
        Ok(read_words(device, queue, buffer, &self.staging)?
            .into_iter()
            .map(f32::from_bits)
            .collect())
    }
}

/// Where a run starts: θ and the flow state u (the solvers' draw at η, computed by the CPU sampler's own
/// [`FlowSpace::start`](crate::flow::FlowSpace::start); zeros for the redraw, whose first step forgets u; one
/// word for the standard sampler), and the prior, which the preview shows until the first step.
struct Start {
    theta: Vec<f32>,
    state: Vec<f32>,
    prior: Vec<f32>,
}

impl Start {
    fn new(kind: &Kind, settings: JobSettings, variables: usize) -> Self {
        let (width, (value, _)) = kind.input_width_and_prior();
        let prior = vec![value; variables * width];
        let mut theta = prior.clone();
        let mut state = match settings.sampler {
            SamplingMethod::Standard => vec![0.0],
            _ => vec![0.0; variables * width],
        };
        if let Some(eta) = settings.sampler.eta() {
            flow_space(kind).start(eta, CounterRng::new(settings.seed), &mut state, &mut theta);
        }
        Self {
            theta,
            state,
            prior,
        }
    }
}

fn job_words(settings: JobSettings, variables: usize, updates: u32) -> [u32; 4] {
    [
        settings.seed as u32,
        (settings.seed >> 32) as u32,
        variables as u32,
        updates,
    ]
}

/// Copies `buffer` to `staging`, maps it and returns its words: one read-back, waited for.
fn read_words(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    staging: &wgpu::Buffer,
) -> Result<Vec<u32>, GpuError> {
    let size = buffer.size();
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("read-back"),
    });
    encoder.copy_buffer_to_buffer(buffer, 0, staging, 0, size);
    queue.submit([encoder.finish()]);
    let pending = PendingMap::request(staging, size);
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::DeviceLost(e.to_string()))?;
    pending.try_words(staging).unwrap_or_else(|| {
        Err(GpuError::DeviceLost(
            "the device finished without answering the read-back".into(),
        ))
    })
}
