//! Host side of `shaders/attention.wgsl`.

use crate::gpu::error::GpuError;
use crate::gpu::kernel::{Compiler, Dispatch, Kernel, uniform_with, wgsl};
use crate::gpu::kernel_source::KernelSource;

const SOURCE: &str = include_str!("../../shaders/attention.wgsl");
/// The kernel keeps one query's scores and its query vector in workgroup memory of these sizes.
const MAX_TOKENS: usize = 1024;
const MAX_HEAD_SIZE: usize = 256;

/// The attention pipeline.
#[derive(Clone, Debug)]
pub(crate) struct Attention {
    kernel: Kernel,
}

/// Refuses shapes the kernel cannot hold.
pub(crate) fn check_attention_shape(tokens: usize, head_size: usize) -> Result<(), GpuError> {
    let too_large = |what: &str, needed: usize, limit: usize| GpuError::TooLarge {
        what: what.into(),
        needed: needed as u64,
        limit: limit as u64,
        limit_name: "attention.wgsl workgroup arrays",
    };
    if tokens > MAX_TOKENS {
        return Err(too_large("attention over tokens", tokens, MAX_TOKENS));
    }
    if head_size > MAX_HEAD_SIZE {
        return Err(too_large("attention head size", head_size, MAX_HEAD_SIZE));
    }
    Ok(())
}

impl Attention {
    /// The pipeline from `compiler`.
    pub fn build<C: Compiler>(compiler: &mut C) -> Result<Self, C::Error> {
        Ok(Self {
            kernel: compiler.kernel(&KernelSource::new(
                "attention",
                &[wgsl::WORKGROUP_REDUCE, SOURCE],
                "main",
                &[],
                None,
            ))?,
        })
    }

    /// Binds one attention: `qkv` [batch·tokens, 3·width] in, `out` [batch·tokens, width] out.
    pub fn call(
        &self,
        device: &wgpu::Device,
        qkv: &wgpu::Buffer,
        out: &wgpu::Buffer,
        [batch, tokens, width, heads]: [u32; 4],
    ) -> Dispatch {
        let dims = uniform_with(
            device,
            "attention dims",
            &[tokens, width, heads, width / heads],
        );
        self.kernel
            .bind(device, &[qkv, out, &dims], [tokens, heads, batch])
    }
}
