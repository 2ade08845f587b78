//! PNG decoding to one pixel format, so that the image loaders need not care whether a file is paletted, grey,
//! RGB or RGBA, or of which bit depth.

use std::io::Cursor;
use std::path::Path;

use png::{ColorType, Decoder, Transformations};

use super::common::read_bytes;
use crate::model::Limits;
use crate::model::limits::within;
use crate::train::dataset::DataError;

/// An image as 8-bit RGBA, rows top to bottom.
pub(super) struct Rgba {
    pub height: usize,
    pub width: usize,
    /// `height × width × 4` bytes.
    pub pixels: Vec<u8>,
    /// Whether the file had colour: a grey file's grey level is its red channel, exactly, rather than a
    /// luminance recomputed from three equal channels.
    pub colour: bool,
}

impl Rgba {
    /// The 4 channels of pixel (row, column).
    pub fn pixel(&self, row: usize, column: usize) -> &[u8] {
        let at = (row * self.width + column) * 4;
        &self.pixels[at..at + 4]
    }

    /// The grey level of pixel (row, column): the Rec. 601 luminance of a colour file (the weights most image
    /// tools use to make grey), the grey channel of a grey one.
    pub fn grey(&self, row: usize, column: usize) -> f64 {
        let p = self.pixel(row, column);
        if self.colour {
            0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
        } else {
            f64::from(p[0])
        }
    }
}

/// Turns the samples of one pixel into RGBA.
type ToRgba = fn(&[u8]) -> [u8; 4];

/// Reads a PNG file of any colour type and depth as 8-bit RGBA (16-bit channels keep their high byte, palettes
/// and transparency chunks are expanded). The header's sides are held against `limits.image_side` before a
/// pixel is decoded: the header is a claim, and a 100,000 × 100,000 one would ask for 40 GB.
pub(super) fn read_png(path: &Path, limits: &Limits) -> Result<Rgba, DataError> {
    let format = |message: String| DataError::Format {
        path: path.to_owned(),
        message,
    };
    let mut decoder = Decoder::new(Cursor::new(read_bytes(path)?));
    decoder.set_transformations(Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| format(format!("not a PNG image: {e}")))?;
    let header = reader.info();
    for (what, value) in [("height", header.height), ("width", header.width)] {
        within(
            &format!("{}: the PNG {what}", path.display()),
            value,
            "image_side",
            limits.image_side as u64,
        )?;
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| format("image too large to decode".to_owned()))?;
    let mut buffer = vec![0; size];
    let info = reader
        .next_frame(&mut buffer)
        .map_err(|e| format(format!("cannot decode: {e}")))?;
    let (height, width) = (info.height as usize, info.width as usize);
    buffer.truncate(info.buffer_size());

    // After the transformations the samples are 8-bit, so each row is exactly `width × channels` bytes.
    let (channels, expand): (usize, ToRgba) = match info.color_type {
        ColorType::Grayscale => (1, |p| [p[0], p[0], p[0], u8::MAX]),
        ColorType::GrayscaleAlpha => (2, |p| [p[0], p[0], p[0], p[1]]),
        ColorType::Rgb => (3, |p| [p[0], p[1], p[2], u8::MAX]),
        ColorType::Rgba => (4, |p| [p[0], p[1], p[2], p[3]]),
        ColorType::Indexed => return Err(format("palette left unexpanded".to_owned())),
    };
    let pixels = buffer
        .chunks_exact(channels)
        .take(height * width)
        .flat_map(expand)
        .collect();
    Ok(Rgba {
        height,
        width,
        pixels,
        colour: channels >= 3,
    })
}
