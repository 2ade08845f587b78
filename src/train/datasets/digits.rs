//! The UCI handwritten digits as scikit-learn ships them: 1,797 images of 8 × 8 pixels, intensities 0..=16.
//!
//! The file is embedded so that the smallest end-to-end run needs no download and no package. The split is the
//! file's own order (rows 0..1500 train, 1500..1797 test) rather than a shuffle, so that results compare with
//! the many published numbers on the same rows. The labels are the digits, classes `0` to `9`.

use std::io::Read;
use std::path::PathBuf;

use flate2::read::GzDecoder;

use super::common::{Found, Split, bin_centre, dataset, with_labels};
use crate::train::dataset::{DataError, Dataset, Layout};

/// The CSV, gzipped: per row the 64 pixels, row-major, then the label.
const FILE: &[u8] = include_bytes!("../../../assets/data/digits.csv.gz");

/// Where the embedded file comes from, for the errors.
const SOURCE: &str = "assets/data/digits.csv.gz (embedded)";

/// The image side.
const SIDE: usize = 8;

/// The highest intensity: each pixel counts the set cells of a 4 × 4 block of the 32 × 32 original.
const MAX_INTENSITY: u32 = 16;

/// Intensities 0..=16 are 17 levels.
const BINS: u32 = MAX_INTENSITY + 1;

/// The rows that train; the rest test.
const TRAIN_ROWS: usize = 1500;

/// Loads the embedded digits.
pub(super) fn load() -> Result<Dataset, DataError> {
    let format = |message: String| DataError::Format {
        path: PathBuf::from(SOURCE),
        message,
    };
    let mut text = String::new();
    GzDecoder::new(FILE)
        .read_to_string(&mut text)
        .map_err(|source| DataError::Io {
            path: PathBuf::from(SOURCE),
            source,
        })?;

    let mut values = Vec::new();
    let mut labels = Vec::new();
    let mut count = 0;
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != SIDE * SIDE + 1 {
            return Err(format(format!(
                "line {}: {} fields instead of {}",
                index + 1,
                fields.len(),
                SIDE * SIDE + 1
            )));
        }
        for field in &fields[..SIDE * SIDE] {
            let intensity = field
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|&v| v <= MAX_INTENSITY)
                .ok_or_else(|| {
                    format(format!(
                        "line {}: {field:?} is not an intensity in 0..={MAX_INTENSITY}",
                        index + 1
                    ))
                })?;
            values.push(bin_centre(
                f64::from(intensity),
                f64::from(MAX_INTENSITY),
                BINS,
            ));
        }
        let digit = fields[SIDE * SIDE]
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|&d| d < 10)
            .ok_or_else(|| {
                format(format!(
                    "line {}: {:?} is not a digit label",
                    index + 1,
                    fields[SIDE * SIDE]
                ))
            })?;
        labels.push(Some(digit));
        count += 1;
    }
    if count <= TRAIN_ROWS {
        return Err(format(format!(
            "{count} rows: the split needs more than {TRAIN_ROWS}"
        )));
    }

    let split = Split::Tail(count - TRAIN_ROWS);
    let data = dataset(
        SOURCE,
        Layout {
            height: SIDE,
            width: SIDE,
            channels: 1,
        },
        Found::Discretised {
            examples: values,
            bins: BINS,
        },
        split,
        // Not reached: too few rows for the split are a format error above.
        || "the file has no rows".to_owned(),
        |count| {
            format!(
                "UCI optical recognition of handwritten digits, as distributed in scikit-learn 1.9.1 \
                 (sklearn/datasets/data/digits.csv.gz, embedded): {count} examples kept, 0 skipped, rows \
                 {TRAIN_ROWS}..{count} held out; licence CC BY 4.0 (UCI data), BSD-3-Clause (scikit-learn)"
            )
        },
    )?;
    let names = (0..10).map(|d| d.to_string()).collect();
    Ok(with_labels(data, names, labels, split))
}
