//! Host side of `shaders/layer_norm.wgsl`.

use crate::gpu::kernel::{Compiler, Dispatch, Kernel, grid, uniform_with, wgsl};
use crate::gpu::kernel_source::KernelSource;

const SOURCE: &str = include_str!("../../shaders/layer_norm.wgsl");

/// The LayerNorm pipeline.
#[derive(Clone, Debug)]
pub(crate) struct LayerNorm {
    kernel: Kernel,
}

/// The buffers and shape of a LayerNorm.
pub(crate) struct LayerNormArgs<'a> {
    pub x: &'a wgpu::Buffer,
    pub weight: &'a wgpu::Buffer,
    pub bias: &'a wgpu::Buffer,
    pub y: &'a wgpu::Buffer,
    pub rows: u32,
    pub width: u32,
    pub out_stride: u32,
    pub out_offset: u32,
}

impl LayerNorm {
    /// The pipeline from `compiler`.
    pub fn build<C: Compiler>(compiler: &mut C) -> Result<Self, C::Error> {
        Ok(Self {
            kernel: compiler.kernel(&KernelSource::new(
                "layer_norm",
                &[wgsl::WORKGROUP_REDUCE, SOURCE],
                "main",
                &[],
                None,
            ))?,
        })
    }

    /// Binds one LayerNorm.
    pub fn call(&self, device: &wgpu::Device, args: LayerNormArgs) -> Dispatch {
        let dims = uniform_with(
            device,
            "layer norm dims",
            &[args.width, args.out_stride, args.out_offset, args.rows],
        );
        self.kernel.bind(
            device,
            &[args.x, args.weight, args.bias, args.y, &dims],
            grid(args.rows as usize, 1),
        )
    }
}
