//! Terrain tiles from the Jacksboro elevation model (continuous heights): two 16×16 height fields form on the
//! GPU, then are drawn as squares coloured by height (water, grass, rock, snow), in metres.
//!
//! `cargo run --release --example terrain --features studio`  (space: new terrain)

mod common;

use bevy::prelude::*;
use bevy_bfn::plugin::{BfnFinished, BfnGenerator, BfnOutput, BfnPlugin};

#[derive(Component)]
struct Cell;

fn main() {
    App::new()
        .add_plugins((DefaultPlugins, BfnPlugin))
        .add_systems(Startup, setup)
        .add_systems(Update, (spawn_cells, common::reseed_on_space))
        .run();
}

fn setup(mut commands: Commands, assets: Res<AssetServer>) {
    commands.spawn(Camera2d);
    commands.spawn((
        BfnGenerator::new(assets.load("models/terrain.safetensors"))
            .with_batch(2)
            // The sampler and steps are the model file's own: 50 steps of the sde2 solver (docs/sampling.md).
            .with_steps_per_frame(20),
        Sprite::default(),
        Transform::from_xyz(0.0, 230.0, 0.0).with_scale(Vec3::splat(8.0)),
    ));
}

/// A colour ramp over the field's own range of heights.
fn colour(fraction: f32) -> Color {
    match fraction {
        f if f < 0.15 => Color::srgb(0.2, 0.4, 0.8),
        f if f < 0.55 => Color::srgb(0.25, 0.55 + f * 0.3, 0.25),
        f if f < 0.85 => Color::srgb(0.5 + f * 0.2, 0.45, 0.35),
        _ => Color::srgb(0.95, 0.95, 0.97),
    }
}

fn spawn_cells(
    mut commands: Commands,
    mut finished: MessageReader<BfnFinished>,
    old: Query<Entity, With<Cell>>,
) {
    for message in finished.read() {
        let BfnOutput::HeightFields(fields) = &message.output else {
            continue;
        };
        old.iter().for_each(|e| commands.entity(e).despawn());
        for (i, field) in fields.iter().enumerate() {
            let (low, high) = field
                .heights
                .iter()
                .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            info!("terrain {i}: {low:.0} m to {high:.0} m");
            for (p, &h) in field.heights.iter().enumerate() {
                let (y, x) = (p / field.width, p % field.width);
                commands.spawn((
                    Cell,
                    Sprite::from_color(
                        colour((h - low) / (high - low).max(1e-3)),
                        Vec2::splat(16.0),
                    ),
                    Transform::from_xyz(
                        -300.0 + i as f32 * 320.0 + x as f32 * 17.0,
                        80.0 - y as f32 * 17.0,
                        0.0,
                    ),
                ));
            }
        }
    }
}
