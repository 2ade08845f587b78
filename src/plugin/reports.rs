//! What the render world tells the main world: a channel that is a resource in both, filled by the render world
//! and drained by the main world every frame. Each report names the run it belongs to; with pipelined rendering
//! a report can still be on its way when the generator starts again, and such a report is dropped.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bevy::prelude::*;

use crate::model::Samples;
use crate::plugin::asset::BfnModel;
use crate::plugin::budget::{BfnFrame, BfnGpuMemory};
use crate::plugin::generator::{BfnFinished, BfnGenerator, BfnProgress, BfnWatch, Run};
use crate::plugin::mosaic::MosaicState;
use crate::plugin::output::BfnOutput;

/// One report of the render world about one run of a generator.
#[derive(Debug)]
pub(crate) struct Report {
    pub entity: Entity,
    /// [`Run::epoch`] of the run reported on.
    pub epoch: u32,
    pub news: News,
}

/// What happened.
#[derive(Debug)]
pub(crate) enum News {
    /// Steps recorded so far, and the GPU time per step if measured.
    Progress {
        steps_done: u32,
        gpu_ms_per_step: Option<f32>,
    },
    /// The samples arrived.
    Finished(Samples),
    /// θ at a step, for a watched generator.
    Theta { step: u32, theta: Vec<f32> },
    /// The generator cannot run, or a read-back failed.
    Failed(String),
}

/// The channel between the worlds.
#[derive(Resource, Clone, Default)]
pub(crate) struct Reports(Arc<Mutex<Channel>>);

/// What is in the channel.
#[derive(Default)]
struct Channel {
    reports: Vec<Report>,
    /// The frames recorded since the main world last looked, oldest first.
    frames: Vec<BfnFrame>,
    /// What the plugin held on the GPU at the last frame.
    held: Option<BfnGpuMemory>,
}

impl Reports {
    /// The channel, locked. A panic elsewhere while the lock was held leaves the lists themselves intact, so a
    /// poisoned lock is taken over rather than losing a report.
    fn lock(&self) -> MutexGuard<'_, Channel> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends a report.
    pub fn send(&self, entity: Entity, epoch: u32, news: News) {
        self.lock().reports.push(Report {
            entity,
            epoch,
            news,
        });
    }

    /// Sends what a frame recorded and what the plugin holds on the GPU.
    pub fn send_frame(&self, frame: BfnFrame, held: BfnGpuMemory) {
        let mut channel = self.lock();
        channel.frames.push(frame);
        channel.held = Some(held);
    }

    fn drain(&self) -> Vec<Report> {
        std::mem::take(&mut self.lock().reports)
    }

    /// The frames recorded since the last call, and the latest count of what the plugin holds.
    pub fn drain_frames(&self) -> (Vec<BfnFrame>, Option<BfnGpuMemory>) {
        let mut channel = self.lock();
        (std::mem::take(&mut channel.frames), channel.held.take())
    }
}

/// Takes the render world's reports: updates [`BfnProgress`] and [`BfnWatch`], sends [`BfnFinished`].
pub(crate) fn collect_reports(
    reports: Res<Reports>,
    mut generators: Query<(
        &BfnGenerator,
        &mut Run,
        &mut BfnProgress,
        Option<&mut MosaicState>,
    )>,
    models: Res<Assets<BfnModel>>,
    mut finished: MessageWriter<BfnFinished>,
    mut watches: Query<&mut BfnWatch>,
) {
    for report in reports.drain() {
        let Ok((generator, mut run, mut progress, mosaic)) = generators.get_mut(report.entity)
        else {
            continue;
        };
        if run.epoch != report.epoch {
            continue;
        }
        match report.news {
            News::Progress {
                steps_done,
                gpu_ms_per_step,
            } => {
                progress.steps_done = steps_done;
                progress.gpu_ms_per_step = gpu_ms_per_step.or(progress.gpu_ms_per_step);
            }
            News::Finished(samples) => {
                let Some(model) = models.get(&generator.model) else {
                    progress.error =
                        Some("the model was unloaded before the result could be decoded".into());
                    continue;
                };
                let (config, samples) = match mosaic {
                    None => match generator.weights(model) {
                        Ok(weights) => (weights.config().clone(), samples),
                        Err(error) => {
                            progress.error = Some(format!("canvas: {error}"));
                            continue;
                        }
                    },
                    // A window's samples go into the mosaic; the maps come out once the last is in.
                    Some(mut mosaic) => {
                        let window = run.key.as_ref().and_then(|k| k.window).unwrap_or_default();
                        match mosaic.insert(window, &samples) {
                            Ok(Some(maps)) => {
                                progress.windows_done = mosaic.next;
                                let plan = mosaic.plan.as_ref().expect("a mosaic that finished");
                                (plan.map_config(), maps)
                            }
                            Ok(None) => {
                                progress.windows_done = mosaic.next;
                                continue;
                            }
                            Err(error) => {
                                progress.error = Some(error);
                                continue;
                            }
                        }
                    }
                };
                progress.finished = true;
                finished.write(BfnFinished {
                    entity: report.entity,
                    output: BfnOutput::from_samples(&config, &samples),
                });
                run.finished = Some(samples).filter(|_| progress.windows == 0);
            }
            News::Theta { step, theta } => {
                if let Ok(mut watch) = watches.get_mut(report.entity) {
                    watch.step = step;
                    watch.theta = theta;
                }
            }
            News::Failed(message) => progress.error = Some(message),
        }
    }
}
