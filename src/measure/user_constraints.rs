//! Constraints as a user gives them to `bfn-train sample`: known values painted in a file (a NumPy array, a PNG, an
//! ASCII map) in the data's own layout and units, one strength for all of them, and the classes allowed elsewhere
//! by name. Every mistake a user can make in them is an error that says where and what, never a panic.

use std::path::Path;

use crate::flow::{AnyDatum, Constraints, Known};
use crate::measure::npy::read_npy;
use crate::measure::sample_array::array_shape;
use crate::model::content::{class_symbol, data_range, model_units, palette, value_stretch};
use crate::model::{KindConfig, ModelConfig};

/// Constraints from the command line that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConstraintError(String);

fn fail<T>(message: String) -> Result<T, ConstraintError> {
    Err(ConstraintError(message))
}

/// How a file marks a cell as free where the format has no −1 or NaN.
#[derive(Clone, Copy, Debug)]
pub struct FreeMarks {
    /// A PNG's free colour (RGB).
    pub colour: [u8; 3],
    /// An ASCII map's free character.
    pub character: char,
}

/// What the user asked to keep.
#[derive(Clone, Copy, Debug)]
pub struct UserInput<'a> {
    /// The file of known values, if any.
    pub known: Option<&'a Path>,
    /// How the file marks free cells.
    pub free: FreeMarks,
    /// The strength w of every known value.
    pub strength: f64,
    /// The classes allowed where nothing is known, comma-separated: legend names, glyphs or indices.
    pub allowed: Option<&'a str>,
}

/// Constraints in the data's layout of a map (one example, or one per example of a leading count axis), and how
/// many examples the file gave constraints for (`None`: one for all).
pub struct UserConstraints {
    /// The constraints, cells row-major, channels innermost.
    pub constraints: Constraints<AnyDatum>,
    /// The examples a `.npy` file's leading count axis gave, if it had one.
    pub examples: Option<usize>,
}

/// What a model's data are, for messages.
fn kind_name(config: &ModelConfig) -> &'static str {
    match config.kind {
        KindConfig::Discrete { .. } => "classes",
        KindConfig::Discretised { .. } => "levels",
        KindConfig::Continuous { .. } => "continuous values",
    }
}

/// The constraints `input` describes, on a map whose data layout is `config`'s pixel layout (the model's own
/// example, or a mosaic's map).
pub fn user_constraints(
    config: &ModelConfig,
    input: &UserInput,
) -> Result<UserConstraints, ConstraintError> {
    let (known, examples) = match input.known {
        Some(path) => {
            let (values, examples) = read_known(config, path, input.free)
                .map_err(|e| ConstraintError(format!("{}: {e}", path.display())))?;
            (Some(values), examples)
        }
        None => (None, None),
    };
    if !(0.0..=1.0).contains(&input.strength) {
        return fail(format!(
            "--strength {}: a strength lies in [0, 1] (1 holds a value to the end, 0 leaves it free)",
            input.strength
        ));
    }
    let allowed = input
        .allowed
        .map(|a| allowed_classes(config, a))
        .transpose()?;
    let variables = known
        .as_ref()
        .map_or(config.pixel_layout().variables(), Vec::len);
    let allowed = allowed.map_or_else(Vec::new, |classes| {
        (0..variables)
            .map(|v| {
                let is_known = known.as_ref().is_some_and(|k| k[v].is_some());
                (!is_known).then(|| classes.clone())
            })
            .collect()
    });
    let strength = input.strength;
    let known = known.map_or_else(Vec::new, |known| {
        known
            .into_iter()
            .map(|value| value.map(|value| Known { value, strength }))
            .collect()
    });
    Ok(UserConstraints {
        constraints: Constraints { known, allowed },
        examples,
    })
}

/// `--allowed`'s classes: each a legend name (the entry up to its glyph list), a glyph, or an index.
fn allowed_classes(config: &ModelConfig, list: &str) -> Result<Vec<u32>, ConstraintError> {
    if !matches!(config.kind, KindConfig::Discrete { .. }) {
        return fail(format!(
            "--allowed restricts classes, but this model's data are {}",
            kind_name(config)
        ));
    }
    let legend = &config.legend;
    let name = |entry: &str| {
        entry
            .split(" (")
            .next()
            .unwrap_or(entry)
            .trim()
            .to_lowercase()
    };
    let classes: Vec<u32> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|wanted| {
            let by_index = wanted.parse::<u32>().ok().filter(|&c| (c as usize) < legend.len());
            let by_name = || (0u32..).zip(legend).find(|(_, e)| name(e) == wanted.to_lowercase());
            let by_glyph = || {
                let mut chars = wanted.chars();
                let glyph = chars.next().filter(|_| chars.next().is_none())?;
                (0u32..).zip(legend).find(|(_, e)| class_symbol(e) == glyph)
            };
            by_index
                .or_else(|| by_name().or_else(by_glyph).map(|(c, _)| c))
                .ok_or_else(|| {
                    let names: Vec<String> = legend.iter().map(|e| name(e)).collect();
                    ConstraintError(format!(
                        "--allowed: no class {wanted:?}; the classes are {} (or their glyphs, or 0-{})",
                        names.join(", "),
                        legend.len().saturating_sub(1)
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    if classes.is_empty() {
        return fail(
            "--allowed names no class: it would forbid every class of every free cell".into(),
        );
    }
    Ok(classes)
}

/// The known values of a file, per variable of the map in the data's layout (all its examples), and the number of
/// examples its leading axis gave, if any.
fn read_known(
    config: &ModelConfig,
    path: &Path,
    free: FreeMarks,
) -> Result<(Vec<Option<AnyDatum>>, Option<usize>), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    match extension.as_deref() {
        Some("npy") => read_array(config, &bytes),
        Some("png") => read_png(config, &bytes, free.colour).map(|v| (v, None)),
        Some("txt") => read_ascii(config, &bytes, free.character).map(|v| (v, None)),
        _ => Err("known values are read from .npy, .png or .txt (an ASCII map)".into()),
    }
}

/// A `.npy` array of one example's shape, or of a count of them: −1 a free class, NaN a free value.
fn read_array(
    config: &ModelConfig,
    bytes: &[u8],
) -> Result<(Vec<Option<AnyDatum>>, Option<usize>), String> {
    let array = read_npy(bytes).map_err(|e| e.to_string())?;
    let example = array_shape(config, 1)[1..].to_vec();
    let examples = if array.shape == example {
        None
    } else if array.shape.len() == example.len() + 1 && array.shape[1..] == example[..] {
        Some(array.shape[0])
    } else {
        return Err(format!(
            "known values of shape {:?}, but the model's examples have shape {example:?} (or [N, {}] for N \
             samples, each its own)",
            array.shape,
            example
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if examples == Some(0) {
        return Err("known values for 0 samples".into());
    }
    let at = |i: usize| {
        let mut index = Vec::with_capacity(array.shape.len());
        let mut rest = i;
        for &axis in array.shape.iter().rev() {
            index.push(rest % axis);
            rest /= axis;
        }
        index.reverse();
        format!("{index:?}")
    };
    let values = match config.kind {
        KindConfig::Discrete { classes, .. } => array
            .values
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if x.is_nan() {
                    Err(format!(
                        "NaN at {}: a map of classes marks a free cell with -1",
                        at(i)
                    ))
                } else if x.fract() != 0.0 {
                    Err(format!("{x} at {} is not a class (a whole number)", at(i)))
                } else if x == -1.0 {
                    Ok(None)
                } else if x < -1.0 || x >= f64::from(classes) {
                    Err(format!(
                        "class {x} at {} is out of range: the model has {classes} classes, 0-{} (-1 marks a free \
                         cell)",
                        at(i),
                        classes - 1
                    ))
                } else {
                    Ok(Some(AnyDatum::Class(x as u32)))
                }
            })
            .collect::<Result<_, _>>()?,
        _ => {
            let (low, high) = data_range(config);
            let to_model = model_units(config);
            array
                .values
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    if x.is_nan() {
                        Ok(None)
                    } else if !(f64::from(low)..=f64::from(high)).contains(&x) {
                        Err(format!(
                            "value {x} at {} is out of the data's range {low} to {high} (NaN marks a free value)",
                            at(i)
                        ))
                    } else {
                        Ok(Some(AnyDatum::Value(to_model(x as f32).clamp(-1.0, 1.0))))
                    }
                })
                .collect::<Result<_, _>>()?
        }
    };
    Ok((values, examples))
}

/// A PNG of one pixel per cell: each class in its sheet colour ([`palette`]), values as grey levels (or RGB, RGBA
/// for images of those channels) as the sheets draw them, the free colour for a free cell.
fn read_png(
    config: &ModelConfig,
    bytes: &[u8],
    free: [u8; 3],
) -> Result<Vec<Option<AnyDatum>>, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut buffer = vec![0; reader.output_buffer_size().ok_or("a PNG too large")?];
    let info = reader.next_frame(&mut buffer).map_err(|e| e.to_string())?;
    let image = config.pixel_layout();
    if (info.width as usize, info.height as usize) != (image.width, image.height) {
        return Err(format!(
            "a PNG of {}×{} pixels, but the map is {}×{} cells (one pixel a cell)",
            info.width, info.height, image.width, image.height
        ));
    }
    let per_pixel = info.color_type.samples();
    let rgba = |pixel: &[u8]| -> [u8; 4] {
        match *pixel {
            [g] => [g, g, g, 255],
            [g, a] => [g, g, g, a],
            [r, g, b] => [r, g, b, 255],
            [r, g, b, a, ..] => [r, g, b, a],
            _ => [0, 0, 0, 255],
        }
    };
    let hex = |c: [u8; 4]| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
    let colours = palette(config);
    let stretch = value_stretch(config);
    let mut values = Vec::with_capacity(image.variables());
    for (i, pixel) in buffer[..info.buffer_size()]
        .chunks_exact(per_pixel)
        .map(rgba)
        .enumerate()
    {
        let (x, y) = (i % image.width, i / image.width);
        if pixel[..3] == free {
            values.extend(std::iter::repeat_n(None, image.channels));
            continue;
        }
        if let KindConfig::Discrete { .. } = config.kind {
            let class = colours
                .iter()
                .position(|c| c[..3] == pixel[..3])
                .ok_or_else(|| {
                    format!(
                        "pixel ({x}, {y}) is {}, which is no class's colour ({}) nor the free colour {}",
                        hex(pixel),
                        (0..colours.len())
                            .map(|c| format!("{} {}", c, hex(colours[c])))
                            .collect::<Vec<_>>()
                            .join(", "),
                        hex([free[0], free[1], free[2], 255])
                    )
                })?;
            values.push(Some(AnyDatum::Class(class as u32)));
            continue;
        }
        let channels: &[u8] = match image.channels {
            1 if pixel[0] == pixel[1] && pixel[1] == pixel[2] => &pixel[..1],
            1 => {
                return Err(format!(
                    "pixel ({x}, {y}) is {}: one-channel values are grey levels",
                    hex(pixel)
                ));
            }
            3 => &pixel[..3],
            4 => &pixel[..4],
            n => return Err(format!("values of {n} channels have no colours")),
        };
        let to_model = |byte: u8| match config.kind {
            // The sheets' bytes are stretched levels: undo the stretch, then snap to the level's bin.
            KindConfig::Discretised { .. } => model_units(config)(f32::from(byte)),
            _ => ((f32::from(byte) / 127.5 - 1.0) / stretch).clamp(-1.0, 1.0),
        };
        values.extend(channels.iter().map(|&b| Some(AnyDatum::Value(to_model(b)))));
    }
    Ok(values)
}

/// An ASCII map: a line a row, a character a cell, each class by its glyph ([`class_symbol`]), the free character
/// for a free cell.
fn read_ascii(
    config: &ModelConfig,
    bytes: &[u8],
    free: char,
) -> Result<Vec<Option<AnyDatum>>, String> {
    if !matches!(config.kind, KindConfig::Discrete { .. }) {
        return Err(format!(
            "an ASCII map gives classes, but this model's data are {}",
            kind_name(config)
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "an ASCII map that is not UTF-8 text")?;
    let image = config.pixel_layout();
    let lines: Vec<&str> = text.lines().collect();
    let glyphs: Vec<char> = config.legend.iter().map(|e| class_symbol(e)).collect();
    if lines.len() != image.height || lines.iter().any(|l| l.chars().count() != image.width) {
        return Err(format!(
            "an ASCII map of {} lines of {} characters, but the map is {} rows of {} cells",
            lines.len(),
            lines.iter().map(|l| l.chars().count()).max().unwrap_or(0),
            image.height,
            image.width
        ));
    }
    lines
        .iter()
        .enumerate()
        .flat_map(|(row, line)| line.chars().enumerate().map(move |(c, ch)| (row, c, ch)))
        .map(|(row, column, ch)| {
            if ch == free {
                return Ok(None);
            }
            glyphs
                .iter()
                .position(|&g| g == ch)
                .map(|class| Some(AnyDatum::Class(class as u32)))
                .ok_or_else(|| {
                    format!(
                        "line {}, column {}: {ch:?} is no class's glyph ({}) nor the free character {free:?}",
                        row + 1,
                        column + 1,
                        glyphs
                            .iter()
                            .map(|g| format!("{g:?}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                })
        })
        .collect()
}
