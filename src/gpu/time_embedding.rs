//! Host side of `shaders/time_embedding.wgsl`.

use crate::gpu::kernel::{Binding, Compiler, Dispatch, Kernel, uniform_with};
use crate::gpu::kernel_source::KernelSource;

const SOURCE: &str = include_str!("../../shaders/time_embedding.wgsl");
/// Invocations per workgroup.
const WORKGROUP: u32 = 64;

/// Step features, progress, labels, class embedding, output, dims: the shader's bindings, shared by both entry
/// points.
const BINDINGS: &[Binding] = &[
    Binding::Read,
    Binding::Read,
    Binding::Read,
    Binding::Read,
    Binding::ReadWrite,
    Binding::Uniform,
];

/// The two entry points around the time embedding's linear layers.
#[derive(Clone, Debug)]
pub(crate) struct TimeEmbedding {
    features: Kernel,
    finish: Kernel,
}

/// What both entry points read and write.
pub(crate) struct TimeBuffers<'a> {
    /// The sinusoidal features of each step table entry's t.
    pub steps: &'a wgpu::Buffer,
    pub progress: &'a wgpu::Buffer,
    pub labels: &'a wgpu::Buffer,
    pub label_embedding: &'a wgpu::Buffer,
}

impl TimeEmbedding {
    /// The pipelines from `compiler`.
    pub fn build<C: Compiler>(compiler: &mut C) -> Result<Self, C::Error> {
        let mut entry = |name| {
            compiler.kernel(&KernelSource::new(
                "time_embedding",
                &[SOURCE],
                name,
                &[],
                Some(BINDINGS),
            ))
        };
        let (features, finish) = (entry("features"), entry("finish"));
        Ok(Self {
            features: features?,
            finish: finish?,
        })
    }

    /// Binds the copy of the step's `width` sinusoidal features to each of `rows` rows of `out`.
    pub fn features(
        &self,
        device: &wgpu::Device,
        buffers: &TimeBuffers,
        out: &wgpu::Buffer,
        rows: u32,
        width: u32,
    ) -> Dispatch {
        self.bind(&self.features, device, buffers, out, rows, width)
    }

    /// Binds the class rows and SiLU applied in place to `out` [rows, width].
    pub fn finish(
        &self,
        device: &wgpu::Device,
        buffers: &TimeBuffers,
        out: &wgpu::Buffer,
        rows: u32,
        width: u32,
    ) -> Dispatch {
        self.bind(&self.finish, device, buffers, out, rows, width)
    }

    fn bind(
        &self,
        kernel: &Kernel,
        device: &wgpu::Device,
        buffers: &TimeBuffers,
        out: &wgpu::Buffer,
        rows: u32,
        width: u32,
    ) -> Dispatch {
        let dims = uniform_with(device, "time embedding dims", &[rows, width, 0, 0]);
        kernel.bind(
            device,
            &[
                buffers.steps,
                buffers.progress,
                buffers.labels,
                buffers.label_embedding,
                out,
                &dims,
            ],
            [(rows * width).div_ceil(WORKGROUP), 1, 1],
        )
    }
}
