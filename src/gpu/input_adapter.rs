//! Host side of `shaders/input_adapter.wgsl`.

use crate::gpu::kernel::{Kernel, shader_module, wgsl};

const SOURCE: &str = include_str!("../../shaders/input_adapter.wgsl");
/// Invocations per workgroup.
pub(crate) const WORKGROUP: u32 = 256;

/// The input adapter, compiled for discrete (2θ − 1) or continuous and discretised (μ) inputs.
pub(crate) fn input_adapter(device: &wgpu::Device, discrete: bool) -> Kernel {
    let module = shader_module(
        device,
        "input_adapter",
        &[wgsl::DISPATCH, wgsl::STEP_TABLE, SOURCE],
    );
    Kernel::new(
        device,
        &module,
        "main",
        &[("DISCRETE", f64::from(u8::from(discrete)))],
        None,
    )
}
