//! When a generator starts again, in the main world: a change of settings or of the model's content (a file
//! reloaded from disk gives the asset new weights), of its constraints and [`BfnRestart`] each begin a new [`Run`], which clears the
//! progress and its error, so that a failed generator is retried once something about it changes. Single steps
//! are queued for the render world, which takes them at the next extraction.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::prelude::*;

use crate::plugin::asset::BfnModel;
use crate::plugin::constraints::BfnConstraints;
use crate::plugin::generator::{BfnGenerator, BfnProgress, BfnRestart, BfnStepOnce, Run, RunKey};
use crate::plugin::mosaic::MosaicState;

/// What starting a run reads and writes of a generator.
type RunParts = (
    &'static BfnGenerator,
    Option<&'static BfnConstraints>,
    Option<&'static MosaicState>,
    &'static mut Run,
    &'static mut BfnProgress,
);

/// Begins a new run for every generator whose settings or model changed since its last one.
pub(crate) fn start_runs(mut generators: Query<RunParts>, models: Res<Assets<BfnModel>>) {
    for (generator, constraints, mosaic, mut run, mut progress) in &mut generators {
        let Some(model) = models.get(&generator.model) else {
            // Unloaded, or another model not loaded yet: the job goes, and the next load starts afresh.
            if run.key.is_some() {
                run.epoch += 1;
                run.key = None;
                *progress = BfnProgress::default();
            }
            continue;
        };
        // A mosaic draws windows of the model's own canvas; a generator's canvas is a U-Net's larger one.
        let weights = match (mosaic, generator.weights(model)) {
            (Some(_), _) if generator.canvas.is_some() => Err(
                "a BfnMosaic draws windows of the model's own canvas: give its generator no canvas"
                    .to_owned(),
            ),
            (Some(_), _) => Ok(Arc::clone(&model.weights)),
            (None, weights) => weights.map_err(|e| format!("canvas: {e}")),
        };
        let weights = match weights {
            Ok(weights) => weights,
            Err(error) => {
                if progress.error.as_ref() != Some(&error) {
                    run.epoch += 1;
                    run.key = None;
                    *progress = BfnProgress {
                        error: Some(error),
                        ..default()
                    };
                }
                continue;
            }
        };
        let config = weights.config();
        let mut settings = generator.job_settings(config);
        // A mosaic's run draws its current window, with the window's own seed.
        let window = mosaic.and_then(|m| m.window(settings));
        if let Some((_, window_settings)) = window {
            settings = window_settings;
        }
        // No constraint at all is the same as none given.
        let constraints = constraints.filter(|c| **c != BfnConstraints::default());
        let window_index = window.map(|(w, _)| w.index);
        let unchanged = run.key.as_ref().is_some_and(|current| {
            current.samples(
                settings,
                &weights,
                constraints,
                window_index,
                &generator.guidance,
            )
        });
        if unchanged {
            continue;
        }
        let user = constraints.cloned().unwrap_or_default();
        let placed = match (mosaic, window) {
            (Some(state), Some((window, _))) => {
                state.plan.as_ref().map_err(Clone::clone).and_then(|plan| {
                    plan.constraints_for(window, &user.0)
                        .map_err(|e| format!("constraints: {e}"))
                })
            }
            (Some(state), None) => Err(state.plan.as_ref().err().cloned().unwrap_or_default()),
            (None, _) => config
                .place_constraints(&user.0, settings.batch)
                .map_err(|e| format!("constraints: {e}")),
        }
        .map(Arc::new);
        run.epoch += 1;
        *progress = BfnProgress {
            // The updates of θ the job records: n, or n − 1 for a solver, whose last network call is the sample.
            steps: settings.sampler.updates(settings.steps),
            error: placed.as_ref().err().cloned(),
            windows_done: mosaic.map_or(0, |m| m.next),
            windows: mosaic.map_or(0, MosaicState::windows),
            ..default()
        };
        run.key = Some(RunKey {
            settings,
            weights: Arc::clone(&weights),
            constraints: constraints.cloned(),
            placed,
            window: window_index,
            guidance: generator.guidance.clone(),
        });
    }
}

/// [`BfnRestart`]: a new run with the same settings (a mosaic from its first window).
pub(crate) fn restart(
    event: On<BfnRestart>,
    mut commands: Commands,
    mut generators: Query<(&mut Run, &mut BfnProgress)>,
) {
    let Ok((mut run, mut progress)) = generators.get_mut(event.entity) else {
        warn!("BfnRestart for {}, which is not a generator", event.entity);
        return;
    };
    run.epoch += 1;
    *progress = BfnProgress {
        steps: progress.steps,
        windows: progress.windows,
        ..default()
    };
    commands.entity(event.entity).remove::<MosaicState>();
}

/// Single steps asked for since the last extraction, per generator.
#[derive(Resource, Default)]
pub(crate) struct PendingSteps(pub HashMap<Entity, u32>);

/// [`BfnStepOnce`]: one more step for the render world to take.
pub(crate) fn step_once(
    event: On<BfnStepOnce>,
    generators: Query<(), With<BfnGenerator>>,
    mut pending: ResMut<PendingSteps>,
) {
    if generators.contains(event.entity) {
        *pending.0.entry(event.entity).or_default() += 1;
    } else {
        warn!("BfnStepOnce for {}, which is not a generator", event.entity);
    }
}
