//! The kernels that do not depend on a model's data kind (matmul, LayerNorm, attention, the preview, guidance), compiled
//! once per device and shared by every model on it: a second model, or a reloaded one, compiles only its
//! kind's own kernels.

use crate::gpu::attention::Attention;
use crate::gpu::device::checked;
use crate::gpu::error::GpuError;
use crate::gpu::guidance::guidance_kernel;
use crate::gpu::kernel::{Compiler, Kernel};
use crate::gpu::layer_norm::LayerNorm;
use crate::gpu::matmul::Matmul;
use crate::gpu::preview::preview_kernel;

/// The kind-independent kernels of one device. Cheap to clone (the pipelines are reference-counted); pass it
/// to [`GpuModel::with_kernels`](crate::gpu::GpuModel::with_kernels) for each model on the device.
#[derive(Clone, Debug)]
pub struct DeviceKernels {
    pub(crate) matmul: Matmul,
    pub(crate) layer_norm: LayerNorm,
    pub(crate) attention: Attention,
    pub(crate) preview: Kernel,
    pub(crate) guidance: Kernel,
}

impl DeviceKernels {
    /// Compiles the kernels on `device`.
    pub fn new(device: &wgpu::Device) -> Result<Self, GpuError> {
        checked(device, "the kernels", || {
            let Ok(kernels) = Self::build(&mut &*device);
            Ok(kernels)
        })
    }

    /// The kernels from `compiler`.
    pub(crate) fn build<C: Compiler>(compiler: &mut C) -> Result<Self, C::Error> {
        let matmul = Matmul::build(compiler);
        let layer_norm = LayerNorm::build(compiler);
        let attention = Attention::build(compiler);
        let preview = preview_kernel(compiler);
        let guidance = guidance_kernel(compiler);
        Ok(Self {
            matmul: matmul?,
            layer_norm: layer_norm?,
            attention: attention?,
            preview: preview?,
            guidance: guidance?,
        })
    }
}
