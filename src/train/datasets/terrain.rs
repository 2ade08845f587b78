//! A digital elevation model cut into square crops of continuous heights: by default the Jacksboro fault model
//! that matplotlib ships as sample data (`apt-get install python-matplotlib-data`), 344 × 403 heights in metres.
//!
//! Neighbouring crops at a stride smaller than their size share pixels, so a random test subset would be mostly
//! seen in training and measure memorisation. The test crops therefore come from a strip of columns on the right
//! that no training crop touches (see [`crop_origins`]).
//!
//! Heights are scaled with the whole model's minimum and maximum, not per crop: a crop's absolute height is part
//! of what a terrain looks like (valley floor against ridge), and one scale lets the normalisation map every
//! sample back to metres.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use super::common::{Found, Split, check_room, dataset, positive, read_bytes, require, side};
use crate::model::Limits;
use crate::model::limits::{LimitError, product, within};
use crate::train::dataset::{DataError, Dataset, Layout, Normalisation};

/// Where Debian's `python-matplotlib-data` puts the model.
const DEFAULT_PATH: &str = "/usr/share/matplotlib/mpl-data/sample_data/jacksboro_fault_dem.npz";

/// The package that provides it.
const INSTALL: &str = "apt-get install python-matplotlib-data";

/// The share of columns, on the right, that the test crops come from.
const TEST_SHARE: f64 = 0.15;

/// Where the crops of a `height` × `width` model lie, as top-left corners [row, column]: the training crops
/// left of column `test_from`, the test crops right of it.
///
/// Public so that a crop can be traced back to its place on the map, and so that the split's promise (no test
/// crop shares a pixel with a training crop) can be checked from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CropOrigins {
    /// Corners of the training crops, row-major: every one ends at or before column `test_from`.
    pub train: Vec<[usize; 2]>,
    /// Corners of the test crops, row-major: every one starts at or after column `test_from`.
    pub test: Vec<[usize; 2]>,
    /// The first column of the test strip: the rightmost 15% of the columns, and at least one crop wide.
    pub test_from: usize,
    /// Crops of the stride grid left out because they would straddle the boundary.
    pub straddling: usize,
}

/// The crops of `size` × `size` at `stride` of a `height` × `width` model, split into a training region on the
/// left and a test strip on the right.
pub fn crop_origins(
    height: usize,
    width: usize,
    size: usize,
    stride: usize,
) -> Result<CropOrigins, DataError> {
    let size = positive("size", size)?;
    let stride = positive("stride", stride)?;
    let test_width = ((width as f64 * TEST_SHARE).ceil() as usize).max(size);
    if size > height || test_width + size > width {
        return Err(DataError::Setting {
            setting: "size",
            message: format!(
                "{size}-pixel crops do not fit twice across the {height} × {width} model (a training region \
                 and a test strip of {test_width} columns)"
            ),
        });
    }
    let test_from = width - test_width;
    let rows: Vec<usize> = (0..=height - size).step_by(stride).collect();
    let corners = |columns: Vec<usize>| -> Vec<[usize; 2]> {
        rows.iter()
            .flat_map(|&r| columns.iter().map(move |&c| [r, c]))
            .collect()
    };
    let straddling = (0..=width - size)
        .step_by(stride)
        .filter(|&c| c < test_from && c + size > test_from)
        .count()
        * rows.len();
    Ok(CropOrigins {
        train: corners((0..=test_from - size).step_by(stride).collect()),
        test: corners((test_from..=width - size).step_by(stride).collect()),
        test_from,
        straddling,
    })
}

/// A two-dimensional array, row-major.
struct Grid {
    height: usize,
    width: usize,
    values: Vec<f64>,
}

/// Loads the crops of the model at `path` (default: matplotlib's Jacksboro fault model).
pub(super) fn load(
    size: usize,
    stride: usize,
    path: Option<&Path>,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let size = side("size", size, "image_side", limits.image_side)?;
    let path = path.map_or_else(|| PathBuf::from(DEFAULT_PATH), Path::to_owned);
    require(&path, "the elevation model (.npz)", INSTALL)?;
    let grid = read_npz(&path, limits)?;
    let origins = crop_origins(grid.height, grid.width, size, stride)?;
    check_room(
        "terrain crops",
        origins.train.len() + origins.test.len(),
        size * size,
        limits,
    )?;

    let (low, high) = grid
        .values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if high <= low {
        return Err(DataError::Format {
            path,
            message: format!("the elevation is {low} everywhere: there is no terrain to learn"),
        });
    }
    let mut values = Vec::new();
    for &[top, left] in origins.train.iter().chain(&origins.test) {
        for r in top..top + size {
            let row = &grid.values[r * grid.width + left..r * grid.width + left + size];
            values.extend(
                row.iter()
                    .map(|&v| ((v - low) / (high - low) * 2.0 - 1.0) as f32),
            );
        }
    }

    dataset(
        &format!("elevation model {}", path.display()),
        Layout {
            height: size,
            width: size,
            channels: 1,
        },
        Found::Continuous {
            examples: values,
            normalisation: Normalisation {
                scale: ((high - low) / 2.0) as f32,
                offset: ((high + low) / 2.0) as f32,
            },
        },
        Split::Tail(origins.test.len()),
        // Not reached: `crop_origins` fails unless a training and a test crop fit.
        || "no crop fits".to_owned(),
        |count| {
            format!(
                "elevation model {} ({} × {} heights, {low}..{high}): {count} crops of {size}×{size} at stride \
                 {stride} kept ({} training, {} test from columns {}..{}), {} skipped (straddling the boundary); {}",
                path.display(),
                grid.height,
                grid.width,
                origins.train.len(),
                origins.test.len(),
                origins.test_from,
                grid.width,
                origins.straddling,
                if path == Path::new(DEFAULT_PATH) {
                    "Debian package python-matplotlib-data; licence: matplotlib's (PSF-based), as its sample data"
                } else {
                    "licence: that of the user's file"
                }
            )
        },
    )
}

/// The one two-dimensional array of an `.npz` archive (the Jacksboro file also holds the scalars `dx`, `xmin`, …,
/// which describe the grid but are not terrain).
fn read_npz(path: &Path, limits: &Limits) -> Result<Grid, DataError> {
    let format = |message: String| DataError::Format {
        path: path.to_owned(),
        message,
    };
    let mut archive = ZipArchive::new(Cursor::new(read_bytes(path)?))
        .map_err(|e| format(format!("not an .npz (zip) archive: {e}")))?;
    let mut grids = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| format(format!("entry {index}: {e}")))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format(format!("{name}: {e}")))?;
        if let Some(grid) = read_npy(&bytes, limits).map_err(|m| format(format!("{name}: {m}")))? {
            grids.push((name, grid));
        }
    }
    match grids.len() {
        1 => Ok(grids.remove(0).1),
        n => Err(format(format!(
            "{n} two-dimensional arrays ({}): expected exactly one",
            grids
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// An `.npy` array if it is two-dimensional, `None` for any other shape. The format: the magic `\x93NUMPY`, a
/// version (1 has a 2-byte header length, 2 and 3 a 4-byte one), then a Python dict literal with `descr` (the
/// element type), `fortran_order` and `shape`, then the data. The shape is a claim: its sides are held against
/// `limits.image_side` and multiplied with overflow checks before anything of its size is read.
fn read_npy(bytes: &[u8], limits: &Limits) -> Result<Option<Grid>, String> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or("not an .npy array (no \\x93NUMPY magic)")?;
    let (length, rest) = match rest {
        [1, _, a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        [2 | 3, _, a, b, c, d, rest @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, rest),
        [major, ..] => return Err(format!("unknown .npy version {major}")),
        [] => return Err("truncated .npy header".to_owned()),
    };
    let header = rest
        .get(..length)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("truncated or non-text .npy header")?;
    let data = &rest[length..];

    let shape: Vec<usize> = field(header, "shape")?
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse()
                .map_err(|_| format!("bad dimension {d:?} in {header}"))
        })
        .collect::<Result<_, _>>()?;
    let [height, width] = shape[..] else {
        return Ok(None);
    };
    let limit = |e: LimitError| e.to_string();
    let count = product("the .npy shape", &[height, width]).map_err(limit)?;
    for (what, value) in [("the .npy height", height), ("the .npy width", width)] {
        within(what, value as u64, "image_side", limits.image_side as u64).map_err(limit)?;
    }
    let fortran = match field(header, "fortran_order")? {
        "False" => false,
        "True" => true,
        other => return Err(format!("bad fortran_order {other}")),
    };
    let descr = field(header, "descr")?.trim_matches('\'');
    let elements = decode(descr, data, count)?;
    if let Some(bad) = elements.iter().find(|v| !v.is_finite()) {
        return Err(format!("a height is {bad}"));
    }
    // Fortran order stores the array column by column.
    let values = if fortran {
        (0..height * width)
            .map(|i| elements[(i % width) * height + i / width])
            .collect()
    } else {
        elements
    };
    Ok(Some(Grid {
        height,
        width,
        values,
    }))
}

/// The text of a key's value in the header dict: a quoted string, a tuple or a bare word.
fn field<'a>(header: &'a str, key: &str) -> Result<&'a str, String> {
    let missing = || format!("no {key:?} in the .npy header {header}");
    let start = header.find(&format!("'{key}':")).ok_or_else(missing)? + key.len() + 3;
    let value = header[start..].trim_start();
    let end = match value.chars().next() {
        Some('\'') => value[1..].find('\'').map(|i| i + 2),
        Some('(') => value.find(')').map(|i| i + 1),
        _ => value.find([',', '}']),
    }
    .ok_or_else(missing)?;
    Ok(value[..end].trim())
}

/// `count` elements of type `descr`, as `f64`. Little-endian integers and floats only: those are what NumPy writes
/// on every common machine, and a big-endian file is better rejected than read as noise.
fn decode(descr: &str, data: &[u8], count: usize) -> Result<Vec<f64>, String> {
    let (width, element): (usize, fn(&[u8]) -> f64) = match descr {
        "|u1" => (1, |b| f64::from(b[0])),
        "<i2" => (2, |b| f64::from(i16::from_le_bytes(bytes(b)))),
        "<u2" => (2, |b| f64::from(u16::from_le_bytes(bytes(b)))),
        "<i4" => (4, |b| f64::from(i32::from_le_bytes(bytes(b)))),
        "<f4" => (4, |b| f64::from(f32::from_le_bytes(bytes(b)))),
        "<f8" => (8, |b| f64::from_le_bytes(bytes(b))),
        other => {
            return Err(format!(
                "element type {other:?} not supported (little-endian u1, i2, u2, i4, f4 and f8 are)"
            ));
        }
    };
    let data = count
        .checked_mul(width)
        .and_then(|bytes| data.get(..bytes))
        .ok_or_else(|| format!("{} data bytes for {count} elements of {width}", data.len()))?;
    Ok(data.chunks_exact(width).map(element).collect())
}

/// The first `N` bytes of an element, as the array the `from_le_bytes` functions take.
fn bytes<const N: usize>(element: &[u8]) -> [u8; N] {
    std::array::from_fn(|i| element[i])
}
