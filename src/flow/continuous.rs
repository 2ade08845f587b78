//! Continuous data: real values in [−1, 1] (terrain heights), the network predicting the noise in μ.

use crate::error::Result;
use crate::flow::discretised_normal::DiscretisedNormal;
use crate::flow::gaussian_input::GaussianInput;
use crate::flow::{DataKind, Estimate, MonteCarlo, Real, VariableNoise};

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

impl<F: Real> DataKind<F> for Continuous {
    type Flow = GaussianInput;

    fn flow(&self) -> &GaussianInput {
        &self.input
    }

    fn output_width(&self) -> usize {
        1
    }

    /// The output distribution is a point mass at x̂.
    fn draw_output(&self, input: &[F], output: &[F], t: F, _noise: VariableNoise) -> F {
        self.x_hat(input[0], output[0], t)
    }

    fn output_mode(&self, input: &[F], output: &[F], t: F) -> F {
        self.x_hat(input[0], output[0], t)
    }

    /// x̂, clipped to [−1, 1] as BFN-Solver clips it.
    fn output_mean(&self, input: &[F], output: &[F], t: F, mean: &mut [F]) {
        mean[0] = self.x_hat(input[0], output[0], t);
    }

    fn cts_time_loss(&self, x: F, input: &[F], output: &[F], t: F) -> F {
        self.input
            .cts_time_loss(x, self.x_hat(input[0], output[0], t), t)
    }

    /// n·α_i/2·(x − x̂)², exact.
    fn discrete_time_loss(
        &self,
        x: F,
        input: &[F],
        output: &[F],
        t: F,
        n: u32,
        _mc: MonteCarlo,
    ) -> Estimate<F> {
        let alpha = self.input.schedule().alpha_at_time(t, n);
        let error = x - self.x_hat(input[0], output[0], t);
        Estimate::exact(F::from_f64(n.into()) * alpha * F::from_f64(0.5) * error * error)
    }

    /// −ln of x's bin under N(x̂, σ₁²) discretised into [`RECONSTRUCTION_BINS`] bins.
    fn reconstruction_loss(&self, x: F, input: &[F], output: &[F]) -> F {
        let scoring = DiscretisedNormal {
            mean: self.x_hat(input[0], output[0], F::ONE),
            std: F::from_f64(self.input.sigma_1()),
            bins: RECONSTRUCTION_BINS,
        };
        -scoring.log_prob(x)
    }
}
