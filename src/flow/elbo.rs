//! The negative ELBO of data under a network, in bits per dimension: the number every model is judged by.
//!
//! −ELBO per dimension = E_t[L(t)] + L^r (paper eq. 17 and §4.12), averaged over a batch's variables. The
//! expectation over t is estimated by drawing t per example (U(0, 1) for L∞, U{0, 1/n, …, (n−1)/n} for Lⁿ) and θ
//! from the Bayesian flow p_F(θ ∣ x; t); the reconstruction term draws θ from p_F at t = 1. Each repeat asks the
//! network twice for the whole batch.

use crate::error::Result;
use crate::flow::accuracy_schedule::check_draws;
use crate::flow::estimate::Accumulator;
use crate::flow::loss::{bayesian_flow, cts_time_loss, discrete_time_loss, reconstruction_loss};
use crate::flow::rng::Stream;
use crate::flow::{CounterRng, DataKind, Datum, Denoiser, Estimate, Real, Shape};

/// Which transmission the loss measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossTime {
    /// Continuous time: n → ∞, L∞.
    Continuous,
    /// n steps: Lⁿ.
    Discrete {
        /// n.
        steps: u32,
    },
}

/// How to estimate the negative ELBO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElboSettings {
    /// Continuous or n-step time.
    pub time: LossTime,
    /// Draws of (t, θ) per example; each costs two network calls for the batch.
    pub repeats: u32,
    /// Monte Carlo draws of the sender per Lⁿ evaluation where Lⁿ has no closed form.
    pub draws: u32,
    /// Seed of all the draws.
    pub seed: u64,
}

/// The estimate, per dimension.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NegativeElbo {
    /// E_t[L(t)], nats per dimension.
    pub diffusion: Estimate<f64>,
    /// L^r, nats per dimension.
    pub reconstruction: Estimate<f64>,
}

impl NegativeElbo {
    /// The total in nats per dimension.
    pub fn nats_per_dim(&self) -> Estimate<f64> {
        Estimate {
            mean: self.diffusion.mean + self.reconstruction.mean,
            stderr: self.diffusion.stderr.hypot(self.reconstruction.stderr),
        }
    }

    /// The total in bits per dimension.
    pub fn bits_per_dim(&self) -> Estimate<f64> {
        self.nats_per_dim().scaled(std::f64::consts::LOG2_E)
    }
}

/// Estimates the negative ELBO of the batch `x` (of `shape`) under `denoiser`.
pub fn negative_elbo<F: Real, K: DataKind<F>, D: Denoiser<F> + ?Sized>(
    kind: &K,
    denoiser: &mut D,
    x: &[Datum<F, K>],
    shape: Shape,
    settings: ElboSettings,
) -> Result<NegativeElbo> {
    check_draws("repeats", settings.repeats)?;
    check_draws("draws", settings.draws)?;
    let rng = CounterRng::new(settings.seed);
    let mut output = vec![F::ZERO; shape.len() * kind.output_width()];
    let (mut diffusion, mut reconstruction) = (Accumulator::default(), Accumulator::default());
    for repeat in 0..settings.repeats {
        let t: Vec<F> = (0..shape.batch())
            .map(|b| {
                let u: F = rng.uniform(repeat, Stream::Time, b as u32);
                match settings.time {
                    LossTime::Continuous => u,
                    LossTime::Discrete { steps } => {
                        let n = F::from_f64(steps.into());
                        (u * n).floor().min(n - F::ONE) / n
                    }
                }
            })
            .collect();
        let input = bayesian_flow(kind, x, shape, &t, &rng, repeat)?;
        denoiser.output_params(&input, &t, &mut output)?;
        let losses = match settings.time {
            LossTime::Continuous => cts_time_loss(kind, x, &input, &output, &t)?,
            LossTime::Discrete { steps } => {
                let mc = CounterRng::new(
                    settings.seed ^ (u64::from(repeat) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                discrete_time_loss(kind, x, &input, &output, &t, steps, settings.draws, &mc)?
                    .into_iter()
                    .map(|e| e.mean)
                    .collect()
            }
        };
        add_per_example(&mut diffusion, &losses, shape);

        let ones = vec![F::ONE; shape.batch()];
        let input = bayesian_flow(kind, x, shape, &ones, &rng, repeat)?;
        denoiser.output_params(&input, &ones, &mut output)?;
        add_per_example(
            &mut reconstruction,
            &reconstruction_loss(kind, x, &input, &output)?,
            shape,
        );
    }
    Ok(NegativeElbo {
        diffusion: diffusion.estimate(),
        reconstruction: reconstruction.estimate(),
    })
}

/// Adds each example's mean loss over its variables.
fn add_per_example<F: Real>(acc: &mut Accumulator, losses: &[F], shape: Shape) {
    for example in losses.chunks_exact(shape.variables()) {
        acc.add(example.iter().map(|l| l.to_f64()).sum::<f64>() / shape.variables() as f64);
    }
}
