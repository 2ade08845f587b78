//! Sample sheets: what a model generates, as a PNG grid (images, sprites, maps, terrain) or as text (words), or as
//! a NumPy array to measure.

use std::path::Path;

use candle_core::Device;

use crate::atomic_file::write_atomic;
use crate::error::{BfnError, Result};
use crate::flow::{Constraints, RuntimeDatum, Sampler, SamplingMethod, Shape};
use crate::measure::sample_array::array_bytes;
use crate::model::content::{example_count, example_pixels, example_text, png_bytes};
use crate::model::{Kind, Layout, ModelConfig, Samples, Weights};
use crate::net::Network;
use crate::train::denoiser::{Guidance, NetworkDenoiser};

/// Draws `count` samples from a model with `steps` steps of the standard sampler from `seed`.
pub fn sample(weights: &Weights, count: usize, steps: u32, seed: u64) -> Result<Samples> {
    sample_with(weights, count, steps, seed, SamplingMethod::Standard)
}

/// Draws `count` samples from a model with `steps` steps of `method` from `seed`.
pub fn sample_with(
    weights: &Weights,
    count: usize,
    steps: u32,
    seed: u64,
    method: SamplingMethod,
) -> Result<Samples> {
    sample_constrained(
        weights,
        count,
        steps,
        seed,
        method,
        &Constraints::<f32>::default(),
    )
}

/// As [`sample_with`], keeping `constraints` ([`Sampler::sample_constrained`]): known classes for a discrete
/// model, known values for the others, allowed classes for a discrete one.
pub fn sample_constrained<D: RuntimeDatum>(
    weights: &Weights,
    count: usize,
    steps: u32,
    seed: u64,
    method: SamplingMethod,
    constraints: &Constraints<D>,
) -> Result<Samples> {
    sample_guided(
        weights,
        count,
        steps,
        seed,
        method,
        constraints,
        Guidance::default(),
    )
}

/// As [`sample_constrained`], sample b of a conditional model asking for class `guidance.labels[b]` with
/// classifier-free guidance ([`Guidance`]).
pub fn sample_guided<D: RuntimeDatum>(
    weights: &Weights,
    count: usize,
    steps: u32,
    seed: u64,
    method: SamplingMethod,
    constraints: &Constraints<D>,
    guidance: Guidance,
) -> Result<Samples> {
    let device = Device::Cpu;
    let network =
        Network::from_weights(weights, &device).map_err(|e| BfnError::Denoiser(e.to_string()))?;
    let mut denoiser = NetworkDenoiser::new(&network, &device).with_guidance(guidance);
    let shape = Shape::new(count, weights.config().layout.variables())?;
    let values = || constraints.retyped(RuntimeDatum::value);
    Ok(match weights.kind() {
        Kind::Continuous(k) => Samples::Values(
            Sampler::new(k, steps, seed)?
                .with_method(method)?
                .sample_constrained(&mut denoiser, shape, &values()?)?,
        ),
        Kind::Discretised(k) => Samples::Values(
            Sampler::new(k, steps, seed)?
                .with_method(method)?
                .sample_constrained(&mut denoiser, shape, &values()?)?,
        ),
        Kind::Discrete(k) => Samples::Classes(
            Sampler::new(k, steps, seed)?
                .with_method(method)?
                .sample_constrained(
                    &mut denoiser,
                    shape,
                    &constraints.retyped(RuntimeDatum::class)?,
                )?,
        ),
    })
}

/// Writes samples as a sheet: text (one sample a line) for discrete sequences, a PNG grid for everything else —
/// or, for a path ending in `.npy`, as the NumPy array of [`array_bytes`], to be measured rather than looked at.
pub fn write_sheet(config: &ModelConfig, samples: &Samples, path: &Path) -> std::io::Result<()> {
    let layout = config.layout;
    if is_array_path(path) {
        return write_atomic(path, &array_bytes(config, samples));
    }
    match samples {
        Samples::Classes(classes) if layout.height == 1 => {
            let text: String = classes
                .chunks_exact(layout.variables())
                .map(|s| example_text(config, s) + "\n")
                .collect();
            write_atomic(path, text.as_bytes())
        }
        _ => {
            let image = config.pixel_layout();
            let pixels = |example| example_pixels(config, samples, example);
            let count = example_count(config, samples);
            write_png(path, &grid(image, count, pixels))
        }
    }
}

/// Whether `path` names a NumPy array (`.npy`, in any case) rather than a sheet.
pub fn is_array_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// A sheet of examples in rows of up to 8, each scaled up to about 64 pixels, with 2-pixel gutters.
struct Sheet {
    width: usize,
    height: usize,
    rgba: Vec<u8>,
}

fn grid(layout: Layout, count: usize, pixels: impl Fn(usize) -> Vec<[u8; 4]>) -> Sheet {
    let scale = (64 / layout.width.max(layout.height)).max(1);
    let (cell_w, cell_h) = (layout.width * scale + 2, layout.height * scale + 2);
    let columns = count.clamp(1, 8);
    let rows = count.div_ceil(columns);
    let (width, height) = (columns * cell_w + 2, rows * cell_h + 2);
    let mut rgba = vec![0u8; width * height * 4];
    for chunk in rgba.chunks_exact_mut(4) {
        chunk.copy_from_slice(&[40, 40, 48, 255]);
    }
    for example in 0..count {
        let (x0, y0) = (
            2 + (example % columns) * cell_w,
            2 + (example / columns) * cell_h,
        );
        for (token, colour) in pixels(example).into_iter().enumerate() {
            let (r, c) = (token / layout.width, token % layout.width);
            for dy in 0..scale {
                for dx in 0..scale {
                    let at = ((y0 + r * scale + dy) * width + x0 + c * scale + dx) * 4;
                    rgba[at..at + 4].copy_from_slice(&colour);
                }
            }
        }
    }
    Sheet {
        width,
        height,
        rgba,
    }
}

fn write_png(path: &Path, sheet: &Sheet) -> std::io::Result<()> {
    write_atomic(path, &png_bytes(sheet.width, sheet.height, &sheet.rgba)?)
}
