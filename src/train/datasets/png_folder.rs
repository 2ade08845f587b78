//! A folder of PNG images, as discretised pixels: the way to train on one's own sprites or textures.
//!
//! Images of another size are skipped, not resized: a resampling filter would invent pixels that are in no
//! image, and a folder that mixes sizes is more likely a mistake the provenance should show.

use std::path::Path;

use super::common::{
    Found, Split, bin_centre, check_bins, check_room, dataset, files_with_extension, require, side,
    test_fraction,
};
use super::image::{Rgba, read_png};
use crate::model::Limits;
use crate::train::dataset::{DataError, Dataset, Layout};

/// Loads every `*.png` of the folder (sorted by name, then shuffled for the split) that is `size` = [height, width].
pub(super) fn load(
    path: &Path,
    size: [usize; 2],
    channels: usize,
    bins: u32,
    fraction: Option<f64>,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let size = [
        side("size", size[0], "image_side", limits.image_side)?,
        side("size", size[1], "image_side", limits.image_side)?,
    ];
    if ![1, 3, 4].contains(&channels) {
        return Err(DataError::Setting {
            setting: "channels",
            message: format!("{channels}: must be 1 (grey), 3 (RGB) or 4 (RGBA)"),
        });
    }
    let bins = check_bins(bins, limits)?;
    let fraction = test_fraction(fraction)?;
    require(
        path,
        "the PNG folder",
        "set `path` of [data] to a folder of *.png images",
    )?;

    let files = files_with_extension(path, "png", false)?;
    let mut values = Vec::new();
    let mut wrong_size = 0;
    let variables = size[0] * size[1] * channels;
    for file in &files {
        let image = read_png(file, limits)?;
        if [image.height, image.width] == size {
            check_room("images", values.len() / variables + 1, variables, limits)?;
            values.extend(pixels(&image, channels, bins));
        } else {
            wrong_size += 1;
        }
    }

    let what = format!("PNG images in {}", path.display());
    dataset(
        &what,
        Layout {
            height: size[0],
            width: size[1],
            channels,
        },
        Found::Discretised {
            examples: values,
            bins,
        },
        Split::Shuffled(fraction),
        || {
            format!(
                "{} *.png file(s), none of {}×{} pixels",
                files.len(),
                size[0],
                size[1]
            )
        },
        |count| {
            format!(
                "{what}: {count} images kept, {wrong_size} skipped (not {}×{}); licence: that of the user's \
                 files",
                size[0], size[1]
            )
        },
    )
}

/// The image's pixels as bin centres: grey for one channel, RGB for three, RGBA for four.
fn pixels(image: &Rgba, channels: usize, bins: u32) -> Vec<f32> {
    let mut out = Vec::with_capacity(image.height * image.width * channels);
    for row in 0..image.height {
        for column in 0..image.width {
            if channels == 1 {
                out.push(bin_centre(image.grey(row, column), 255.0, bins));
            } else {
                out.extend(
                    image.pixel(row, column)[..channels]
                        .iter()
                        .map(|&v| bin_centre(f64::from(v), 255.0, bins)),
                );
            }
        }
    }
    out
}
