//! A model's samples as what they depict — pixels, tiles, text — shared by the trainer's sample sheets and the
//! plugin's typed results, so that both show a sample the same way.

use crate::net::{ModelConfig, Samples};

/// A channel value in [−1, 1] as a byte.
fn byte(x: f32) -> u8 {
    ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Grey for one channel, RGB for three, RGBA for four; magenta for any other count.
pub fn value_colour(channels: &[f32]) -> [u8; 4] {
    match *channels {
        [g] => [byte(g), byte(g), byte(g), 255],
        [r, g, b] => [byte(r), byte(g), byte(b), 255],
        [r, g, b, a] => [byte(r), byte(g), byte(b), byte(a)],
        _ => [255, 0, 255, 255],
    }
}

/// A class's colour from what its legend entry says it is (wall, floor, water…); classes the palette does not
/// know get a colour from their index.
pub fn class_colour(legend: &str, class: u32) -> [u8; 4] {
    let name = legend.to_lowercase();
    let known: [(&str, [u8; 4]); 9] = [
        ("outside", [16, 16, 16, 255]),
        ("wall", [110, 84, 60, 255]),
        ("floor", [200, 200, 190, 255]),
        ("door", [230, 150, 40, 255]),
        ("water", [50, 110, 220, 255]),
        ("lava", [220, 50, 30, 255]),
        ("tree", [40, 150, 60, 255]),
        ("stair", [250, 240, 80, 255]),
        ("feature", [170, 90, 200, 255]),
    ];
    known
        .iter()
        .find(|(key, _)| name.contains(key))
        .map_or_else(
            || {
                let h = class.wrapping_mul(2_654_435_761);
                [(h >> 24) as u8, (h >> 16) as u8, (h >> 8) as u8, 255]
            },
            |(_, c)| *c,
        )
}

/// The colour of every class of a model, in class order.
pub fn palette(config: &ModelConfig) -> Vec<[u8; 4]> {
    let classes = match config.kind {
        crate::net::KindConfig::Discrete { classes, .. } => classes,
        _ => 0,
    };
    (0..classes)
        .map(|c| class_colour(config.legend.get(c as usize).map_or("", String::as_str), c))
        .collect()
}

/// How many examples `samples` hold.
pub fn example_count(config: &ModelConfig, samples: &Samples) -> usize {
    let len = match samples {
        Samples::Values(v) => v.len(),
        Samples::Classes(c) => c.len(),
    };
    len / config.layout.variables()
}

/// Example `example` as RGBA pixels in row-major order of [`ModelConfig::pixel_layout`] (patches unfolded).
pub fn example_pixels(config: &ModelConfig, samples: &Samples, example: usize) -> Vec<[u8; 4]> {
    let image = config.pixel_layout();
    let per_example = config.layout.variables();
    (0..image.height * image.width)
        .map(|pixel| {
            let (r, c) = (pixel / image.width, pixel % image.width);
            let at = |k| example * per_example + config.variable_of_pixel(r, c, k);
            match samples {
                Samples::Values(v) => {
                    let channels: Vec<f32> = (0..image.channels).map(|k| v[at(k)]).collect();
                    value_colour(&channels)
                }
                Samples::Classes(classes) => {
                    let class = classes[at(0)];
                    class_colour(
                        config.legend.get(class as usize).map_or("", String::as_str),
                        class,
                    )
                }
            }
        })
        .collect()
}

/// A sequence of classes as text through the legend, trailing blanks removed (names and words are padded).
pub fn example_text(config: &ModelConfig, classes: &[u32]) -> String {
    classes
        .iter()
        .map(|&c| config.legend.get(c as usize).map_or("?", String::as_str))
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// RGBA8 pixels as a PNG file's bytes.
#[cfg(any(feature = "train", feature = "studio"))]
pub fn png_bytes(width: usize, height: usize, rgba: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(rgba)
            .map_err(std::io::Error::other)?;
    }
    Ok(bytes)
}
