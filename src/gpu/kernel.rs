//! The plumbing every kernel shares: compiling a kernel's description into a pipeline once, binding buffers in
//! binding order, and spreading a dispatch over a 2-D grid of workgroups.

use std::convert::Infallible;

use crate::gpu::error::GpuError;
use crate::gpu::kernel_source::KernelSource;
use crate::gpu::memory;

/// One compiled entry point. Binding `i` of group 0 is the `i`-th buffer given to [`Kernel::bind`].
#[derive(Clone, Debug)]
pub(crate) struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// How a kernel sees a buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Binding {
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
    /// `var<uniform>`.
    Uniform,
}

/// The layout entries of `bindings`, binding `i` the `i`-th, for compute.
pub(crate) fn layout_entries(bindings: &[Binding]) -> Vec<wgpu::BindGroupLayoutEntry> {
    bindings
        .iter()
        .enumerate()
        .map(|(i, binding)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: match binding {
                    Binding::Read => wgpu::BufferBindingType::Storage { read_only: true },
                    Binding::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    Binding::Uniform => wgpu::BufferBindingType::Uniform,
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect()
}

/// Turns kernel descriptions into kernels: at once on a wgpu device, or through an engine's pipeline cache,
/// where a kernel may not be ready yet ([`Compiler::Error`]). The kernel sets ask for all their kernels before
/// they give up on one, so that a cache starts compiling them all at once.
pub(crate) trait Compiler {
    /// Why a kernel is not there: nothing for a device, which reports errors through its error scopes.
    type Error;
    /// The kernel `source` describes.
    fn kernel(&mut self, source: &KernelSource) -> Result<Kernel, Self::Error>;
}

impl Compiler for &wgpu::Device {
    type Error = Infallible;

    fn kernel(&mut self, source: &KernelSource) -> Result<Kernel, Infallible> {
        Ok(Kernel::compile(self, source))
    }
}

impl Kernel {
    /// Compiles `source` on `device`.
    pub fn compile(device: &wgpu::Device, source: &KernelSource) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&source.shader),
            source: wgpu::ShaderSource::Wgsl(source.wgsl.as_str().into()),
        });
        let layout = source.layout.map(|bindings| {
            device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(&source.shader),
                entries: &layout_entries(bindings),
            })
        });
        let pipeline_layout = layout.as_ref().map(|layout| {
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(&source.shader),
                bind_group_layouts: &[Some(layout)],
                immediate_size: 0,
            })
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&source.label()),
            layout: pipeline_layout.as_ref(),
            module: &module,
            entry_point: Some(source.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &[],
                // Every kernel writes its workgroup memory before reading it.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        Self::new(pipeline, layout)
    }

    /// A kernel of a compiled `pipeline`, with its shared `layout` or the one the shader implies.
    pub fn new(pipeline: wgpu::ComputePipeline, layout: Option<wgpu::BindGroupLayout>) -> Self {
        let layout = layout.unwrap_or_else(|| pipeline.get_bind_group_layout(0));
        Self { pipeline, layout }
    }

    /// One dispatch of `groups` workgroups over `buffers` (binding 0 first), bound now and recorded as often as
    /// needed.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) -> Dispatch {
        let resources = buffers.iter().map(|b| b.as_entire_binding()).collect();
        self.bind_resources(device, resources, groups)
    }

    /// [`Kernel::bind`] for any resources (a storage texture among buffers).
    pub fn bind_resources(
        &self,
        device: &wgpu::Device,
        resources: Vec<wgpu::BindingResource>,
        groups: [u32; 3],
    ) -> Dispatch {
        let entries: Vec<wgpu::BindGroupEntry> = resources
            .into_iter()
            .enumerate()
            .map(|(binding, resource)| wgpu::BindGroupEntry {
                binding: binding as u32,
                resource,
            })
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.layout,
            entries: &entries,
        });
        Dispatch {
            pipeline: self.pipeline.clone(),
            bind_group,
            groups,
        }
    }
}

/// A kernel bound to its buffers: what a job records every step, created once.
#[derive(Clone, Debug)]
pub struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

impl Dispatch {
    /// Records the dispatch into `pass`.
    pub fn record(&self, pass: &mut wgpu::ComputePass) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
    }
}

/// The shared WGSL helpers.
pub(crate) mod wgsl {
    /// `element_index`: the 2-D grid of [`super::grid`].
    pub const DISPATCH: &str = include_str!("../../shaders/dispatch.wgsl");
    /// Threefry and the uniform and Gaussian draws.
    pub const RNG: &str = include_str!("../../shaders/rng.wgsl");
    /// `StepEntry`.
    pub const STEP_TABLE: &str = include_str!("../../shaders/step_table.wgsl");
    /// `workgroup_sum` and `workgroup_reduce` over a workgroup of `LANES` lanes.
    pub const WORKGROUP_REDUCE: &str = include_str!("../../shaders/workgroup_reduce.wgsl");
}

/// The most workgroups along one dimension of a dispatch (wgpu's default limit, which every adapter meets).
pub(crate) const MAX_GROUPS_PER_DIMENSION: u32 = 65_535;

/// Fails with [`GpuError::TooLarge`] when a dispatch of `groups` workgroups exceeds the device's per-dimension
/// limit: wgpu would reject the dispatch as a validation error when it is recorded, which ends a Bevy app.
pub(crate) fn check_groups(
    device: &wgpu::Device,
    what: &str,
    groups: [u32; 3],
) -> Result<(), GpuError> {
    let limit = device.limits().max_compute_workgroups_per_dimension;
    match groups.into_iter().max() {
        Some(needed) if needed > limit => Err(GpuError::TooLarge {
            what: format!("{what} ({groups:?} workgroups)"),
            needed: u64::from(needed),
            limit: u64::from(limit),
            limit_name: "max_compute_workgroups_per_dimension",
        }),
        _ => Ok(()),
    }
}

/// Workgroups for `count` elementwise invocations of `workgroup_size`, folded into a second dimension past
/// [`MAX_GROUPS_PER_DIMENSION`]; the shader's `element_index` undoes the folding.
pub(crate) fn grid(count: usize, workgroup_size: u32) -> [u32; 3] {
    let groups = count.div_ceil(workgroup_size as usize).max(1) as u32;
    if groups <= MAX_GROUPS_PER_DIMENSION {
        [groups, 1, 1]
    } else {
        [
            MAX_GROUPS_PER_DIMENSION,
            groups.div_ceil(MAX_GROUPS_PER_DIMENSION),
            1,
        ]
    }
}

/// A storage buffer holding `values`.
pub(crate) fn storage_with<T: bytemuck::Pod>(
    device: &wgpu::Device,
    label: &str,
    values: &[T],
) -> wgpu::Buffer {
    memory::buffer_init(
        device,
        &wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(values),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
        },
    )
}

/// A uniform buffer of 32-bit words (a kernel's dimensions).
pub(crate) fn uniform_with(device: &wgpu::Device, label: &str, words: &[u32]) -> wgpu::Buffer {
    memory::buffer_init(
        device,
        &wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(words),
            usage: wgpu::BufferUsages::UNIFORM,
        },
    )
}

/// An uninitialised storage buffer of `len` 32-bit words.
pub(crate) fn storage(device: &wgpu::Device, label: &str, len: usize) -> wgpu::Buffer {
    memory::buffer(
        device,
        &wgpu::BufferDescriptor {
            label: Some(label),
            size: (len.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        },
    )
}
