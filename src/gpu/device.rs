//! A device of one's own, for callers outside Bevy (the benchmark, the tests, a tool): the best adapter the
//! environment offers, with its full limits.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::gpu::error::GpuError;

/// A wgpu device and queue with the adapter they came from.
#[derive(Debug)]
pub struct GpuContext {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// What the adapter is (name, backend, driver): benchmarks print it.
    pub adapter: wgpu::AdapterInfo,
}

impl GpuContext {
    /// The high-performance adapter of the backends `WGPU_BACKEND` allows (all by default), with every limit
    /// it has, so that large jobs fit where the hardware lets them, and timestamp queries where it has them
    /// (for [`crate::gpu::StepTimer`]).
    pub fn new() -> Result<Self, GpuError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
        }))
        .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let (device, queue) = block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("bevy_bfn"),
            required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        Ok(Self {
            device,
            queue,
            adapter: adapter.get_info(),
        })
    }
}

/// Runs a wgpu future to completion. On native backends wgpu's futures are ready at once or after a device
/// poll, so polling in a loop with a no-op waker is enough and needs no executor.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}

/// Runs `create` inside validation and out-of-memory error scopes and turns a captured error into
/// [`GpuError::Device`]: wgpu reports creation errors through scopes, not return values.
pub(crate) fn checked<T>(
    device: &wgpu::Device,
    what: &'static str,
    create: impl FnOnce() -> Result<T, GpuError>,
) -> Result<T, GpuError> {
    let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let created = create();
    let errors = [block_on(validation.pop()), block_on(memory.pop())];
    if let Some(error) = errors.into_iter().flatten().next() {
        return Err(GpuError::Device {
            what,
            message: error.to_string(),
        });
    }
    created
}
