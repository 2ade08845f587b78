//! The GPU sampler against its CPU twins, on whatever adapter wgpu finds (lavapipe in CI): the network forward
//! against candle's on every shipped model, whole sampling runs against the CPU sampler from the same seed, the
//! preview texture against what the CPU draws, and the errors a game must get instead of a panic.
#![cfg(all(feature = "gpu", feature = "train"))]

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};

use bevy_bfn::flow::{Constraints, DEFAULT_ETA, Known, RuntimeDatum, SamplingMethod, Step};
use bevy_bfn::gpu::{
    DeviceKernels, GpuContext, GpuError, GpuModel, JobSettings, SamplingJob, StepTimer,
};
use bevy_bfn::measure::sample_sheet::{sample_constrained, sample_guided};
use bevy_bfn::model::parameters::LABEL_EMBEDDING;
use bevy_bfn::model::{Guidance, Kind, Samples, TensorData, Weights};
use bevy_bfn::net::Network;
use candle_core::{Device, Tensor};
use common::read_back::{staging_buffer, submit_and_read};

/// Every shipped model, and the GPT dungeon and terrain models the U-Nets replaced (`tests/fixtures/gpt-*`):
/// among them discrete tokens of one variable (names) and of a 2 × 2 patch (the GPT dungeon), continuous values in
/// 2 × 2 patches (the GPT terrain), and U-Nets on classes and on values (dungeon, terrain).
const MODELS: [&str; 7] = [
    "digits",
    "dungeon",
    "names",
    "sprites",
    "terrain",
    "gpt-dungeon",
    "gpt-terrain",
];

/// Every sampler besides the standard one, with η and τ at and off their defaults.
const FEW_STEP: [SamplingMethod; 5] = [
    SamplingMethod::Ode1 { eta: DEFAULT_ETA },
    SamplingMethod::Ode2 { eta: 1e-3 },
    SamplingMethod::Sde2 { eta: DEFAULT_ETA },
    SamplingMethod::Redraw {
        temperature: 0.5,
        fixed_noise: false,
    },
    SamplingMethod::Redraw {
        temperature: 1.0,
        fixed_noise: true,
    },
];

/// One device for all tests, used by one test at a time (lavapipe is not fond of concurrent devices).
fn gpu() -> MutexGuard<'static, GpuContext> {
    static GPU: OnceLock<Mutex<GpuContext>> = OnceLock::new();
    GPU.get_or_init(|| Mutex::new(GpuContext::new().expect("a wgpu adapter (lavapipe in CI)")))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn weights(name: &str) -> Weights {
    match name {
        "gpt-dungeon" | "gpt-terrain" => {
            Weights::load(format!("tests/fixtures/{name}.safetensors"))
        }
        name => Weights::load(format!("assets/models/{name}.safetensors")),
    }
    .unwrap()
}

fn run_steps(gpu: &GpuContext, job: &mut SamplingJob, k: u32) {
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    job.record_steps(&mut encoder, k);
    gpu.queue.submit([encoder.finish()]);
}

/// ‖a − b‖∞ / ‖b‖∞.
fn relative_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    let error = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    error / scale
}

#[test]
fn network_forward_matches_candle_on_every_shipped_model() {
    let gpu = gpu();
    // One set of kind-independent kernels for every model, as the plugin shares them.
    let kernels = DeviceKernels::new(&gpu.device).unwrap();
    for name in MODELS {
        let weights = weights(name);
        let model = GpuModel::with_kernels(&gpu.device, &weights, &kernels).unwrap();
        let (batch, steps, taken) = (3, 20, 7);
        let settings = JobSettings {
            batch,
            steps,
            seed: 11,
            accuracy: None,
            sampler: SamplingMethod::Standard,
        };
        let mut job = SamplingJob::new(&gpu.device, &model, settings).unwrap();
        // Some steps first, so that θ is no longer the prior and t is not 0.
        run_steps(&gpu, &mut job, taken);
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        job.record_network(&mut encoder);
        gpu.queue.submit([encoder.finish()]);
        let theta = job.read_input_params(&gpu.device, &gpu.queue).unwrap();
        let on_gpu = job.read_output_params(&gpu.device, &gpu.queue).unwrap();

        let device = Device::Cpu;
        let network = Network::from_weights(&weights, &device).unwrap();
        let tokens = weights.config().layout.tokens();
        let theta = Tensor::from_vec(theta, (batch, tokens, ()), &device).unwrap();
        let t = Step::new(taken + 1, steps).unwrap().t::<f32>();
        let on_cpu: Vec<f32> = network
            .forward(
                &network.network_input(&theta).unwrap(),
                &Tensor::from_vec(vec![t; batch], batch, &device).unwrap(),
            )
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let error = relative_error(&on_gpu, &on_cpu);
        assert!(error < 1e-4, "{name}: relative error {error:e}");
        eprintln!("{name}: forward relative error {error:.2e}");
    }
}

/// Samples `name` on the GPU, recording the steps in uneven chunks as frames would, and on the CPU sampler driven
/// by candle's network from the same seed, and asserts that they agree within [`assert_samples_agree`]'s bounds.
fn assert_gpu_follows_cpu(gpu: &GpuContext, name: &str, settings: JobSettings) {
    assert_gpu_follows_cpu_constrained(gpu, name, settings, &Constraints::<f32>::default());
}

/// [`assert_gpu_follows_cpu`] for a run that keeps `constraints`, written into the job before its first step;
/// returns the GPU's samples and the CPU's.
fn assert_gpu_follows_cpu_constrained<D: RuntimeDatum>(
    gpu: &GpuContext,
    name: &str,
    settings: JobSettings,
    constraints: &Constraints<D>,
) -> (Samples, Samples) {
    let weights = weights(name);
    let model = GpuModel::new(&gpu.device, &weights).unwrap();
    let mut job = SamplingJob::new(&gpu.device, &model, settings).unwrap();
    job.write_constraints(&gpu.queue, constraints).unwrap();
    for k in [1, 5, 3, 100] {
        run_steps(gpu, &mut job, k);
    }
    assert!(job.is_finished());
    let on_gpu = job.read_samples(&gpu.device, &gpu.queue).unwrap();
    let JobSettings {
        batch,
        steps,
        seed,
        sampler,
        ..
    } = settings;
    let on_cpu = sample_constrained(&weights, batch, steps, seed, sampler, constraints).unwrap();
    let held: Vec<bool> = constraints
        .known
        .iter()
        .map(|k| k.is_some_and(|k| k.strength == 1.0))
        .collect();
    assert_samples_agree(
        &format!("{name}, {sampler:?}, n = {steps}"),
        &weights,
        &on_gpu,
        &on_cpu,
        &held,
    );
    (on_gpu, on_cpu)
}

/// Classes (or values off by more than [`CLOSE`]) a row of GPU samples may have other than the CPU's: a draw
/// whose uniform lies within f32 rounding of a boundary between two classes takes the other class, and from then
/// on its variable's θ (and, through the network, its row's) follows another path, so a flip brings a few.
const FLIPS_PER_ROW: usize = 2;

/// Values within this of the CPU's count as equal (f32 rounding, amplified over the steps).
const CLOSE: f32 = 1e-3;

/// The largest difference a value of the GPU's samples may have from the CPU's: within a flipped draw's reach,
/// two of the bins of discretised data, a tenth of the range for continuous data (whose sample is the output's
/// mean, which a flipped draw elsewhere in the row moves only a little).
fn value_tolerance(weights: &Weights) -> f32 {
    match weights.kind() {
        Kind::Discretised(k) => 2.0 * 2.0 / (k.bins() - 1) as f32 + CLOSE,
        _ => 0.1,
    }
}

/// The GPU's samples agree with the CPU's, value by value and row by row (a row is one example of `weights`'s
/// layout): every held variable (`held`, empty where none is) bit for bit; no row with more than
/// [`FLIPS_PER_ROW`] classes, or values off by more than [`CLOSE`], that differ, and at most 1% of all; no value
/// off by more than [`value_tolerance`]. A wrong row, or a wrong edge of every canvas, breaks one of these.
fn assert_samples_agree(
    label: &str,
    weights: &Weights,
    on_gpu: &Samples,
    on_cpu: &Samples,
    held: &[bool],
) {
    let per_row = weights.config().layout.variables();
    let is_held = |v: usize| held.get(v).copied().unwrap_or(false);
    // Per variable: equal bits, equal within CLOSE, and the size of the difference.
    let compared: Vec<(bool, bool, f32)> = match (on_gpu, on_cpu) {
        (Samples::Classes(g), Samples::Classes(c)) => {
            assert_eq!(g.len(), c.len(), "{label}: sample counts");
            g.iter()
                .zip(c)
                .map(|(a, b)| (a == b, a == b, if a == b { 0.0 } else { f32::INFINITY }))
                .collect()
        }
        (Samples::Values(g), Samples::Values(c)) => {
            assert_eq!(g.len(), c.len(), "{label}: sample counts");
            g.iter()
                .zip(c)
                .map(|(a, b)| {
                    let difference = (a - b).abs();
                    (a.to_bits() == b.to_bits(), difference <= CLOSE, difference)
                })
                .collect()
        }
        _ => panic!("{label}: the GPU and CPU samples are of different kinds"),
    };
    assert_eq!(compared.len() % per_row, 0, "{label}: whole rows");
    for (v, &(same, _, difference)) in compared.iter().enumerate() {
        assert!(
            same || !is_held(v),
            "{label}: held variable {v} differs by {difference:e}"
        );
    }
    let flips_per_row: Vec<usize> = compared
        .chunks_exact(per_row)
        .map(|row| row.iter().filter(|(_, close, _)| !close).count())
        .collect();
    let flips: usize = flips_per_row.iter().sum();
    let largest = compared.iter().fold(0f32, |m, &(_, _, d)| m.max(d));
    eprintln!(
        "{label}: {flips} of {} differ (per row {flips_per_row:?}), largest difference {largest:.1e}",
        compared.len()
    );
    assert!(
        flips_per_row.iter().all(|&f| f <= FLIPS_PER_ROW),
        "{label}: a row with more than {FLIPS_PER_ROW} differences: {flips_per_row:?}"
    );
    assert!(
        flips * 100 <= compared.len(),
        "{label}: {flips} of {} differ",
        compared.len()
    );
    if matches!(on_cpu, Samples::Values(_)) {
        let tolerance = value_tolerance(weights);
        assert!(
            largest <= tolerance,
            "{label}: a value differs by {largest:e}, more than {tolerance:e}"
        );
    }
}

#[test]
fn sampling_runs_follow_the_cpu_sampler_from_the_same_seed() {
    let gpu = gpu();
    for name in MODELS {
        let settings = JobSettings {
            batch: 4,
            steps: 25,
            seed: 3,
            accuracy: None,
            sampler: SamplingMethod::Standard,
        };
        assert_gpu_follows_cpu(&gpu, name, settings);
    }
}

#[test]
fn every_few_step_sampler_follows_the_cpu_sampler_from_the_same_seed() {
    let gpu = gpu();
    for name in MODELS {
        // A step of sprites, terrain or the U-Net dungeon costs about a second on lavapipe at batch 4.
        let (batch, steps) = match name {
            "sprites" | "terrain" | "dungeon" => (2, 5),
            _ => (4, 12),
        };
        for sampler in FEW_STEP {
            let settings = JobSettings {
                batch,
                steps,
                seed: 8,
                accuracy: None,
                sampler,
            };
            assert_gpu_follows_cpu(&gpu, name, settings);
        }
    }
}

/// Variable v's strength in the constrained runs: held (w = 1), steering the first half (w = 0.5), or free.
fn strength(v: usize) -> Option<f64> {
    [Some(1.0), Some(0.5), None][v % 3]
}

/// Known classes (v·7 mod K) with [`strength`], and two allowed classes on every other variable, among them
/// the known class of the held ones.
fn class_constraints(variables: usize, classes: u32) -> Constraints<u32> {
    let class = |v: usize| (v as u32 * 7) % classes;
    Constraints {
        known: (0..variables)
            .map(|v| {
                strength(v).map(|strength| Known {
                    value: class(v),
                    strength,
                })
            })
            .collect(),
        allowed: (0..variables)
            .map(|v| (v % 2 == 0).then(|| vec![class(v), (class(v) + 1) % classes]))
            .collect(),
    }
}

/// Known values spread over [−1, 1) with [`strength`].
fn value_constraints(variables: usize) -> Constraints<f32> {
    Constraints {
        known: (0..variables)
            .map(|v| {
                strength(v).map(|strength| Known {
                    value: ((v * 37) % 100) as f32 / 50.0 - 1.0,
                    strength,
                })
            })
            .collect(),
        allowed: Vec::new(),
    }
}

#[test]
fn constraints_hold_on_the_gpu_and_it_follows_the_cpu_sampler_under_them() {
    let gpu = gpu();
    let ode2 = SamplingMethod::Ode2 { eta: 1e-3 };
    // Discrete, discretised and continuous data, each under the standard sampler and a few-step one.
    for (name, batch, steps, sampler) in [
        ("dungeon", 4, 12, SamplingMethod::Standard),
        ("dungeon", 4, 12, ode2),
        ("names", 4, 12, FEW_STEP[3]),
        ("digits", 2, 8, SamplingMethod::Standard),
        ("digits", 2, 8, FEW_STEP[0]),
        ("terrain", 1, 4, SamplingMethod::Standard),
        ("terrain", 1, 4, ode2),
    ] {
        let settings = JobSettings {
            batch,
            steps,
            seed: 5,
            accuracy: None,
            sampler,
        };
        let weights = weights(name);
        let variables = batch * weights.config().layout.variables();
        let label = format!("{name}, {sampler:?}");
        match weights.kind() {
            Kind::Discrete(k) => {
                let constraints = class_constraints(variables, k.classes());
                let (on_gpu, _) =
                    assert_gpu_follows_cpu_constrained(&gpu, name, settings, &constraints);
                let Samples::Classes(on_gpu) = on_gpu else {
                    panic!("{label}: classes expected")
                };
                for (v, &class) in on_gpu.iter().enumerate() {
                    if let Some(Known {
                        value,
                        strength: 1.0,
                    }) = constraints.known[v]
                    {
                        assert_eq!(class, value, "{label}: held variable {v}");
                    }
                    if let Some(allowed) = &constraints.allowed[v] {
                        assert!(
                            allowed.contains(&class),
                            "{label}: {v} took the forbidden {class}"
                        );
                    }
                }
            }
            _ => {
                let constraints = value_constraints(variables);
                let (on_gpu, on_cpu) =
                    assert_gpu_follows_cpu_constrained(&gpu, name, settings, &constraints);
                let (Samples::Values(on_gpu), Samples::Values(on_cpu)) = (on_gpu, on_cpu) else {
                    panic!("{label}: values expected")
                };
                // The CPU sampler's sample of a held variable is its value (at its bin's centre for discretised
                // data): tests/constraints.rs.
                for v in (0..variables).filter(|&v| strength(v) == Some(1.0)) {
                    assert_eq!(
                        on_gpu[v].to_bits(),
                        on_cpu[v].to_bits(),
                        "{label}: held variable {v}"
                    );
                }
            }
        }
    }
}

/// Shipped model `name` made conditional on `classes` classes, with a class embedding of spread values (not the
/// zeros a fine-tuning starts from, so that the class changes what the network says).
fn conditional(name: &str, classes: usize) -> Weights {
    let weights = weights(name);
    let mut config = weights.config().clone();
    config.labels = (0..classes).map(|c| format!("class {c}")).collect();
    let width = config.network.as_gpt().unwrap().width;
    let mut tensors = weights.tensors().clone();
    let values = (0..(classes + 1) * width)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    tensors.insert(
        LABEL_EMBEDDING.to_owned(),
        TensorData {
            shape: vec![classes + 1, width],
            values,
        },
    );
    Weights::new(config, tensors).unwrap()
}

/// Runs a guided job of `weights` to its end.
fn guided_samples(
    gpu: &GpuContext,
    weights: &Weights,
    settings: JobSettings,
    guidance: &Guidance,
) -> Samples {
    let model = GpuModel::new(&gpu.device, weights).unwrap();
    let mut job = SamplingJob::guided(&gpu.device, &model, settings, guidance).unwrap();
    run_steps(gpu, &mut job, settings.sampler.updates(settings.steps));
    job.read_samples(&gpu.device, &gpu.queue).unwrap()
}

/// Conditional sampling on the GPU follows the CPU sampler's for discrete, discretised and continuous models, with
/// guidance (two passes, mixed; a row asking for no class left unmixed) and without (one pass), under the standard
/// sampler and a few-step one; the class changes the samples.
#[test]
fn guided_sampling_on_the_gpu_follows_the_cpu() {
    let gpu = gpu();
    let labels = vec![Some(2), None, Some(0)];
    for (name, steps, sampler) in [
        ("names", 10, SamplingMethod::Standard),
        ("names", 10, FEW_STEP[3]),
        ("digits", 8, SamplingMethod::Standard),
        ("gpt-terrain", 4, SamplingMethod::Ode2 { eta: 1e-3 }),
    ] {
        let weights = conditional(name, 3);
        for weight in [2.0, 0.0] {
            let settings = JobSettings {
                batch: labels.len(),
                steps,
                seed: 4,
                accuracy: None,
                sampler,
            };
            let guidance = Guidance {
                labels: labels.clone(),
                weight,
            };
            let on_gpu = guided_samples(&gpu, &weights, settings, &guidance);
            let on_cpu = sample_guided(
                &weights,
                settings.batch,
                steps,
                settings.seed,
                sampler,
                &Constraints::<f32>::default(),
                guidance.clone(),
            )
            .unwrap();
            let label = format!("{name}, {sampler:?}, w = {weight}");
            assert_samples_agree(&label, &weights, &on_gpu, &on_cpu, &[]);
            let unguided = guided_samples(&gpu, &weights, settings, &Guidance::default());
            assert_ne!(on_gpu, unguided, "{label}: the classes change the samples");
        }
    }
}

/// Guidance is rewritten between runs like the constraints: a job rewritten to other classes and restarted gives
/// the fresh job's samples; turning the second pass on or off needs a new job, and a class the model does not
/// have is refused.
#[test]
fn guidance_is_rewritten_between_runs_and_bad_classes_are_errors() {
    let gpu = gpu();
    let names = conditional("names", 3);
    let model = GpuModel::new(&gpu.device, &names).unwrap();
    let settings = JobSettings {
        batch: 2,
        steps: 6,
        seed: 9,
        accuracy: None,
        sampler: SamplingMethod::Standard,
    };
    let first = Guidance::class(0, 1.5);
    let second = Guidance {
        labels: vec![Some(1), Some(2)],
        weight: 3.0,
    };
    let mut job = SamplingJob::guided(&gpu.device, &model, settings, &first).unwrap();
    run_steps(&gpu, &mut job, 6);
    job.write_guidance(&gpu.queue, &model, &second).unwrap();
    job.restart(&gpu.queue, settings.seed);
    run_steps(&gpu, &mut job, 6);
    assert_eq!(
        job.read_samples(&gpu.device, &gpu.queue).unwrap(),
        guided_samples(&gpu, &names, settings, &second)
    );
    let unguided = Guidance::class(1, 0.0);
    let error = job
        .write_guidance(&gpu.queue, &model, &unguided)
        .unwrap_err();
    assert!(error.to_string().contains("new job"), "{error}");
    for (bad, needle) in [
        (Guidance::class(3, 1.0), "0 to 2"),
        (Guidance::class(0, -2.0), "at least 0"),
    ] {
        let error = SamplingJob::guided(&gpu.device, &model, settings, &bad).unwrap_err();
        assert!(error.to_string().contains(needle), "{error}");
    }
    let unconditional = GpuModel::new(&gpu.device, &weights("names")).unwrap();
    let error = SamplingJob::guided(&gpu.device, &unconditional, settings, &first).unwrap_err();
    assert!(error.to_string().contains("without classes"), "{error}");
}

/// Midway through a constrained run the preview shows every held variable at its known value (a one-hot for
/// classes), whatever the network believes of it, and the free ones as the network's output.
#[test]
fn the_preview_shows_held_variables_at_their_known_values() {
    let gpu = gpu();
    for (name, sampler) in [
        ("dungeon", SamplingMethod::Standard),
        ("dungeon", FEW_STEP[3]),
        ("terrain", SamplingMethod::Standard),
        ("terrain", SamplingMethod::Ode2 { eta: 1e-3 }),
    ] {
        let settings = JobSettings {
            batch: 2,
            steps: 8,
            seed: 3,
            accuracy: None,
            sampler,
        };
        let weights = weights(name);
        let model = GpuModel::new(&gpu.device, &weights).unwrap();
        let mut job = SamplingJob::new(&gpu.device, &model, settings).unwrap();
        let variables = settings.batch * weights.config().layout.variables();
        let label = format!("{name}, {sampler:?}");
        let held = |v: &usize| strength(*v) == Some(1.0);
        match weights.kind() {
            Kind::Discrete(k) => {
                let classes = k.classes() as usize;
                let constraints = class_constraints(variables, k.classes());
                job.write_constraints(&gpu.queue, &constraints).unwrap();
                run_steps(&gpu, &mut job, 4);
                let preview = job.read_preview(&gpu.device, &gpu.queue).unwrap();
                for v in (0..variables).filter(held) {
                    let known = constraints.known[v].unwrap().value as usize;
                    let shown = &preview[v * classes..][..classes];
                    assert!(
                        shown
                            .iter()
                            .enumerate()
                            .all(|(k, &p)| p == f32::from(k == known)),
                        "{label}: held variable {v} shows {shown:?}, not class {known}"
                    );
                }
                let free_blends = (0..variables)
                    .filter(|v| strength(*v).is_none())
                    .any(|v| preview[v * classes..][..classes].iter().all(|&p| p < 1.0));
                assert!(
                    free_blends,
                    "{label}: the free variables show the network's blends"
                );
            }
            _ => {
                let constraints = value_constraints(variables);
                job.write_constraints(&gpu.queue, &constraints).unwrap();
                run_steps(&gpu, &mut job, 4);
                let preview = job.read_preview(&gpu.device, &gpu.queue).unwrap();
                for v in (0..variables).filter(held) {
                    assert_eq!(
                        preview[v],
                        constraints.known[v].unwrap().value,
                        "{label}: held variable {v}"
                    );
                }
            }
        }
    }
}

#[test]
fn constraints_are_rewritten_between_frames_and_lifting_them_gives_the_unconstrained_run() {
    let gpu = gpu();
    let dungeon = weights("dungeon");
    let model = GpuModel::new(&gpu.device, &dungeon).unwrap();
    let settings = JobSettings {
        batch: 2,
        steps: 10,
        seed: 4,
        accuracy: None,
        sampler: SamplingMethod::Standard,
    };
    let run = |job: &mut SamplingJob| {
        run_steps(&gpu, job, settings.steps);
        job.read_samples(&gpu.device, &gpu.queue).unwrap()
    };
    let unconstrained = run(&mut SamplingJob::new(&gpu.device, &model, settings).unwrap());
    let mut job = SamplingJob::new(&gpu.device, &model, settings).unwrap();
    let variables = settings.batch * dungeon.config().layout.variables();
    let Kind::Discrete(kind) = dungeon.kind() else {
        panic!("dungeon is discrete")
    };
    job.write_constraints(&gpu.queue, &class_constraints(variables, kind.classes()))
        .unwrap();
    assert_ne!(run(&mut job), unconstrained);
    job.restart(&gpu.queue, settings.seed);
    job.write_constraints(&gpu.queue, &Constraints::<u32>::default())
        .unwrap();
    assert_eq!(run(&mut job), unconstrained, "no constraints: bit for bit");

    let wrong_length = class_constraints(variables + 1, kind.classes());
    let values = value_constraints(variables);
    for wrong in [
        job.write_constraints(&gpu.queue, &wrong_length),
        job.write_constraints(&gpu.queue, &values),
    ] {
        assert!(matches!(wrong, Err(GpuError::Settings(_))), "{wrong:?}");
    }
    let terrain = weights("terrain");
    let job = SamplingJob::new(
        &gpu.device,
        &GpuModel::new(&gpu.device, &terrain).unwrap(),
        settings,
    )
    .unwrap();
    let allowed = Constraints::<f32> {
        known: Vec::new(),
        allowed: vec![Some(vec![0]); settings.batch * terrain.config().layout.variables()],
    };
    assert!(matches!(
        job.write_constraints(&gpu.queue, &allowed),
        Err(GpuError::Settings(_))
    ));
}

#[test]
fn the_same_seed_gives_the_same_samples_and_restart_repeats_them() {
    let gpu = gpu();
    let weights = weights("dungeon");
    let model = GpuModel::new(&gpu.device, &weights).unwrap();
    let mut standard = None;
    for sampler in [SamplingMethod::Standard].into_iter().chain(FEW_STEP) {
        let settings = JobSettings {
            batch: 2,
            steps: 10,
            seed: 5,
            accuracy: None,
            sampler,
        };
        let mut job = SamplingJob::new(&gpu.device, &model, settings).unwrap();
        let updates = job.steps_in_run();
        assert_eq!(updates, sampler.updates(10));
        run_steps(&gpu, &mut job, updates);
        let first = job.read_samples(&gpu.device, &gpu.queue).unwrap();
        job.restart(&gpu.queue, 6);
        assert_eq!(job.steps_recorded(), 0);
        run_steps(&gpu, &mut job, updates);
        let other_seed = job.read_samples(&gpu.device, &gpu.queue).unwrap();
        job.restart(&gpu.queue, 5);
        run_steps(&gpu, &mut job, 4);
        run_steps(&gpu, &mut job, 6);
        let again = job.read_samples(&gpu.device, &gpu.queue).unwrap();
        assert_eq!(
            first, again,
            "{sampler:?}: same seed, same samples, whatever the chunks"
        );
        assert_ne!(first, other_seed, "{sampler:?}: another seed, another map");
        match &standard {
            None => standard = Some(first),
            Some(standard) => assert_ne!(
                &first, standard,
                "{sampler:?}: the job runs its own sampler, not the standard one"
            ),
        }
    }
}

/// The preview shader against what the CPU draws from the same preview buffer: for values the sheets' own
/// `example_pixels` (stretch and all), for discrete data the probability-weighted mix of the classes' colours.
#[test]
fn the_preview_texture_is_what_the_cpu_draws_from_the_preview() {
    use bevy_bfn::gpu::{preview_dispatch, preview_size};
    use bevy_bfn::model::content::{example_pixels, palette};

    let gpu = gpu();
    let device = &gpu.device;
    for name in MODELS {
        let weights = weights(name);
        let config = weights.config();
        let model = GpuModel::new(device, &weights).unwrap();
        let batch = 2;
        let settings = JobSettings {
            batch,
            steps: 6,
            seed: 9,
            accuracy: None,
            sampler: SamplingMethod::Standard,
        };
        let mut job = SamplingJob::new(device, &model, settings).unwrap();
        // Midway, so that discrete previews are blends and values are not yet the final samples.
        run_steps(&gpu, &mut job, 3);
        let preview = job.read_preview(device, &gpu.queue).unwrap();

        let [width, height] = preview_size(&device.limits(), config, batch).unwrap();
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: None,
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&Default::default());
        let dispatch = preview_dispatch(device, &model, &job, &view).unwrap();
        let row_bytes = (4 * width).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        let staging = staging_buffer(device, u64::from(row_bytes * height));
        let mut encoder = device.create_command_encoder(&Default::default());
        dispatch.record(&mut encoder.begin_compute_pass(&Default::default()));
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &staging,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(row_bytes),
                    rows_per_image: None,
                },
            },
            texture.size(),
        );
        let texels: Vec<u8> = submit_and_read(device, &gpu.queue, encoder, &staging)
            .into_iter()
            .flat_map(u32::to_le_bytes)
            .collect();

        let image = config.pixel_layout();
        let per_example = config.layout.variables();
        let colours = palette(config);
        let classes = colours.len();
        // Value models only: the sheets' drawing of the preview as samples.
        let values = (classes == 0).then(|| Samples::Values(preview.clone()));
        let mut blended = 0;
        for example in 0..batch {
            let drawn = values
                .as_ref()
                .map(|values| example_pixels(config, values, example));
            for row in 0..image.height {
                for column in 0..image.width {
                    let x = example * image.width + column;
                    let at = row * row_bytes as usize + 4 * x;
                    let got = &texels[at..at + 4];
                    let expected: [u8; 4] = if let Some(drawn) = &drawn {
                        drawn[row * image.width + column]
                    } else {
                        let v = example * per_example + config.variable_of_pixel(row, column, 0);
                        let p = &preview[v * classes..(v + 1) * classes];
                        if p.iter().all(|&q| q < 0.99) {
                            blended += 1;
                        }
                        std::array::from_fn(|channel| {
                            let mix: f32 = p
                                .iter()
                                .zip(&colours)
                                .map(|(q, c)| q * f32::from(c[channel]))
                                .sum();
                            mix.round() as u8
                        })
                    };
                    assert!(
                        got.iter().zip(expected).all(|(&g, e)| g.abs_diff(e) <= 1),
                        "{name}: texel ({x}, {row}) is {got:?}, the CPU draws {expected:?}"
                    );
                }
            }
        }
        if classes > 0 {
            assert!(
                blended > 0,
                "{name}: no blended cell midway, the test shows nothing"
            );
        }
    }
}

#[test]
fn settings_and_sizes_out_of_range_are_errors() {
    let gpu = gpu();
    let model = GpuModel::new(&gpu.device, &weights("digits")).unwrap();
    let job = |batch, steps| {
        SamplingJob::new(
            &gpu.device,
            &model,
            JobSettings {
                batch,
                steps,
                seed: 1,
                accuracy: None,
                sampler: SamplingMethod::Standard,
            },
        )
    };
    assert!(matches!(job(0, 10), Err(GpuError::Settings(_))));
    assert!(matches!(job(1, 0), Err(GpuError::Settings(_))));
    for sampler in [
        SamplingMethod::Ode1 { eta: 1.0 },
        SamplingMethod::Redraw {
            temperature: 0.0,
            fixed_noise: false,
        },
    ] {
        let settings = JobSettings {
            sampler,
            ..Default::default()
        };
        assert!(
            matches!(
                SamplingJob::new(&gpu.device, &model, settings),
                Err(GpuError::Settings(_))
            ),
            "{sampler:?} was not refused"
        );
    }
    match job(1 << 30, 10) {
        Err(GpuError::TooLarge {
            what,
            needed,
            limit,
            ..
        }) => {
            assert!(needed > limit, "{what}: {needed} ≤ {limit}");
        }
        other => panic!("a batch of 2³⁰ digits was not refused as too large: {other:?}"),
    }
    // A batch whose variables overflow usize: refused before any product wraps.
    match job(usize::MAX / 8, 10) {
        Err(GpuError::Settings(error)) => {
            assert!(error.to_string().contains("overflows"), "{error}")
        }
        other => panic!("an overflowing batch was not refused: {other:?}"),
    }
    let unfinished = job(1, 10).unwrap();
    assert!(matches!(
        unfinished.read_samples(&gpu.device, &gpu.queue),
        Err(GpuError::Settings(_))
    ));

    // A batch whose buffers fit but whose attention dispatch ([tokens, heads, batch] workgroups) does not.
    let names = GpuModel::new(&gpu.device, &weights("names")).unwrap();
    let limit = gpu.device.limits().max_compute_workgroups_per_dimension;
    let settings = JobSettings {
        batch: limit as usize + 1,
        steps: 10,
        seed: 1,
        accuracy: None,
        sampler: SamplingMethod::Standard,
    };
    match SamplingJob::new(&gpu.device, &names, settings) {
        Err(GpuError::TooLarge {
            what, limit_name, ..
        }) => {
            assert_eq!(limit_name, "max_compute_workgroups_per_dimension", "{what}");
            assert!(what.contains("attention"), "{what}");
        }
        other => panic!("a batch past the workgroup limit was not refused: {other:?}"),
    }
}

/// The matmul kernel on shapes that fit none of its tiles, with each epilogue, against a plain CPU product.
#[test]
fn matmul_matches_the_cpu_on_ragged_shapes() {
    use bevy_bfn::flow::{CounterRng, Stream};
    use bevy_bfn::gpu::matmul::{Epilogue, Matmul, MatmulBuffers, MatmulShape};

    let gpu = gpu();
    let device = &gpu.device;
    let rng = CounterRng::new(4);
    let mut next = 0u32;
    let mut random = |len: usize| -> Vec<f32> {
        (0..len)
            .map(|_| {
                next += 1;
                rng.gaussian::<f32>(0, Stream::Flow, next)
            })
            .collect()
    };
    let upload = |values: &[f32]| {
        bevy_bfn::gpu::memory::buffer_init(
            device,
            &wgpu::util::BufferInitDescriptor {
                label: None,
                contents: &values
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>(),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            },
        )
    };
    let matmul = Matmul::new(device);
    let gelu = |x: f32| 0.5 * x * (1.0 + (0.797_884_6 * x * (1.0 + 0.044715 * x * x)).tanh());
    for (m, n, k) in [(1, 1, 1), (3, 70, 17), (65, 129, 33), (130, 5, 200)] {
        let (a, b, bias, c0) = (random(m * k), random(k * n), random(n), random(m * n));
        for epilogue in [
            Epilogue::Store,
            Epilogue::Gelu,
            Epilogue::Accumulate,
            Epilogue::Silu,
        ] {
            let c = upload(&c0);
            let product = matmul.call(
                device,
                MatmulBuffers {
                    a: &upload(&a),
                    b: &upload(&b),
                    bias: &upload(&bias),
                    c: &c,
                },
                MatmulShape::dense(m as u32, n as u32, k as u32),
                epilogue,
            );
            let staging = staging_buffer(device, c.size());
            let mut encoder = device.create_command_encoder(&Default::default());
            product.record(&mut encoder.begin_compute_pass(&Default::default()));
            encoder.copy_buffer_to_buffer(&c, 0, &staging, 0, c.size());
            let on_gpu: Vec<f32> = submit_and_read(device, &gpu.queue, encoder, &staging)
                .into_iter()
                .map(f32::from_bits)
                .collect();
            for i in 0..m {
                for j in 0..n {
                    let dot: f32 =
                        (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum::<f32>() + bias[j];
                    let expected = match epilogue {
                        Epilogue::Store => dot,
                        Epilogue::Gelu => gelu(dot),
                        Epilogue::Accumulate => c0[i * n + j] + dot,
                        Epilogue::Silu => dot / (1.0 + (-dot).exp()),
                    };
                    let got = on_gpu[i * n + j];
                    assert!(
                        (got - expected).abs() <= 1e-4 * (1.0 + expected.abs()),
                        "{m}×{n}×{k} {epilogue:?} at ({i}, {j}): {got} vs {expected}"
                    );
                }
            }
        }
    }
}

/// A lost device must surface as an error where the caller waits on it, not as a panic.
#[test]
fn a_lost_device_is_an_error() {
    let _serial = gpu();
    let own = GpuContext::new().unwrap();
    let model = GpuModel::new(&own.device, &weights("digits")).unwrap();
    let settings = JobSettings {
        batch: 1,
        steps: 2,
        seed: 1,
        accuracy: None,
        sampler: SamplingMethod::Standard,
    };
    let mut job = SamplingJob::new(&own.device, &model, settings).unwrap();
    run_steps(&own, &mut job, 2);
    own.device.destroy();
    match job.read_samples(&own.device, &own.queue) {
        Err(GpuError::DeviceLost(message)) => eprintln!("lost device: {message}"),
        other => panic!("reading from a destroyed device gave {other:?}"),
    }
}

/// Timestamp queries around the recorded steps give a GPU time per step, from which a budget becomes steps.
#[test]
fn the_step_timer_turns_a_gpu_budget_into_steps() {
    let gpu = gpu();
    let mut timer = StepTimer::new(&gpu.device, &gpu.queue)
        .expect("the adapter has timestamp queries (lavapipe and NVIDIA do)");
    assert_eq!(
        timer.steps_within(5.0),
        1,
        "one step until something is measured"
    );
    let model = GpuModel::new(&gpu.device, &weights("names")).unwrap();
    let settings = JobSettings {
        batch: 1,
        steps: 30,
        seed: 2,
        accuracy: None,
        sampler: SamplingMethod::Standard,
    };
    let mut job = SamplingJob::new(&gpu.device, &model, settings).unwrap();
    while timer.ms_per_step().is_none() {
        assert!(!job.is_finished(), "no measurement arrived in 30 steps");
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        job.record_steps_timed(&mut encoder, 2, Some(&mut timer));
        gpu.queue.submit([encoder.finish()]);
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .unwrap();
        timer.poll().unwrap();
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .unwrap();
        timer.poll().unwrap();
    }
    let ms = timer.ms_per_step().unwrap();
    eprintln!("names, batch 1: {ms:.3} GPU ms per step");
    assert!(ms.is_finite() && ms > 0.0, "{ms}");
    assert_eq!(timer.steps_within(ms * 3.5), 3);
    assert_eq!(timer.steps_within(ms * 0.1), 1, "at least one step a frame");
}
