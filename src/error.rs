//! Typed errors: a setting out of range or shapes that disagree are reported, never a panic or a NaN.

/// Everything that can go wrong in this crate, each variant naming the setting or shape at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BfnError {
    /// σ₁, the standard deviation of the input distribution at t = 1, must lie strictly between 0 and 1.
    #[error("sigma_1 must lie in (0, 1), got {0}")]
    Sigma1OutOfRange(f64),
    /// β₁, the final accuracy of the discrete schedule, must be positive and finite.
    #[error("beta_1 must be positive and finite, got {0}")]
    Beta1OutOfRange(f64),
    /// A discrete variable needs at least two classes, a discretised one at least two bins.
    #[error("{what} must be at least 2, got {got}")]
    TooFewClasses {
        /// `"classes"` or `"bins"`.
        what: &'static str,
        /// The number given.
        got: u32,
    },
    /// The number of sampling steps n must be at least 1 (and below 2³⁰, the counter space of the generator).
    #[error("the number of steps must lie in 1..={max}, got {got}")]
    StepsOutOfRange {
        /// The number given.
        got: u64,
        /// The largest number accepted.
        max: u64,
    },
    /// A step index i must satisfy 1 ≤ i ≤ n.
    #[error("step {i} is outside 1..={n}")]
    StepOutOfRange {
        /// The step given.
        i: u64,
        /// The number of steps.
        n: u64,
    },
    /// A solver's start time η must lie in [10⁻⁶, 1) (see [`crate::flow::SamplingMethod::check`]).
    #[error("the solver's start time eta must lie in [1e-6, 1), got {0}")]
    EtaOutOfRange(f64),
    /// A redraw sampler's temperature must be positive and finite.
    #[error("the sampling temperature must be positive and finite, got {0}")]
    TemperatureOutOfRange(f64),
    /// Time must lie in [0, 1].
    #[error("time t must lie in [0, 1], got {0}")]
    TimeOutOfRange(f64),
    /// A value that must be finite (data, network outputs, settings) is NaN or infinite.
    #[error("{what} must be finite, got {value}")]
    NotFinite {
        /// What the value is.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// Continuous and discretised data must lie in [−1, 1].
    #[error("data value {0} is outside [-1, 1]")]
    DataOutOfRange(f64),
    /// A class index is not below the number of classes.
    #[error("class {class} is not below the number of classes {classes}")]
    ClassOutOfRange {
        /// The class index given.
        class: u32,
        /// The number of classes.
        classes: u32,
    },
    /// Two shapes disagree: a buffer has another length than its shape implies.
    #[error("{what} has {got} values, expected {expected}")]
    ShapeMismatch {
        /// What the buffer is.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length its shape implies.
        expected: usize,
    },
    /// A batch or an example must not be empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// A Monte Carlo estimate needs at least one draw, and no more than the generator's step counter can tell
    /// apart ([`crate::flow::MAX_STEPS`]).
    #[error("{what} must lie in 1..={max}, got {got}")]
    DrawsOutOfRange {
        /// What is drawn: `"draws"` or `"repeats"`.
        what: &'static str,
        /// The number given.
        got: u64,
        /// The largest number accepted.
        max: u64,
    },
    /// A constraint's strength w must lie in [0, 1] (see [`crate::flow::Known`]).
    #[error("a constraint's strength must lie in [0, 1], got {0}")]
    StrengthOutOfRange(f64),
    /// A discrete variable's set of allowed classes must not be empty.
    #[error("variable {variable} has no allowed class")]
    NoAllowedClass {
        /// The variable, flattened over the batch.
        variable: usize,
    },
    /// A model configuration is inconsistent.
    #[error("model configuration: {0}")]
    Config(String),
    /// A [`crate::flow::Denoiser`] failed; its message is kept.
    #[error("denoiser failed: {0}")]
    Denoiser(String),
}

/// Fails with [`BfnError::ShapeMismatch`] unless a buffer has the length its shape implies.
pub(crate) fn check_len(what: &'static str, got: usize, expected: usize) -> Result<()> {
    if got != expected {
        return Err(BfnError::ShapeMismatch {
            what,
            got,
            expected,
        });
    }
    Ok(())
}

/// `Result` with [`BfnError`].
pub type Result<T, E = BfnError> = std::result::Result<T, E>;
