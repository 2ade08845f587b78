//! The trainer: its losses against the flow maths, the weights file, checkpoints and a short real training run.
#![cfg(feature = "train")]

mod common;
use common::temp_dir;

use std::collections::BTreeMap;
use std::path::PathBuf;

use bevy_bfn::flow::loss::{cts_time_loss, discrete_time_loss};
use bevy_bfn::flow::{CounterRng, Estimate, InputParams, Shape, Stream};
use bevy_bfn::measure::eval::evaluate;
use bevy_bfn::measure::sample_sheet::sample;
use bevy_bfn::model::{
    GptConfig, Kind, KindConfig, Layout, ModelConfig, NetworkConfig, Positions, Samples, Weights,
};
use bevy_bfn::net::{Network, initial_varmap, weights_from_varmap};
use bevy_bfn::train::config::TrainConfig;
use bevy_bfn::train::dataset::Examples;
use bevy_bfn::train::datasets::{load, load_section};
use bevy_bfn::train::loss::{LossSpec, Target, loss};
use bevy_bfn::train::trainer::Trainer;
use candle_core::{Device, Tensor};

fn uniform(rng: &CounterRng, index: u32) -> f32 {
    rng.uniform::<f32>(0, Stream::Output, index)
}

/// Random θ, network outputs, data and times for a batch, through the tensor loss and through the flow's
/// per-variable maths: the two must agree.
fn compare(kind_config: KindConfig, channels: usize, spec: LossSpec) {
    let kind = kind_config.build().unwrap();
    let (batch, tokens) = (3, 5);
    let rng = CounterRng::new(9);
    let variables = tokens * channels;
    let shape = Shape::new(batch, variables).unwrap();
    let in_width = kind_config.input_per_token(channels)
        / if matches!(kind, Kind::Discrete(_)) {
            1
        } else {
            channels
        };
    let out_per_token = kind_config.output_per_token(channels);
    let mut next = 0u32;
    let mut draw = |scale: f32, offset: f32| {
        next += 1;
        uniform(&rng, next) * scale + offset
    };
    let output: Vec<f32> = (0..batch * tokens * out_per_token)
        .map(|_| draw(4.0, -2.0))
        .collect();
    let times: Vec<f32> = match spec {
        LossSpec::Continuous => (0..batch).map(|_| draw(1.0, 0.0)).collect(),
        LossSpec::Discrete { steps, .. } => (0..batch)
            .map(|b| (b as f32 * 3.0).min(steps as f32 - 1.0) / steps as f32)
            .collect(),
    };
    let device = Device::Cpu;
    let out_tensor = Tensor::from_slice(&output, (batch, tokens, out_per_token), &device).unwrap();
    let (ours, theirs): (Vec<f32>, Vec<Estimate<f32>>) = match kind {
        Kind::Discrete(k) => {
            let classes = k.classes() as usize;
            let x: Vec<u32> = (0..batch * tokens)
                .map(|_| (draw(classes as f32, 0.0) as u32).min(classes as u32 - 1))
                .collect();
            let theta = vec![1.0 / classes as f32; batch * tokens * classes];
            let input = InputParams::new(shape, classes, theta.clone()).unwrap();
            let mut one_hot = vec![0f32; x.len() * classes];
            x.iter()
                .enumerate()
                .for_each(|(v, &c)| one_hot[v * classes + c as usize] = 1.0);
            let target = Target::Classes {
                one_hot: Tensor::from_vec(one_hot, (batch, tokens, classes), &device).unwrap(),
                classes: x.clone(),
            };
            let theta_t = Tensor::from_vec(theta, (batch, tokens, classes), &device).unwrap();
            let ours = loss(&kind, spec, &target, &theta_t, &out_tensor, &times, &rng, 0)
                .unwrap()
                .to_vec1()
                .unwrap();
            (
                ours,
                flow_losses(&k, &x, &input, &output, &times, spec, &rng),
            )
        }
        Kind::Continuous(_) | Kind::Discretised(_) => {
            let x: Vec<f32> = (0..batch * variables).map(|_| draw(2.0, -1.0)).collect();
            let mu: Vec<f32> = (0..batch * variables).map(|_| draw(2.0, -1.0)).collect();
            let input = InputParams::new(shape, in_width, mu.clone()).unwrap();
            let target = Target::Values(
                Tensor::from_vec(x.clone(), (batch, tokens, channels), &device).unwrap(),
            );
            let mu_t = Tensor::from_vec(mu, (batch, tokens, channels), &device).unwrap();
            let ours = loss(&kind, spec, &target, &mu_t, &out_tensor, &times, &rng, 0)
                .unwrap()
                .to_vec1()
                .unwrap();
            let theirs = match kind {
                Kind::Continuous(k) => flow_losses(&k, &x, &input, &output, &times, spec, &rng),
                Kind::Discretised(k) => flow_losses(&k, &x, &input, &output, &times, spec, &rng),
                Kind::Discrete(_) => unreachable!(),
            };
            (ours, theirs)
        }
    };
    for (b, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        let tolerance = 1e-4 * t.mean.abs().max(1.0);
        assert!(
            (o - t.mean).abs() <= tolerance,
            "{kind_config:?} {spec:?} example {b}: tensor {o} vs flow {}",
            t.mean
        );
    }
}

/// The flow's losses per example (mean over its variables).
fn flow_losses<K: bevy_bfn::flow::DataKind<f32>>(
    kind: &K,
    x: &[bevy_bfn::flow::Datum<f32, K>],
    input: &InputParams<f32>,
    output: &[f32],
    t: &[f32],
    spec: LossSpec,
    rng: &CounterRng,
) -> Vec<Estimate<f32>> {
    let per_variable: Vec<Estimate<f32>> = match spec {
        LossSpec::Continuous => cts_time_loss(kind, x, input, output, t)
            .unwrap()
            .into_iter()
            .map(Estimate::exact)
            .collect(),
        LossSpec::Discrete { steps, draws } => {
            discrete_time_loss(kind, x, input, output, t, steps, draws, rng).unwrap()
        }
    };
    per_variable
        .chunks(input.shape().variables())
        .map(Estimate::mean_of)
        .collect()
}

#[test]
fn tensor_losses_equal_the_flow_maths() {
    let kinds = [
        (KindConfig::Continuous { sigma_1: 0.02 }, 2),
        (
            KindConfig::Discretised {
                sigma_1: 0.0316,
                bins: 17,
            },
            1,
        ),
        (
            KindConfig::Discretised {
                sigma_1: 0.05,
                bins: 8,
            },
            4,
        ),
        (
            KindConfig::Discrete {
                beta_1: 3.0,
                classes: 6,
            },
            1,
        ),
    ];
    for (kind, channels) in kinds {
        compare(kind, channels, LossSpec::Continuous);
        compare(
            kind,
            channels,
            LossSpec::Discrete {
                steps: 10,
                draws: 7,
            },
        );
    }
}

/// The official GPT's state-dict names for `GPT(skip=True)` with a `TextInputAdapter`, two blocks, in the order
/// PyTorch lists them (read from the official `networks/transformer.py` and `networks/adapters.py`), with the
/// shapes for K classes, T tokens and width d.
fn official_state_dict(k: usize, t: usize, d: usize) -> Vec<(String, Vec<usize>)> {
    let mut names = vec![
        ("input_adapter.pos_embedding".to_owned(), vec![t, d]),
        ("input_adapter.inp_embedding.weight".to_owned(), vec![d, k]),
        ("input_adapter.inp_embedding.bias".to_owned(), vec![d]),
        ("input_adapter.t_embedding.weight".to_owned(), vec![d, 1]),
        ("input_adapter.t_embedding.bias".to_owned(), vec![d]),
    ];
    for i in 0..2 {
        for (name, shape) in [
            ("ln_1.weight", vec![d]),
            ("ln_1.bias", vec![d]),
            ("attn.c_attn.weight", vec![3 * d, d]),
            ("attn.c_attn.bias", vec![3 * d]),
            ("attn.c_proj.weight", vec![d, d]),
            ("attn.c_proj.bias", vec![d]),
            ("ln_2.weight", vec![d]),
            ("ln_2.bias", vec![d]),
            ("mlp.c_fc.weight", vec![4 * d, d]),
            ("mlp.c_fc.bias", vec![4 * d]),
            ("mlp.c_proj.weight", vec![d, 4 * d]),
            ("mlp.c_proj.bias", vec![d]),
        ] {
            names.push((format!("transformer.h.{i}.{name}"), shape));
        }
    }
    names.extend([
        ("transformer.ln_f.weight".to_owned(), vec![d]),
        ("transformer.ln_f.bias".to_owned(), vec![d]),
        ("lm_head.weight".to_owned(), vec![k, 2 * d]),
        ("lm_head.bias".to_owned(), vec![k]),
    ]);
    names
}

fn tiny_config(kind: KindConfig, layout: Layout) -> ModelConfig {
    ModelConfig {
        kind,
        layout,
        network: NetworkConfig::Gpt(GptConfig {
            layers: 2,
            heads: 2,
            width: 16,
            positions: Positions::Sequence,
        }),
        legend: Vec::new(),
        normalisation: None,
        sampling_steps: None,
        sampler: None,
        provenance: "test".into(),
        training_data: None,
        labels: Vec::new(),
        patch: 1,
    }
}

#[test]
fn a_discrete_model_has_the_official_parameter_names_and_shapes() {
    let config = tiny_config(
        KindConfig::Discrete {
            beta_1: 1.0,
            classes: 27,
        },
        Layout {
            height: 1,
            width: 8,
            channels: 1,
        },
    );
    let ours: BTreeMap<String, Vec<usize>> = config.parameter_shapes().into_iter().collect();
    let official: BTreeMap<String, Vec<usize>> =
        official_state_dict(27, 8, 16).into_iter().collect();
    assert_eq!(ours, official);
    // And a file written by the trainer holds exactly those tensors.
    let varmap = initial_varmap(&config, 3, &Device::Cpu).unwrap();
    let weights = weights_from_varmap(&config, &varmap).unwrap();
    let stored: BTreeMap<String, Vec<usize>> = Weights::from_bytes(&weights.to_bytes())
        .unwrap()
        .tensors()
        .iter()
        .map(|(n, t)| (n.clone(), t.shape.clone()))
        .collect();
    assert_eq!(stored, official);
}

/// A tiny run on the real digits: 2 blocks of width 16.
fn tiny_digits(dir: &std::path::Path, steps: u32) -> TrainConfig {
    TrainConfig::load(&tiny_digits_file(dir, steps, "")).unwrap()
}

/// The tiny run's configuration file, with `extra` lines added to `[training]`.
fn tiny_digits_file(dir: &std::path::Path, steps: u32, extra: &str) -> PathBuf {
    tiny_run_file(
        dir,
        "tiny-digits",
        "[data]\nsource = \"digits\"\n[model]\nsigma_1 = 0.0316",
        &format!("steps = {steps}\nbatch = 32\nseed = 7\n{extra}"),
    )
}

/// A tiny run's configuration, written to `dir/tiny.toml` with its model at `dir/tiny.safetensors`: `data_and_model`
/// holds the `[data]` table and the `[model]` lines before the network, which is 2 blocks of width 16, and
/// `training` the `[training]` lines beyond the schedule every tiny run shares.
fn tiny_run_file(
    dir: &std::path::Path,
    name: &str,
    data_and_model: &str,
    training: &str,
) -> PathBuf {
    let text = format!(
        r#"
name = "{name}"
output = "{}"
{data_and_model}
layers = 2
heads = 2
width = 16
positions = "grid"
[training]
learning_rate = 3e-3
warmup = 5
weight_decay = 0.01
betas = [0.9, 0.98]
grad_clip = 1.0
ema_decay = 0.9
loss = "continuous"
checkpoint_every = 1000
{training}
"#,
        dir.join("tiny.safetensors").display()
    );
    let path = dir.join("tiny.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Trains the tiny run for `steps` with `extra` lines in `[training]` and returns its model: the data are loaded
/// once for every call.
fn tiny_digits_run(dir: &std::path::Path, steps: u32) -> impl Fn(&str) -> Weights {
    let data = load_section(&tiny_digits(dir, steps).data).unwrap();
    move |extra| {
        let config = TrainConfig::load(&tiny_digits_file(dir, steps, extra)).unwrap();
        let mut trainer = Trainer::new(config, data.clone()).unwrap();
        trainer.run(steps, |_| {}).unwrap();
        trainer.model_weights().unwrap()
    }
}

#[test]
fn a_tiny_model_learns_the_digits() {
    let dir = temp_dir("learns");
    let config = tiny_digits(&dir, 150);
    let data = load_section(&config.data).unwrap();
    let mut trainer = Trainer::new(config, data.clone()).unwrap();
    let untrained = trainer.model_weights().unwrap();
    let mut losses = Vec::new();
    trainer.run(150, |p| losses.push(p.loss)).unwrap();
    let mean = |xs: &[f32]| xs.iter().sum::<f32>() / xs.len() as f32;
    let (first, last) = (mean(&losses[..20]), mean(&losses[130..]));
    assert!(
        last < 0.8 * first,
        "the training loss falls: {first} → {last}"
    );
    let trained = Weights::load(dir.join("tiny.safetensors")).unwrap();
    let score = |w: &Weights| {
        evaluate(w, &data, &[], 2, 1, 0)
            .unwrap()
            .continuous
            .bits_per_dim()
            .mean
    };
    let (before, after) = (score(&untrained), score(&trained));
    assert!(
        after < before - 0.2,
        "held-out bits/dim: untrained {before}, trained {after}"
    );
}

#[test]
fn a_resumed_run_ends_with_the_same_weights() {
    let dir = temp_dir("resume");
    // Tail averaging from step 3, so that the checkpoint of step 5 carries a tail mean to restore, and drawn
    // symmetries, so that they too must be drawn again alike.
    let extra = "average_from = 3\naugment = \"dihedral\"";
    let config = TrainConfig::load(&tiny_digits_file(&dir, 12, extra)).unwrap();
    let data = load_section(&config.data).unwrap();
    let mut straight = Trainer::new(config.clone(), data.clone()).unwrap();
    straight.run(12, |_| {}).unwrap();
    let expected = straight.model_weights().unwrap();

    let mut first = Trainer::new(config.clone(), data.clone()).unwrap();
    first.run(5, |_| {}).unwrap();
    drop(first); // killed after its checkpoint at step 5
    let mut second = Trainer::new(config, data).unwrap();
    second.resume(&second.checkpoint_path()).unwrap();
    assert_eq!(second.step(), 5);
    second.run(12, |_| {}).unwrap();
    assert_eq!(
        second.model_weights().unwrap(),
        expected,
        "resume equals uninterrupted, bit for bit"
    );
}

/// A tiny run of two stages: 6 steps of `[training]`, then 4 from their weights at another rate, warm-up,
/// moving average and seed.
fn tiny_staged_digits(dir: &std::path::Path) -> TrainConfig {
    TrainConfig::load(&tiny_digits_file(
        dir,
        6,
        "[[stage]]\nsteps = 4\nlearning_rate = 1e-3\nwarmup = 2\nema_decay = 0.8\nseed = 8",
    ))
    .unwrap()
}

/// A schedule in stages is the chain of fine-tuning runs it replaces, bit for bit: its second stage starts from
/// the first's averaged weights, as a run with `init` on the first's model file does, with the settings its
/// table names replacing `[training]`'s and the rest kept.
#[test]
fn a_staged_run_is_its_chain_of_fine_tuning_runs() {
    let dir = temp_dir("stages");
    let config = tiny_staged_digits(&dir);
    assert_eq!((config.stage_count(), config.steps_in_all()), (2, 10));
    let data = load_section(&config.data).unwrap();
    let mut seen = Vec::new();
    let staged = Trainer::new(config, data.clone())
        .unwrap()
        .run_stages(u32::MAX, &data, |p| seen.push((p.stage.index, p.step)))
        .unwrap();
    let expected_steps: Vec<_> = (1..=6)
        .map(|s| (0, s))
        .chain((1..=4).map(|s| (1, s)))
        .collect();
    assert_eq!(seen, expected_steps);
    assert!(
        staged.next_stage(data.clone()).unwrap().is_none(),
        "two stages"
    );
    let staged = staged.model_weights().unwrap();
    assert!(
        staged
            .config()
            .provenance
            .ends_with("(10 steps, stage 2 of 2)"),
        "{}",
        staged.config().provenance
    );

    // The chain: 6 steps alone, then a run of 4 from its model file, with the second stage's settings.
    let mut first = Trainer::new(tiny_digits(&dir, 6), data.clone()).unwrap();
    first.run(6, |_| {}).unwrap();
    let init = dir.join("first.safetensors");
    std::fs::rename(dir.join("tiny.safetensors"), &init).unwrap();
    let mut second = tiny_digits(&dir, 4);
    let t = &mut second.training;
    (t.learning_rate, t.warmup, t.ema_decay, t.seed) = (1e-3, 2, 0.8, 8);
    t.init = Some(init);
    let mut second = Trainer::new(second, data.clone()).unwrap();
    second.run(4, |_| {}).unwrap();
    assert_eq!(
        second.model_weights().unwrap().tensors(),
        staged.tensors(),
        "stages equal their chain of runs"
    );

    let mut straight = Trainer::new(tiny_digits(&dir, 10), data).unwrap();
    straight.run(10, |_| {}).unwrap();
    assert_ne!(
        straight.model_weights().unwrap().tensors(),
        staged.tensors(),
        "the second stage's settings change the run"
    );
}

/// A staged run stopped anywhere — inside a stage or at its end — resumes in the stage its checkpoint was
/// written in and ends with the weights of the uninterrupted run.
#[test]
fn a_staged_run_resumes_in_the_stage_it_stopped_in() {
    let dir = temp_dir("stages-resume");
    let config = tiny_staged_digits(&dir);
    let data = load_section(&config.data).unwrap();
    let straight = Trainer::new(config.clone(), data.clone())
        .unwrap()
        .run_stages(10, &data, |_| {})
        .unwrap()
        .model_weights()
        .unwrap();
    for stop in [3, 6, 8] {
        let stopped = Trainer::new(config.clone(), data.clone())
            .unwrap()
            .run_stages(stop, &data, |_| {})
            .unwrap();
        assert_eq!(stopped.steps_in_all(), stop);
        drop(stopped); // killed after its checkpoint
        let resumed = Trainer::resumed(config.clone(), data.clone()).unwrap();
        assert_eq!(
            (resumed.stage().index, resumed.steps_in_all()),
            (usize::from(stop > 6), stop),
            "stopped at {stop}"
        );
        let resumed = resumed.run_stages(10, &data, |_| {}).unwrap();
        assert_eq!(
            resumed.model_weights().unwrap(),
            straight,
            "stopped at {stop}: resume equals uninterrupted, bit for bit"
        );
    }
}

/// A later stage's table is checked as its own run, and named by its place in the schedule.
#[test]
fn stage_tables_that_cannot_be_run_are_refused_by_name() {
    let dir = temp_dir("stage-settings");
    for (stage, expected) in [
        (
            "init = 'base.safetensors'",
            "stage 3 ([[stage]] 2): init is [training]'s alone",
        ),
        ("stepz = 4", "stage 3 ([[stage]] 2): unknown field `stepz`"),
        (
            "learning_rate = -1.0",
            "stage 3 ([[stage]] 2): training.learning_rate must be positive",
        ),
        (
            "average_from = 9",
            "stage 3 ([[stage]] 2): training.average_from must lie in 1..=8",
        ),
    ] {
        let extra = format!("[[stage]]\nsteps = 8\n[[stage]]\n{stage}");
        let e = TrainConfig::load(&tiny_digits_file(&dir, 8, &extra))
            .expect_err(stage)
            .to_string();
        assert!(e.contains(expected), "{stage}: {e}");
    }
}

#[test]
fn the_tail_mean_starts_at_average_from() {
    let dir = temp_dir("tail");
    let weights = tiny_digits_run(&dir, 8);
    let moving_average = weights("");
    assert_eq!(
        weights("average_from = 8"),
        moving_average,
        "a mean over the last step alone is that step's moving average"
    );
    let tail = weights("average_from = 4");
    let name = "transformer.h.0.attn.c_attn.weight";
    let (a, b) = (
        &tail.tensors()[name].values,
        &moving_average.tensors()[name].values,
    );
    assert!(
        a.iter().zip(b).any(|(x, y)| x != y),
        "a mean over steps 4..=8 differs from the last moving average"
    );
}

#[test]
fn a_run_stopped_before_its_lr_decay_steps_is_the_start_of_the_longer_run() {
    let dir = temp_dir("lr-decay");
    let short = tiny_digits_run(&dir, 8);
    let stopped = short("cosine_decay = true\nlr_decay_steps = 20");
    let config = TrainConfig::load(&tiny_digits_file(&dir, 20, "cosine_decay = true")).unwrap();
    let data = load_section(&config.data).unwrap();
    let mut long = Trainer::new(config, data).unwrap();
    long.run(8, |_| {}).unwrap();
    assert_eq!(
        stopped,
        long.model_weights().unwrap(),
        "8 steps of a schedule decaying to step 20 are the first 8 steps of a 20-step run, bit for bit"
    );
    assert_ne!(
        stopped,
        short("cosine_decay = true"),
        "an 8-step schedule decays sooner and ends elsewhere"
    );
}

#[test]
fn augmented_runs_train_on_the_symmetric_images_and_none_changes_nothing() {
    let dir = temp_dir("augment");
    let weights = tiny_digits_run(&dir, 6);
    let plain = weights("");
    assert_eq!(
        weights("augment = \"none\""),
        plain,
        "no symmetries draws exactly what a run without the setting draws"
    );
    for group in ["mirror", "dihedral"] {
        assert_ne!(weights(&format!("augment = \"{group}\"")), plain, "{group}");
    }
}

#[test]
fn a_fine_tuning_run_starts_from_its_init_model_and_refuses_another_network() {
    let dir = temp_dir("init");
    let config = tiny_digits(&dir, 30);
    let data = load_section(&config.data).unwrap();
    let mut fresh_losses = Vec::new();
    let mut base = Trainer::new(config, data.clone()).unwrap();
    base.run(30, |p| fresh_losses.push(p.loss)).unwrap();
    let init = dir.join("base.safetensors");
    std::fs::rename(dir.join("tiny.safetensors"), &init).unwrap();
    let trained = Weights::load(&init).unwrap();

    let extra = format!("init = '{}'", init.display());
    let config = TrainConfig::load(&tiny_digits_file(&dir, 30, &extra)).unwrap();
    let mut tuned = Trainer::new(config.clone(), data.clone()).unwrap();
    let start = tuned.model_weights().unwrap();
    assert_eq!(
        start.tensors(),
        trained.tensors(),
        "step 0 is the init model"
    );
    assert!(
        start.config().provenance.contains("base.safetensors"),
        "{}",
        start.config().provenance
    );
    let mut tuned_losses = Vec::new();
    tuned.run(5, |p| tuned_losses.push(p.loss)).unwrap();
    let mean = |xs: &[f32]| xs.iter().sum::<f32>() / xs.len() as f32;
    let (tuned, fresh_start, fresh_end) = (
        mean(&tuned_losses),
        mean(&fresh_losses[..5]),
        mean(&fresh_losses[25..]),
    );
    assert!(
        (tuned - fresh_end).abs() < (tuned - fresh_start).abs(),
        "fine-tuning goes on from where the first run ended ({fresh_end}), not from its start \
         ({fresh_start}): {tuned}"
    );

    let mut wider = config;
    wider.model.width = Some(24);
    let e = Trainer::new(wider, data).err().expect("refused");
    assert!(e.to_string().contains("another network"), "{e}");
}

/// Each shipped model is what its configuration makes: the network, data and steps (every stage's) the file
/// records are the configuration's, and a configuration that fine-tunes starts from the output of another shipped
/// configuration, so that `bfn-train train` on the two remakes the file.
#[test]
fn every_config_describes_the_model_it_ships() {
    // The model configs; experiments (`configs/head-to-head/`) have folders of their own.
    let paths: Vec<PathBuf> = std::fs::read_dir("configs")
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    let configs: Vec<TrainConfig> = paths
        .iter()
        .map(|path| TrainConfig::load(path).unwrap())
        .collect();
    let outputs: Vec<&PathBuf> = configs.iter().map(|c| &c.output).collect();
    let mut shipped = 0;
    for (path, config) in paths.iter().zip(&configs) {
        if let Some(init) = &config.training.init {
            assert!(
                outputs.contains(&init),
                "{}: init {init:?} is made by no config",
                config.name
            );
        }
        // The comment naming the stage that fine-tunes this output is text: checked, so that it cannot drift
        // when a stage is added.
        let fine_tuned_by: Vec<String> = paths
            .iter()
            .zip(&configs)
            .filter(|(_, next)| next.training.init.as_ref() == Some(&config.output))
            .map(|(next, _)| format!("`{}` fine-tunes", next.display()))
            .collect();
        let comments = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter_map(|line| line.strip_prefix('#'))
            .flat_map(str::split_whitespace)
            .collect::<Vec<_>>()
            .join(" ");
        let named = comments.matches(" fine-tunes").count();
        assert!(
            fine_tuned_by.iter().all(|next| comments.contains(next))
                && named == fine_tuned_by.len(),
            "{}: its comments name {named} stage(s) fine-tuning its output, the configs {fine_tuned_by:?}",
            config.name
        );
        if !config.output.starts_with("assets/models") {
            continue;
        }
        shipped += 1;
        let file = Weights::load(&config.output).unwrap().config().clone();
        let m = &config.model;
        assert_eq!(file.network, m.network_config().unwrap(), "{}", config.name);
        assert_eq!(file.patch, m.patch.unwrap_or(1), "{}", config.name);
        assert_eq!(file.sampling_steps, m.sampling_steps, "{}", config.name);
        assert_eq!(
            file.training_data,
            Some(serde_json::to_value(&config.data).unwrap()),
            "{}",
            config.name
        );
        let steps = match config.stage_count() {
            1 => format!("({} steps)", config.training.steps),
            n => format!("({} steps, stage {n} of {n})", config.steps_in_all()),
        };
        assert!(
            file.provenance
                .contains(&format!("config `{}`", config.name))
                && file.provenance.ends_with(&steps),
            "{}: the file says it was made by {}",
            config.name,
            file.provenance
        );
    }
    assert_eq!(
        shipped, 8,
        "digits, dungeon, names, sprites and terrain, and conditional digits, names and sprites"
    );
}

/// The runs under way (`configs/next/`, issue 39) are configs `train` accepts, each named after its file and
/// writing the shipped file it will replace, so that moving it to `configs/` makes that file.
#[test]
fn every_config_under_way_loads_and_writes_a_shipped_file() {
    let Ok(entries) = std::fs::read_dir("configs/next") else {
        return; // nothing under way
    };
    for path in entries.map(|entry| entry.unwrap().path()) {
        let config = TrainConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(config.name, name, "{}", path.display());
        assert_eq!(
            config.output,
            PathBuf::from(format!("assets/models/{name}.safetensors")),
            "{}",
            path.display()
        );
    }
}

/// The floors `docs/models.md` reports for the shipped models, measured as `bfn-train eval` measures them (the
/// same evaluation seed, so these are the documented numbers): each scores better than the per-variable marginal
/// on its held-out split by more than two standard errors, and digits stays within 1.80 bits/dim.
#[test]
fn every_shipped_model_beats_its_marginal_baseline_held_out() {
    for name in ["digits", "dungeon", "names", "sprites", "terrain"] {
        let config = TrainConfig::load(&PathBuf::from(format!("configs/{name}.toml"))).unwrap();
        let weights = Weights::load(&config.output).unwrap();
        let data = load_section(&config.data).unwrap();
        // Digits' bound is within a standard error of its score, which takes the documented 24 passes to pin.
        let repeats = if name == "digits" { 24 } else { 2 };
        let eval = evaluate(&weights, &data, &[], repeats, 1, 0).unwrap();
        let bits = eval.continuous.bits_per_dim();
        assert!(
            bits.mean + 2.0 * bits.stderr < eval.marginal_bits,
            "{name}: {:.4} ± {:.4} bits/dim held out, the marginal {:.4}",
            bits.mean,
            bits.stderr,
            eval.marginal_bits
        );
        if name == "digits" {
            assert!(
                bits.mean <= 1.80,
                "digits: {:.4} bits/dim held out",
                bits.mean
            );
        }
    }
}

#[test]
fn training_settings_out_of_range_are_refused_by_name() {
    let dir = temp_dir("settings");
    for (extra, expected) in [
        (
            "average_from = 0",
            "training.average_from must lie in 1..=8",
        ),
        (
            "average_from = 9",
            "training.average_from must lie in 1..=8",
        ),
        ("dropout = 1.5", "training.dropout must lie in [0, 1)"),
        (
            "lr_decay_steps = 20",
            "training.lr_decay_steps needs cosine_decay = true",
        ),
        (
            "cosine_decay = true\nlr_decay_steps = 5",
            "must exceed the warm-up (5), got 5",
        ),
        ("augment = \"rotate\"", "unknown variant `rotate`"),
    ] {
        let e = TrainConfig::load(&tiny_digits_file(&dir, 8, extra)).expect_err(extra);
        assert!(e.to_string().contains(expected), "{extra}: {e}");
    }
}

#[test]
fn a_checkpoint_of_another_configuration_is_refused() {
    let dir = temp_dir("other-config");
    let config = tiny_digits(&dir, 3);
    let data = load_section(&config.data).unwrap();
    Trainer::new(config.clone(), data.clone())
        .unwrap()
        .run(3, |_| {})
        .unwrap();
    let mut other = config.clone();
    other.training.learning_rate = 1e-4;
    let mut trainer = Trainer::new(other, data).unwrap();
    let e = trainer
        .resume(&trainer.checkpoint_path())
        .expect_err("refused");
    assert!(e.to_string().contains("different configuration"), "{e}");
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let config = tiny_config(
        KindConfig::Discretised {
            sigma_1: 0.02,
            bins: 16,
        },
        Layout {
            height: 2,
            width: 3,
            channels: 4,
        },
    );
    let device = Device::Cpu;
    let varmap = initial_varmap(&config, 11, &device).unwrap();
    let weights = weights_from_varmap(&config, &varmap).unwrap();
    let dir = temp_dir("roundtrip");
    let path = dir.join("model.safetensors");
    weights.save(&path).unwrap();
    let loaded = Weights::load(&path).unwrap();
    assert_eq!(loaded, weights);
    let a = Network::from_weights(&weights, &device).unwrap();
    let b = Network::from_weights(&loaded, &device).unwrap();
    let input = Tensor::randn(0f32, 1.0, (3, 6, 4), &device).unwrap();
    let t = Tensor::new(&[0.1f32, 0.5, 0.9], &device).unwrap();
    let (ya, yb) = (
        a.forward(&input, &t).unwrap(),
        b.forward(&input, &t).unwrap(),
    );
    assert_eq!(ya.dims(), &[3, 6, 8]);
    let diff = (ya - yb)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(diff, 0.0);
}

#[test]
fn patches_regroup_pixels_into_tokens() {
    let dir = temp_dir("patch");
    let mut config = tiny_digits(&dir, 10);
    config.model.patch = Some(2);
    let data = load_section(&config.data).unwrap();
    let (patched, model) = config.prepare(data.clone()).unwrap();
    assert_eq!(
        model.layout,
        Layout {
            height: 4,
            width: 4,
            channels: 4
        }
    );
    assert_eq!(model.pixel_layout(), data.layout);
    let (Examples::Values(pixels), Examples::Values(tokens)) = (&data.examples, &patched.examples)
    else {
        panic!("digits are values")
    };
    for example in [0, 777, 1796] {
        for (r, c) in (0..8).flat_map(|r| (0..8).map(move |c| (r, c))) {
            assert_eq!(
                tokens[example * 64 + model.variable_of_pixel(r, c, 0)],
                pixels[example * 64 + r * 8 + c]
            );
        }
    }
    // Pixel (3, 2) is the bottom-left of the patch of token (1, 1): token 5, channel 2.
    assert_eq!(model.variable_of_pixel(3, 2, 0), 5 * 4 + 2);
    let mut trainer = Trainer::new(config, data).unwrap();
    trainer.run(10, |_| {}).unwrap();
    assert_eq!(trainer.model_config().patch, 2);
}

/// Discrete maps in 2 × 2 patches: a token takes four cells' θ (4K inputs) and gives four cells' logits, every
/// cell keeps its own class, the loss falls and the model samples maps of the data's size.
#[test]
fn discrete_maps_train_in_patches() {
    let dir = temp_dir("discrete-patch");
    let path = tiny_run_file(
        &dir,
        "tiny-maps",
        "[data]\nsource = \"crawl-maps\"\nsize = 16\n[model]\nbeta_1 = 1.0\npatch = 2",
        "steps = 80\nbatch = 16\nseed = 5",
    );
    let config = TrainConfig::load(&path).unwrap();
    let data = load_section(&config.data).unwrap();
    let classes = data.legend.len();
    let (patched, model) = config.prepare(data.clone()).unwrap();
    assert_eq!(
        model.layout,
        Layout {
            height: 8,
            width: 8,
            channels: 4
        }
    );
    assert_eq!(model.kind.input_per_token(4), 4 * classes);
    assert_eq!(model.kind.output_per_token(4), 4 * classes);
    let (Examples::Classes(cells), Examples::Classes(tokens)) = (&data.examples, &patched.examples)
    else {
        panic!("maps are classes")
    };
    for example in [0, data.count / 2, data.count - 1] {
        for (r, c) in (0..16).flat_map(|r| (0..16).map(move |c| (r, c))) {
            assert_eq!(
                tokens[example * 256 + model.variable_of_pixel(r, c, 0)],
                cells[example * 256 + r * 16 + c]
            );
        }
    }
    let mut trainer = Trainer::new(config, data).unwrap();
    let mut losses = Vec::new();
    trainer.run(80, |p| losses.push(p.loss)).unwrap();
    let mean = |xs: &[f32]| xs.iter().sum::<f32>() / xs.len() as f32;
    let (first, last) = (mean(&losses[..10]), mean(&losses[70..]));
    assert!(last < 0.8 * first, "loss {first} → {last}");
    let weights = trainer.model_weights().unwrap();
    assert_eq!(
        weights.tensors()["input_adapter.inp_embedding.weight"].shape,
        vec![16, 4 * classes]
    );
    let Samples::Classes(sampled) = sample(&weights, 3, 10, 1).unwrap() else {
        panic!("a discrete model samples classes")
    };
    assert_eq!(sampled.len(), 3 * 256);
    assert!(sampled.iter().all(|&k| (k as usize) < classes));
}

/// The tiny digits run as a conditional model: `[data] labels = true`, with `extra` lines in `[training]`.
fn tiny_conditional_file(dir: &std::path::Path, steps: u32, extra: &str) -> PathBuf {
    tiny_run_file(
        dir,
        "tiny-conditional",
        "[data]\nsource = \"digits\"\nlabels = true\n[model]\nsigma_1 = 0.0316",
        &format!("steps = {steps}\nbatch = 32\nseed = 7\n{extra}"),
    )
}

#[test]
fn digits_and_names_load_with_their_classes() {
    let digits = load(&bevy_bfn::train::DataSpec::Digits).unwrap();
    let labels = digits.labels.expect("the digits are labelled");
    assert_eq!(
        labels.names,
        (0..10).map(|d| d.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(labels.of_example.len(), digits.count);
    // scikit-learn's file opens 0, 1, 2, ... and every digit has about 180 examples.
    assert_eq!(labels.of_example[..3], [Some(0), Some(1), Some(2)]);
    assert!(
        labels.counts().iter().all(|&n| (170..=190).contains(&n)),
        "{:?}",
        labels.counts()
    );

    let section = |labels: bool| bevy_bfn::train::dataset::DataSection {
        spec: bevy_bfn::train::DataSpec::Names {
            length: 8,
            dir: None,
        },
        labels,
    };
    let Some(names) = common::unless_missing(load_section(&section(true))) else {
        return;
    };
    let labels = names.labels.clone().expect("names are labelled");
    assert_eq!(labels.names, ["male", "female"]);
    let counts = labels.counts();
    assert!(counts.iter().all(|&n| n > 1000), "{counts:?}");
    assert_eq!(
        counts.iter().sum::<usize>(),
        names.count,
        "every name has a class"
    );
    let unlabelled = load_section(&section(false)).unwrap();
    assert_eq!(unlabelled.labels, None, "classes only when asked for");
    assert_eq!(
        unlabelled.examples, names.examples,
        "the same examples either way"
    );
    // "mary" is the commonest female name, "james" the commonest male one (after shuffling, found by text).
    let Examples::Classes(classes) = &names.examples else {
        unreachable!()
    };
    let text = |e: usize| -> String {
        classes[e * 8..(e + 1) * 8]
            .iter()
            .map(|&c| names.legend[c as usize].as_str())
            .collect()
    };
    let find = |name: &str| {
        (0..names.count)
            .find(|&e| text(e).trim_end() == name)
            .unwrap()
    };
    assert_eq!(labels.of_example[find("mary")], Some(1));
    assert_eq!(labels.of_example[find("james")], Some(0));
}

/// Asking for the classes of a source that has none is refused as a setting, naming it: on text lines written
/// here, which load wherever the test runs, so that no missing package can stand in for the refusal.
#[test]
fn labels_on_a_source_without_classes_are_refused() {
    let path = temp_dir("labels-without-classes").join("lines.txt");
    std::fs::write(&path, "abc\nbcd\ncde\ndef\n").unwrap();
    let section = |labels: bool| bevy_bfn::train::dataset::DataSection {
        spec: bevy_bfn::train::DataSpec::TextLines {
            path: path.clone(),
            length: 4,
            test_fraction: None,
        },
        labels,
    };
    load_section(&section(false)).expect("the lines load without classes");
    match load_section(&section(true)) {
        Err(e @ bevy_bfn::train::DataError::Setting { .. }) => {
            assert!(e.to_string().contains("no classes"), "{e}")
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("text lines have no classes"),
    }
}

#[test]
fn the_crawl_tiles_are_floor_wall_and_feature() {
    let spec = bevy_bfn::train::DataSpec::CrawlTiles {
        size: 16,
        bins: 16,
        dir: None,
    };
    let Some(tiles) = common::unless_missing(load(&spec)) else {
        return;
    };
    let labels = tiles.labels.expect("tiles are labelled by sheet");
    assert_eq!(labels.names, ["floor", "wall", "feature"]);
    assert!(
        labels.counts().iter().all(|&n| n > 50),
        "{:?}",
        labels.counts()
    );
    assert_eq!(labels.counts().iter().sum::<usize>(), tiles.count);
}

/// A conditional configuration and its unconditional twin, with a random class embedding where `random`.
fn conditional_pair(random: bool) -> (Weights, Weights) {
    let mut config = tiny_config(
        KindConfig::Discrete {
            beta_1: 1.0,
            classes: 27,
        },
        Layout {
            height: 1,
            width: 8,
            channels: 1,
        },
    );
    let plain =
        weights_from_varmap(&config, &initial_varmap(&config, 3, &Device::Cpu).unwrap()).unwrap();
    config.labels = vec!["male".into(), "female".into()];
    let mut varmap = initial_varmap(&config, 3, &Device::Cpu).unwrap();
    if random {
        let embedding = Tensor::randn(0f32, 1.0, (3, 16), &Device::Cpu).unwrap();
        varmap.set_one("label_embedding.weight", embedding).unwrap();
    }
    (plain, weights_from_varmap(&config, &varmap).unwrap())
}

/// A fixed θ of three sequences of 8 over 27 classes, as InputParams values.
fn fixed_theta() -> Vec<f32> {
    let raw: Vec<f32> = (0..3 * 8 * 27)
        .map(|i| ((i * 7919) % 97) as f32 + 1.0)
        .collect();
    raw.chunks(27)
        .flat_map(|p| {
            let sum: f32 = p.iter().sum();
            p.iter().map(move |v| v / sum)
        })
        .collect()
}

/// The network's output for `labels` on a fixed input.
fn output_of(weights: &Weights, labels: &[Option<u32>]) -> Vec<f32> {
    let gpt = Network::from_weights(weights, &Device::Cpu).unwrap();
    let theta = Tensor::from_vec(fixed_theta(), (3, 8, 27), &Device::Cpu).unwrap();
    let t = Tensor::new(&[0.1f32, 0.5, 0.9], &Device::Cpu).unwrap();
    let input = gpt.network_input(&theta).unwrap();
    gpt.forward_labelled(&input, &t, labels)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn a_conditional_model_starts_as_its_unconditional_twin() {
    let (plain, conditional) = conditional_pair(false);
    assert_eq!(
        conditional
            .config()
            .parameter_shapes()
            .into_iter()
            .find(|(name, _)| name == "label_embedding.weight")
            .map(|(_, shape)| shape),
        Some(vec![3, 16]),
        "one row a class and one for no class"
    );
    // The embedding comes last, so every other tensor is drawn as before; it starts at zero.
    for (name, tensor) in plain.tensors() {
        assert_eq!(&conditional.tensors()[name], tensor, "{name}");
    }
    assert!(
        conditional.tensors()["label_embedding.weight"]
            .values
            .iter()
            .all(|&v| v == 0.0)
    );
    let labels = [Some(0), Some(1), None];
    assert_eq!(output_of(&conditional, &labels), output_of(&plain, &[]));
}

#[test]
fn a_conditional_model_round_trips_through_the_weights_file() {
    let (_, conditional) = conditional_pair(true);
    let read = Weights::from_bytes(&conditional.to_bytes()).unwrap();
    assert_eq!(read.config().labels, ["male", "female"]);
    assert_eq!(read.tensors(), conditional.tensors());
    let before = output_of(&conditional, &[Some(0), Some(1), None]);
    let after = output_of(&read, &[Some(0), Some(1), None]);
    assert_eq!(before, after);
    let other = output_of(&read, &[Some(1), Some(0), None]);
    assert_ne!(
        before[..8 * 27],
        other[..8 * 27],
        "the class changes the output"
    );
    assert_eq!(
        before[2 * 8 * 27..],
        other[2 * 8 * 27..],
        "rows without a class do not move"
    );
    // A class the model does not have is an error, not a wrong row.
    let gpt = Network::from_weights(&read, &Device::Cpu).unwrap();
    let input = Tensor::zeros((1, 8, 27), candle_core::DType::F32, &Device::Cpu).unwrap();
    let t = Tensor::new(&[0.5f32], &Device::Cpu).unwrap();
    assert!(gpt.forward_labelled(&input, &t, &[Some(2)]).is_err());
    assert!(
        gpt.forward_labelled(&input, &t, &[None, None]).is_err(),
        "one label a row"
    );
    // A repeated or empty class name is refused on load.
    let mut config = read.config().clone();
    config.labels = vec!["male".into(), "male".into()];
    assert!(Weights::new(config, read.tensors().clone()).is_err());
}

#[test]
fn guidance_mixes_the_conditional_and_unconditional_outputs() {
    use bevy_bfn::flow::Denoiser;
    use bevy_bfn::train::denoiser::{Guidance, NetworkDenoiser};
    let (_, conditional) = conditional_pair(true);
    let gpt = Network::from_weights(&conditional, &Device::Cpu).unwrap();
    let shape = Shape::new(3, 8).unwrap();
    let input = InputParams::new(shape, 27, fixed_theta()).unwrap();
    let t = [0.2f32, 0.5, 0.8];
    let labels = vec![Some(1), None, Some(0)];
    let run = |weight: f64, labels: Vec<Option<u32>>| {
        let mut denoiser =
            NetworkDenoiser::new(&gpt, &Device::Cpu).with_guidance(Guidance { labels, weight });
        let mut out = vec![0f32; 3 * 8 * 27];
        denoiser.output_params(&input, &t, &mut out).unwrap();
        out
    };
    let conditional = run(0.0, labels.clone());
    let unconditional = run(0.0, vec![None; 3]);
    assert_eq!(
        conditional,
        run(0.0, labels.clone()),
        "w = 0 is the conditional pass"
    );
    let guided = run(2.0, labels.clone());
    let row = 8 * 27;
    for (i, (g, (c, u))) in guided
        .iter()
        .zip(conditional.iter().zip(&unconditional))
        .enumerate()
    {
        let expected = if i / row == 1 { *c } else { 3.0 * c - 2.0 * u };
        assert!((g - expected).abs() < 1e-4, "{i}: {g} against {expected}");
    }
    let mut denoiser = NetworkDenoiser::new(&gpt, &Device::Cpu).with_guidance(Guidance {
        labels: vec![Some(0), Some(1)],
        weight: 1.0,
    });
    let mut out = vec![0f32; 3 * 8 * 27];
    assert!(
        denoiser.output_params(&input, &t, &mut out).is_err(),
        "one label a row, or one for all"
    );
    for weight in [-1.0, f64::NAN] {
        denoiser.guidance = Guidance::class(0, weight);
        assert!(denoiser.output_params(&input, &t, &mut out).is_err());
    }
}

/// Guidance steers toward the class asked for: of the shipped conditional digits, sampled on the CPU asking for
/// each digit in turn, the share whose nearest held-out digit is of the class asked for rises from w = 0 (the
/// conditional pass alone) to w = 2, by a fifth of the samples at least, and w = 4 gives other digits than w = 2. A weight that were ignored, or a
/// guided output mixed the wrong way round (toward the unconditional pass), fails this.
#[test]
fn guidance_moves_the_conditional_digits_toward_the_class_asked_for() {
    use bevy_bfn::flow::{Constraints, SamplingMethod};
    use bevy_bfn::measure::sample_sheet::sample_guided;
    use bevy_bfn::train::denoiser::Guidance;
    let weights = Weights::load("assets/models/digits-conditional.safetensors").unwrap();
    let labels: Vec<Option<u32>> = (0..40).map(|e| Some(e % 10)).collect();
    let run = |weight: f64| {
        sample_guided(
            &weights,
            labels.len(),
            8,
            3,
            SamplingMethod::Standard,
            &Constraints::<f32>::default(),
            Guidance {
                labels: labels.clone(),
                weight,
            },
        )
        .unwrap()
    };
    let [w0, w2, w4] = [0.0, 2.0, 4.0].map(run);
    let share = |samples| common::share_of_requested_digits(weights.config(), samples, &labels);
    let (s0, s2) = (share(&w0), share(&w2));
    eprintln!("nearest digit is the one asked for: w = 0 {s0:.3}, w = 2 {s2:.3}");
    assert!(
        s2 >= s0 + 0.2,
        "guidance does not steer: w = 0 {s0}, w = 2 {s2}"
    );
    assert_ne!(w4, w2, "w = 4 gives other digits than w = 2");
}

#[test]
fn a_conditional_run_fine_tunes_an_unconditional_model_and_evaluates_both_ways() {
    let dir = temp_dir("conditional");
    let base = TrainConfig::load(&tiny_digits_file(&dir, 3, "")).unwrap();
    let data = load_section(&base.data).unwrap();
    assert_eq!(data.labels, None, "an unconditional run drops the classes");
    let mut trainer = Trainer::new(base, data).unwrap();
    trainer.run(3, |_| {}).unwrap();
    let init = dir.join("base.safetensors");
    std::fs::rename(dir.join("tiny.safetensors"), &init).unwrap();
    let plain = Weights::load(&init).unwrap();

    let extra = format!("label_dropout = 0.15\ninit = '{}'", init.display());
    let config = TrainConfig::load(&tiny_conditional_file(&dir, 3, &extra)).unwrap();
    let data = load_section(&config.data).unwrap();
    let mut tuned = Trainer::new(config, data.clone()).unwrap();
    let start = tuned.model_weights().unwrap();
    assert_eq!(start.config().labels.len(), 10);
    for (name, tensor) in plain.tensors() {
        assert_eq!(
            &start.tensors()[name],
            tensor,
            "{name} comes from the init model"
        );
    }
    tuned.run(3, |_| {}).unwrap();
    let weights = tuned.model_weights().unwrap();
    let result = evaluate(&weights, &data, &[10], 1, 4, 0).unwrap();
    let given = result
        .given_label
        .expect("a conditional model is scored given its class too");
    assert!(given.continuous.bits_per_dim().mean.is_finite());
    assert_ne!(
        given.continuous.bits_per_dim().mean,
        result.continuous.bits_per_dim().mean,
        "the class is an input"
    );
    assert!(
        evaluate(
            &plain,
            &load(&bevy_bfn::train::DataSpec::Digits).unwrap(),
            &[10],
            1,
            4,
            0
        )
        .unwrap()
        .given_label
        .is_none()
    );

    // Label dropout needs classes to drop, and lies in [0, 1).
    let no_labels = TrainConfig::load(&tiny_digits_file(&dir, 3, "label_dropout = 0.1"));
    assert!(no_labels.unwrap_err().to_string().contains("labels = true"));
    let too_much = TrainConfig::load(&tiny_conditional_file(&dir, 3, "label_dropout = 1.0"));
    assert!(too_much.unwrap_err().to_string().contains("label_dropout"));
}
