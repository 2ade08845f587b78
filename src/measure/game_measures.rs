//! What a game needs of generated content, measured (issue 39): numbers a designer would see go wrong, each on
//! samples and on data alike, so that a model is judged against the data and not against a threshold.
//!
//! - Tile maps: whether the walkable cells (floor, doors, stairs, water) hang together — the share of maps whose
//!   walkable cells form one 4-connected region, and the mean share of walkable cells in the largest region.
//! - Images: precision and recall of samples against data by k-nearest neighbours in pixel space (Kynkäänniemi
//!   et al. 2019, k = 3): a sample is precise when it lies within some data example's k-th neighbour distance, a
//!   data example is recalled when it lies within some sample's; and the energy of neighbouring-pixel differences
//!   (speckle shows as more, blur as less).
//! - Height fields: the spread (standard deviation) of slopes and of curvature (the discrete Laplacian).
//!
//! Examples are in pixel order (row, column, channel), as the `quality` measures read them.

use crate::error::{BfnError, Result};
use crate::measure::quality::pixel_values;
use crate::model::content::example_count;
use crate::model::{KindConfig, ModelConfig, Samples};

/// The neighbours of the precision and recall manifolds (Kynkäänniemi et al. 2019).
pub const K: usize = 3;

/// What a game needs, of samples beside the same of reference data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GameQuality {
    /// Tile maps whose legend names walkable classes: `[samples, data]` each.
    Maps {
        /// The share of maps whose walkable cells form one 4-connected region.
        one_region: [f64; 2],
        /// The mean share of walkable cells in the largest region.
        largest_region: [f64; 2],
    },
    /// Images (discretised data).
    Images {
        /// The share of samples within the data's k-nearest-neighbour manifold.
        precision: f64,
        /// The share of data examples within the samples' manifold.
        recall: f64,
        /// The samples' neighbouring-pixel energy over the data's: above 1 is speckle, below 1 blur.
        energy: f64,
    },
    /// Height fields (continuous data of one channel): the samples' spread over the data's.
    Heights {
        /// Of slopes.
        slope_spread: f64,
        /// Of curvature (the discrete Laplacian).
        curvature_spread: f64,
    },
}

/// What a game needs of `samples` against `reference`, both of a model of `config`; `None` for what no measure
/// here fits (sequences, maps with nothing walkable). The examples may be of any canvas the config's layout
/// gives (a level of a U-Net dungeon model on its canvas, `ModelConfig::layout`).
pub fn game_quality(
    config: &ModelConfig,
    samples: &Samples,
    reference: &Samples,
) -> Result<Option<GameQuality>> {
    let image = config.pixel_layout();
    let examples = |s: &Samples| -> Result<Vec<Vec<f64>>> {
        let count = example_count(config, s);
        if count == 0 {
            return Err(BfnError::Config("no examples to measure".into()));
        }
        Ok((0..count).map(|e| pixel_values(config, s, e)).collect())
    };
    let (a, b) = (examples(samples)?, examples(reference)?);
    Ok(match config.kind {
        KindConfig::Discrete { .. } => {
            let walkable = walkable_classes(&config.legend);
            if image.height == 1 || !walkable.contains(&true) {
                return Ok(None);
            }
            let of =
                |maps: &[Vec<f64>]| walkable_regions(maps, image.height, image.width, &walkable);
            let ((one_a, largest_a), (one_b, largest_b)) = (of(&a), of(&b));
            Some(GameQuality::Maps {
                one_region: [one_a, one_b],
                largest_region: [largest_a, largest_b],
            })
        }
        KindConfig::Discretised { .. } => {
            let (precision, recall) = precision_recall(&a, &b, K);
            let energy =
                |e: &[Vec<f64>]| neighbour_energy(e, image.height, image.width, image.channels);
            Some(GameQuality::Images {
                precision,
                recall,
                energy: energy(&a) / energy(&b),
            })
        }
        KindConfig::Continuous { .. } if image.channels == 1 => {
            let (slope_a, curvature_a) = slope_and_curvature(&a, image.height, image.width);
            let (slope_b, curvature_b) = slope_and_curvature(&b, image.height, image.width);
            Some(GameQuality::Heights {
                slope_spread: slope_a / slope_b,
                curvature_spread: curvature_a / curvature_b,
            })
        }
        KindConfig::Continuous { .. } => None,
    })
}

/// The legend words of the classes a walker can stand on.
const WALKABLE: [&str; 4] = ["floor", "door", "stairs", "water"];

/// Which classes of `legend` are walkable: those whose name starts with floor, door, stairs or water.
pub fn walkable_classes(legend: &[String]) -> Vec<bool> {
    legend
        .iter()
        .map(|name| WALKABLE.iter().any(|w| name.starts_with(w)))
        .collect()
}

/// Connectivity of tile maps of `height` × `width` cells: (the share of maps whose walkable cells form one
/// 4-connected region, the mean share of walkable cells in the largest region). Maps without a walkable cell count
/// as one region holding them all.
pub fn walkable_regions(
    maps: &[Vec<f64>],
    height: usize,
    width: usize,
    walkable: &[bool],
) -> (f64, f64) {
    let measures = level_measures(
        maps.iter().map(|map| (map.as_slice(), height, width)),
        walkable,
        &[],
    );
    (measures.one_region, measures.largest_region)
}

/// What a game needs of whole levels, each of its own size.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LevelMeasures {
    /// The mean share of cells that are not outside the level.
    pub inside: f64,
    /// The share of levels whose walkable cells form one 4-connected region.
    pub one_region: f64,
    /// The mean share of walkable cells in the largest region (1 for a level with none).
    pub largest_region: f64,
}

/// [`LevelMeasures`] of `levels`, each (row-major classes, height, width), with the classes `walkable` can stand
/// on and those that are `outside` the level (a class beyond either list is neither).
pub fn level_measures<'a>(
    levels: impl IntoIterator<Item = (&'a [f64], usize, usize)>,
    walkable: &[bool],
    outside: &[bool],
) -> LevelMeasures {
    let class = |flags: &[bool], c: f64| flags.get(c as usize).copied().unwrap_or(false);
    let (mut count, mut sums) = (0usize, LevelMeasures::default());
    for (level, height, width) in levels {
        let open: Vec<bool> = level.iter().map(|&c| class(walkable, c)).collect();
        let sizes = region_sizes(&open, height, width);
        let total: usize = sizes.iter().sum();
        sums.one_region += f64::from(u8::from(sizes.len() <= 1));
        sums.largest_region += sizes
            .iter()
            .max()
            .map_or(1.0, |&largest| largest as f64 / total as f64);
        sums.inside += level.iter().filter(|&&c| !class(outside, c)).count() as f64
            / level.len().max(1) as f64;
        count += 1;
    }
    if count == 0 {
        return LevelMeasures::default();
    }
    let n = count as f64;
    LevelMeasures {
        inside: sums.inside / n,
        one_region: sums.one_region / n,
        largest_region: sums.largest_region / n,
    }
}

/// Which classes of `legend` are outside the level: those whose name starts with "outside".
pub fn outside_classes(legend: &[String]) -> Vec<bool> {
    legend
        .iter()
        .map(|name| name.starts_with("outside"))
        .collect()
}

/// The sizes of the 4-connected regions of `open` cells.
fn region_sizes(open: &[bool], height: usize, width: usize) -> Vec<usize> {
    let mut seen = vec![false; open.len()];
    let mut sizes = Vec::new();
    for start in 0..open.len() {
        if !open[start] || seen[start] {
            continue;
        }
        let (mut size, mut stack) = (0, vec![start]);
        seen[start] = true;
        while let Some(cell) = stack.pop() {
            size += 1;
            let (y, x) = (cell / width, cell % width);
            let neighbours = [
                (y > 0).then(|| cell - width),
                (y + 1 < height).then(|| cell + width),
                (x > 0).then(|| cell - 1),
                (x + 1 < width).then(|| cell + 1),
            ];
            for next in neighbours.into_iter().flatten() {
                if open[next] && !seen[next] {
                    seen[next] = true;
                    stack.push(next);
                }
            }
        }
        sizes.push(size);
    }
    sizes
}

/// Squared Euclidean distance.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Each example's squared distance to its k-th nearest other example of the same set.
fn kth_neighbour(set: &[Vec<f64>], k: usize) -> Vec<f64> {
    set.iter()
        .enumerate()
        .map(|(i, a)| {
            let mut d: Vec<f64> = set
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, b)| distance(a, b))
                .collect();
            d.sort_by(f64::total_cmp);
            d.get(k.saturating_sub(1)).copied().unwrap_or(f64::INFINITY)
        })
        .collect()
}

/// The share of `points` inside the k-nearest-neighbour balls of `manifold`.
fn covered(points: &[Vec<f64>], manifold: &[Vec<f64>], radii: &[f64]) -> f64 {
    if points.is_empty() {
        return 0.0;
    }
    let inside = points
        .iter()
        .filter(|p| {
            manifold
                .iter()
                .zip(radii)
                .any(|(m, &r)| distance(p, m) <= r)
        })
        .count();
    inside as f64 / points.len() as f64
}

/// (precision, recall) of `samples` against `data` with k-nearest-neighbour manifolds (Kynkäänniemi et al. 2019).
pub fn precision_recall(samples: &[Vec<f64>], data: &[Vec<f64>], k: usize) -> (f64, f64) {
    let precision = covered(samples, data, &kth_neighbour(data, k));
    let recall = covered(data, samples, &kth_neighbour(samples, k));
    (precision, recall)
}

/// The mean squared difference of horizontally and vertically neighbouring pixels, over every channel.
pub fn neighbour_energy(images: &[Vec<f64>], height: usize, width: usize, channels: usize) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for image in images {
        let at = |y: usize, x: usize, c: usize| image[(y * width + x) * channels + c];
        for y in 0..height {
            for x in 0..width {
                for c in 0..channels {
                    if x + 1 < width {
                        sum += (at(y, x + 1, c) - at(y, x, c)).powi(2);
                        count += 1;
                    }
                    if y + 1 < height {
                        sum += (at(y + 1, x, c) - at(y, x, c)).powi(2);
                        count += 1;
                    }
                }
            }
        }
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// (the standard deviation of slopes — horizontal and vertical differences — and of the discrete Laplacian at
/// the inner cells) of height fields of one channel.
pub fn slope_and_curvature(fields: &[Vec<f64>], height: usize, width: usize) -> (f64, f64) {
    let mut slopes = Vec::new();
    let mut curvatures = Vec::new();
    for field in fields {
        let at = |y: usize, x: usize| field[y * width + x];
        for y in 0..height {
            for x in 0..width {
                if x + 1 < width {
                    slopes.push(at(y, x + 1) - at(y, x));
                }
                if y + 1 < height {
                    slopes.push(at(y + 1, x) - at(y, x));
                }
                if (1..height - 1).contains(&y) && (1..width - 1).contains(&x) {
                    curvatures.push(
                        at(y - 1, x) + at(y + 1, x) + at(y, x - 1) + at(y, x + 1) - 4.0 * at(y, x),
                    );
                }
            }
        }
    }
    (spread(&slopes), spread(&curvatures))
}

/// The standard deviation.
fn spread(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_count_four_connected_walkable_cells() {
        let legend: Vec<String> = ["outside", "floor (.)", "wall", "door (+)"]
            .map(str::to_owned)
            .to_vec();
        let walkable = walkable_classes(&legend);
        assert_eq!(walkable, [false, true, false, true]);
        // 3 × 4: a room of 4 floor cells and a door joined, and a lone floor cell cut off by a wall.
        let joined = vec![1., 1., 3., 2., 1., 1., 2., 1., 0., 0., 2., 0.];
        let (one, largest) = walkable_regions(std::slice::from_ref(&joined), 3, 4, &walkable);
        assert_eq!(one, 0.0);
        assert!((largest - 5.0 / 6.0).abs() < 1e-12);
        // Diagonal neighbours are not joined.
        let diagonal = vec![1., 0., 0., 1.];
        assert_eq!(walkable_regions(&[diagonal], 2, 2, &walkable), (0.0, 0.5));
        let whole = vec![1.; 12];
        assert_eq!(walkable_regions(&[whole, joined], 3, 4, &walkable).0, 0.5);
    }

    #[test]
    fn levels_of_different_sizes_are_measured_each_on_its_own_grid() {
        let legend: Vec<String> = ["outside", "floor", "wall"].map(str::to_owned).to_vec();
        let (walkable, outside) = (walkable_classes(&legend), outside_classes(&legend));
        // 2 × 3, half outside, one floor region; 3 × 2 read on its own grid: floors at (0,0) and (2,1) apart.
        let small = [0., 0., 0., 1., 1., 2.];
        let tall = [1., 2., 2., 2., 2., 1.];
        let measures = level_measures([(&small[..], 2, 3), (&tall[..], 3, 2)], &walkable, &outside);
        assert!((measures.inside - 0.75).abs() < 1e-12, "{measures:?}");
        assert_eq!(measures.one_region, 0.5);
        assert!(
            (measures.largest_region - 0.75).abs() < 1e-12,
            "{measures:?}"
        );
    }

    #[test]
    fn precision_and_recall_see_mode_dropping_and_outliers() {
        let cluster = |centre: f64, n: usize| -> Vec<Vec<f64>> {
            (0..n)
                .map(|i| vec![centre + i as f64 * 0.01, centre])
                .collect()
        };
        let data: Vec<Vec<f64>> = cluster(0.0, 10)
            .into_iter()
            .chain(cluster(5.0, 10))
            .collect();
        // Samples of one mode only: precise, half recalled.
        let (p, r) = precision_recall(&cluster(0.0, 10), &data, 3);
        assert_eq!(p, 1.0);
        assert!((r - 0.5).abs() < 1e-12, "{r}");
        // Samples far from everything: neither.
        let (p, r) = precision_recall(&cluster(50.0, 10), &data, 3);
        assert_eq!((p, r), (0.0, 0.0));
    }

    #[test]
    fn energy_grows_with_speckle_and_curvature_with_roughness() {
        let flat = vec![vec![0.5; 16]];
        let checker: Vec<Vec<f64>> = vec![(0..16).map(|i| ((i / 4 + i % 4) % 2) as f64).collect()];
        assert_eq!(neighbour_energy(&flat, 4, 4, 1), 0.0);
        assert_eq!(neighbour_energy(&checker, 4, 4, 1), 1.0);
        let ramp: Vec<Vec<f64>> = vec![(0..16).map(|i| (i % 4) as f64).collect()];
        let (slope, curvature) = slope_and_curvature(&ramp, 4, 4);
        assert!(slope > 0.0 && curvature == 0.0, "{slope} {curvature}");
        let (_, rough) = slope_and_curvature(&checker, 4, 4);
        assert!(rough > 1.0);
    }
}
