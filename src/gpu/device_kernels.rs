//! The kernels that do not depend on a model's data kind (matmul and convolution, LayerNorm, GroupNorm, attention,
//! the U-Net's time embedding and column copy, the preview, guidance), compiled once per device and shared by
//! every model on it: a second model, or a reloaded one, compiles only its kind's own kernels.

use crate::gpu::attention::Attention;
use crate::gpu::copy_columns::CopyColumns;
use crate::gpu::device::checked;
use crate::gpu::error::GpuError;
use crate::gpu::group_norm::GroupNorm;
use crate::gpu::guidance::guidance_kernel;
use crate::gpu::kernel::{Compiler, Kernel};
use crate::gpu::layer_norm::LayerNorm;
use crate::gpu::matmul::Matmul;
use crate::gpu::preview::preview_kernel;
use crate::gpu::time_embedding::TimeEmbedding;

/// The kind-independent kernels of one device. Cheap to clone (the pipelines are reference-counted); pass it
/// to [`GpuModel::with_kernels`](crate::gpu::GpuModel::with_kernels) for each model on the device.
#[derive(Clone, Debug)]
pub struct DeviceKernels {
    pub(crate) matmul: Matmul,
    pub(crate) layer_norm: LayerNorm,
    pub(crate) attention: Attention,
    pub(crate) group_norm: GroupNorm,
    pub(crate) time_embedding: TimeEmbedding,
    pub(crate) copy_columns: CopyColumns,
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
        let group_norm = GroupNorm::build(compiler);
        let time_embedding = TimeEmbedding::build(compiler);
        let copy_columns = CopyColumns::build(compiler);
        let preview = preview_kernel(compiler);
        let guidance = guidance_kernel(compiler);
        Ok(Self {
            matmul: matmul?,
            layer_norm: layer_norm?,
            attention: attention?,
            group_norm: group_norm?,
            time_embedding: time_embedding?,
            copy_columns: copy_columns?,
            preview: preview?,
            guidance: guidance?,
        })
    }
}
