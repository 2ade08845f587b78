//! The BFN maths in pure Rust: schedules, Bayesian updates, output distributions, losses and the sampler.
//!
//! This layer is the reference the rest of the crate is checked against: the golden values of the official
//! PyTorch implementation test it (`tests/golden.rs`), and the trainer's and the GPU's results are compared with
//! it. Everything is generic over [`Real`], so the same code runs in `f64` (reference, losses) and `f32` (the
//! precision the GPU kernels reproduce).
//!
//! The three data kinds, [`Continuous`], [`Discretised`] and [`Discrete`], implement one trait, [`DataKind`]:
//! the output side (output distribution, losses) over an input side, [`BayesianFlow`] (θ, sender, Bayesian
//! update, Bayesian flow), which continuous and discretised data share. [`Sampler`], [`loss`] and [`elbo`] work
//! with any kind; the sampler runs the paper's method or a few-step one ([`SamplingMethod`], [`FlowSpace`]).

pub(crate) mod accuracy_schedule;
mod bayesian_flow;
pub mod categorical_input;
mod constraints;
mod continuous;
mod data_kind;
mod discrete;
mod discretised;
pub mod discretised_normal;
pub mod elbo;
mod estimate;
mod flow_space;
pub mod gaussian_input;
mod input_params;
pub mod loss;
pub mod normal;
pub mod oracle;
mod real;
mod receiver;
mod rng;
mod sampler;
mod sampling_method;

pub use accuracy_schedule::{AccuracySchedule, MAX_STEPS, Step};
pub use bayesian_flow::BayesianFlow;
pub use constraints::{AnyDatum, Constraints, Known, RuntimeDatum};
pub use continuous::{Continuous, RECONSTRUCTION_BINS};
pub use data_kind::{DataKind, Datum};
pub use discrete::Discrete;
pub use discretised::Discretised;
pub use estimate::{Estimate, MonteCarlo};
pub use flow_space::{FlowSpace, FlowUpdate};
pub use input_params::{InputParams, Shape};
pub use real::Real;
pub use rng::{CounterRng, Stream, VariableNoise, categorical, threefry2x32};
pub use sampler::{Denoiser, Sampler, Sampling};
pub use sampling_method::{DEFAULT_ETA, SamplingMethod};
