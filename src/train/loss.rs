//! The training losses on candle tensors, so that gradients flow into the network.
//!
//! Each function is the tensor twin of the per-variable maths in [`crate::flow`] (tested against it in
//! `tests/train.rs`), written for a batch: `input` is θ [batch, tokens, input width], `output` the network's
//! output [batch, tokens, outputs per token], `t` one per example, and the data are in the form [`Target`] holds. Each
//! returns the loss per example, averaged over its variables.
//!
//! The discrete-time losses that need Monte Carlo draw their sender samples from the same counter-based
//! generator, with the same counters, as [`crate::flow::DataKind::discrete_time_loss`], so the two agree draw for
//! draw.

use candle_core::{D, Device, Result, Tensor};
use serde::{Deserialize, Serialize};

use crate::flow::gaussian_input::{GaussianInput, T_MIN};
use crate::flow::{BayesianFlow, CounterRng, VariableNoise};
use crate::model::Kind;

/// The data of a batch, as the loss needs them.
pub enum Target {
    /// Values in [−1, 1], [batch, tokens, channels].
    Values(Tensor),
    /// One-hot classes [batch, variables, K] (variables = tokens × channels) with the class indices kept for Monte
    /// Carlo.
    Classes {
        /// One-hot.
        one_hot: Tensor,
        /// The class of every variable, flattened.
        classes: Vec<u32>,
    },
}

/// Which loss to train or score with: `loss = "continuous"` or `[training.loss.discrete]` in a training
/// configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum LossSpec {
    /// L∞.
    Continuous,
    /// Lⁿ with `draws` Monte Carlo draws where there is no closed form.
    Discrete {
        /// n.
        steps: u32,
        /// Draws per variable.
        draws: u32,
    },
}

/// The loss per example. `t` must hold (i − 1)/n values for a discrete-time loss; `rng` and `step`
/// key its Monte Carlo draws (draw j of variable v uses the counters of `flow`'s estimate with step
/// `step · draws + j`).
#[allow(clippy::too_many_arguments)]
pub fn loss(
    kind: &Kind,
    spec: LossSpec,
    target: &Target,
    input: &Tensor,
    output: &Tensor,
    t: &[f32],
    rng: &CounterRng,
    step: u32,
) -> Result<Tensor> {
    let device = output.device();
    let t_tensor = Tensor::from_slice(t, (t.len(), 1, 1), device)?;
    let per_variable = match (kind, target) {
        (Kind::Continuous(k), Target::Values(x)) => {
            let x_hat = data_prediction(k.input(), input, output, t, device)?.clamp(-1f32, 1f32)?;
            gaussian_loss(k.input(), spec, x, &x_hat, &t_tensor)?
        }
        (Kind::Discretised(k), Target::Values(x)) => {
            let (mean, std) = discretised_normal(k.input(), input, output, t, device)?;
            match spec {
                LossSpec::Continuous => {
                    let x_hat = discretised_mean(&mean, &std, k.bins())?;
                    gaussian_loss(k.input(), spec, x, &x_hat, &t_tensor)?
                }
                LossSpec::Discrete { steps, draws } => discretised_discrete_time(
                    k.input(),
                    k.bins(),
                    x,
                    &mean,
                    &std,
                    t,
                    steps,
                    draws,
                    rng,
                    step,
                )?,
            }
        }
        (Kind::Discrete(k), Target::Classes { one_hot, classes }) => {
            let classes_f = k.classes() as f64;
            // A token's K·channels logits as one row of K per variable, like `one_hot`.
            let output = &output.reshape(one_hot.shape())?;
            match spec {
                LossSpec::Continuous => {
                    let p = candle_nn::ops::softmax(output, D::Minus1)?;
                    let distance = (one_hot - &p)?.sqr()?.sum_keepdim(D::Minus1)?;
                    (distance.broadcast_mul(&t_tensor)? * (classes_f * k.input().beta_1()))?
                }
                LossSpec::Discrete { steps, draws } => {
                    discrete_discrete_time(k, one_hot, classes, output, t, steps, draws, rng, step)?
                }
            }
        }
        _ => candle_core::bail!("the data do not match the model's kind"),
    };
    per_variable.flatten_from(1)?.mean(1)
}

/// μ/γ − √((1 − γ)/γ)·ε̂ per variable, 0 before t_min: x̂ for continuous data, μ_x for discretised data.
fn data_prediction(
    gaussian: &GaussianInput,
    mu: &Tensor,
    noise: &Tensor,
    t: &[f32],
    device: &Device,
) -> Result<Tensor> {
    let (inv_gamma, noise_scale): (Vec<f32>, Vec<f32>) = t
        .iter()
        .map(|&t| {
            gaussian
                .noise_to_data(t)
                .map_or((0.0, 0.0), |m| (m.inv_gamma, m.noise_scale))
        })
        .unzip();
    let b = t.len();
    let inv_gamma = Tensor::from_vec(inv_gamma, (b, 1, 1), device)?;
    let noise_scale = Tensor::from_vec(noise_scale, (b, 1, 1), device)?;
    mu.broadcast_mul(&inv_gamma)? - noise.broadcast_mul(&noise_scale)?
}

/// L∞ = −ln σ₁·σ₁^{−2t}·(x − x̂)², or Lⁿ = n·α/2·(x − x̂)².
fn gaussian_loss(
    gaussian: &GaussianInput,
    spec: LossSpec,
    x: &Tensor,
    x_hat: &Tensor,
    t: &Tensor,
) -> Result<Tensor> {
    let error = (x - x_hat)?.sqr()?;
    let t_values: Vec<f32> = t.flatten_all()?.to_vec1()?;
    let weight: Vec<f32> = t_values
        .iter()
        .map(|&t| match spec {
            LossSpec::Continuous => -(gaussian.sigma_1().ln() as f32) / gaussian.one_minus_gamma(t),
            LossSpec::Discrete { steps, .. } => {
                steps as f32 * 0.5 * gaussian.schedule().alpha_at_time(t, steps)
            }
        })
        .collect();
    error.broadcast_mul(&Tensor::from_vec(
        weight,
        (t_values.len(), 1, 1),
        x.device(),
    )?)
}

/// (μ_x, σ_x) of the discretised output distribution, each [batch, tokens, channels]; the network's output holds
/// (μ_ε, ln σ_ε) per channel.
fn discretised_normal(
    gaussian: &GaussianInput,
    mu: &Tensor,
    output: &Tensor,
    t: &[f32],
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let (b, tokens, twice) = output.dims3()?;
    let pairs = output.reshape((b, tokens, twice / 2, 2))?;
    let mu_eps = pairs.narrow(3, 0, 1)?.squeeze(3)?;
    let ln_sigma = pairs.narrow(3, 1, 1)?.squeeze(3)?.clamp(-10f32, 10f32)?;
    let mean = data_prediction(gaussian, mu, &mu_eps, t, device)?;
    let noise_scale: Vec<f32> = t
        .iter()
        .map(|&t| gaussian.noise_to_data(t).map_or(0.0, |m| m.noise_scale))
        .collect();
    let before_t_min: Vec<f32> = t
        .iter()
        .map(|&t| if (t as f64) < T_MIN { 1.0 } else { 0.0 })
        .collect();
    let noise_scale = Tensor::from_vec(noise_scale, (b, 1, 1), device)?;
    let before = Tensor::from_vec(before_t_min, (b, 1, 1), device)?;
    // σ_x = √((1−γ)/γ)·e^{ln σ_ε}, or 1 before t_min (where noise_scale is 0 and `before` is 1).
    let std = ln_sigma
        .exp()?
        .broadcast_mul(&noise_scale)?
        .broadcast_add(&before)?
        .clamp(1e-3f32, 10f32)?;
    Ok((mean, std))
}

/// Φ((edge − μ)/σ) at the K − 1 inner bin edges, [batch, tokens, channels, K − 1].
fn edge_cdfs(mean: &Tensor, std: &Tensor, bins: u32) -> Result<Tensor> {
    let edges: Vec<f32> = (1..bins)
        .map(|k| 2.0 * k as f32 / bins as f32 - 1.0)
        .collect();
    let edges = Tensor::from_vec(edges, (1, 1, 1, bins as usize - 1), mean.device())?;
    let z = edges
        .broadcast_sub(&mean.unsqueeze(3)?)?
        .broadcast_div(&std.unsqueeze(3)?)?;
    ((z * std::f64::consts::FRAC_1_SQRT_2)?.erf()? + 1.0)? * 0.5
}

/// Σ_k p(k)·centre(k) = (1 − 1/K) − (2/K)·Σ_edges Φ: summing by parts, the bin masses need not be formed.
fn discretised_mean(mean: &Tensor, std: &Tensor, bins: u32) -> Result<Tensor> {
    let k = bins as f64;
    edge_cdfs(mean, std, bins)?
        .sum(3)?
        .affine(-2.0 / k, 1.0 - 1.0 / k)
}

/// The receiver's mixture weights as the flow's `mixture_log_weights` takes them (and torch's
/// `MixtureSameFamily`): log-softmax of ln clamp(p, ε, 1 − ε) over the last dimension.
fn mixture_log_weights(probs: &Tensor) -> Result<Tensor> {
    let eps = f32::EPSILON;
    candle_nn::ops::log_softmax(&probs.clamp(eps, 1.0 - eps)?.log()?, D::Minus1)
}

/// Lⁿ for discretised data by Monte Carlo over y ~ N(x, 1/α) (see `Discretised::discrete_time_loss`).
#[allow(clippy::too_many_arguments)]
fn discretised_discrete_time(
    gaussian: &GaussianInput,
    bins: u32,
    x: &Tensor,
    mean: &Tensor,
    std: &Tensor,
    t: &[f32],
    steps: u32,
    draws: u32,
    rng: &CounterRng,
    step: u32,
) -> Result<Tensor> {
    let device = x.device();
    let cdfs = edge_cdfs(mean, std, bins)?;
    let (b, tokens, channels, _) = cdfs.dims4()?;
    let zeros = Tensor::zeros((b, tokens, channels, 1), cdfs.dtype(), device)?;
    let ones = Tensor::ones((b, tokens, channels, 1), cdfs.dtype(), device)?;
    let probs = (Tensor::cat(&[&cdfs, &ones], 3)? - Tensor::cat(&[&zeros, &cdfs], 3)?)?;
    let log_weights = mixture_log_weights(&probs)?;
    let centres: Vec<f32> = (0..bins)
        .map(|k| (2 * k + 1) as f32 / bins as f32 - 1.0)
        .collect();
    let centres = Tensor::from_vec(centres, (1, 1, 1, bins as usize), device)?;
    let alphas: Vec<f32> = t
        .iter()
        .map(|&t| gaussian.schedule().alpha_at_time(t, steps))
        .collect();
    let x_values: Vec<f32> = x.flatten_all()?.to_vec1()?;
    let per_example = x_values.len() / b;
    let mut total = Tensor::zeros((b, tokens, channels), cdfs.dtype(), device)?;
    for draw in 0..draws {
        let y: Vec<f32> = x_values
            .iter()
            .enumerate()
            .map(|(v, &x)| {
                let mut y = [0.0];
                let noise = VariableNoise {
                    rng: *rng,
                    step: step * draws + draw,
                    variable: v as u32,
                };
                gaussian.sender_sample(x, alphas[v / per_example], noise, &mut y);
                y[0]
            })
            .collect();
        let y = Tensor::from_vec(y, (b, tokens, channels), device)?;
        let half_alpha = Tensor::from_vec(
            alphas.iter().map(|a| 0.5 * a).collect::<Vec<_>>(),
            (b, 1, 1),
            device,
        )?;
        let sender = (&y - x)?.sqr()?.broadcast_mul(&half_alpha)?.neg()?;
        let receiver_terms = y
            .unsqueeze(3)?
            .broadcast_sub(&centres)?
            .sqr()?
            .broadcast_mul(&half_alpha.unsqueeze(3)?)?;
        let receiver = (log_weights.clone() - receiver_terms)?.log_sum_exp(3)?;
        total = (total + (sender - receiver)?)?;
    }
    total * (steps as f64 / draws as f64)
}

/// Lⁿ for discrete data by Monte Carlo over y ~ p_S(· ∣ x; α) (see `Discrete::discrete_time_loss`).
#[allow(clippy::too_many_arguments)]
fn discrete_discrete_time(
    kind: &crate::flow::Discrete,
    one_hot: &Tensor,
    classes: &[u32],
    logits: &Tensor,
    t: &[f32],
    steps: u32,
    draws: u32,
    rng: &CounterRng,
    step: u32,
) -> Result<Tensor> {
    let device = logits.device();
    let (b, variables, k) = logits.dims3()?;
    let log_weights = mixture_log_weights(&candle_nn::ops::softmax(logits, D::Minus1)?)?;
    let input = kind.input();
    let alphas: Vec<f32> = t
        .iter()
        .map(|&t| input.schedule().alpha_at_time(t, steps))
        .collect();
    let mut total = Tensor::zeros((b, variables, 1), logits.dtype(), device)?;
    let mut y = vec![0.0f32; classes.len() * k];
    for draw in 0..draws {
        for (v, (&x, y)) in classes.iter().zip(y.chunks_exact_mut(k)).enumerate() {
            let noise = VariableNoise {
                rng: *rng,
                step: step * draws + draw,
                variable: v as u32,
            };
            input.sender_sample(x, alphas[v / variables], noise, y);
        }
        let y_t = Tensor::from_slice(&y, (b, variables, k), device)?;
        let sender = (&y_t * one_hot)?.sum_keepdim(D::Minus1)?;
        let receiver = (log_weights.clone() + y_t)?
            .log_sum_exp(D::Minus1)?
            .unsqueeze(2)?;
        total = (total + (sender - receiver)?)?;
    }
    total * (steps as f64 / draws as f64)
}
