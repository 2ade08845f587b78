//! Host side of `shaders/input_adapter.wgsl`.

use crate::gpu::kernel::{Compiler, Kernel, wgsl};
use crate::gpu::kernel_source::KernelSource;

const SOURCE: &str = include_str!("../../shaders/input_adapter.wgsl");
/// Invocations per workgroup.
pub(crate) const WORKGROUP: u32 = 256;

/// The input adapter from `compiler`, for discrete (2θ − 1) or continuous and discretised (μ) inputs.
pub(crate) fn input_adapter<C: Compiler>(
    compiler: &mut C,
    discrete: bool,
) -> Result<Kernel, C::Error> {
    compiler.kernel(&KernelSource::new(
        "input_adapter",
        &[wgsl::DISPATCH, wgsl::STEP_TABLE, SOURCE],
        "main",
        &[("DISCRETE", discrete.to_string())],
        None,
    ))
}
