//! A normal distribution discretised into K equal bins over [−1, 1], the end bins absorbing the tails.
//!
//! This is the output distribution of discretised data (paper §5.1) and the distribution that scores continuous
//! data at t = 1. Bin k (0-based) covers [−1 + 2k/K, −1 + 2(k+1)/K] and is represented by its centre
//! (2k + 1)/K − 1; the first bin's lower edge and the last bin's upper edge are moved to ∓∞, as the official code
//! does with `clip=True`.

use crate::flow::Real;
use crate::flow::normal::{normal_log_pdf, std_normal_cdf};

/// Below this probability the reference scores a value by the density at its bin centre times the bin width
/// instead of by its bin's probability, whose digits are lost to cancellation there.
const MIN_PROB: f64 = 1e-5;
/// The reference's `safe_log` floor.
const LOG_FLOOR: f64 = 1e-10;

/// N(mean, std²) discretised into `bins` bins.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiscretisedNormal<F> {
    /// μ of the underlying normal.
    pub mean: F,
    /// σ of the underlying normal.
    pub std: F,
    /// K.
    pub bins: u32,
}

/// The centre of bin k of K: (2k + 1)/K − 1.
pub fn bin_centre<F: Real>(k: u32, bins: u32) -> F {
    F::from_f64((2.0 * f64::from(k) + 1.0) / f64::from(bins) - 1.0)
}

/// The bin a value falls in: clamp(⌊(x/2 + ½)·K⌋, 0, K − 1).
pub fn bin_of<F: Real>(x: F, bins: u32) -> u32 {
    let k = ((x * F::from_f64(0.5) + F::from_f64(0.5)) * F::from_f64(bins.into())).floor();
    k.clamp(F::ZERO, F::from_f64(f64::from(bins - 1))).to_f64() as u32
}

/// Φ(z_hi) − Φ(z_lo), taken from the tail on the side of the interval so that probabilities far above the mean
/// do not vanish in the cancellation of two numbers near 1.
fn normal_mass<F: Real>(z_lo: F, z_hi: F) -> F {
    if z_lo > F::ZERO {
        std_normal_cdf(-z_lo) - std_normal_cdf(-z_hi)
    } else {
        std_normal_cdf(z_hi) - std_normal_cdf(z_lo)
    }
}

impl<F: Real> DiscretisedNormal<F> {
    /// p(k): the normal's mass over bin k.
    pub fn prob(&self, k: u32) -> F {
        let width = F::from_f64(2.0 / f64::from(self.bins));
        let z = |edge: u32| (width * F::from_f64(edge.into()) - F::ONE - self.mean) / self.std;
        let z_lo = if k == 0 { -F::INFINITY } else { z(k) };
        let z_hi = if k + 1 >= self.bins {
            F::INFINITY
        } else {
            z(k + 1)
        };
        normal_mass(z_lo, z_hi)
    }

    /// p(0), …, p(K − 1).
    pub fn probs(&self) -> impl Iterator<Item = F> + Clone + '_ {
        (0..self.bins).map(|k| self.prob(k))
    }

    /// Σ_k p(k)·centre(k): the mean of the discretised distribution, which the continuous-time loss compares
    /// with the data.
    pub fn mean_value(&self) -> F {
        self.probs()
            .enumerate()
            .map(|(k, p)| p * bin_centre(k as u32, self.bins))
            .sum()
    }

    /// The most likely bin (the first of equals, as `argmax` picks it).
    pub fn mode(&self) -> u32 {
        let mut best = (0, -F::INFINITY);
        for (k, p) in self.probs().enumerate() {
            if p > best.1 {
                best = (k as u32, p);
            }
        }
        best.0
    }

    /// ln p(bin of x), with the reference's fallback for improbable bins (see `MIN_PROB`).
    pub fn log_prob(&self, x: F) -> F {
        let k = bin_of(x, self.bins);
        let p = self.prob(k);
        if p < F::from_f64(MIN_PROB) {
            normal_log_pdf(bin_centre(k, self.bins), self.mean, self.std)
                + F::from_f64((2.0 / f64::from(self.bins)).ln())
        } else {
            p.max(F::from_f64(LOG_FLOOR)).ln()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_tile_the_interval_and_probabilities_sum_to_one() {
        for bins in [2, 16, 256] {
            for k in 0..bins {
                assert_eq!(bin_of(bin_centre::<f64>(k, bins), bins), k);
            }
            assert_eq!(bin_of(-5.0f64, bins), 0);
            assert_eq!(bin_of(1.0f64, bins), bins - 1);
            for (mean, std) in [(0.0, 1.0), (0.93, 0.001), (-3.0, 0.5), (0.2, 10.0)] {
                let d = DiscretisedNormal { mean, std, bins };
                let total: f64 = d.probs().sum();
                assert!((total - 1.0).abs() < 1e-12, "{bins} {mean} {std}: {total}");
            }
        }
    }

    #[test]
    fn upper_tail_bins_keep_their_relative_precision() {
        // Bin 2 of 16 is [−0.75, −0.625]: 15σ to 27.5σ above the mean, mass Φ(−15) − Φ(−27.5) ≈ Φ(−15) =
        // 3.670966e−51 (R's pnorm), which Φ(z_hi) − Φ(z_lo) = 1 − 1 would round to zero.
        let d = DiscretisedNormal {
            mean: -0.9f64,
            std: 0.01,
            bins: 16,
        };
        let p = d.prob(2);
        assert!((p / 3.670966e-51 - 1.0).abs() < 1e-6, "{p}");
    }
}
