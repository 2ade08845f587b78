//! Maps larger than a model's canvas on the CPU: the [`Mosaic`]'s windows, one constrained run of the CPU sampler
//! each.

use crate::error::Result;
use crate::flow::{Constraints, RuntimeDatum, SamplingMethod};
use crate::measure::sample_sheet::sample_constrained;
use crate::model::Weights;
use crate::model::mosaic::{MapShape, Mosaic, window_seed};

/// Draws `count` maps of `shape` from a model with `steps` steps of `method`, window by window, window i seeded
/// [`window_seed`]`(seed, i)`, keeping `constraints` given in the map's data layout (see
/// [`Mosaic::constraints_for`]). Returns the finished mosaic: [`Mosaic::finish`] gives the maps,
/// [`Mosaic::owner`] which window generated each cell.
pub fn sample_mosaic<D: RuntimeDatum>(
    weights: &Weights,
    count: usize,
    steps: u32,
    seed: u64,
    method: SamplingMethod,
    shape: MapShape,
    constraints: &Constraints<D>,
) -> Result<Mosaic> {
    let mut mosaic = Mosaic::new(weights.config(), shape, count)?;
    for window in mosaic.windows().to_vec() {
        let known = mosaic.constraints_for(window, constraints)?;
        let samples = sample_constrained(
            weights,
            count,
            steps,
            window_seed(seed, window.index),
            method,
            &known,
        )?;
        mosaic.insert(window, &samples)?;
    }
    Ok(mosaic)
}
