//! A counter-based random generator keyed by (seed, step, variable index).
//!
//! Sampling draws noise for every variable at every step. A stateful generator would tie the numbers to the order
//! in which they are drawn, so a GPU (which draws them all at once, in any order) could never follow the CPU's
//! trajectory. A counter-based generator is a pure function of its key and counter: the noise of variable v at
//! step i is the same wherever and whenever it is computed, so one seed gives one trajectory on every device.
//!
//! The block function is Threefry-2×32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2,
//! 3", SC 2011; the generator JAX uses): only 32-bit additions, rotations and exclusive-ors, all of which WGSL has,
//! so the WGSL twin reproduces every bit. The key is the seed; the counter is (step · 4 + stream, index).
//!
//! Turning bits into numbers:
//! - [`uniform`](CounterRng::uniform) is (2m + 1)·2⁻²⁴ for the top 23 bits m of the first word: exact in `f32`,
//!   hence bit-identical on every device, and never 0 or 1.
//! - [`gaussian`](CounterRng::gaussian) is Box–Muller on the two words: √(−2 ln u₁)·cos(π(2u₂ − 1)). The angle is
//!   kept in (−π, π), where WGSL bounds `cos` to an absolute error of 2⁻¹¹; `log` and `sqrt` are within a few
//!   ulp. A GPU's draw therefore differs from the CPU's by at most about 1e−3·|z| + 1e−6 in `f32`, and is
//!   otherwise the same number. Since u₁ ≥ 2⁻²⁴, |z| ≤ 5.77: the tails beyond are cut (probability 8·10⁻⁹).

use crate::flow::Real;

/// Which draw of a variable at a step: each purpose has its own counters, so adding a draw never shifts another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Stream {
    /// The draw from the output distribution p_O (a class, a bin or a value).
    Output = 0,
    /// The sender noise of the Bayesian update (one per class for discrete data).
    Sender = 1,
    /// The noise of the Bayesian flow distribution p_F, used to make training inputs; in a sampling run, the noise
    /// of the few-step samplers, which move along p_F (their start at step 0, their SDE and redraw noise), and
    /// which the standard sampler never draws.
    Flow = 2,
    /// The draw of t for loss estimates.
    Time = 3,
}

/// The counter-based generator: a 64-bit seed, split into Threefry's two key words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CounterRng {
    key: [u32; 2],
}

const ROTATIONS: [u32; 8] = [13, 15, 26, 6, 17, 29, 16, 24];
const KEY_PARITY: u32 = 0x1BD1_1BDA;

/// Threefry-2×32-20: the block function, a bijection of the counter for each key.
pub fn threefry2x32(key: [u32; 2], counter: [u32; 2]) -> [u32; 2] {
    let schedule = [key[0], key[1], KEY_PARITY ^ key[0] ^ key[1]];
    let mut x0 = counter[0].wrapping_add(schedule[0]);
    let mut x1 = counter[1].wrapping_add(schedule[1]);
    for round in 0..20 {
        x0 = x0.wrapping_add(x1);
        x1 = x1.rotate_left(ROTATIONS[round % 8]) ^ x0;
        if round % 4 == 3 {
            let s = round / 4 + 1;
            x0 = x0.wrapping_add(schedule[s % 3]);
            x1 = x1
                .wrapping_add(schedule[(s + 1) % 3])
                .wrapping_add(s as u32);
        }
    }
    [x0, x1]
}

impl CounterRng {
    /// The generator for one seed.
    pub fn new(seed: u64) -> Self {
        Self {
            key: [seed as u32, (seed >> 32) as u32],
        }
    }

    /// The key words, in the order the WGSL twin takes them.
    pub fn key(&self) -> [u32; 2] {
        self.key
    }

    /// 64 random bits for (step, stream, index); `step` must be below 2³⁰ (see [`crate::flow::MAX_STEPS`]).
    pub fn bits(&self, step: u32, stream: Stream, index: u32) -> [u32; 2] {
        threefry2x32(self.key, [(step << 2) | stream as u32, index])
    }

    /// A uniform draw in (0, 1), exact in `f32`.
    pub fn uniform<F: Real>(&self, step: u32, stream: Stream, index: u32) -> F {
        bits_to_uniform(self.bits(step, stream, index)[0])
    }

    /// A standard normal draw.
    pub fn gaussian<F: Real>(&self, step: u32, stream: Stream, index: u32) -> F {
        let [a, b] = self.bits(step, stream, index);
        let radius = (F::from_f64(-2.0) * bits_to_uniform::<F>(a).ln()).sqrt();
        let angle = F::PI * (F::from_f64(2.0) * bits_to_uniform::<F>(b) - F::ONE);
        radius * angle.cos()
    }
}

/// The noise of one variable at one step: the generator with the step and the variable's index fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariableNoise {
    /// The generator.
    pub rng: CounterRng,
    /// The step (or, for Monte Carlo estimates, the draw).
    pub step: u32,
    /// The variable's index in the flattened batch.
    pub variable: u32,
}

impl VariableNoise {
    /// The variable's uniform draw on `stream`.
    pub fn uniform<F: Real>(&self, stream: Stream) -> F {
        self.rng.uniform(self.step, stream, self.variable)
    }

    /// Gaussian number `lane` of the `lanes` this variable draws on `stream` (one per class for the discrete
    /// sender): index `variable · lanes + lane`, so the variables' lanes tile the index space without overlap.
    pub fn gaussian<F: Real>(&self, stream: Stream, lane: u32, lanes: u32) -> F {
        let index = self.variable.wrapping_mul(lanes).wrapping_add(lane);
        self.rng.gaussian(self.step, stream, index)
    }
}

fn bits_to_uniform<F: Real>(bits: u32) -> F {
    F::from_f64(f64::from(((bits >> 9) << 1) | 1) * (1.0 / 16_777_216.0))
}

/// The class whose cumulative weight first exceeds `u`·Σw: a categorical draw by inversion.
///
/// The weights need not sum to one (unnormalised `exp(logit − max)` will do); a class of weight 0 is never
/// chosen, even when rounding leaves the running sum short of u·Σw (the last class of positive weight is chosen).
pub fn categorical<F: Real>(weights: impl Iterator<Item = F> + Clone, u: F) -> usize {
    let target = u * weights.clone().sum::<F>();
    let mut cumulative = F::ZERO;
    let mut last_positive = 0;
    for (k, w) in weights.enumerate() {
        if w > F::ZERO {
            cumulative += w;
            last_positive = k;
            if target < cumulative {
                return k;
            }
        }
    }
    last_positive
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors of Threefry-2×32-20 from Random123's `kat_vectors` (also in JAX's tests).
    #[test]
    fn threefry_matches_random123_known_answers() {
        assert_eq!(threefry2x32([0, 0], [0, 0]), [0x6b20_0159, 0x99ba_4efe]);
        assert_eq!(
            threefry2x32([u32::MAX, u32::MAX], [u32::MAX, u32::MAX]),
            [0x1cb9_96fc, 0xbb00_2be7]
        );
        assert_eq!(
            threefry2x32([0x1319_8a2e, 0x0370_7344], [0x243f_6a88, 0x85a3_08d3]),
            [0xc492_3a9c, 0x483d_f7a0]
        );
    }

    #[test]
    fn uniforms_are_open_interval_and_exact_in_f32() {
        assert_eq!(bits_to_uniform::<f64>(0), 2f64.powi(-24));
        assert_eq!(bits_to_uniform::<f64>(u32::MAX), 1.0 - 2f64.powi(-24));
        for bits in [0, 1, 12345, 0x8000_0000, u32::MAX] {
            let wide: f64 = bits_to_uniform(bits);
            assert_eq!(f64::from(bits_to_uniform::<f32>(bits)), wide);
        }
    }

    #[test]
    fn draws_have_the_right_moments() {
        let rng = CounterRng::new(7);
        let n = 200_000;
        let (mut s1, mut s2, mut s4, mut su) = (0.0, 0.0, 0.0, 0.0);
        for v in 0..n {
            let z: f64 = rng.gaussian(3, Stream::Sender, v);
            s1 += z;
            s2 += z * z;
            s4 += z * z * z * z;
            su += rng.uniform::<f64>(3, Stream::Output, v);
        }
        let n = f64::from(n);
        // Standard errors: mean 1/√n, second moment √2/√n, fourth √96/√n; 5σ bounds.
        assert!((s1 / n).abs() < 5.0 / n.sqrt(), "mean {}", s1 / n);
        assert!(
            (s2 / n - 1.0).abs() < 5.0 * 2f64.sqrt() / n.sqrt(),
            "var {}",
            s2 / n
        );
        assert!(
            (s4 / n - 3.0).abs() < 5.0 * 96f64.sqrt() / n.sqrt(),
            "kurtosis {}",
            s4 / n
        );
        assert!((su / n - 0.5).abs() < 5.0 * (1.0f64 / 12.0).sqrt() / n.sqrt());
    }

    #[test]
    fn streams_steps_and_seeds_are_independent_counters() {
        let rng = CounterRng::new(1);
        let base = rng.bits(5, Stream::Output, 9);
        assert_ne!(base, rng.bits(5, Stream::Sender, 9));
        assert_ne!(base, rng.bits(6, Stream::Output, 9));
        assert_ne!(base, rng.bits(5, Stream::Output, 10));
        assert_ne!(base, CounterRng::new(2).bits(5, Stream::Output, 9));
        assert_eq!(base, CounterRng::new(1).bits(5, Stream::Output, 9));
    }

    #[test]
    fn categorical_inverts_the_cumulative_distribution() {
        let p = [0.0, 0.25, 0.0, 0.75, 0.0];
        let draw = |u| categorical(p.iter().copied(), u);
        assert_eq!(draw(0.1), 1);
        assert_eq!(draw(0.2499), 1);
        assert_eq!(draw(0.25), 3);
        assert_eq!(
            draw(1.0),
            3,
            "rounding past the end falls on the last positive class"
        );
        assert_eq!(
            categorical([2.0, 2.0].into_iter(), 0.6),
            1,
            "unnormalised weights"
        );
    }
}
