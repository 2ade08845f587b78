//! Training data in the form the trainer and the maths take: examples of a fixed layout, every variable either a
//! value in [−1, 1] (continuous and discretised data) or a class index (discrete data).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{KindConfig, ModelConfig, Samples};
pub use crate::model::{Layout, Normalisation};

/// The examples' variables, all examples concatenated (`len() = examples × layout.variables()`).
#[derive(Clone, Debug, PartialEq)]
pub enum Examples {
    /// Values in [−1, 1]: continuous data, or discretised data on the bin centres (2k + 1)/K − 1.
    Values(Vec<f32>),
    /// Class indices below the number of classes.
    Classes(Vec<u32>),
}

/// Data as samples: what samples are measured against and drawn beside (`data-sheet`, `quality`).
impl From<Examples> for Samples {
    fn from(examples: Examples) -> Self {
        match examples {
            Examples::Values(v) => Samples::Values(v),
            Examples::Classes(c) => Samples::Classes(c),
        }
    }
}

/// A dataset, loaded and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// How each example is arranged.
    pub layout: Layout,
    /// Number of examples.
    pub count: usize,
    /// The examples, in a fixed order: the last `test_count` of them are the held-out split.
    pub examples: Examples,
    /// How many of the last examples are held out for evaluation.
    pub test_count: usize,
    /// For discrete data, what each value class is (a tile glyph, a character), one entry per class: the
    /// number of classes is `legend.len()`. Empty for other data. (The classes of whole examples are `labels`.)
    pub legend: Vec<String>,
    /// For discretised data, the number of levels K the values lie on.
    pub bins: Option<u32>,
    /// For continuous data, the map back to the data's units.
    pub normalisation: Option<Normalisation>,
    /// Where the data came from (package, files) and under which licence.
    pub provenance: String,
    /// The class of each example, where the source sorts its examples into classes and the run asked for them
    /// (`[data] labels = true`): what a conditional model learns to be asked for.
    pub labels: Option<Labels>,
    /// Training sources larger than the layout (vaults over the canvas), each drawn like one more training
    /// example and cut at a fresh random offset every time (`Trainer`), so that the model sees structure that
    /// runs off every edge. Never held out: a source is one whole held-out unit or a training one.
    pub crops: Vec<CropSource>,
    /// The held-out sources larger than the layout, whole: never trained on, kept for measures of whole levels.
    pub held_out_crops: Vec<CropSource>,
}

/// A source larger than the layout in pixels, whole, row-major with the layout's channels innermost, that
/// training examples are cut from.
#[derive(Clone, Debug, PartialEq)]
pub struct CropSource {
    /// Rows, at least the layout's.
    pub height: usize,
    /// Columns, at least the layout's.
    pub width: usize,
    /// Its cells.
    pub cells: Examples,
}

impl CropSource {
    /// The `pixels`-sized window at row `y`, column `x` of `cells` (the source's, of its type).
    pub fn window<T: Copy>(&self, cells: &[T], pixels: Layout, (y, x): (usize, usize)) -> Vec<T> {
        let c = pixels.channels;
        (0..pixels.height)
            .flat_map(|r| {
                let start = ((y + r) * self.width + x) * c;
                cells[start..start + pixels.width * c].iter().copied()
            })
            .collect()
    }
}

/// The classes of a dataset's examples.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    /// What each class is (`"7"`, `"female"`, `"wall"`), by index: the model's [`ModelConfig::labels`].
    pub names: Vec<String>,
    /// One per example, in the dataset's order; `None` for an example of no class (a PNG directly in the
    /// folder rather than in a class's subfolder).
    pub of_example: Vec<Option<u32>>,
}

impl Labels {
    /// How many examples of each class, by index.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.names.len()];
        for &label in self.of_example.iter().flatten() {
            counts[label as usize] += 1;
        }
        counts
    }
}

/// The two parts of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DataSplit {
    /// The examples a model trains on.
    Train,
    /// The last [`Dataset::test_count`] examples, held out.
    Test,
}

impl Dataset {
    /// How many examples the model trains on: the first ones, before the held-out `test_count`.
    pub fn train_count(&self) -> usize {
        self.count - self.test_count
    }

    /// What a training draw picks from: the training examples, then the crop sources.
    pub fn train_draws(&self) -> usize {
        self.train_count() + self.crops.len()
    }

    /// `count` examples (all, if the split has fewer) spread evenly over `split`, in order: a sheet of them shows
    /// the split's variety, where its first examples can be near-copies of each other (terrain crops overlap).
    pub fn spread(&self, split: DataSplit, count: usize) -> Examples {
        let per_example = self.layout.variables();
        fn picked<T: Copy>(all: &[T], examples: &[usize], per_example: usize) -> Vec<T> {
            examples
                .iter()
                .flat_map(|&e| &all[e * per_example..(e + 1) * per_example])
                .copied()
                .collect()
        }
        let examples = self.spread_indices(split, count);
        match &self.examples {
            Examples::Values(v) => Examples::Values(picked(v, &examples, per_example)),
            Examples::Classes(c) => Examples::Classes(picked(c, &examples, per_example)),
        }
    }

    /// The examples [`spread`](Self::spread) picks, by index: so that their labels can go beside them.
    pub fn spread_indices(&self, split: DataSplit, count: usize) -> Vec<usize> {
        let (first, available) = match split {
            DataSplit::Train => (0, self.train_count()),
            DataSplit::Test => (self.train_count(), self.test_count),
        };
        let count = count.min(available);
        (0..count).map(|i| first + i * available / count).collect()
    }

    /// Fails unless the data are of `model`'s kind and, for classes, under its legend: a model scored on data of
    /// another legend would read their classes as its own (a wall as water) and give a number that means nothing.
    pub fn check_matches(&self, model: &ModelConfig) -> Result<(), DataError> {
        let setting = |setting, message| Err(DataError::Setting { setting, message });
        match (&self.examples, model.kind) {
            (Examples::Classes(_), KindConfig::Discrete { classes, .. }) => {
                let same_classes = self.legend.len() == classes as usize;
                if !same_classes || (!model.legend.is_empty() && self.legend != model.legend) {
                    return setting(
                        "legend",
                        format!(
                            "the data's legend {:?} differs from the model's {:?} ({classes} classes)",
                            self.legend, model.legend
                        ),
                    );
                }
            }
            (Examples::Values(_), KindConfig::Discretised { bins, .. })
                if self.bins == Some(bins) => {}
            (Examples::Values(_), KindConfig::Continuous { .. }) if self.bins.is_none() => {}
            (_, kind) => {
                return setting(
                    "source",
                    format!(
                        "the data are {}, the model's kind is {kind:?} (legend {:?})",
                        self.describe_kind(),
                        model.legend
                    ),
                );
            }
        }
        Ok(())
    }

    /// The data's kind in words, for [`Dataset::check_matches`]'s errors.
    fn describe_kind(&self) -> String {
        match (&self.examples, self.bins) {
            (Examples::Classes(_), _) => format!("classes under the legend {:?}", self.legend),
            (Examples::Values(_), Some(bins)) => format!("values on {bins} levels"),
            (Examples::Values(_), None) => "continuous values".to_owned(),
        }
    }

    /// The data cut into `model`'s tokens: each example's variables reordered so that a token's patch of pixels
    /// lies together (see [`ModelConfig::variable_of_pixel`]). With patch 1 the data are as they are. Data of
    /// another kind or legend than the model's are refused ([`Dataset::check_matches`]).
    pub fn patched(mut self, model: &ModelConfig) -> Result<Dataset, DataError> {
        self.check_matches(model)?;
        if self.layout != model.pixel_layout() {
            return Err(DataError::Setting {
                setting: "model.patch",
                message: format!(
                    "the data are {:?}, the model expects {:?}",
                    self.layout,
                    model.pixel_layout()
                ),
            });
        }
        if model.patch > 1 {
            self.examples = match &self.examples {
                Examples::Values(values) => {
                    Examples::Values(patch_examples(values, self.layout, model))
                }
                Examples::Classes(classes) => {
                    Examples::Classes(patch_examples(classes, self.layout, model))
                }
            };
            self.layout = model.layout;
        }
        Ok(self)
    }
}

/// Puts an example of `pixels` in `model`'s token order (for patches; as it is for one cell a token).
pub(crate) fn in_token_order<T: Copy + Default>(
    example: Vec<T>,
    pixels: Layout,
    model: &ModelConfig,
) -> Vec<T> {
    if model.patch > 1 {
        patch_examples(&example, pixels, model)
    } else {
        example
    }
}

/// Each example of `examples` (in `pixels`' row-major order) with its variables reordered into `model`'s tokens.
fn patch_examples<T: Copy + Default>(
    examples: &[T],
    pixels: Layout,
    model: &ModelConfig,
) -> Vec<T> {
    let per_example = pixels.variables();
    let mut patched = vec![T::default(); examples.len()];
    for (from, to) in examples
        .chunks_exact(per_example)
        .zip(patched.chunks_exact_mut(per_example))
    {
        for r in 0..pixels.height {
            for c in 0..pixels.width {
                for k in 0..pixels.channels {
                    to[model.variable_of_pixel(r, c, k)] =
                        from[(r * pixels.width + c) * pixels.channels + k];
                }
            }
        }
    }
    patched
}

/// The `[data]` table of a training config: the source, and whether its examples' classes are kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSection {
    /// The source and its settings.
    #[serde(flatten)]
    pub spec: DataSpec,
    /// Whether to keep the source's classes (digits, names, Crawl tiles, a PNG folder's subfolders) and so
    /// train a conditional model (default false: the model is unconditional and the classes are dropped).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub labels: bool,
}

/// Which data to load: the `[data]` table of a training config, tagged by `source`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DataSpec {
    /// The UCI/scikit-learn handwritten digits, embedded in the crate: 1,797 images of 8×8 pixels on 17 levels.
    /// Train on rows 0..1500, test on rows 1500..1797, in file order.
    Digits,
    /// Dungeon Crawl Stone Soup vault maps (`apt-get install crawl-common`), as discrete tile maps of
    /// `size` × `size` with the glyphs collapsed into a small legend.
    CrawlMaps {
        /// Side of the square map; smaller maps are padded with "outside", larger ones skipped or cropped.
        size: usize,
        /// Where the `.des` files are (default `/usr/share/crawl/dat/des`).
        #[serde(default)]
        dir: Option<PathBuf>,
        /// Whether vaults larger than the map are kept as sources of random crops (held out by vault) instead
        /// of skipped (default false).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        crops: bool,
    },
    /// Dungeon Crawl Stone Soup tiles (`apt-get install crawl-tiles-data`), as `size` × `size` RGBA sprites,
    /// each channel discretised into `bins` levels.
    CrawlTiles {
        /// Side of the square sprite (the 32-pixel tiles are downsampled by averaging to this size).
        size: usize,
        /// Levels per channel.
        bins: u32,
        /// Where the tile sheets are (default `/usr/share/crawl/dat/tiles`).
        #[serde(default)]
        dir: Option<PathBuf>,
    },
    /// US census first names from the `names` Python package (`pip install names==0.3.0`), lower-cased, as
    /// sequences of `length` characters over ' ' and a–z (padded with ' ').
    Names {
        /// Characters per name; longer names are skipped.
        length: usize,
        /// The folder holding `dist.male.first` and `dist.female.first` (default: found through `python3`).
        #[serde(default)]
        dir: Option<PathBuf>,
    },
    /// English words (`apt-get install wamerican`), lower-case a–z only, as sequences like `Names`.
    Words {
        /// Characters per word; longer words are skipped.
        length: usize,
        /// The word list (default `/usr/share/dict/american-english`).
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// The Jacksboro fault elevation model (`apt-get install python-matplotlib-data`), as continuous
    /// `size` × `size` terrain crops scaled to [−1, 1]; the test crops come from a region the training crops do
    /// not overlap.
    Terrain {
        /// Side of the square crop.
        size: usize,
        /// Pixels between neighbouring crops.
        stride: usize,
        /// The `.npz` file (default the matplotlib sample data path).
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// A folder of PNG images of `size` = [height, width] pixels (others are skipped), `channels` of them kept
    /// (1 grey, 3 RGB, 4 RGBA), each discretised into `bins` levels.
    PngFolder {
        /// The folder.
        path: PathBuf,
        /// [height, width].
        #[serde(deserialize_with = "crate::train::exact::exactly")]
        size: [usize; 2],
        /// 1, 3 or 4.
        channels: usize,
        /// Levels per channel.
        bins: u32,
        /// Fraction of the images held out (default 0.1).
        #[serde(default)]
        test_fraction: Option<f64>,
    },
    /// A text file, one example per line, as sequences of `length` characters (padded with ' '; longer lines
    /// skipped); the classes are the characters that occur, ' ' first.
    TextLines {
        /// The file.
        path: PathBuf,
        /// Characters per example.
        length: usize,
        /// Fraction of the lines held out (default 0.1).
        #[serde(default)]
        test_fraction: Option<f64>,
    },
    /// A folder of ASCII maps (`*.txt`, one map a file) of at most `size` = [height, width] characters, padded with
    /// the first class; `legend` lists the classes, each a string of the glyphs it stands for.
    AsciiMaps {
        /// The folder.
        path: PathBuf,
        /// [height, width].
        #[serde(deserialize_with = "crate::train::exact::exactly")]
        size: [usize; 2],
        /// One entry per class: the glyphs that map to it (the first entry is also the padding).
        legend: Vec<String>,
        /// Fraction of the maps held out (default 0.1).
        #[serde(default)]
        test_fraction: Option<f64>,
    },
}

/// Why a dataset could not be loaded: each message names the file or the package at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The data's files are missing; `install` says how to get them.
    #[error("{what} not found at {path}: {install}")]
    Missing {
        /// What was looked for.
        what: String,
        /// Where.
        path: PathBuf,
        /// The command or package that provides it.
        install: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not in the format expected.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// Nothing usable was found (no file, or every example skipped).
    #[error("no examples in {what}: {why}")]
    Empty {
        /// The source.
        what: String,
        /// Why every candidate was skipped.
        why: String,
    },
    /// A setting or a file claims a size beyond the [`crate::model::Limits`] the data are loaded with.
    #[error("{0}")]
    Limit(#[from] crate::model::LimitError),
    /// A setting of the `[data]` table is out of range.
    #[error("data setting {setting}: {message}")]
    Setting {
        /// The setting.
        setting: &'static str,
        /// What is wrong.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_examples_come_evenly_from_the_split_asked_for() {
        // Ten examples of two variables, example e holding (e, e); the last four held out.
        let data = Dataset {
            crops: Vec::new(),
            held_out_crops: Vec::new(),
            layout: Layout {
                height: 1,
                width: 2,
                channels: 1,
            },
            count: 10,
            examples: Examples::Classes((0..10).flat_map(|e| [e, e]).collect()),
            test_count: 4,
            legend: Vec::new(),
            bins: None,
            normalisation: None,
            provenance: String::new(),
            labels: None,
        };
        let firsts = |split, count| match data.spread(split, count) {
            Examples::Classes(c) => c.chunks(2).map(|pair| pair[0]).collect::<Vec<u32>>(),
            Examples::Values(_) => unreachable!("classes in, classes out"),
        };
        assert_eq!(firsts(DataSplit::Train, 3), [0, 2, 4]);
        assert_eq!(firsts(DataSplit::Test, 2), [6, 8]);
        assert_eq!(
            firsts(DataSplit::Test, 9),
            [6, 7, 8, 9],
            "all of a smaller split"
        );
        assert_eq!(firsts(DataSplit::Train, 0), Vec::<u32>::new());
    }
}
