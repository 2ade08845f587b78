//! The one trait behind which the three data kinds live, as `BayesianFlow` and `Loss` do in the official code.
//!
//! Every method works on one variable: `input` is its slice of θ ([`BayesianFlow::input_width`] values), `output`
//! its slice of the network's output ([`BayesianFlow::output_width`] values). The batch-level functions
//! ([`crate::flow::Sampler`], [`crate::flow::loss`], [`crate::flow::elbo`]) check shapes once and then call these
//! per variable, so the same code serves the CPU sampler, the trainer's evaluation and the GPU kernels' tests.

use std::fmt::Debug;

use crate::error::Result;
use crate::flow::{AccuracySchedule, CounterRng, Estimate, Real, VariableNoise};

/// A data kind: continuous, discretised or discrete.
///
/// Callers must pass slices of exactly the declared widths (the batch-level functions check this and return
/// [`crate::BfnError::ShapeMismatch`]); the methods index into them.
pub trait BayesianFlow<F: Real>: Copy + Debug + Send + Sync + 'static {
    /// One variable's data: a value in [−1, 1] for continuous and discretised data, a class index for discrete.
    type Datum: Copy + Debug + PartialEq + Send + Sync + 'static;

    /// Values of θ per variable: 1 (μ) or K (class probabilities).
    fn input_width(&self) -> usize;

    /// Network outputs per variable: 1 (ε̂), 2 (μ_ε, ln σ_ε) or K (logits).
    fn output_width(&self) -> usize;

    /// β(t) and the step accuracies.
    fn schedule(&self) -> AccuracySchedule;

    /// θ before any data is sent: the value of each component (0 for μ, 1/K for θ) and the initial precision
    /// (ρ = 1, or β = 0).
    fn prior(&self) -> (F, F);

    /// Fails unless `x` is a valid datum (a finite value in [−1, 1], or a class below K).
    fn check_datum(&self, x: Self::Datum) -> Result<()>;

    /// A draw from the output distribution p_O(· ∣ θ; t), using the [`Stream::Output`](crate::flow::Stream) noise.
    fn draw_output(&self, input: &[F], output: &[F], t: F, noise: VariableNoise) -> Self::Datum;

    /// The most likely value of p_O(· ∣ θ; t): what the sampler returns after its last step.
    fn output_mode(&self, input: &[F], output: &[F], t: F) -> Self::Datum;

    /// y ~ p_S(· ∣ x; α) into `y` (input-width values), using the [`Stream::Sender`](crate::flow::Stream) noise.
    fn sender_sample(&self, x: Self::Datum, alpha: F, noise: VariableNoise, y: &mut [F]);

    /// θ ← h(θ, y, α), the Bayesian update, in place. `precision` is the accuracy accumulated before this update,
    /// the same for every variable: ρ = 1 + Σα for the Gaussian input (which needs it), β = Σα for discrete data
    /// (which does not).
    fn bayesian_update(&self, input: &mut [F], precision: F, y: &[F], alpha: F);

    /// θ ~ p_F(· ∣ x; t), the Bayesian flow distribution that makes the network's training inputs, using the
    /// [`Stream::Flow`](crate::flow::Stream) noise.
    fn bayesian_flow_sample(&self, x: Self::Datum, t: F, noise: VariableNoise, input: &mut [F]);

    /// L∞ at time t: the continuous-time loss of this variable.
    fn cts_time_loss(&self, x: Self::Datum, input: &[F], output: &[F], t: F) -> F;

    /// Lⁿ at time t = (i − 1)/n: the discrete-time loss of this variable, n times the KL divergence from the
    /// receiver to the sender at step i. Exact where a closed form exists, otherwise a Monte Carlo estimate over
    /// `draws` sender samples drawn with `rng` (draw j uses step j of variable `variable`).
    #[allow(clippy::too_many_arguments)]
    fn discrete_time_loss(
        &self,
        x: Self::Datum,
        input: &[F],
        output: &[F],
        t: F,
        n: u32,
        draws: u32,
        rng: &CounterRng,
        variable: u32,
    ) -> Estimate<F>;

    /// L^r: −ln of the probability the output distribution at t = 1 gives the datum.
    fn reconstruction_loss(&self, x: Self::Datum, input: &[F], output: &[F]) -> F;
}
