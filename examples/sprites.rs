//! Item sprites from the Dungeon Crawl tiles model (16×16 RGBA, 16 levels a channel): eight form at once on the
//! GPU; when they are done each becomes an ordinary Bevy image on its own sprite.
//!
//! `cargo run --release --example sprites --features studio`  (space: eight more)

mod common;

use bevy::prelude::*;
use bevy_bfn::plugin::{BfnFinished, BfnGenerator, BfnOutput, BfnPlugin};

#[derive(Component)]
struct Finished;

fn main() {
    App::new()
        .add_plugins((
            DefaultPlugins.set(ImagePlugin::default_nearest()),
            BfnPlugin,
        ))
        .add_systems(Startup, setup)
        .add_systems(Update, (spawn_sprites, common::reseed_on_space))
        .run();
}

fn setup(mut commands: Commands, assets: Res<AssetServer>) {
    commands.spawn(Camera2d);
    commands.spawn((
        BfnGenerator::new(assets.load("models/sprites.safetensors"))
            .with_batch(8)
            // The steps are the model file's own: 200, as in 50 the sprites' edges come out half transparent.
            .with_steps_per_frame(8),
        Sprite::default(),
        Transform::from_xyz(0.0, 120.0, 0.0).with_scale(Vec3::splat(5.0)),
    ));
}

fn spawn_sprites(
    mut commands: Commands,
    mut finished: MessageReader<BfnFinished>,
    mut images: ResMut<Assets<Image>>,
    old: Query<Entity, With<Finished>>,
) {
    for message in finished.read() {
        let BfnOutput::Images(sprites) = &message.output else {
            continue;
        };
        old.iter().for_each(|e| commands.entity(e).despawn());
        for (i, sprite) in sprites.iter().enumerate() {
            commands.spawn((
                Finished,
                Sprite::from_image(images.add(sprite.to_image())),
                Transform::from_xyz(-315.0 + i as f32 * 90.0, -80.0, 0.0)
                    .with_scale(Vec3::splat(5.0)),
            ));
        }
    }
}
