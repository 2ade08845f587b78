//! The corridor the paint example and the studio's `--paint` put on the dungeon model: hard floor in from the left
//! edge on row 4, down column 10 and out to the right edge on row 11, and a dry entrance where water and lava are
//! not allowed.

use bevy_bfn::flow::{AnyDatum, Known};
use bevy_bfn::model::ModelConfig;
use bevy_bfn::plugin::BfnConstraints;

/// The corridor's cells.
pub fn cells() -> impl Iterator<Item = (usize, usize)> {
    let across = (0..=10).map(|x| (x, 4));
    let down = (5..=11).map(|y| (10, y));
    let out = (11..16).map(|x| (x, 11));
    across.chain(down).chain(out)
}

/// The corridor and the dry entrance as constraints of the dungeon model, or why they cannot be: a legend
/// without floor, water or lava.
pub fn constraints(config: &ModelConfig) -> Result<BfnConstraints, String> {
    let class = |name: &str| {
        config
            .legend
            .iter()
            .position(|entry| entry.starts_with(name))
            .map(|class| class as u32)
            .ok_or(format!("the model's legend has no {name}"))
    };
    let (floor, water, lava) = (class("floor")?, class("water")?, class("lava")?);
    let layout = config.pixel_layout();
    let mut constraints = BfnConstraints::free(layout);
    let dry: Vec<u32> = (0..config.legend.len() as u32)
        .filter(|c| ![water, lava].contains(c))
        .collect();
    for (x, y) in (0..4).flat_map(|x| (1..8).map(move |y| (x, y))) {
        constraints.allow(layout, x, y, Some(dry.clone()));
    }
    let floor = [Some(Known::held(AnyDatum::Class(floor)))];
    for (x, y) in cells() {
        constraints.paint(layout, x, y, &floor);
    }
    Ok(constraints)
}
