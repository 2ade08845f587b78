//! Discretised data: values on K evenly spaced levels in [−1, 1] (pixel intensities, sprite channels), the
//! network predicting a normal over the noise whose discretisation is the output distribution (paper §5).

use crate::error::{BfnError, Result};
use crate::flow::continuous::check_value;
use crate::flow::discretised_normal::{DiscretisedNormal, bin_centre, bin_of};
use crate::flow::gaussian_input::GaussianInput;
use crate::flow::normal::log_sum_exp;
use crate::flow::receiver::{mixture_log_weights, monte_carlo};
use crate::flow::{
    AccuracySchedule, BayesianFlow, CounterRng, Estimate, Real, Stream, VariableNoise,
};

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
        if bins < 2 {
            return Err(BfnError::TooFewClasses {
                what: "bins",
                got: bins,
            });
        }
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

impl<F: Real> BayesianFlow<F> for Discretised {
    /// The value of a bin centre, (2k + 1)/K − 1 (any value in [−1, 1] is accepted as data and scored by the bin
    /// it falls in).
    type Datum = F;

    fn input_width(&self) -> usize {
        1
    }

    fn output_width(&self) -> usize {
        2
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

    /// Draws from the underlying normal and takes the bin it falls in: the same distribution as drawing a bin
    /// from p_O (the end bins absorb the tails either way) for one Gaussian number instead of K probabilities,
    /// which is also how the reference samples.
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
        let error = x - self.output_distribution(input[0], output, t).mean_value();
        -F::from_f64(self.input.sigma_1().ln()) * error * error / self.input.one_minus_gamma(t)
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
        draws: u32,
        rng: &CounterRng,
        variable: u32,
    ) -> Estimate<F> {
        let n_f = F::from_f64(n.into());
        let alpha = self.input.schedule().alpha_at(t * n_f + F::ONE, n_f);
        let log_weights =
            mixture_log_weights(self.output_distribution(input[0], output, t).probs());
        let half_alpha = F::from_f64(0.5) * alpha;
        let estimate = monte_carlo(draws, |draw| {
            let noise = VariableNoise {
                rng: *rng,
                step: draw,
                variable,
            };
            let y = GaussianInput::sender_sample(x, alpha, noise.gaussian(Stream::Sender, 0, 1));
            let receiver = log_sum_exp(log_weights.iter().enumerate().map(|(k, &w)| {
                let d = y - bin_centre(k as u32, self.bins);
                w - half_alpha * d * d
            }));
            -half_alpha * (y - x) * (y - x) - receiver
        });
        estimate.scaled(n_f)
    }

    fn reconstruction_loss(&self, x: F, input: &[F], output: &[F]) -> F {
        -self
            .output_distribution(input[0], output, F::ONE)
            .log_prob(x)
    }
}
