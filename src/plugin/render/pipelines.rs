//! The kernels as Bevy shaders and pipelines: each kernel variant (per data kind, class count, epilogue) is one
//! [`Shader`] and one pipeline queued through Bevy's [`PipelineCache`], once, and shared by every model that
//! needs it. Bevy compiles them in its pipeline tasks, so loading a model does not stall a frame: a generator
//! waits until its pipelines are ready.

use std::collections::HashMap;

use bevy::asset::uuid::Uuid;
use bevy::prelude::*;
use bevy::render::render_resource::{
    BindGroupLayoutDescriptor, CachedComputePipelineId, CachedPipelineState,
    ComputePipelineDescriptor, Pipeline, PipelineCache,
};
use bevy::shader::{ShaderCacheError, ValidateShader};

use crate::gpu::kernel::{Compiler, Kernel, layout_entries};
use crate::gpu::kernel_source::KernelSource;
use crate::gpu::model::Kernels;
use crate::gpu::{DeviceKernels, GpuError};
use crate::model::{Kind, NetworkConfig};

/// The render world's shaders and pipelines, and the kind-independent kernels once theirs are ready.
#[derive(Resource, Default)]
pub(crate) struct BfnPipelines {
    /// By [`KernelSource::shader`].
    shaders: HashMap<String, Handle<Shader>>,
    /// By [`KernelSource::shader`] and entry point.
    pipelines: HashMap<(String, &'static str), CachedComputePipelineId>,
    /// Made once per device, for every model.
    device: Option<DeviceKernels>,
}

/// Why a model's kernels are not there.
pub(crate) enum NotReady {
    /// Bevy is still compiling some of them.
    Compiling,
    /// One failed to compile.
    Failed(GpuError),
}

impl BfnPipelines {
    /// The kernels of a model of `kind` with `network`, queueing the pipelines not yet queued.
    pub fn kernels(
        &mut self,
        cache: &mut PipelineCache,
        kind: &Kind,
        network: &NetworkConfig,
    ) -> Result<Kernels, NotReady> {
        let mut queue = Queue {
            cache,
            shaders: &mut self.shaders,
            pipelines: &mut self.pipelines,
        };
        let device = match &self.device {
            Some(device) => Ok(device.clone()),
            None => DeviceKernels::build(&mut queue),
        };
        if let Ok(device) = &device {
            self.device.get_or_insert_with(|| device.clone());
        }
        Kernels::build(&mut queue, device, kind, network)
    }
}

/// Kernels through Bevy's pipeline cache.
struct Queue<'a> {
    cache: &'a mut PipelineCache,
    shaders: &'a mut HashMap<String, Handle<Shader>>,
    pipelines: &'a mut HashMap<(String, &'static str), CachedComputePipelineId>,
}

impl Queue<'_> {
    /// The shader of `source`, set into the cache the first time. It is set straight into the render world's
    /// cache rather than added to the main world's assets: the variants are known only here, once a model
    /// arrives. Validated like the standalone path's
    /// modules, with the runtime bounds checks Bevy leaves out by default.
    fn shader(&mut self, source: &KernelSource) -> Handle<Shader> {
        if let Some(shader) = self.shaders.get(&source.shader) {
            return shader.clone();
        }
        let handle = Handle::from(Uuid::new_v4());
        let mut shader = Shader::from_wgsl(
            source.wgsl.clone(),
            format!("bevy_bfn/{}.wgsl", source.shader),
        );
        shader.validate_shader = ValidateShader::Enabled;
        self.cache.set_shader(handle.id(), shader);
        self.shaders.insert(source.shader.clone(), handle.clone());
        handle
    }
}

impl Compiler for Queue<'_> {
    type Error = NotReady;

    fn kernel(&mut self, source: &KernelSource) -> Result<Kernel, NotReady> {
        let layout = source
            .layout
            .map(|bindings| BindGroupLayoutDescriptor::new("bevy_bfn", &layout_entries(bindings)));
        let key = (source.shader.clone(), source.entry);
        let id = match self.pipelines.get(&key) {
            Some(id) => *id,
            None => {
                let shader = self.shader(source);
                let id = self
                    .cache
                    .queue_compute_pipeline(ComputePipelineDescriptor {
                        label: Some(format!("bevy_bfn {}", source.label()).into()),
                        layout: layout.iter().cloned().collect(),
                        shader,
                        entry_point: Some(source.entry.into()),
                        // Every kernel writes its workgroup memory before reading it.
                        zero_initialize_workgroup_memory: false,
                        ..default()
                    });
                self.pipelines.insert(key, id);
                id
            }
        };
        match self.cache.get_compute_pipeline_state(id) {
            CachedPipelineState::Ok(Pipeline::ComputePipeline(pipeline)) => Ok(Kernel::new(
                (**pipeline).clone(),
                layout.map(|layout| (*self.cache.get_bind_group_layout(&layout)).clone()),
            )),
            CachedPipelineState::Queued
            | CachedPipelineState::Creating(_)
            | CachedPipelineState::Err(
                ShaderCacheError::ShaderNotLoaded(_)
                | ShaderCacheError::ShaderImportNotYetAvailable,
            ) => Err(NotReady::Compiling),
            CachedPipelineState::Err(error) => Err(NotReady::Failed(GpuError::Device {
                what: "a kernel's pipeline",
                message: format!("{}: {error}", source.label()),
            })),
            CachedPipelineState::Ok(Pipeline::RenderPipeline(_)) => {
                unreachable!("a compute pipeline's id names a render pipeline")
            }
        }
    }
}
