//! Discrete data: one of K classes per variable (map tiles, characters), θ the class probabilities (paper §6).

use crate::error::{BfnError, Result};
use crate::flow::normal::{log_sum_exp, softmax_in_place};
use crate::flow::receiver::{mixture_log_weights, monte_carlo};
use crate::flow::rng::categorical;
use crate::flow::{
    AccuracySchedule, BayesianFlow, CounterRng, Estimate, Real, Stream, VariableNoise,
};

/// The reference's p_F clamps t to at most 1 − 10⁻⁶ …
const T_MAX: f64 = 1.0 - 1e-6;
/// … and treats √β below 10⁻¹⁰ as no information at all (θ uniform).
const MIN_SQRT_BETA: f64 = 1e-10;

/// Discrete data with K classes and final accuracy β₁.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Discrete {
    beta_1: f64,
    classes: u32,
    schedule: AccuracySchedule,
}

impl Discrete {
    /// Checks β₁ > 0 and K ≥ 2.
    pub fn new(beta_1: f64, classes: u32) -> Result<Self> {
        if classes < 2 {
            return Err(BfnError::TooFewClasses {
                what: "classes",
                got: classes,
            });
        }
        Ok(Self {
            beta_1,
            classes,
            schedule: AccuracySchedule::quadratic(beta_1)?,
        })
    }

    /// K.
    pub fn classes(&self) -> u32 {
        self.classes
    }

    /// The mean and standard deviation of coordinate k of p_S(y ∣ x; a) = N(a(K·e_x − 1), aK·I).
    ///
    /// The Bayesian flow's logits are a sender sample too, with the accumulated accuracy
    /// [`flow_accuracy`](Self::flow_accuracy) in place of a, so this gives p_F's moments as well.
    pub fn sender_moments<F: Real>(&self, x: u32, k: u32, accuracy: F) -> (F, F) {
        let classes = F::from_f64(self.classes.into());
        let one_hot = if k == x { classes } else { F::ZERO };
        (accuracy * (one_hot - F::ONE), (accuracy * classes).sqrt())
    }

    /// β(t) as the reference's p_F uses it: t clamped to ≤ 1 − 10⁻⁶ and √β to ≥ 10⁻¹⁰.
    pub fn flow_accuracy<F: Real>(&self, t: F) -> F {
        let sqrt_beta = self.sqrt_beta(t).max(F::from_f64(MIN_SQRT_BETA));
        sqrt_beta * sqrt_beta
    }

    fn sqrt_beta<F: Real>(&self, t: F) -> F {
        self.schedule.beta(t.min(F::from_f64(T_MAX))).sqrt()
    }

    /// Gaussian logits y_k = a(K·δ_kx − 1) + √(aK)·z_k, z from `stream`: a sender sample (accuracy α) or,
    /// before the softmax, a Bayesian flow sample (accuracy β(t)).
    fn gaussian_logits<F: Real>(
        &self,
        x: u32,
        accuracy: F,
        noise: VariableNoise,
        stream: Stream,
        y: &mut [F],
    ) {
        for (k, y) in y.iter_mut().enumerate() {
            let (mean, std) = self.sender_moments(x, k as u32, accuracy);
            *y = mean + std * noise.gaussian(stream, k as u32, self.classes);
        }
    }

    /// p_O(k ∣ θ; t) = softmax(logits)_k, written into `probs`.
    pub fn output_probs<F: Real>(logits: &[F], probs: &mut [F]) {
        probs.copy_from_slice(logits);
        softmax_in_place(probs);
    }
}

impl<F: Real> BayesianFlow<F> for Discrete {
    /// The class index.
    type Datum = u32;

    fn input_width(&self) -> usize {
        self.classes as usize
    }

    fn output_width(&self) -> usize {
        self.classes as usize
    }

    fn schedule(&self) -> AccuracySchedule {
        self.schedule
    }

    fn prior(&self) -> (F, F) {
        (F::ONE / F::from_f64(self.classes.into()), F::ZERO)
    }

    fn check_datum(&self, x: u32) -> Result<()> {
        if x >= self.classes {
            return Err(BfnError::ClassOutOfRange {
                class: x,
                classes: self.classes,
            });
        }
        Ok(())
    }

    fn draw_output(&self, _input: &[F], output: &[F], _t: F, noise: VariableNoise) -> u32 {
        let max = output.iter().copied().fold(-F::INFINITY, F::max);
        let weights = output.iter().map(move |&l| (l - max).exp());
        categorical(weights, noise.uniform(Stream::Output)) as u32
    }

    fn output_mode(&self, _input: &[F], output: &[F], _t: F) -> u32 {
        let mut best = (0, -F::INFINITY);
        for (k, &l) in output.iter().enumerate() {
            if l > best.1 {
                best = (k as u32, l);
            }
        }
        best.0
    }

    fn sender_sample(&self, x: u32, alpha: F, noise: VariableNoise, y: &mut [F]) {
        self.gaussian_logits(x, alpha, noise, Stream::Sender, y);
    }

    /// θ' ∝ θ·e^y, in log space: ln θ' = ln θ + y − ln Σ θ·e^y. The linear form of the reference overflows once
    /// αK is in the hundreds; a class whose probability underflows to 0 stays at 0 here instead of becoming NaN.
    fn bayesian_update(&self, input: &mut [F], _precision: F, y: &[F], _alpha: F) {
        for (theta, &y) in input.iter_mut().zip(y) {
            *theta = theta.ln() + y;
        }
        softmax_in_place(input);
    }

    fn bayesian_flow_sample(&self, x: u32, t: F, noise: VariableNoise, input: &mut [F]) {
        if self.sqrt_beta(t) < F::from_f64(MIN_SQRT_BETA) {
            input.fill(<Self as BayesianFlow<F>>::prior(self).0);
            return;
        }
        self.gaussian_logits(x, self.flow_accuracy(t), noise, Stream::Flow, input);
        softmax_in_place(input);
    }

    fn cts_time_loss(&self, x: u32, _input: &[F], output: &[F], t: F) -> F {
        let mut probs = vec![F::ZERO; output.len()];
        Self::output_probs(output, &mut probs);
        let distance: F = probs
            .iter()
            .enumerate()
            .map(|(k, &p)| {
                let e = if k as u32 == x { F::ONE } else { F::ZERO };
                (e - p) * (e - p)
            })
            .sum();
        F::from_f64(self.classes.into()) * F::from_f64(self.beta_1) * t * distance
    }

    /// The paper's receiver, Σ_k p_O(k)·N(y ∣ α(K·e_k − 1), αK·I), a mixture of K-dimensional Gaussians. Their
    /// log-densities differ only in the term y_k + α, so per draw y ~ p_S(· ∣ x; α) the log ratio is
    /// y_x − ln Σ_k w_k·e^{y_k}: O(K). (The official code mixes each coordinate separately, which is not the
    /// paper's receiver and gives other numbers; see `shared/golden/README.md`.)
    fn discrete_time_loss(
        &self,
        x: u32,
        _input: &[F],
        output: &[F],
        t: F,
        n: u32,
        draws: u32,
        rng: &CounterRng,
        variable: u32,
    ) -> Estimate<F> {
        let n_f = F::from_f64(n.into());
        let alpha = self.schedule.alpha_at(t * n_f + F::ONE, n_f);
        let mut probs = vec![F::ZERO; output.len()];
        Self::output_probs(output, &mut probs);
        let log_weights = mixture_log_weights(probs.into_iter());
        let mut y = vec![F::ZERO; output.len()];
        let estimate = monte_carlo(draws, |draw| {
            let noise = VariableNoise {
                rng: *rng,
                step: draw,
                variable,
            };
            self.sender_sample(x, alpha, noise, &mut y);
            y[x as usize] - log_sum_exp(log_weights.iter().zip(&y).map(|(&w, &y)| w + y))
        });
        estimate.scaled(n_f)
    }

    fn reconstruction_loss(&self, x: u32, _input: &[F], output: &[F]) -> F {
        log_sum_exp(output.iter().copied()) - output[x as usize]
    }
}
