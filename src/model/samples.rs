//! What a model generates, whichever sampler (CPU or GPU) drew it.

/// Samples of a model, examples × variables in the model's (token, channel) order.
#[derive(Clone, Debug, PartialEq)]
pub enum Samples {
    /// Values in [−1, 1] (continuous and discretised data).
    Values(Vec<f32>),
    /// Class indices (discrete data).
    Classes(Vec<u32>),
}
