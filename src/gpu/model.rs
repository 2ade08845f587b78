//! A model on the GPU: its weights uploaded once and its kind's kernels compiled once, shared by every job that
//! samples from it; the kind-independent kernels come from the device's [`DeviceKernels`].

use std::collections::{HashMap, HashSet};

use crate::gpu::attention::check_attention_shape;
use crate::gpu::bfn_step::BfnStep;
use crate::gpu::device::checked;
use crate::gpu::device_kernels::DeviceKernels;
use crate::gpu::error::GpuError;
use crate::gpu::input_adapter::input_adapter;
use crate::gpu::kernel::{Compiler, Kernel, storage, storage_with};
use crate::model::parameters::{Block, LABEL_EMBEDDING, Parameters};
use crate::model::{Kind, ModelConfig, Weights};

/// The compiled kernels of one model: the device's shared ones and its kind's own.
#[derive(Clone, Debug)]
pub(crate) struct Kernels {
    pub device: DeviceKernels,
    pub input_adapter: Kernel,
    pub bfn_step: BfnStep,
}

impl Kernels {
    /// The `device`'s shared kernels with those of `kind` from `compiler`, which are asked for even when the
    /// shared ones are not ready.
    pub fn build<C: Compiler>(
        compiler: &mut C,
        device: Result<DeviceKernels, C::Error>,
        kind: &Kind,
    ) -> Result<Self, C::Error> {
        let input_adapter = input_adapter(compiler, matches!(kind, Kind::Discrete(_)));
        let bfn_step = BfnStep::build(compiler, kind);
        Ok(Self {
            device: device?,
            input_adapter: input_adapter?,
            bfn_step: bfn_step?,
        })
    }
}

/// A weights file on a device.
#[derive(Debug)]
pub struct GpuModel {
    config: ModelConfig,
    kind: Kind,
    tensors: HashMap<String, wgpu::Buffer>,
    pub(crate) kernels: Kernels,
    /// Classes of a conditional model (0: unconditional).
    classes: usize,
    /// The class embedding an unconditional model's examples read: one row of zeros.
    no_classes: wgpu::Buffer,
}

/// Fails with [`GpuError::TooLarge`] when `bytes` exceed the device's storage binding limit.
pub(crate) fn check_binding(
    device: &wgpu::Device,
    what: impl Into<String>,
    bytes: u64,
) -> Result<(), GpuError> {
    let limits = device.limits();
    let limit = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    if bytes > limit {
        return Err(GpuError::TooLarge {
            what: what.into(),
            needed: bytes,
            limit,
            limit_name: "max_storage_buffer_binding_size",
        });
    }
    Ok(())
}

impl GpuModel {
    /// Uploads `weights` to `device` and compiles all its kernels. With several models on one device,
    /// [`GpuModel::with_kernels`] compiles the kind-independent ones once for all.
    pub fn new(device: &wgpu::Device, weights: &Weights) -> Result<Self, GpuError> {
        Self::with_kernels(device, weights, &DeviceKernels::new(device)?)
    }

    /// Uploads `weights` to `device` and compiles the kernels for its data kind, sharing `kernels` (made on the
    /// same device).
    pub fn with_kernels(
        device: &wgpu::Device,
        weights: &Weights,
        kernels: &DeviceKernels,
    ) -> Result<Self, GpuError> {
        let kind = weights.config().validate()?;
        let kernels = checked(device, "the model's kernels", || {
            let Ok(kernels) = Kernels::build(&mut &*device, Ok(kernels.clone()), &kind);
            Ok(kernels)
        })?;
        Self::from_kernels(device, weights, kernels)
    }

    /// Uploads `weights` to `device`, to run with `kernels`, compiled for its data kind. Linear layers' weights
    /// are stored transposed ([in, out]) so that the matmul reads rows of both operands.
    pub(crate) fn from_kernels(
        device: &wgpu::Device,
        weights: &Weights,
        kernels: Kernels,
    ) -> Result<Self, GpuError> {
        let config = weights.config().clone();
        let kind = config.validate()?;
        let network = config.network;
        check_attention_shape(config.layout.tokens(), network.width / network.heads)?;
        for (name, tensor) in weights.tensors() {
            check_binding(
                device,
                format!("tensor {name}"),
                tensor.values.len() as u64 * 4,
            )?;
        }
        // The layers the matmul multiplies by: not the input adapter's, which reads its weights as they are.
        let parameters = Parameters::new(&config);
        let transposed: HashSet<String> = parameters
            .blocks
            .iter()
            .flat_map(Block::layers)
            .chain([&parameters.lm_head])
            .filter(|layer| layer.shape.len() == 2)
            .map(|layer| layer.weight())
            .collect();
        let classes = weights
            .tensors()
            .get(LABEL_EMBEDDING)
            .map_or(0, |embedding| embedding.shape[0].saturating_sub(1));
        checked(device, "the model's weights", || {
            let tensors = weights
                .tensors()
                .iter()
                .map(|(name, tensor)| {
                    let values = match tensor.shape.as_slice() {
                        [outputs, inputs] if transposed.contains(name) => {
                            transpose(&tensor.values, *outputs, *inputs)
                        }
                        _ => tensor.values.clone(),
                    };
                    (name.clone(), storage_with(device, name, &values))
                })
                .collect();
            let no_classes = storage(device, "no class embedding", network.width);
            Ok(Self {
                classes,
                config,
                kind,
                tensors,
                kernels,
                no_classes,
            })
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Bytes of GPU memory the weights take.
    pub fn memory_bytes(&self) -> u64 {
        self.tensors.values().map(|b| b.size()).sum()
    }

    /// The data kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The class embedding ([`LABEL_EMBEDDING`]), or for an unconditional model one row of zeros, which its
    /// examples' "no class" label 0 reads.
    pub(crate) fn label_embedding(&self) -> &wgpu::Buffer {
        self.tensors
            .get(LABEL_EMBEDDING)
            .unwrap_or(&self.no_classes)
    }

    /// The classes of a conditional model; 0 for an unconditional one.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The buffer of a parameter, by its official name. The weights file was checked against
    /// [`Parameters`] when it was loaded, so every name the network asks for is there.
    pub(crate) fn tensor(&self, name: &str) -> &wgpu::Buffer {
        &self.tensors[name]
    }
}

fn transpose(values: &[f32], rows: usize, columns: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..columns {
            out[c * rows + r] = values[r * columns + c];
        }
    }
    out
}
