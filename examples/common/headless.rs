//! A headless Bevy app with the plugin, for the frame_cost example and the plugin's tests (which include this file
//! by path): no window, pipelines compiled before their first frame, and one render frame per update, so that what
//! a frame did is seen in the update that made it.

use std::path::Path;

use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use bevy_bfn::plugin::{BfnFrame, BfnPlugin};

/// A headless app with the plugin, reading assets from `assets`, its plugins finished.
pub fn headless_app(assets: &Path) -> App {
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: None,
                exit_condition: ExitCondition::DontExit,
                ..default()
            })
            .set(AssetPlugin {
                file_path: assets.display().to_string(),
                ..default()
            })
            .set(RenderPlugin {
                synchronous_pipeline_compilation: true,
                ..default()
            })
            .disable::<WinitPlugin>()
            .disable::<LogPlugin>()
            .disable::<PipelinedRenderingPlugin>(),
    )
    .add_plugins(BfnPlugin);
    app.finish();
    app.cleanup();
    app
}

/// Every frame's [`BfnFrame`] report since it was last emptied ([`collect_frames`]).
#[derive(Resource, Default)]
pub struct Frames(pub Vec<BfnFrame>);

/// Collects every frame's report into [`Frames`].
pub fn collect_frames(app: &mut App) {
    app.init_resource::<Frames>().add_systems(
        Last,
        |mut frames: MessageReader<BfnFrame>, mut all: ResMut<Frames>| {
            all.0.extend(frames.read().cloned());
        },
    );
}
