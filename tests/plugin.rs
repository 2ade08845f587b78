//! The Bevy plugin, headless, on whatever adapter wgpu finds (lavapipe in CI): generators finish with the
//! standalone GPU sampler's result, advance k steps a frame, run side by side, take the steps their model's
//! file names when not told any, and a corrupt model is an asset error the app survives. Then what users do to
//! a running generator: restart it, change its seed or batch around the moment it finishes, replace its model
//! file, ask for a batch the device cannot hold, override σ₁/β₁, pause and single-step it, give it a GPU-time
//! budget, push the accuracy to its extremes, paint constraints on it and regenerate a region of its result.
#![cfg(feature = "studio")]

mod common;

use common::app::{
    Results, headless_app, one_app_at_a_time, progress, results_of, update, update_until,
};

use std::path::PathBuf;
use std::sync::MutexGuard;

use bevy::prelude::*;
use bevy::render::RenderApp;
use bevy::render::render_resource::{PipelineCache, PipelineDescriptor};
use bevy_bfn::flow::SamplingMethod;
use bevy_bfn::flow::{AnyDatum, Constraints, Known};
use bevy_bfn::gpu::{GpuContext, GpuModel, JobSettings, SamplingJob};
use bevy_bfn::model::mosaic::{MapShape, Mosaic, window_seed};
use bevy_bfn::model::{Guidance, Layout, Samples, Weights};
use bevy_bfn::plugin::{
    BfnConstraints, BfnGenerator, BfnMosaic, BfnOutput, BfnRegenerate, BfnRestart, BfnStepOnce,
    BfnWatch, TileGrid,
};

/// The sampling steps the test's copy of the names model names.
const NAMED_STEPS: u32 = 7;

/// A folder of assets: two shipped models, the GPT dungeon model the U-Net replaced, names again with a file that
/// names 7 sampling steps, a truncated copy of one, and one that claims 10⁹ layers.
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
    std::fs::copy(
        "tests/fixtures/gpt-dungeon.safetensors",
        models.join("gpt-dungeon.safetensors"),
    )
    .unwrap();
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
    // A GPT's layers: the names model is one.
    let names_bytes = std::fs::read("assets/models/names.safetensors").unwrap();
    let huge = common::model_claiming(&names_bytes, |config| {
        config["network"]["layers"] = 1_000_000_000u64.into();
    });
    std::fs::write(models.join("billion-layers.safetensors"), huge).unwrap();
    let unet = common::unet_dungeon();
    std::fs::write(models.join("unet.safetensors"), unet.to_bytes()).unwrap();
    // The same file with one convolution's weight a row short: a shape the loader must name.
    let mut tensors = unet.tensors().clone();
    tensors.get_mut(UNET_CONV).unwrap().shape[0] -= 1;
    let cut = common::model_file(unet.config(), &tensors);
    std::fs::write(models.join("unet-wrong-shape.safetensors"), cut).unwrap();
    dir
}

/// The convolution the wrong-shape U-Net file gets wrong.
const UNET_CONV: &str = "input_blocks.1.0.in_layers.2.weight";

fn standalone(name: &str, settings: JobSettings) -> BfnOutput {
    standalone_constrained(name, settings, &BfnConstraints::default())
}

/// As [`standalone`], the job keeping `constraints` (in the data's layout) as the plugin places them.
fn standalone_constrained(
    name: &str,
    settings: JobSettings,
    constraints: &BfnConstraints,
) -> BfnOutput {
    let weights = Weights::load(format!("assets/models/{name}.safetensors")).unwrap();
    let placed = weights
        .config()
        .place_constraints(&constraints.0, settings.batch)
        .unwrap();
    let samples = standalone_samples(&weights, settings, &placed);
    BfnOutput::from_samples(weights.config(), &samples)
}

/// What a standalone GPU job of `settings` samples under `placed` constraints (on its variables).
fn standalone_samples(
    weights: &Weights,
    settings: JobSettings,
    placed: &Constraints<AnyDatum>,
) -> Samples {
    let gpu = GpuContext::new().unwrap();
    let model = GpuModel::new(&gpu.device, weights).unwrap();
    let mut job = SamplingJob::new(&gpu.device, &model, settings).unwrap();
    job.write_constraints(&gpu.queue, placed).unwrap();
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    job.record_steps(&mut encoder, settings.steps);
    gpu.queue.submit([encoder.finish()]);
    job.read_samples(&gpu.device, &gpu.queue).unwrap()
}

/// What a standalone guided GPU job of `settings` samples.
fn standalone_guided_samples(
    weights: &Weights,
    settings: JobSettings,
    guidance: &Guidance,
) -> Samples {
    let gpu = GpuContext::new().unwrap();
    let model = GpuModel::new(&gpu.device, weights).unwrap();
    let mut job = SamplingJob::guided(&gpu.device, &model, settings, guidance).unwrap();
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    job.record_steps(&mut encoder, settings.steps);
    gpu.queue.submit([encoder.finish()]);
    job.read_samples(&gpu.device, &gpu.queue).unwrap()
}

/// A mosaic of `shape` drawn window by window with standalone GPU jobs, as the plugin is to draw it.
fn standalone_mosaic(
    name: &str,
    settings: JobSettings,
    shape: MapShape,
    user: &BfnConstraints,
) -> BfnOutput {
    let weights = Weights::load(format!("assets/models/{name}.safetensors")).unwrap();
    let mut mosaic = Mosaic::new(weights.config(), shape, settings.batch).unwrap();
    for window in mosaic.windows().to_vec() {
        let placed = mosaic.constraints_for(window, &user.0).unwrap();
        let seed = window_seed(settings.seed, window.index);
        let samples = standalone_samples(&weights, JobSettings { seed, ..settings }, &placed);
        mosaic.insert(window, &samples).unwrap();
    }
    BfnOutput::from_samples(&mosaic.map_config(), &mosaic.finish().unwrap())
}

/// The labels of the plugin's pipelines in the render world's pipeline cache.
fn bfn_pipelines(app: &App) -> Vec<String> {
    let cache = app.sub_app(RenderApp).world().resource::<PipelineCache>();
    cache
        .pipelines()
        .filter_map(|pipeline| match &pipeline.descriptor {
            PipelineDescriptor::ComputePipelineDescriptor(compute) => compute.label.as_deref(),
            PipelineDescriptor::RenderPipelineDescriptor(_) => None,
        })
        .filter(|label| label.starts_with("bevy_bfn"))
        .map(str::to_owned)
        .collect()
}

/// A shipped model's own sampler: what a generator not told one samples with.
fn own_sampler(name: &str) -> SamplingMethod {
    Weights::load(format!("assets/models/{name}.safetensors"))
        .unwrap()
        .config()
        .sampler()
}

/// What a generator of shipped model `name` with this batch, n and seed samples, with the model's own sampler.
fn settings(name: &str, batch: usize, steps: u32, seed: u64) -> JobSettings {
    JobSettings {
        batch,
        steps,
        seed,
        accuracy: None,
        sampler: own_sampler(name),
    }
}

#[test]
fn generators_run_in_a_headless_app() {
    let _app = one_app_at_a_time();
    let assets = asset_folder();
    let mut app = headless_app(&assets);

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

    let mut seen = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..2000 {
        update(&mut app);
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
    // Once running, a generator takes exactly k steps a frame until its n updates (n − 1 for a solver, whose
    // last network call is the sample): after f frames, min(updates, f·k).
    for (trace, name, n, k) in [
        (&seen[0], "dungeon", dungeon_steps, dungeon_k),
        (&seen[1], "names", names_steps, names_k),
        (&seen[2], "names", NAMED_STEPS, named_k),
    ] {
        let n = own_sampler(name).updates(n);
        let expected: Vec<u32> = (1..=n.div_ceil(k)).map(|f| (f * k).min(n)).collect();
        assert_eq!(trace, &expected, "steps after each frame");
    }
    let results = &app.world().resource::<Results>().0;
    assert_eq!(results.len(), 3, "the generators finish, side by side");
    assert_eq!(
        progress(&app, named).steps,
        own_sampler("names").updates(NAMED_STEPS)
    );
    for (entity, name, settings) in [
        (dungeon, "dungeon", settings("dungeon", 2, dungeon_steps, 9)),
        (names, "names", settings("names", 3, names_steps, 4)),
        (
            named,
            "names",
            settings("names", 2, NAMED_STEPS, named_seed),
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
    // Each kernel variant is compiled once and shared: the two names models, of one kind, by each other, and
    // the kind-independent kernels by all three.
    let mut pipelines = bfn_pipelines(&app);
    let queued = pipelines.len();
    pipelines.sort();
    pipelines.dedup();
    assert_eq!(
        pipelines.len(),
        queued,
        "a pipeline queued twice: {pipelines:?}"
    );
    let steps: Vec<&String> = pipelines
        .iter()
        .filter(|l| l.starts_with("bevy_bfn bfn_step") && l.ends_with(" step"))
        .collect();
    assert_eq!(
        steps.len(),
        2,
        "dungeon's step and the names models' one: {steps:?}"
    );
    let matmuls = pipelines
        .iter()
        .filter(|l| l.starts_with("bevy_bfn matmul"))
        .count();
    assert_eq!(
        matmuls, 8,
        "one matmul per epilogue and operand (a matrix, a convolution) for all models: {pipelines:?}"
    );
    std::fs::remove_dir_all(assets).ok();
}

/// A headless app on the repository's own assets (the shipped models), the lock that keeps it the only one,
/// and its asset server.
fn app_on_shipped_models() -> (MutexGuard<'static, ()>, App, AssetServer) {
    let lock = one_app_at_a_time();
    let app = headless_app(&std::env::current_dir().unwrap().join("assets"));
    let server = app.world().resource::<AssetServer>().clone();
    (lock, app, server)
}

/// A restart, a seed change and a batch change, each at every frame from a few before the finish to a few
/// after the result has arrived: the read-back under way must be abandoned cleanly (copying into a buffer still
/// mapped is a validation error, which ends the app) and the run that follows must give exactly the result of
/// a fresh run with the settings it ends with.
#[test]
fn restart_seed_and_batch_changes_around_a_finish_keep_the_app_running() {
    let (_app, mut app, server) = app_on_shipped_models();
    let model = server.load("models/names.safetensors");
    // 6 steps at 3 a frame: the last steps are recorded in the second frame after the job exists, the copy is
    // mapped in the frames after that. Acting at frames 0..12 covers every state of the read-back.
    let (steps, k, seed) = (6, 3, 4);
    #[derive(Clone, Copy, Debug)]
    enum Action {
        Restart,
        Seed,
        Batch,
    }
    let mut cases = Vec::new();
    for action in [Action::Restart, Action::Seed, Action::Batch] {
        for frame in 0..12 {
            let entity = app
                .world_mut()
                .spawn(
                    BfnGenerator::new(model.clone())
                        .with_steps(steps)
                        .with_steps_per_frame(k)
                        .with_seed(seed),
                )
                .id();
            cases.push((action, frame, entity));
        }
    }
    for frame in 0..12 {
        update(&mut app);
        for &(action, at, entity) in &cases {
            if at != frame {
                continue;
            }
            match action {
                Action::Restart => {
                    app.world_mut().trigger(BfnRestart { entity });
                }
                Action::Seed => {
                    app.world_mut()
                        .get_mut::<BfnGenerator>(entity)
                        .unwrap()
                        .seed += 1;
                }
                Action::Batch => {
                    app.world_mut()
                        .get_mut::<BfnGenerator>(entity)
                        .unwrap()
                        .batch = 2;
                }
            }
        }
    }
    update_until(&mut app, 200, "every generator finishes again", |app| {
        cases.iter().all(|&(_, _, e)| progress(app, e).finished)
    });
    let expected = |action| match action {
        Action::Restart => standalone("names", settings("names", 1, steps, seed)),
        Action::Seed => standalone("names", settings("names", 1, steps, seed + 1)),
        Action::Batch => standalone("names", settings("names", 2, steps, seed)),
    };
    let expected = [Action::Restart, Action::Seed, Action::Batch].map(expected);
    for &(action, frame, entity) in &cases {
        let results = results_of(&app, entity);
        let last = results.last().unwrap();
        assert_eq!(
            last, &expected[action as usize],
            "{action:?} at frame {frame}: the last result is a fresh run's with the final settings"
        );
        assert!(
            results.len() <= 2,
            "{action:?} at frame {frame}: {} results for at most two runs",
            results.len()
        );
    }
}

/// A running generator picks up its model file replaced on disk and reloaded (as Bevy's file watcher does when
/// a game enables it): the result equals a fresh generator's on the new file.
#[test]
fn reload_of_a_replaced_model_file_reaches_a_running_generator() {
    let _app = one_app_at_a_time();
    let assets =
        std::env::temp_dir().join(format!("bevy_bfn_plugin_reload_{}", std::process::id()));
    std::fs::create_dir_all(assets.join("models")).unwrap();
    let swapped = assets.join("models/swapped.safetensors");
    std::fs::copy("assets/models/names.safetensors", &swapped).unwrap();
    let mut app = headless_app(&assets);
    let server = app.world().resource::<AssetServer>().clone();
    let generator = BfnGenerator::new(server.load("models/swapped.safetensors"))
        .with_batch(2)
        .with_steps(8)
        .with_steps_per_frame(4)
        .with_seed(3);
    let running = app.world_mut().spawn(generator.clone()).id();
    update_until(&mut app, 300, "the first result", |app| {
        results_of(app, running).len() == 1
    });
    assert_eq!(
        results_of(&app, running)[0],
        standalone("names", settings("names", 2, 8, 3))
    );

    // Another kind of model altogether (tile maps instead of names) under the same path.
    std::fs::copy("assets/models/dungeon.safetensors", &swapped).unwrap();
    server.reload("models/swapped.safetensors");
    update_until(&mut app, 300, "a result on the new file", |app| {
        results_of(app, running).len() == 2
    });
    let fresh = app.world_mut().spawn(generator).id();
    update_until(&mut app, 300, "the fresh generator's result", |app| {
        results_of(app, fresh).len() == 1
    });
    let reloaded = results_of(&app, running)[1].clone();
    assert!(matches!(reloaded, BfnOutput::Tiles(_)), "{reloaded:?}");
    assert_eq!(reloaded, results_of(&app, fresh)[0]);
    assert_eq!(
        reloaded,
        standalone("dungeon", settings("dungeon", 2, 8, 3))
    );
    std::fs::remove_dir_all(assets).ok();
}

/// A batch past the device's limits (its preview wider than the largest texture, its attention dispatch over
/// the per-dimension workgroup limit) is an error on the generator, the app runs on, and a batch that fits
/// clears the error and runs.
#[test]
fn limit_an_oversized_batch_is_an_error_and_the_app_keeps_running() {
    let (_app, mut app, server) = app_on_shipped_models();
    let entity = app
        .world_mut()
        .spawn(
            BfnGenerator::new(server.load("models/names.safetensors"))
                .with_batch(1_000_000)
                .with_steps(4)
                .with_seed(2),
        )
        .id();
    update_until(&mut app, 300, "the error", |app| {
        progress(app, entity).error.is_some()
    });
    let error = progress(&app, entity).error.unwrap();
    assert!(error.contains("max_texture_dimension_2d"), "{error}");
    for _ in 0..5 {
        update(&mut app);
    }
    assert!(!progress(&app, entity).finished);

    app.world_mut()
        .get_mut::<BfnGenerator>(entity)
        .unwrap()
        .batch = 2;
    update_until(&mut app, 300, "the smaller batch finishes", |app| {
        progress(app, entity).finished
    });
    assert_eq!(progress(&app, entity).error, None, "the error is cleared");
    assert_eq!(
        results_of(&app, entity),
        [standalone("names", settings("names", 2, 4, 2))]
    );
}

/// σ₁/β₁ set on the generator gives on the GPU what the CPU sampler gives with that accuracy, and not what the
/// model's own gives.
#[cfg(feature = "train")]
#[test]
fn accuracy_override_gives_the_cpu_samplers_result_on_the_gpu() {
    use bevy_bfn::measure::sample_sheet::sample;

    let (_app, mut app, server) = app_on_shipped_models();
    let (batch, steps, seed) = (4, 25, 3);
    for (name, accuracy) in [("names", 1.5), ("digits", 0.2)] {
        let entity = app
            .world_mut()
            .spawn(
                BfnGenerator::new(server.load(format!("models/{name}.safetensors")))
                    .with_batch(batch)
                    .with_sampler(SamplingMethod::Standard, steps)
                    .with_steps_per_frame(25)
                    .with_seed(seed)
                    .with_accuracy(accuracy),
            )
            .id();
        update_until(&mut app, 300, name, |app| progress(app, entity).finished);
        let on_gpu = results_of(&app, entity).pop().unwrap();

        let weights = Weights::load(format!("assets/models/{name}.safetensors")).unwrap();
        let mut config = weights.config().clone();
        assert_ne!(config.kind.accuracy(), accuracy);
        config.kind = config.kind.with_accuracy(accuracy);
        let overridden = Weights::new(config, weights.tensors().clone()).unwrap();
        let on_cpu = sample(&overridden, batch, steps, seed).unwrap();
        let agreeing = |a: &BfnOutput, b: &Samples| -> f64 {
            let b = BfnOutput::from_samples(overridden.config(), b);
            match (a, &b) {
                (BfnOutput::Strings(a), BfnOutput::Strings(b)) => {
                    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / b.len() as f64
                }
                (BfnOutput::Images(a), BfnOutput::Images(b)) => {
                    let (a, b): (Vec<u8>, Vec<u8>) = (
                        a.iter().flat_map(|i| i.rgba.clone()).collect(),
                        b.iter().flat_map(|i| i.rgba.clone()).collect(),
                    );
                    a.iter()
                        .zip(&b)
                        .filter(|(x, y)| x.abs_diff(**y) <= 1)
                        .count() as f64
                        / b.len() as f64
                }
                _ => panic!("{name}: outputs of different kinds"),
            }
        };
        let share = agreeing(&on_gpu, &on_cpu);
        assert!(
            share >= 0.99,
            "{name}: only {share} of the GPU's result is the CPU's"
        );
        let own = sample(&weights, batch, steps, seed).unwrap();
        assert_ne!(
            on_gpu,
            BfnOutput::from_samples(weights.config(), &own),
            "{name}: the override changed nothing"
        );
    }
}

/// A sampler set on the generator runs on the GPU: its result is the standalone job's with that sampler, and its
/// progress counts the solver's updates (n − 1).
#[test]
fn a_generators_sampler_gives_the_standalone_jobs_result() {
    let (_app, mut app, server) = app_on_shipped_models();
    let (steps, seed) = (6, 3);
    for sampler in ["ode2", "sde2", "redraw"] {
        let sampler: SamplingMethod = sampler.parse().unwrap();
        let entity = app
            .world_mut()
            .spawn(
                BfnGenerator::new(server.load("models/dungeon.safetensors"))
                    .with_sampler(sampler, steps)
                    .with_steps_per_frame(2)
                    .with_seed(seed),
            )
            .id();
        update_until(&mut app, 300, "the result", |app| {
            progress(app, entity).finished
        });
        assert_eq!(progress(&app, entity).steps, sampler.updates(steps));
        let expected = standalone(
            "dungeon",
            JobSettings {
                sampler,
                ..settings("dungeon", 1, steps, seed)
            },
        );
        assert_eq!(results_of(&app, entity), [expected], "{sampler}");
        assert_ne!(
            results_of(&app, entity),
            [standalone("dungeon", settings("dungeon", 1, steps, seed))],
            "{sampler} is not the standard sampler"
        );
    }
}

/// Paused, a generator takes no steps; each single step takes exactly one; resumed, it goes on k a frame; and
/// the sample is the uninterrupted run's.
#[test]
fn pause_single_step_and_resume_give_exact_counts_and_the_same_sample() {
    let (_app, mut app, server) = app_on_shipped_models();
    let (steps, k, seed) = (9, 2, 6);
    let entity = app
        .world_mut()
        .spawn(
            BfnGenerator::new(server.load("models/names.safetensors"))
                .with_sampler(SamplingMethod::Standard, steps)
                .with_steps_per_frame(k)
                .with_seed(seed)
                .paused(),
        )
        .id();
    update_until(&mut app, 300, "the model loads", |app| {
        progress(app, entity).steps == steps
    });
    // A frame's steps are reported to the main world in the next frame: `settle` runs both.
    let settle = |app: &mut App| {
        update(app);
        update(app);
        progress(app, entity).steps_done
    };
    for _ in 0..5 {
        update(&mut app);
    }
    assert_eq!(settle(&mut app), 0, "paused from the start");
    for _ in 0..3 {
        app.world_mut().trigger(BfnStepOnce { entity });
    }
    assert_eq!(
        settle(&mut app),
        3,
        "three single steps asked for in one frame"
    );
    for _ in 0..3 {
        update(&mut app);
    }
    assert_eq!(settle(&mut app), 3, "still paused");
    app.world_mut().trigger(BfnStepOnce { entity });
    assert_eq!(settle(&mut app), 4);
    app.world_mut()
        .get_mut::<BfnGenerator>(entity)
        .unwrap()
        .paused = false;
    let mut trace = Vec::new();
    for _ in 0..20 {
        if trace.last() == Some(&steps) {
            break;
        }
        update(&mut app);
        let done = progress(&app, entity).steps_done;
        if Some(&done) != trace.last() && done != 4 {
            trace.push(done);
        }
    }
    assert_eq!(trace, [6, 8, 9], "k = {k} a frame once resumed");
    update_until(&mut app, 300, "the result", |app| {
        progress(app, entity).finished
    });
    assert_eq!(
        results_of(&app, entity),
        [standalone(
            "names",
            JobSettings {
                sampler: SamplingMethod::Standard,
                ..settings("names", 1, steps, seed)
            }
        )]
    );
}

/// With a GPU-time budget the steps per frame follow the measured time per step: one a frame until the first
/// measurement, then as many as fit. A budget far above a step's time takes the rest at once; one far below
/// still takes a step a frame.
#[test]
fn budget_adjusts_the_steps_per_frame() {
    let (_app, mut app, server) = app_on_shipped_models();
    let model = server.load("models/names.safetensors");
    let steps = 300;
    let spawn = |app: &mut App, ms| {
        app.world_mut()
            .spawn(
                BfnGenerator::new(model.clone())
                    .with_sampler(SamplingMethod::Standard, steps)
                    .with_gpu_budget_ms(ms),
            )
            .id()
    };
    let (generous, tight) = (spawn(&mut app, 1e6), spawn(&mut app, 1e-6));
    let mut traces = [Vec::new(), Vec::new()];
    for _ in 0..1000 {
        update(&mut app);
        for (trace, entity) in traces.iter_mut().zip([generous, tight]) {
            let done = progress(&app, entity).steps_done;
            if done > 0 && trace.last() != Some(&done) {
                trace.push(done);
            }
        }
        if traces[1].len() >= 60 {
            break;
        }
    }
    let [generous_trace, tight_trace] = &traces;
    assert_eq!(generous_trace.first(), Some(&1), "{generous_trace:?}");
    assert_eq!(
        generous_trace.last(),
        Some(&steps),
        "the generous budget took the rest at once once measured: {generous_trace:?}"
    );
    assert!(
        generous_trace.len() < 20,
        "the generous budget should not stay at one step a frame: {generous_trace:?}"
    );
    assert!(
        tight_trace.windows(2).all(|w| w[1] - w[0] == 1) && tight_trace.len() >= 60,
        "the tight budget takes exactly one step a frame: {tight_trace:?}"
    );
    let measured = progress(&app, tight).gpu_ms_per_step;
    assert!(
        measured.is_some_and(|ms| ms > 0.0 && ms.is_finite()),
        "{measured:?}"
    );
}

/// β₁ = 20 (discrete) and σ₁ = 10⁻⁴ (continuous, discretised) on the GPU: θ and the results stay finite.
#[test]
fn finite_theta_and_results_at_extreme_accuracies_on_the_gpu() {
    let (_app, mut app, server) = app_on_shipped_models();
    let mut generators = Vec::new();
    for (name, accuracy, steps) in [
        ("names", 20.0, 50),
        ("digits", 1e-4, 50),
        ("terrain", 1e-4, 6),
    ] {
        let entity = app
            .world_mut()
            .spawn((
                BfnGenerator::new(server.load(format!("models/{name}.safetensors")))
                    .with_batch(2)
                    .with_steps(steps)
                    .with_steps_per_frame(steps)
                    .with_seed(8)
                    .with_accuracy(accuracy),
                BfnWatch::default(),
            ))
            .id();
        generators.push((name, entity));
    }
    update_until(&mut app, 600, "every generator finishes", |app| {
        generators.iter().all(|&(_, e)| {
            progress(app, e).finished && app.world().get::<BfnWatch>(e).unwrap().step > 0
        })
    });
    for (name, entity) in generators {
        assert_eq!(progress(&app, entity).error, None, "{name}");
        let theta = &app.world().get::<BfnWatch>(entity).unwrap().theta;
        assert!(!theta.is_empty(), "{name}: θ was read back");
        assert!(
            theta.iter().all(|v| v.is_finite()),
            "{name}: θ has {} values that are not finite",
            theta.iter().filter(|v| !v.is_finite()).count()
        );
        match results_of(&app, entity).pop().unwrap() {
            BfnOutput::HeightFields(fields) => assert!(
                fields
                    .iter()
                    .flat_map(|f| &f.heights)
                    .all(|h| h.is_finite()),
                "{name}: heights not finite"
            ),
            BfnOutput::Strings(words) => assert_eq!(words.len(), 2, "{name}"),
            BfnOutput::Images(images) => assert_eq!(images.len(), 2, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// The dungeon model's cell layout, and its floor and wall classes.
fn dungeon_cells() -> (Layout, u32, u32) {
    let weights = Weights::load("assets/models/dungeon.safetensors").unwrap();
    let class = |name: &str| {
        weights
            .config()
            .legend
            .iter()
            .position(|entry| entry.starts_with(name))
            .unwrap() as u32
    };
    (
        weights.config().pixel_layout(),
        class("floor"),
        class("wall"),
    )
}

fn tiles(output: &BfnOutput) -> &[TileGrid] {
    match output {
        BfnOutput::Tiles(maps) => maps,
        other => panic!("not maps: {other:?}"),
    }
}

/// A corridor of floor painted across row 8 and walls only in the top-left 4 × 4 corner: every map of the batch
/// keeps the corridor cell for cell and has nothing but walls in the corner, the result is the standalone GPU
/// job's under the same constraints, a restart keeps them (the same result again), and lifting them gives the
/// unconstrained run.
#[test]
fn painted_constraints_are_kept_survive_a_restart_and_lift() {
    let (_app, mut app, server) = app_on_shipped_models();
    let (layout, floor, wall) = dungeon_cells();
    let mut constraints = BfnConstraints::free(layout);
    let hard = |class| [Some(Known::held(AnyDatum::Class(class)))];
    for x in 0..layout.width {
        constraints.paint(layout, x, 8, &hard(floor));
    }
    for (x, y) in (0..4).flat_map(|x| (0..4).map(move |y| (x, y))) {
        constraints.allow(layout, x, y, Some(vec![wall]));
    }
    let (batch, steps, seed) = (2, 6, 9);
    let entity = app
        .world_mut()
        .spawn((
            BfnGenerator::new(server.load("models/dungeon.safetensors"))
                .with_batch(batch)
                .with_steps(steps)
                .with_steps_per_frame(3)
                .with_seed(seed),
            constraints.clone(),
        ))
        .id();
    let finished = |count: usize| move |app: &App| results_of(app, entity).len() == count;
    update_until(&mut app, 300, "the constrained result", finished(1));
    let first = results_of(&app, entity)[0].clone();
    for map in tiles(&first) {
        assert!((0..16).all(|x| map.class(x, 8) == floor), "the corridor");
        assert!(
            (0..4).all(|x| (0..4).all(|y| map.class(x, y) == wall)),
            "only walls in the corner"
        );
    }
    let settings = settings("dungeon", batch, steps, seed);
    assert_eq!(
        first,
        standalone_constrained("dungeon", settings, &constraints)
    );

    app.world_mut().trigger(BfnRestart { entity });
    update_until(&mut app, 300, "the result after a restart", finished(2));
    assert_eq!(results_of(&app, entity)[1], first, "a restart keeps them");

    app.world_mut()
        .entity_mut(entity)
        .remove::<BfnConstraints>();
    update_until(&mut app, 300, "the unconstrained result", finished(3));
    assert_eq!(results_of(&app, entity)[2], standalone("dungeon", settings));
}

/// Regenerating the left half of a finished batch keeps every cell of the right half of every map, samples the
/// left half again on the next seed (so it changes), and is the standalone job's result under those constraints.
#[test]
fn regenerating_a_region_keeps_the_rest_of_every_map() {
    let (_app, mut app, server) = app_on_shipped_models();
    let (layout, ..) = dungeon_cells();
    let (batch, steps, seed) = (2, 6, 21);
    let entity = app
        .world_mut()
        .spawn(
            BfnGenerator::new(server.load("models/dungeon.safetensors"))
                .with_batch(batch)
                .with_steps(steps)
                .with_steps_per_frame(3)
                .with_seed(seed),
        )
        .id();
    update_until(&mut app, 300, "the first result", |app| {
        results_of(app, entity).len() == 1
    });
    let left: Vec<bool> = (0..layout.tokens())
        .map(|cell| cell % layout.width < 8)
        .collect();
    app.world_mut().trigger(BfnRegenerate {
        entity,
        region: left,
    });
    update_until(&mut app, 300, "the regenerated result", |app| {
        results_of(app, entity).len() == 2
    });
    let results = results_of(&app, entity);
    let (before, after) = (tiles(&results[0]), tiles(&results[1]));
    for (old, new) in before.iter().zip(after) {
        for (x, y) in (8..16).flat_map(|x| (0..16).map(move |y| (x, y))) {
            assert_eq!(old.class(x, y), new.class(x, y), "kept cell ({x}, {y})");
        }
    }
    assert!(
        before
            .iter()
            .zip(after)
            .any(|(old, new)| (0..8).any(|x| (0..16).any(|y| old.class(x, y) != new.class(x, y)))),
        "the left half is sampled again"
    );
    let generator = app.world().get::<BfnGenerator>(entity).unwrap();
    assert_eq!(generator.seed, seed + 1);
    let kept = app.world().get::<BfnConstraints>(entity).unwrap().clone();
    assert_eq!(
        results[1],
        standalone_constrained(
            "dungeon",
            settings("dungeon", batch, steps, seed + 1),
            &kept
        )
    );
}

/// Constraints of a length that fits no example are an error on the generator, which runs once they are fixed.
#[test]
fn misfit_constraints_are_an_error_on_the_generator_and_the_app_runs_on() {
    let (_app, mut app, server) = app_on_shipped_models();
    let (layout, floor, _) = dungeon_cells();
    let mut misfit = BfnConstraints::default();
    misfit.0.known = vec![None; 7];
    let entity = app
        .world_mut()
        .spawn((
            BfnGenerator::new(server.load("models/dungeon.safetensors"))
                .with_steps(4)
                .with_steps_per_frame(2),
            misfit,
        ))
        .id();
    update_until(&mut app, 100, "the error", |app| {
        progress(app, entity).error.is_some()
    });
    let error = progress(&app, entity).error.unwrap();
    assert!(
        error.contains("constraints") && error.contains('7'),
        "{error}"
    );
    for _ in 0..5 {
        update(&mut app);
    }
    assert!(results_of(&app, entity).is_empty(), "no unconstrained run");

    // A class the model does not have: the render world refuses it, on the generator.
    let mut out_of_range = BfnConstraints::free(layout);
    out_of_range.paint(layout, 0, 0, &[Some(Known::held(AnyDatum::Class(99)))]);
    app.world_mut().entity_mut(entity).insert(out_of_range);
    update_until(&mut app, 100, "the class error", |app| {
        progress(app, entity)
            .error
            .is_some_and(|e| e.contains("99"))
    });

    let mut fixed = BfnConstraints::free(layout);
    fixed.paint(layout, 0, 0, &[Some(Known::held(AnyDatum::Class(floor)))]);
    app.world_mut().entity_mut(entity).insert(fixed);
    update_until(&mut app, 300, "the result", |app| {
        progress(app, entity).finished
    });
    assert_eq!(progress(&app, entity).error, None);
    assert_eq!(tiles(&results_of(&app, entity)[0])[0].class(0, 0), floor);
}

/// Maps larger than the canvas, plain and tileable: one result per run of all the windows, equal to the mosaic
/// drawn window by window with standalone GPU jobs, with a corridor painted across the whole map kept, and the
/// progress counting the windows.
#[test]
fn a_mosaic_generator_draws_maps_larger_than_the_canvas_window_by_window() {
    let (_app, mut app, server) = app_on_shipped_models();
    let (_, floor, _) = dungeon_cells();
    for mosaic in [BfnMosaic::new(24, 20), BfnMosaic::new(32, 24).tileable()] {
        let map = Layout {
            height: mosaic.0.height,
            width: mosaic.0.width,
            channels: 1,
        };
        let mut corridor = BfnConstraints::free(map);
        for x in 0..map.width {
            corridor.paint(map, x, 10, &[Some(Known::held(AnyDatum::Class(floor)))]);
        }
        let (batch, steps, seed) = (2, 4, 13);
        let entity = app
            .world_mut()
            .spawn((
                BfnGenerator::new(server.load("models/dungeon.safetensors"))
                    .with_batch(batch)
                    .with_steps(steps)
                    .with_steps_per_frame(2)
                    .with_seed(seed),
                mosaic,
                corridor.clone(),
            ))
            .id();
        update_until(&mut app, 600, "the mosaic", |app| {
            progress(app, entity).finished
        });
        let done = progress(&app, entity);
        assert!(done.windows >= 4, "{mosaic:?}: {} windows", done.windows);
        assert_eq!((done.windows_done, done.fraction()), (done.windows, 1.0));
        let results = results_of(&app, entity);
        assert_eq!(
            results.len(),
            1,
            "{mosaic:?}: one result for all the windows"
        );
        let maps = tiles(&results[0]);
        assert_eq!(maps.len(), batch);
        for grid in maps {
            assert_eq!((grid.width, grid.height), (map.width, map.height));
            assert!(
                (0..map.width).all(|x| grid.class(x, 10) == floor),
                "the corridor"
            );
        }
        let expected = standalone_mosaic(
            "dungeon",
            settings("dungeon", batch, steps, seed),
            mosaic.0,
            &corridor,
        );
        assert_eq!(results[0], expected, "{mosaic:?}");
    }
}

/// A model file that claims 10⁹ layers (a mod, a download) is an asset load error naming the limit on its
/// generator, before anything of that size is allocated; the app runs on, and a generator of a sound model in the
/// same app delivers.
#[test]
fn a_model_claiming_a_billion_layers_is_an_asset_error_and_the_app_runs_on() {
    let _app = one_app_at_a_time();
    let assets = asset_folder();
    let mut app = headless_app(&assets);
    let server = app.world().resource::<AssetServer>().clone();
    let huge = app
        .world_mut()
        .spawn(BfnGenerator::new(
            server.load("models/billion-layers.safetensors"),
        ))
        .id();
    let sound = app
        .world_mut()
        .spawn(BfnGenerator::new(server.load("models/names.safetensors")).with_steps(4))
        .id();
    update_until(&mut app, 600, "the error and the sound result", |app| {
        progress(app, huge).error.is_some() && progress(app, sound).finished
    });
    let error = progress(&app, huge).error.unwrap();
    assert!(
        error.contains("Limits::layers") && error.contains("1000000000"),
        "{error}"
    );
    assert_eq!(results_of(&app, sound).len(), 1);
}

/// A generator of the conditional digits asking for a class per example with guidance gives the standalone guided
/// job's result; a new weight (the second pass stays) and then w = 0 (it goes: a new job) each start a run that
/// gives the standalone job's result with them. Each weight gives other digits than the one before (w = 4 is not
/// w = 2's run again), and guidance steers: the share of the digits asking for a class whose nearest held-out
/// digit is of that class is higher at w = 2 than at w = 0, by a fifth of the digits at least.
#[test]
fn a_generator_asks_a_conditional_model_for_classes_with_guidance() {
    let (_app, mut app, server) = app_on_shipped_models();
    let (batch, steps, seed) = (20, 8, 6);
    // Every digit twice, but for one example that asks for none (its row left unmixed).
    let labels: Vec<Option<u32>> = (0..batch as u32)
        .map(|e| (e != 1).then_some(e % 10))
        .collect();
    let mut guidance = Guidance {
        labels: labels.clone(),
        weight: 2.0,
    };
    let entity = app
        .world_mut()
        .spawn(
            BfnGenerator::new(server.load("models/digits-conditional.safetensors"))
                .with_batch(batch)
                .with_steps(steps)
                .with_steps_per_frame(4)
                .with_seed(seed)
                .with_guidance(guidance.clone()),
        )
        .id();
    let settings = settings("digits-conditional", batch, steps, seed);
    let weights = Weights::load("assets/models/digits-conditional.safetensors").unwrap();
    let mut samples = Vec::new();
    for weight in [2.0, 4.0, 0.0] {
        guidance.weight = weight;
        app.world_mut()
            .get_mut::<BfnGenerator>(entity)
            .unwrap()
            .guidance = guidance.clone();
        let before = results_of(&app, entity).len();
        update_until(&mut app, 300, "the guided result", |app| {
            results_of(app, entity).len() > before
        });
        let expected = standalone_guided_samples(&weights, settings, &guidance);
        assert_eq!(
            results_of(&app, entity).last().unwrap(),
            &BfnOutput::from_samples(weights.config(), &expected),
            "w = {weight}"
        );
        samples.push((weight, expected));
    }
    let results = results_of(&app, entity);
    for pair in results.windows(2) {
        // Not assert_ne!, which would print twenty images twice.
        assert!(pair[0] != pair[1], "a new weight gives the same digits");
    }
    let unguided = standalone("digits-conditional", settings);
    assert_ne!(results[0], unguided, "the classes change the digits");
    #[cfg(feature = "train")]
    {
        let share = |weight| {
            let (_, samples) = samples.iter().find(|(w, _)| *w == weight).unwrap();
            common::share_of_requested_digits(weights.config(), samples, &labels)
        };
        let (s0, s2) = (share(0.0), share(2.0));
        eprintln!("nearest digit is the one asked for: w = 0 {s0:.3}, w = 2 {s2:.3}");
        assert!(
            s2 >= s0 + 0.2,
            "guidance does not steer: w = 0 {s0}, w = 2 {s2}"
        );
    }
}

/// A generator of a U-Net model samples its own canvas and, given one, a whole level four times its size in one
/// pass, each equal to the standalone GPU job; a GPT generator given a canvas and a U-Net file with a wrong
/// tensor shape are errors naming the problem, and the app runs on.
#[test]
fn a_unet_generator_samples_its_canvas_and_a_larger_one_in_one_pass() {
    let _app = one_app_at_a_time();
    let assets = asset_folder();
    let mut app = headless_app(&assets);
    let server = app.world().resource::<AssetServer>().clone();
    let (steps, seed) = (6, 3);
    let spawn = |app: &mut App, name: &str, canvas: Option<(usize, usize)>| {
        let mut generator = BfnGenerator::new(server.load(format!("models/{name}.safetensors")))
            .with_steps(steps)
            .with_steps_per_frame(4)
            .with_seed(seed);
        generator.canvas = canvas;
        app.world_mut().spawn(generator).id()
    };
    let own = spawn(&mut app, "unet", None);
    let level = spawn(&mut app, "unet", Some((32, 24)));
    let gpt = spawn(&mut app, "gpt-dungeon", Some((32, 24)));
    let broken = spawn(&mut app, "unet-wrong-shape", None);
    update_until(&mut app, 600, "both U-Net results and both errors", |app| {
        progress(app, own).finished
            && progress(app, level).finished
            && progress(app, gpt).error.is_some()
            && progress(app, broken).error.is_some()
    });
    let unet = common::unet_dungeon();
    let settings = JobSettings {
        batch: 1,
        steps,
        seed,
        accuracy: None,
        sampler: SamplingMethod::Standard,
    };
    for (entity, weights) in [
        (own, unet.clone()),
        (level, unet.with_canvas(32, 24).unwrap()),
    ] {
        let expected = standalone_samples(&weights, settings, &Constraints::default());
        let results = results_of(&app, entity);
        assert_eq!(
            results,
            [BfnOutput::from_samples(weights.config(), &expected)]
        );
        let BfnOutput::Tiles(maps) = &results[0] else {
            panic!("a U-Net dungeon gives tile maps")
        };
        assert_eq!(
            (maps[0].width, maps[0].height),
            (
                weights.config().layout.width,
                weights.config().layout.height
            )
        );
    }
    let error = progress(&app, gpt).error.unwrap();
    assert!(
        error.contains("GPT") && error.contains("absolute"),
        "{error}"
    );
    let error = progress(&app, broken).error.unwrap();
    assert!(error.contains(UNET_CONV), "{error}");
    std::fs::remove_dir_all(assets).ok();
}
