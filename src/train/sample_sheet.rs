//! Sample sheets: what a model generates, as a PNG grid (images, sprites, maps, terrain) or as text (words).

use std::path::Path;

use candle_core::Device;

use crate::atomic_file::write_atomic;
use crate::error::{BfnError, Result};
use crate::flow::{Sampler, Shape};
use crate::net::gpt::Gpt;
use crate::net::{Kind, Layout, ModelConfig, Samples, Weights};
use crate::train::denoiser::GptDenoiser;

/// Draws `count` samples from a model with `steps` steps from `seed`.
pub fn sample(weights: &Weights, count: usize, steps: u32, seed: u64) -> Result<Samples> {
    let device = Device::Cpu;
    let gpt = Gpt::from_weights(weights, &device).map_err(|e| BfnError::Denoiser(e.to_string()))?;
    let mut denoiser = GptDenoiser {
        gpt: &gpt,
        device: &device,
    };
    let shape = Shape::new(count, weights.config().layout.variables())?;
    Ok(match weights.kind() {
        Kind::Continuous(k) => {
            Samples::Values(Sampler::new(k, steps, seed)?.sample(&mut denoiser, shape)?)
        }
        Kind::Discretised(k) => {
            Samples::Values(Sampler::new(k, steps, seed)?.sample(&mut denoiser, shape)?)
        }
        Kind::Discrete(k) => {
            Samples::Classes(Sampler::new(k, steps, seed)?.sample(&mut denoiser, shape)?)
        }
    })
}

/// Writes samples as a sheet: text (one sample a line) for discrete sequences, a PNG grid for everything else.
pub fn write_sheet(config: &ModelConfig, samples: &Samples, path: &Path) -> std::io::Result<()> {
    let layout = config.layout;
    match samples {
        Samples::Classes(classes) if layout.height == 1 => {
            let text: String = classes
                .chunks_exact(layout.variables())
                .map(|s| {
                    s.iter()
                        .map(|&c| config.legend.get(c as usize).map_or("?", String::as_str))
                        .collect::<String>()
                })
                .map(|line| line.trim_end().to_owned() + "\n")
                .collect();
            write_atomic(path, text.as_bytes())
        }
        _ => {
            let image = config.pixel_layout();
            let pixels = |example: usize| -> Vec<[u8; 4]> {
                match samples {
                    Samples::Values(v) => {
                        let example =
                            &v[example * layout.variables()..(example + 1) * layout.variables()];
                        (0..image.height * image.width)
                            .map(|pixel| {
                                let (r, c) = (pixel / image.width, pixel % image.width);
                                let channels: Vec<f32> = (0..image.channels)
                                    .map(|k| example[config.variable_of_pixel(r, c, k)])
                                    .collect();
                                colour_of_values(&channels)
                            })
                            .collect()
                    }
                    Samples::Classes(c) => c
                        [example * layout.variables()..(example + 1) * layout.variables()]
                        .iter()
                        .map(|&c| {
                            colour_of_class(
                                config.legend.get(c as usize).map_or("", String::as_str),
                                c,
                            )
                        })
                        .collect(),
                }
            };
            let count = match samples {
                Samples::Values(v) => v.len(),
                Samples::Classes(c) => c.len(),
            } / layout.variables();
            write_png(path, &grid(image, count, pixels))
        }
    }
}

/// A channel value in [−1, 1] as a byte.
fn byte(x: f32) -> u8 {
    ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Grey for one channel, RGB for three, RGBA for four (alpha composited over a mid grey by the viewer).
fn colour_of_values(channels: &[f32]) -> [u8; 4] {
    match *channels {
        [g] => [byte(g), byte(g), byte(g), 255],
        [r, g, b] => [byte(r), byte(g), byte(b), 255],
        [r, g, b, a] => [byte(r), byte(g), byte(b), byte(a)],
        _ => [255, 0, 255, 255],
    }
}

/// A map tile's colour from what its legend entry says it is; classes the palette does not know get a colour
/// from their index.
fn colour_of_class(legend: &str, class: u32) -> [u8; 4] {
    let name = legend.to_lowercase();
    let known: [(&str, [u8; 4]); 9] = [
        ("outside", [16, 16, 16, 255]),
        ("wall", [110, 84, 60, 255]),
        ("floor", [200, 200, 190, 255]),
        ("door", [230, 150, 40, 255]),
        ("water", [50, 110, 220, 255]),
        ("lava", [220, 50, 30, 255]),
        ("tree", [40, 150, 60, 255]),
        ("stair", [250, 240, 80, 255]),
        ("feature", [170, 90, 200, 255]),
    ];
    known
        .iter()
        .find(|(key, _)| name.contains(key))
        .map_or_else(
            || {
                let h = class.wrapping_mul(2_654_435_761);
                [(h >> 24) as u8, (h >> 16) as u8, (h >> 8) as u8, 255]
            },
            |(_, c)| *c,
        )
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
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, sheet.width as u32, sheet.height as u32);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(&sheet.rgba)
            .map_err(std::io::Error::other)?;
    }
    write_atomic(path, &bytes)
}
