//! Host side of `shaders/unet_input.wgsl`.

use crate::gpu::kernel::{Compiler, Kernel, wgsl};
use crate::gpu::kernel_source::KernelSource;

const SOURCE: &str = include_str!("../../shaders/unet_input.wgsl");
/// Invocations per workgroup.
pub(crate) const WORKGROUP: u32 = 256;

/// The U-Net's input from `compiler`, for discrete (2θ − 1) or continuous and discretised (μ) inputs.
pub(crate) fn unet_input<C: Compiler>(
    compiler: &mut C,
    discrete: bool,
) -> Result<Kernel, C::Error> {
    compiler.kernel(&KernelSource::new(
        "unet_input",
        &[wgsl::DISPATCH, wgsl::STEP_TABLE, SOURCE],
        "main",
        &[("DISCRETE", discrete.to_string())],
        None,
    ))
}
