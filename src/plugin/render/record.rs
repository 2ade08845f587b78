//! Each frame's steps: every running job asks for what its own settings allow (k fixed, or what its GPU-time
//! budget fits, plus the single steps asked for), the frame is shared among them under the game-wide caps
//! ([`share`](super::share)), and the steps are recorded with each job's preview into Bevy's command encoder,
//! before the cameras draw.

use std::collections::HashMap;

use bevy::prelude::*;
use bevy::render::renderer::{RenderContext, RenderDevice};

use crate::gpu::StepTimer;
use crate::plugin::budget::BfnFrame;
use crate::plugin::render::extract::{Extracted, ExtractedGenerators};
use crate::plugin::render::jobs::BfnJobs;
use crate::plugin::render::read_back::{ReadBack, ThetaWatch};
use crate::plugin::render::share::{Claim, FrameCaps, FrameShare, Waiting};
use crate::plugin::reports::{News, Reports};

/// This frame's share, and what the sharing keeps across frames.
#[derive(Resource, Default)]
pub(crate) struct FramePlan {
    share: FrameShare,
    waiting: Waiting,
    /// GPU milliseconds per step by [`Extracted::cost_key`], from the latest job measured: a new job of a model
    /// already measured need not wait for its own timer.
    ms_per_step: HashMap<(usize, usize, bool), f64>,
}

/// The steps a generator's own settings allow this frame, single steps aside.
fn own_steps(generator: &Extracted, ms_per_step: Option<f64>) -> u32 {
    if generator.paused {
        0
    } else if let Some(budget) = generator.gpu_budget_ms {
        ms_per_step.filter(|ms| *ms > 0.0).map_or(1, |ms| {
            (f64::from(budget) / ms).floor().clamp(1.0, 1024.0) as u32
        })
    } else {
        generator.steps_per_frame
    }
}

/// Shares the frame among the running jobs, and reports the share and what the plugin holds on the GPU.
pub(crate) fn plan_steps(
    mut plan: ResMut<FramePlan>,
    jobs: Res<BfnJobs>,
    mut extracted: ResMut<ExtractedGenerators>,
    device: Res<RenderDevice>,
    reports: Res<Reports>,
) {
    let (plan, extracted) = (&mut *plan, &mut *extracted);
    plan.ms_per_step
        .retain(|key, _| extracted.generators.iter().any(|g| g.cost_key() == *key));
    let mut claims = Vec::new();
    for generator in &extracted.generators {
        let Some(generation) = jobs.jobs.get(&generator.entity) else {
            continue;
        };
        if generation.job.is_finished() {
            // A step asked of a finished run has nothing to step; it must not carry over to the next run.
            extracted.single_steps.remove(&generator.entity);
            continue;
        }
        let measured = generation.timer.as_ref().and_then(StepTimer::ms_per_step);
        if let Some(ms) = measured {
            plan.ms_per_step.insert(generator.cost_key(), ms);
        }
        let ms_per_step = measured.or_else(|| plan.ms_per_step.get(&generator.cost_key()).copied());
        let single = extracted
            .single_steps
            .get(&generator.entity)
            .copied()
            .unwrap_or(0);
        claims.push(Claim {
            entity: generator.entity,
            wants: own_steps(generator, ms_per_step).saturating_add(single),
            ms_per_step,
            priority: generator.priority,
        });
    }
    let settings = extracted.settings;
    // GPU time can be shared only where it can be measured.
    let timed = device.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let caps = FrameCaps {
        gpu_ms: settings.frame_budget_ms.filter(|_| timed).map(f64::from),
        steps: settings.max_steps_per_frame,
    };
    plan.share = plan.waiting.share(caps, &claims);
    reports.send_frame(
        BfnFrame {
            steps: plan.share.steps.clone(),
            gpu_ms: plan.share.expected_gpu_ms as f32,
            allowance: plan.share.allowance,
            budget_ms: caps.gpu_ms.map(|ms| ms as f32),
            max_steps: caps.steps,
        },
        jobs.gpu_memory(),
    );
}

/// Records the frame's share: each job's steps, then its preview.
pub(crate) fn record_steps(
    mut context: RenderContext,
    mut jobs: ResMut<BfnJobs>,
    mut extracted: ResMut<ExtractedGenerators>,
    plan: Res<FramePlan>,
    reports: Res<Reports>,
) {
    let extracted = &mut *extracted;
    for &(entity, k) in &plan.share.steps {
        let Some(generation) = jobs.jobs.get_mut(&entity) else {
            continue;
        };
        let Some(generator) = extracted.generators.iter().find(|g| g.entity == entity) else {
            continue;
        };
        // The single steps are taken first; those the share left out wait for a later frame.
        if let Some(single) = extracted.single_steps.get_mut(&entity) {
            *single = single.saturating_sub(k);
        }
        let encoder = context.command_encoder();
        generation
            .job
            .record_steps_timed(encoder, k, generation.timer.as_mut());
        if let Some((_, preview, _)) = &generation.preview {
            preview.record(&mut encoder.begin_compute_pass(&Default::default()));
        }
        if generation.job.is_finished() {
            generation.job.record_samples_copy(encoder);
            generation.read_back = ReadBack::Copied;
        }
        if generator.watched {
            let theta = generation.job.input_params_buffer();
            let watch = generation.watch.get_or_insert_with(|| {
                ThetaWatch::new(context.render_device().wgpu_device(), theta.size())
            });
            if watch.copied.is_none() {
                context.command_encoder().copy_buffer_to_buffer(
                    theta,
                    0,
                    &watch.staging,
                    0,
                    theta.size(),
                );
                watch.copied = Some(generation.job.steps_recorded());
            }
        }
        reports.send(
            entity,
            generation.epoch,
            News::Progress {
                steps_done: generation.job.steps_recorded(),
                gpu_ms_per_step: generation
                    .timer
                    .as_ref()
                    .and_then(StepTimer::ms_per_step)
                    .map(|ms| ms as f32),
            },
        );
    }
    extracted.single_steps.retain(|_, single| *single > 0);
}
