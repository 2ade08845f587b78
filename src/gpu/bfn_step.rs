//! Host side of `shaders/bfn_step.wgsl`: the BFN step, the final mode and the step counter, compiled for one
//! data kind.

use crate::gpu::kernel::{Binding, Kernel, shader_module, shared_layout, wgsl};
use crate::model::Kind;

const SOURCE: &str = include_str!("../../shaders/bfn_step.wgsl");

/// The three entry points, specialised for a kind and its class or bin count.
#[derive(Clone, Debug)]
pub(crate) struct BfnStep {
    pub step: Kernel,
    pub finish: Kernel,
    pub advance: Kernel,
}

/// The kind's number in the shader and its class or bin count.
fn specialisation(kind: &Kind) -> (u32, u32) {
    match kind {
        Kind::Continuous(_) => (0, 1),
        Kind::Discretised(k) => (1, k.bins()),
        Kind::Discrete(k) => (2, k.classes()),
    }
}

impl BfnStep {
    /// Compiles the entry points for `kind`.
    pub fn new(device: &wgpu::Device, kind: &Kind) -> Self {
        let module = shader_module(
            device,
            "bfn_step",
            &[wgsl::DISPATCH, wgsl::RNG, wgsl::STEP_TABLE, SOURCE],
        );
        let (kind, classes) = specialisation(kind);
        let constants = [("KIND", f64::from(kind)), ("CLASSES", f64::from(classes))];
        // θ, output, preview, result, table, progress, job: `bfn_step.wgsl`'s bindings in order.
        let layout = shared_layout(
            device,
            &[
                Binding::ReadWrite,
                Binding::Read,
                Binding::ReadWrite,
                Binding::ReadWrite,
                Binding::Read,
                Binding::ReadWrite,
                Binding::Uniform,
            ],
        );
        let kernel = |entry| Kernel::new(device, &module, entry, &constants, Some(&layout));
        Self {
            step: kernel("step"),
            finish: kernel("finish"),
            advance: kernel("advance"),
        }
    }
}
