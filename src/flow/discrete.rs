//! Discrete data: one of K classes per variable (map tiles, characters), the network returning logits
//! (paper §6).

use crate::error::Result;
use crate::flow::categorical_input::CategoricalInput;
use crate::flow::normal::{log_sum_exp, softmax_in_place};
use crate::flow::receiver::mixture_log_weights;
use crate::flow::rng::categorical;
use crate::flow::{BayesianFlow, DataKind, Estimate, MonteCarlo, Real, Stream, VariableNoise};

/// Discrete data with K classes and final accuracy β₁.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Discrete {
    input: CategoricalInput,
}

impl Discrete {
    /// Checks β₁ > 0 and K ≥ 2.
    pub fn new(beta_1: f64, classes: u32) -> Result<Self> {
        Ok(Self {
            input: CategoricalInput::new(beta_1, classes)?,
        })
    }

    /// K.
    pub fn classes(&self) -> u32 {
        self.input.classes()
    }

    /// The categorical input distribution.
    pub fn input(&self) -> &CategoricalInput {
        &self.input
    }

    /// p_O(k ∣ θ; t) = softmax(logits)_k, written into `probs`.
    pub fn output_probs<F: Real>(logits: &[F], probs: &mut [F]) {
        probs.copy_from_slice(logits);
        softmax_in_place(probs);
    }
}

impl<F: Real> DataKind<F> for Discrete {
    type Flow = CategoricalInput;

    fn flow(&self) -> &CategoricalInput {
        &self.input
    }

    fn output_width(&self) -> usize {
        self.input.classes() as usize
    }

    fn draw_output(&self, _input: &[F], output: &[F], _t: F, noise: VariableNoise) -> u32 {
        let max = output.iter().copied().fold(-F::INFINITY, F::max);
        let weights = output.iter().map(move |&l| (l - max).exp());
        categorical(weights, noise.uniform(Stream::Output)) as u32
    }

    /// argmax of the logits, the first of equals.
    fn output_mode(&self, _input: &[F], output: &[F], _t: F) -> u32 {
        let mut best = (0, -F::INFINITY);
        for (k, &l) in output.iter().enumerate() {
            if l > best.1 {
                best = (k as u32, l);
            }
        }
        best.0
    }

    /// p̂ = softmax(logits).
    fn output_mean(&self, _input: &[F], output: &[F], _t: F, mean: &mut [F]) {
        Self::output_probs(output, mean);
    }

    /// Kβ₁t·‖e_x − p_O‖² (a squared Euclidean norm over the classes).
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
        let classes = F::from_f64(self.input.classes().into());
        classes * F::from_f64(self.input.beta_1()) * t * distance
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
        mc: MonteCarlo,
    ) -> Estimate<F> {
        let alpha = self.input.schedule().alpha_at_time(t, n);
        let mut probs = vec![F::ZERO; output.len()];
        Self::output_probs(output, &mut probs);
        let log_weights = mixture_log_weights(probs.into_iter());
        let mut y = vec![F::ZERO; output.len()];
        let estimate = mc.estimate(|noise| {
            self.input.sender_sample(x, alpha, noise, &mut y);
            y[x as usize] - log_sum_exp(log_weights.iter().zip(&y).map(|(&w, &y)| w + y))
        });
        estimate.scaled(F::from_f64(n.into()))
    }

    /// −ln softmax(logits)_x.
    fn reconstruction_loss(&self, x: u32, _input: &[F], output: &[F]) -> F {
        log_sum_exp(output.iter().copied()) - output[x as usize]
    }
}
