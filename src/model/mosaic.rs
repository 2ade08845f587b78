//! Maps larger than a model's canvas, drawn as overlapping windows of the canvas: each window is a constrained
//! sampling run in which the cells earlier windows generated are hard-known, so the network continues them as it
//! fills in a masked region, and a seam is where one run's cells meet another's. Plain Rust, so that any sampler
//! (the CPU one of feature `train`, the GPU job of the plugin) can drive it: plan the windows, ask for each
//! window's constraints, sample, insert, and read the map back.

use crate::error::{BfnError, Result, check_len};
use crate::flow::{AnyDatum, Constraints, Known, RuntimeDatum};
use crate::model::content::example_variables;
use crate::model::{KindConfig, Layout, ModelConfig, Samples};

/// The size of a map and whether it wraps around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapShape {
    /// Cells per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Whether the map tiles: its right edge continues at its left edge and its bottom at its top, so copies of
    /// it laid side by side show no seam.
    pub tileable: bool,
}

impl MapShape {
    /// A configuration of `model`'s data that reads the whole map as one example in the data's layout (one cell a
    /// token), so that sheets, arrays, quality measures and constraint files take a map as they take samples.
    pub fn config(&self, model: &ModelConfig) -> ModelConfig {
        ModelConfig {
            layout: Layout {
                height: self.height,
                width: self.width,
                channels: model.pixel_layout().channels,
            },
            patch: 1,
            ..model.clone()
        }
    }
}

/// One window of the canvas on the map: its top-left cell. Its cells are (`x` + column, `y` + row) modulo the
/// map's size, which only a tileable map's closing windows ever wrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Its place in the raster order the windows are sampled in.
    pub index: usize,
    /// The map column of its left edge.
    pub x: usize,
    /// The map row of its top edge.
    pub y: usize,
}

/// A map of `count` examples drawn window by window: the plan, and the cells generated so far.
#[derive(Clone, Debug)]
pub struct Mosaic {
    config: ModelConfig,
    canvas: Layout,
    shape: MapShape,
    count: usize,
    /// The step between neighbouring windows, in cells. Half the canvas: each window then overlaps its left and
    /// upper neighbours by half of itself, so it generates at most a quarter of its cells with no neighbour
    /// known above or to the left and sees context on every side it continues; a smaller stride would give more
    /// context and more runs (a quarter of the canvas costs four times as many), a larger one leaves a window's
    /// new cells far from anything known.
    pub stride: usize,
    windows: Vec<Window>,
    /// Per example, cell and channel (the map's data layout), the value generated, once a window has.
    cells: Vec<Option<AnyDatum>>,
    /// Per cell, the window that generated it.
    owners: Vec<Option<usize>>,
}

/// The seed of window `index`'s sampling run in a run seeded `seed`: window 0 takes the run's own seed, so a map of
/// one canvas is the plain sampler's sample, and each further window moves on by the 64-bit golden ratio, so that
/// no two windows of a run, nor neighbouring windows of neighbouring seeds, share their noise.
pub fn window_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The left (or top) edges of the windows along one axis of `length` cells.
///
/// Without wrapping: every `stride` from 0 while the window ends inside the map, then one window flush with the
/// far edge. Wrapping: every `stride` from 0 while the window ends before the far edge, leaving a gap of 1 to
/// `stride` cells, then a closing window centred on that gap, which wraps past the edge and so sees the cells on
/// both sides of it (those at the far end and those at 0) as it fills it.
fn starts(length: usize, canvas: usize, stride: usize, wrap: bool) -> Vec<usize> {
    let mut starts: Vec<usize> = (0..)
        .map(|k| k * stride)
        .take_while(|&s| s == 0 || s + canvas < length)
        .collect();
    let last = *starts.last().unwrap_or(&0) + canvas;
    if wrap {
        let centre = last + (length - last) / 2;
        starts.push((centre + length - canvas / 2) % length);
    } else if last < length {
        starts.push(length - canvas);
    }
    starts
}

impl Mosaic {
    /// Plans the windows of a map of `shape` for `count` examples of a model of `config`. Fails with
    /// [`BfnError::Config`] for sequences (names and words have no second axis to tile), for a map narrower or
    /// lower than the canvas (a map smaller than it is a crop of one sample), for a tileable map no larger than the
    /// canvas (no window could see both sides of its wrap), and for no examples.
    pub fn new(config: &ModelConfig, shape: MapShape, count: usize) -> Result<Self> {
        let canvas = config.pixel_layout();
        if canvas.height == 1 {
            return Err(BfnError::Config(
                "a sequence model (names, words) has no map to tile: --size and mosaics need a grid model".into(),
            ));
        }
        if count == 0 {
            return Err(BfnError::Empty("a mosaic's batch"));
        }
        let MapShape {
            width,
            height,
            tileable,
        } = shape;
        if width < canvas.width || height < canvas.height {
            return Err(BfnError::Config(format!(
                "a map of {width}×{height} is smaller than the model's canvas of {}×{}",
                canvas.width, canvas.height
            )));
        }
        if tileable && (width == canvas.width || height == canvas.height) {
            return Err(BfnError::Config(format!(
                "a tileable map must be larger than the canvas of {}×{} on both axes, to close its wrap-around seam \
                 with a window that sees both sides; got {width}×{height}",
                canvas.width, canvas.height
            )));
        }
        let stride = (canvas.width.min(canvas.height) / 2).max(1);
        let columns = starts(width, canvas.width, stride, tileable);
        let rows = starts(height, canvas.height, stride, tileable);
        let windows = rows
            .iter()
            .flat_map(|&y| columns.iter().map(move |&x| (x, y)))
            .enumerate()
            .map(|(index, (x, y))| Window { index, x, y })
            .collect();
        Ok(Self {
            config: config.clone(),
            canvas,
            shape,
            count,
            stride,
            windows,
            cells: vec![None; count * width * height * canvas.channels],
            owners: vec![None; width * height],
        })
    }

    /// The windows, in the order they are to be sampled and inserted.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The map's size.
    pub fn shape(&self) -> MapShape {
        self.shape
    }

    /// The examples drawn at once.
    pub fn count(&self) -> usize {
        self.count
    }

    /// A configuration that reads the whole map as one example ([`MapShape::config`]).
    pub fn map_config(&self) -> ModelConfig {
        self.shape.config(&self.config)
    }

    /// Variables of one example of the map.
    fn map_variables(&self) -> usize {
        self.shape.width * self.shape.height * self.canvas.channels
    }

    /// The map's (cell, channel) index of canvas pixel (`row`, `column`) of `window`, channel `channel`.
    fn map_variable(&self, window: Window, row: usize, column: usize, channel: usize) -> usize {
        let x = (window.x + column) % self.shape.width;
        let y = (window.y + row) % self.shape.height;
        (y * self.shape.width + x) * self.canvas.channels + channel
    }

    /// Window `window`'s constraints for its sampling run of the batch, in the network's order: every cell an
    /// earlier window generated is known with strength 1, so the run continues it and keeps it exactly; the other
    /// cells take `user`'s constraints, given in the map's data layout (cells row-major, channels innermost) for
    /// one example (all of them) or for each, either list empty for none. Fails with [`BfnError::Config`] for
    /// lists of another length.
    pub fn constraints_for<D: RuntimeDatum>(
        &self,
        window: Window,
        user: &Constraints<D>,
    ) -> Result<Constraints<AnyDatum>> {
        let n = self.map_variables();
        let per_example = |what: &str, len: usize| -> Result<bool> {
            match len {
                0 => Ok(false),
                len if len == n => Ok(false),
                len if len == n * self.count => Ok(true),
                len => Err(BfnError::Config(format!(
                    "{len} {what} for a map of {}×{}×{} ({n} per example, {} for {})",
                    self.shape.height,
                    self.shape.width,
                    self.canvas.channels,
                    n * self.count,
                    self.count
                ))),
            }
        };
        let known_each = per_example("known values", user.known.len())?;
        let allowed_each = per_example("allowed-class lists", user.allowed.len())?;
        let canvas = self.canvas;
        let mut known = Vec::with_capacity(self.count * canvas.variables());
        let mut allowed = Vec::new();
        for example in 0..self.count {
            for row in 0..canvas.height {
                for column in 0..canvas.width {
                    for channel in 0..canvas.channels {
                        let v = self.map_variable(window, row, column, channel);
                        let generated = self.cells[example * n + v].map(Known::held);
                        let users = user
                            .known
                            .get(if known_each { example * n + v } else { v })
                            .copied()
                            .flatten()
                            .map(|Known { value, strength }| Known {
                                value: any_datum(value),
                                strength,
                            });
                        known.push(generated.or(users));
                        if !user.allowed.is_empty() {
                            allowed.push(
                                user.allowed[if allowed_each { example * n + v } else { v }]
                                    .clone(),
                            );
                        }
                    }
                }
            }
        }
        self.config
            .place_constraints(&Constraints { known, allowed }, self.count)
    }

    /// Takes window `window`'s samples (the batch, in the network's order): the cells no earlier window generated
    /// become its own. Fails with [`BfnError::ShapeMismatch`] for another number of values, and with
    /// [`BfnError::Config`] for samples of another type than the model's data.
    pub fn insert(&mut self, window: Window, samples: &Samples) -> Result<()> {
        let variables = self.config.layout.variables();
        let discrete = matches!(self.config.kind, KindConfig::Discrete { .. });
        let data: Vec<AnyDatum> = match (samples, discrete) {
            (Samples::Classes(c), true) => c.iter().map(|&c| AnyDatum::Class(c)).collect(),
            (Samples::Values(v), false) => v.iter().map(|&v| AnyDatum::Value(v)).collect(),
            _ => {
                return Err(BfnError::Config(
                    "samples of another type than the model's data".into(),
                ));
            }
        };
        check_len("a window's samples", data.len(), self.count * variables)?;
        let n = self.map_variables();
        let canvas = self.canvas;
        for example in 0..self.count {
            let mut values = example_variables(&self.config, &data, example);
            for row in 0..canvas.height {
                for column in 0..canvas.width {
                    for channel in 0..canvas.channels {
                        let value = values.next().expect("one value per canvas variable");
                        let v = self.map_variable(window, row, column, channel);
                        let cell = &mut self.cells[example * n + v];
                        if cell.is_none() {
                            *cell = Some(value);
                            self.owners[v / canvas.channels] = Some(window.index);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The window that generated cell (`x`, `y`), once one has: where two cells of a 2 × 2 pattern have different
    /// owners, the pattern lies across a seam.
    pub fn owner(&self, x: usize, y: usize) -> Option<usize> {
        self.owners[y * self.shape.width + x]
    }

    /// The finished maps in the map's data layout (example by example, cells row-major, channels innermost), as
    /// [`map_config`](Self::map_config) reads them. Fails with [`BfnError::Config`] while a cell is missing (a
    /// window not yet inserted).
    pub fn finish(&self) -> Result<Samples> {
        let missing = || {
            BfnError::Config(
                "the mosaic is not finished: a window's samples were never inserted".into(),
            )
        };
        Ok(match self.config.kind {
            KindConfig::Discrete { .. } => Samples::Classes(
                self.cells
                    .iter()
                    .map(|c| c.and_then(RuntimeDatum::class).ok_or_else(missing))
                    .collect::<Result<_>>()?,
            ),
            _ => Samples::Values(
                self.cells
                    .iter()
                    .map(|c| c.and_then(RuntimeDatum::value).ok_or_else(missing))
                    .collect::<Result<_>>()?,
            ),
        })
    }
}

/// A datum of a type known at compile time as one of either type.
fn any_datum<D: RuntimeDatum>(datum: D) -> AnyDatum {
    datum.class().map_or_else(
        || AnyDatum::Value(datum.value().unwrap_or(f32::NAN)),
        AnyDatum::Class,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_step_by_half_the_canvas_and_end_at_the_edge() {
        assert_eq!(starts(64, 16, 8, false), [0, 8, 16, 24, 32, 40, 48]);
        assert_eq!(starts(20, 16, 8, false), [0, 4]);
        assert_eq!(starts(16, 16, 8, false), [0]);
    }

    #[test]
    fn a_wrapping_axis_closes_with_a_window_centred_on_the_last_gap() {
        // 0..56 covered, the gap 56..64 filled by the window 52..68, which sees 52..56 and 0..4.
        assert_eq!(starts(64, 16, 8, true), [0, 8, 16, 24, 32, 40, 52]);
        // 0..16 covered, the gap 16..20 filled by 10..26: 10..16 and 0..6 known.
        assert_eq!(starts(20, 16, 8, true), [0, 10]);
        // A gap of 7 cells (0..24 covered of 31): 19..35 sees 19..24 on the left and 0..4 on the right.
        assert_eq!(starts(31, 16, 8, true), [0, 8, 19]);
    }
}
