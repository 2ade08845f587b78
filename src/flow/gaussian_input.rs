//! The Gaussian input distribution N(μ, ρ⁻¹) shared by continuous and discretised data (paper §4): its sender,
//! Bayesian update, Bayesian flow, and the rule that turns the network's noise prediction into a data prediction.
//!
//! Both data kinds hold one [`GaussianInput`]; only their output distributions and losses differ.

use crate::error::{BfnError, Result};
use crate::flow::{AccuracySchedule, BayesianFlow, FlowSpace, Real, Stream, VariableNoise};

/// Below this time the reference does not trust the noise prediction (γ ≈ 0 makes μ/γ blow up) and predicts
/// x̂ = 0 (and σ_x = 1) instead.
pub const T_MIN: f64 = 1e-6;

/// N(μ, ρ⁻¹) with the schedule β(t) = σ₁^{−2t} − 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianInput {
    sigma_1: f64,
    schedule: AccuracySchedule,
}

/// A data prediction from a noise prediction: x = `scale`·μ − `noise_scale`·ε, or nothing before t_min.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NoiseToData<F> {
    /// 1/γ.
    pub inv_gamma: F,
    /// √((1 − γ)/γ): the standard deviation of the noise in μ/γ.
    pub noise_scale: F,
}

impl GaussianInput {
    /// Checks σ₁ ∈ (0, 1).
    pub fn new(sigma_1: f64) -> Result<Self> {
        Ok(Self {
            sigma_1,
            schedule: AccuracySchedule::exponential(sigma_1)?,
        })
    }

    /// σ₁.
    pub fn sigma_1(&self) -> f64 {
        self.sigma_1
    }

    /// β(t) = σ₁^{−2t} − 1.
    pub fn schedule(&self) -> AccuracySchedule {
        self.schedule
    }

    /// 1 − γ(t) = σ₁^{2t}, computed directly: `1 - gamma` would lose every digit near t = 1 in `f32`.
    pub fn one_minus_gamma<F: Real>(&self, t: F) -> F {
        F::from_f64(self.sigma_1).powf(t + t)
    }

    /// γ(t) = 1 − σ₁^{2t} = β(t)/(1 + β(t)), as −expm1(2t ln σ₁) so that it keeps its digits near t = 0.
    pub fn gamma<F: Real>(&self, t: F) -> F {
        -((t + t) * F::from_f64(self.sigma_1.ln())).exp_m1()
    }

    /// The mean and variance of the Bayesian flow distribution p_F(μ ∣ x; t) = N(γx, γ(1 − γ)).
    pub fn flow_moments<F: Real>(&self, x: F, t: F) -> (F, F) {
        let gamma = self.gamma(t);
        (gamma * x, gamma * self.one_minus_gamma(t))
    }

    /// L∞ = −ln σ₁·σ₁^{−2t}·(x − x̂)², the continuous-time loss for a data prediction x̂ (paper eq. 101).
    pub fn cts_time_loss<F: Real>(&self, x: F, x_hat: F, t: F) -> F {
        let error = x - x_hat;
        -F::from_f64(self.sigma_1.ln()) * error * error / self.one_minus_gamma(t)
    }

    /// The affine map from the network's noise prediction to a data prediction at time t, or `None` for
    /// t < [`T_MIN`], where the prediction is x̂ = 0. γ is taken at max(t, t_min), as the reference does.
    pub(crate) fn noise_to_data<F: Real>(&self, t: F) -> Option<NoiseToData<F>> {
        let t_min = F::from_f64(T_MIN);
        if t < t_min {
            return None;
        }
        let gamma = self.gamma(t.max(t_min));
        Some(NoiseToData {
            inv_gamma: F::ONE / gamma,
            noise_scale: (self.one_minus_gamma(t.max(t_min)) / gamma).sqrt(),
        })
    }
}

impl<F: Real> BayesianFlow<F> for GaussianInput {
    /// A value in [−1, 1].
    type Datum = F;

    fn input_width(&self) -> usize {
        1
    }

    fn schedule(&self) -> AccuracySchedule {
        self.schedule
    }

    fn prior(&self) -> (F, F) {
        (F::ZERO, F::ONE)
    }

    fn check_datum(&self, x: F) -> Result<()> {
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

    fn point_mean(&self, x: F, mean: &mut [F]) {
        mean[0] = x;
    }

    /// y ~ N(x, 1/α).
    fn sender_sample(&self, x: F, alpha: F, noise: VariableNoise, y: &mut [F]) {
        y[0] = x + noise.gaussian::<F>(Stream::Sender, 0, 1) / alpha.sqrt();
    }

    /// μ ← (ρμ + αy)/(ρ + α). (ρ becomes ρ + α; the caller keeps ρ for the batch.)
    fn bayesian_update(&self, input: &mut [F], rho: F, y: &[F], alpha: F) {
        input[0] = (rho * input[0] + alpha * y[0]) / (rho + alpha);
    }

    /// μ ~ N(γx, γ(1 − γ)).
    fn bayesian_flow_sample(&self, x: F, t: F, noise: VariableNoise, input: &mut [F]) {
        let (mean, var) = self.flow_moments(x, t);
        input[0] = mean + var.sqrt() * noise.gaussian::<F>(Stream::Flow, 0, 1);
    }

    fn flow_space(&self) -> FlowSpace {
        FlowSpace::Gaussian {
            sigma_1: self.sigma_1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_and_its_complement_agree_and_keep_digits_at_the_ends() {
        let g = GaussianInput::new(0.001).unwrap();
        for t in [0.0, 1e-7, 0.3, 1.0] {
            let sum = g.gamma(t) + g.one_minus_gamma(t);
            assert!((sum - 1.0f64).abs() < 1e-15);
        }
        // In f32 near t = 0, γ ≈ −2t ln σ₁ must not round to zero.
        let tiny = g.gamma(1e-7f32);
        assert!((tiny / (2e-7 * 1000f32.ln()) - 1.0).abs() < 1e-5, "{tiny}");
        // Near t = 1, 1 − γ = σ₁² must keep its digits.
        assert!((g.one_minus_gamma(1.0f32) / 1e-6 - 1.0).abs() < 1e-5);
    }
}
