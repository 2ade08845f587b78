//! Maps larger than the canvas (`model::mosaic`), driven by the CPU sampler on the shipped 16 × 16 models: each
//! cell comes from the window that generated it, cells a window knows come back exactly, a tileable map's closing
//! windows see both sides of its wrap, a user's constraints on the big map are kept, and bad plans are errors.
#![cfg(feature = "train")]

use bevy_bfn::flow::{AnyDatum, Constraints, Known, RuntimeDatum, SamplingMethod};
use bevy_bfn::measure::sample_mosaic::sample_mosaic;
use bevy_bfn::measure::sample_sheet::{sample_constrained, sample_with};
use bevy_bfn::model::content::example_variables;
use bevy_bfn::model::mosaic::{MapShape, Mosaic, window_seed};
use bevy_bfn::model::{Samples, Weights};

/// Few steps keep the debug build quick; what is tested does not depend on the samples being good.
const STEPS: u32 = 3;

fn weights(model: &str) -> Weights {
    Weights::load(format!("assets/models/{model}.safetensors")).unwrap()
}

fn shape(width: usize, height: usize, tileable: bool) -> MapShape {
    MapShape {
        width,
        height,
        tileable,
    }
}

fn none() -> Constraints<AnyDatum> {
    Constraints::default()
}

/// Every value of `samples` as a datum of either type.
fn data(samples: &Samples) -> Vec<AnyDatum> {
    match samples {
        Samples::Classes(c) => c.iter().map(|&c| AnyDatum::Class(c)).collect(),
        Samples::Values(v) => v.iter().map(|&v| AnyDatum::Value(v)).collect(),
    }
}

/// Runs the mosaic by hand, checking at every window that its known cells come back exactly, and then that every
/// cell of the finished map is the value its owner window drew there.
fn check_windows(model: &str, map: MapShape, count: usize) -> Mosaic {
    let weights = weights(model);
    let config = weights.config();
    let canvas = config.pixel_layout();
    let mut mosaic = Mosaic::new(config, map, count).unwrap();
    let mut drawn = Vec::new();
    let mut known_cells = 0;
    for window in mosaic.windows().to_vec() {
        let constraints = mosaic.constraints_for(window, &none()).unwrap();
        let samples = sample_constrained(
            &weights,
            count,
            STEPS,
            window_seed(7, window.index),
            SamplingMethod::Standard,
            &constraints,
        )
        .unwrap();
        let values = data(&samples);
        for (v, known) in constraints.known.iter().enumerate() {
            if let Some(known) = known {
                assert_eq!(values[v], known.value, "window {window:?} variable {v}");
                known_cells += 1;
            }
        }
        if window.index > 0 {
            assert!(known_cells > 0, "window {window:?} knows nothing");
        }
        mosaic.insert(window, &samples).unwrap();
        drawn.push(values);
    }
    let map_config = mosaic.map_config();
    let finished = data(&mosaic.finish().unwrap());
    let n = map.width * map.height * canvas.channels;
    for example in 0..count {
        for y in 0..map.height {
            for x in 0..map.width {
                let owner = mosaic.owner(x, y).expect("every cell is generated");
                let window = mosaic.windows()[owner];
                let (column, row) = (
                    (x + map.width - window.x) % map.width,
                    (y + map.height - window.y) % map.height,
                );
                assert!(column < canvas.width && row < canvas.height);
                let of_window: Vec<AnyDatum> =
                    example_variables(config, &drawn[owner], example).collect();
                for channel in 0..canvas.channels {
                    let in_window =
                        of_window[(row * canvas.width + column) * canvas.channels + channel];
                    let in_map =
                        finished[example * n + (y * map.width + x) * canvas.channels + channel];
                    assert_eq!(in_map, in_window, "cell ({x}, {y}) of example {example}");
                }
            }
        }
    }
    assert_eq!(map_config.pixel_layout().width, map.width);
    mosaic
}

#[test]
fn every_cell_is_its_windows_and_known_cells_are_kept_for_classes() {
    let mosaic = check_windows("dungeon", shape(20, 18, false), 2);
    // Columns 0 and 4, rows 0 and 2: the second window of a row generates only the 4 columns past the first.
    let starts: Vec<(usize, usize)> = mosaic.windows().iter().map(|w| (w.x, w.y)).collect();
    assert_eq!(starts, [(0, 0), (4, 0), (0, 2), (4, 2)]);
    assert_eq!(mosaic.owner(15, 0), Some(0));
    assert_eq!(mosaic.owner(16, 0), Some(1));
    assert_eq!(mosaic.owner(16, 17), Some(3));
}

#[test]
fn every_cell_is_its_windows_and_known_cells_are_kept_for_heights() {
    check_windows("terrain", shape(18, 17, false), 1);
}

#[test]
fn a_tileable_map_closes_its_wrap_with_windows_that_see_both_sides() {
    let map = shape(24, 20, true);
    let mosaic = check_windows("dungeon", map, 1);
    let weights = weights("dungeon");
    // Columns 0 and 12 (12..28 wraps to 0..4), rows 0 and 10 (10..26 wraps to 0..6).
    let starts: Vec<(usize, usize)> = mosaic.windows().iter().map(|w| (w.x, w.y)).collect();
    assert_eq!(starts, [(0, 0), (12, 0), (0, 10), (12, 10)]);
    // The columns past the first window's are the closing window's, and so are the rows below.
    assert_eq!(mosaic.owner(23, 0), Some(1));
    assert_eq!(mosaic.owner(0, 19), Some(2));
    // Redo the plan to look at the closing window's constraints: it knows columns 0..4 (through the wrap) and 12..16
    // of the map, and generates 16..24 in between.
    let mut replay = Mosaic::new(weights.config(), map, 1).unwrap();
    let first = replay.windows()[0];
    let samples = sample_with(&weights, 1, STEPS, 7, SamplingMethod::Standard).unwrap();
    replay.insert(first, &samples).unwrap();
    let closing = replay.windows()[1];
    let constraints = replay.constraints_for(closing, &none()).unwrap();
    let known: Vec<bool> = example_variables(weights.config(), &constraints.known, 0)
        .map(|k| k.is_some())
        .collect();
    for row in 0..16 {
        for column in 0..16 {
            let map_column = (12 + column) % 24;
            assert_eq!(
                known[row * 16 + column],
                !(16..24).contains(&map_column),
                "canvas ({column}, {row}) = map column {map_column}"
            );
        }
    }
    assert!(replay.finish().is_err(), "three windows are missing");
}

#[test]
fn a_map_of_one_canvas_is_the_plain_sample() {
    let weights = weights("dungeon");
    let plain = sample_with(&weights, 2, STEPS, 11, SamplingMethod::Standard).unwrap();
    let mosaic = sample_mosaic(
        &weights,
        2,
        STEPS,
        11,
        SamplingMethod::Standard,
        shape(16, 16, false),
        &none(),
    )
    .unwrap();
    let Samples::Classes(plain) = plain else {
        panic!("dungeon samples are classes")
    };
    let in_data_order: Vec<u32> = (0..2)
        .flat_map(|e| example_variables(weights.config(), &plain, e).collect::<Vec<_>>())
        .collect();
    assert_eq!(mosaic.finish().unwrap(), Samples::Classes(in_data_order));
}

#[test]
fn a_users_constraints_on_the_big_map_are_kept() {
    let weights = weights("dungeon");
    let map = shape(21, 19, false);
    // A wall along row 17 and a door at (20, 18), in the last windows; water allowed nowhere.
    let mut known = vec![None; 21 * 19];
    for x in 0..21 {
        known[17 * 21 + x] = Some(Known::held(2u32));
    }
    known[18 * 21 + 20] = Some(Known::held(3));
    let no_water: Vec<u32> = (0..9).filter(|&c| c != 4).collect();
    let user = Constraints {
        known: known.clone(),
        allowed: vec![Some(no_water); 21 * 19],
    };
    let mosaic =
        sample_mosaic(&weights, 2, STEPS, 5, SamplingMethod::Standard, map, &user).unwrap();
    let Samples::Classes(maps) = mosaic.finish().unwrap() else {
        panic!("classes")
    };
    for (v, class) in maps.iter().enumerate() {
        if let Some(k) = known[v % (21 * 19)] {
            assert_eq!(*class, k.value, "cell {v}");
        }
        assert_ne!(*class, 4, "water at cell {v}");
    }
    // A list for another map size is refused, naming the lengths.
    let wrong = Constraints {
        known: vec![None::<Known<u32>>; 20 * 19],
        allowed: Vec::new(),
    };
    let err = sample_mosaic(&weights, 2, STEPS, 5, SamplingMethod::Standard, map, &wrong)
        .unwrap_err()
        .to_string();
    assert!(err.contains("380") && err.contains("399"), "{err}");
}

#[test]
fn a_known_height_on_the_big_map_is_kept() {
    let weights = weights("terrain");
    let mut known = vec![None; 17 * 18];
    known[17 * 18 - 1] = Some(Known::held(0.25f32));
    let user = Constraints {
        known,
        allowed: Vec::new(),
    };
    let mosaic = sample_mosaic(
        &weights,
        1,
        STEPS,
        2,
        SamplingMethod::Standard,
        shape(18, 17, false),
        &user,
    )
    .unwrap();
    let Samples::Values(heights) = mosaic.finish().unwrap() else {
        panic!("values")
    };
    assert_eq!(heights.len(), 17 * 18);
    assert_eq!(heights[17 * 18 - 1], 0.25);
    assert!(
        heights
            .iter()
            .all(|h| h.value().is_some_and(f32::is_finite))
    );
}

#[test]
fn bad_plans_are_errors() {
    let dungeon = weights("dungeon");
    let config = dungeon.config();
    let message = |shape, count| Mosaic::new(config, shape, count).unwrap_err().to_string();
    assert!(message(shape(15, 40, false), 1).contains("smaller than the model's canvas of 16×16"));
    assert!(message(shape(0, 0, false), 1).contains("smaller"));
    assert!(message(shape(16, 32, true), 1).contains("tileable"));
    assert!(message(shape(32, 32, false), 0).contains("empty"));
    let names = weights("names");
    let err = Mosaic::new(names.config(), shape(32, 32, false), 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sequence"), "{err}");
    // Samples of the wrong type or number are refused.
    let mut mosaic = Mosaic::new(config, shape(20, 16, false), 1).unwrap();
    let window = mosaic.windows()[0];
    assert!(
        mosaic
            .insert(window, &Samples::Values(vec![0.0; 256]))
            .is_err()
    );
    assert!(
        mosaic
            .insert(window, &Samples::Classes(vec![0; 255]))
            .is_err()
    );
}
