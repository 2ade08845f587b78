//! `bfn-bench`: how fast the GPU sampler runs, beside the CPU (candle) reference, with no game engine around it.
//!
//! ```text
//! bfn-bench                                   # every shipped model and the reference configurations
//! bfn-bench --models reference,unet-reference --batches 1,16,64 --json bench.json
//! bfn-bench --models target/models/sprites-unet-60min.safetensors
//! ```
//!
//! GPU times are host clocks around a submission and a wait on the device's fence, over whole sampling runs (n
//! steps and the final ask), median of several runs after a warm-up run. The reference configuration is the one
//! the official PyTorch sampler was timed on (`docs/benchmarks.md`): 6 layers, width 256, 8 heads, 256 tokens of
//! 8 classes, random weights. The U-Net reference is the U-Net of the sprites head-to-head
//! (`configs/head-to-head/sprites-unet.toml`, 32 channels on levels of 16, 8 and 4 cells) with random weights.

use std::process::ExitCode;
use std::time::Instant;

use bevy_bfn::flow::{DataKind, Sampler, SamplingMethod, Shape};
use bevy_bfn::gpu::matmul::{Epilogue, Matmul, MatmulBuffers, MatmulShape};
use bevy_bfn::gpu::{GpuContext, GpuModel, JobSettings, SamplingJob};
use bevy_bfn::model::{
    GptConfig, Kind, KindConfig, Layout, ModelConfig, NetworkConfig, Positions, UnetConfig, Weights,
};
use bevy_bfn::net::{Network, initial_varmap, weights_from_varmap};
use bevy_bfn::train::denoiser::NetworkDenoiser;
use candle_core::Device;
use clap::Parser;
use serde_json::json;

/// Time the GPU sampler (and its matmul) against the CPU reference.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Models: names of files in assets/models/ (without .safetensors), paths of model files, `reference` (the
    /// GPT the official sampler was timed on) or `unet-reference`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "digits,dungeon,names,sprites,terrain,reference,unet-reference"
    )]
    models: Vec<String>,

    /// Batch sizes.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    batches: Vec<usize>,
    /// Steps n of each sampling run.
    #[arg(long, default_value_t = 50)]
    steps: u32,
    /// The sampler the sampling rows time (standard, ode1, ode2, sde2 or redraw): with `--steps`, what a sample
    /// costs at the steps each sampler needs.
    #[arg(long, default_value = "standard")]
    sampler: SamplingMethod,
    /// Timed runs per measurement (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Batches at which the CPU reference is timed too (it is slow at large batches).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    cpu_batches: Vec<usize>,
    /// CPU steps timed per measurement.
    #[arg(long, default_value_t = 3)]
    cpu_steps: u32,
    /// Square matmul sizes to time (`--matmul` with none: skip).
    #[arg(long, value_delimiter = ',', default_value = "1024,2048", num_args = 0..,
          value_parser = clap::value_parser!(u32).range(1..))]
    matmul: Vec<u32>,
    /// Generators of the per-frame scenario: that many jobs of `--frame-model` sharing a frame, each recording
    /// `--frame-steps` steps into one command encoder, as the Bevy plugin does (0: skip).
    #[arg(long, default_value_t = 4)]
    frame_generators: usize,
    /// Steps per generator per frame in the per-frame scenario.
    #[arg(long, default_value_t = 4)]
    frame_steps: u32,
    /// The model of the per-frame scenario.
    #[arg(long, default_value = "dungeon")]
    frame_model: String,
    /// Write the results as JSON here too.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The configuration the official sampler was timed on.
fn reference_config() -> ModelConfig {
    ModelConfig {
        kind: KindConfig::Discrete {
            beta_1: 3.0,
            classes: 8,
        },
        layout: Layout {
            height: 1,
            width: 256,
            channels: 1,
        },
        patch: 1,
        network: NetworkConfig::Gpt(GptConfig {
            layers: 6,
            heads: 8,
            width: 256,
            positions: Positions::Sequence,
        }),
        legend: Vec::new(),
        normalisation: None,
        sampling_steps: None,
        sampler: None,
        provenance: "bfn-bench reference configuration, random weights".into(),
        training_data: None,
        labels: Vec::new(),
    }
}

/// The reference configuration with random weights.
fn reference_weights() -> Result<Weights, Box<dyn std::error::Error>> {
    let config = reference_config();
    let varmap = initial_varmap(&config, 1, &Device::Cpu)?;
    Ok(weights_from_varmap(&config, &varmap)?)
}

/// The U-Net of the sprites head-to-head, on 16 × 16 RGBA pixels of 16 levels, with random weights.
fn unet_reference_weights() -> Result<Weights, Box<dyn std::error::Error>> {
    let config = ModelConfig {
        kind: KindConfig::Discretised {
            sigma_1: 0.031_622_776,
            bins: 16,
        },
        layout: Layout {
            height: 16,
            width: 16,
            channels: 4,
        },
        network: NetworkConfig::Unet(UnetConfig {
            channels: 32,
            multipliers: vec![1, 2, 2],
            res_blocks: 2,
            attention_levels: Vec::new(),
            heads: 1,
            groups: 8,
            context: false,
        }),
        provenance: "bfn-bench U-Net reference configuration, random weights".into(),
        ..reference_config()
    };
    let varmap = initial_varmap(&config, 1, &Device::Cpu)?;
    Ok(weights_from_varmap(&config, &varmap)?)
}

/// A model by name: `reference`, `unet-reference`, a path to a model file, or a shipped model's name.
fn named_weights(name: &str) -> Result<Weights, Box<dyn std::error::Error>> {
    Ok(match name {
        "reference" => reference_weights()?,
        "unet-reference" => unet_reference_weights()?,
        path if path.ends_with(".safetensors") => Weights::load(path)?,
        name => Weights::load(format!("assets/models/{name}.safetensors"))?,
    })
}

/// Median milliseconds of one whole GPU sampling run.
fn gpu_run_ms(
    gpu: &GpuContext,
    job: &mut SamplingJob,
    repeats: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let steps = job.settings().steps;
    let mut times = Vec::new();
    for run in 0..=repeats {
        job.restart(&gpu.queue, run as u64);
        let start = Instant::now();
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        job.record_steps(&mut encoder, steps);
        gpu.queue.submit([encoder.finish()]);
        gpu.device.poll(wgpu::PollType::wait_indefinitely())?;
        if run > 0 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(median(times))
}

/// Median milliseconds of one CPU sampling step (candle forward and the flow's update) at `batch`.
fn cpu_step_ms<K: DataKind<f32>>(
    kind: K,
    network: &Network,
    batch: usize,
    steps: u32,
) -> Result<f64, Box<dyn std::error::Error>> {
    let device = Device::Cpu;
    let mut denoiser = NetworkDenoiser::new(network, &device);
    let shape = Shape::new(batch, network.config().layout.variables())?;
    let mut run = Sampler::new(kind, steps + 1, 0)?.start::<f32>(shape);
    run.step(&mut denoiser)?; // warm-up
    let mut times = Vec::new();
    for _ in 0..steps {
        let start = Instant::now();
        run.step(&mut denoiser)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median(times))
}

fn cpu_ms(weights: &Weights, batch: usize, steps: u32) -> Result<f64, Box<dyn std::error::Error>> {
    let network = Network::from_weights(weights, &Device::Cpu)?;
    match weights.kind() {
        Kind::Continuous(k) => cpu_step_ms(k, &network, batch, steps),
        Kind::Discretised(k) => cpu_step_ms(k, &network, batch, steps),
        Kind::Discrete(k) => cpu_step_ms(k, &network, batch, steps),
    }
}

/// TFLOP/s of an n×n×n matmul, median over repeats of 10 back-to-back products.
fn matmul_tflops(
    gpu: &GpuContext,
    n: u32,
    repeats: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let device = &gpu.device;
    let buffer = |len: u32| {
        bevy_bfn::gpu::memory::buffer(
            device,
            &wgpu::BufferDescriptor {
                label: None,
                size: u64::from(len) * 4,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            },
        )
    };
    let (a, b, bias, c) = (buffer(n * n), buffer(n * n), buffer(n), buffer(n * n));
    let product = Matmul::new(device).call(
        device,
        MatmulBuffers {
            a: &a,
            b: &b,
            bias: &bias,
            c: &c,
        },
        MatmulShape::dense(n, n, n),
        Epilogue::Store,
    );
    let products = 10;
    let mut times = Vec::new();
    for run in 0..=repeats {
        let start = Instant::now();
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for _ in 0..products {
                product.record(&mut pass);
            }
        }
        gpu.queue.submit([encoder.finish()]);
        device.poll(wgpu::PollType::wait_indefinitely())?;
        if run > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    Ok(2.0 * f64::from(n).powi(3) * f64::from(products) / median(times) / 1e12)
}

/// Median GPU milliseconds of one frame's work for `generators` jobs of one model recording `k` steps each into
/// one encoder (one submission and a fence wait per frame; the jobs restart when they finish).
fn frame_ms(
    gpu: &GpuContext,
    weights: &Weights,
    generators: usize,
    k: u32,
    repeats: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let model = GpuModel::new(&gpu.device, weights)?;
    let mut jobs = (0..generators)
        .map(|g| {
            let settings = JobSettings {
                batch: 1,
                steps: 50,
                seed: g as u64,
                accuracy: None,
                sampler: SamplingMethod::Standard,
            };
            SamplingJob::new(&gpu.device, &model, settings)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut times = Vec::new();
    for frame in 0..(repeats * 4).max(8) {
        let start = Instant::now();
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for job in &mut jobs {
            if job.is_finished() {
                job.restart(&gpu.queue, job.settings().seed);
            }
            job.record_steps(&mut encoder, k);
        }
        gpu.queue.submit([encoder.finish()]);
        gpu.device.poll(wgpu::PollType::wait_indefinitely())?;
        if frame >= 2 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(median(times))
}

fn run(cli: &Cli) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let gpu = GpuContext::new()?;
    let adapter = format!(
        "{} ({:?}, {} {})",
        gpu.adapter.name, gpu.adapter.backend, gpu.adapter.driver, gpu.adapter.driver_info
    );
    println!("adapter: {adapter}");
    println!(
        "{} sampler, n = {} steps, {} timed runs after a warm-up",
        cli.sampler, cli.steps, cli.repeats
    );
    let mut matmuls = Vec::new();
    for &n in &cli.matmul {
        let tflops = matmul_tflops(&gpu, n, cli.repeats)?;
        println!("matmul {n}×{n}×{n}: {tflops:.3} TFLOP/s");
        matmuls.push(json!({ "n": n, "tflops": tflops }));
    }
    let frame = if cli.frame_generators > 0 {
        let weights = Weights::load(format!("assets/models/{}.safetensors", cli.frame_model))?;
        let ms = frame_ms(
            &gpu,
            &weights,
            cli.frame_generators,
            cli.frame_steps,
            cli.repeats,
        )?;
        println!(
            "frame: {} {} generators × {} steps: {ms:.3} ms of GPU time per frame",
            cli.frame_generators, cli.frame_model, cli.frame_steps
        );
        Some(json!({
            "model": cli.frame_model, "generators": cli.frame_generators,
            "steps_per_frame": cli.frame_steps, "gpu_ms_per_frame": ms,
        }))
    } else {
        None
    };
    println!(
        "{:<10} {:>5} {:>12} {:>12} {:>10} {:>12} {:>10}",
        "model", "batch", "GPU ms/step", "samples/s", "GPU MiB", "CPU ms/step", "CPU/GPU"
    );
    let mut rows = Vec::new();
    for name in &cli.models {
        let weights = named_weights(name)?;
        let model = GpuModel::new(&gpu.device, &weights)?;
        for &batch in &cli.batches {
            let settings = JobSettings {
                batch,
                steps: cli.steps,
                seed: 0,
                accuracy: None,
                sampler: cli.sampler,
            };
            let mut job = SamplingJob::new(&gpu.device, &model, settings)?;
            let run_ms = gpu_run_ms(&gpu, &mut job, cli.repeats)?;
            // Network calls: one per update and the final ask (the solvers' last call is their sample).
            let calls = cli.sampler.updates(cli.steps) + 1;
            let step_ms = run_ms / f64::from(calls);
            let samples_per_s = batch as f64 / (run_ms / 1e3);
            let mib = (job.memory_bytes() + model.memory_bytes()) as f64 / (1 << 20) as f64;
            let cpu = if cli.cpu_batches.contains(&batch) {
                Some(cpu_ms(&weights, batch, cli.cpu_steps)?)
            } else {
                None
            };
            println!(
                "{name:<10} {batch:>5} {step_ms:>12.3} {samples_per_s:>12.1} {mib:>10.1} {:>12} {:>10}",
                cpu.map_or("-".into(), |c| format!("{c:.1}")),
                cpu.map_or("-".into(), |c| format!("{:.1}×", c / step_ms)),
            );
            rows.push(json!({
                "model": name, "batch": batch, "steps": cli.steps, "sampler": cli.sampler.to_string(),
                "gpu_ms_per_step": step_ms, "gpu_ms_per_run": run_ms, "samples_per_s": samples_per_s,
                "gpu_memory_mib": mib, "cpu_ms_per_step": cpu,
            }));
        }
    }
    Ok(json!({
        "adapter": adapter, "steps": cli.steps, "matmul": matmuls, "frame": frame, "sampling": rows,
    }))
}

fn main() -> ExitCode {
    // The candle CPU column runs the trainer's network: measure it as `bfn-train` runs it.
    bevy_bfn::train::keep_freed_memory();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(report) => {
            if let Some(path) = &cli.json
                && let Err(e) = std::fs::write(path, format!("{report:#}\n"))
            {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
