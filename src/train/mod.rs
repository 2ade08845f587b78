//! The trainer's side (feature `train`): datasets, augmentation, context masks, losses on tensors, the optimiser
//! and the training loop behind `bfn-train train`. Sampling to files and measuring samples are [`crate::measure`]'s.

pub mod augment;
pub mod config;
pub mod context_mask;
pub mod dataset;
pub mod datasets;
pub mod denoiser;
mod exact;
pub mod fuzzing;
mod heap;
pub mod loss;
pub mod optimizer;
pub mod trainer;

pub use augment::Augment;
pub use config::{ConfigError, ModelSection, TrainConfig, TrainingSection};
pub use dataset::{DataError, DataSpec, DataSplit, Dataset, Examples};
pub use denoiser::NetworkDenoiser;
pub use heap::keep_freed_memory;
pub use loss::{LossSpec, Target};
pub use optimizer::Optimizer;
pub use trainer::{Progress, TrainError, Trainer};
