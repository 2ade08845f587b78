//! Host side of `shaders/bfn_step.wgsl`: the standard and the few-step samplers' steps, the final mode and the
//! step counter, compiled for one data kind.

use crate::gpu::kernel::{Binding, Compiler, Kernel, wgsl};
use crate::gpu::kernel_source::KernelSource;
use crate::model::Kind;

const SOURCE: &str = include_str!("../../shaders/bfn_step.wgsl");

/// The four entry points, specialised for a kind and its class or bin count.
#[derive(Clone, Debug)]
pub(crate) struct BfnStep {
    pub step: Kernel,
    pub flow_step: Kernel,
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

/// θ, output, preview, result, table, progress, job, state, previous x̂, constraints: `bfn_step.wgsl`'s bindings
/// in order.
const BINDINGS: &[Binding] = &[
    Binding::ReadWrite,
    Binding::Read,
    Binding::ReadWrite,
    Binding::ReadWrite,
    Binding::Read,
    Binding::ReadWrite,
    Binding::Uniform,
    Binding::ReadWrite,
    Binding::ReadWrite,
    Binding::Read,
];

impl BfnStep {
    /// The entry points for `kind` from `compiler`.
    pub fn build<C: Compiler>(compiler: &mut C, kind: &Kind) -> Result<Self, C::Error> {
        let (kind, classes) = specialisation(kind);
        let constants = [
            ("KIND", format!("{kind}u")),
            ("CLASSES", format!("{classes}u")),
        ];
        let [step, flow_step, finish, advance] =
            ["step", "flow_step", "finish", "advance"].map(|entry| {
                compiler.kernel(&KernelSource::new(
                    "bfn_step",
                    &[wgsl::DISPATCH, wgsl::RNG, wgsl::STEP_TABLE, SOURCE],
                    entry,
                    &constants,
                    Some(BINDINGS),
                ))
            });
        Ok(Self {
            step: step?,
            flow_step: flow_step?,
            finish: finish?,
            advance: advance?,
        })
    }
}
