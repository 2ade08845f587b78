//! Each frame's steps: k steps of every running job (k fixed, or what the GPU-time budget allows, plus the
//! single steps asked for), then its preview, into Bevy's command encoder, before the cameras draw.

use bevy::prelude::*;
use bevy::render::renderer::RenderContext;

use crate::gpu::StepTimer;
use crate::plugin::render::extract::{Extracted, ExtractedGenerators};
use crate::plugin::render::jobs::{BfnJobs, Generation};
use crate::plugin::render::read_back::{ReadBack, ThetaWatch};
use crate::plugin::reports::{News, Reports};

/// The steps a generator takes this frame, before its single steps.
fn steps_this_frame(generator: &Extracted, generation: &Generation) -> u32 {
    if generator.paused {
        0
    } else if let Some(budget) = generator.gpu_budget_ms {
        generation
            .timer
            .as_ref()
            .map_or(1, |timer| timer.steps_within(f64::from(budget)))
    } else {
        generator.steps_per_frame
    }
}

pub(crate) fn record_steps(
    mut context: RenderContext,
    mut jobs: ResMut<BfnJobs>,
    mut extracted: ResMut<ExtractedGenerators>,
    reports: Res<Reports>,
) {
    let extracted = &mut *extracted;
    for generator in &extracted.generators {
        let Some(generation) = jobs.jobs.get_mut(&generator.entity) else {
            continue;
        };
        let single = extracted
            .single_steps
            .remove(&generator.entity)
            .unwrap_or(0);
        let k = steps_this_frame(generator, generation) + single;
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
            generator.entity,
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
}
