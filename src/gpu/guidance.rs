//! Host side of `shaders/guidance.wgsl`, and the labels the input adapter reads: a class per example the network
//! runs on, the batch's own classes and, for a guided job, the same examples again with "no class".

use crate::gpu::kernel::{Compiler, Kernel, wgsl};
use crate::gpu::kernel_source::KernelSource;

const SOURCE: &str = include_str!("../../shaders/guidance.wgsl");
/// Invocations per workgroup.
pub(crate) const WORKGROUP: u32 = 256;

/// The guidance mix from `compiler` (once per device, in [`crate::gpu::DeviceKernels`]).
pub(crate) fn guidance_kernel<C: Compiler>(compiler: &mut C) -> Result<Kernel, C::Error> {
    compiler.kernel(&KernelSource::new(
        "guidance",
        &[wgsl::DISPATCH, SOURCE],
        "main",
        &[],
        None,
    ))
}

/// The label words of the network's examples: each example's class (or `no_class`), then, when `guided`, every
/// example again with `no_class`.
pub(crate) fn label_words(labels: &[Option<u32>], no_class: u32, guided: bool) -> Vec<u32> {
    let own = labels.iter().map(|label| label.unwrap_or(no_class));
    let unconditional = std::iter::repeat_n(no_class, if guided { labels.len() } else { 0 });
    own.chain(unconditional).collect()
}

/// The mix's uniform: outputs of the conditional half, outputs per example, the "no class" label and w's bits.
pub(crate) fn mix_words(
    elements: usize,
    per_example: usize,
    no_class: u32,
    weight: f64,
) -> [u32; 4] {
    [
        elements as u32,
        per_example as u32,
        no_class,
        (weight as f32).to_bits(),
    ]
}
