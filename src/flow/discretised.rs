//! Discretised data: values on K evenly spaced levels in [−1, 1] (pixel intensities, sprite channels), the
//! network predicting a normal over the noise whose discretisation is the output distribution (paper §5).

use crate::error::Result;
use crate::flow::categorical_input::check_classes;
use crate::flow::discretised_normal::{DiscretisedNormal, bin_centre, bin_of};
use crate::flow::gaussian_input::GaussianInput;
use crate::flow::normal::log_sum_exp;
use crate::flow::receiver::mixture_log_weights;
use crate::flow::{BayesianFlow, DataKind, Estimate, MonteCarlo, Real, Stream, VariableNoise};

/// The reference clamps ln σ_ε to ±10 before exponentiating (`safe_exp`).
const LN_SIGMA_RANGE: f64 = 10.0;
/// …and σ_x to [10⁻³, 10] (`DiscretizedNormal`'s `min_std_dev`, `max_std_dev`).
const SIGMA_X_RANGE: (f64, f64) = (1e-3, 10.0);

/// Discretised data with K bins and input standard deviation σ₁ at t = 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Discretised {
    input: GaussianInput,
    bins: u32,
}

impl Discretised {
    /// Checks σ₁ ∈ (0, 1) and K ≥ 2.
    pub fn new(sigma_1: f64, bins: u32) -> Result<Self> {
        check_classes("bins", bins)?;
        Ok(Self {
            input: GaussianInput::new(sigma_1)?,
            bins,
        })
    }

    /// K.
    pub fn bins(&self) -> u32 {
        self.bins
    }

    /// The Gaussian input distribution.
    pub fn input(&self) -> &GaussianInput {
        &self.input
    }

    /// p_O(· ∣ θ; t) from the network's (μ_ε, ln σ_ε): the normal N(μ_x, σ_x²) with
    /// μ_x = μ/γ − √((1 − γ)/γ)·μ_ε and σ_x = √((1 − γ)/γ)·exp(ln σ_ε), discretised into K bins.
    pub fn output_distribution<F: Real>(&self, mu: F, output: &[F], t: F) -> DiscretisedNormal<F> {
        let (mean, std) = match self.input.noise_to_data(t) {
            None => (F::ZERO, F::ONE),
            Some(map) => {
                let range = F::from_f64(LN_SIGMA_RANGE);
                (
                    mu * map.inv_gamma - map.noise_scale * output[0],
                    map.noise_scale * output[1].clamp(-range, range).exp(),
                )
            }
        };
        let (lo, hi) = SIGMA_X_RANGE;
        DiscretisedNormal {
            mean,
            std: std.clamp(F::from_f64(lo), F::from_f64(hi)),
            bins: self.bins,
        }
    }
}

impl<F: Real> DataKind<F> for Discretised {
    type Flow = GaussianInput;

    fn flow(&self) -> &GaussianInput {
        &self.input
    }

    fn output_width(&self) -> usize {
        2
    }

    /// Draws from the underlying normal and takes the bin it falls in: the same distribution as drawing a bin
    /// from p_O (the end bins absorb the tails either way) for one Gaussian number instead of K probabilities,
    /// which is also how the reference samples. The datum is the bin's centre.
    fn draw_output(&self, input: &[F], output: &[F], t: F, noise: VariableNoise) -> F {
        let p = self.output_distribution(input[0], output, t);
        let x = p.mean + p.std * noise.gaussian(Stream::Output, 0, 1);
        bin_centre(bin_of(x, self.bins), self.bins)
    }

    fn output_mode(&self, input: &[F], output: &[F], t: F) -> F {
        bin_centre(
            self.output_distribution(input[0], output, t).mode(),
            self.bins,
        )
    }

    fn nearest_output(&self, x: F) -> F {
        bin_centre(bin_of(x, self.bins), self.bins)
    }

    /// The mean of the discretised distribution, not its mode bin's centre: it moves smoothly with the network's
    /// output, as the solvers' Taylor steps assume, and it is the x̂ the continuous-time loss trains.
    fn output_mean(&self, input: &[F], output: &[F], t: F, mean: &mut [F]) {
        mean[0] = self.output_distribution(input[0], output, t).mean_value();
    }

    /// L∞ with x̂ the mean of the discretised output distribution.
    fn cts_time_loss(&self, x: F, input: &[F], output: &[F], t: F) -> F {
        let x_hat = self.output_distribution(input[0], output, t).mean_value();
        self.input.cts_time_loss(x, x_hat, t)
    }

    /// The receiver mixes N(k_c, 1/α) over bin centres k_c with weights p_O(k); per draw y ~ N(x, 1/α) the log
    /// ratio is −α(y − x)²/2 − ln Σ_k w_k·exp(−α(y − k_c)²/2) (the Gaussians' common factor cancels).
    fn discrete_time_loss(
        &self,
        x: F,
        input: &[F],
        output: &[F],
        t: F,
        n: u32,
        mc: MonteCarlo,
    ) -> Estimate<F> {
        let alpha = self.input.schedule().alpha_at_time(t, n);
        let log_weights =
            mixture_log_weights(self.output_distribution(input[0], output, t).probs());
        let half_alpha = F::from_f64(0.5) * alpha;
        let mut y = [F::ZERO];
        let estimate = mc.estimate(|noise| {
            self.input.sender_sample(x, alpha, noise, &mut y);
            let receiver = log_sum_exp(log_weights.iter().enumerate().map(|(k, &w)| {
                let d = y[0] - bin_centre(k as u32, self.bins);
                w - half_alpha * d * d
            }));
            -half_alpha * (y[0] - x) * (y[0] - x) - receiver
        });
        estimate.scaled(F::from_f64(n.into()))
    }

    fn reconstruction_loss(&self, x: F, input: &[F], output: &[F]) -> F {
        -self
            .output_distribution(input[0], output, F::ONE)
            .log_prob(x)
    }
}
