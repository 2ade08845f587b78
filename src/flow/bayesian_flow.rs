//! The input side of a BFN, as the official code's `BayesianFlow`: what the receiver believes (θ), how a sender
//! sample updates it, and the Bayesian flow distribution that makes training inputs.
//!
//! Continuous and discretised data share one input side, [`GaussianInput`](crate::flow::gaussian_input::GaussianInput);
//! discrete data have [`CategoricalInput`](crate::flow::categorical_input::CategoricalInput). What differs between
//! continuous and discretised data is only the output side, [`DataKind`](crate::flow::DataKind).
//!
//! Every method works on one variable: `input` is its slice of θ ([`BayesianFlow::input_width`] values). Callers
//! pass slices of exactly that width (the batch-level functions check shapes once and return
//! [`crate::BfnError::ShapeMismatch`]); the methods index into them.

use std::fmt::Debug;

use crate::error::Result;
use crate::flow::{AccuracySchedule, FlowSpace, Real, VariableNoise};

/// An input distribution with its sender and accuracy schedule.
pub trait BayesianFlow<F: Real>: Copy + Debug + Send + Sync + 'static {
    /// One variable's data: a value in [−1, 1] for the Gaussian input, a class index for the categorical one.
    type Datum: Copy + Debug + PartialEq + Send + Sync + 'static;

    /// Values of θ per variable: 1 (μ) or K (class probabilities).
    fn input_width(&self) -> usize;

    /// β(t) and the step accuracies.
    fn schedule(&self) -> AccuracySchedule;

    /// θ before any data is sent: the value of each component (0 for μ, 1/K for θ) and the initial precision
    /// (ρ = 1, or β = 0).
    fn prior(&self) -> (F, F);

    /// Fails unless `x` is a valid datum (a finite value in [−1, 1], or a class below K).
    fn check_datum(&self, x: Self::Datum) -> Result<()>;

    /// x in θ's coordinates (input-width values): its one-hot e_x, or x itself. It is the prediction x̂ of a
    /// network certain of x, which the few-step samplers put in place of x̂ for a known variable.
    fn point_mean(&self, x: Self::Datum, mean: &mut [F]);

    /// y ~ p_S(· ∣ x; α) into `y` (input-width values), using the [`Stream::Sender`](crate::flow::Stream) noise.
    fn sender_sample(&self, x: Self::Datum, alpha: F, noise: VariableNoise, y: &mut [F]);

    /// θ ← h(θ, y, α), the Bayesian update, in place. `precision` is the accuracy accumulated before this update,
    /// the same for every variable: ρ = 1 + Σα for the Gaussian input (which needs it), β = Σα for the
    /// categorical one (which does not).
    fn bayesian_update(&self, input: &mut [F], precision: F, y: &[F], alpha: F);

    /// θ ~ p_F(· ∣ x; t), the Bayesian flow distribution, using the [`Stream::Flow`](crate::flow::Stream) noise.
    fn bayesian_flow_sample(&self, x: Self::Datum, t: F, noise: VariableNoise, input: &mut [F]);

    /// p_F as one Gaussian in the coordinates the few-step samplers move (μ, or θ's logits).
    fn flow_space(&self) -> FlowSpace;
}
