//! The shortest integration: a dungeon map generated on the GPU, 4 BFN steps a frame, drawn as it forms; the
//! finished map is printed with its legend.
//!
//! `cargo run --example minimal --features studio`

use bevy::prelude::*;
use bevy_bfn::plugin::{BfnFinished, BfnGenerator, BfnOutput, BfnPlugin};

fn main() {
    App::new()
        .add_plugins((DefaultPlugins, BfnPlugin))
        .add_systems(Startup, setup)
        .add_systems(Update, print_map)
        .run();
}

fn setup(mut commands: Commands, assets: Res<AssetServer>) {
    commands.spawn(Camera2d);
    commands.spawn((
        BfnGenerator::new(assets.load("models/dungeon.safetensors"))
            .with_steps(50)
            .with_steps_per_frame(4),
        Sprite::default(),
        Transform::from_scale(Vec3::splat(24.0)),
    ));
}

fn print_map(mut finished: MessageReader<BfnFinished>) {
    for message in finished.read() {
        if let BfnOutput::Tiles(maps) = &message.output {
            for y in 0..maps[0].height {
                let row: String = (0..maps[0].width).map(|x| maps[0].symbol(x, y)).collect();
                info!("{row}");
            }
        }
    }
}
