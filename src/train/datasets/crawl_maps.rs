//! Dungeon Crawl Stone Soup's vault maps (`apt-get install crawl-common`), as discrete tile maps.
//!
//! A `.des` file holds map definitions; the map itself is the block of lines between a line `MAP` and a line
//! `ENDMAP`, one glyph a cell. The game knows about 96 glyphs (see `docs/develop/levels/syntax.txt`), but most
//! distinctions between them (rock against stone wall, gold against an item) are invisible in a layout and would
//! only thin the examples of each class, so they are collapsed into nine classes:
//!
//! | class | glyphs | why |
//! |---|---|---|
//! | 0 outside | space | cells the vault leaves to the level around it (also the padding) |
//! | 1 floor | `.` and any glyph in no other row | items (`$ % * \|`, `d`–`k`), monsters (`0`–`9`), entries (`@`), letters a vault defines: all stand on floor |
//! | 2 wall | `x X c m n o v b` | rock, permanent rock, stone, clear and metal and crystal walls |
//! | 3 door | `+ =` | closed and runed doors |
//! | 4 water | `w W` | deep and shallow water |
//! | 5 lava | `l` | |
//! | 6 tree | `t` | |
//! | 7 stairs | `< > { } ( ) [ ]` | escape hatches and the three sets of stone stairs |
//! | 8 feature | `A B C G I T U V Y` | arch, altars, statues, idol and fountains: obstacles that are not walls |
//!
//! Vault-defined letters (`SUBST`, `KFEAT`, …) can stand for anything; reading them as floor, as the game does
//! when they have no mapping, is the one simplification that keeps the loader a glyph table instead of an
//! interpreter of the map language.

use std::path::{Path, PathBuf};

use super::ascii_maps::glyph_grid;
use super::common::{
    Found, Split, check_room, dataset, files_with_extension, read_text, require, shuffled, side,
    test_fraction,
};
use crate::model::Limits;
use crate::train::dataset::{CropSource, DataError, Dataset, Examples, Layout};

/// Where Debian's `crawl-common` puts the map files.
const DEFAULT_DIR: &str = "/usr/share/crawl/dat/des";

/// The package that provides them.
const INSTALL: &str = "apt-get install crawl-common";

const OUTSIDE: u32 = 0;
const FLOOR: u32 = 1;
const WALL: u32 = 2;
const DOOR: u32 = 3;
const WATER: u32 = 4;
const LAVA: u32 = 5;
const TREE: u32 = 6;
const STAIRS: u32 = 7;
const FEATURE: u32 = 8;

/// One entry per class, in class order.
const LEGEND: [&str; 9] = [
    "outside ( )",
    "floor (. and items, monsters, vault-defined glyphs)",
    "wall (x X c m n o v b)",
    "door (+ =)",
    "water (w W)",
    "lava (l)",
    "tree (t)",
    "stairs (< > { } ( ) [ ])",
    "feature (A B C G I T U V Y)",
];

/// The class of a glyph (see the module's table).
fn class(glyph: char) -> u32 {
    match glyph {
        g if g.is_whitespace() => OUTSIDE,
        'x' | 'X' | 'c' | 'm' | 'n' | 'o' | 'v' | 'b' => WALL,
        '+' | '=' => DOOR,
        'w' | 'W' => WATER,
        'l' => LAVA,
        't' => TREE,
        '<' | '>' | '{' | '}' | '(' | ')' | '[' | ']' => STAIRS,
        'A' | 'B' | 'C' | 'G' | 'I' | 'T' | 'U' | 'V' | 'Y' => FEATURE,
        _ => FLOOR,
    }
}

/// A map block: its lines, and the 1-based line of the file where it starts.
struct Block<'a> {
    first_line: usize,
    lines: Vec<&'a str>,
}

/// The `MAP` … `ENDMAP` blocks of a `.des` file. Trailing blanks are cut from each line: a blank is "outside"
/// anyway, and cutting them keeps a stray space from pushing a map over the size limit.
fn blocks<'a>(path: &Path, text: &'a str) -> Result<Vec<Block<'a>>, DataError> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end();
        match (&mut open, line) {
            (None, "MAP") => {
                open = Some(Block {
                    first_line: index + 2,
                    lines: Vec::new(),
                });
            }
            (Some(_), "ENDMAP") => found.extend(open.take()),
            (Some(block), _) => block.lines.push(line),
            (None, _) => {}
        }
    }
    match open {
        Some(block) => Err(DataError::Format {
            path: path.to_owned(),
            message: format!("the MAP before line {} has no ENDMAP", block.first_line),
        }),
        None => Ok(found),
    }
}

/// Loads every map of at most `size` × `size` cells; with `crops`, every larger one as a source of crops (padded
/// to at least `size` on each side), a share of them held out whole as the maps are.
pub(super) fn load(
    size: usize,
    dir: Option<&Path>,
    crops: bool,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let size = side("size", size, "map_side", limits.map_side)?;
    let dir = dir.map_or_else(|| PathBuf::from(DEFAULT_DIR), Path::to_owned);
    require(&dir, "Dungeon Crawl's vault maps (*.des)", INSTALL)?;

    let files = files_with_extension(&dir, "des", true)?;
    let mut grids = Vec::new();
    let mut larger = Vec::new();
    let (mut empty, mut too_large) = (0, 0);
    for file in &files {
        let text = read_text(file)?;
        for block in blocks(file, &text)? {
            if block.lines.iter().all(|l| l.is_empty()) {
                empty += 1;
                continue;
            }
            match glyph_grid(&block.lines, [size, size], OUTSIDE, |g| Some(class(g))) {
                Ok(Some(grid)) => {
                    check_room(
                        "vault maps",
                        grids.len() / grid.len() + 1,
                        grid.len(),
                        limits,
                    )?;
                    grids.extend(grid);
                }
                Ok(None) if crops => {
                    let height = block.lines.len().max(size);
                    let width = block
                        .lines
                        .iter()
                        .map(|l| l.chars().count())
                        .max()
                        .unwrap_or(0);
                    let width = side(
                        "a vault's width",
                        width.max(size),
                        "map_side",
                        limits.map_side,
                    )?;
                    let height = side("a vault's height", height, "map_side", limits.map_side)?;
                    let grid =
                        glyph_grid(&block.lines, [height, width], OUTSIDE, |g| Some(class(g)))
                            .map_err(|unknown| unknown.into_error(file, block.first_line))?
                            .unwrap_or_default();
                    check_room("vault maps", larger.len() + 1, grid.len(), limits)?;
                    larger.push(CropSource {
                        height,
                        width,
                        cells: Examples::Classes(grid),
                    });
                }
                Ok(None) => too_large += 1,
                Err(unknown) => return Err(unknown.into_error(file, block.first_line)),
            }
        }
    }

    let what = format!("Dungeon Crawl vault maps in {}", dir.display());
    // The larger vaults' own split, by vault: a fixed shuffle, the same share held out as of the maps.
    let held_out = if larger.is_empty() {
        0
    } else {
        ((larger.len() as f64 * test_fraction(None)?).round() as usize).min(larger.len() - 1)
    };
    let larger = shuffled_sources(larger);
    let (held, trained) = larger.split_at(held_out);
    let cells =
        |sources: &[CropSource]| -> usize { sources.iter().map(|s| s.height * s.width).sum() };
    let crop_note = if crops {
        format!(
            "; {} vaults larger than {size}×{size} cut into random crops ({} of them, {} cells, for training; {} \
             with {} cells held out)",
            larger.len(),
            trained.len(),
            cells(trained),
            held.len(),
            cells(held)
        )
    } else {
        String::new()
    };
    let mut data = dataset(
        &what,
        Layout {
            height: size,
            width: size,
            channels: 1,
        },
        Found::Classes {
            examples: grids,
            legend: LEGEND.map(str::to_owned).to_vec(),
        },
        Split::Shuffled(test_fraction(None)?),
        || {
            format!(
                "{} .des file(s): {empty} empty map(s), {too_large} larger than {size}×{size}",
                files.len()
            )
        },
        |count| {
            format!(
                "{what} (Debian package crawl-common), {} .des files: {count} maps kept, {} skipped ({empty} \
                 empty, {too_large} larger than {size}×{size}){crop_note}; licence GPL-2.0-or-later (Dungeon Crawl \
                 Stone Soup)",
                files.len(),
                empty + too_large
            )
        },
    )?;
    data.crops = trained.to_vec();
    data.held_out_crops = held.to_vec();
    Ok(data)
}

/// The sources in a fixed shuffled order (the maps' own shuffle, on their indices).
fn shuffled_sources(sources: Vec<CropSource>) -> Vec<CropSource> {
    let order: Vec<usize> = shuffled(&(0..sources.len()).collect::<Vec<_>>(), 1);
    let mut slots: Vec<Option<CropSource>> = sources.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
