//! Watch the Bayesian flow of all three data kinds, with known-answer networks instead of trained ones.
//!
//! Until the trainer and the shipped models arrive, this is what the crate can show: the sampler, the Bayesian
//! updates and the random generator at work. Each section prints θ as it sharpens over the steps.
//!
//! - a name (discrete, 27 classes) from a network that knows the name;
//! - a dungeon map (discrete, 4 tile classes) from the ideal network for maps whose tiles are drawn independently
//!   with fixed frequencies: the map is random, its tile frequencies are the network's;
//! - a sprite (discretised, 17 grey levels) from a network that knows the sprite;
//! - a terrain profile (continuous) from a network that knows the heights.
//!
//! ```text
//! cargo run --release --example flow [-- --seed S --steps N]
//! ```

use bevy_bfn::Result;
use bevy_bfn::flow::discretised_normal::{bin_centre, bin_of};
use bevy_bfn::flow::oracle::{CategoricalPosterior, Oracle};
use bevy_bfn::flow::{Continuous, Discrete, Discretised, InputParams, Sampler, Shape};

const NAME: &str = "bayesian flow";
const TILES: [char; 4] = ['.', '#', '~', '+'];
const TILE_FREQUENCIES: [f32; 4] = [0.6, 0.3, 0.07, 0.03];
const SPRITE: [&str; 8] = [
    "..####..", ".#....#.", "#..##..#", "#.#..#.#", "#.#..#.#", "#..##..#", ".#....#.", "..####..",
];
const SHADES: [char; 5] = [' ', '.', ':', 'o', '@'];

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (seed, steps) = arguments()?;
    println!(
        "bevy_bfn flow demo: n = {steps} steps, seed {seed} (known-answer networks; no trained model yet)\n"
    );
    name(seed, steps)?;
    dungeon(seed, steps)?;
    sprite(seed, steps)?;
    terrain(seed, steps)?;
    Ok(())
}

fn arguments() -> std::result::Result<(u64, u32), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str, default: u64| -> std::result::Result<u64, String> {
        match args.iter().position(|a| a == flag) {
            None => Ok(default),
            Some(i) => args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} needs a non-negative integer")),
        }
    };
    let steps =
        u32::try_from(value("--steps", 20)?).map_err(|_| "--steps is too large".to_owned())?;
    Ok((value("--seed", 1)?, steps))
}

/// The steps at which to print θ: the prior, a few along the way, the last.
fn shown(step: u32, steps: u32) -> bool {
    step == 0
        || [1, 2, 3, 4]
            .iter()
            .any(|quarter| step == quarter * steps / 4)
}

/// The most probable class of each variable, or `None` where θ is still unsure (below 1/2).
fn beliefs(theta: &InputParams<f32>) -> Vec<Option<usize>> {
    theta
        .values()
        .chunks_exact(theta.width())
        .map(|p| {
            let (best, &q) = p
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .expect("K ≥ 2");
            (q >= 0.5).then_some(best)
        })
        .collect()
}

fn letter(class: usize) -> char {
    if class == 0 {
        ' '
    } else {
        char::from(b'a' + class as u8 - 1)
    }
}

fn name(seed: u64, steps: u32) -> Result<()> {
    println!(
        "A name (discrete, 27 classes, β₁ = 3): θ's most probable letter, '?' while below 1/2"
    );
    let kind = Discrete::new(3.0, 27)?;
    let data: Vec<u32> = NAME
        .bytes()
        .map(|b| {
            if b == b' ' {
                0
            } else {
                u32::from(b - b'a' + 1)
            }
        })
        .collect();
    let sampler = Sampler::new(kind, steps, seed)?;
    let sample = sampler.sample_observed(
        &mut Oracle { kind, data: &data },
        Shape::new(1, data.len())?,
        |step, theta| {
            if shown(step, steps) {
                let text: String = beliefs(theta)
                    .into_iter()
                    .map(|b| b.map_or('?', letter))
                    .collect();
                println!("  step {step:>5}: \"{text}\"");
            }
        },
    )?;
    let text: String = sample.iter().map(|&c| letter(c as usize)).collect();
    println!("  sample    : \"{text}\"\n");
    Ok(())
}

fn dungeon(seed: u64, steps: u32) -> Result<()> {
    let (width, height) = (24, 6);
    println!(
        "A dungeon map (discrete, 4 tiles {TILES:?} with frequencies {TILE_FREQUENCIES:?}, β₁ = 6)"
    );
    let kind = Discrete::new(6.0, 4)?;
    let mut network = CategoricalPosterior::new(&TILE_FREQUENCIES)?;
    let mut frames = Vec::new();
    let sample = Sampler::new(kind, steps, seed)?.sample_observed(
        &mut network,
        Shape::new(1, width * height)?,
        |step, theta| {
            if shown(step, steps) {
                let tiles: Vec<char> = beliefs(theta)
                    .into_iter()
                    .map(|b| b.map_or('?', |t| TILES[t]))
                    .collect();
                frames.push((step, tiles));
            }
        },
    )?;
    for row in 0..height {
        let line: Vec<String> = frames
            .iter()
            .map(|(_, tiles)| tiles[row * width..(row + 1) * width].iter().collect())
            .collect();
        println!("  {}", line.join("  "));
    }
    let labels: Vec<String> = frames
        .iter()
        .map(|(step, _)| format!("{:<width$}", format!("step {step}")))
        .collect();
    println!("  {}", labels.join("  "));
    let mut counts = [0usize; 4];
    sample.iter().for_each(|&t| counts[t as usize] += 1);
    let observed: Vec<String> = counts
        .iter()
        .map(|&c| format!("{:.2}", c as f32 / sample.len() as f32))
        .collect();
    println!("  sampled tile frequencies: [{}]\n", observed.join(", "));
    Ok(())
}

fn sprite(seed: u64, steps: u32) -> Result<()> {
    const LEVELS: u32 = 17;
    println!(
        "A sprite (discretised, {LEVELS} levels, σ₁ = 0.02): the input mean μ, '@' the highest level"
    );
    let kind = Discretised::new(0.02, LEVELS)?;
    let data: Vec<f32> = SPRITE
        .iter()
        .flat_map(|row| {
            row.chars()
                .map(|c| bin_centre(if c == '#' { LEVELS - 1 } else { 2 }, LEVELS))
        })
        .collect();
    let shade = |x: f32| SHADES[(bin_of(x, SHADES.len() as u32)) as usize];
    let mut frames = Vec::new();
    let sample = Sampler::new(kind, steps, seed)?.sample_observed(
        &mut Oracle { kind, data: &data },
        Shape::new(1, 64)?,
        |step, theta| {
            if shown(step, steps) {
                frames.push((
                    step,
                    theta
                        .values()
                        .iter()
                        .map(|&mu| shade(mu))
                        .collect::<Vec<char>>(),
                ));
            }
        },
    )?;
    frames.push((steps + 1, sample.iter().map(|&x| shade(x)).collect()));
    for row in 0..8 {
        let line: Vec<String> = frames
            .iter()
            .map(|(_, px)| px[row * 8..(row + 1) * 8].iter().collect())
            .collect();
        println!("  {}", line.join("   "));
    }
    let labels: Vec<String> = frames
        .iter()
        .map(|&(step, _)| {
            if step > steps {
                "sample  ".to_owned()
            } else {
                format!("{:<8}", format!("step {step}"))
            }
        })
        .collect();
    println!("  {}\n", labels.join("   "));
    Ok(())
}

fn terrain(seed: u64, steps: u32) -> Result<()> {
    println!("A terrain profile (continuous, σ₁ = 0.001): how far μ still is from the heights");
    let kind = Continuous::new(0.001)?;
    let heights: Vec<f32> = (0..64)
        .map(|i| 0.6 * (i as f32 * 0.2).sin() + 0.3 * (i as f32 * 0.05).cos())
        .collect();
    let sample = Sampler::new(kind, steps, seed)?.sample_observed(
        &mut Oracle {
            kind,
            data: &heights,
        },
        Shape::new(1, 64)?,
        |step, theta| {
            if shown(step, steps) {
                let error = theta
                    .values()
                    .iter()
                    .zip(&heights)
                    .map(|(m, x)| (m - x).abs())
                    .fold(0.0, f32::max);
                println!("  step {step:>5}: max |μ − x| = {error:.5}");
            }
        },
    )?;
    let error = sample
        .iter()
        .zip(&heights)
        .map(|(s, x)| (s - x).abs())
        .fold(0.0, f32::max);
    println!("  sample    : max |x̂ − x| = {error:.2e}");
    Ok(())
}
