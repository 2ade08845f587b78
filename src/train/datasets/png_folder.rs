//! A folder of PNG images, as discretised pixels: the way to train on one's own sprites or textures.
//!
//! Images of another size are skipped, not resized: a resampling filter would invent pixels that are in no
//! image, and a folder that mixes sizes is more likely a mistake the provenance should show.
//!
//! Asked for classes, the loader also reads the folder's subfolders, one class each, named after the subfolder:
//! sorting sprites into `walls/` and `doors/` is the way a user already labels them. Images directly in the
//! folder then belong to no class.

use std::path::{Path, PathBuf};

use super::common::{
    Found, Split, bin_centre, check_bins, check_room, dataset, files_with_extension, require, side,
    test_fraction, with_labels,
};
use super::image::{Rgba, read_png};
use crate::model::Limits;
use crate::train::dataset::{DataError, Dataset, Layout};

/// Loads every `*.png` of the folder (sorted by name, then shuffled for the split) that is `size` = [height, width];
/// with `classes`, those of its subfolders too, labelled by subfolder.
pub(super) fn load(
    path: &Path,
    size: [usize; 2],
    channels: usize,
    bins: u32,
    fraction: Option<f64>,
    classes: bool,
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

    let mut files: Vec<(PathBuf, Option<u32>)> = files_with_extension(path, "png", false)?
        .into_iter()
        .map(|file| (file, None))
        .collect();
    let mut names = Vec::new();
    if classes {
        for folder in subfolders(path)? {
            let class = Some(names.len() as u32);
            let inside = files_with_extension(&folder, "png", false)?;
            files.extend(inside.into_iter().map(|file| (file, class)));
            names.push(
                folder
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    let mut values = Vec::new();
    let mut labels = Vec::new();
    let mut wrong_size = 0;
    let variables = size[0] * size[1] * channels;
    for (file, class) in &files {
        let image = read_png(file, limits)?;
        if [image.height, image.width] == size {
            check_room("images", values.len() / variables + 1, variables, limits)?;
            values.extend(pixels(&image, channels, bins));
            labels.push(*class);
        } else {
            wrong_size += 1;
        }
    }

    let what = format!("PNG images in {}", path.display());
    let split = Split::Shuffled(fraction);
    let data = dataset(
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
        split,
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
    )?;
    Ok(if classes {
        with_labels(data, names, labels, split)
    } else {
        data
    })
}

/// The folder's subfolders, sorted by name so that class indices do not depend on the file system.
fn subfolders(path: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?.path();
        if entry.is_dir() {
            folders.push(entry);
        }
    }
    folders.sort();
    Ok(folders)
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
