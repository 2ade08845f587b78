//! The U-Net (issue 38): its parameters under the official names, the network seam, training on real data,
//! larger canvases, and bad files refused by name.
#![cfg(feature = "train")]

mod common;
use common::{spread_weights, temp_dir};

use std::collections::BTreeMap;

use bevy_bfn::flow::SamplingMethod;
use bevy_bfn::measure::eval::evaluate;
use bevy_bfn::measure::sample_sheet::sample_with;
use bevy_bfn::model::{
    KindConfig, Layout, Limits, ModelConfig, NetworkConfig, Samples, UnetConfig, Weights,
    WeightsError,
};
use bevy_bfn::net::{Network, initial_varmap, weights_from_varmap};
use bevy_bfn::train::config::TrainConfig;
use bevy_bfn::train::datasets::load_section;
use bevy_bfn::train::trainer::Trainer;
use candle_core::{Device, Tensor};

/// A small U-Net: two levels of 8 and 16 channels, attention at the second.
fn small_unet() -> UnetConfig {
    UnetConfig {
        channels: 8,
        multipliers: vec![1, 2],
        res_blocks: 1,
        attention_levels: vec![1],
        heads: 2,
        groups: 4,
        context: false,
    }
}

fn config(kind: KindConfig, layout: Layout, net: UnetConfig) -> ModelConfig {
    ModelConfig {
        kind,
        layout,
        patch: 1,
        network: NetworkConfig::Unet(net),
        legend: Vec::new(),
        normalisation: None,
        sampling_steps: None,
        sampler: None,
        provenance: "test".into(),
        training_data: None,
        labels: Vec::new(),
    }
}

/// The three kinds on a 4 × 6 canvas: discrete with 5 classes, discretised RGB on 16 levels, continuous heights.
fn kinds() -> [(KindConfig, usize); 3] {
    [
        (
            KindConfig::Discrete {
                beta_1: 1.0,
                classes: 5,
            },
            1,
        ),
        (
            KindConfig::Discretised {
                sigma_1: 0.03,
                bins: 16,
            },
            3,
        ),
        (KindConfig::Continuous { sigma_1: 0.03 }, 1),
    ]
}

/// improved-diffusion's `UNetModel(in_channels=2, model_channels=8, out_channels=1, num_res_blocks=1,
/// attention_resolutions=[2], channel_mult=(1, 2), num_heads=2)` state dict, written out by hand from the official
/// module's structure: the names and shapes a weights file of ours must hold to load into it.
fn official_state_dict() -> BTreeMap<String, Vec<usize>> {
    let mut dict = BTreeMap::new();
    let mut put = |name: &str, shape: &[usize]| {
        dict.insert(name.to_owned(), shape.to_vec());
    };
    let affine = |put: &mut dyn FnMut(&str, &[usize]), name: &str, shape: &[usize]| {
        put(&format!("{name}.weight"), shape);
        put(&format!("{name}.bias"), &shape[..1]);
    };
    let res = |put: &mut dyn FnMut(&str, &[usize]), name: &str, i: usize, o: usize| {
        let mut a = |p: &str, shape: &[usize]| {
            put(&format!("{name}.{p}.weight"), shape);
            put(&format!("{name}.{p}.bias"), &shape[..1]);
        };
        a("in_layers.0", &[i]);
        a("in_layers.2", &[o, i, 3, 3]);
        a("emb_layers.1", &[o, 32]);
        a("out_layers.0", &[o]);
        a("out_layers.3", &[o, o, 3, 3]);
        if i != o {
            a("skip_connection", &[o, i, 1, 1]);
        }
    };
    let attention = |put: &mut dyn FnMut(&str, &[usize]), name: &str, c: usize| {
        let mut a = |p: &str, shape: &[usize]| {
            put(&format!("{name}.{p}.weight"), shape);
            put(&format!("{name}.{p}.bias"), &shape[..1]);
        };
        a("norm", &[c]);
        a("qkv", &[3 * c, c, 1]);
        a("proj_out", &[c, c, 1]);
    };
    affine(&mut put, "time_embed.0", &[32, 8]);
    affine(&mut put, "time_embed.2", &[32, 32]);
    affine(&mut put, "input_blocks.0.0", &[8, 2, 3, 3]);
    res(&mut put, "input_blocks.1.0", 8, 8);
    affine(&mut put, "input_blocks.2.0.op", &[8, 8, 3, 3]);
    res(&mut put, "input_blocks.3.0", 8, 16);
    attention(&mut put, "input_blocks.3.1", 16);
    res(&mut put, "middle_block.0", 16, 16);
    attention(&mut put, "middle_block.1", 16);
    res(&mut put, "middle_block.2", 16, 16);
    res(&mut put, "output_blocks.0.0", 32, 16);
    attention(&mut put, "output_blocks.0.1", 16);
    res(&mut put, "output_blocks.1.0", 24, 16);
    attention(&mut put, "output_blocks.1.1", 16);
    affine(&mut put, "output_blocks.1.2.conv", &[16, 16, 3, 3]);
    res(&mut put, "output_blocks.2.0", 24, 8);
    res(&mut put, "output_blocks.3.0", 16, 8);
    affine(&mut put, "out.0", &[8]);
    affine(&mut put, "out.2", &[1, 8, 3, 3]);
    dict
}

#[test]
fn unet_parameters_have_the_official_names_and_shapes() {
    let config = config(
        KindConfig::Continuous { sigma_1: 0.03 },
        Layout {
            height: 4,
            width: 4,
            channels: 1,
        },
        small_unet(),
    );
    let ours: BTreeMap<String, Vec<usize>> = config.parameter_shapes().into_iter().collect();
    assert_eq!(ours, official_state_dict());
    // A file the trainer writes holds exactly those tensors, and a conditional one its class embedding too.
    let varmap = initial_varmap(&config, 3, &Device::Cpu).unwrap();
    let stored: BTreeMap<String, Vec<usize>> = weights_from_varmap(&config, &varmap)
        .unwrap()
        .tensors()
        .iter()
        .map(|(n, t)| (n.clone(), t.shape.clone()))
        .collect();
    assert_eq!(stored, official_state_dict());
    let labelled = ModelConfig {
        labels: vec!["a".into(), "b".into()],
        ..config
    };
    assert!(
        labelled
            .parameter_shapes()
            .contains(&("label_emb.weight".to_owned(), vec![3, 32]))
    );
}

#[test]
fn a_model_file_names_its_network_and_one_without_a_type_is_a_gpt() {
    let gpt = r#"{"layers": 2, "heads": 2, "width": 16, "positions": "grid"}"#;
    let read: NetworkConfig = serde_json::from_str(gpt).unwrap();
    assert_eq!(read.architecture(), "gpt");
    let tagged: NetworkConfig =
        serde_json::from_str(&serde_json::to_string(&read).unwrap()).unwrap();
    assert_eq!(tagged, read);
    let unet = NetworkConfig::Unet(small_unet());
    let json = serde_json::to_string(&unet).unwrap();
    assert!(json.contains(r#""type":"unet""#), "{json}");
    assert_eq!(serde_json::from_str::<NetworkConfig>(&json).unwrap(), unet);
    for (bad, named) in [
        (r#"{"type": "rnn", "layers": 2}"#, "rnn"),
        (r#"{"type": "unet", "layers": 2}"#, "layers"),
        (
            r#"{"layers": 2, "heads": 2, "width": 16, "positions": "grid", "channels": 8}"#,
            "channels",
        ),
    ] {
        let error = serde_json::from_str::<NetworkConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(error.contains(named), "{bad}: {error}");
    }
}

#[test]
fn a_unet_answers_every_kind_with_the_gpts_outputs_on_any_canvas() {
    for (kind, channels) in kinds() {
        let layout = Layout {
            height: 4,
            width: 6,
            channels,
        };
        let config = config(kind, layout, small_unet());
        let weights = spread_weights(&config);
        let network = Network::from_weights(&weights, &Device::Cpu).unwrap();
        let inputs = kind.input_per_token(channels);
        let input = Tensor::randn(0f32, 1.0, (2, 24, inputs), &Device::Cpu).unwrap();
        let t = Tensor::new(&[0.3f32, 0.8], &Device::Cpu).unwrap();
        let output = network.forward(&input, &t).unwrap();
        assert_eq!(output.dims(), [2, 24, kind.output_per_token(channels)]);
        // The same weights on a canvas twice as wide and high, one pass.
        let larger = weights.with_canvas(12, 8).unwrap();
        let network = Network::from_weights(&larger, &Device::Cpu).unwrap();
        let input = Tensor::randn(0f32, 1.0, (2, 96, inputs), &Device::Cpu).unwrap();
        let output = network.forward(&input, &t).unwrap();
        assert_eq!(output.dims(), [2, 96, kind.output_per_token(channels)]);
        // A canvas the levels do not halve evenly is refused by name.
        let error = weights.with_canvas(7, 8).unwrap_err().to_string();
        assert!(error.contains("multiples of 2"), "{error}");
    }
}

#[test]
fn a_unet_sees_its_neighbours_and_the_time() {
    // A change to one input cell moves the outputs near it, and a change of time moves them all: the network is
    // not a per-cell function, and not blind to t.
    let (kind, channels) = kinds()[2];
    let layout = Layout {
        height: 8,
        width: 8,
        channels,
    };
    let weights = spread_weights(&config(kind, layout, small_unet()));
    let network = Network::from_weights(&weights, &Device::Cpu).unwrap();
    let base: Vec<f32> = (0..64)
        .map(|i| ((i * 37) % 17) as f32 / 17.0 - 0.5)
        .collect();
    let run = |values: &[f32], t: f32| -> Vec<f32> {
        let input = Tensor::from_slice(values, (1, 64, 1), &Device::Cpu).unwrap();
        let t = Tensor::new(&[t], &Device::Cpu).unwrap();
        network
            .forward(&input, &t)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let before = run(&base, 0.5);
    let mut poked = base.clone();
    poked[3 * 8 + 3] += 1.0;
    let after = run(&poked, 0.5);
    assert_ne!(
        before[3 * 8 + 4],
        after[3 * 8 + 4],
        "the right neighbour sees it"
    );
    assert_ne!(
        before[2 * 8 + 3],
        after[2 * 8 + 3],
        "the cell above sees it"
    );
    let later = run(&base, 0.9);
    assert!(
        before.iter().zip(&later).all(|(a, b)| a != b),
        "t reaches every cell"
    );
}

/// The `[model]` network lines of the tiny U-Net run.
const TINY_UNET: &str =
    "network = \"unet\"\nchannels = 16\nmultipliers = [1, 2]\nres_blocks = 1\ngroups = 8";

/// A tiny U-Net run on the real digits (8 × 8, 17 levels).
fn tiny_unet_digits(dir: &std::path::Path, steps: u32, extra: &str) -> TrainConfig {
    TrainConfig::from_toml(&tiny_unet_text(dir, steps, TINY_UNET, extra)).unwrap()
}

/// The tiny run's TOML with `network` as its `[model]` network lines and `extra` lines in `[training]`.
fn tiny_unet_text(dir: &std::path::Path, steps: u32, network: &str, extra: &str) -> String {
    format!(
        r#"
name = "tiny-unet-digits"
output = "{}"
[data]
source = "digits"
[model]
sigma_1 = 0.0316
{network}
[training]
steps = {steps}
batch = 16
learning_rate = 3e-3
warmup = 5
weight_decay = 0.01
betas = [0.9, 0.98]
grad_clip = 1.0
ema_decay = 0.9
loss = "continuous"
seed = 7
checkpoint_every = 1000
{extra}
"#,
        dir.join("tiny.safetensors").display()
    )
}

#[test]
fn a_tiny_unet_learns_the_digits() {
    let dir = temp_dir("unet-learns");
    let config = tiny_unet_digits(&dir, 120, "");
    let data = load_section(&config.data).unwrap();
    let mut trainer = Trainer::new(config, data.clone()).unwrap();
    let untrained = trainer.model_weights().unwrap();
    let mut losses = Vec::new();
    trainer.run(120, |p| losses.push(p.loss)).unwrap();
    let mean = |xs: &[f32]| xs.iter().sum::<f32>() / xs.len() as f32;
    let (first, last) = (mean(&losses[..20]), mean(&losses[100..]));
    assert!(
        last < 0.8 * first,
        "the training loss falls: {first} → {last}"
    );
    let trained = Weights::load(dir.join("tiny.safetensors")).unwrap();
    assert_eq!(trained.config().network.architecture(), "unet");
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
    // It samples its own canvas and a larger one.
    let Samples::Values(small) = sample_with(&trained, 2, 5, 1, SamplingMethod::Standard).unwrap()
    else {
        panic!("digits are values")
    };
    assert_eq!(small.len(), 2 * 64);
    let larger = trained.with_canvas(16, 12).unwrap();
    let Samples::Values(large) = sample_with(&larger, 2, 5, 1, SamplingMethod::Standard).unwrap()
    else {
        panic!("digits are values")
    };
    assert_eq!(large.len(), 2 * 16 * 12);
    assert!(large.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
}

#[test]
fn a_resumed_unet_run_ends_with_the_same_weights() {
    let dir = temp_dir("unet-resume");
    // Dropout, drawn symmetries and drawn context masks: each must be drawn again alike.
    let text = tiny_unet_text(
        &dir,
        8,
        &format!("{TINY_UNET}\ncontext = true"),
        "dropout = 0.1\naugment = \"dihedral\"\ncontext = 0.75",
    );
    let config = TrainConfig::from_toml(&text).unwrap();
    let data = load_section(&config.data).unwrap();
    let mut straight = Trainer::new(config.clone(), data.clone()).unwrap();
    straight.run(8, |_| {}).unwrap();
    let expected = straight.model_weights().unwrap();

    let mut first = Trainer::new(config.clone(), data.clone()).unwrap();
    first.run(3, |_| {}).unwrap();
    drop(first); // killed after its checkpoint at step 3
    let mut second = Trainer::new(config, data).unwrap();
    second.resume(&second.checkpoint_path()).unwrap();
    assert_eq!(second.step(), 3);
    second.run(8, |_| {}).unwrap();
    assert_eq!(
        second.model_weights().unwrap(),
        expected,
        "resume equals uninterrupted, bit for bit"
    );
}

/// A run on the Crawl vaults with the larger ones cut into crops at drawn offsets, and context masks: resumed,
/// it draws the same crops and masks and ends with the same weights; and crops are drawn at all.
#[test]
fn a_resumed_unet_run_on_cropped_vaults_ends_with_the_same_weights() {
    let dir = temp_dir("unet-crops");
    let text = format!(
        r#"
name = "tiny-unet-vaults"
output = "{}"
[data]
source = "crawl-maps"
size = 16
crops = true
[model]
beta_1 = 1.0
{TINY_UNET}
context = true
[training]
steps = 6
batch = 24
learning_rate = 3e-3
warmup = 2
weight_decay = 0.01
betas = [0.9, 0.98]
grad_clip = 1.0
ema_decay = 0.9
loss = "continuous"
seed = 5
checkpoint_every = 1000
"#,
        dir.join("tiny.safetensors").display()
    );
    let config = TrainConfig::from_toml(&text).unwrap();
    let data = load_section(&config.data).unwrap();
    // With a batch of 24, six steps draw about 60 crops from the 1,900 sources beside 2,700 maps.
    assert!(data.crops.len() > data.train_count() / 2);
    let mut straight = Trainer::new(config.clone(), data.clone()).unwrap();
    straight.run(6, |_| {}).unwrap();
    let expected = straight.model_weights().unwrap();
    let mut first = Trainer::new(config.clone(), data.clone()).unwrap();
    first.run(2, |_| {}).unwrap();
    drop(first);
    let mut second = Trainer::new(config.clone(), data.clone()).unwrap();
    second.resume(&second.checkpoint_path()).unwrap();
    second.run(6, |_| {}).unwrap();
    assert_eq!(second.model_weights().unwrap(), expected);
    // Without the crop sources the same seed trains another network: crops were drawn.
    let mut uncropped = data.clone();
    uncropped.crops.clear();
    let mut other = Trainer::new(config, uncropped).unwrap();
    other.run(6, |_| {}).unwrap();
    assert_ne!(other.model_weights().unwrap(), expected);
}

#[test]
fn a_unet_config_names_its_settings_and_refuses_the_gpts() {
    let dir = temp_dir("unet-config");
    let good = tiny_unet_digits(&dir, 8, "");
    assert_eq!(
        good.model.network_config().unwrap(),
        NetworkConfig::Unet(UnetConfig {
            channels: 16,
            multipliers: vec![1, 2],
            res_blocks: 1,
            attention_levels: vec![],
            heads: 1,
            groups: 8,
            context: false,
        })
    );
    let with = |network: &str| tiny_unet_text(&dir, 8, network, "");
    for (edit, named) in [
        (
            TINY_UNET.replace("groups = 8", "groups = 8\nlayers = 4"),
            "model.layers",
        ),
        (TINY_UNET.replace("\ngroups = 8", ""), "model.groups"),
        (
            TINY_UNET.replace("channels = 16", "channels = 100000"),
            "network.channels",
        ),
    ] {
        let error = TrainConfig::from_toml(&with(&edit)).unwrap_err();
        assert!(error.contains(named), "{named}: {error}");
    }
    // Groups that do not divide a level's channels: an error at preparation, naming the layer.
    let config =
        TrainConfig::from_toml(&with(&TINY_UNET.replace("groups = 8", "groups = 5"))).unwrap();
    let data = load_section(&config.data).unwrap();
    let error = Trainer::new(config, data).err().unwrap().to_string();
    assert!(error.contains("5 groups"), "{error}");
}

#[test]
fn a_bad_unet_file_is_refused_by_name() {
    let (kind, channels) = kinds()[0];
    let layout = Layout {
        height: 4,
        width: 4,
        channels,
    };
    let config = config(kind, layout, small_unet());
    let weights = spread_weights(&config);
    let conv = "input_blocks.1.0.in_layers.2.weight";

    let mut wrong_shape = weights.tensors().clone();
    wrong_shape.get_mut(conv).unwrap().shape = vec![8, 8, 9];
    match Weights::new(config.clone(), wrong_shape) {
        Err(WeightsError::WrongShape { name, .. }) => assert_eq!(name, conv),
        other => panic!("a wrong shape: {other:?}"),
    }
    let mut missing = weights.tensors().clone();
    missing.remove(conv);
    match Weights::new(config.clone(), missing) {
        Err(WeightsError::MissingTensor(name)) => assert_eq!(name, conv),
        other => panic!("a missing tensor: {other:?}"),
    }
    // A file claiming more channels than the limits allow is refused before anything of that size is built.
    let bytes = weights.to_bytes();
    let huge = common::model_claiming(&bytes, |config| {
        config["network"]["channels"] = serde_json::json!(1usize << 40);
    });
    let error = Weights::from_bytes(&huge).unwrap_err().to_string();
    assert!(error.contains("network.channels"), "{error}");
    let small = Limits {
        width: 12,
        ..Limits::default()
    };
    let error = Weights::from_bytes_with_limits(&bytes, &small)
        .unwrap_err()
        .to_string();
    assert!(error.contains("multipliers[1]"), "{error}");
    // And a U-Net may not be cut into patches.
    let patched = ModelConfig {
        patch: 2,
        layout: Layout {
            height: 2,
            width: 2,
            channels: 4,
        },
        ..config
    };
    assert!(
        patched
            .validate()
            .unwrap_err()
            .to_string()
            .contains("patch")
    );
}

/// A denoiser that records the contexts the sampler gives it.
struct Recording(Vec<(f32, Vec<f32>)>);

impl bevy_bfn::flow::Denoiser<f32> for Recording {
    fn output_params(
        &mut self,
        _input: &bevy_bfn::flow::InputParams<f32>,
        _t: &[f32],
        output: &mut [f32],
    ) -> bevy_bfn::Result<()> {
        output.fill(0.0);
        Ok(())
    }

    fn output_params_in_context(
        &mut self,
        input: &bevy_bfn::flow::InputParams<f32>,
        t: &[f32],
        context: &[f32],
        output: &mut [f32],
    ) -> bevy_bfn::Result<()> {
        self.0.push((t[0], context.to_vec()));
        self.output_params(input, t, output)
    }
}

/// The sampler hands a network the known values as the context the U-Net is trained with: a mask and the value
/// in θ's coordinates (a one-hot class), only while a value is conditioned (t < w), zeros for the free ones;
/// a run without known values asks without a context.
#[test]
fn unet_context_holds_the_known_values_while_they_are_conditioned() {
    use bevy_bfn::flow::{Constraints, Discrete, Known, Sampler, Shape};
    let sampler = Sampler::new(Discrete::new(1.0, 3).unwrap(), 10, 4).unwrap();
    let shape = Shape::new(1, 3).unwrap();
    let constraints = Constraints {
        known: vec![
            Some(Known::held(2u32)),
            None,
            Some(Known {
                value: 0,
                strength: 0.45,
            }),
        ],
        allowed: Vec::new(),
    };
    let mut recording = Recording(Vec::new());
    let samples = sampler
        .sample_constrained(&mut recording, shape, &constraints)
        .unwrap();
    assert_eq!(samples[0], 2);
    assert_eq!(recording.0.len(), 11, "ten updates and the final ask");
    for (t, context) in &recording.0 {
        let held = [1.0, 0.0, 0.0, 1.0];
        let soft = if *t < 0.45 {
            [1.0, 1.0, 0.0, 0.0]
        } else {
            [0.0; 4]
        };
        assert_eq!(context[..4], held, "t = {t}");
        assert_eq!(context[4..8], [0.0; 4], "t = {t}: the free variable");
        assert_eq!(context[8..], soft, "t = {t}");
    }
    let mut unconstrained = Recording(Vec::new());
    sampler
        .sample_constrained(&mut unconstrained, shape, &Constraints::<u32>::default())
        .unwrap();
    assert!(unconstrained.0.is_empty(), "no known value, no context");
}

/// The WGSL U-Net against the candle one, on whatever adapter wgpu finds (lavapipe in CI), for every kind.
#[cfg(feature = "gpu")]
mod on_the_gpu {
    use std::sync::{Mutex, MutexGuard, OnceLock};

    use bevy_bfn::flow::{Constraints, DEFAULT_ETA, Known, RuntimeDatum, SamplingMethod, Step};
    use bevy_bfn::gpu::{GpuContext, GpuModel, JobSettings, SamplingJob};
    use bevy_bfn::model::{
        Guidance, KindConfig, Layout, ModelConfig, Samples, UnetConfig, Weights,
    };

    use bevy_bfn::measure::sample_sheet::sample_guided;
    use bevy_bfn::net::Network;
    use candle_core::{Device, Tensor};

    use super::common::read_back::{staging_buffer, submit_and_read};
    use super::common::spread_weights;
    use super::{config, kinds, small_unet};

    fn gpu() -> MutexGuard<'static, GpuContext> {
        static GPU: OnceLock<Mutex<GpuContext>> = OnceLock::new();
        GPU.get_or_init(|| Mutex::new(GpuContext::new().expect("a wgpu adapter (lavapipe in CI)")))
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A U-Net of each kind on an 8 × 12 canvas, with `labels` classes, with and without a context input.
    fn models(labels: usize) -> Vec<Weights> {
        kinds()
            .into_iter()
            .flat_map(|(kind, channels)| {
                let layout = Layout {
                    height: 8,
                    width: 12,
                    channels,
                };
                [false, true].map(|context| {
                    let net = UnetConfig {
                        context,
                        ..small_unet()
                    };
                    spread_weights(&ModelConfig {
                        labels: (0..labels).map(|c| format!("class {c}")).collect(),
                        ..config(kind, layout, net)
                    })
                })
            })
            .collect()
    }

    fn run<D: RuntimeDatum>(
        gpu: &GpuContext,
        weights: &Weights,
        settings: JobSettings,
        guidance: &Guidance,
        constraints: &Constraints<D>,
    ) -> Samples {
        let model = GpuModel::new(&gpu.device, weights).unwrap();
        let mut job = SamplingJob::guided(&gpu.device, &model, settings, guidance).unwrap();
        job.write_constraints(&gpu.queue, constraints).unwrap();
        for k in [1, 4, 2, 1000] {
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            job.record_steps(&mut encoder, k);
            gpu.queue.submit([encoder.finish()]);
        }
        assert!(job.is_finished());
        job.read_samples(&gpu.device, &gpu.queue).unwrap()
    }

    /// The GPU's samples equal the CPU's: every class, or every value within 10⁻³ and at least 99% within 10⁻⁴.
    fn assert_agree(label: &str, on_gpu: &Samples, on_cpu: &Samples) {
        match (on_gpu, on_cpu) {
            (Samples::Classes(g), Samples::Classes(c)) => {
                let differ = g.iter().zip(c).filter(|(a, b)| a != b).count();
                assert!(
                    differ * 100 <= c.len(),
                    "{label}: {differ} of {} classes differ",
                    c.len()
                );
            }
            (Samples::Values(g), Samples::Values(c)) => {
                let largest = g.iter().zip(c).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    largest <= 1e-3,
                    "{label}: values differ by up to {largest:e}"
                );
            }
            _ => panic!("{label}: the GPU and CPU samples are of different kinds"),
        }
    }

    #[test]
    fn unet_forward_on_the_gpu_matches_candle_for_every_kind() {
        let gpu = gpu();
        for weights in models(0) {
            let model = GpuModel::new(&gpu.device, &weights).unwrap();
            let (batch, steps, taken) = (2, 20, 7);
            let settings = JobSettings {
                batch,
                steps,
                seed: 11,
                accuracy: None,
                sampler: SamplingMethod::Standard,
            };
            let mut job = SamplingJob::new(&gpu.device, &model, settings).unwrap();
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            job.record_steps(&mut encoder, taken);
            job.record_network(&mut encoder);
            gpu.queue.submit([encoder.finish()]);
            let theta = job.read_input_params(&gpu.device, &gpu.queue).unwrap();
            let on_gpu = job.read_output_params(&gpu.device, &gpu.queue).unwrap();
            let network = Network::from_weights(&weights, &Device::Cpu).unwrap();
            let cells = weights.config().layout.tokens();
            let theta = Tensor::from_vec(theta, (batch, cells, ()), &Device::Cpu).unwrap();
            let t = Step::new(taken + 1, steps).unwrap().t::<f32>();
            let on_cpu: Vec<f32> = network
                .forward(
                    &network.network_input(&theta).unwrap(),
                    &Tensor::from_vec(vec![t; batch], batch, &Device::Cpu).unwrap(),
                )
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let scale = on_cpu.iter().fold(0f32, |m, v| m.max(v.abs()));
            let error = on_gpu
                .iter()
                .zip(&on_cpu)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            let kind = weights.config().kind;
            assert!(scale > 1e-2, "{kind:?}: the outputs are all about zero");
            assert!(
                error < 1e-4 * scale,
                "{kind:?}: relative error {:e}",
                error / scale
            );
        }
    }

    #[test]
    fn unet_sampling_on_the_gpu_follows_the_cpu_with_guidance_and_constraints() {
        let gpu = gpu();
        let sde2 = SamplingMethod::Sde2 { eta: DEFAULT_ETA };
        for weights in models(2) {
            let kind = weights.config().kind;
            let context = &weights.tensors()["input_blocks.0.0.weight"].shape[1];
            for (sampler, guidance) in [
                (SamplingMethod::Standard, Guidance::default()),
                (
                    sde2,
                    Guidance {
                        labels: vec![Some(1), None],
                        weight: 2.0,
                    },
                ),
                (SamplingMethod::Standard, Guidance::class(0, 1.5)),
            ] {
                let label = format!("{kind:?}, {context} inputs, {sampler:?}, {guidance:?}");
                match kind {
                    KindConfig::Discrete { .. } => compare(
                        &gpu,
                        &weights,
                        sampler,
                        &guidance,
                        &held(&weights, 0u32),
                        &label,
                    ),
                    _ => compare(
                        &gpu,
                        &weights,
                        sampler,
                        &guidance,
                        &held(&weights, -0.9f32),
                        &label,
                    ),
                }
            }
        }
    }

    /// The first cell of every example held at `value`, the rest free.
    fn held<D: RuntimeDatum>(weights: &Weights, value: D) -> Constraints<D> {
        let layout = weights.config().layout;
        let mut known = vec![None; 2 * layout.variables()];
        for example in 0..2 {
            for c in 0..layout.channels {
                known[example * layout.variables() + c] = Some(Known::held(value));
            }
        }
        Constraints {
            known,
            allowed: Vec::new(),
        }
    }

    /// A run of 10 steps at batch 2 on the GPU and on the CPU agree, and the held cells are kept.
    fn compare<D: RuntimeDatum>(
        gpu: &GpuContext,
        weights: &Weights,
        sampler: SamplingMethod,
        guidance: &Guidance,
        constraints: &Constraints<D>,
        label: &str,
    ) {
        let settings = JobSettings {
            batch: 2,
            steps: 10,
            seed: 6,
            accuracy: None,
            sampler,
        };
        let on_gpu = run(gpu, weights, settings, guidance, constraints);
        let on_cpu =
            sample_guided(weights, 2, 10, 6, sampler, constraints, guidance.clone()).unwrap();
        assert_agree(label, &on_gpu, &on_cpu);
        let unconstrained = run(
            gpu,
            weights,
            settings,
            guidance,
            &Constraints::<D>::default(),
        );
        assert_ne!(
            on_gpu, unconstrained,
            "{label}: the constraints change the samples"
        );
    }

    #[test]
    fn a_unet_samples_a_larger_canvas_on_the_gpu_as_on_the_cpu() {
        let gpu = gpu();
        for weights in models(0) {
            let larger = weights.with_canvas(20, 16).unwrap();
            let settings = JobSettings {
                batch: 1,
                steps: 8,
                seed: 2,
                accuracy: None,
                sampler: SamplingMethod::Standard,
            };
            let on_gpu = run(
                &gpu,
                &larger,
                settings,
                &Guidance::default(),
                &Constraints::<f32>::default(),
            );
            let on_cpu = sample_guided(
                &larger,
                1,
                8,
                2,
                SamplingMethod::Standard,
                &Constraints::<f32>::default(),
                Guidance::default(),
            )
            .unwrap();
            let count = match &on_gpu {
                Samples::Classes(c) => c.len(),
                Samples::Values(v) => v.len(),
            };
            assert_eq!(count, 20 * 16 * larger.config().layout.channels);
            assert_agree("larger canvas", &on_gpu, &on_cpu);
            // The GPU model of the training canvas serves the larger one, sharing its weights.
            let model = GpuModel::new(&gpu.device, &weights).unwrap();
            let shared = model.with_canvas(20, 16).unwrap();
            let mut job = SamplingJob::new(&gpu.device, &shared, settings).unwrap();
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            job.record_steps(&mut encoder, 100);
            gpu.queue.submit([encoder.finish()]);
            assert_eq!(job.read_samples(&gpu.device, &gpu.queue).unwrap(), on_gpu);
        }
    }

    /// The matmul's convolutions (implicit GEMM, `shaders/matmul.wgsl`) against a direct convolution on the CPU:
    /// 3×3 at stride 1 and 2 and after nearest doubling, on ragged canvases and channel counts, reading the input
    /// as a column block of a wider buffer and writing into one, as the U-Net's concatenated skips are read.
    #[test]
    fn unet_convolutions_on_the_gpu_equal_a_direct_convolution() {
        use bevy_bfn::gpu::matmul::{ConvShape, Epilogue, Matmul, MatmulBuffers, MatmulShape};

        let gpu = gpu();
        let device = &gpu.device;
        let matmul = Matmul::new(device);
        let spread = |n: usize, seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| (((i + seed) * 7919) % 997) as f32 / 997.0 - 0.5)
                .collect()
        };
        let upload = |values: &[f32]| {
            bevy_bfn::gpu::memory::buffer_init(
                device,
                &wgpu::util::BufferInitDescriptor {
                    label: None,
                    contents: bytemuck::cast_slice(values),
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                },
            )
        };
        for (examples, height, width, cin, cout, stride, upsample) in [
            (2, 5, 7, 3, 4, 1, false),
            (1, 8, 6, 5, 70, 2, false),
            (3, 3, 4, 6, 9, 1, true),
            (2, 16, 12, 16, 8, 2, false),
        ] {
            // The input: cin channels at column 2 of rows of cin + 3.
            let (stride_in, offset) = (cin + 3, 2);
            let x = spread(examples * height * width * stride_in, 1);
            let w = spread(9 * cin * cout, 2); // B: [9·cin, cout], row tap·cin + c
            let bias = spread(cout, 3);
            let shape = ConvShape {
                in_height: height as u32,
                in_width: width as u32,
                stride: stride as u32,
                in_channels: cin as u32,
                upsample,
            };
            let (oh, ow) = shape.out_size();
            let (oh, ow) = (oh as usize, ow as usize);
            let rows = examples * oh * ow;
            // The output: cout columns at column 1 of rows of cout + 1.
            let c = upload(&vec![0f32; rows * (cout + 1)]);
            let dispatch = matmul.call(
                device,
                MatmulBuffers {
                    a: &upload(&x),
                    b: &upload(&w),
                    bias: &upload(&bias),
                    c: &c,
                },
                MatmulShape {
                    m: rows as u32,
                    n: cout as u32,
                    k: (9 * cin) as u32,
                    lda: stride_in as u32,
                    ldc: (cout + 1) as u32,
                    c_offset: 1,
                    a_offset: offset as u32,
                    conv: Some(shape),
                },
                Epilogue::Store,
            );
            let staging = staging_buffer(device, c.size());
            let mut encoder = device.create_command_encoder(&Default::default());
            dispatch.record(&mut encoder.begin_compute_pass(&Default::default()));
            encoder.copy_buffer_to_buffer(&c, 0, &staging, 0, c.size());
            let on_gpu: Vec<f32> = submit_and_read(device, &gpu.queue, encoder, &staging)
                .into_iter()
                .map(f32::from_bits)
                .collect();
            let factor = if upsample { 2 } else { 1 };
            for e in 0..examples {
                for y in 0..oh {
                    for xo in 0..ow {
                        for o in 0..cout {
                            let mut sum = bias[o];
                            for tap in 0..9 {
                                let iy = (y * stride + tap / 3) as isize - 1;
                                let ix = (xo * stride + tap % 3) as isize - 1;
                                let (vh, vw) =
                                    ((height * factor) as isize, (width * factor) as isize);
                                if iy < 0 || ix < 0 || iy >= vh || ix >= vw {
                                    continue;
                                }
                                let (sy, sx) = (iy as usize / factor, ix as usize / factor);
                                let cell = (e * height + sy) * width + sx;
                                for ci in 0..cin {
                                    sum += x[cell * stride_in + offset + ci]
                                        * w[(tap * cin + ci) * cout + o];
                                }
                            }
                            let row = (e * oh + y) * ow + xo;
                            let got = on_gpu[row * (cout + 1) + 1 + o];
                            assert!(
                                (got - sum).abs() <= 1e-4 * (1.0 + sum.abs()),
                                "{height}×{width} stride {stride} up {upsample}: ({e}, {y}, {xo}, {o}) {got} vs {sum}"
                            );
                        }
                        let row = (e * oh + y) * ow + xo;
                        assert_eq!(
                            on_gpu[row * (cout + 1)],
                            0.0,
                            "the column before the block is untouched"
                        );
                    }
                }
            }
        }
    }
}
