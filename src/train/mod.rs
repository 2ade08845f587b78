//! The trainer's side (feature `train`): datasets, the training loop, evaluation, sample sheets and arrays, behind the
//! `bfn-train` binary.

pub mod augment;
pub mod config;
pub mod context_mask;
pub mod dataset;
pub mod datasets;
pub mod denoiser;
pub mod eval;
mod exact;
pub mod fuzzing;
pub mod game_measures;
mod heap;
pub mod loss;
pub mod nearest_class;
pub mod npy;
pub mod optimizer;
pub mod plot;
pub mod quality;
pub mod sample_array;
pub mod sample_mosaic;
pub mod sample_sheet;
pub mod seams;
pub mod trainer;
pub mod user_constraints;

pub use augment::Augment;
pub use config::{ConfigError, ModelSection, TrainConfig, TrainingSection};
pub use dataset::{DataError, DataSpec, DataSplit, Dataset, Examples};
pub use denoiser::NetworkDenoiser;
pub use eval::{Evaluation, evaluate};
pub use heap::keep_freed_memory;
pub use loss::{LossSpec, Target};
pub use optimizer::Optimizer;
pub use quality::{Quality, quality};
pub use trainer::{Progress, TrainError, Trainer};
