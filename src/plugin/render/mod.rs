//! The render-world half of the plugin: one [`SamplingJob`](crate::gpu::SamplingJob) per generator on Bevy's
//! own render device, k steps recorded into Bevy's command encoder each frame, the preview image rewritten on the
//! GPU, and the result read back once, asynchronously. Jobs are made when a generator appears or starts a new
//! run with other settings, never per frame, and only once Bevy's pipeline cache has compiled the kernels its
//! model needs (compiled once for every model that needs them), so that loading a model does not stall a frame.
//!
//! A job is freed as soon as its result is delivered, and every frame the plugin reports what it holds on the
//! GPU ([`BfnGpuMemory`](crate::plugin::BfnGpuMemory)).
//!
//! The systems run in [`BfnRenderSystems`], inside Bevy's [`RenderSystems::PrepareResources`], and the steps are
//! recorded in Bevy's [`RenderGraph`] schedule before the cameras draw, so that a preview written this frame is
//! the one the sprites show.

mod extract;
mod jobs;
mod pipelines;
mod read_back;
mod record;
mod share;

use bevy::core_pipeline::schedule::camera_driver;
use bevy::prelude::*;
use bevy::render::renderer::{RenderGraph, RenderGraphSystems};
use bevy::render::{ExtractSchedule, Render, RenderApp, RenderSystems};

use crate::plugin::reports::Reports;

/// The plugin's render-world systems, in Bevy's [`Render`] schedule, for ordering a game's own render systems
/// against them.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BfnRenderSystems {
    /// Drops the jobs of generators that are gone or have started a new run, restarts in place those whose run
    /// keeps its settings, and frees models no generator uses.
    SyncJobs,
    /// Queues the pipelines of the models in use, and makes the jobs that are missing once their pipelines are
    /// ready (and reports those that cannot be made).
    BuildJobs,
    /// Binds each job's preview to its generator's image once the image is on the GPU.
    BindPreviews,
    /// Moves the read-backs along: samples, θ for watched generators, step timings.
    PollReadBacks,
    /// Shares the frame's steps among the running jobs under [`BfnSettings`](crate::plugin::BfnSettings).
    PlanFrame,
}

/// Adds the render-world resources and systems to `app`'s render sub-app. Returns `false` where there is none.
pub(crate) fn build(app: &mut App, reports: Reports) -> bool {
    let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
        return false;
    };
    render_app
        .insert_resource(reports)
        .init_resource::<extract::ExtractedGenerators>()
        .init_resource::<jobs::BfnJobs>()
        .init_resource::<pipelines::BfnPipelines>()
        .init_resource::<record::FramePlan>()
        .configure_sets(
            Render,
            (
                BfnRenderSystems::SyncJobs,
                BfnRenderSystems::BuildJobs,
                BfnRenderSystems::BindPreviews,
                BfnRenderSystems::PollReadBacks,
                BfnRenderSystems::PlanFrame,
            )
                .chain()
                .in_set(RenderSystems::PrepareResources),
        )
        .add_systems(ExtractSchedule, extract::extract_generators)
        .add_systems(
            Render,
            (
                jobs::sync_jobs.in_set(BfnRenderSystems::SyncJobs),
                jobs::build_jobs.in_set(BfnRenderSystems::BuildJobs),
                jobs::bind_previews.in_set(BfnRenderSystems::BindPreviews),
                read_back::poll_read_backs.in_set(BfnRenderSystems::PollReadBacks),
                record::plan_steps.in_set(BfnRenderSystems::PlanFrame),
            ),
        )
        .add_systems(
            RenderGraph,
            record::record_steps
                .in_set(RenderGraphSystems::Render)
                .before(camera_driver),
        );
    true
}
