//! What a generator must keep: painted cells, allowed classes, and a finished sample kept but for a region.
//!
//! Constraints live on the generator as a component in the data's own layout — the cells of the map the game
//! shows, not the network's patches — and are placed on the job's variables when a run starts. Changing them
//! starts a new run, as changing a setting does; a restart keeps them. On the GPU they are a buffer the job
//! rewrites in place, so a new run under new constraints needs no new job.

use bevy::prelude::*;

use crate::flow::{AnyDatum, Constraints, Known};
use crate::model::{Layout, ModelConfig, Samples};
use crate::plugin::generator::{BfnGenerator, Run};

/// The constraints of a generator's samples ([`Constraints`]), in the data's layout: cells (pixels) row-major with
/// their channels innermost, as [`ModelConfig::pixel_layout`] gives them. Each list holds one example's variables,
/// which every example of the batch gets, or the variables of each example in turn; an empty list constrains
/// nothing. Known values are classes for a discrete model and values in model units [−1, 1] for the others.
///
/// A list of a length that fits neither is an error on the generator's [`BfnProgress`](crate::plugin::BfnProgress),
/// as are known values the model cannot take (a class out of range, a value for a discrete model).
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct BfnConstraints(pub Constraints<AnyDatum>);

impl BfnConstraints {
    /// No constraint yet, for painting on one example of `layout` ([`ModelConfig::pixel_layout`]).
    pub fn free(layout: Layout) -> Self {
        let n = layout.variables();
        Self(Constraints {
            known: vec![None; n],
            allowed: Vec::new(),
        })
    }

    /// Sets what cell (`x`, `y`) of `layout` holds, channel by channel (`None` frees it), in every example the
    /// lists hold. Cells outside the layout are ignored, so a brush may run off the edge.
    pub fn paint(&mut self, layout: Layout, x: usize, y: usize, known: &[Option<Known<AnyDatum>>]) {
        for slots in cell_slots(&mut self.0.known, layout, x, y) {
            for (slot, known) in slots.iter_mut().zip(known) {
                *slot = *known;
            }
        }
    }

    /// Allows only `classes` at cell (`x`, `y`) of `layout` in every example (`None` lifts the restriction).
    pub fn allow(&mut self, layout: Layout, x: usize, y: usize, classes: Option<Vec<u32>>) {
        for slots in cell_slots(&mut self.0.allowed, layout, x, y) {
            slots.fill(classes.clone());
        }
    }

    /// Hard constraints that keep `samples` (a finished batch, in the network's order) everywhere but in
    /// `region`, with these constraints still applying inside it. `region` holds a flag per cell (not per
    /// channel) of one example, for every example, or of each example in turn.
    pub fn keeping_all_but(
        &self,
        config: &ModelConfig,
        samples: &Samples,
        region: &[bool],
    ) -> crate::error::Result<Self> {
        let pixels = config.pixel_layout();
        let per_example = pixels.variables();
        let values: Vec<AnyDatum> = match samples {
            Samples::Classes(classes) => data_order(config, classes, AnyDatum::Class),
            Samples::Values(values) => data_order(config, values, AnyDatum::Value),
        };
        let examples = values.len() / per_example;
        let cells = pixels.tokens();
        if region.len() != cells && region.len() != cells * examples {
            return Err(crate::error::BfnError::Config(format!(
                "a region of {} flags, but an example has {cells} cells ({} for {examples})",
                region.len(),
                cells * examples
            )));
        }
        let kept = Constraints::keeping(values.into_iter().enumerate().map(|(v, value)| {
            let cell = v / pixels.channels;
            (value, !region[cell % region.len()])
        }));
        Ok(Self(kept.or(&self.repeated(examples * per_example))?))
    }

    /// These constraints with one example's lists repeated to `len` variables.
    fn repeated(&self, len: usize) -> Constraints<AnyDatum> {
        fn repeat<T: Clone>(list: &[T], len: usize) -> Vec<T> {
            list.iter().cycle().take(len).cloned().collect()
        }
        Constraints {
            known: repeat(&self.0.known, len),
            allowed: repeat(&self.0.allowed, len),
        }
    }
}

/// The channels of cell (`x`, `y`) of `layout` in each example `list` holds (one example's worth of free entries
/// first, if it is empty); none for a cell outside the layout.
fn cell_slots<T: Clone>(
    list: &mut Vec<Option<T>>,
    layout: Layout,
    x: usize,
    y: usize,
) -> impl Iterator<Item = &mut [Option<T>]> {
    let inside = x < layout.width && y < layout.height;
    let n = layout.variables();
    if inside && list.is_empty() {
        *list = vec![None; n];
    }
    let first = (y * layout.width + x) * layout.channels;
    let examples = if inside { list.len() / n } else { 0 };
    list.chunks_mut(n)
        .take(examples)
        .map(move |example| &mut example[first..first + layout.channels])
}

/// Every example of `variables` (the network's order) in the data's order, as one list.
fn data_order<T: Copy>(
    config: &ModelConfig,
    variables: &[T],
    datum: impl Fn(T) -> AnyDatum,
) -> Vec<AnyDatum> {
    let examples = variables.len() / config.layout.variables();
    (0..examples)
        .flat_map(|e| crate::model::content::example_variables(config, variables, e))
        .map(datum)
        .collect()
}

/// Samples a region of a generator's finished result again and keeps the rest:
/// `commands.trigger(BfnRegenerate { entity, region })`. The kept cells become hard constraints
/// ([`BfnConstraints::keeping_all_but`]) and the generator starts again on its next seed, so that regenerating
/// one region twice gives new content each time. Without a finished result, it warns and does nothing.
#[derive(EntityEvent, Clone, Debug)]
pub struct BfnRegenerate {
    /// The generator.
    pub entity: Entity,
    /// A flag per cell of one example (for every example) or of each example in turn: true where to sample
    /// again.
    pub region: Vec<bool>,
}

/// [`BfnRegenerate`].
pub(crate) fn regenerate(
    event: On<BfnRegenerate>,
    mut commands: Commands,
    mut generators: Query<(&mut BfnGenerator, &Run, Option<&BfnConstraints>)>,
    models: Res<Assets<crate::plugin::BfnModel>>,
) {
    let Ok((mut generator, run, constraints)) = generators.get_mut(event.entity) else {
        warn!(
            "BfnRegenerate for {}, which is not a generator",
            event.entity
        );
        return;
    };
    let (Some(samples), Some(model)) = (&run.finished, models.get(&generator.model)) else {
        warn!(
            "BfnRegenerate for {}, which has no finished result to keep",
            event.entity
        );
        return;
    };
    let constraints = constraints.cloned().unwrap_or_default();
    let weights = match generator.weights(model) {
        Ok(weights) => weights,
        Err(error) => {
            warn!("BfnRegenerate for {}: canvas: {error}", event.entity);
            return;
        }
    };
    match constraints.keeping_all_but(weights.config(), samples, &event.region) {
        Ok(kept) => {
            commands.entity(event.entity).insert(kept);
            generator.seed = generator.seed.wrapping_add(1);
        }
        Err(error) => warn!("BfnRegenerate for {}: {error}", event.entity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2 × 3 map in 2 × 2 patches would not fit; one cell a token keeps the orders equal, so that what is
    /// tested is the painting and keeping, not the placement (`model::placement` has its own tests).
    fn config() -> ModelConfig {
        serde_json::from_str(
            r#"{"kind":{"type":"discrete","beta_1":1.0,"classes":4},
            "layout":{"height":2,"width":3,"channels":1},
            "network":{"layers":1,"heads":1,"width":8,"positions":"grid"}}"#,
        )
        .unwrap()
    }

    fn held(class: u32) -> Option<Known<AnyDatum>> {
        Some(Known::held(AnyDatum::Class(class)))
    }

    #[test]
    fn painting_sets_one_cell_in_every_example_and_ignores_the_outside() {
        let layout = config().pixel_layout();
        let mut constraints = BfnConstraints::default();
        constraints.paint(layout, 2, 1, &[held(3)]);
        constraints.paint(layout, 3, 0, &[held(1)]);
        constraints.paint(layout, 0, 2, &[held(1)]);
        let mut expected = vec![None; 6];
        expected[5] = held(3);
        assert_eq!(constraints.0.known, expected);

        // Lists of a whole batch: the brush paints the cell of each example.
        constraints.0.known = vec![None; 12];
        constraints.paint(layout, 1, 0, &[held(2)]);
        constraints.allow(layout, 1, 0, Some(vec![0, 2]));
        assert_eq!(constraints.0.known[1], held(2));
        assert_eq!(constraints.0.known[7], held(2));
        assert_eq!(constraints.0.allowed[1], Some(vec![0, 2]));
        assert_eq!(constraints.0.allowed.len(), 6);
    }

    #[test]
    fn keeping_all_but_a_region_holds_the_rest_of_each_example_and_the_paint_inside() {
        let config = config();
        let layout = config.pixel_layout();
        let mut painted = BfnConstraints::free(layout);
        painted.paint(layout, 0, 0, &[held(3)]);
        let samples = Samples::Classes((0..12).map(|v| v % 4).collect());
        // The left column of every example is sampled again.
        let region = [true, false, false, true, false, false];
        let kept = painted.keeping_all_but(&config, &samples, &region).unwrap();
        let expected: Vec<_> = (0..12u32)
            .map(|v| match v % 6 {
                0 => held(3),
                3 => None,
                _ => held(v % 4),
            })
            .collect();
        assert_eq!(kept.0.known, expected);

        let err = painted
            .keeping_all_but(&config, &samples, &[true; 5])
            .unwrap_err()
            .to_string();
        assert!(err.contains("5 flags") && err.contains("6 cells"), "{err}");
    }
}
