//! The one trait behind which the three data kinds live: an input side ([`BayesianFlow`]) and an output side, as
//! the official code pairs a `BayesianFlow` with a `Loss` and a distribution factory.
//!
//! The output side turns the network's output for a variable into the output distribution p_O (drawing from it,
//! taking its mode) and scores it (the three losses). Methods work on one variable, like [`BayesianFlow`]'s:
//! `input` is its θ, `output` its [`DataKind::output_width`] network outputs. The batch-level functions
//! ([`crate::flow::Sampler`], [`crate::flow::loss`], [`crate::flow::elbo`]) check shapes once and call these, so
//! the same code serves the CPU sampler, the trainer's evaluation and the GPU kernels' tests.

use std::fmt::Debug;

use crate::flow::{BayesianFlow, Estimate, MonteCarlo, Real, VariableNoise};

/// One variable's data for the kind `K`.
pub type Datum<F, K> = <<K as DataKind<F>>::Flow as BayesianFlow<F>>::Datum;

/// A data kind: continuous, discretised or discrete.
pub trait DataKind<F: Real>: Copy + Debug + Send + Sync + 'static {
    /// The input side.
    type Flow: BayesianFlow<F>;

    /// The input distribution, sender and schedule.
    fn flow(&self) -> &Self::Flow;

    /// Network outputs per variable: 1 (ε̂), 2 (μ_ε, ln σ_ε) or K (logits).
    fn output_width(&self) -> usize;

    /// A draw from the output distribution p_O(· ∣ θ; t), using the [`Stream::Output`](crate::flow::Stream) noise.
    fn draw_output(&self, input: &[F], output: &[F], t: F, noise: VariableNoise) -> Datum<F, Self>;

    /// The most likely value of p_O(· ∣ θ; t): what the sampler returns after its last step.
    fn output_mode(&self, input: &[F], output: &[F], t: F) -> Datum<F, Self>;

    /// The output value nearest to a valid datum x: the centre of x's bin for discretised data, x itself
    /// otherwise. A known value is moved there, so that a sample which keeps it is still a value of the kind.
    fn nearest_output(&self, x: Datum<F, Self>) -> Datum<F, Self> {
        x
    }

    /// The mean of p_O(· ∣ θ; t) in θ's coordinates (input-width values: the expected one-hot p̂, or the expected value): the data
    /// prediction x̂ the few-step samplers move θ towards ([`FlowSpace`](crate::flow::FlowSpace)).
    fn output_mean(&self, input: &[F], output: &[F], t: F, mean: &mut [F]);

    /// L∞ at time t: the continuous-time loss of this variable.
    fn cts_time_loss(&self, x: Datum<F, Self>, input: &[F], output: &[F], t: F) -> F;

    /// Lⁿ at time t = (i − 1)/n: the discrete-time loss of this variable, n times the KL divergence from the
    /// receiver to the sender at step i. Exact where a closed form exists, otherwise a Monte Carlo estimate over
    /// sender samples as `mc` says.
    fn discrete_time_loss(
        &self,
        x: Datum<F, Self>,
        input: &[F],
        output: &[F],
        t: F,
        n: u32,
        mc: MonteCarlo,
    ) -> Estimate<F>;

    /// L^r: −ln of the probability the output distribution at t = 1 gives the datum.
    fn reconstruction_loss(&self, x: Datum<F, Self>, input: &[F], output: &[F]) -> F;
}
