//! A folder of ASCII maps, one map a `*.txt` file, as discrete class grids; and the glyph grid itself, which the
//! Dungeon Crawl maps share.
//!
//! Maps are rarely all of one size, but a network takes one: each map is centred in the `size` grid and the rest
//! is filled with the padding class (the first legend entry), so that the padding reads as "outside the map" on
//! every side rather than piling up to the right and below. Ragged lines are padded the same way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::common::{
    Found, Split, check_room, dataset, files_with_extension, read_text, require, side,
    test_fraction,
};
use crate::model::Limits;
use crate::model::limits::within;
use crate::train::dataset::{DataError, Dataset, Layout};

/// A glyph that no class claims, at 0-based `row` and `column` (in characters) of the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct UnknownGlyph {
    pub row: usize,
    pub column: usize,
    pub glyph: char,
}

impl UnknownGlyph {
    /// The error for a map that starts at 1-based line `first_line` of `path`.
    pub fn into_error(self, path: &Path, first_line: usize) -> DataError {
        DataError::Format {
            path: path.to_owned(),
            message: format!(
                "line {}, column {}: glyph {:?} is in no legend entry",
                first_line + self.row,
                self.column + 1,
                self.glyph
            ),
        }
    }
}

/// The class grid (`size[0]` rows of `size[1]`) of a map given as lines of glyphs, centred and padded with class
/// `pad`; `None` when the map does not fit. `classify` gives a glyph's class, or `None` for a glyph it does not know.
pub(super) fn glyph_grid(
    lines: &[&str],
    size: [usize; 2],
    pad: u32,
    classify: impl Fn(char) -> Option<u32>,
) -> Result<Option<Vec<u32>>, UnknownGlyph> {
    let height = lines.len();
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    if height > size[0] || width > size[1] {
        return Ok(None);
    }
    let (top, left) = ((size[0] - height) / 2, (size[1] - width) / 2);
    let mut grid = vec![pad; size[0] * size[1]];
    for (row, line) in lines.iter().enumerate() {
        for (column, glyph) in line.chars().enumerate() {
            let class = classify(glyph).ok_or(UnknownGlyph { row, column, glyph })?;
            grid[(top + row) * size[1] + left + column] = class;
        }
    }
    Ok(Some(grid))
}

/// Loads every `*.txt` map of the folder at `path` (sorted by name, then shuffled for the split).
pub(super) fn load(
    path: &Path,
    size: [usize; 2],
    legend: &[String],
    fraction: Option<f64>,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    require(
        path,
        "the ASCII map folder",
        "set `path` of [data] to a folder of *.txt maps",
    )?;
    let files = files_with_extension(path, "txt", false)?;
    ascii_maps_from_texts(
        &format!("ASCII maps in {}", path.display()),
        files.into_iter().map(|file| {
            let text = read_text(&file)?;
            Ok((file, text))
        }),
        size,
        legend,
        fraction,
        limits,
    )
}

/// The maps `what` holds, each a file's path and its text, as an `ascii-maps` `[data]` table loads a folder's:
/// the loader without the folder, for maps from elsewhere (an editor's buffer, an archive). A map's error names
/// its path.
pub fn ascii_maps_from_texts(
    what: &str,
    maps: impl IntoIterator<Item = Result<(PathBuf, String), DataError>>,
    size: [usize; 2],
    legend: &[String],
    fraction: Option<f64>,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let size = [
        side("size", size[0], "map_side", limits.map_side)?,
        side("size", size[1], "map_side", limits.map_side)?,
    ];
    let fraction = test_fraction(fraction)?;
    within(
        "legend entries",
        legend.len() as u64,
        "classes",
        u64::from(limits.classes),
    )?;
    let classes = glyph_classes(legend)?;
    let variables = size[0] * size[1];

    let mut grids = Vec::new();
    let (mut files, mut empty, mut too_large) = (0, 0, 0);
    for map in maps {
        let (file, text) = map?;
        files += 1;
        let lines: Vec<&str> = text.lines().collect();
        if lines.iter().all(|l| l.is_empty()) {
            empty += 1;
            continue;
        }
        match glyph_grid(&lines, size, 0, |g| classes.get(&g).copied()) {
            Ok(Some(grid)) => {
                check_room(what, grids.len() / variables + 1, variables, limits)?;
                grids.extend(grid);
            }
            Ok(None) => too_large += 1,
            Err(unknown) => return Err(unknown.into_error(&file, 1)),
        }
    }

    dataset(
        what,
        Layout {
            height: size[0],
            width: size[1],
            channels: 1,
        },
        Found::Classes {
            examples: grids,
            legend: legend.to_vec(),
        },
        Split::Shuffled(fraction),
        || {
            format!(
                "{files} *.txt file(s): {empty} empty, {too_large} larger than {}×{}",
                size[0], size[1]
            )
        },
        |count| {
            format!(
                "{what}: {count} maps kept, {} skipped ({empty} empty, {too_large} larger than {}×{}); licence: \
                 that of the user's files",
                empty + too_large,
                size[0],
                size[1]
            )
        },
    )
}

/// Each glyph's class, from legend entries that list the glyphs of each class. A glyph in two entries would make
/// the map ambiguous, and fewer than two classes leave nothing to generate.
fn glyph_classes(legend: &[String]) -> Result<HashMap<char, u32>, DataError> {
    let setting = |message| DataError::Setting {
        setting: "legend",
        message,
    };
    if legend.len() < 2 {
        return Err(setting(format!(
            "{} entries: at least 2 classes are needed",
            legend.len()
        )));
    }
    let mut classes = HashMap::new();
    for (class, glyphs) in (0u32..).zip(legend) {
        if glyphs.is_empty() {
            return Err(setting(format!("entry {class} lists no glyph")));
        }
        for glyph in glyphs.chars() {
            if let Some(other) = classes.insert(glyph, class) {
                return Err(setting(format!(
                    "glyph {glyph:?} is in entries {other} and {class}"
                )));
            }
        }
    }
    Ok(classes)
}
