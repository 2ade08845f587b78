//! The loaders as the fuzzers drive them: each function takes arbitrary bytes, as `cargo fuzz` gives them, and
//! returns the loader's error as its one-line message. The fuzz targets (`fuzz/`) and the regression test over
//! the inputs they found (`tests/robustness.rs`) both call these, so that a regression input is replayed through
//! exactly the code it once broke.

use std::path::PathBuf;

use crate::model::positions::position_table;
use crate::model::{Limits, Weights};
use crate::train::config::TrainConfig;
use crate::train::datasets::{ascii_maps_from_texts, text_lines as lines};

/// The limits the fuzzers load with: the defaults, but with room for a few million parameters only, so that a
/// configuration the defaults rightly allow (a 4 GiB position table) does not exhaust the fuzzer's 2 GiB.
fn fuzzing_limits() -> Limits {
    Limits {
        parameters: 1 << 22,
        ..Limits::default()
    }
}

/// A whole weights file.
pub fn weights(data: &[u8]) -> Result<(), String> {
    Weights::from_bytes_with_limits(data, &fuzzing_limits())
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A model configuration's JSON; when accepted, the parameter list and position table it implies are built, as
/// loading a file of it would.
pub fn model_config(data: &[u8]) -> Result<(), String> {
    let json = std::str::from_utf8(data).map_err(|e| e.to_string())?;
    let (config, _) =
        Weights::config_from_json(json, &fuzzing_limits()).map_err(|e| e.to_string())?;
    config.parameter_shapes();
    if let Some(gpt) = config.network.as_gpt() {
        position_table(config.layout, gpt.width, gpt.positions);
    }
    config.pixel_layout();
    Ok(())
}

/// A training configuration's TOML.
pub fn train_config(data: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(data).map_err(|e| e.to_string())?;
    TrainConfig::from_toml(text).map(drop)
}

/// The legend the map fuzzer's maps are drawn in.
const LEGEND: [&str; 4] = [" ", ".", "#+", "~w"];

/// ASCII maps: the first two bytes are the map size's sides (1 to 64), the rest the maps, separated by NUL.
pub fn ascii_maps(data: &[u8]) -> Result<(), String> {
    let [height, width, rest @ ..] = data else {
        return Err("too short".to_owned());
    };
    let text = std::str::from_utf8(rest).map_err(|e| e.to_string())?;
    let side = |b: &u8| usize::from(b % 64) + 1;
    let maps = text
        .split('\0')
        .enumerate()
        .map(|(i, map)| Ok((PathBuf::from(format!("map{i}.txt")), map.to_owned())));
    let legend = LEGEND.map(str::to_owned);
    ascii_maps_from_texts(
        "fuzzed maps",
        maps,
        [side(height), side(width)],
        &legend,
        None,
        &fuzzing_limits(),
    )
    .map(drop)
    .map_err(|e| e.to_string())
}

/// Text lines: the first byte is the sequence length (1 to 256), the rest the text.
pub fn text_lines(data: &[u8]) -> Result<(), String> {
    let [length, rest @ ..] = data else {
        return Err("too short".to_owned());
    };
    let text = std::str::from_utf8(rest).map_err(|e| e.to_string())?;
    lines(
        "fuzzed text",
        text,
        usize::from(*length) + 1,
        None,
        &fuzzing_limits(),
    )
    .map(drop)
    .map_err(|e| e.to_string())
}
