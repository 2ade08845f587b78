//! The network: its configuration, the weights file, and (feature `train`) its candle implementation.
//!
//! The network is the official BFN's non-causal GPT, with the official parameter names, so that a weights file
//! of ours loads into the official PyTorch module and the two can be compared on the same weights.

mod config;
pub mod content;
#[cfg(feature = "train")]
mod fused;
#[cfg(feature = "train")]
pub mod gpt;
pub mod positions;
mod samples;
pub mod weights;

pub use config::{
    DEFAULT_SAMPLING_STEPS, Kind, KindConfig, Layout, ModelConfig, NetworkConfig, Normalisation,
    Positions,
};
pub use samples::Samples;
pub use weights::{TensorData, Weights, WeightsError};
