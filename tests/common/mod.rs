//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "studio")]
pub mod app;
#[cfg(feature = "gpu")]
pub mod read_back;

use bevy_bfn::Result;
use bevy_bfn::flow::{InputParams, Real, SamplingMethod};

/// Pearson's χ² statistic of observed counts against expected probabilities, over the classes with an expected
/// count of at least 5 (the rest pooled into one cell), and its degrees of freedom.
pub fn chi_square(counts: &[u64], probs: &[f64]) -> (f64, usize) {
    let total: u64 = counts.iter().sum();
    let (mut stat, mut cells) = (0.0, 0);
    let (mut pooled_o, mut pooled_e) = (0.0, 0.0);
    for (&o, &p) in counts.iter().zip(probs) {
        let e = p * total as f64;
        if e >= 5.0 {
            stat += (o as f64 - e).powi(2) / e;
            cells += 1;
        } else {
            pooled_o += o as f64;
            pooled_e += e;
        }
    }
    if pooled_e > 0.0 {
        stat += (pooled_o - pooled_e).powi(2) / pooled_e.max(1e-300);
        cells += 1;
    }
    (stat, cells - 1)
}

/// The upper 0.1% point of χ² with `df` degrees of freedom (Wilson–Hilferty, within 1% for df ≥ 2).
pub fn chi_square_critical_0_001(df: usize) -> f64 {
    let k = df as f64;
    let z = 3.090_232; // Φ⁻¹(0.999)
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

/// Asserts that counts are a plausible sample from probs at the 0.1% level.
pub fn assert_matches_distribution(what: &str, counts: &[u64], probs: &[f64]) {
    let (stat, df) = chi_square(counts, probs);
    let critical = chi_square_critical_0_001(df);
    assert!(
        stat < critical,
        "{what}: χ² = {stat:.1} with {df} degrees of freedom exceeds {critical:.1}\ncounts {counts:?}\nprobs {probs:?}"
    );
}

/// `count` values spread over [−1, 1], 101 of them, in a scrambled order.
pub fn values(count: usize) -> Vec<f64> {
    (0..count)
        .map(|v| ((v * 37 % 101) as f64 / 50.0) - 1.0)
        .collect()
}

/// Checks that `z` looks like draws of N(0, 1): mean within five standard errors of 0, variance within five of 1.
pub fn assert_standard_normal(z: &[f64], what: &str) {
    let n = z.len() as f64;
    let mean = z.iter().sum::<f64>() / n;
    let variance = z.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / (n - 1.0);
    assert!(mean.abs() < 5.0 / n.sqrt(), "{what}: mean {mean}");
    assert!(
        (variance - 1.0).abs() < 5.0 * (2.0 / n).sqrt(),
        "{what}: variance {variance}"
    );
}

/// Per variable, ln θ_x − ln θ_j for its class x in `labels` and the next class j, standardised by what the
/// Bayesian flow of x at accuracy β gives it, N(βK, 2βK): draws of N(0, 1) where θ is on that flow.
pub fn class_log_odds_z(
    theta: &InputParams<f64>,
    labels: &[u32],
    classes: u32,
    beta: f64,
) -> Vec<f64> {
    let beta_k = beta * f64::from(classes);
    labels
        .iter()
        .enumerate()
        .map(|(v, &x)| {
            let theta = theta.variable(v);
            let other = (x as usize + 1) % classes as usize;
            (theta[x as usize].ln() - theta[other].ln() - beta_k) / (2.0 * beta_k).sqrt()
        })
        .collect()
}

/// A fresh-enough folder for one test's files, named by the test and the process.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bevy_bfn-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Confident logits for a class that changes with the variable and the time: the sampler must survive a network
/// that contradicts itself at every step.
pub fn fickle<F: Real>(input: &InputParams<F>, t: &[F], output: &mut [F]) -> Result<()> {
    let k = input.width();
    let shift = (t[0].to_f64() * 997.0) as usize;
    for (v, out) in output.chunks_exact_mut(k).enumerate() {
        out.fill(F::from_f64(-50.0));
        out[(v + shift) % k] = F::from_f64(50.0);
    }
    Ok(())
}

/// Noise predictions far outside anything plausible, for the Gaussian kinds.
pub fn wild<F: Real>(_input: &InputParams<F>, t: &[F], output: &mut [F]) -> Result<()> {
    let sign = if (t[0].to_f64() * 10.0) % 2.0 < 1.0 {
        1.0
    } else {
        -1.0
    };
    for (j, o) in output.iter_mut().enumerate() {
        *o = F::from_f64(sign * 1e6 * if j % 2 == 0 { 1.0 } else { -0.5 });
    }
    Ok(())
}

/// The solvers' start time in the tests: BFN-Solver's default.
pub const ETA: f64 = 1e-5;

/// Every sampler, the redraw with and without its options.
pub fn methods() -> [SamplingMethod; 6] {
    [
        SamplingMethod::Standard,
        SamplingMethod::Ode1 { eta: ETA },
        SamplingMethod::Ode2 { eta: ETA },
        SamplingMethod::Sde2 { eta: ETA },
        SamplingMethod::Redraw {
            temperature: 1.0,
            fixed_noise: false,
        },
        SamplingMethod::Redraw {
            temperature: 0.5,
            fixed_noise: true,
        },
    ]
}

/// The weights file `model` (its bytes) with its configuration JSON edited by `edit` and its tensors as they are:
/// a file that claims what its loader must refuse (10⁹ layers, say) without being written by the crate, which
/// would refuse to.
pub fn model_claiming(model: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};

    let weights = bevy_bfn::model::Weights::from_bytes(model).unwrap();
    let mut config = serde_json::to_value(weights.config()).unwrap();
    edit(&mut config);
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = weights
        .tensors()
        .iter()
        .map(|(name, t)| {
            let bytes = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), t.shape.clone(), bytes)
        })
        .collect();
    let views = data.iter().map(|(name, shape, bytes)| {
        (
            name.as_str(),
            TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap(),
        )
    });
    let metadata = std::collections::HashMap::from([
        ("format".to_owned(), "bevy_bfn".to_owned()),
        ("format_version".to_owned(), "1".to_owned()),
        ("config".to_owned(), config.to_string()),
    ]);
    safetensors::serialize(views, Some(metadata)).unwrap()
}

/// A model of `config` (a U-Net's: no position table) whose every tensor holds spread values in [−0.1, 0.1),
/// different from tensor to tensor, so that every layer changes what the network says; the GroupNorm gains
/// (one-dimensional weights) near 1, so that the features keep their scale.
pub fn spread_weights(config: &bevy_bfn::model::ModelConfig) -> bevy_bfn::model::Weights {
    let tensors = config
        .parameter_shapes()
        .into_iter()
        .enumerate()
        .map(|(t, (name, shape))| {
            let count: usize = shape.iter().product();
            let gain = name.ends_with(".weight") && shape.len() == 1;
            let values = (0..count)
                .map(|i| {
                    let v = ((i * 7919 + t * 104_729) % 1000) as f32 / 5000.0 - 0.1;
                    if gain { 1.0 + v } else { v }
                })
                .collect();
            (name, bevy_bfn::model::TensorData { shape, values })
        })
        .collect();
    bevy_bfn::model::Weights::new(config.clone(), tensors).unwrap()
}

/// The bytes of a model file of `config` holding `tensors` as they are, each with as many values as its shape
/// says, unchecked: what a corrupt or hand-edited file holds.
pub fn model_file(
    config: &bevy_bfn::model::ModelConfig,
    tensors: &std::collections::BTreeMap<String, bevy_bfn::model::TensorData>,
) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let count: usize = t.shape.iter().product();
            let values = (0..count).map(|i| t.values.get(i).copied().unwrap_or(0.0));
            let bytes = values.flat_map(f32::to_le_bytes).collect();
            (name.clone(), t.shape.clone(), bytes)
        })
        .collect();
    let views = data.iter().map(|(name, shape, bytes)| {
        (
            name.as_str(),
            TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap(),
        )
    });
    let metadata = std::collections::HashMap::from([
        ("format".to_owned(), "bevy_bfn".to_owned()),
        ("format_version".to_owned(), "1".to_owned()),
        ("config".to_owned(), serde_json::to_string(config).unwrap()),
    ]);
    safetensors::serialize(views, Some(metadata)).unwrap()
}

/// The start of the line a skipped test prints; `scripts/test` counts these lines and lists them at the end.
pub const SKIP_LINE: &str = "bevy_bfn test skipped:";

/// The dataset `loaded`, or `None` where its optional package is not installed ([`DataError::Missing`], the only
/// reason a test may skip): then a line "bevy_bfn test skipped: <test>: <why>" goes straight to the terminal,
/// past the test harness's capture, for `scripts/test` to count. Any other error fails the test.
///
/// [`DataError::Missing`]: bevy_bfn::train::dataset::DataError::Missing
#[cfg(feature = "train")]
pub fn unless_missing<T>(loaded: Result<T, bevy_bfn::train::dataset::DataError>) -> Option<T> {
    use std::io::Write;
    match loaded {
        Ok(data) => Some(data),
        Err(error @ bevy_bfn::train::dataset::DataError::Missing { .. }) => {
            let thread = std::thread::current();
            let line = format!(
                "{SKIP_LINE} {}: {error}\n",
                thread.name().unwrap_or("a test")
            );
            // One write, so that tests running beside it do not split the line.
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            None
        }
        Err(error) => panic!("not a missing optional dataset, so no reason to skip: {error}"),
    }
}

/// The share of the labelled examples of `samples` (of the shipped digits models: one label per example, `None`
/// for an example that asked for no class) whose nearest held-out digit (`bevy_bfn::measure::nearest_class`) is of
/// the class its label asked for: how well guidance steers.
#[cfg(feature = "train")]
pub fn share_of_requested_digits(
    config: &bevy_bfn::model::ModelConfig,
    samples: &bevy_bfn::model::Samples,
    labels: &[Option<u32>],
) -> f64 {
    use bevy_bfn::model::Samples;
    use bevy_bfn::train::dataset::{DataSection, DataSplit};
    let data = bevy_bfn::train::datasets::load_section(&DataSection {
        spec: bevy_bfn::train::DataSpec::Digits,
        labels: true,
    })
    .unwrap()
    .patched(config)
    .unwrap();
    let reference: Samples = data.spread(DataSplit::Test, usize::MAX).into();
    let of_example = data.labels.as_ref().unwrap().of_example.clone();
    let reference_labels: Vec<Option<u32>> = data
        .spread_indices(DataSplit::Test, usize::MAX)
        .iter()
        .map(|&e| of_example[e])
        .collect();
    let per_example = config.layout.variables();
    let example = |e: usize| match samples {
        Samples::Values(v) => Samples::Values(v[e * per_example..][..per_example].to_vec()),
        Samples::Classes(c) => Samples::Classes(c[e * per_example..][..per_example].to_vec()),
    };
    let asked: Vec<(usize, u32)> = labels
        .iter()
        .enumerate()
        .filter_map(|(e, label)| label.map(|class| (e, class)))
        .collect();
    assert!(!asked.is_empty(), "no example asks for a class");
    let hits: f64 = asked
        .iter()
        .map(|&(e, class)| {
            bevy_bfn::measure::nearest_class::nearest_class(
                config,
                &example(e),
                &reference,
                &reference_labels,
                class,
            )
            .unwrap()
            .share
        })
        .sum();
    hits / asked.len() as f64
}

/// A U-Net over the shipped dungeon model's data (16 × 16 cells of its 9 classes) with spread weights: two levels
/// of 8 and 16 channels, attention at the second.
pub fn unet_dungeon() -> bevy_bfn::model::Weights {
    use bevy_bfn::model::{Layout, ModelConfig, NetworkConfig, UnetConfig, Weights};
    let dungeon = Weights::load("assets/models/dungeon.safetensors").unwrap();
    spread_weights(&ModelConfig {
        layout: Layout {
            height: 16,
            width: 16,
            channels: 1,
        },
        patch: 1,
        network: NetworkConfig::Unet(UnetConfig {
            channels: 8,
            multipliers: vec![1, 2],
            res_blocks: 1,
            attention_levels: vec![1],
            heads: 2,
            groups: 4,
            context: false,
        }),
        ..dungeon.config().clone()
    })
}
