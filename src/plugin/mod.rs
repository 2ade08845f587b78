//! The Bevy plugin (feature `bevy`): BFN generators that run a few steps each frame on Bevy's own GPU device.
//!
//! Add [`BfnPlugin`], load a model as an asset and spawn a [`BfnGenerator`]; its [`BfnPreview`] image shows the
//! flow as it happens, its [`BfnProgress`] says how far it is, and a [`BfnFinished`] message brings the result
//! in typed form ([`BfnOutput`]: tile grids, strings, images or height fields).
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_bfn::plugin::{BfnFinished, BfnGenerator, BfnOutput, BfnPlugin};
//!
//! fn main() {
//!     App::new()
//!         .add_plugins((DefaultPlugins, BfnPlugin))
//!         .add_systems(Startup, |mut commands: Commands, assets: Res<AssetServer>| {
//!             let model = assets.load("models/dungeon.safetensors");
//!             commands.spawn(BfnGenerator::new(model).with_steps(50).with_steps_per_frame(4));
//!         })
//!         .add_systems(Update, |mut finished: MessageReader<BfnFinished>| {
//!             for message in finished.read() {
//!                 if let BfnOutput::Tiles(maps) = &message.output {
//!                     info!("a {}×{} map, first tile {}", maps[0].width, maps[0].height, maps[0].glyph(0, 0));
//!                 }
//!             }
//!         })
//!         .run();
//! }
//! ```

mod asset;
mod generator;
mod output;
#[cfg(feature = "egui")]
pub mod panels;
mod render;

use bevy::asset::{AssetLoadFailedEvent, RenderAssetUsages};
use bevy::core_pipeline::schedule::camera_driver;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat, TextureUsages};
use bevy::render::renderer::RenderGraph;
use bevy::render::{ExtractSchedule, Render, RenderApp, RenderSystems};

use crate::gpu::preview_size;

pub use asset::{BfnModel, BfnModelLoader};
pub use generator::{BfnFinished, BfnGenerator, BfnPreview, BfnProgress, BfnWatch};
pub use output::{BfnOutput, HeightField, RgbaImage, TileGrid};

use render::{BfnJobs, ExtractedGenerators, Report, Reports};

/// Bayesian Flow Network generators for Bevy.
#[derive(Default)]
pub struct BfnPlugin;

/// The plugin's main-world systems, in `Update`, for ordering against a game's own.
#[derive(SystemSet, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BfnSystems {
    /// Creates preview images for generators whose model has loaded; notes models that failed to load.
    Setup,
    /// Takes the render world's reports: updates [`BfnProgress`], sends [`BfnFinished`].
    Collect,
}

impl Plugin for BfnPlugin {
    fn build(&self, app: &mut App) {
        let reports = Reports::default();
        app.init_asset::<BfnModel>()
            .init_asset_loader::<BfnModelLoader>()
            .register_type::<BfnGenerator>()
            .register_type::<BfnProgress>()
            .register_type::<BfnPreview>()
            .add_message::<BfnFinished>()
            .insert_resource(reports.clone())
            .configure_sets(Update, (BfnSystems::Setup, BfnSystems::Collect).chain())
            .add_systems(
                Update,
                (
                    (attach_previews, note_failed_models).in_set(BfnSystems::Setup),
                    collect_reports.in_set(BfnSystems::Collect),
                ),
            );
        let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
            return;
        };
        render_app
            .insert_resource(reports)
            .init_resource::<ExtractedGenerators>()
            .init_resource::<BfnJobs>()
            .add_systems(ExtractSchedule, render::extract_generators)
            .add_systems(
                Render,
                render::prepare_jobs.in_set(RenderSystems::PrepareResources),
            )
            .add_systems(RenderGraph, render::record_steps.before(camera_driver));
    }
}

/// Gives each generator whose model is loaded a preview image of the right size (again when the batch changes).
fn attach_previews(
    mut generators: Query<(&BfnGenerator, &mut BfnPreview, &mut BfnProgress)>,
    models: Res<Assets<BfnModel>>,
    mut images: ResMut<Assets<Image>>,
) {
    for (generator, mut preview, mut progress) in &mut generators {
        let Some(model) = models.get(&generator.model) else {
            continue;
        };
        let [width, height] = preview_size(model.weights.config(), generator.batch.max(1));
        let size = Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        };
        let steps = generator.steps_for(model.weights.config());
        if progress.steps != steps {
            *progress = BfnProgress { steps, ..default() };
        }
        if images
            .get(&preview.image)
            .is_some_and(|image| image.texture_descriptor.size == size)
        {
            continue;
        }
        let mut image = Image::new_fill(
            size,
            TextureDimension::D2,
            &[0, 0, 0, 255],
            TextureFormat::Rgba8Unorm,
            RenderAssetUsages::RENDER_WORLD,
        );
        image.texture_descriptor.usage = TextureUsages::STORAGE_BINDING
            | TextureUsages::TEXTURE_BINDING
            | TextureUsages::COPY_DST;
        image.sampler = ImageSampler::nearest();
        preview.image = images.add(image);
    }
}

/// A model that failed to load stops its generators with the loader's message.
fn note_failed_models(
    mut failures: MessageReader<AssetLoadFailedEvent<BfnModel>>,
    mut generators: Query<(&BfnGenerator, &mut BfnProgress)>,
) {
    for failure in failures.read() {
        for (generator, mut progress) in &mut generators {
            if generator.model.id() == failure.id {
                progress.error = Some(failure.error.to_string());
            }
        }
    }
}

fn collect_reports(
    reports: Res<Reports>,
    mut generators: Query<(&BfnGenerator, &mut BfnProgress)>,
    models: Res<Assets<BfnModel>>,
    mut finished: MessageWriter<BfnFinished>,
    mut watches: Query<&mut BfnWatch>,
) {
    let drained: Vec<Report> = match reports.0.lock() {
        Ok(mut reports) => reports.drain(..).collect(),
        Err(_) => return,
    };
    for report in drained {
        match report {
            Report::Progress {
                entity,
                steps_done,
                gpu_ms_per_step,
            } => {
                if let Ok((_, mut progress)) = generators.get_mut(entity) {
                    progress.steps_done = steps_done;
                    progress.gpu_ms_per_step = gpu_ms_per_step.or(progress.gpu_ms_per_step);
                    progress.finished = false;
                }
            }
            Report::Finished { entity, samples } => {
                let Ok((generator, mut progress)) = generators.get_mut(entity) else {
                    continue;
                };
                let Some(model) = models.get(&generator.model) else {
                    continue;
                };
                progress.finished = true;
                finished.write(BfnFinished {
                    entity,
                    output: BfnOutput::from_samples(model.weights.config(), &samples),
                });
            }
            Report::Theta {
                entity,
                step,
                theta,
            } => {
                if let Ok(mut watch) = watches.get_mut(entity) {
                    watch.step = step;
                    watch.theta = theta;
                }
            }
            Report::Failed { entity, message } => {
                if let Ok((_, mut progress)) = generators.get_mut(entity) {
                    progress.error = Some(message);
                }
            }
        }
    }
}
