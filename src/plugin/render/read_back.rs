//! The read-backs of the render world, moved along once a frame without waiting: the samples when a job
//! finishes, θ every frame for a watched generator, and the step timer's timestamps. A copy is recorded with the
//! steps; the next frame, once it has been submitted, the mapping is asked for; a later frame takes it, and the job,
//! its run over, is freed.

use bevy::prelude::*;

use crate::gpu::PendingMap;
use crate::gpu::memory::{self, GpuMemory};
use crate::plugin::render::extract::ExtractedGenerators;
use crate::plugin::render::jobs::BfnJobs;
use crate::plugin::reports::{News, Reports};

/// Where a job's result is on its way back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadBack {
    /// Not finished yet.
    Waiting,
    /// The copy was recorded this frame; map it once it is submitted.
    Copied,
    /// Mapping; once delivered, the job is freed.
    Requested,
}

/// A watched generator's θ on its way back: the read-back buffer (made the first time it is watched) and the
/// step it holds, once copied.
pub(crate) struct ThetaWatch {
    pub staging: wgpu::Buffer,
    pub copied: Option<u32>,
    pending: Option<PendingMap>,
}

impl ThetaWatch {
    /// A watch for a θ buffer of `size` bytes.
    pub fn new(device: &wgpu::Device, size: u64) -> Self {
        Self {
            staging: memory::buffer(
                device,
                &wgpu::BufferDescriptor {
                    label: Some("θ watch"),
                    size,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                },
            ),
            copied: None,
            pending: None,
        }
    }

    /// Its one buffer.
    pub fn gpu_memory(&self) -> GpuMemory {
        GpuMemory {
            buffers: 1,
            bytes: self.staging.size(),
        }
    }

    /// Maps a copied θ once it has been submitted, and returns it with its step once mapped; then the watch is
    /// free for the next frame's copy.
    fn advance(&mut self) -> Option<News> {
        let step = self.copied?;
        let Some(pending) = &self.pending else {
            self.pending = Some(PendingMap::request(&self.staging, self.staging.size()));
            return None;
        };
        let words = pending.try_words(&self.staging)?;
        self.pending = None;
        self.copied = None;
        Some(match words {
            Ok(words) => News::Theta {
                step,
                theta: words.into_iter().map(f32::from_bits).collect(),
            },
            Err(error) => News::Failed(format!("reading θ back: {error}")),
        })
    }
}

/// Moves every job's read-backs along and reports what arrived.
pub(crate) fn poll_read_backs(
    mut jobs: ResMut<BfnJobs>,
    extracted: Res<ExtractedGenerators>,
    reports: Res<Reports>,
) {
    let mut delivered = Vec::new();
    for generator in &extracted.generators {
        let Some(generation) = jobs.jobs.get_mut(&generator.entity) else {
            continue;
        };
        let (entity, epoch) = (generator.entity, generation.epoch);
        let report = |news| reports.send(entity, epoch, news);
        if let Some(news) = generation.watch.as_mut().and_then(ThetaWatch::advance) {
            report(news);
        }
        if let Some(Err(error)) = generation.timer.as_mut().map(|timer| timer.poll()) {
            // Only the GPU-time budget depends on it, and it keeps its last estimate.
            warn_once!(
                "bevy_bfn: a step timing could not be read back ({error}); later ones may be"
            );
        }
        match generation.read_back {
            ReadBack::Copied => {
                generation.job.request_samples();
                generation.read_back = ReadBack::Requested;
            }
            ReadBack::Requested => match generation.job.take_samples() {
                Some(Ok(samples)) => {
                    delivered.push((entity, epoch));
                    report(News::Finished(samples));
                }
                Some(Err(error)) => {
                    delivered.push((entity, epoch));
                    report(News::Failed(format!("reading the samples back: {error}")));
                }
                None => {}
            },
            ReadBack::Waiting => {}
        }
    }
    for (entity, epoch) in delivered {
        jobs.settle(entity, epoch);
    }
}
