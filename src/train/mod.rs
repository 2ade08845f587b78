//! The trainer's side (feature `train`): datasets, the training loop, evaluation and sample sheets, behind the
//! `bfn-train` binary.

pub mod augment;
pub mod config;
pub mod dataset;
pub mod datasets;
pub mod denoiser;
pub mod eval;
pub mod heap;
pub mod loss;
pub mod optimizer;
pub mod sample_sheet;
pub mod trainer;
