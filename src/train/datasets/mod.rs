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

pub use terrain::{CropOrigins, crop_origins};

use crate::train::dataset::{DataError, DataSpec, Dataset};

/// Loads the data a `[data]` table describes.
pub fn load(spec: &DataSpec) -> Result<Dataset, DataError> {
    match spec {
        DataSpec::Digits => digits::load(),
        DataSpec::CrawlMaps { size, dir } => crawl_maps::load(*size, dir.as_deref()),
        DataSpec::CrawlTiles { size, bins, dir } => crawl_tiles::load(*size, *bins, dir.as_deref()),
        DataSpec::Names { length, dir } => text::names(*length, dir.as_deref()),
        DataSpec::Words { length, path } => text::words(*length, path.as_deref()),
        DataSpec::Terrain { size, stride, path } => terrain::load(*size, *stride, path.as_deref()),
        DataSpec::PngFolder {
            path,
            size,
            channels,
            bins,
            test_fraction,
        } => png_folder::load(path, *size, *channels, *bins, *test_fraction),
        DataSpec::TextLines {
            path,
            length,
            test_fraction,
        } => text::lines(path, *length, *test_fraction),
        DataSpec::AsciiMaps {
            path,
            size,
            legend,
            test_fraction,
        } => ascii_maps::load(path, *size, legend, *test_fraction),
    }
}
