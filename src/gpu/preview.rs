//! Host side of `shaders/preview.wgsl`: a job's preview written into an RGBA8 storage texture every time it is
//! recorded, so an engine can draw the flow as it happens without a trip through the CPU.

use crate::error::BfnError;
use crate::gpu::error::GpuError;
use crate::gpu::kernel::{Compiler, Kernel, storage_with, uniform_with};
use crate::gpu::kernel_source::KernelSource;
use crate::gpu::{Dispatch, GpuModel, SamplingJob};
use crate::model::content::{palette, value_stretch};
use crate::model::{KindConfig, ModelConfig};

const SOURCE: &str = include_str!("../../shaders/preview.wgsl");

/// The preview kernel from `compiler` (once per device, in [`crate::gpu::DeviceKernels`]).
pub(crate) fn preview_kernel<C: Compiler>(compiler: &mut C) -> Result<Kernel, C::Error> {
    compiler.kernel(&KernelSource::new("preview", &[SOURCE], "main", &[], None))
}

/// The texture size a job's preview needs, the examples' pixels side by side, `[width, height]`; fails with
/// [`GpuError::TooLarge`] past the device's `max_texture_dimension_2d` (a texture that large would be a validation
/// error, which ends a Bevy app).
pub fn preview_size(
    limits: &wgpu::Limits,
    config: &ModelConfig,
    batch: usize,
) -> Result<[u32; 2], GpuError> {
    if batch == 0 {
        return Err(BfnError::Config("the batch must hold at least one example".into()).into());
    }
    let image = config.pixel_layout();
    let limit = limits.max_texture_dimension_2d;
    let width = image.width.saturating_mul(batch);
    for (what, needed) in [
        ("the preview's width (examples side by side)", width),
        ("the preview's height", image.height),
    ] {
        if needed > limit as usize {
            return Err(GpuError::TooLarge {
                what: what.into(),
                needed: needed as u64,
                limit: limit.into(),
                limit_name: "max_texture_dimension_2d",
            });
        }
    }
    Ok([width as u32, image.height as u32])
}

/// Binds the preview of `job` to `texture` (an `Rgba8Unorm` view with storage binding, of [`preview_size`]).
/// Record the returned dispatch after the job's steps, in the same or a later pass.
pub fn preview_dispatch(
    device: &wgpu::Device,
    model: &GpuModel,
    job: &SamplingJob,
    texture: &wgpu::TextureView,
) -> Result<Dispatch, GpuError> {
    let config = model.config();
    let image = config.pixel_layout();
    let batch = job.settings().batch;
    let [width, height] = preview_size(&device.limits(), config, batch)?;
    let discrete = matches!(config.kind, KindConfig::Discrete { .. });
    let (channels, per_texel) = match config.kind {
        KindConfig::Discrete { classes, .. } => (classes, 1),
        _ => (image.channels as u32, image.channels),
    };
    let per_example = config.layout.variables();
    let mut pixel_variables = Vec::with_capacity(width as usize * height as usize * per_texel);
    for row in 0..image.height {
        for example in 0..batch {
            for column in 0..image.width {
                for channel in 0..per_texel {
                    let v = example * per_example + config.variable_of_pixel(row, column, channel);
                    pixel_variables.push(v as u32);
                }
            }
        }
    }
    let colours: Vec<f32> = palette(config)
        .iter()
        .flat_map(|c| c.map(|b| f32::from(b) / 255.0))
        .collect();
    crate::gpu::device::checked(device, "the preview", || {
        let dims = uniform_with(
            device,
            "preview dims",
            &[
                width,
                height,
                channels,
                u32::from(discrete),
                value_stretch(config).to_bits(),
            ],
        );
        let pixel_variables = storage_with(device, "pixel variables", &pixel_variables);
        // A palette of one transparent colour keeps the binding valid for values.
        let colours = if colours.is_empty() {
            vec![0.0; 4]
        } else {
            colours
        };
        let palette = storage_with(device, "palette", &colours);
        Ok(model.kernels.device.preview.bind_resources(
            device,
            vec![
                job.preview_buffer().as_entire_binding(),
                pixel_variables.as_entire_binding(),
                palette.as_entire_binding(),
                wgpu::BindingResource::TextureView(texture),
                dims.as_entire_binding(),
            ],
            [width.div_ceil(8), height.div_ceil(8), 1],
        ))
    })
}
