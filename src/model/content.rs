//! A model's samples as what they depict — pixels, tiles, text — shared by the trainer's sample sheets and the
//! plugin's typed results, so that both show a sample the same way.

use crate::model::{KindConfig, ModelConfig, Samples};

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
        crate::model::KindConfig::Discrete { classes, .. } => classes,
        _ => 0,
    };
    (0..classes)
        .map(|c| class_colour(config.legend.get(c as usize).map_or("", String::as_str), c))
        .collect()
}

/// The factor values are stretched by before they become bytes: K/(K − 1) for discretised data, whose K bin
/// centres (2k + 1)/K − 1 stop short of ±1 at ±(K − 1)/K, and 1 for continuous data. Stretched, the lowest and
/// highest levels are bytes 0 and 255 — the levels the loaders put raw 0 and 255 on — so an opaque sprite comes back
/// opaque and black comes back black, instead of alpha 247 and grey 8 at 16 levels.
pub fn value_stretch(config: &ModelConfig) -> f32 {
    match config.kind {
        KindConfig::Discretised { bins, .. } if bins >= 2 => bins as f32 / (bins - 1) as f32,
        _ => 1.0,
    }
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
    let stretch = value_stretch(config);
    (0..image.height * image.width)
        .map(|pixel| {
            let (r, c) = (pixel / image.width, pixel % image.width);
            let at = |k| example * per_example + config.variable_of_pixel(r, c, k);
            match samples {
                Samples::Values(v) => {
                    let channels: Vec<f32> =
                        (0..image.channels).map(|k| v[at(k)] * stretch).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: &str) -> ModelConfig {
        let json = format!(
            r#"{{"kind":{kind},"layout":{{"height":1,"width":16,"channels":1}},"patch":1,
            "network":{{"layers":1,"heads":1,"width":8,"positions":"grid"}},"legend":[],"normalisation":null}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn discretised_levels_come_back_as_the_bytes_they_were_loaded_from() {
        let bins = 16;
        let config = config(r#"{"type":"discretised","sigma_1":0.03,"bins":16}"#);
        // Level k's bin centre, as the loaders write it for the raw byte 17k.
        let centres: Vec<f32> = (0..bins)
            .map(|k| (2 * k + 1) as f32 / bins as f32 - 1.0)
            .collect();
        let pixels = example_pixels(&config, &Samples::Values(centres), 0);
        let grey: Vec<u8> = pixels.iter().map(|p| p[0]).collect();
        let expected: Vec<u8> = (0..bins).map(|k| (17 * k) as u8).collect();
        assert_eq!(grey, expected);
    }

    #[test]
    fn continuous_values_span_the_bytes_unstretched() {
        let config = config(r#"{"type":"continuous","sigma_1":0.001}"#);
        let values: Vec<f32> = (0..16).map(|i| i as f32 / 7.5 - 1.0).collect();
        let pixels = example_pixels(&config, &Samples::Values(values), 0);
        assert_eq!((pixels[0][0], pixels[15][0]), (0, 255));
        assert_eq!(pixels[8][0], 136, "0.0667 → (1.0667 · 127.5) rounded");
    }
}
