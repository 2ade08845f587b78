//! The plugin under a game's load (headless, on lavapipe in CI): waves of generators of every shipped model kind
//! spawned and despawned while, at random frames from a fixed seed, they are restarted, single-stepped, given
//! other seeds, batches, samplers and accuracies, painted on and regenerated, their model file is replaced on disk
//! and reloaded, and one generator per wave loads a corrupt file. Every frame is checked against the game-wide
//! budget; after every wave the GPU memory the plugin holds goes back to what it held before it, and after the last
//! wgpu's own counters (buffers, their bytes, the preview textures' bytes) do too.
#![cfg(feature = "studio")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy::render::RenderApp;
use bevy::render::renderer::RenderDevice;
use bevy_bfn::flow::{AnyDatum, Known, SamplingMethod};
use bevy_bfn::gpu::{DeviceKernels, GpuContext, GpuModel, SamplingJob};
use bevy_bfn::model::{Guidance, KindConfig, Weights};
use bevy_bfn::plugin::{
    BfnConstraints, BfnGenerator, BfnGpuMemory, BfnModel, BfnOutput, BfnPriority, BfnRegenerate,
    BfnRestart, BfnSettings, BfnStepOnce,
};
use common::app::headless::{Frames, collect_frames};
use common::app::{Results, headless_app, one_app_at_a_time, progress, results_of, update};

/// Every shipped model, the test U-Net (on its canvas and a larger one) and a file replaced on disk every wave.
const MODELS: [&str; 11] = [
    "dungeon",
    "names",
    "digits",
    "terrain",
    "sprites",
    "digits-conditional",
    "names-conditional",
    "sprites-conditional",
    "unet",
    "unet-level",
    "swapped",
];

const WAVES: usize = 10;
const PER_WAVE: usize = 7;
/// Frames of a wave in which things happen to its generators; after them the wave runs to its end.
const BUSY_FRAMES: u32 = 24;

/// splitmix64: the events' dice, from a fixed seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The assets: the shipped models, the U-Net, a copy of names to be replaced on disk, and a truncated file.
fn asset_folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bevy_bfn_soak_{}", std::process::id()));
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    for name in &MODELS[..8] {
        std::fs::copy(
            format!("assets/models/{name}.safetensors"),
            models.join(format!("{name}.safetensors")),
        )
        .unwrap();
    }
    std::fs::write(
        models.join("unet.safetensors"),
        common::unet_dungeon().to_bytes(),
    )
    .unwrap();
    std::fs::copy(
        "assets/models/names.safetensors",
        models.join("swapped.safetensors"),
    )
    .unwrap();
    let bytes = std::fs::read("assets/models/sprites.safetensors").unwrap();
    std::fs::write(
        models.join("corrupt.safetensors"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    dir
}

/// An app with the plugin that collects every frame's report.
fn soak_app(assets: &Path) -> App {
    let mut app = headless_app(assets);
    collect_frames(&mut app);
    app
}

/// The generator of model `MODELS[model]` a wave spawns.
fn spawn(app: &mut App, dice: &mut Dice, model: usize) -> Entity {
    let server = app.world().resource::<AssetServer>().clone();
    let name = MODELS[model];
    let file = match name {
        "unet-level" => "unet",
        name => name,
    };
    let mut generator = BfnGenerator::new(server.load(format!("models/{file}.safetensors")))
        .with_steps(4 + dice.below(3) as u32)
        .with_steps_per_frame(1 + dice.below(3) as u32)
        .with_seed(dice.next() % 1000);
    // The sprites are the dearest kind on lavapipe: one at a time.
    if !name.starts_with("sprites") {
        generator = generator.with_batch(1 + dice.below(2) as usize);
    }
    if name.ends_with("-conditional") {
        let labels = Weights::load(format!("assets/models/{name}.safetensors"))
            .unwrap()
            .config()
            .labels
            .len();
        generator = generator.with_class(dice.below(labels as u64) as u32, 2.0);
    }
    if name == "unet-level" {
        generator = generator.with_canvas(32, 16);
    }
    let entity = app.world_mut().spawn(generator).id();
    if dice.chance(30) {
        app.world_mut()
            .entity_mut(entity)
            .insert(BfnPriority(1 + dice.below(3) as u32));
    }
    entity
}

/// The weights a generator samples now, as the plugin sees them.
fn weights_of(app: &App, entity: Entity) -> Option<std::sync::Arc<Weights>> {
    let generator = app.world().get::<BfnGenerator>(entity)?;
    let model = app
        .world()
        .resource::<Assets<BfnModel>>()
        .get(&generator.model)?;
    generator.weights(model).ok()
}

/// Something a game does to a generator of `MODELS[model]`.
fn act(app: &mut App, dice: &mut Dice, entity: Entity, model: usize) {
    let name = MODELS[model];
    let tiles = matches!(name, "dungeon" | "unet" | "unet-level");
    let Some(weights) = weights_of(app, entity) else {
        return;
    };
    let config = weights.config().clone();
    let finished = progress(app, entity).finished;
    let world = app.world_mut();
    match dice.below(9) {
        0 => {
            world.trigger(BfnRestart { entity });
        }
        1 => {
            // Paused and stepped by hand; a later event or the wave's end lets it run again.
            world.get_mut::<BfnGenerator>(entity).unwrap().paused = true;
            for _ in 0..1 + dice.below(3) {
                world.trigger(BfnStepOnce { entity });
            }
        }
        2 => world.get_mut::<BfnGenerator>(entity).unwrap().seed += 1,
        // The sprites stay at one example: the dearest kind on lavapipe.
        3 if !name.starts_with("sprites") => {
            let mut generator = world.get_mut::<BfnGenerator>(entity).unwrap();
            generator.batch = 1 + generator.batch % 2;
        }
        4 => {
            let sampler = [
                SamplingMethod::Standard,
                SamplingMethod::Ode2 { eta: 1e-5 },
                SamplingMethod::Sde2 { eta: 1e-5 },
            ][dice.below(3) as usize];
            let mut generator = world.get_mut::<BfnGenerator>(entity).unwrap();
            let steps = generator.steps_for(&config);
            *generator = generator.clone().with_sampler(sampler, steps);
        }
        5 => {
            let factor = [0.8, 1.0, 1.25][dice.below(3) as usize];
            world.get_mut::<BfnGenerator>(entity).unwrap().accuracy =
                Some(config.kind.accuracy() * factor);
        }
        6 if tiles => {
            let KindConfig::Discrete { classes, .. } = config.kind else {
                unreachable!("tile maps are discrete")
            };
            let layout = config.pixel_layout();
            let mut constraints = world
                .get::<BfnConstraints>(entity)
                .cloned()
                .unwrap_or_else(|| BfnConstraints::free(layout));
            let (x, y) = (
                dice.below(layout.width as u64) as usize,
                dice.below(layout.height as u64) as usize,
            );
            let class = dice.below(classes as u64) as u32;
            constraints.paint(layout, x, y, &[Some(Known::held(AnyDatum::Class(class)))]);
            world.entity_mut(entity).insert(constraints);
        }
        7 if finished => {
            let cells = config.pixel_layout().tokens();
            let region = (0..cells).map(|cell| cell % 3 == 0).collect();
            world.trigger(BfnRegenerate { entity, region });
        }
        _ => world.get_mut::<BfnGenerator>(entity).unwrap().paused = false,
    }
}

/// Whether the generator has delivered the result of its current run, or reported an error.
fn settled(app: &App, entity: Entity) -> bool {
    let progress = progress(app, entity);
    progress.error.is_some() || (progress.finished && !results_of(app, entity).is_empty())
}

/// A standalone GPU job's result for what the generator asks now, on a device of the test's own.
struct Standalone {
    gpu: GpuContext,
    kernels: DeviceKernels,
    /// By the weights' address, the weights kept so that the address is not reused while cached.
    models: HashMap<usize, (std::sync::Arc<Weights>, GpuModel)>,
}

impl Standalone {
    fn new() -> Self {
        let gpu = GpuContext::new().unwrap();
        let kernels = DeviceKernels::new(&gpu.device).unwrap();
        Self {
            gpu,
            kernels,
            models: HashMap::new(),
        }
    }

    fn result(&mut self, app: &App, entity: Entity) -> BfnOutput {
        let weights = weights_of(app, entity).unwrap();
        let generator = app.world().get::<BfnGenerator>(entity).unwrap();
        let config = weights.config();
        let settings = generator.job_settings(config);
        let (_, model) = self
            .models
            .entry(std::sync::Arc::as_ptr(&weights) as usize)
            .or_insert_with(|| {
                let model = GpuModel::with_kernels(&self.gpu.device, &weights, &self.kernels);
                (std::sync::Arc::clone(&weights), model.unwrap())
            });
        let guidance: &Guidance = &generator.guidance;
        let mut job = SamplingJob::guided(&self.gpu.device, model, settings, guidance).unwrap();
        if let Some(constraints) = app.world().get::<BfnConstraints>(entity) {
            let placed = config
                .place_constraints(&constraints.0, settings.batch)
                .unwrap();
            job.write_constraints(&self.gpu.queue, &placed).unwrap();
        }
        let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
        job.record_steps(&mut encoder, settings.steps);
        self.gpu.queue.submit([encoder.finish()]);
        let samples = job.read_samples(&self.gpu.device, &self.gpu.queue).unwrap();
        BfnOutput::from_samples(config, &samples)
    }
}

/// The process's resident memory, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// wgpu's own count of the render device's buffers, their bytes and the bytes of its textures (feature
/// `wgpu-counters`, which `studio` turns on), independent of the plugin's count. (Not the count of textures:
/// wgpu-hal 29's Vulkan backend counts a texture when it is destroyed but not when it is created.)
fn device_counts(app: &App) -> [isize; 3] {
    let device = app.sub_app(RenderApp).world().resource::<RenderDevice>();
    let hal = device.wgpu_device().get_internal_counters().hal;
    [
        hal.buffers.read(),
        hal.buffer_memory.read(),
        hal.texture_memory.read(),
    ]
}

/// Checks every frame recorded since the last call against the caps it was recorded under.
fn check_frames(app: &mut App, wave: usize) {
    for frame in std::mem::take(&mut app.world_mut().resource_mut::<Frames>().0) {
        let steps = frame.total_steps();
        if frame.allowance {
            assert_eq!(
                steps, 1,
                "wave {wave}: the allowance is one step: {frame:?}"
            );
            continue;
        }
        if let Some(cap) = frame.max_steps {
            assert!(
                steps <= cap,
                "wave {wave}: {steps} steps over the cap: {frame:?}"
            );
        }
        if let Some(budget) = frame.budget_ms {
            assert!(
                frame.gpu_ms <= budget * (1.0 + 1e-5),
                "wave {wave}: {} GPU ms over the budget: {frame:?}",
                frame.gpu_ms
            );
        }
    }
}

#[test]
fn waves_of_generators_under_churn_deliver_and_give_back_their_gpu_memory() {
    let _app = one_app_at_a_time();
    let assets = asset_folder();
    let mut app = soak_app(&assets);
    let server = app.world().resource::<AssetServer>().clone();
    let mut dice = Dice(40);
    let mut standalone = Standalone::new();
    for _ in 0..3 {
        update(&mut app);
    }
    let before = *app.world().resource::<BfnGpuMemory>();
    assert_eq!(
        before,
        BfnGpuMemory::default(),
        "nothing held before the first wave"
    );
    let device_before = device_counts(&app);
    let mut device_settled = device_before;
    let mut resident = Vec::new();
    let mut compared = 0;
    for wave in 0..WAVES {
        // The settings change from wave to wave: a GPU-time budget, a step cap, nothing.
        *app.world_mut().resource_mut::<BfnSettings>() = match wave % 3 {
            0 => BfnSettings {
                frame_budget_ms: Some(60.0),
                max_steps_per_frame: None,
            },
            1 => BfnSettings {
                frame_budget_ms: None,
                max_steps_per_frame: Some(3),
            },
            _ => BfnSettings::default(),
        };
        if wave > 0 {
            // Replaced on disk with another kind of model and reloaded, as Bevy's file watcher would.
            let with = if wave % 2 == 1 { "dungeon" } else { "names" };
            std::fs::copy(
                format!("assets/models/{with}.safetensors"),
                assets.join("models/swapped.safetensors"),
            )
            .unwrap();
            server.reload("models/swapped.safetensors");
        }
        let mut generators: Vec<(Entity, usize)> = (0..PER_WAVE)
            .map(|i| (wave * PER_WAVE + i) % MODELS.len())
            .map(|model| (spawn(&mut app, &mut dice, model), model))
            .collect();
        let corrupt = app
            .world_mut()
            .spawn(BfnGenerator::new(server.load("models/corrupt.safetensors")))
            .id();
        // Despawned while it runs, as a game despawns the generator of a room the player has left.
        let mut doomed = Some(
            app.world_mut()
                .spawn(
                    BfnGenerator::new(server.load("models/dungeon.safetensors"))
                        .with_steps(200)
                        .with_steps_per_frame(1),
                )
                .id(),
        );
        let mut frame = 0;
        loop {
            update(&mut app);
            check_frames(&mut app, wave);
            frame += 1;
            if let Some(entity) = doomed
                && frame >= BUSY_FRAMES / 2
                && progress(&app, entity).steps_done > 0
            {
                app.world_mut().despawn(entity);
                doomed = None;
            }
            if frame < BUSY_FRAMES {
                for &(entity, model) in &generators {
                    if dice.chance(8) {
                        act(&mut app, &mut dice, entity, model);
                    }
                }
            } else if frame == BUSY_FRAMES {
                for &(entity, _) in &generators {
                    app.world_mut()
                        .get_mut::<BfnGenerator>(entity)
                        .unwrap()
                        .paused = false;
                }
            } else if generators.iter().all(|&(e, _)| settled(&app, e))
                && progress(&app, corrupt).error.is_some()
                && doomed.is_none()
            {
                break;
            }
            assert!(
                frame < 3000,
                "wave {wave}: not every generator delivered or failed within 3000 frames: {:?}",
                generators
                    .iter()
                    .map(|&(e, m)| (MODELS[m], progress(&app, e)))
                    .collect::<Vec<_>>()
            );
        }
        let error = progress(&app, corrupt).error.unwrap();
        assert!(
            error.contains("safetensors") || error.contains("complete"),
            "wave {wave}: the corrupt file's error names the problem: {error}"
        );
        for &(entity, model) in &generators {
            let progress = progress(&app, entity);
            assert_eq!(
                progress.error, None,
                "wave {wave}: {} reported an error",
                MODELS[model]
            );
        }
        // What the plugin says it holds (the models, its jobs being freed on delivery), seen from outside: the
        // device's buffers beyond those before the first wave. Bevy's own (uniforms, the staging of an image
        // upload) come and go by one or two; a job holds dozens.
        let held = app.world().resource::<BfnGpuMemory>().total;
        let beyond = device_counts(&app)[0] - device_before[0];
        assert!(
            beyond.abs_diff(held.buffers as isize) <= 2,
            "wave {wave}: {beyond} buffers on the device beyond those before the first wave, the plugin holds {}",
            held.buffers
        );
        // One generator a wave, in turn, against a standalone job with its final settings.
        let (entity, model) = generators.remove(wave % generators.len());
        let delivered = results_of(&app, entity).pop().unwrap();
        assert_eq!(
            delivered,
            standalone.result(&app, entity),
            "wave {wave}: {} delivered what a standalone job of its final settings samples",
            MODELS[model]
        );
        compared += 1;
        generators.push((entity, model));
        // The test's own device keeps nothing from wave to wave, so that its memory is not the plugin's growth.
        standalone.models.clear();

        for (entity, _) in generators {
            app.world_mut().despawn(entity);
        }
        app.world_mut().despawn(corrupt);
        for _ in 0..4 {
            update(&mut app);
        }
        check_frames(&mut app, wave);
        assert_eq!(
            *app.world().resource::<BfnGpuMemory>(),
            before,
            "wave {wave}: once its generators are despawned, the plugin holds what it held before"
        );
        app.world_mut().resource_mut::<Results>().0.clear();
        if wave == 0 {
            // Bevy makes a buffer or two of its own lazily in the first frames it renders anything.
            device_settled = device_counts(&app);
        }
        if wave == 1 || wave == WAVES - 1 {
            resident.push(resident_bytes());
        }
    }
    assert_eq!(compared, WAVES);
    // Up to one buffer of Bevy's: every frame it writes its 12-byte globals uniform through a staging buffer that
    // lives until the GPU has run the frame, so a count may or may not hold it (an app with no generator at all,
    // on lavapipe, holds 12 or 13 buffers from frame to frame).
    let after = device_counts(&app);
    let moved = [after[0] - device_settled[0], after[1] - device_settled[1]];
    assert!(
        matches!(moved, [0, 0] | [1, 12] | [-1, -12]) && after[2] == device_settled[2],
        "wgpu's count of the device's buffers, their bytes and the textures' bytes is back where it was after \
         the first wave (up to Bevy's staging of its globals): {after:?} against {device_settled:?}"
    );
    let (second, tenth) = (resident[0] as f64, resident[1] as f64);
    assert!(
        (tenth - second).abs() <= 0.1 * second,
        "resident memory after wave 10 ({:.0} MiB) within 10% of that after wave 2 ({:.0} MiB)",
        tenth / 1048576.0,
        second / 1048576.0
    );
    std::fs::remove_dir_all(assets).ok();
}

/// Sixteen generators under one budget: no frame records more than the budget allows (the one-step allowance
/// aside), every generator finishes with the standalone job's result, and the budget binds: the frames hold
/// fewer steps than the generators would take on their own. Once under a GPU-time budget and once under a step
/// cap.
#[test]
fn sixteen_generators_under_one_budget_never_exceed_it_and_all_finish() {
    let _app = one_app_at_a_time();
    let assets = asset_folder();
    let mut app = soak_app(&assets);
    let server = app.world().resource::<AssetServer>().clone();
    let mut standalone = Standalone::new();
    let model = server.load("models/names.safetensors");
    for settings in [
        BfnSettings {
            frame_budget_ms: Some(80.0),
            max_steps_per_frame: None,
        },
        BfnSettings {
            frame_budget_ms: None,
            max_steps_per_frame: Some(5),
        },
    ] {
        *app.world_mut().resource_mut::<BfnSettings>() = settings;
        let generators: Vec<Entity> = (0..16)
            .map(|seed| {
                app.world_mut()
                    .spawn(
                        BfnGenerator::new(model.clone())
                            .with_steps(8)
                            .with_steps_per_frame(4)
                            .with_seed(seed),
                    )
                    .id()
            })
            .collect();
        let mut most = 0;
        let mut frames = 0;
        while !generators.iter().all(|&e| progress(&app, e).finished) {
            update(&mut app);
            frames += 1;
            assert!(frames < 2000, "{settings:?}: not every generator finished");
            for frame in std::mem::take(&mut app.world_mut().resource_mut::<Frames>().0) {
                let steps = frame.total_steps();
                most = most.max(steps);
                if frame.allowance {
                    assert_eq!(steps, 1, "{frame:?}");
                } else if let Some(budget) = settings.frame_budget_ms {
                    assert_eq!(
                        frame.budget_ms,
                        Some(budget),
                        "lavapipe has timestamp queries"
                    );
                    assert!(frame.gpu_ms <= budget * (1.0 + 1e-5), "{frame:?}");
                } else {
                    assert!(steps <= 5, "{frame:?}");
                }
            }
        }
        assert!(
            most < 16 * 4,
            "{settings:?}: the budget binds (at most {most} steps in a frame)"
        );
        for &entity in generators.iter().step_by(5) {
            assert_eq!(
                results_of(&app, entity).last().unwrap(),
                &standalone.result(&app, entity)
            );
        }
        for entity in generators {
            app.world_mut().despawn(entity);
        }
    }
    std::fs::remove_dir_all(assets).ok();
}

/// Settings out of range are refused with an error naming them, and the previous settings stay in force.
#[test]
fn settings_out_of_range_are_refused_by_name() {
    let _app = one_app_at_a_time();
    let assets = asset_folder();
    let mut app = soak_app(&assets);
    let good = BfnSettings {
        frame_budget_ms: None,
        max_steps_per_frame: Some(2),
    };
    *app.world_mut().resource_mut::<BfnSettings>() = good;
    update(&mut app);
    *app.world_mut().resource_mut::<BfnSettings>() = BfnSettings {
        frame_budget_ms: Some(f32::NAN),
        max_steps_per_frame: Some(2),
    };
    update(&mut app);
    let stats = app.world().resource::<bevy_bfn::plugin::BfnFrameStats>();
    let error = stats.settings_error.clone().unwrap();
    assert!(error.contains("frame_budget_ms"), "{error}");
    // Still capped at 2 steps a frame: the refused settings did not replace the good ones.
    let server = app.world().resource::<AssetServer>().clone();
    let entity = app
        .world_mut()
        .spawn(
            BfnGenerator::new(server.load("models/names.safetensors"))
                .with_steps(6)
                .with_steps_per_frame(6),
        )
        .id();
    while !progress(&app, entity).finished {
        update(&mut app);
        for frame in std::mem::take(&mut app.world_mut().resource_mut::<Frames>().0) {
            assert!(frame.total_steps() <= 2, "{frame:?}");
        }
    }
    *app.world_mut().resource_mut::<BfnSettings>() = BfnSettings {
        frame_budget_ms: None,
        max_steps_per_frame: Some(0),
    };
    update(&mut app);
    let stats = app.world().resource::<bevy_bfn::plugin::BfnFrameStats>();
    assert!(
        stats
            .settings_error
            .as_deref()
            .is_some_and(|e| e.contains("max_steps_per_frame")),
        "{:?}",
        stats.settings_error
    );
    std::fs::remove_dir_all(assets).ok();
}
