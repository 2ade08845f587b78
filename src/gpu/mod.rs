//! The GPU sampler (feature `gpu`): the network and the BFN step in WGSL on wgpu, engine-agnostic.
//!
//! A [`GpuModel`] uploads a weights file once and compiles its data kind's kernels (those every model uses,
//! [`DeviceKernels`], are compiled once per device and shared); a [`SamplingJob`] holds one run's state
//! (θ, the step counter, the activations), allocated once; [`SamplingJob::record_steps`] encodes the next k steps
//! into the caller's command encoder, so a game can spend a few steps of its frame on it. Nothing is allocated
//! or compiled per step: every dispatch is bound when the job is made, the per-step constants sit in a table on
//! the GPU, and the job's own counter on the GPU says which step comes next. What a run must keep (known values,
//! allowed classes: [`crate::flow::Constraints`]) sits in a buffer of the job that
//! [`SamplingJob::write_constraints`] rewrites between frames.
//!
//! Every kernel (`shaders/*.wgsl`) is the twin of CPU code: the networks of [`crate::net::Gpt`] and
//! [`crate::net::Unet`] (feature
//! `train`), the steps of [`crate::flow::Sampling`] for every [`crate::flow::SamplingMethod`], the generator of [`crate::flow::CounterRng`]. From one seed a
//! GPU run follows the CPU run's trajectory, up to `f32` rounding (see `tests/gpu.rs`).
//!
//! ```no_run
//! use bevy_bfn::flow::SamplingMethod;
//! use bevy_bfn::gpu::{GpuContext, GpuModel, JobSettings, SamplingJob};
//! use bevy_bfn::model::{Samples, Weights};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gpu = GpuContext::new()?;
//! let weights = Weights::load("assets/models/dungeon.safetensors")?;
//! let model = GpuModel::new(&gpu.device, &weights)?;
//! // Ten network calls of the second-order ODE solver.
//! let sampler = SamplingMethod::Ode2 { eta: 1e-5 };
//! let settings = JobSettings { batch: 4, steps: 10, seed: 7, accuracy: None, sampler };
//! let mut job = SamplingJob::new(&gpu.device, &model, settings)?;
//! while !job.is_finished() {
//!     let mut encoder = gpu.device.create_command_encoder(&Default::default());
//!     job.record_steps(&mut encoder, 5); // a frame's worth
//!     gpu.queue.submit([encoder.finish()]);
//! }
//! if let Samples::Classes(tiles) = job.read_samples(&gpu.device, &gpu.queue)? {
//!     println!("{} tiles", tiles.len());
//! }
//! # Ok(())
//! # }
//! ```

mod attention;
mod bfn_step;
mod constraints;
mod copy_columns;
mod device;
mod device_kernels;
mod error;
mod group_norm;
mod guidance;
mod input_adapter;
mod job;
pub(crate) mod kernel;
pub(crate) mod kernel_source;
mod layer_norm;
pub mod matmul;
pub mod memory;
pub(crate) mod model;
mod network;
mod network_gpt;
mod network_unet;
mod preview;
mod read_back;
mod step_table;
mod step_timer;
mod time_embedding;
mod unet_input;

pub use device::GpuContext;
pub use device_kernels::DeviceKernels;
pub use error::GpuError;
pub use job::{JobSettings, SamplingJob};
pub use kernel::Dispatch;
pub use memory::GpuMemory;
pub use model::GpuModel;
pub use preview::{preview_dispatch, preview_size};
pub use read_back::PendingMap;
pub use step_timer::StepTimer;
