//! Continuous data: real values in [−1, 1] (terrain heights), the network predicting the noise in μ.

use crate::error::{BfnError, Result};
use crate::flow::discretised_normal::DiscretisedNormal;
use crate::flow::gaussian_input::GaussianInput;
use crate::flow::{
    AccuracySchedule, BayesianFlow, CounterRng, Estimate, Real, Stream, VariableNoise,
};

/// The bins continuous data are scored in at t = 1, so that their reconstruction loss is comparable with
/// discretised data's (paper §7.2). The reference switches to 16 bins and 0.7σ₁ when σ₁² = 10⁻³ exactly, a
/// CIFAR-10 special case; we keep one rule for every σ₁.
pub const RECONSTRUCTION_BINS: u32 = 256;

/// Continuous data with input standard deviation σ₁ at t = 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Continuous {
    input: GaussianInput,
}

impl Continuous {
    /// Checks σ₁ ∈ (0, 1).
    pub fn new(sigma_1: f64) -> Result<Self> {
        Ok(Self {
            input: GaussianInput::new(sigma_1)?,
        })
    }

    /// The Gaussian input distribution.
    pub fn input(&self) -> &GaussianInput {
        &self.input
    }

    /// x̂(θ, t): μ/γ − √((1 − γ)/γ)·ε̂, clipped to [−1, 1]; 0 before t_min.
    pub fn x_hat<F: Real>(&self, mu: F, eps_hat: F, t: F) -> F {
        match self.input.noise_to_data(t) {
            None => F::ZERO,
            Some(map) => (mu * map.inv_gamma - map.noise_scale * eps_hat).clamp(-F::ONE, F::ONE),
        }
    }
}

impl<F: Real> BayesianFlow<F> for Continuous {
    type Datum = F;

    fn input_width(&self) -> usize {
        1
    }

    fn output_width(&self) -> usize {
        1
    }

    fn schedule(&self) -> AccuracySchedule {
        self.input.schedule()
    }

    fn prior(&self) -> (F, F) {
        (F::ZERO, F::ONE)
    }

    fn check_datum(&self, x: F) -> Result<()> {
        check_value(x)
    }

    fn draw_output(&self, input: &[F], output: &[F], t: F, _noise: VariableNoise) -> F {
        self.x_hat(input[0], output[0], t)
    }

    fn output_mode(&self, input: &[F], output: &[F], t: F) -> F {
        self.x_hat(input[0], output[0], t)
    }

    fn sender_sample(&self, x: F, alpha: F, noise: VariableNoise, y: &mut [F]) {
        y[0] = GaussianInput::sender_sample(x, alpha, noise.gaussian(Stream::Sender, 0, 1));
    }

    fn bayesian_update(&self, input: &mut [F], precision: F, y: &[F], alpha: F) {
        input[0] = GaussianInput::bayesian_update(input[0], precision, y[0], alpha);
    }

    fn bayesian_flow_sample(&self, x: F, t: F, noise: VariableNoise, input: &mut [F]) {
        input[0] = self
            .input
            .flow_sample(x, t, noise.gaussian(Stream::Flow, 0, 1));
    }

    fn cts_time_loss(&self, x: F, input: &[F], output: &[F], t: F) -> F {
        let error = x - self.x_hat(input[0], output[0], t);
        -F::from_f64(self.input.sigma_1().ln()) * error * error / self.input.one_minus_gamma(t)
    }

    fn discrete_time_loss(
        &self,
        x: F,
        input: &[F],
        output: &[F],
        t: F,
        n: u32,
        _draws: u32,
        _rng: &CounterRng,
        _variable: u32,
    ) -> Estimate<F> {
        let n = F::from_f64(n.into());
        let alpha = self.input.schedule().alpha_at(t * n + F::ONE, n);
        let error = x - self.x_hat(input[0], output[0], t);
        Estimate::exact(n * alpha * F::from_f64(0.5) * error * error)
    }

    fn reconstruction_loss(&self, x: F, input: &[F], output: &[F]) -> F {
        let scoring = DiscretisedNormal {
            mean: self.x_hat(input[0], output[0], F::ONE),
            std: F::from_f64(self.input.sigma_1()),
            bins: RECONSTRUCTION_BINS,
        };
        -scoring.log_prob(x)
    }
}

/// A continuous or discretised datum: finite and in [−1, 1].
pub(crate) fn check_value<F: Real>(x: F) -> Result<()> {
    if !x.is_finite() {
        return Err(BfnError::NotFinite {
            what: "data",
            value: x.to_f64(),
        });
    }
    if !(x >= -F::ONE && x <= F::ONE) {
        return Err(BfnError::DataOutOfRange(x.to_f64()));
    }
    Ok(())
}
