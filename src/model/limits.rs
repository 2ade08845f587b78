//! Bounds on every size that a model file, a training config, a dataset or a command line can claim.
//!
//! A size read from a file the program did not make (a mod's model, a downloaded dataset, a typo in a config) is
//! only a claim. Believed before it is checked, it costs an allocation the machine cannot make, and a failed
//! allocation aborts the process: in a game that is a crash, not an asset error. So every claimed size is held
//! against a limit here before anything of that size is allocated, and sizes are multiplied with overflow checks.

use serde::{Deserialize, Serialize};

use crate::model::{KindConfig, ModelConfig};

/// The largest sizes accepted from files, configs and flags.
///
/// The defaults are generous for any real model. A 2 GiB model file holds about 537 million f32 parameters, for
/// instance 10 blocks of width 2048 (12 · 10 · 2048² ≈ 503 million) over a few thousand tokens; it loads under the
/// defaults, whose parameter limit is 2³⁰ (a 4 GiB file). What they refuse are the sizes that could only be a
/// corrupt or hostile file: 10⁹ layers, a width of 2⁴⁰, 10⁹ sampling steps.
///
/// A user who needs more raises a limit explicitly, the rest staying at their defaults:
/// `Limits { layers: 1024, ..Limits::default() }`, passed to [`crate::model::Weights::load_with_limits`], or a
/// `[limits]` table in a training config (`layers = 1024`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Transformer blocks.
    pub layers: usize,
    /// Features per token.
    pub width: usize,
    /// Attention heads.
    pub heads: usize,
    /// Tokens per example: attention costs their square.
    pub tokens: usize,
    /// Variables per token (a patch's pixels times their channels).
    pub channels: usize,
    /// Classes of discrete data.
    pub classes: u32,
    /// Levels of discretised data.
    pub bins: u32,
    /// Sampling steps n, whether a model file, a config or a flag names them: each costs a network call.
    pub sampling_steps: u32,
    /// Examples at once: a training batch, or samples drawn together.
    pub batch: usize,
    /// Parameters of a network (f32 each): bounds the model file and the memory its weights take.
    pub parameters: usize,
    /// Pixels on a side of an image (a PNG's header is read before its pixels) or of an elevation grid.
    pub image_side: usize,
    /// Cells on a side of a map.
    pub map_side: usize,
    /// Characters of a text example.
    pub sequence_length: usize,
    /// Bytes an estimated allocation (a dataset, a training run) may take; `None`: the machine's total RAM.
    pub memory: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            layers: 256,
            width: 16_384,
            heads: 256,
            tokens: 65_536,
            channels: 65_536,
            classes: 65_536,
            bins: 65_536,
            sampling_steps: 10_000,
            batch: 65_536,
            parameters: 1 << 30,
            image_side: 16_384,
            map_side: 4_096,
            sequence_length: 65_536,
            memory: None,
        }
    }
}

/// A claimed size beyond a [`Limits`] field, a product of sizes that overflows, or an estimate beyond memory.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A size above its limit.
    #[error("{what} is {value}, above the limit Limits::{limit} = {max}")]
    Exceeded {
        /// The setting or field that claims the size.
        what: String,
        /// The size claimed.
        value: u128,
        /// The [`Limits`] field.
        limit: &'static str,
        /// Its value.
        max: u128,
    },
    /// Sizes whose product does not fit in the machine's word.
    #[error("{what}: {factors} overflows")]
    Overflow {
        /// What the product is.
        what: String,
        /// The factors, as `a × b × …`.
        factors: String,
    },
    /// An estimated allocation larger than the memory there is.
    #[error("{what} needs about {needed} bytes ({:.1} GiB), more than the {available} bytes ({:.1} GiB) of memory \
             (Limits::memory)", gib(*needed), gib(u128::from(*available)))]
    Memory {
        /// What would be allocated.
        what: String,
        /// The estimate, in bytes.
        needed: u128,
        /// The bytes there are.
        available: u64,
    },
}

fn gib(bytes: u128) -> f64 {
    bytes as f64 / f64::from(1u32 << 30)
}

/// Fails with [`LimitError::Exceeded`] unless `value ≤ max`.
pub fn within(
    what: &str,
    value: impl Into<u128>,
    limit: &'static str,
    max: impl Into<u128>,
) -> Result<(), LimitError> {
    let (value, max) = (value.into(), max.into());
    if value > max {
        return Err(LimitError::Exceeded {
            what: what.to_owned(),
            value,
            limit,
            max,
        });
    }
    Ok(())
}

/// The product of `factors`, or [`LimitError::Overflow`] where it does not fit in a `usize`.
pub fn product(what: &str, factors: &[usize]) -> Result<usize, LimitError> {
    factors
        .iter()
        .try_fold(1usize, |p, &f| p.checked_mul(f))
        .ok_or_else(|| LimitError::Overflow {
            what: what.to_owned(),
            factors: factors
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" × "),
        })
}

impl Limits {
    /// Checks every size a model configuration claims, before anything of that size (the list of parameters,
    /// the position table, the tensors) is built: the network, the layout, the kind, the sampling steps, and the
    /// parameters they add up to. Returns the parameter count.
    pub fn check_model(&self, config: &ModelConfig) -> Result<usize, LimitError> {
        config.network.check_limits(self)?;
        let layout = &config.layout;
        let tokens = product("layout height × width", &[layout.height, layout.width])?;
        within("layout tokens", tokens as u64, "tokens", self.tokens as u64)?;
        within(
            "layout.channels",
            layout.channels as u64,
            "channels",
            self.channels as u64,
        )?;
        let p = config.patch;
        product("patch²", &[p, p])?;
        product("layout.height × patch", &[layout.height, p])?;
        product("layout.width × patch", &[layout.width, p])?;
        match config.kind {
            KindConfig::Discrete { classes, .. } => {
                within("kind.classes", classes, "classes", self.classes)?
            }
            KindConfig::Discretised { bins, .. } => within("kind.bins", bins, "bins", self.bins)?,
            KindConfig::Continuous { .. } => {}
        }
        if let Some(steps) = config.sampling_steps {
            within(
                "sampling_steps",
                steps,
                "sampling_steps",
                self.sampling_steps,
            )?;
        }
        let mut parameters = 0usize;
        for (name, shape) in config.parameter_shapes() {
            parameters = parameters
                .checked_add(product(&name, &shape)?)
                .ok_or_else(|| LimitError::Overflow {
                    what: "the parameter count".to_owned(),
                    factors: format!("{parameters} + the parameters of {name}"),
                })?;
        }
        within(
            "the network's parameters",
            parameters as u64,
            "parameters",
            self.parameters as u64,
        )?;
        Ok(parameters)
    }

    /// Fails with [`LimitError::Memory`] when an estimated allocation of `needed` bytes exceeds
    /// [`Limits::memory`], or the machine's total RAM when that is `None` (no check where the RAM is unknown).
    pub fn check_memory(&self, what: &str, needed: u128) -> Result<(), LimitError> {
        match self.memory.or_else(crate::model::memory::total_ram) {
            Some(available) if needed > u128::from(available) => Err(LimitError::Memory {
                what: what.to_owned(),
                needed,
                available,
            }),
            _ => Ok(()),
        }
    }
}
