//! A model's samples as what they depict — pixels, tiles, text — shared by the trainer's sample sheets and the
//! plugin's typed results, so that both show a sample the same way.

use crate::flow::discretised_normal::{bin_centre, bin_of};
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

/// The map from a model value to the data's own units, for measurements that compare samples with the data:
/// continuous data through the model's [`Normalisation`](crate::model::Normalisation) (terrain heights in metres),
/// or as they are where the model names none; discretised data as their level k of K on the byte scale the sheets
/// show, 255·k/(K − 1), exact rather than rounded to a byte — the model does not record the raw scale its loader
/// read, so digits' 17 levels 0–16 come out as 0, 15.9375, …, 255.
pub fn data_units(config: &ModelConfig) -> impl Fn(f32) -> f32 + use<> {
    let kind = config.kind;
    let (scale, offset) = scale_and_offset(config);
    move |value| match kind {
        KindConfig::Discretised { bins, .. } => {
            bin_of(value, bins) as f32 * 255.0 / (bins - 1) as f32
        }
        _ => value * scale + offset,
    }
}

/// The normalisation's scale and offset, or the identity where the model names none.
fn scale_and_offset(config: &ModelConfig) -> (f32, f32) {
    config
        .normalisation
        .map_or((1.0, 0.0), |n| (n.scale, n.offset))
}

/// The inverse of [`data_units`], for values a user gives in the data's units (`sample --known`): metres back
/// through the normalisation, and a level on the 0–255 scale to the centre of the nearest of the K bins. The range
/// is not checked: see [`data_range`].
pub fn model_units(config: &ModelConfig) -> impl Fn(f32) -> f32 + use<> {
    let kind = config.kind;
    let (scale, offset) = scale_and_offset(config);
    move |value| match kind {
        KindConfig::Discretised { bins, .. } => {
            let level = (value * (bins - 1) as f32 / 255.0)
                .round()
                .clamp(0.0, (bins - 1) as f32);
            bin_centre(level as u32, bins)
        }
        _ => (value - offset) / scale,
    }
}

/// The least and greatest values of the data in their own units: model values −1 and 1 through [`data_units`].
pub fn data_range(config: &ModelConfig) -> (f32, f32) {
    let to_data = data_units(config);
    (to_data(-1.0), to_data(1.0))
}

/// A class's character on an ASCII map, from its legend entry: the first glyph it lists in parentheses
/// ("wall (x X c)" → 'x'), else the entry's first character; '?' for an empty entry.
pub fn class_symbol(entry: &str) -> char {
    entry
        .split_once('(')
        .and_then(|(_, glyphs)| glyphs.chars().next())
        .or_else(|| entry.chars().next())
        .unwrap_or('?')
}

/// How many examples `samples` hold.
pub fn example_count(config: &ModelConfig, samples: &Samples) -> usize {
    let len = match samples {
        Samples::Values(v) => v.len(),
        Samples::Classes(c) => c.len(),
    };
    len / config.layout.variables()
}

/// The variables of example `example` in the data's order — rows, columns, channels innermost, as
/// [`ModelConfig::pixel_layout`] has them — rather than the network's patches.
pub fn example_variables<'a, T: Copy>(
    config: &'a ModelConfig,
    variables: &'a [T],
    example: usize,
) -> impl Iterator<Item = T> + 'a {
    let image = config.pixel_layout();
    let first = example * config.layout.variables();
    (0..image.variables()).map(move |v| {
        let (pixel, channel) = (v / image.channels, v % image.channels);
        let (r, c) = (pixel / image.width, pixel % image.width);
        variables[first + config.variable_of_pixel(r, c, channel)]
    })
}

/// Example `example` as RGBA pixels in row-major order of [`ModelConfig::pixel_layout`] (patches unfolded).
pub fn example_pixels(config: &ModelConfig, samples: &Samples, example: usize) -> Vec<[u8; 4]> {
    let channels = config.pixel_layout().channels;
    match samples {
        Samples::Values(v) => {
            let stretch = value_stretch(config);
            let values: Vec<f32> = example_variables(config, v, example)
                .map(|x| x * stretch)
                .collect();
            values.chunks_exact(channels).map(value_colour).collect()
        }
        Samples::Classes(classes) => example_variables(config, classes, example)
            .map(|class| {
                class_colour(
                    config.legend.get(class as usize).map_or("", String::as_str),
                    class,
                )
            })
            .collect(),
    }
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
        patched_config(kind, r#"{"height":1,"width":16,"channels":1}"#, 1, "null")
    }

    fn patched_config(kind: &str, layout: &str, patch: usize, normalisation: &str) -> ModelConfig {
        let json = format!(
            r#"{{"kind":{kind},"layout":{layout},"patch":{patch},
            "network":{{"layers":1,"heads":1,"width":8,"positions":"grid"}},"legend":[],
            "normalisation":{normalisation}}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn variables_come_out_in_the_data_order_with_the_patches_unfolded() {
        // Two tokens of 2 × 2 pixels side by side: a 2 × 4 image whose top row is the first two variables of
        // each token.
        let config = patched_config(
            r#"{"type":"discrete","beta_1":1.0,"classes":16}"#,
            r#"{"height":1,"width":2,"channels":4}"#,
            2,
            "null",
        );
        let two_examples: Vec<u32> = (0..16).collect();
        let second: Vec<u32> = example_variables(&config, &two_examples, 1).collect();
        assert_eq!(second, [8, 9, 12, 13, 10, 11, 14, 15]);
    }

    #[test]
    fn data_units_undo_the_normalisation_or_the_levels() {
        let terrain = patched_config(
            r#"{"type":"continuous","sigma_1":0.001}"#,
            r#"{"height":1,"width":16,"channels":1}"#,
            1,
            r#"{"scale":50.0,"offset":300.0}"#,
        );
        let metres = data_units(&terrain);
        assert_eq!((metres(-1.0), metres(0.5)), (250.0, 325.0));
        assert_eq!(
            data_units(&config(r#"{"type":"continuous","sigma_1":0.001}"#))(-0.25),
            -0.25
        );
        let levels = data_units(&config(
            r#"{"type":"discretised","sigma_1":0.03,"bins":17}"#,
        ));
        // Bin centres (2k + 1)/17 − 1 for k = 0, 1, 16, and a value past the top that no sampler draws.
        let centre = |k: f32| (2.0 * k + 1.0) / 17.0 - 1.0;
        assert_eq!(
            [centre(0.0), centre(1.0), centre(16.0), 1.0].map(levels),
            [0.0, 15.9375, 255.0, 255.0]
        );
    }

    #[test]
    fn model_units_undo_data_units() {
        let terrain = patched_config(
            r#"{"type":"continuous","sigma_1":0.001}"#,
            r#"{"height":1,"width":16,"channels":1}"#,
            1,
            r#"{"scale":420.0,"offset":656.0}"#,
        );
        let (to_data, to_model) = (data_units(&terrain), model_units(&terrain));
        for x in [-1.0f32, -0.3, 0.0, 0.77, 1.0] {
            assert!((to_model(to_data(x)) - x).abs() < 1e-6, "{x}");
        }
        assert_eq!(data_range(&terrain), (236.0, 1076.0));
        let sprites = config(r#"{"type":"discretised","sigma_1":0.03,"bins":16}"#);
        let levels = model_units(&sprites);
        // Bytes 17k are level k; a byte between two levels goes to the nearer.
        assert_eq!(levels(0.0), bin_centre::<f32>(0, 16));
        assert_eq!(levels(17.0 * 9.0), bin_centre::<f32>(9, 16));
        assert_eq!(levels(17.0 * 9.0 + 9.0), bin_centre::<f32>(10, 16));
        assert_eq!(data_range(&sprites), (0.0, 255.0));
    }

    #[test]
    fn class_symbols_are_the_first_listed_glyph() {
        assert_eq!(class_symbol("wall (x X c)"), 'x');
        assert_eq!(class_symbol("outside ( )"), ' ');
        assert_eq!(class_symbol("q"), 'q');
        assert_eq!(class_symbol(""), '?');
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
