//! The render world's models and jobs: one upload per model asset (per content: a reloaded file is a new upload),
//! one [`SamplingJob`] per generator, kept in step with the generators' runs.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::prelude::*;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::PipelineCache;
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::texture::GpuImage;

use crate::gpu::memory::counted;
use crate::gpu::{
    Dispatch, GpuError, GpuMemory, GpuModel, JobSettings, SamplingJob, StepTimer, preview_dispatch,
    preview_size,
};
use crate::model::Weights;
use crate::plugin::asset::BfnModel;
use crate::plugin::budget::BfnGpuMemory;
use crate::plugin::render::extract::{Extracted, ExtractedGenerators};
use crate::plugin::render::pipelines::{BfnPipelines, NotReady};
use crate::plugin::render::read_back::{ReadBack, ThetaWatch};
use crate::plugin::reports::{News, Reports};

/// One generator's job and what goes with it.
pub(crate) struct Generation {
    /// The run the job is on.
    pub epoch: u32,
    /// The weights the job's model was uploaded from.
    weights: Arc<Weights>,
    model: Arc<GpuModel>,
    pub job: SamplingJob,
    /// Whether the job runs the network twice a step (classifier-free guidance).
    guided: bool,
    /// GPU time per step (absent where the device has no timestamp queries).
    pub timer: Option<StepTimer>,
    pub watch: Option<ThetaWatch>,
    /// The preview's dispatch, bound to this image, and the buffers it made.
    pub preview: Option<(AssetId<Image>, Dispatch, GpuMemory)>,
    pub read_back: ReadBack,
}

impl Generation {
    /// What it holds on the GPU, its model aside.
    fn gpu_memory(&self) -> GpuMemory {
        self.job.gpu_memory()
            + self
                .timer
                .as_ref()
                .map(StepTimer::gpu_memory)
                .unwrap_or_default()
            + self
                .watch
                .as_ref()
                .map(ThetaWatch::gpu_memory)
                .unwrap_or_default()
            + self
                .preview
                .as_ref()
                .map(|(_, _, memory)| *memory)
                .unwrap_or_default()
    }
}

/// A model asset on a canvas of (height, width) cells.
type ModelKey = (AssetId<BfnModel>, (usize, usize));

/// The render world's models and jobs.
#[derive(Resource, Default)]
pub(crate) struct BfnJobs {
    /// Per model asset and canvas (height, width): the weights uploaded and their upload.
    models: HashMap<ModelKey, (Arc<Weights>, Arc<GpuModel>)>,
    pub jobs: HashMap<Entity, Generation>,
    /// Generators whose run needs no job, with that run: it failed, or its result was delivered and its job
    /// freed. The next run makes one again.
    settled: HashMap<Entity, u32>,
}

impl BfnJobs {
    /// The generator's run cannot go on: its job goes, the run is settled (the next run tries again), and the
    /// error is reported on the generator.
    pub fn fail(
        &mut self,
        generator: &Extracted,
        error: impl std::fmt::Display,
        reports: &Reports,
    ) {
        self.settle(generator.entity, generator.epoch);
        reports.send(
            generator.entity,
            generator.epoch,
            News::Failed(error.to_string()),
        );
    }

    /// The generator's run `epoch` needs its job no more: the job and its buffers go now, not when the generator
    /// next starts or is despawned (a game may keep a finished generator for ever).
    pub fn settle(&mut self, entity: Entity, epoch: u32) {
        self.jobs.remove(&entity);
        self.settled.insert(entity, epoch);
    }

    /// What the plugin holds on the GPU.
    pub fn gpu_memory(&self) -> BfnGpuMemory {
        BfnGpuMemory {
            total: self
                .jobs
                .values()
                .map(Generation::gpu_memory)
                .sum::<GpuMemory>()
                + self
                    .models
                    .values()
                    .map(|(_, model)| model.gpu_memory())
                    .sum(),
            jobs: self.jobs.len(),
            models: self.models.len(),
        }
    }
}

/// Whether a job made with `current` can serve `wanted` by restarting: only the seed differs, and guidance
/// neither turns the second pass on nor off.
fn same_shape(generation: &Generation, wanted: &Extracted) -> bool {
    let current = generation.job.settings();
    JobSettings {
        seed: wanted.settings.seed,
        ..current
    } == wanted.settings
        && generation.guided == wanted.guidance.is_guided()
}

/// Drops the jobs of generators that are gone or whose model or job shape changed, restarts in place the jobs
/// of generators on a new run with the same shape (writing the run's constraints and guidance), and frees the models no
/// generator uses.
pub(crate) fn sync_jobs(
    mut jobs: ResMut<BfnJobs>,
    extracted: Res<ExtractedGenerators>,
    queue: Res<RenderQueue>,
    reports: Res<Reports>,
) {
    let jobs = &mut *jobs;
    let current = |entity: Entity| extracted.generators.iter().find(|g| g.entity == entity);
    jobs.jobs.retain(|entity, generation| {
        current(*entity).is_some_and(|generator| {
            Arc::ptr_eq(&generation.weights, &generator.weights)
                && same_shape(generation, generator)
        })
    });
    for generator in &extracted.generators {
        if let Some(generation) = jobs.jobs.get_mut(&generator.entity)
            && generation.epoch != generator.epoch
        {
            generation.job.restart(&queue, generator.settings.seed);
            generation.epoch = generator.epoch;
            generation.read_back = ReadBack::Waiting;
            let written = generation
                .job
                .write_constraints(&queue, &generator.constraints)
                .and_then(|()| {
                    generation
                        .job
                        .write_guidance(&queue, &generation.model, &generator.guidance)
                });
            if let Err(error) = written {
                jobs.fail(generator, error, &reports);
            }
        }
    }
    jobs.settled
        .retain(|entity, epoch| current(*entity).is_some_and(|g| g.epoch == *epoch));
    jobs.models.retain(|(model, _), (weights, _)| {
        extracted
            .generators
            .iter()
            .any(|g| g.model == *model && Arc::ptr_eq(&g.weights, weights))
    });
}

/// Makes the missing jobs whose pipelines are ready; a job that cannot be made is reported on its generator,
/// once per run.
pub(crate) fn build_jobs(
    mut jobs: ResMut<BfnJobs>,
    mut pipelines: ResMut<BfnPipelines>,
    mut cache: ResMut<PipelineCache>,
    extracted: Res<ExtractedGenerators>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    reports: Res<Reports>,
) {
    let jobs = &mut *jobs;
    for generator in &extracted.generators {
        if jobs.jobs.contains_key(&generator.entity) || jobs.settled.contains_key(&generator.entity)
        {
            continue;
        }
        let kernels = (&mut *pipelines, &mut *cache);
        match build_job(jobs, kernels, &device, &queue, generator) {
            Ok(Some(generation)) => {
                jobs.jobs.insert(generator.entity, generation);
            }
            Ok(None) => {}
            Err(error) => jobs.fail(generator, error, &reports),
        }
    }
}

/// The generator's job, or `None` while its model's pipelines are compiling.
fn build_job(
    jobs: &mut BfnJobs,
    (pipelines, cache): (&mut BfnPipelines, &mut PipelineCache),
    device: &RenderDevice,
    queue: &RenderQueue,
    generator: &Extracted,
) -> Result<Option<Generation>, GpuError> {
    let device = device.wgpu_device();
    // The preview's texture is made in the main world, which skips one too large; the error is reported here.
    preview_size(
        &device.limits(),
        generator.weights.config(),
        generator.settings.batch,
    )?;
    let layout = generator.weights.config().layout;
    let key = (generator.model, (layout.height, layout.width));
    let model = match jobs.models.get(&key) {
        Some((weights, model)) if Arc::ptr_eq(weights, &generator.weights) => Arc::clone(model),
        _ => {
            let kind = generator.weights.config().validate()?;
            let network = &generator.weights.config().network;
            let kernels = match pipelines.kernels(cache, &kind, network) {
                Ok(kernels) => kernels,
                Err(NotReady::Compiling) => return Ok(None),
                Err(NotReady::Failed(error)) => return Err(error),
            };
            let model = Arc::new(GpuModel::from_kernels(device, &generator.weights, kernels)?);
            jobs.models
                .insert(key, (Arc::clone(&generator.weights), Arc::clone(&model)));
            model
        }
    };
    let job = SamplingJob::guided(device, &model, generator.settings, &generator.guidance)?;
    job.write_constraints(queue, &generator.constraints)?;
    Ok(Some(Generation {
        epoch: generator.epoch,
        weights: Arc::clone(&generator.weights),
        model,
        guided: generator.guidance.is_guided(),
        job,
        timer: StepTimer::new(device, queue),
        watch: None,
        preview: None,
        read_back: ReadBack::Waiting,
    }))
}

/// Binds each job's preview to its generator's image once the image is on the GPU (again when the image is
/// replaced, as it is when the batch changes). A preview that cannot be bound fails the run like a job that
/// cannot be made.
pub(crate) fn bind_previews(
    mut jobs: ResMut<BfnJobs>,
    extracted: Res<ExtractedGenerators>,
    device: Res<RenderDevice>,
    images: Res<RenderAssets<GpuImage>>,
    reports: Res<Reports>,
) {
    let jobs = &mut *jobs;
    for generator in &extracted.generators {
        let Some(generation) = jobs.jobs.get_mut(&generator.entity) else {
            continue;
        };
        if generation.preview.as_ref().map(|(id, _, _)| *id) == Some(generator.preview) {
            continue;
        }
        let Some(image) = images.get(generator.preview) else {
            continue;
        };
        let (dispatch, memory) = counted(|| {
            preview_dispatch(
                device.wgpu_device(),
                &generation.model,
                &generation.job,
                &image.texture_view,
            )
        });
        match dispatch {
            Ok(dispatch) => generation.preview = Some((generator.preview, dispatch, memory)),
            Err(error) => jobs.fail(generator, error, &reports),
        }
    }
}
