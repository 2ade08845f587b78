//! Whether the seams of inpainting and of mosaics show: the 2 × 2 class patterns where generated cells meet known
//! ones, against the held-out data's patterns, beside the same measure where they do not meet (issue 32). The
//! patterns and the Jensen–Shannon divergence are [`quality`](mod@crate::measure::quality)'s.

use std::collections::HashMap;

use crate::error::{BfnError, Result};
use crate::flow::{Constraints, Known, SamplingMethod};
use crate::measure::quality::{histogram, jensen_shannon, square_pattern};
use crate::measure::sample_mosaic::sample_mosaic;
use crate::measure::sample_sheet::{sample_constrained, sample_with};
use crate::model::content::{example_count, example_variables};
use crate::model::mosaic::MapShape;
use crate::model::{ModelConfig, Samples, Weights};

/// The sampling runs measured: `count` maps of `steps` steps of `method` from `seed`.
#[derive(Clone, Copy)]
pub struct SeamRun<'a> {
    /// The model.
    pub weights: &'a Weights,
    /// Maps drawn.
    pub count: usize,
    /// Sampling steps.
    pub steps: u32,
    /// The run's seed: the same as `bfn-train sample --seed`, so that its `.npy` files reproduce the maps.
    pub seed: u64,
    /// The sampler.
    pub method: SamplingMethod,
}

/// Two sets of 2 × 2 patterns scored against the reference's: the divergences, and the patterns in each set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeamScores {
    /// JS (bits) of the set where generated cells meet known or other windows' cells.
    pub seam: f64,
    /// JS (bits) of the set it is compared with.
    pub baseline: f64,
    /// Patterns in each set.
    pub patterns: usize,
}

fn classes(samples: &Samples) -> Result<&[u32]> {
    match samples {
        Samples::Classes(c) => Ok(c),
        Samples::Values(_) => Err(BfnError::Config(
            "seams are measured on maps of classes (2 × 2 class patterns)".into(),
        )),
    }
}

/// Example `example` of `samples` as a row-major map of classes.
fn map(config: &ModelConfig, samples: &Samples, example: usize) -> Result<Vec<u32>> {
    Ok(example_variables(config, classes(samples)?, example).collect())
}

/// The histogram of every 2 × 2 pattern of `reference`'s maps: what the data look like.
pub fn reference_patterns(
    config: &ModelConfig,
    reference: &Samples,
) -> Result<HashMap<Vec<u32>, f64>> {
    let image = config.pixel_layout();
    let mut patterns = Vec::new();
    for example in 0..example_count(config, reference) {
        let cells = map(config, reference, example)?;
        let at = |r: usize, c: usize| cells[r * image.width + c];
        for r in 0..image.height - 1 {
            for c in 0..image.width - 1 {
                patterns.push(square_pattern(at, r, c));
            }
        }
    }
    Ok(histogram(patterns))
}

/// The right halves of held-out maps inpainted from their left halves, scored by the 2 × 2 patterns that straddle
/// the boundary, beside the same patterns of unconditional samples and of the maps' own right halves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InpaintingScores {
    /// Patterns in each set.
    pub patterns: usize,
    /// JS (bits) against the reference: inpainted, unconditional, the true completions.
    pub divergence: [f64; 3],
    /// The share of patterns that occur nowhere in the reference, in the same order.
    pub unseen: [f64; 3],
}

/// Inpaints the right half of `run.count` held-out maps `completions` times each given their left half
/// (hard-known), and scores the patterns that straddle the boundary (top-left column width/2 − 1) against
/// `reference`, beside the same patterns of as many unconditional samples of the same seed and of the held-out
/// maps themselves. The inpainting run is `bfn-train sample --known` of the halves (each map its own constraints,
/// repeated for its completions); the unconditional one is plain `bfn-train sample`.
pub fn half_inpainting(
    run: SeamRun,
    completions: usize,
    held_out: &Samples,
    reference: &HashMap<Vec<u32>, f64>,
) -> Result<InpaintingScores> {
    let config = run.weights.config();
    let image = config.pixel_layout();
    let count = example_count(config, held_out).min(run.count);
    let half = image.width / 2;
    let mut known = Vec::new();
    for example in 0..count {
        let cells = map(config, held_out, example)?;
        for _ in 0..completions {
            known.extend(
                cells
                    .iter()
                    .enumerate()
                    .map(|(v, &value)| (v % image.width < half).then_some(Known::held(value))),
            );
        }
    }
    let drawn = count * completions;
    let halves = config.place_constraints(
        &Constraints {
            known,
            allowed: Vec::new(),
        },
        drawn,
    )?;
    let inpainted =
        sample_constrained(run.weights, drawn, run.steps, run.seed, run.method, &halves)?;
    let unconditional = sample_with(run.weights, drawn, run.steps, run.seed, run.method)?;
    let straddling = |samples: &Samples, maps: usize| -> Result<Vec<Vec<u32>>> {
        let mut patterns = Vec::new();
        for example in 0..maps {
            let cells = map(config, samples, example)?;
            let at = |r: usize, c: usize| cells[r * image.width + c];
            patterns.extend((0..image.height - 1).map(|r| square_pattern(at, r, half - 1)));
        }
        Ok(patterns)
    };
    let sets = [
        straddling(&inpainted, drawn)?,
        straddling(&unconditional, drawn)?,
        straddling(held_out, count)?,
    ];
    let unseen = |set: &[Vec<u32>]| {
        set.iter().filter(|p| !reference.contains_key(*p)).count() as f64 / set.len().max(1) as f64
    };
    Ok(InpaintingScores {
        patterns: sets[0].len(),
        divergence: sets
            .each_ref()
            .map(|set| jensen_shannon(&histogram(set.iter().cloned()), reference)),
        unseen: sets.each_ref().map(|set| unseen(set)),
    })
}

/// `picked` of `items`, evenly spread: item ⌊i·len/picked⌋ for i = 0, 1, …, so that the subsample is the same in
/// every implementation and spreads over every map.
fn spread<T: Clone>(items: &[T], picked: usize) -> Vec<T> {
    (0..picked)
        .map(|i| items[i * items.len() / picked].clone())
        .collect()
}

/// A mosaic's seams measured two ways ([`mosaic_seams`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MosaicSeams {
    /// 2 × 2 patterns whose cells more than one window generated, against those one window generated.
    pub patterns: SeamScores,
    /// The patterns of canvas-sized crops that straddle windows, against those of crops that are a window.
    pub crops: SeamScores,
}

/// Draws `count` maps of `shape` window by window ([`sample_mosaic`], as `bfn-train sample --size` draws for a GPT;
/// a U-Net is driven the same way here, though `sample --size` draws its maps in one pass) and scores them against
/// `reference` two ways, each a set where the seams are against a set where they are not:
/// - **patterns**: the 2 × 2 patterns whose four cells more than one window generated (across seams) against those
///   one window generated (inside). This isolates the seams themselves: each pattern across one is a place where
///   a run's cells meet another's.
/// - **crops**: canvas-sized crops of the map every half stride; the crops that are a window (all their cells were
///   in one run's canvas, known or drawn) against those that straddle windows, whose cells no run saw together.
///   This asks whether a canvas anywhere on the map looks like one the model drew.
///
/// A tileable map's patterns and crops include those across its wrap. The larger set of each pair is subsampled
/// evenly (item ⌊i·len/m⌋) to the smaller's size m, since the divergence of a histogram of fewer patterns is
/// biased upwards, and equal sizes give both sets the same bias.
pub fn mosaic_seams(
    run: SeamRun,
    shape: MapShape,
    reference: &HashMap<Vec<u32>, f64>,
) -> Result<MosaicSeams> {
    let mosaic = sample_mosaic(
        run.weights,
        run.count,
        run.steps,
        run.seed,
        run.method,
        shape,
        &Constraints::<u32>::default(),
    )?;
    let maps = mosaic.finish()?;
    let cells = classes(&maps)?;
    let MapShape {
        width,
        height,
        tileable,
    } = shape;
    let wrap = usize::from(tileable);
    let (mut across, mut inside) = (Vec::new(), Vec::new());
    for example in 0..run.count {
        let cells = &cells[example * width * height..][..width * height];
        for r in 0..height - 1 + wrap {
            for c in 0..width - 1 + wrap {
                let at = |r: usize, c: usize| cells[(r % height) * width + c % width];
                let owner = |r: usize, c: usize| mosaic.owner(c % width, r % height);
                let owners = [
                    owner(r, c),
                    owner(r, c + 1),
                    owner(r + 1, c),
                    owner(r + 1, c + 1),
                ];
                let pattern = square_pattern(at, r, c);
                if owners.iter().all(|&o| o == owners[0]) {
                    inside.push(pattern);
                } else {
                    across.push(pattern);
                }
            }
        }
    }
    let canvas = run.weights.config().pixel_layout();
    let step = (mosaic.stride / 2).max(1);
    let positions = |length: usize, size: usize| -> Vec<usize> {
        let last = if tileable { length - 1 } else { length - size };
        (0..=last).step_by(step).collect()
    };
    let windows: Vec<(usize, usize)> = mosaic.windows().iter().map(|w| (w.x, w.y)).collect();
    let (mut straddling, mut aligned) = (Vec::new(), Vec::new());
    for example in 0..run.count {
        let cells = &cells[example * width * height..][..width * height];
        for &y in &positions(height, canvas.height) {
            for &x in &positions(width, canvas.width) {
                let at = |r: usize, c: usize| cells[((y + r) % height) * width + (x + c) % width];
                let set = if windows.contains(&(x, y)) {
                    &mut aligned
                } else {
                    &mut straddling
                };
                for r in 0..canvas.height - 1 {
                    for c in 0..canvas.width - 1 {
                        set.push(square_pattern(at, r, c));
                    }
                }
            }
        }
    }
    Ok(MosaicSeams {
        patterns: against(&across, &inside, reference)?,
        crops: against(&straddling, &aligned, reference)?,
    })
}

/// `seam` against `baseline`, each scored against `reference` at the smaller set's size.
fn against(
    seam: &[Vec<u32>],
    baseline: &[Vec<u32>],
    reference: &HashMap<Vec<u32>, f64>,
) -> Result<SeamScores> {
    let patterns = seam.len().min(baseline.len());
    if patterns == 0 {
        return Err(BfnError::Config(
            "a map of one window has no seams to measure".into(),
        ));
    }
    let score = |set: &[Vec<u32>]| jensen_shannon(&histogram(spread(set, patterns)), reference);
    Ok(SeamScores {
        seam: score(seam),
        baseline: score(baseline),
        patterns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_even_spread_takes_every_kth_and_all_when_equal() {
        let items: Vec<u32> = (0..10).collect();
        assert_eq!(spread(&items, 4), [0, 2, 5, 7]);
        assert_eq!(spread(&items, 10), items);
    }
}
