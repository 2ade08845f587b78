//! Training-time dropout that a resumed run repeats.

use candle_core::{Result, Tensor};

use crate::flow::{CounterRng, Stream};

/// Mixed into the seed for the dropout masks, so that they draw other numbers than the training noise.
const DROPOUT_KEY: u64 = 0xD40F_0B75_5EED_0001;

/// Training-time dropout (nanoGPT's places: after the embedding, after each attention and MLP projection), with
/// masks drawn from the counter-based generator so that a resumed run drops the same units as an uninterrupted
/// one. Inference never drops.
#[derive(Clone, Copy, Debug)]
pub struct Dropout {
    /// The probability of zeroing a unit, in [0, 1).
    pub rate: f32,
    /// Keyed by the run's seed.
    pub rng: CounterRng,
    /// The training step, so that every step draws new masks.
    pub step: u32,
}

impl Dropout {
    /// The run's dropout at `step`.
    pub fn new(rate: f32, seed: u64, step: u32) -> Self {
        Self {
            rate,
            rng: CounterRng::new(seed ^ DROPOUT_KEY),
            step,
        }
    }

    /// `x` with units zeroed at the rate and the rest scaled by 1/(1 − rate); `site` tells the places apart.
    fn apply(&self, x: &Tensor, site: u32) -> Result<Tensor> {
        if self.rate == 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.rate;
        // 32 sites a step: the counter's step word holds step·32 + site.
        let counter_step = self.step.wrapping_mul(32).wrapping_add(site);
        let count = x.elem_count() as u32;
        let mask: Vec<f32> = (0..count)
            .map(|i| {
                let bits = self.rng.bits(counter_step, Stream::Flow, i / 2)[(i % 2) as usize];
                if (bits as f32) * (1.0 / 4_294_967_296.0) < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        x * Tensor::from_vec(mask, x.shape(), x.device())?
    }
}

/// `x` through `dropout` at `site` while training, `x` itself otherwise.
pub(crate) fn drop(dropout: Option<&Dropout>, x: Tensor, site: usize) -> Result<Tensor> {
    match dropout {
        Some(d) => d.apply(&x, site as u32),
        None => Ok(x),
    }
}
