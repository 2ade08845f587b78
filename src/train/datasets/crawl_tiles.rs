//! Dungeon Crawl Stone Soup's dungeon tiles (`apt-get install crawl-tiles-data`), as small RGBA sprites.
//!
//! The floor, wall and feature sheets pack 32 × 32 tiles on a 32-pixel grid. Every cell that is not fully
//! transparent is a tile (the sheets end in empty cells); each is averaged down to `size` × `size`, which is why
//! `size` must divide 32: a block average then covers whole pixels, with no resampling filter to choose.
//!
//! A tile's class is its sheet: `floor`, `wall` or `feature` (doors, stairs, altars, fountains, traps, statues).
//! The sheets are Crawl's own grouping of its `dngn` tile folders, and the three kinds are what a level
//! generator asks for; monsters and items live in other sheets of other sizes and are not part of this data.

use std::path::{Path, PathBuf};

use super::common::{
    Found, Split, bin_centre, check_bins, dataset, positive, require, test_fraction, with_labels,
};
use super::image::{Rgba, read_png};
use crate::model::Limits;
use crate::train::dataset::{DataError, Dataset, Layout};

/// Where Debian's `crawl-tiles-data` puts the sheets.
const DEFAULT_DIR: &str = "/usr/share/crawl/dat/tiles";

/// The package that provides them.
const INSTALL: &str = "apt-get install crawl-tiles-data";

/// The sheets of dungeon terrain, and the class each stands for: the player, monster and item sheets are other
/// kinds of picture.
const SHEETS: [(&str, &str); 3] = [
    ("floor.png", "floor"),
    ("wall.png", "wall"),
    ("feat.png", "feature"),
];

/// The tile grid of the sheets, in pixels.
const TILE: usize = 32;

/// Loads every non-empty tile of the sheets, downsampled to `size` and discretised into `bins` levels a channel.
pub(super) fn load(
    size: usize,
    bins: u32,
    dir: Option<&Path>,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let size = positive("size", size)?;
    if !TILE.is_multiple_of(size) {
        return Err(DataError::Setting {
            setting: "size",
            message: format!("{size} does not divide the {TILE}-pixel tiles"),
        });
    }
    let bins = check_bins(bins, limits)?;
    let dir = dir.map_or_else(|| PathBuf::from(DEFAULT_DIR), Path::to_owned);

    let mut values = Vec::new();
    let mut labels = Vec::new();
    let mut empty = 0;
    for (class, (sheet, _)) in SHEETS.iter().enumerate() {
        let path = dir.join(sheet);
        require(&path, "Dungeon Crawl's tile sheet", INSTALL)?;
        let image = read_png(&path, limits)?;
        for top in (0..image.height / TILE).map(|r| r * TILE) {
            for left in (0..image.width / TILE).map(|c| c * TILE) {
                if is_empty(&image, top, left) {
                    empty += 1;
                } else {
                    values.extend(downsample(&image, top, left, size, bins));
                    labels.push(Some(class as u32));
                }
            }
        }
    }

    let what = format!("Dungeon Crawl tiles in {}", dir.display());
    let sheets = SHEETS.map(|(sheet, _)| sheet).join(", ");
    let split = Split::Shuffled(test_fraction(None)?);
    let data = dataset(
        &what,
        Layout {
            height: size,
            width: size,
            channels: 4,
        },
        Found::Discretised {
            examples: values,
            bins,
        },
        split,
        || format!("all {empty} cells of {sheets} are fully transparent"),
        |count| {
            format!(
                "{what} ({sheets}, Debian package crawl-tiles-data): {count} tiles kept, {empty} skipped (fully \
                 transparent); licence CC0 / public domain (most Dungeon Crawl tiles; see the RLTiles project)"
            )
        },
    )?;
    let names = SHEETS.map(|(_, class)| class.to_owned()).to_vec();
    Ok(with_labels(data, names, labels, split))
}

/// Whether the tile at (top, left) is fully transparent.
fn is_empty(image: &Rgba, top: usize, left: usize) -> bool {
    (top..top + TILE).all(|r| (left..left + TILE).all(|c| image.pixel(r, c)[3] == 0))
}

/// The tile at (top, left), each `size` × `size` block of pixels averaged channel by channel, as bin centres.
fn downsample(image: &Rgba, top: usize, left: usize, size: usize, bins: u32) -> Vec<f32> {
    let block = TILE / size;
    let mut out = Vec::with_capacity(size * size * 4);
    for row in 0..size {
        for column in 0..size {
            let mut sums = [0u32; 4];
            for r in top + row * block..top + (row + 1) * block {
                for c in left + column * block..left + (column + 1) * block {
                    for (sum, &v) in sums.iter_mut().zip(image.pixel(r, c)) {
                        *sum += u32::from(v);
                    }
                }
            }
            let pixels = (block * block) as f64;
            out.extend(sums.map(|s| bin_centre(f64::from(s) / pixels, 255.0, bins)));
        }
    }
    out
}
