//! The render-world half of the plugin: one [`SamplingJob`] per generator on Bevy's own render device, k steps
//! recorded into Bevy's command encoder each frame, the preview image rewritten on the GPU, and the result read
//! back once, asynchronously. Everything is created when a generator appears or changes its settings, never per
//! frame.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy::render::Extract;
use bevy::render::render_asset::RenderAssets;
use bevy::render::renderer::{RenderContext, RenderDevice, RenderQueue};
use bevy::render::texture::GpuImage;

use crate::gpu::{
    Dispatch, GpuError, GpuModel, JobSettings, PendingMap, SamplingJob, StepTimer, preview_dispatch,
};
use crate::model::{Samples, Weights};
use crate::plugin::asset::BfnModel;
use crate::plugin::generator::{BfnGenerator, BfnPreview, BfnWatch};

/// What the render world tells the main world, drained every frame by the main world.
#[derive(Debug)]
pub(crate) enum Report {
    /// Steps recorded so far, and the GPU time per step if measured.
    Progress {
        entity: Entity,
        steps_done: u32,
        gpu_ms_per_step: Option<f32>,
    },
    /// The samples arrived.
    Finished { entity: Entity, samples: Samples },
    /// θ at a step, for a watched generator.
    Theta {
        entity: Entity,
        step: u32,
        theta: Vec<f32>,
    },
    /// The generator cannot run.
    Failed { entity: Entity, message: String },
}

/// The channel between the worlds (a resource in both).
#[derive(Resource, Clone, Default)]
pub(crate) struct Reports(pub Arc<Mutex<Vec<Report>>>);

impl Reports {
    fn send(&self, report: Report) {
        if let Ok(mut reports) = self.0.lock() {
            reports.push(report);
        }
    }
}

/// A generator as extracted this frame.
struct Extracted {
    entity: Entity,
    model: AssetId<BfnModel>,
    weights: Arc<Weights>,
    settings: JobSettings,
    steps_per_frame: u32,
    gpu_budget_ms: Option<f32>,
    paused: bool,
    restarts: u32,
    single_steps: u32,
    preview: AssetId<Image>,
    watched: bool,
}

#[derive(Resource, Default)]
pub(crate) struct ExtractedGenerators(Vec<Extracted>);

/// What is extracted of each generator.
type GeneratorParts<'a> = (Entity, &'a BfnGenerator, &'a BfnPreview, Has<BfnWatch>);

pub(crate) fn extract_generators(
    mut extracted: ResMut<ExtractedGenerators>,
    generators: Extract<Query<GeneratorParts>>,
    models: Extract<Res<Assets<BfnModel>>>,
) {
    extracted.0.clear();
    for (entity, generator, preview, watched) in &generators {
        let Some(model) = models.get(&generator.model) else {
            continue;
        };
        extracted.0.push(Extracted {
            entity,
            model: generator.model.id(),
            weights: Arc::clone(&model.weights),
            settings: JobSettings {
                batch: generator.batch,
                steps: generator.steps_for(model.weights.config()),
                seed: generator.seed,
                accuracy: generator.accuracy,
            },
            steps_per_frame: generator.steps_per_frame,
            gpu_budget_ms: generator.gpu_budget_ms,
            paused: generator.paused,
            restarts: generator.restarts,
            single_steps: generator.single_steps,
            preview: preview.image.id(),
            watched,
        });
    }
}

/// Where a job's result is on its way back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadBack {
    /// Not finished yet.
    Waiting,
    /// The copy was recorded this frame; map it once it is submitted.
    Copied,
    /// Mapping.
    Requested,
    /// Delivered.
    Done,
}

/// A watched generator's θ on its way back: the read-back buffer (made the first time it is watched) and the
/// step it holds, once copied.
struct ThetaWatch {
    staging: wgpu::Buffer,
    copied: Option<u32>,
    pending: Option<PendingMap>,
}

struct Generation {
    model: Arc<GpuModel>,
    job: SamplingJob,
    /// GPU time per step (absent where the device has no timestamp queries).
    timer: Option<StepTimer>,
    watch: Option<ThetaWatch>,
    preview: Option<(AssetId<Image>, Dispatch)>,
    restarts: u32,
    single_steps: u32,
    read_back: ReadBack,
}

/// The render world's models (one upload per model asset) and jobs (one per generator).
#[derive(Resource, Default)]
pub(crate) struct BfnJobs {
    models: HashMap<AssetId<BfnModel>, (Arc<Weights>, Arc<GpuModel>)>,
    jobs: HashMap<Entity, Generation>,
    failed: HashMap<Entity, JobSettings>,
}

fn gpu_model(
    models: &mut HashMap<AssetId<BfnModel>, (Arc<Weights>, Arc<GpuModel>)>,
    device: &wgpu::Device,
    generator: &Extracted,
) -> Result<Arc<GpuModel>, GpuError> {
    if let Some((weights, model)) = models.get(&generator.model)
        && Arc::ptr_eq(weights, &generator.weights)
    {
        return Ok(Arc::clone(model));
    }
    let model = Arc::new(GpuModel::new(device, &generator.weights)?);
    models.insert(
        generator.model,
        (Arc::clone(&generator.weights), Arc::clone(&model)),
    );
    Ok(model)
}

/// Creates, restarts and drops jobs to match the generators, binds previews once their images exist, and moves
/// read-backs along.
pub(crate) fn prepare_jobs(
    mut jobs: ResMut<BfnJobs>,
    extracted: Res<ExtractedGenerators>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    images: Res<RenderAssets<GpuImage>>,
    reports: Res<Reports>,
) {
    let jobs = &mut *jobs;
    let device = device.wgpu_device();
    jobs.jobs
        .retain(|entity, _| extracted.0.iter().any(|g| g.entity == *entity));
    for generator in &extracted.0 {
        let rebuild = match jobs.jobs.get(&generator.entity) {
            None => true,
            Some(current) => {
                let settings = current.job.settings();
                settings.batch != generator.settings.batch
                    || settings.steps != generator.settings.steps
                    || settings.accuracy != generator.settings.accuracy
                    || !std::ptr::eq(
                        current.model.as_ref(),
                        jobs.models
                            .get(&generator.model)
                            .map_or(std::ptr::null(), |(_, m)| m.as_ref()),
                    )
            }
        };
        if rebuild {
            if jobs.failed.get(&generator.entity) == Some(&generator.settings) {
                continue;
            }
            let made = gpu_model(&mut jobs.models, device, generator).and_then(|model| {
                SamplingJob::new(device, &model, generator.settings).map(|job| (model, job))
            });
            match made {
                Ok((model, job)) => {
                    jobs.failed.remove(&generator.entity);
                    jobs.jobs.insert(
                        generator.entity,
                        Generation {
                            model,
                            job,
                            timer: StepTimer::new(device, &queue),
                            watch: None,
                            preview: None,
                            restarts: generator.restarts,
                            single_steps: generator.single_steps,
                            read_back: ReadBack::Waiting,
                        },
                    );
                }
                Err(error) => {
                    jobs.failed.insert(generator.entity, generator.settings);
                    jobs.jobs.remove(&generator.entity);
                    reports.send(Report::Failed {
                        entity: generator.entity,
                        message: error.to_string(),
                    });
                    continue;
                }
            }
        }
        let Some(generation) = jobs.jobs.get_mut(&generator.entity) else {
            continue;
        };
        if generation.restarts != generator.restarts
            || generation.job.settings().seed != generator.settings.seed
        {
            generation.job.restart(&queue, generator.settings.seed);
            generation.restarts = generator.restarts;
            generation.read_back = ReadBack::Waiting;
        }
        if generation.preview.as_ref().map(|(id, _)| *id) != Some(generator.preview)
            && let Some(image) = images.get(generator.preview)
        {
            match preview_dispatch(
                device,
                &generation.model,
                &generation.job,
                &image.texture_view,
            ) {
                Ok(dispatch) => generation.preview = Some((generator.preview, dispatch)),
                Err(error) => reports.send(Report::Failed {
                    entity: generator.entity,
                    message: error.to_string(),
                }),
            }
        }
        if let Some(watch) = &mut generation.watch {
            advance_watch(watch, generator.entity, &reports);
        }
        if let Some(timer) = &mut generation.timer {
            timer.poll();
        }
        match generation.read_back {
            ReadBack::Copied => {
                generation.job.request_samples();
                generation.read_back = ReadBack::Requested;
            }
            ReadBack::Requested => match generation.job.take_samples() {
                Some(Ok(samples)) => {
                    generation.read_back = ReadBack::Done;
                    reports.send(Report::Finished {
                        entity: generator.entity,
                        samples,
                    });
                }
                Some(Err(error)) => {
                    generation.read_back = ReadBack::Done;
                    reports.send(Report::Failed {
                        entity: generator.entity,
                        message: error.to_string(),
                    });
                }
                None => {}
            },
            ReadBack::Waiting | ReadBack::Done => {}
        }
    }
}

/// Records this frame's steps of every job, then its preview, into Bevy's command encoder.
pub(crate) fn record_steps(
    mut context: RenderContext,
    mut jobs: ResMut<BfnJobs>,
    extracted: Res<ExtractedGenerators>,
    reports: Res<Reports>,
) {
    for generator in &extracted.0 {
        let Some(generation) = jobs.jobs.get_mut(&generator.entity) else {
            continue;
        };
        let k = if generator.paused {
            generator
                .single_steps
                .saturating_sub(generation.single_steps)
        } else if let Some(budget) = generator.gpu_budget_ms {
            generation
                .timer
                .as_ref()
                .map_or(1, |t| t.steps_within(f64::from(budget)))
        } else {
            generator.steps_per_frame
        };
        generation.single_steps = generator.single_steps;
        if generation.job.is_finished() || k == 0 {
            continue;
        }
        let encoder = context.command_encoder();
        generation
            .job
            .record_steps_timed(encoder, k, generation.timer.as_mut());
        if let Some((_, preview)) = &generation.preview {
            preview.record(&mut encoder.begin_compute_pass(&Default::default()));
        }
        if generation.job.is_finished() {
            generation.job.record_samples_copy(encoder);
            generation.read_back = ReadBack::Copied;
        }
        if generator.watched {
            let theta = generation.job.input_params_buffer();
            let watch = generation.watch.get_or_insert_with(|| ThetaWatch {
                staging: context.render_device().wgpu_device().create_buffer(
                    &wgpu::BufferDescriptor {
                        label: Some("θ watch"),
                        size: theta.size(),
                        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    },
                ),
                copied: None,
                pending: None,
            });
            if watch.copied.is_none() {
                let encoder = context.command_encoder();
                encoder.copy_buffer_to_buffer(theta, 0, &watch.staging, 0, theta.size());
                watch.copied = Some(generation.job.steps_recorded());
            }
        }
        reports.send(Report::Progress {
            entity: generator.entity,
            steps_done: generation.job.steps_recorded(),
            gpu_ms_per_step: generation
                .timer
                .as_ref()
                .and_then(StepTimer::ms_per_step)
                .map(|ms| ms as f32),
        });
    }
}

/// Maps a copied θ once it has been submitted, and reports it once mapped; then the watch is free for the next
/// frame's copy.
fn advance_watch(watch: &mut ThetaWatch, entity: Entity, reports: &Reports) {
    let Some(step) = watch.copied else {
        return;
    };
    let Some(pending) = &watch.pending else {
        watch.pending = Some(PendingMap::request(&watch.staging, watch.staging.size()));
        return;
    };
    let Some(words) = pending.try_words(&watch.staging) else {
        return;
    };
    if let Ok(words) = words {
        reports.send(Report::Theta {
            entity,
            step,
            theta: words.into_iter().map(f32::from_bits).collect(),
        });
    }
    watch.pending = None;
    watch.copied = None;
}
