//! The parameters θ of the input distribution for a batch: what the network sees at every step.

use crate::error::{BfnError, Result, check_len};
use crate::flow::Real;

/// A batch of `batch` examples of `variables` variables each (pixels, tiles, characters), flattened row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    batch: usize,
    variables: usize,
}

impl Shape {
    /// `batch` examples of `variables` variables; neither may be 0, and the total must fit the generator's 32-bit
    /// variable index.
    pub fn new(batch: usize, variables: usize) -> Result<Self> {
        if batch == 0 {
            return Err(BfnError::Empty("batch"));
        }
        if variables == 0 {
            return Err(BfnError::Empty("example"));
        }
        let total = batch
            .checked_mul(variables)
            .filter(|&n| n <= u32::MAX as usize);
        if total.is_none() {
            return Err(BfnError::ShapeMismatch {
                what: "batch × variables",
                got: batch.saturating_mul(variables),
                expected: u32::MAX as usize,
            });
        }
        Ok(Self { batch, variables })
    }

    /// Examples in the batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Variables per example (D).
    pub fn variables(&self) -> usize {
        self.variables
    }

    /// Variables in the whole batch.
    pub fn len(&self) -> usize {
        self.batch * self.variables
    }

    /// Never true: a shape has at least one variable. (Present because `len` is.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Checks that a buffer of `width` values per variable has the right length.
    pub fn check(&self, what: &'static str, width: usize, got: usize) -> Result<()> {
        check_len(what, got, self.len() * width)
    }
}

/// θ for a batch, as the network sees it: `width` values per variable (μ for continuous and discretised data,
/// the K class probabilities for discrete data).
///
/// The Gaussian input distribution's precision ρ is not here: the network never sees it, it is the same for every
/// variable at a given step, and the sampler keeps it beside θ (as the official code does).
#[derive(Clone, Debug, PartialEq)]
pub struct InputParams<F> {
    shape: Shape,
    width: usize,
    values: Vec<F>,
}

impl<F: Real> InputParams<F> {
    /// θ from its parts, checked: `values` must hold `width` finite numbers per variable.
    pub fn new(shape: Shape, width: usize, values: Vec<F>) -> Result<Self> {
        shape.check("input parameters", width, values.len())?;
        check_finite("input parameters", values.iter().copied())?;
        Ok(Self {
            shape,
            width,
            values,
        })
    }

    pub(crate) fn filled(shape: Shape, width: usize, value: F) -> Self {
        Self {
            shape,
            width,
            values: vec![value; shape.len() * width],
        }
    }

    /// The batch shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Values per variable.
    pub fn width(&self) -> usize {
        self.width
    }

    /// All values, variable-major: variable v's values are `values[v·width .. (v+1)·width]`.
    pub fn values(&self) -> &[F] {
        &self.values
    }

    /// The values of variable `v` (flattened over the batch).
    pub fn variable(&self, v: usize) -> &[F] {
        &self.values[v * self.width..(v + 1) * self.width]
    }

    pub(crate) fn values_mut(&mut self) -> &mut [F] {
        &mut self.values
    }
}

/// Fails on the first NaN or infinity, naming `what` it was found in.
pub(crate) fn check_finite<F: Real>(
    what: &'static str,
    values: impl IntoIterator<Item = F>,
) -> Result<()> {
    match values.into_iter().find(|v| !v.is_finite()) {
        Some(value) => Err(BfnError::NotFinite {
            what,
            value: value.to_f64(),
        }),
        None => Ok(()),
    }
}
