//! GPU time per step, measured with timestamp queries around the steps a job records, so that a frame loop can
//! spend a GPU-time budget rather than a fixed number of steps. Needs `Features::TIMESTAMP_QUERY` (Bevy asks for
//! every feature the adapter has; lavapipe and NVIDIA have it).

use crate::gpu::error::GpuError;
use crate::gpu::memory::{self, GpuMemory, counted};
use crate::gpu::read_back::PendingMap;

/// Measures the milliseconds a job's steps take on the GPU, one measurement in flight at a time.
#[derive(Debug)]
pub struct StepTimer {
    queries: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    staging: wgpu::Buffer,
    period_ns: f32,
    /// Steps in the measurement in flight, once recorded.
    in_flight: Option<u32>,
    pending: Option<PendingMap>,
    ms_per_step: Option<f64>,
    memory: GpuMemory,
}

impl StepTimer {
    /// A timer, or `None` where the device cannot write timestamps.
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Option<Self> {
        if !device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let buffer = |label, usage| {
            memory::buffer(
                device,
                &wgpu::BufferDescriptor {
                    label: Some(label),
                    size: 16,
                    usage,
                    mapped_at_creation: false,
                },
            )
        };
        let ((resolved, staging), memory) = counted(|| {
            (
                buffer(
                    "step timer resolve",
                    wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                ),
                buffer(
                    "step timer read-back",
                    wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                ),
            )
        });
        Some(Self {
            queries: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("step timer"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolved,
            staging,
            period_ns: queue.get_timestamp_period(),
            in_flight: None,
            pending: None,
            ms_per_step: None,
            memory,
        })
    }

    /// Claims the timer for a pass of `steps` steps, if no measurement is in flight; the pass then takes
    /// [`writes`](Self::writes) and [`finish_pass`](Self::finish_pass) follows it in the same encoder.
    pub(crate) fn pass_writes(&mut self, steps: u32) -> Option<()> {
        if self.in_flight.is_some() || steps == 0 {
            return None;
        }
        self.in_flight = Some(steps);
        Some(())
    }

    /// The timestamp writes around a timed pass.
    pub(crate) fn writes(&self) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.queries,
            beginning_of_pass_write_index: Some(0),
            end_of_pass_write_index: Some(1),
        }
    }

    /// Resolves the timestamps of the pass just timed into the read-back buffer.
    pub(crate) fn finish_pass(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.resolve_query_set(&self.queries, 0..2, &self.resolved, 0);
        encoder.copy_buffer_to_buffer(&self.resolved, 0, &self.staging, 0, 16);
    }

    /// Call once a frame after the submission: asks for the timestamps, or takes them when they have arrived.
    /// A failed read-back loses that one measurement (the timer is free for the next) and is returned.
    pub fn poll(&mut self) -> Result<(), GpuError> {
        let Some(steps) = self.in_flight else {
            return Ok(());
        };
        let Some(pending) = &self.pending else {
            self.pending = Some(PendingMap::request(&self.staging, 16));
            return Ok(());
        };
        let Some(words) = pending.try_words(&self.staging) else {
            return Ok(());
        };
        self.pending = None;
        self.in_flight = None;
        let words = words?;
        let stamp = |i: usize| u64::from(words[2 * i]) | (u64::from(words[2 * i + 1]) << 32);
        let ticks = stamp(1).saturating_sub(stamp(0));
        let ms = ticks as f64 * f64::from(self.period_ns) / 1e6 / f64::from(steps);
        // A moving average: one frame's measurement is noisy.
        self.ms_per_step = Some(self.ms_per_step.map_or(ms, |old| 0.7 * old + 0.3 * ms));
        Ok(())
    }

    /// Its two buffers (the timestamps resolved, and their read-back).
    pub fn gpu_memory(&self) -> GpuMemory {
        self.memory
    }

    /// The latest estimate of GPU milliseconds per step.
    pub fn ms_per_step(&self) -> Option<f64> {
        self.ms_per_step
    }

    /// Steps that fit `budget_ms` at the current estimate: at least one, and one while nothing is measured yet.
    pub fn steps_within(&self, budget_ms: f64) -> u32 {
        self.ms_per_step
            .filter(|ms| *ms > 0.0)
            .map_or(1, |ms| (budget_ms / ms).floor().clamp(1.0, 1024.0) as u32)
    }
}
