//! A model without its network: the configuration, the weights file, positions, samples and what samples depict.
//!
//! Everything here is plain Rust, always compiled: a game reads a weights file and shows its samples without
//! candle (feature `train`) or wgpu (feature `gpu`), and both of those build on these types.

mod config;
pub mod content;
mod guidance;
pub mod limits;
pub mod memory;
pub mod mosaic;
mod network;
pub mod parameters;
mod placement;
pub mod positions;
mod samples;
pub mod time_features;
pub mod unet_config;
pub mod unet_parameters;
pub mod weights;

pub use config::{
    DEFAULT_SAMPLING_STEPS, GptConfig, Kind, KindConfig, Layout, ModelConfig, NetworkConfig,
    Normalisation, Positions, UnetConfig,
};
pub use guidance::Guidance;
pub use limits::{LimitError, Limits};
pub use samples::Samples;
pub use weights::{TensorData, Weights, WeightsError};
