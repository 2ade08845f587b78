//! The Bevy plugin, headless, on whatever adapter wgpu finds (lavapipe in CI): generators finish with the
//! standalone GPU sampler's result, advance k steps a frame, run side by side, take the steps their model's
//! file names when not told any, and a corrupt model is an asset error the app survives.
#![cfg(feature = "studio")]

use std::path::PathBuf;

use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use bevy_bfn::gpu::{GpuContext, GpuModel, JobSettings, SamplingJob};
use bevy_bfn::model::Weights;
use bevy_bfn::plugin::{BfnFinished, BfnGenerator, BfnOutput, BfnPlugin, BfnProgress};

/// The sampling steps the test's copy of the names model names.
const NAMED_STEPS: u32 = 7;

/// Finished results, collected from the plugin's messages.
#[derive(Resource, Default)]
struct Results(Vec<BfnFinished>);

/// A folder of assets: two shipped models, names again with a file that names 7 sampling steps, and a
/// truncated copy of one.
fn asset_folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bevy_bfn_plugin_test_{}", std::process::id()));
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    for name in ["dungeon", "names"] {
        std::fs::copy(
            format!("assets/models/{name}.safetensors"),
            models.join(format!("{name}.safetensors")),
        )
        .unwrap();
    }
    let names = Weights::load("assets/models/names.safetensors").unwrap();
    let mut config = names.config().clone();
    config.sampling_steps = Some(NAMED_STEPS);
    let named = Weights::new(config, names.tensors().clone()).unwrap();
    std::fs::write(
        models.join("names-named-steps.safetensors"),
        named.to_bytes(),
    )
    .unwrap();
    let bytes = std::fs::read("assets/models/dungeon.safetensors").unwrap();
    std::fs::write(
        models.join("corrupt.safetensors"),
        &bytes[..bytes.len() / 3],
    )
    .unwrap();
    dir
}

fn standalone(name: &str, settings: JobSettings) -> BfnOutput {
    let gpu = GpuContext::new().unwrap();
    let weights = Weights::load(format!("assets/models/{name}.safetensors")).unwrap();
    let model = GpuModel::new(&gpu.device, &weights).unwrap();
    let mut job = SamplingJob::new(&gpu.device, &model, settings).unwrap();
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    job.record_steps(&mut encoder, settings.steps);
    gpu.queue.submit([encoder.finish()]);
    let samples = job.read_samples(&gpu.device, &gpu.queue).unwrap();
    BfnOutput::from_samples(weights.config(), &samples)
}

#[test]
fn generators_run_in_a_headless_app() {
    let assets = asset_folder();
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
            // One render frame per update, so that every frame's progress report is seen.
            .disable::<PipelinedRenderingPlugin>(),
    )
    .add_plugins(BfnPlugin)
    .init_resource::<Results>()
    .add_systems(
        Update,
        |mut finished: MessageReader<BfnFinished>, mut results: ResMut<Results>| {
            results.0.extend(finished.read().cloned());
        },
    );
    app.finish();
    app.cleanup();

    let (dungeon_steps, dungeon_k, names_steps, names_k) = (20, 3, 12, 5);
    let server = app.world().resource::<AssetServer>().clone();
    let dungeon = app
        .world_mut()
        .spawn(
            BfnGenerator::new(server.load("models/dungeon.safetensors"))
                .with_batch(2)
                .with_steps(dungeon_steps)
                .with_steps_per_frame(dungeon_k)
                .with_seed(9),
        )
        .id();
    let names = app
        .world_mut()
        .spawn(
            BfnGenerator::new(server.load("models/names.safetensors"))
                .with_batch(3)
                .with_steps(names_steps)
                .with_steps_per_frame(names_k)
                .with_seed(4),
        )
        .id();
    // Not told its steps: it takes the NAMED_STEPS its model's file names, 50 being the default.
    let (named_k, named_seed) = (3, 5);
    let named = app
        .world_mut()
        .spawn(
            BfnGenerator::new(server.load("models/names-named-steps.safetensors"))
                .with_batch(2)
                .with_steps_per_frame(named_k)
                .with_seed(named_seed),
        )
        .id();
    let corrupt = app
        .world_mut()
        .spawn(BfnGenerator::new(server.load("models/corrupt.safetensors")))
        .id();

    let progress = |app: &App, entity| app.world().get::<BfnProgress>(entity).unwrap().clone();
    let mut seen = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..2000 {
        app.update();
        for (trace, entity) in seen.iter_mut().zip([dungeon, names, named]) {
            let done = progress(&app, entity).steps_done;
            if done > 0 && trace.last() != Some(&done) {
                trace.push(done);
            }
        }
        let results = &app.world().resource::<Results>().0;
        if results.len() == 3 && progress(&app, corrupt).error.is_some() {
            break;
        }
    }

    let error = progress(&app, corrupt).error;
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("safetensors") || e.contains("complete")),
        "the corrupt model should report a load error, got {error:?}"
    );
    // Once running, a generator takes exactly k steps a frame until n: after f frames, min(n, f·k).
    for (trace, n, k) in [
        (&seen[0], dungeon_steps, dungeon_k),
        (&seen[1], names_steps, names_k),
        (&seen[2], NAMED_STEPS, named_k),
    ] {
        let expected: Vec<u32> = (1..=n.div_ceil(k)).map(|f| (f * k).min(n)).collect();
        assert_eq!(trace, &expected, "steps after each frame");
    }
    let results = &app.world().resource::<Results>().0;
    assert_eq!(results.len(), 3, "the generators finish, side by side");
    assert_eq!(progress(&app, named).steps, NAMED_STEPS);
    for (entity, name, settings) in [
        (
            dungeon,
            "dungeon",
            JobSettings {
                batch: 2,
                steps: dungeon_steps,
                seed: 9,
                accuracy: None,
            },
        ),
        (
            names,
            "names",
            JobSettings {
                batch: 3,
                steps: names_steps,
                seed: 4,
                accuracy: None,
            },
        ),
        (
            named,
            "names",
            JobSettings {
                batch: 2,
                steps: NAMED_STEPS,
                seed: named_seed,
                accuracy: None,
            },
        ),
    ] {
        let finished = results.iter().find(|r| r.entity == entity).unwrap();
        assert_eq!(
            finished.output,
            standalone(name, settings),
            "{name}: the plugin's result is the standalone sampler's from the same seed"
        );
        assert!(progress(&app, entity).finished);
    }
    std::fs::remove_dir_all(assets).ok();
}
