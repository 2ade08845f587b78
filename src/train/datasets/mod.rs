//! Loaders for the real datasets and for a user's own files.
//!
//! Each source has its own module; they all hand the trainer the same thing, a [`Dataset`] whose examples are
//! token-major with channels innermost and whose last `test_count` examples are the held-out split. Sources
//! without a split of their own are shuffled with a fixed seed first, so that the tail is a random subset and
//! the same one in every run.

mod ascii_maps;
mod common;
mod crawl_maps;
mod crawl_tiles;
mod digits;
mod image;
mod png_folder;
mod terrain;
mod text;

pub use ascii_maps::ascii_maps_from_texts;
pub use terrain::{CropOrigins, crop_origins};
pub use text::text_lines;

use crate::model::Limits;
use crate::train::dataset::{DataError, DataSection, DataSpec, Dataset};

/// Loads the data a `[data]` table describes, with the examples' classes if it asks for them, with the default
/// [`Limits`].
pub fn load_section(section: &DataSection) -> Result<Dataset, DataError> {
    load_section_with_limits(section, &Limits::default())
}

/// [`load_section`] within `limits`.
pub fn load_section_with_limits(
    section: &DataSection,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let mut data = match &section.spec {
        DataSpec::PngFolder {
            path,
            size,
            channels,
            bins,
            test_fraction,
        } => png_folder::load(
            path,
            *size,
            *channels,
            *bins,
            *test_fraction,
            section.labels,
            limits,
        )?,
        spec => load_with_limits(spec, limits)?,
    };
    if !section.labels {
        data.labels = None;
    } else if data.labels.as_ref().is_none_or(|l| l.names.is_empty()) {
        return Err(DataError::Setting {
            setting: "labels",
            message: format!(
                "the {} source has no classes (digits, names, crawl-tiles and a png-folder with subfolders have)",
                section_source(&section.spec)
            ),
        });
    }
    Ok(data)
}

/// The `source` tag of a spec, for messages.
fn section_source(spec: &DataSpec) -> String {
    serde_json::to_value(spec)
        .ok()
        .and_then(|v| v.get("source").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// Loads the data a source describes with the default [`Limits`], with the classes it sorts its examples into,
/// if any (a PNG folder's subfolders only through [`load_section`]).
pub fn load(spec: &DataSpec) -> Result<Dataset, DataError> {
    load_with_limits(spec, &Limits::default())
}

/// Loads the data a `[data]` table describes, refusing settings and files that claim sizes beyond `limits`
/// and data that would not fit in memory.
pub fn load_with_limits(spec: &DataSpec, limits: &Limits) -> Result<Dataset, DataError> {
    match spec {
        DataSpec::Digits => digits::load(),
        DataSpec::CrawlMaps { size, dir, crops } => {
            crawl_maps::load(*size, dir.as_deref(), *crops, limits)
        }
        DataSpec::CrawlTiles { size, bins, dir } => {
            crawl_tiles::load(*size, *bins, dir.as_deref(), limits)
        }
        DataSpec::Names { length, dir } => text::names(*length, dir.as_deref(), limits),
        DataSpec::Words { length, path } => text::words(*length, path.as_deref(), limits),
        DataSpec::Terrain { size, stride, path } => {
            terrain::load(*size, *stride, path.as_deref(), limits)
        }
        DataSpec::PngFolder {
            path,
            size,
            channels,
            bins,
            test_fraction,
        } => png_folder::load(path, *size, *channels, *bins, *test_fraction, false, limits),
        DataSpec::TextLines {
            path,
            length,
            test_fraction,
        } => text::lines(path, *length, *test_fraction, limits),
        DataSpec::AsciiMaps {
            path,
            size,
            legend,
            test_fraction,
        } => ascii_maps::load(path, *size, legend, *test_fraction, limits),
    }
}
