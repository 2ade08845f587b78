//! How close samples are to held-out data, for comparing samplers and step counts (issue 31's `quality`): the
//! statistics a level designer would see go wrong first, each a distance between the samples' distribution and
//! the data's, 0 when they agree.
//!
//! - Tile maps: the Jensen–Shannon divergence of their 2 × 2 class patterns (walls meeting floors, doors in walls),
//!   and of their class frequencies.
//! - Sequences: the same on bigrams, and on letter frequencies.
//! - Images and heights: the Fréchet distance between Gaussians fitted to the raw value vectors (FID without the
//!   Inception network: there is none for 16 × 16 tiles), and the divergence of the value histograms.
//!
//! Everything is read in the data's pixel layout ([`ModelConfig::pixel_layout`]), never in the network's patches.

use std::collections::HashMap;
use std::hash::Hash;

use candle_core::{DType, Device, Tensor};

use crate::error::{BfnError, Result};
use crate::model::content::example_count;
use crate::model::{ModelConfig, Samples};

/// Bins of the value histograms over [−1, 1].
const VALUE_BINS: usize = 64;
/// The most iterations of the Newton–Schulz square root (it converges quadratically once close, and stops then).
const SQRT_ITERATIONS: usize = 60;
/// The ridge added to a matrix (scaled to unit norm) before its square root is taken.
const RIDGE: f64 = 1e-12;

/// How far samples are from reference data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quality {
    /// Jensen–Shannon divergence (bits, 0 to 1) of 2 × 2 patterns (maps) or bigrams (sequences); `None` for values.
    pub patterns: Option<f64>,
    /// Jensen–Shannon divergence (bits) of the class frequencies, or of the value histograms.
    pub frequencies: f64,
    /// Fréchet distance of the raw value vectors; `None` for classes.
    pub frechet: Option<f64>,
}

/// The distances between `samples` and `reference`, both of a model of `config`.
pub fn quality(config: &ModelConfig, samples: &Samples, reference: &Samples) -> Result<Quality> {
    let examples = |s: &Samples| -> Result<Vec<Vec<f64>>> {
        let count = example_count(config, s);
        if count == 0 {
            return Err(BfnError::Config("no examples to score".into()));
        }
        Ok((0..count).map(|e| pixel_values(config, s, e)).collect())
    };
    let (a, b) = (examples(samples)?, examples(reference)?);
    let image = config.pixel_layout();
    Ok(match (samples, reference) {
        (Samples::Classes(_), Samples::Classes(_)) => {
            let patterns = |examples: &[Vec<f64>]| {
                histogram(examples.iter().flat_map(|e| {
                    let at = |r: usize, c: usize| e[r * image.width + c] as u32;
                    if image.height == 1 {
                        (1..image.width)
                            .map(|c| vec![at(0, c - 1), at(0, c)])
                            .collect::<Vec<_>>()
                    } else {
                        (1..image.height)
                            .flat_map(|r| (1..image.width).map(move |c| (r, c)))
                            .map(|(r, c)| square_pattern(at, r - 1, c - 1))
                            .collect()
                    }
                }))
            };
            let classes =
                |examples: &[Vec<f64>]| histogram(examples.iter().flatten().map(|&c| c as u32));
            Quality {
                patterns: Some(jensen_shannon(&patterns(&a), &patterns(&b))),
                frequencies: jensen_shannon(&classes(&a), &classes(&b)),
                frechet: None,
            }
        }
        (Samples::Values(_), Samples::Values(_)) => {
            let levels = |examples: &[Vec<f64>]| {
                histogram(examples.iter().flatten().map(|&v| {
                    (((v.clamp(-1.0, 1.0) + 1.0) / 2.0 * VALUE_BINS as f64) as usize)
                        .min(VALUE_BINS - 1)
                }))
            };
            Quality {
                patterns: None,
                frequencies: jensen_shannon(&levels(&a), &levels(&b)),
                frechet: Some(frechet_distance(&a, &b)?),
            }
        }
        _ => {
            return Err(BfnError::Config(
                "samples and reference data are of different kinds".into(),
            ));
        }
    })
}

/// Example `example`'s variables in pixel order (row, column, channel), as numbers: class indices or values.
pub fn pixel_values(config: &ModelConfig, samples: &Samples, example: usize) -> Vec<f64> {
    let image = config.pixel_layout();
    let start = example * config.layout.variables();
    let mut values = Vec::with_capacity(image.height * image.width * image.channels);
    for row in 0..image.height {
        for column in 0..image.width {
            for channel in 0..image.channels {
                let v = start + config.variable_of_pixel(row, column, channel);
                values.push(match samples {
                    Samples::Classes(c) => f64::from(c[v]),
                    Samples::Values(x) => f64::from(x[v]),
                });
            }
        }
    }
    values
}

/// The 2 × 2 pattern of classes whose top-left cell is (`row`, `column`), read through `at(row, column)`: the unit
/// the pattern measures count (here, and across a mosaic's seams).
pub fn square_pattern(at: impl Fn(usize, usize) -> u32, row: usize, column: usize) -> Vec<u32> {
    vec![
        at(row, column),
        at(row, column + 1),
        at(row + 1, column),
        at(row + 1, column + 1),
    ]
}

/// Relative frequencies of `items`.
pub fn histogram<T: Eq + Hash>(items: impl IntoIterator<Item = T>) -> HashMap<T, f64> {
    let mut counts = HashMap::new();
    let mut total = 0.0;
    for item in items {
        *counts.entry(item).or_insert(0.0) += 1.0;
        total += 1.0;
    }
    counts.values_mut().for_each(|c| *c /= total);
    counts
}

/// JS(P, Q) = ½KL(P‖M) + ½KL(Q‖M) with M = (P + Q)/2, in bits: 0 for equal distributions, 1 for disjoint ones,
/// and finite where one gives zero mass to what the other has (unlike KL), which samples often do.
pub fn jensen_shannon<T: Eq + Hash>(p: &HashMap<T, f64>, q: &HashMap<T, f64>) -> f64 {
    let half_kl = |a: &HashMap<T, f64>, b: &HashMap<T, f64>| -> f64 {
        a.iter()
            .filter(|(_, pa)| **pa > 0.0)
            .map(|(key, pa)| {
                let m = (pa + b.get(key).copied().unwrap_or(0.0)) / 2.0;
                0.5 * pa * (pa / m).log2()
            })
            .sum()
    };
    (half_kl(p, q) + half_kl(q, p)).max(0.0)
}

/// ‖μ_a − μ_b‖² + tr Σ_a + tr Σ_b − 2 tr (Σ_a Σ_b)^½ between Gaussians fitted to two sets of vectors.
pub fn frechet_distance(a: &[Vec<f64>], b: &[Vec<f64>]) -> Result<f64> {
    let candle = |e: candle_core::Error| BfnError::Denoiser(e.to_string());
    let moments = |x: &[Vec<f64>]| -> Result<(Tensor, Tensor)> {
        let (n, d) = (x.len(), x.first().map_or(0, Vec::len));
        if n < 2 || x.iter().any(|v| v.len() != d) {
            return Err(BfnError::Config(
                "the Fréchet distance needs at least two vectors of one length".into(),
            ));
        }
        let data = Tensor::from_iter(x.iter().flatten().copied(), &Device::Cpu)
            .and_then(|t| t.reshape((n, d)))
            .map_err(candle)?;
        let mean = data.mean_keepdim(0).map_err(candle)?;
        let centred = data.broadcast_sub(&mean).map_err(candle)?;
        let covariance = centred
            .t()
            .and_then(|t| t.matmul(&centred))
            .and_then(|c| c / (n - 1) as f64)
            .map_err(candle)?;
        Ok((mean, covariance))
    };
    let ((mean_a, cov_a), (mean_b, cov_b)) = (moments(a)?, moments(b)?);
    if mean_a.dims() != mean_b.dims() {
        return Err(BfnError::Config(
            "the Fréchet distance compares vectors of one length".into(),
        ));
    }
    let scalar = |t: Tensor| t.to_scalar::<f64>().map_err(candle);
    let identity =
        Tensor::eye(cov_a.dim(0).map_err(candle)?, DType::F64, &Device::Cpu).map_err(candle)?;
    let trace = |t: &Tensor| scalar((t * &identity).and_then(|d| d.sum_all()).map_err(candle)?);
    let mean_term = scalar(
        (&mean_a - &mean_b)
            .and_then(|d| d.sqr()?.sum_all())
            .map_err(candle)?,
    )?;
    // tr (Σ_a Σ_b)^½ = tr (Σ_a^½ Σ_b Σ_a^½)^½: both roots are of symmetric positive semi-definite matrices, on
    // which the iteration is stable (on the product itself, which is not symmetric, rounding makes it diverge
    // once the covariances are singular, as they are with fewer samples than dimensions).
    let root_a = square_root(&cov_a).map_err(candle)?;
    let inner = root_a
        .matmul(&cov_b)
        .and_then(|m| m.matmul(&root_a))
        .and_then(|m| (&m + m.t()?)? * 0.5)
        .map_err(candle)?;
    let root = square_root(&inner).map_err(candle)?;
    Ok(mean_term + trace(&cov_a)? + trace(&cov_b)? - 2.0 * trace(&root)?)
}

/// The principal square root of a symmetric positive semi-definite matrix (a covariance), by the coupled
/// Newton–Schulz iteration on the matrix scaled to unit Frobenius norm, which puts its eigenvalues in [0, 1]:
/// matrix products only, so candle's matmul does the work, and no eigendecomposition is needed.
fn square_root(a: &Tensor) -> candle_core::Result<Tensor> {
    let n = a.dim(0)?;
    let norm = a.sqr()?.sum_all()?.sqrt()?.to_scalar::<f64>()?;
    if norm == 0.0 {
        return a.zeros_like();
    }
    let identity = Tensor::eye(n, DType::F64, a.device())?;
    let three = (&identity * 3.0)?;
    // Z tends to A^(−½), which a zero eigenvalue (a covariance of fewer samples than dimensions) sends to
    // infinity: a ridge of RIDGE·‖A‖ keeps it finite, and moves each root by at most √RIDGE·‖A‖^½.
    let scaled = ((a / norm)? + (&identity * RIDGE)?)?;
    let (mut y, mut z) = (scaled, identity.clone());
    for _ in 0..SQRT_ITERATIONS {
        let t = ((&three - z.matmul(&y)?)? * 0.5)?;
        // Converged once the correction is the identity: the rest would only spend products.
        let converged = (&t - &identity)?.abs()?.max_all()?.to_scalar::<f64>()? < 1e-13;
        (y, z) = (y.matmul(&t)?, t.matmul(&z)?);
        if converged {
            break;
        }
    }
    y * norm.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jensen_shannon_is_zero_for_equal_and_one_for_disjoint_distributions() {
        let p = histogram([1, 1, 2, 3]);
        assert!(jensen_shannon(&p, &p).abs() < 1e-12);
        let q = histogram([4, 5]);
        assert!((jensen_shannon(&p, &q) - 1.0).abs() < 1e-12);
        // P = (½, ½), Q = (1, 0): ½·[½log₂(½/¾) + ½log₂(½/¼)] + ½·log₂(1/¾).
        let (p, q) = (histogram([0, 1]), histogram([0]));
        let expected =
            0.5 * (0.5 * (0.5f64 / 0.75).log2() + 0.5 * 2f64.log2()) + 0.5 * (1.0f64 / 0.75).log2();
        assert!((jensen_shannon(&p, &q) - expected).abs() < 1e-12);
    }

    #[test]
    fn frechet_distance_of_gaussians_with_known_moments() {
        // Four points each, with diagonal covariances: a about (0, 0), b about (1, 0), x spreads s = 1 and u = 2,
        // the same y spread t: σ² = 2s²/3, 2u²/3 and 2t²/3, so FD = 1 + (2/3)(s − u)² = 5/3.
        let t = 0.5;
        let a = vec![vec![1.0, 0.0], vec![-1.0, 0.0], vec![0.0, t], vec![0.0, -t]];
        let b = vec![vec![3.0, 0.0], vec![-1.0, 0.0], vec![1.0, t], vec![1.0, -t]];
        let fd = frechet_distance(&a, &b).unwrap();
        assert!((fd - 5.0 / 3.0).abs() < 1e-9, "{fd}");
        assert!(frechet_distance(&a, &a).unwrap().abs() < 1e-9);
        assert!(frechet_distance(&a[..1], &b).is_err());
    }

    /// On a shipped model's own configuration: maps equal to the reference score 0; maps of one tile against
    /// varied ones score worse on patterns and frequencies.
    #[test]
    fn identical_maps_score_zero_and_uniform_maps_do_not() {
        let weights = crate::model::Weights::load("assets/models/dungeon.safetensors").unwrap();
        let config = weights.config();
        let variables = config.layout.variables();
        let varied = Samples::Classes(
            (0..4 * variables as u32)
                .map(|v| (v * 7 + v / 5) % 9)
                .collect(),
        );
        let same = quality(config, &varied, &varied).unwrap();
        assert_eq!(same.patterns, Some(0.0));
        assert!(same.frequencies.abs() < 1e-12 && same.frechet.is_none());
        let flat = Samples::Classes(vec![1; 4 * variables]);
        let apart = quality(config, &flat, &varied).unwrap();
        assert!(
            apart.patterns.unwrap() > 0.5 && apart.frequencies > 0.5,
            "{apart:?}"
        );
        assert!(quality(config, &Samples::Values(vec![0.0; variables]), &varied).is_err());
    }

    #[test]
    fn the_square_root_squares_back() {
        // A covariance, and a singular one (rank 1), as fewer samples than dimensions give.
        for values in [
            [[2.0f64, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]],
            [[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 0.0]],
        ] {
            let s = Tensor::new(&values, &Device::Cpu).unwrap();
            let root = square_root(&s).unwrap();
            let back = root.matmul(&root).unwrap();
            let error = (back - &s)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            assert!(error < 1e-5, "{error}");
        }
    }

    /// Fewer vectors than dimensions (singular covariances): finite, and 0 for a set against itself.
    #[test]
    fn frechet_distance_is_finite_with_fewer_samples_than_dimensions() {
        let vectors = |seed: u64| -> Vec<Vec<f64>> {
            (0..8u64)
                .map(|i| {
                    (0..64u64)
                        .map(|d| ((i * 31 + d * 17 + seed * 7) % 23) as f64 / 23.0)
                        .collect()
                })
                .collect()
        };
        let fd = frechet_distance(&vectors(1), &vectors(2)).unwrap();
        assert!(fd.is_finite() && fd > 0.0, "{fd}");
        let same = frechet_distance(&vectors(1), &vectors(1)).unwrap();
        // The ridge moves each of the 57 null directions' roots by about 10⁻⁶: 3·10⁻⁴ in all here.
        assert!(same.abs() < 1e-3 * fd, "{same} against {fd}");
    }
}
