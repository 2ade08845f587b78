//! Bayesian Flow Networks (Graves et al., 2023) for procedural content.
//!
//! A Bayesian Flow Network generates data by letting a receiver's beliefs θ about every variable (a map tile, a
//! pixel, a character) sharpen over n steps: at each step a network looks at θ, guesses the data, and a noisy
//! message built from that guess updates θ by Bayes' rule. The same procedure serves continuous values
//! (terrain heights), discretised ones (pixel intensities) and discrete classes (tiles, letters).
//!
//! This crate is built in layers, each depending only on those above it:
//! - [`flow`]: the maths for the three data kinds, the losses, the negative ELBO, the n-step [`flow::Sampler`]
//!   generic over a [`flow::Denoiser`], and the counter-based random generator shared with the GPU.
//! - [`model`]: the network's configuration, the weights file (safetensors with the config as metadata, checked
//!   on load), the position features, and samples as what they depict (pixels, tiles, text).
//! - `net` (feature `train`): the official BFN GPT in candle, a candle-nn module per layer kind over fused CPU
//!   kernels.
//! - `train` (feature `train`): datasets, losses on tensors, the optimiser and the trainer behind `bfn-train`.
//! - `measure` (feature `train`): sampling to files, the held-out ELBO and the measures of what a game needs.
//! - `gpu` (feature `gpu`): the sampler on wgpu, the network and the BFN step in WGSL, engine-agnostic.
//! - `plugin` (feature `bevy`): `BfnPlugin`, generators that run a few steps per frame on Bevy's own device, and
//!   (feature `egui`) the designer panels.
//!
//! # Example
//!
//! Sampling a five-letter word with a network that already knows the answer: θ starts uniform over 27 classes
//! and ends on the word after 20 steps.
//!
//! ```
//! use bevy_bfn::flow::{Discrete, InputParams, Sampler, Shape};
//!
//! # fn main() -> Result<(), bevy_bfn::BfnError> {
//! let letters = |c: u8| u32::from(c - b'a' + 1);
//! let word: Vec<u32> = b"bevy".iter().copied().map(letters).collect();
//! let kind = Discrete::new(3.0, 27)?;
//!
//! // A known-answer denoiser: logits that put nearly all mass on the word's letters, whatever θ is.
//! let mut oracle = |theta: &InputParams<f32>, _t: &[f32], logits: &mut [f32]| {
//!     for (v, out) in logits.chunks_exact_mut(27).enumerate() {
//!         out.fill(0.0);
//!         out[word[v % word.len()] as usize] = 12.0;
//!     }
//!     Ok(())
//! };
//!
//! let sampler = Sampler::new(kind, 20, 7)?;
//! let sample = sampler.sample(&mut oracle, Shape::new(1, word.len())?)?;
//! assert_eq!(sample, word);
//! # Ok(())
//! # }
//! ```

mod atomic_file;
pub mod error;
pub mod flow;
#[cfg(feature = "gpu")]
pub mod gpu;
#[cfg(feature = "train")]
pub mod measure;
pub mod model;
#[cfg(feature = "train")]
pub mod net;
#[cfg(feature = "bevy")]
pub mod plugin;
#[cfg(feature = "train")]
pub mod train;

pub use error::{BfnError, Result};
