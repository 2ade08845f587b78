//! A dungeon level from the Dungeon Crawl vault-map model: the map forms on the GPU a few steps a frame, then is
//! spawned as one sprite per tile, coloured by what its legend says the tile is.
//!
//! `cargo run --release --example dungeon --features studio`  (space: another map)

mod common;

use bevy::prelude::*;
use bevy_bfn::model::content::class_colour;
use bevy_bfn::plugin::{BfnFinished, BfnGenerator, BfnOutput, BfnPlugin};

/// Pixels per tile.
const TILE: f32 = 28.0;

#[derive(Component)]
struct Tile;

fn main() {
    App::new()
        .add_plugins((DefaultPlugins, BfnPlugin))
        .add_systems(Startup, setup)
        .add_systems(Update, (spawn_tiles, common::reseed_on_space))
        .run();
}

fn setup(mut commands: Commands, assets: Res<AssetServer>) {
    commands.spawn(Camera2d);
    commands.spawn((
        BfnGenerator::new(assets.load("models/dungeon.safetensors"))
            .with_steps(60)
            .with_steps_per_frame(2),
        Sprite::default(),
        Transform::from_xyz(-280.0, 0.0, 0.0).with_scale(Vec3::splat(12.0)),
    ));
}

fn spawn_tiles(
    mut commands: Commands,
    mut finished: MessageReader<BfnFinished>,
    old: Query<Entity, With<Tile>>,
) {
    for message in finished.read() {
        let BfnOutput::Tiles(maps) = &message.output else {
            continue;
        };
        old.iter().for_each(|e| commands.entity(e).despawn());
        let map = &maps[0];
        for y in 0..map.height {
            for x in 0..map.width {
                let [r, g, b, _] = class_colour(map.glyph(x, y), map.class(x, y));
                commands.spawn((
                    Tile,
                    Sprite::from_color(Color::srgb_u8(r, g, b), Vec2::splat(TILE - 2.0)),
                    Transform::from_xyz(
                        80.0 + x as f32 * TILE,
                        (map.height as f32 / 2.0 - y as f32) * TILE,
                        0.0,
                    ),
                ));
            }
        }
    }
}
