//! Held-out evaluation: the negative ELBO in bits per dimension, in continuous time and at n steps, beside the
//! per-variable marginal baseline on the same split.

use candle_core::Device;

use crate::error::Result;
use crate::flow::discretised_normal::bin_of;
use crate::flow::elbo::{ElboSettings, LossTime, NegativeElbo, negative_elbo};
use crate::flow::{Estimate, RECONSTRUCTION_BINS, Shape};
use crate::model::{Kind, Weights};
use crate::net::Network;
use crate::train::dataset::{Dataset, Examples};
use crate::train::denoiser::NetworkDenoiser;

/// Examples per network call.
const BATCH: usize = 256;

/// The negative ELBO at every time setting.
#[derive(Clone, Debug)]
pub struct Scores {
    /// Continuous time: L∞ + L^r.
    pub continuous: NegativeElbo,
    /// n steps: (n, Lⁿ + L^r).
    pub discrete: Vec<(u32, NegativeElbo)>,
}

/// One evaluation.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Held-out examples scored.
    pub examples: usize,
    /// Continuous time: L∞ + L^r.
    pub continuous: NegativeElbo,
    /// n steps: (n, Lⁿ + L^r).
    pub discrete: Vec<(u32, NegativeElbo)>,
    /// For a conditional model on data with classes, the same scores with every example asking for its own
    /// class (no guidance): how much the class tells the network, beside the unconditional scores above.
    pub given_label: Option<Scores>,
    /// The per-variable marginal model fitted on the training split (add-½ smoothing), bits per dimension.
    pub marginal_bits: f64,
}

/// Scores the held-out split of `data` under `weights`. Each of `repeats` passes draws (t, θ) afresh per
/// example; discrete-time losses use `draws` Monte Carlo draws.
pub fn evaluate(
    weights: &Weights,
    data: &Dataset,
    steps: &[u32],
    repeats: u32,
    draws: u32,
    seed: u64,
) -> Result<Evaluation> {
    let device = Device::Cpu;
    let network = Network::from_weights(weights, &device)
        .map_err(|e| crate::BfnError::Denoiser(e.to_string()))?;
    let data = &data
        .clone()
        .patched(weights.config())
        .map_err(|e| crate::BfnError::Config(e.to_string()))?;
    let run = Run {
        weights,
        data,
        steps,
        settings: ElboSettings {
            time: LossTime::Continuous,
            repeats,
            draws,
            seed,
        },
    };
    let unconditional = run.scores(&mut NetworkDenoiser::new(&network, &device), None)?;
    let given_label = match (&data.labels, weights.config().labels.is_empty()) {
        (Some(labels), false) => Some(run.scores(
            &mut NetworkDenoiser::new(&network, &device),
            Some(&labels.of_example),
        )?),
        _ => None,
    };
    Ok(Evaluation {
        examples: data.test_count,
        continuous: unconditional.continuous,
        discrete: unconditional.discrete,
        given_label,
        marginal_bits: marginal_bits(weights.kind(), data),
    })
}

/// One model scored on one dataset's held-out split, at every time setting.
struct Run<'a> {
    weights: &'a Weights,
    data: &'a Dataset,
    steps: &'a [u32],
    settings: ElboSettings,
}

impl Run<'_> {
    /// The scores with every example asking for no class, or, given `labels` (one per example of the whole
    /// dataset), for its own.
    fn scores(
        &self,
        denoiser: &mut NetworkDenoiser,
        labels: Option<&[Option<u32>]>,
    ) -> Result<Scores> {
        let data = self.data;
        let per_example = data.layout.variables();
        let first_test = data.train_count();
        let times: Vec<LossTime> = std::iter::once(LossTime::Continuous)
            .chain(self.steps.iter().map(|&steps| LossTime::Discrete { steps }))
            .collect();
        let mut scores = Vec::new();
        for time in times {
            let settings = ElboSettings {
                time,
                ..self.settings
            };
            let mut parts = Vec::new();
            for start in (first_test..data.count).step_by(BATCH) {
                let count = BATCH.min(data.count - start);
                denoiser.guidance.labels = labels
                    .map(|l| l[start..start + count].to_vec())
                    .unwrap_or_default();
                let shape = Shape::new(count, per_example)?;
                let range = start * per_example..(start + count) * per_example;
                let score = match (self.weights.kind(), &data.examples) {
                    (Kind::Continuous(k), Examples::Values(v)) => {
                        negative_elbo(&k, denoiser, &v[range], shape, settings)?
                    }
                    (Kind::Discretised(k), Examples::Values(v)) => {
                        negative_elbo(&k, denoiser, &v[range], shape, settings)?
                    }
                    (Kind::Discrete(k), Examples::Classes(c)) => {
                        negative_elbo(&k, denoiser, &c[range], shape, settings)?
                    }
                    _ => {
                        return Err(crate::BfnError::Config(
                            "the data do not match the model's kind".into(),
                        ));
                    }
                };
                parts.push((count, score));
            }
            scores.push((time, combine(&parts)));
        }
        Ok(Scores {
            continuous: scores[0].1,
            discrete: scores[1..]
                .iter()
                .map(|(time, score)| match time {
                    LossTime::Discrete { steps } => (*steps, *score),
                    LossTime::Continuous => unreachable!("only the first score is continuous"),
                })
                .collect(),
        })
    }
}

/// The count-weighted mean of the batches' estimates.
fn combine(parts: &[(usize, NegativeElbo)]) -> NegativeElbo {
    let total: usize = parts.iter().map(|(n, _)| n).sum();
    let mix = |pick: fn(&NegativeElbo) -> Estimate<f64>| {
        let mean = parts
            .iter()
            .map(|(n, e)| *n as f64 * pick(e).mean)
            .sum::<f64>()
            / total as f64;
        let var = parts
            .iter()
            .map(|(n, e)| (*n as f64 * pick(e).stderr).powi(2))
            .sum::<f64>();
        Estimate {
            mean,
            stderr: var.sqrt() / total as f64,
        }
    };
    NegativeElbo {
        diffusion: mix(|e| e.diffusion),
        reconstruction: mix(|e| e.reconstruction),
    }
}

/// Bits per dimension of the held-out split under independent per-variable categorical distributions fitted on
/// the training split with add-½ smoothing. Values are scored by their bin (K bins for discretised data, the
/// 256 reconstruction bins for continuous data), so the baseline is on the same footing as the model's L^r.
pub fn marginal_bits(kind: Kind, data: &Dataset) -> f64 {
    let levels: (u32, Vec<u32>) = match (kind, &data.examples) {
        (Kind::Discrete(k), Examples::Classes(c)) => (k.classes(), c.clone()),
        (Kind::Discretised(k), Examples::Values(v)) => {
            (k.bins(), v.iter().map(|&x| bin_of(x, k.bins())).collect())
        }
        (Kind::Continuous(_), Examples::Values(v)) => (
            RECONSTRUCTION_BINS,
            v.iter().map(|&x| bin_of(x, RECONSTRUCTION_BINS)).collect(),
        ),
        _ => return f64::NAN,
    };
    let (k, levels) = (levels.0 as usize, levels.1);
    let per_example = data.layout.variables();
    let first_test = data.train_count();
    let mut counts = vec![0u32; per_example * k];
    for example in levels[..first_test * per_example].chunks_exact(per_example) {
        for (v, &level) in example.iter().enumerate() {
            counts[v * k + level as usize] += 1;
        }
    }
    let denominator = first_test as f64 + 0.5 * k as f64;
    let bits: f64 = levels[first_test * per_example..]
        .chunks_exact(per_example)
        .flat_map(|example| example.iter().enumerate())
        .map(|(v, &level)| {
            -((f64::from(counts[v * k + level as usize]) + 0.5) / denominator).log2()
        })
        .sum();
    bits / (data.test_count * per_example) as f64
}
