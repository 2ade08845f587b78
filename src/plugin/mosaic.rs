//! Maps larger than the model's canvas in a game: a generator with [`BfnMosaic`] draws its maps window by window
//! ([`Mosaic`]), one run per window on the GPU, each constrained by the cells the earlier windows generated, and
//! sends one [`BfnFinished`](crate::plugin::BfnFinished) with the whole maps when the last window is in.

use std::sync::Arc;

use bevy::prelude::*;

use crate::gpu::JobSettings;
use crate::model::mosaic::{MapShape, Mosaic, Window, window_seed};
use crate::model::{Samples, Weights};
use crate::plugin::asset::BfnModel;
use crate::plugin::constraints::BfnConstraints;
use crate::plugin::generator::BfnGenerator;

/// Draws a generator's examples as maps of this size, larger than its model's canvas (64 × 48 from a 16 × 16
/// model), by overlapping windows of the canvas; optionally tileable, so that copies of a map laid side by side
/// show no seam. The generator's [`BfnConstraints`] are then given in the map's layout (cells of the whole map),
/// its seed is the first window's, and its preview shows the window being drawn.
///
/// ```no_run
/// # use bevy::prelude::*;
/// # use bevy_bfn::plugin::{BfnGenerator, BfnMosaic};
/// # fn setup(mut commands: Commands, assets: Res<AssetServer>) {
/// commands.spawn((
///     BfnGenerator::new(assets.load("models/dungeon.safetensors")),
///     BfnMosaic::new(64, 48).tileable(),
/// ));
/// # }
/// ```
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct BfnMosaic(pub MapShape);

impl BfnMosaic {
    /// Maps of `width` × `height` cells.
    pub fn new(width: usize, height: usize) -> Self {
        Self(MapShape {
            width,
            height,
            tileable: false,
        })
    }

    /// Maps that wrap around.
    pub fn tileable(mut self) -> Self {
        self.0.tileable = true;
        self
    }
}

/// A generator's mosaic as planned for its current settings, and how far it is.
#[derive(Component)]
pub(crate) struct MosaicState {
    /// The plan and the cells so far, or why there is none (a map smaller than the canvas, a sequence model).
    pub plan: Result<Mosaic, String>,
    /// The window being drawn; the number of windows once all are in.
    pub next: usize,
    basis: Basis,
}

/// What a mosaic was planned for: a change of any part plans it again from its first window.
#[derive(Clone, Debug)]
struct Basis {
    shape: MapShape,
    settings: JobSettings,
    weights: Arc<Weights>,
    constraints: Option<BfnConstraints>,
}

impl PartialEq for Basis {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape
            && self.settings == other.settings
            && Arc::ptr_eq(&self.weights, &other.weights)
            && self.constraints == other.constraints
    }
}

impl MosaicState {
    /// The window the generator's run draws now, and its settings (the window's own seed), if there is a plan.
    pub fn window(&self, settings: JobSettings) -> Option<(Window, JobSettings)> {
        let mosaic = self.plan.as_ref().ok()?;
        let windows = mosaic.windows();
        // Once every window is in, the last one's run stays the run, so that nothing starts again.
        let window = windows[self.next.min(windows.len() - 1)];
        let seed = window_seed(settings.seed, window.index);
        Some((window, JobSettings { seed, ..settings }))
    }

    /// Takes the samples of `window`'s run; returns the whole maps once it was the last.
    pub fn insert(&mut self, window: usize, samples: &Samples) -> Result<Option<Samples>, String> {
        let mosaic = self.plan.as_mut().map_err(|e| e.clone())?;
        if window != self.next {
            return Ok(None);
        }
        let at = mosaic.windows()[window];
        mosaic.insert(at, samples).map_err(|e| e.to_string())?;
        self.next += 1;
        if self.next < mosaic.windows().len() {
            return Ok(None);
        }
        mosaic.finish().map(Some).map_err(|e| e.to_string())
    }

    /// Windows in all (0 without a plan).
    pub fn windows(&self) -> usize {
        self.plan.as_ref().map_or(0, |m| m.windows().len())
    }
}

/// What planning reads of a generator.
type MosaicParts = (
    Entity,
    &'static BfnGenerator,
    &'static BfnMosaic,
    Option<&'static BfnConstraints>,
    Option<&'static MosaicState>,
);

/// Plans a mosaic for every generator with [`BfnMosaic`] whose model is loaded, again whenever its shape,
/// settings, model or constraints change; drops the plans of generators that no longer have one.
pub(crate) fn plan_mosaics(
    mut commands: Commands,
    generators: Query<MosaicParts>,
    dropped: Query<Entity, (With<MosaicState>, Without<BfnMosaic>)>,
    models: Res<Assets<BfnModel>>,
) {
    for entity in &dropped {
        commands.entity(entity).remove::<MosaicState>();
    }
    for (entity, generator, mosaic, constraints, state) in &generators {
        let Some(model) = models.get(&generator.model) else {
            continue;
        };
        let config = model.weights.config();
        let basis = Basis {
            shape: mosaic.0,
            settings: generator.job_settings(config),
            weights: Arc::clone(&model.weights),
            constraints: constraints.cloned(),
        };
        if state.is_some_and(|s| s.basis == basis) {
            continue;
        }
        let plan =
            Mosaic::new(config, mosaic.0, generator.batch).map_err(|e| format!("mosaic: {e}"));
        commands.entity(entity).insert(MosaicState {
            plan,
            next: 0,
            basis,
        });
    }
}
