//! Paint what must stay, generate the rest: a corridor is painted across the dungeon model's map and rooms grow
//! around it. The corridor's cells are hard constraints (floor, held at every step); near the entrance, on the left,
//! water and lava are not allowed. Four maps form side by side, each different, each with the corridor.
//!
//! ```text
//! cargo run --release --example paint --features studio                           # space: other rooms
//! cargo run --release --example paint --features studio -- --screenshot paint.png  # picture, exit
//! ```
//!
//! Press R to keep the right half of every map and sample the left half again ([`BfnRegenerate`]).

mod common;
#[path = "common/corridor.rs"]
mod corridor;
#[path = "common/screenshot.rs"]
mod screenshot;

use std::path::PathBuf;

use bevy::prelude::*;
use bevy_bfn::plugin::{BfnGenerator, BfnModel, BfnPlugin, BfnProgress, BfnRegenerate};

/// Screen pixels per map cell.
const CELL: f32 = 12.0;
/// Maps side by side.
const BATCH: usize = 4;

fn main() -> AppExit {
    let picture = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => None,
        [flag, path] if flag == "--screenshot" => Some(PathBuf::from(path)),
        _ => {
            eprintln!("usage: paint [--screenshot FILE.png]");
            return AppExit::error();
        }
    };
    App::new()
        .add_plugins((
            DefaultPlugins.set(ImagePlugin::default_nearest()),
            BfnPlugin,
        ))
        .insert_resource(ScreenshotTo(picture))
        .add_systems(Startup, setup)
        .add_systems(
            Update,
            (
                paint_corridor,
                regenerate_on_r,
                common::reseed_on_space,
                picture_when_done,
            ),
        )
        .run()
}

#[derive(Resource)]
struct ScreenshotTo(Option<PathBuf>);

/// The generator, until its model has loaded and its corridor is painted.
#[derive(Component)]
struct Unpainted;

fn setup(mut commands: Commands, assets: Res<AssetServer>) {
    commands.spawn(Camera2d);
    commands.spawn((
        BfnGenerator::new(assets.load("models/dungeon.safetensors"))
            .with_batch(BATCH)
            .with_steps_per_frame(2),
        Sprite::default(),
        Transform::from_scale(Vec3::splat(CELL)),
        Unpainted,
    ));
}

/// Once the model is loaded (its legend names the classes), paints the corridor and the dry entrance, and marks
/// the corridor on screen.
fn paint_corridor(
    mut commands: Commands,
    generators: Query<(Entity, &BfnGenerator), With<Unpainted>>,
    models: Res<Assets<BfnModel>>,
) {
    for (entity, generator) in &generators {
        let Some(model) = models.get(&generator.model) else {
            continue;
        };
        commands.entity(entity).remove::<Unpainted>();
        let config = model.weights.config();
        match corridor::constraints(config) {
            Ok(constraints) => {
                commands.entity(entity).insert(constraints);
            }
            Err(error) => {
                error!("{error}");
                continue;
            }
        }
        let layout = config.pixel_layout();
        // A dot on the corridor's cells of every map, so that what was painted shows on what grew.
        for ((x, y), example) in
            corridor::cells().flat_map(|cell| (0..BATCH).map(move |e| (cell, e)))
        {
            let column = (example * layout.width + x) as f32 - (BATCH * layout.width) as f32 / 2.0;
            let row = layout.height as f32 / 2.0 - y as f32;
            commands.spawn((
                Sprite::from_color(Color::srgb(1.0, 0.85, 0.1), Vec2::splat(CELL * 0.3)),
                Transform::from_xyz((column + 0.5) * CELL, (row - 0.5) * CELL, 1.0),
            ));
        }
    }
}

/// R: the right half of every map stays, the left half is sampled again.
fn regenerate_on_r(
    mut commands: Commands,
    keys: Res<ButtonInput<KeyCode>>,
    generators: Query<Entity, With<BfnGenerator>>,
) {
    if keys.just_pressed(KeyCode::KeyR) {
        for entity in &generators {
            let left = (0..16 * 16).map(|cell| cell % 16 < 8).collect();
            commands.trigger(BfnRegenerate {
                entity,
                region: left,
            });
        }
    }
}

/// With `--screenshot`: a picture once the maps are done, then exit.
fn picture_when_done(
    mut commands: Commands,
    to: Res<ScreenshotTo>,
    generators: Query<&BfnProgress>,
    mut frames_since_done: Local<u32>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(path) = &to.0 else { return };
    if let Some(error) = generators.iter().find_map(|p| p.error.as_ref()) {
        error!("{error}");
        exit.write(AppExit::error());
    }
    if !generators.iter().all(|p| p.finished) {
        return;
    }
    screenshot::picture_then_exit(
        &mut frames_since_done,
        path.clone(),
        &mut commands,
        &mut exit,
    );
}
