//! The Bevy plugin (feature `bevy`): BFN generators that run a few steps each frame on Bevy's own GPU device.
//!
//! Add [`BfnPlugin`], load a model as an asset and spawn a [`BfnGenerator`]; its [`BfnPreview`] image shows the
//! flow as it happens (on the generator's own `Sprite`, with feature `sprite`), its [`BfnProgress`] says how far
//! it is or why it cannot run, and a [`BfnFinished`] message brings the result in typed form ([`BfnOutput`]: tile
//! grids, strings, images or height fields).
//!
//! A generator is steered while it runs: changing its settings or reloading its model starts it again,
//! [`BfnRestart`] starts it again as it is, `paused` holds it and [`BfnStepOnce`] takes one step.
//! [`BfnConstraints`] keep painted cells and allowed classes, and [`BfnRegenerate`] samples a region of a finished
//! result again, keeping the rest. [`BfnMosaic`] draws maps larger than the model's canvas, window by window. Whatever a
//! game asks that the device cannot do (a batch past its limits) is an error on the generator, not the end of
//! the app.
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
mod budget;
mod constraints;
mod generator;
mod mosaic;
mod output;
#[cfg(feature = "egui")]
pub mod panels;
mod preview;
mod render;
mod reports;
mod run;

use bevy::asset::AssetLoadFailedEvent;
use bevy::prelude::*;

pub use asset::{BfnModel, BfnModelLoader};
pub use budget::{BfnDiagnostics, BfnFrame, BfnFrameStats, BfnGpuMemory, BfnPriority, BfnSettings};
pub use constraints::{BfnConstraints, BfnRegenerate};
pub use generator::{
    BfnFinished, BfnGenerator, BfnPreview, BfnProgress, BfnRestart, BfnStepOnce, BfnWatch,
};
pub use mosaic::BfnMosaic;
pub use output::{BfnOutput, HeightField, RgbaImage, TileGrid};
pub use render::BfnRenderSystems;

use reports::Reports;

/// Bayesian Flow Network generators for Bevy.
#[derive(Default)]
pub struct BfnPlugin;

/// The plugin's main-world systems, in `Update`, for ordering against a game's own.
#[derive(SystemSet, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BfnSystems {
    /// Starts new runs of generators whose settings or model changed, gives them preview images, notes models
    /// that failed to load.
    Setup,
    /// Takes the render world's reports: updates [`BfnProgress`], sends [`BfnFinished`].
    Collect,
}

impl Plugin for BfnPlugin {
    fn build(&self, app: &mut App) {
        let reports = Reports::default();
        budget::build(app);
        app.init_asset::<BfnModel>()
            .init_asset_loader::<BfnModelLoader>()
            .register_type::<BfnGenerator>()
            .register_type::<BfnProgress>()
            .register_type::<BfnPreview>()
            .add_message::<BfnFinished>()
            .insert_resource(reports.clone())
            .init_resource::<run::PendingSteps>()
            .add_observer(run::restart)
            .add_observer(run::step_once)
            .add_observer(constraints::regenerate)
            .configure_sets(Update, (BfnSystems::Setup, BfnSystems::Collect).chain())
            .add_systems(
                Update,
                (
                    (
                        (
                            mosaic::plan_mosaics,
                            run::start_runs,
                            preview::attach_previews,
                        )
                            .chain(),
                        note_failed_models,
                        budget::apply_settings,
                    )
                        .in_set(BfnSystems::Setup),
                    (reports::collect_reports, budget::collect_frames).in_set(BfnSystems::Collect),
                ),
            );
        #[cfg(feature = "sprite")]
        app.add_systems(
            Update,
            preview::show_previews_on_sprites.after(BfnSystems::Setup),
        );
        if !render::build(app, reports) {
            warn!(
                "BfnPlugin: this app has no render sub-app (add DefaultPlugins, or RenderPlugin, before BfnPlugin); \
                 models load, but no generator will run"
            );
        }
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
