//! Names from the census-names model (8 letters, 27 classes): sixteen form at once on the GPU, shown in an egui
//! window as they are read back.
//!
//! `cargo run --release --example names --features studio`  (the button: sixteen more)

use bevy::prelude::*;
use bevy_bfn::plugin::{BfnFinished, BfnGenerator, BfnOutput, BfnPlugin, BfnProgress};
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

#[derive(Resource, Default)]
struct Names(Vec<String>);

fn main() {
    App::new()
        .add_plugins((DefaultPlugins, EguiPlugin::default(), BfnPlugin))
        .init_resource::<Names>()
        .add_systems(Startup, setup)
        .add_systems(Update, collect)
        .add_systems(EguiPrimaryContextPass, show)
        .run();
}

fn setup(mut commands: Commands, assets: Res<AssetServer>) {
    commands.spawn(Camera2d);
    commands.spawn(
        BfnGenerator::new(assets.load("models/names.safetensors"))
            .with_batch(16)
            .with_steps(40),
    );
}

fn collect(mut finished: MessageReader<BfnFinished>, mut names: ResMut<Names>) {
    for message in finished.read() {
        if let BfnOutput::Strings(strings) = &message.output {
            names.0.clone_from(strings);
        }
    }
}

fn show(
    mut contexts: EguiContexts,
    names: Res<Names>,
    mut generators: Query<(&mut BfnGenerator, &BfnProgress)>,
) -> Result {
    egui::Window::new("names").show(contexts.ctx_mut()?, |ui| {
        for (mut generator, progress) in &mut generators {
            ui.add(egui::ProgressBar::new(progress.fraction()));
            if ui.button("sixteen more").clicked() {
                generator.seed += 1;
            }
        }
        for name in &names.0 {
            ui.label(name);
        }
    });
    Ok(())
}
