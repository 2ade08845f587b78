//! Monte Carlo estimates: a mean with its standard error, so that callers (and tests) know how far to trust it.

use crate::flow::{CounterRng, Real, VariableNoise};

/// The mean of some draws and the standard error of that mean (0 for a closed form).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate<F> {
    /// The estimate.
    pub mean: F,
    /// Its standard error.
    pub stderr: F,
}

impl<F: Real> Estimate<F> {
    /// An exact value.
    pub fn exact(mean: F) -> Self {
        Self {
            mean,
            stderr: F::ZERO,
        }
    }

    /// The mean of independent estimates, with their standard errors combined.
    pub fn mean_of(estimates: &[Self]) -> Self {
        let n = F::from_usize(estimates.len());
        Self {
            mean: estimates.iter().map(|e| e.mean).sum::<F>() / n,
            stderr: estimates
                .iter()
                .map(|e| e.stderr * e.stderr)
                .sum::<F>()
                .sqrt()
                / n,
        }
    }

    /// This estimate scaled by a constant.
    pub fn scaled(self, factor: F) -> Self {
        Self {
            mean: self.mean * factor,
            stderr: self.stderr * factor.abs(),
        }
    }
}

/// The draws of one variable's Monte Carlo estimate: how many, and whose noise (draw j is step j of `variable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonteCarlo {
    /// Number of draws.
    pub draws: u32,
    /// The generator.
    pub rng: CounterRng,
    /// The variable's index in the flattened batch.
    pub variable: u32,
}

impl MonteCarlo {
    /// The mean of `sample(noise of draw j)` over the draws, with its standard error.
    pub(crate) fn estimate<F: Real>(
        &self,
        mut sample: impl FnMut(VariableNoise) -> F,
    ) -> Estimate<F> {
        let mut acc = Accumulator::default();
        for step in 0..self.draws {
            let noise = VariableNoise {
                rng: self.rng,
                step,
                variable: self.variable,
            };
            acc.add(sample(noise).to_f64());
        }
        acc.estimate()
    }
}

/// Welford's running mean and variance, stable over millions of draws.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Accumulator {
    count: u64,
    mean: f64,
    m2: f64,
}

impl Accumulator {
    pub(crate) fn add(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The mean and its standard error (0 with fewer than two draws).
    pub(crate) fn estimate<F: Real>(&self) -> Estimate<F> {
        let n = self.count as f64;
        let stderr = if self.count > 1 {
            (self.m2 / (n - 1.0) / n).sqrt()
        } else {
            0.0
        };
        Estimate {
            mean: F::from_f64(self.mean),
            stderr: F::from_f64(stderr),
        }
    }
}
