//! What the render world takes of the main world each frame: every generator whose model is loaded, with the
//! run it is on, and the single steps asked for since the last frame.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::prelude::*;
use bevy::render::MainWorld;

use crate::flow::{AnyDatum, Constraints};
use crate::gpu::JobSettings;
use crate::model::{Guidance, Weights};
use crate::plugin::asset::BfnModel;
use crate::plugin::budget::{ActiveSettings, BfnPriority, BfnSettings};
use crate::plugin::generator::{BfnGenerator, BfnPreview, BfnWatch, Run};
use crate::plugin::run::PendingSteps;

/// A generator as extracted this frame.
pub(crate) struct Extracted {
    pub entity: Entity,
    pub model: AssetId<BfnModel>,
    pub weights: Arc<Weights>,
    pub settings: JobSettings,
    /// On the job's variables; empty for none.
    pub constraints: Arc<Constraints<AnyDatum>>,
    pub guidance: Guidance,
    /// [`Run::epoch`]: a job on another epoch starts again.
    pub epoch: u32,
    pub steps_per_frame: u32,
    pub gpu_budget_ms: Option<f32>,
    pub paused: bool,
    pub preview: AssetId<Image>,
    pub watched: bool,
    /// [`BfnPriority`], at least 1.
    pub priority: u32,
}

impl Extracted {
    /// What the cost of its job's step depends on: the model on its canvas, the batch and whether guidance runs
    /// the network twice. Jobs of one key share their measured time per step.
    pub fn cost_key(&self) -> (usize, usize, bool) {
        (
            Arc::as_ptr(&self.weights) as usize,
            self.settings.batch,
            self.guidance.is_guided(),
        )
    }
}

/// This frame's generators, the single steps asked for and not yet taken, and the game-wide caps.
#[derive(Resource, Default)]
pub(crate) struct ExtractedGenerators {
    pub generators: Vec<Extracted>,
    pub single_steps: HashMap<Entity, u32>,
    pub settings: BfnSettings,
}

/// What is extracted of each generator.
type GeneratorParts<'a> = (
    Entity,
    &'a BfnGenerator,
    &'a Run,
    &'a BfnPreview,
    Has<BfnWatch>,
    Option<&'a BfnPriority>,
);

/// Reads the generators through a query state of its own rather than `Extract`, since it also drains the main
/// world's [`PendingSteps`], which needs the main world mutably.
pub(crate) fn extract_generators(
    mut extracted: ResMut<ExtractedGenerators>,
    mut main_world: ResMut<MainWorld>,
    mut generators: Local<Option<QueryState<GeneratorParts<'static>>>>,
) {
    let extracted = &mut *extracted;
    extracted.generators.clear();
    for (entity, steps) in main_world.resource_mut::<PendingSteps>().0.drain() {
        *extracted.single_steps.entry(entity).or_default() += steps;
    }
    extracted.settings = main_world.resource::<ActiveSettings>().0;
    let generators = generators.get_or_insert_with(|| main_world.query());
    let models = main_world.resource::<Assets<BfnModel>>();
    for (entity, generator, run, preview, watched, priority) in generators.iter(&main_world) {
        // No key: the model is not loaded. Constraints that cannot be placed: the error is on the generator.
        let Some(key) = &run.key else {
            continue;
        };
        let Ok(constraints) = &key.placed else {
            continue;
        };
        if models.get(&generator.model).is_none() {
            continue;
        }
        extracted.generators.push(Extracted {
            entity,
            model: generator.model.id(),
            weights: Arc::clone(&key.weights),
            settings: key.settings,
            constraints: Arc::clone(constraints),
            guidance: key.guidance.clone(),
            epoch: run.epoch,
            steps_per_frame: generator.steps_per_frame,
            gpu_budget_ms: generator.gpu_budget_ms,
            paused: generator.paused,
            preview: preview.image.id(),
            watched,
            priority: priority.map_or(1, |p| p.0.max(1)),
        });
    }
    extracted
        .single_steps
        .retain(|entity, _| extracted.generators.iter().any(|g| g.entity == *entity));
}
