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
use crate::gpu::memory::{GpuMemory, counted};
use crate::gpu::network_unet::unet_layout;
use crate::gpu::unet_input::unet_input;
use crate::model::parameters::{Block, LABEL_EMBEDDING, Parameters};
use crate::model::unet_parameters::LABEL_EMB;
use crate::model::{GptConfig, Kind, ModelConfig, NetworkConfig, TensorData, Weights};

/// The compiled kernels of one model: the device's shared ones and its kind's own.
#[derive(Clone, Debug)]
pub(crate) struct Kernels {
    pub device: DeviceKernels,
    /// The network's input for the kind: the GPT's input adapter or the U-Net's input features.
    pub input: Kernel,
    pub bfn_step: BfnStep,
}

impl Kernels {
    /// The `device`'s shared kernels with those of `kind` and `network` from `compiler`, which are asked for even
    /// when the shared ones are not ready.
    pub fn build<C: Compiler>(
        compiler: &mut C,
        device: Result<DeviceKernels, C::Error>,
        kind: &Kind,
        network: &NetworkConfig,
    ) -> Result<Self, C::Error> {
        let discrete = matches!(kind, Kind::Discrete(_));
        let input = match network {
            NetworkConfig::Gpt(_) => input_adapter(compiler, discrete),
            NetworkConfig::Unet(_) => unet_input(compiler, discrete),
        };
        let bfn_step = BfnStep::build(compiler, kind);
        Ok(Self {
            device: device?,
            input: input?,
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
    /// The name of the architecture's class embedding.
    embedding: &'static str,
    /// The class embedding an unconditional model's examples read: one row of zeros.
    no_classes: wgpu::Buffer,
    /// What the buffers above take.
    memory: GpuMemory,
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
            let Ok(kernels) = Kernels::build(
                &mut &*device,
                Ok(kernels.clone()),
                &kind,
                &weights.config().network,
            );
            Ok(kernels)
        })?;
        Self::from_kernels(device, weights, kernels)
    }

    /// Uploads `weights` to `device`, to run with `kernels`, compiled for its data kind, each tensor in the layout
    /// its architecture's kernels read (`gpt_layout`, `network_unet::unet_layout`).
    pub(crate) fn from_kernels(
        device: &wgpu::Device,
        weights: &Weights,
        kernels: Kernels,
    ) -> Result<Self, GpuError> {
        let config = weights.config().clone();
        let kind = config.validate()?;
        for (name, tensor) in weights.tensors() {
            check_binding(
                device,
                format!("tensor {name}"),
                tensor.values.len() as u64 * 4,
            )?;
        }
        // The tensors as the kernels read them, and the class embedding's width.
        let (arrange, embedding, features): (Box<Arrange>, _, _) = match &config.network {
            NetworkConfig::Gpt(network) => {
                check_attention_shape(config.layout.tokens(), network.width / network.heads)?;
                (
                    Box::new(gpt_layout(&config, network)),
                    LABEL_EMBEDDING,
                    network.width,
                )
            }
            NetworkConfig::Unet(network) => (
                Box::new(unet_layout(&config, network)),
                LABEL_EMB,
                4 * network.channels,
            ),
        };
        let classes = weights
            .tensors()
            .get(embedding)
            .map_or(0, |embedding| embedding.shape[0].saturating_sub(1));
        let (model, memory) = counted(|| {
            checked(device, "the model's weights", || {
                let tensors = weights
                    .tensors()
                    .iter()
                    .map(|(name, tensor)| {
                        (
                            name.clone(),
                            storage_with(device, name, &arrange(name, tensor)),
                        )
                    })
                    .collect();
                let no_classes = storage(device, "no class embedding", features);
                Ok(Self {
                    classes,
                    embedding,
                    config,
                    kind,
                    tensors,
                    kernels,
                    no_classes,
                    memory: GpuMemory::default(),
                })
            })
        });
        model.map(|model| Self { memory, ..model })
    }

    /// The same model on a canvas of `width` × `height` cells, sharing the uploaded weights and the kernels: a
    /// U-Net samples any canvas whose sides are multiples of 2^(levels − 1) in one pass
    /// ([`Weights::with_canvas`]); a GPT only its own.
    pub fn with_canvas(&self, width: usize, height: usize) -> Result<Self, GpuError> {
        let layout = self.config.layout;
        if (layout.width, layout.height) != (width, height)
            && self.config.network.as_gpt().is_some()
        {
            return Err(GpuError::Model(crate::model::WeightsError::Config(
                format!(
                    "a GPT samples the {}×{} canvas it was trained on, not {width}×{height}: its positions are \
                 absolute (a mosaic draws larger maps)",
                    layout.width, layout.height
                ),
            )));
        }
        let config = ModelConfig {
            layout: crate::model::Layout {
                width,
                height,
                ..layout
            },
            ..self.config.clone()
        };
        config.validate()?;
        Ok(Self {
            config,
            kind: self.kind,
            tensors: self.tensors.clone(),
            kernels: self.kernels.clone(),
            classes: self.classes,
            embedding: self.embedding,
            no_classes: self.no_classes.clone(),
            memory: self.memory,
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The buffers it holds on the GPU and their bytes (shared with the same model on other canvases,
    /// [`with_canvas`](Self::with_canvas)).
    pub fn gpu_memory(&self) -> GpuMemory {
        self.memory
    }

    /// Bytes of GPU memory the weights take.
    pub fn memory_bytes(&self) -> u64 {
        self.tensors.values().map(|b| b.size()).sum()
    }

    /// The data kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The class embedding (the GPT's [`LABEL_EMBEDDING`], the U-Net's [`LABEL_EMB`]), or for an unconditional
    /// model one row of zeros, which its examples' "no class" label 0 reads.
    pub(crate) fn label_embedding(&self) -> &wgpu::Buffer {
        self.tensors.get(self.embedding).unwrap_or(&self.no_classes)
    }

    /// The classes of a conditional model; 0 for an unconditional one.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The buffer of a parameter, by its official name. The weights file was checked against its
    /// architecture's parameter list when it was loaded, so every name the network asks for is there.
    pub(crate) fn tensor(&self, name: &str) -> &wgpu::Buffer {
        &self.tensors[name]
    }
}

/// A tensor's values as the kernels read them, from its name and its values as the file holds them.
type Arrange = dyn Fn(&str, &TensorData) -> Vec<f32>;

/// The GPT's tensors as the kernels read them: the weights the matmul multiplies by transposed ([in, out]) so
/// that it reads rows of both operands; the input adapter's as they are.
fn gpt_layout(
    config: &ModelConfig,
    network: &GptConfig,
) -> impl Fn(&str, &TensorData) -> Vec<f32> + use<> {
    let parameters = Parameters::new(config, network);
    let transposed: HashSet<String> = parameters
        .blocks
        .iter()
        .flat_map(Block::layers)
        .chain([&parameters.lm_head])
        .filter(|layer| layer.shape.len() == 2)
        .map(|layer| layer.weight())
        .collect();
    move |name, tensor| match tensor.shape.as_slice() {
        [outputs, inputs] if transposed.contains(name) => {
            transpose(&tensor.values, *outputs, *inputs)
        }
        _ => tensor.values.clone(),
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
