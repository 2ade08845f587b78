//! What every loader needs beyond its own format: checking the shared settings, reading and listing files with
//! errors that name them, the deterministic shuffle that makes the held-out tail a random subset, the
//! discretisation onto bin centres, and the one place where the examples found become a [`Dataset`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::flow::{CounterRng, Stream};
use crate::model::Limits;
use crate::model::limits::within;
use crate::train::dataset::{DataError, Dataset, Examples, Labels, Layout, Normalisation};

/// The seed of every shuffle. It is fixed, not configurable, so that a dataset's test split is the same in every
/// run and on every machine: a model's test loss is only comparable across runs if the held-out examples are.
const SHUFFLE_SEED: u64 = 0xB4F5_DA7A;

/// The share of examples held out when the config does not say.
const DEFAULT_TEST_FRACTION: f64 = 0.1;

/// The `test_fraction` setting, defaulted and checked: it must leave both a training and a test split.
pub(super) fn test_fraction(setting: Option<f64>) -> Result<f64, DataError> {
    let fraction = setting.unwrap_or(DEFAULT_TEST_FRACTION);
    if fraction > 0.0 && fraction < 1.0 {
        Ok(fraction)
    } else {
        Err(DataError::Setting {
            setting: "test_fraction",
            message: format!("{fraction} is not in (0, 1)"),
        })
    }
}

/// How many of `count` examples to hold out: the fraction, rounded, but at least one test and one training
/// example, so that neither the loss nor the evaluation is ever computed on nothing.
pub(super) fn test_count(count: usize, fraction: f64, what: &str) -> Result<usize, DataError> {
    if count < 2 {
        return Err(DataError::Empty {
            what: what.to_owned(),
            why: format!(
                "{count} example(s) kept, but a training and a test split need at least 2"
            ),
        });
    }
    let rounded = (count as f64 * fraction).round() as usize;
    Ok(rounded.clamp(1, count - 1))
}

/// Checks a size setting: a side of zero would make examples of no variables.
pub(super) fn positive(setting: &'static str, value: usize) -> Result<usize, DataError> {
    if value == 0 {
        Err(DataError::Setting {
            setting,
            message: "must be at least 1".to_owned(),
        })
    } else {
        Ok(value)
    }
}

/// Checks a side of an example against its limit (`limit` names the [`Limits`] field, `max` its value).
pub(super) fn side(
    setting: &'static str,
    value: usize,
    limit: &'static str,
    max: usize,
) -> Result<usize, DataError> {
    within(setting, value as u64, limit, max as u64)?;
    positive(setting, value)
}

/// The copies of its examples a dataset's memory estimate counts: as found, in the split's order, and cut into
/// the model's patches.
const COPIES: u128 = 3;

/// Fails when `examples` examples of `variables` four-byte values would not fit in memory: a loader asks before
/// it keeps another example, so that a folder too large for the machine is refused with the figure instead of
/// ending the process on a failed allocation.
pub(super) fn check_room(
    what: &str,
    examples: usize,
    variables: usize,
    limits: &Limits,
) -> Result<(), DataError> {
    let bytes = examples as u128 * variables as u128 * 4 * COPIES;
    Ok(limits.check_memory(&format!("{examples} examples of {what}"), bytes)?)
}

/// Checks the number of levels: one level would carry no information, the bin centres divide by K − 1, and
/// more than `limits.bins` levels are no image's.
pub(super) fn check_bins(bins: u32, limits: &Limits) -> Result<u32, DataError> {
    within("bins", bins, "bins", limits.bins)?;
    if bins < 2 {
        Err(DataError::Setting {
            setting: "bins",
            message: format!("{bins} levels: at least 2 are needed"),
        })
    } else {
        Ok(bins)
    }
}

/// The bin centre (2k + 1)/K − 1 of the level k = round(v / max · (K − 1)) of a raw intensity v in [0, max]:
/// 0 falls on the lowest level and `max` on the highest, so the extremes of the data are the extremes of the model.
pub(super) fn bin_centre(value: f64, max: f64, bins: u32) -> f32 {
    let top = f64::from(bins - 1);
    let level = (value / max * top).round().clamp(0.0, top);
    ((2.0 * level + 1.0) / f64::from(bins) - 1.0) as f32
}

/// The examples (`variables` values each) in a fixed pseudo-random order, so that the last ones, the test split,
/// are a random subset rather than, say, the last file's.
///
/// A Fisher–Yates shuffle on the counter-based generator: draw i is a pure function of the seed and i, so the
/// order does not depend on the platform or on the crate version of some generator.
pub(super) fn shuffled<T: Copy>(examples: &[T], variables: usize) -> Vec<T> {
    let count = examples.len() / variables.max(1);
    let rng = CounterRng::new(SHUFFLE_SEED);
    let mut order: Vec<usize> = (0..count).collect();
    for i in (1..count).rev() {
        // The index's high bits go into the step, so that every i has its own draw however many examples
        // there are; the 64 bits are mapped to 0..=i by a multiply-shift, whose bias (2⁻⁶⁴) is nil in practice.
        let [low, high] = rng.bits((i as u64 >> 32) as u32, Stream::Output, i as u32);
        let draw = (u64::from(high) << 32) | u64::from(low);
        let j = ((u128::from(draw) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    order
        .into_iter()
        .flat_map(|e| &examples[e * variables..(e + 1) * variables])
        .copied()
        .collect()
}

/// The examples a loader found, by kind of data: the kind decides which of a [`Dataset`]'s descriptions (legend,
/// levels or normalisation) is filled in, so that no loader can fill in the wrong one or leave one out.
pub(super) enum Found {
    /// Class indices, and what each class is.
    Classes {
        examples: Vec<u32>,
        legend: Vec<String>,
    },
    /// Values on the bin centres of `bins` levels.
    Discretised { examples: Vec<f32>, bins: u32 },
    /// Continuous values, and the map back to the data's units.
    Continuous {
        examples: Vec<f32>,
        normalisation: Normalisation,
    },
}

/// Which examples are held out.
#[derive(Clone, Copy)]
pub(super) enum Split {
    /// The source's own split: the last `n` examples, in the order found.
    Tail(usize),
    /// No split of the source's own: the examples are shuffled and this fraction of them held out.
    Shuffled(f64),
}

/// The dataset of the examples a loader found, `layout.variables()` values each: checked, split and described.
///
/// Every loader ends here so that every source is held to the same rules: no dataset is empty (`why_empty` says
/// why every candidate of `what` was skipped), and a shuffled split keeps a training and a test example. The
/// provenance is written last, from the number of examples kept.
pub(super) fn dataset(
    what: &str,
    layout: Layout,
    found: Found,
    split: Split,
    why_empty: impl FnOnce() -> String,
    provenance: impl FnOnce(usize) -> String,
) -> Result<Dataset, DataError> {
    let variables = layout.variables();
    let count = match &found {
        Found::Classes { examples, .. } => examples.len(),
        Found::Discretised { examples, .. } | Found::Continuous { examples, .. } => examples.len(),
    } / variables;
    if count == 0 {
        return Err(DataError::Empty {
            what: what.to_owned(),
            why: why_empty(),
        });
    }
    let test_count = match split {
        Split::Tail(held_out) => held_out,
        Split::Shuffled(fraction) => test_count(count, fraction, what)?,
    };
    let (examples, legend, bins, normalisation) = match found {
        Found::Classes { examples, legend } => (
            Examples::Classes(in_order(examples, split, variables)),
            legend,
            None,
            None,
        ),
        Found::Discretised { examples, bins } => (
            Examples::Values(in_order(examples, split, variables)),
            Vec::new(),
            Some(bins),
            None,
        ),
        Found::Continuous {
            examples,
            normalisation,
        } => (
            Examples::Values(in_order(examples, split, variables)),
            Vec::new(),
            None,
            Some(normalisation),
        ),
    };
    Ok(Dataset {
        crops: Vec::new(),
        held_out_crops: Vec::new(),
        layout,
        count,
        examples,
        test_count,
        legend,
        bins,
        normalisation,
        provenance: provenance(count),
        labels: None,
    })
}

/// `data` with the classes `of_example` (one per example, in the order the loader found them, before
/// [`dataset`] shuffled them with the same `split`) named `names`.
pub(super) fn with_labels(
    mut data: Dataset,
    names: Vec<String>,
    of_example: Vec<Option<u32>>,
    split: Split,
) -> Dataset {
    debug_assert_eq!(of_example.len(), data.count, "one class per example");
    data.labels = Some(Labels {
        names,
        // The shuffle's order depends on the number of examples alone, so one value an example follows it.
        of_example: in_order(of_example, split, 1),
    });
    data
}

/// The examples in the split's order: as found where the source has its own split, shuffled where it has not.
fn in_order<T: Copy>(examples: Vec<T>, split: Split, variables: usize) -> Vec<T> {
    match split {
        Split::Tail(_) => examples,
        Split::Shuffled(_) => shuffled(&examples, variables),
    }
}

/// The whole file, with the error naming it.
pub(super) fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The whole file as UTF-8 text.
pub(super) fn read_text(path: &Path) -> Result<String, DataError> {
    String::from_utf8(read_bytes(path)?).map_err(|e| DataError::Format {
        path: path.to_owned(),
        message: format!("not UTF-8 text: {e}"),
    })
}

/// Fails with [`DataError::Missing`] unless `path` exists, so that a missing package is reported as such rather
/// than as an I/O error on some file inside it.
pub(super) fn require(path: &Path, what: &str, install: &str) -> Result<(), DataError> {
    if path.exists() {
        Ok(())
    } else {
        Err(DataError::Missing {
            what: what.to_owned(),
            path: path.to_owned(),
            install: install.to_owned(),
        })
    }
}

/// The files under `dir` whose extension is `extension` (ignoring case), in sorted order so that the examples,
/// and hence the shuffle and the split, do not depend on the order the file system lists them in. With
/// `recursive`, subfolders are searched too.
///
/// Each file and folder is taken once, by its canonical path: a symlink loop would otherwise be walked until the
/// path grew too long (the same maps read dozens of times, landing in both splits), and a link to a file beside
/// it would put one example in twice.
pub(super) fn files_with_extension(
    dir: &Path,
    extension: &str,
    recursive: bool,
) -> Result<Vec<PathBuf>, DataError> {
    let mut found = Vec::new();
    walk(dir, extension, recursive, &mut HashSet::new(), &mut found)?;
    found.sort();
    Ok(found)
}

/// [`files_with_extension`]'s walk, `seen` holding the canonical paths of the folders and files already taken.
fn walk(
    dir: &Path,
    extension: &str,
    recursive: bool,
    seen: &mut HashSet<PathBuf>,
    found: &mut Vec<PathBuf>,
) -> Result<(), DataError> {
    let canonical = |path: &Path| {
        std::fs::canonicalize(path).map_err(|source| DataError::Io {
            path: path.to_owned(),
            source,
        })
    };
    if !seen.insert(canonical(dir)?) {
        return Ok(());
    }
    let io = |source| DataError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut paths = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    // Sorted, so that of two paths to one file the same one is kept on every machine.
    paths.sort();
    for path in paths {
        if path.is_dir() {
            if recursive {
                walk(&path, extension, true, seen, found)?;
            }
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(extension))
            && seen.insert(canonical(&path)?)
        {
            found.push(path);
        }
    }
    Ok(())
}
