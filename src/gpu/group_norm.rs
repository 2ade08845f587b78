//! Host side of `shaders/group_norm.wgsl`.

use crate::gpu::kernel::{Compiler, Dispatch, Kernel, uniform_with, wgsl};
use crate::gpu::kernel_source::KernelSource;

const SOURCE: &str = include_str!("../../shaders/group_norm.wgsl");

/// The GroupNorm pipeline.
#[derive(Clone, Debug)]
pub(crate) struct GroupNorm {
    kernel: Kernel,
}

/// The buffers and shape of a GroupNorm: `x`'s block of `channels` columns at `in_offset` of rows of stride
/// `in_stride`, plus `shift` [examples, channels] when given, normalised into dense `y`.
pub(crate) struct GroupNormArgs<'a> {
    pub x: &'a wgpu::Buffer,
    pub in_stride: u32,
    pub in_offset: u32,
    pub shift: Option<&'a wgpu::Buffer>,
    pub weight: &'a wgpu::Buffer,
    pub bias: &'a wgpu::Buffer,
    pub y: &'a wgpu::Buffer,
    pub examples: u32,
    pub cells: u32,
    pub channels: u32,
    pub groups: u32,
    pub silu: bool,
}

impl GroupNorm {
    /// The pipeline from `compiler`.
    pub fn build<C: Compiler>(compiler: &mut C) -> Result<Self, C::Error> {
        Ok(Self {
            kernel: compiler.kernel(&KernelSource::new(
                "group_norm",
                &[wgsl::WORKGROUP_REDUCE, SOURCE],
                "main",
                &[],
                None,
            ))?,
        })
    }

    /// Binds one GroupNorm: a workgroup per (group, example).
    pub fn call(&self, device: &wgpu::Device, args: GroupNormArgs) -> Dispatch {
        let dims = uniform_with(
            device,
            "group norm dims",
            &[
                args.cells,
                args.channels,
                args.groups,
                args.in_stride,
                args.in_offset,
                u32::from(args.silu),
                u32::from(args.shift.is_some()),
                0,
            ],
        );
        // Without a shift the kernel reads none; any buffer fills the binding.
        let shift = args.shift.unwrap_or(args.weight);
        self.kernel.bind(
            device,
            &[args.x, shift, args.weight, args.bias, args.y, &dims],
            [args.groups, args.examples, 1],
        )
    }
}
