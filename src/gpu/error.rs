//! What can go wrong on the GPU, as values: a game keeps running when a model does not fit or the device is lost.

use crate::error::BfnError;
use crate::model::WeightsError;

/// A GPU sampler error.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter or device could be had (standalone use only; in Bevy the engine owns the device).
    #[error("no usable GPU adapter: {0}")]
    NoAdapter(String),
    /// The model or job needs more than the device allows.
    #[error("{what} needs {needed}, but this device allows at most {limit} ({limit_name})")]
    TooLarge {
        /// The buffer or dimension at fault.
        what: String,
        /// What it needs.
        needed: u64,
        /// What the device allows.
        limit: u64,
        /// The `wgpu::Limits` field (or kernel constant) that sets the limit.
        limit_name: &'static str,
    },
    /// The device reported an error while the model or job was being set up.
    #[error("the GPU rejected {what}: {message}")]
    Device {
        /// What was being created.
        what: &'static str,
        /// The device's message.
        message: String,
    },
    /// The device was lost (driver reset, unplugged, destroyed) or a read-back failed.
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    /// The model's network is of an architecture the GPU sampler has no kernels for.
    #[error("the GPU sampler has no kernels for a {0} network")]
    Architecture(&'static str),
    /// The model's configuration is not one the sampler can run.
    #[error(transparent)]
    Model(#[from] WeightsError),
    /// A sampling setting is out of range.
    #[error(transparent)]
    Settings(#[from] BfnError),
}
