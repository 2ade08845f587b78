//! The frame cost of many generators under one game-wide budget: for each model and each number of generators,
//! headless, the frames until every generator has finished and the GPU milliseconds each frame spent (the
//! plugin's [`BfnFrame`] reports, at each job's time per step measured by timestamp queries), median and worst.
//!
//! `cargo run --release --example frame_cost --features studio -- --models dungeon,sprites --generators 1,4,16,64
//! --budget-ms 2 --steps 10`

#[path = "common/headless.rs"]
mod headless;

use std::path::Path;
use std::time::Instant;

use bevy::prelude::*;
use bevy::render::RenderApp;
use bevy::render::renderer::RenderAdapterInfo;
use bevy_bfn::plugin::{BfnFrame, BfnGenerator, BfnProgress, BfnSettings};
use headless::{Frames, collect_frames, headless_app};

/// The command line: `--name a,b,c` lists, `--name x` numbers.
struct Options {
    models: Vec<String>,
    generators: Vec<usize>,
    budget_ms: f32,
    steps: u32,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let mut options = Self {
            models: vec!["dungeon".into(), "sprites".into()],
            generators: vec![1, 4, 16, 64],
            budget_ms: 2.0,
            steps: 10,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or(format!("{flag} needs a value"))?;
            let number = |v: &str| v.parse().map_err(|_| format!("{flag}: not a number: {v}"));
            match flag.as_str() {
                "--models" => options.models = value.split(',').map(str::to_owned).collect(),
                "--generators" => {
                    options.generators = value.split(',').map(number).collect::<Result<_, _>>()?;
                }
                "--budget-ms" => {
                    options.budget_ms = value
                        .parse()
                        .map_err(|_| format!("--budget-ms: not a number: {value}"))?;
                }
                "--steps" => options.steps = number(&value)? as u32,
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        let settings = BfnSettings {
            frame_budget_ms: Some(options.budget_ms),
            max_steps_per_frame: None,
        };
        settings.check()?;
        Ok(options)
    }
}

/// A headless app with the plugin on this crate's models, under `budget_ms`, collecting every frame's report.
fn app(budget_ms: f32) -> App {
    let mut app = headless_app(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/assets")));
    app.insert_resource(BfnSettings {
        frame_budget_ms: Some(budget_ms),
        max_steps_per_frame: None,
    });
    collect_frames(&mut app);
    app
}

/// The median and the largest of `values` (0 for none).
fn median_and_worst(mut values: Vec<f32>) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    values.sort_by(f32::total_cmp);
    (values[values.len() / 2], values[values.len() - 1])
}

fn main() {
    let options = match Options::parse() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("frame_cost: {error}");
            std::process::exit(2);
        }
    };
    let mut app = app(options.budget_ms);
    let adapter = app
        .sub_app(RenderApp)
        .world()
        .resource::<RenderAdapterInfo>();
    println!("adapter: {} ({:?})", adapter.name, adapter.backend);
    println!(
        "budget {} GPU ms a frame for all generators together; n = {} steps a generator, batch 1",
        options.budget_ms, options.steps
    );
    println!(
        "{:<10} {:>10} {:>8} {:>12} {:>14} {:>12} {:>10} {:>8}",
        "model",
        "generators",
        "frames",
        "steps/frame",
        "GPU ms median",
        "GPU ms worst",
        "allowance",
        "wall s"
    );
    for model in &options.models {
        let handle = app
            .world()
            .resource::<AssetServer>()
            .load(format!("models/{model}.safetensors"));
        for &count in &options.generators {
            let generators: Vec<Entity> = (0..count)
                .map(|seed| {
                    let generator = BfnGenerator::new(handle.clone())
                        .with_steps(options.steps)
                        // The game-wide budget decides, not the generator's own limit.
                        .with_steps_per_frame(options.steps)
                        .with_seed(seed as u64);
                    app.world_mut().spawn(generator).id()
                })
                .collect();
            let start = Instant::now();
            app.world_mut().resource_mut::<Frames>().0.clear();
            let finished = |app: &App| {
                generators.iter().all(|&e| {
                    app.world()
                        .get::<BfnProgress>(e)
                        .is_some_and(|p| p.finished || p.error.is_some())
                })
            };
            while !finished(&app) {
                app.update();
            }
            if let Some(error) = generators
                .iter()
                .find_map(|&e| app.world().get::<BfnProgress>(e)?.error.clone())
            {
                eprintln!("frame_cost: {model}: {error}");
                std::process::exit(1);
            }
            let frames: Vec<BfnFrame> =
                std::mem::take(&mut app.world_mut().resource_mut::<Frames>().0)
                    .into_iter()
                    .filter(|frame| frame.total_steps() > 0)
                    .collect();
            let (ms, worst) = median_and_worst(frames.iter().map(|f| f.gpu_ms).collect());
            let (steps, _) =
                median_and_worst(frames.iter().map(|f| f.total_steps() as f32).collect());
            let allowance = frames.iter().filter(|f| f.allowance).count();
            println!(
                "{model:<10} {count:>10} {:>8} {steps:>12} {ms:>14.3} {worst:>12.3} {allowance:>10} {:>8.1}",
                frames.len(),
                start.elapsed().as_secs_f64()
            );
            for entity in generators {
                app.world_mut().despawn(entity);
            }
            // The despawned generators' jobs go before the next row starts.
            for _ in 0..3 {
                app.update();
            }
        }
    }
}
