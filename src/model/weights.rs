//! The weights file: safetensors holding the network's parameters under the official names of its architecture
//! (the GPT's `model::parameters`, the U-Net's `model::unet_parameters`), with the [`ModelConfig`] as JSON in the
//! `__metadata__`. One file is what a game ships and what the asset loader reads;
//! it needs no candle to read.
//!
//! Loading checks everything a corrupt or foreign file could get wrong and says which: a truncated or malformed
//! file, a file that is not ours, an unknown format version, a configuration that does not parse or is out of
//! range, a missing or unexpected tensor, a tensor of the wrong shape or dtype, non-finite values, and position
//! features that disagree with the configuration.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::atomic_file::write_atomic;
use crate::model::limits;
use crate::model::parameters::POSITIONS;
use crate::model::positions::position_table;
use crate::model::{Kind, LimitError, Limits, ModelConfig};

/// `__metadata__["format"]` of our files.
pub const FORMAT: &str = "bevy_bfn";
/// `__metadata__["format_version"]` this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Why a weights file was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Not a safetensors file, or cut short.
    #[error("not a complete safetensors file: {0}")]
    Malformed(String),
    /// A safetensors file without our metadata.
    #[error("not a bevy_bfn model: {0}")]
    NotAModel(String),
    /// Written by a format version this crate does not know.
    #[error("format version {found} is not supported (this crate reads version {FORMAT_VERSION})")]
    UnknownVersion {
        /// The version in the file.
        found: String,
    },
    /// The configuration does not parse or is out of range.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// A parameter the configuration needs is not in the file.
    #[error("missing tensor `{0}`")]
    MissingTensor(String),
    /// The file holds a tensor the configuration does not explain.
    #[error("unexpected tensor `{0}`")]
    ExtraTensor(String),
    /// A tensor's shape disagrees with the configuration.
    #[error("tensor `{name}` has shape {found:?}, the configuration implies {expected:?}")]
    WrongShape {
        /// The tensor.
        name: String,
        /// Its shape in the file.
        found: Vec<usize>,
        /// The shape the configuration implies.
        expected: Vec<usize>,
    },
    /// A tensor is not 32-bit float.
    #[error("tensor `{name}` is {found}, expected F32")]
    WrongDtype {
        /// The tensor.
        name: String,
        /// Its dtype.
        found: String,
    },
    /// A tensor holds NaN or infinity.
    #[error("tensor `{0}` holds a non-finite value")]
    NotFinite(String),
    /// The file claims a size beyond the [`Limits`] it was loaded with.
    #[error("model file: {0}")]
    Limit(#[from] LimitError),
    /// The metadata disagrees with the tensors in a way shapes do not show.
    #[error("the metadata disagrees with the tensors: {0}")]
    Disagrees(String),
}

/// One tensor: its shape and its values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorData {
    /// The shape, outermost first (`[out, in]` for a linear layer's weight, as PyTorch and candle store it).
    pub shape: Vec<usize>,
    /// The values.
    pub values: Vec<f32>,
}

/// A model: its configuration and its parameters, checked against each other.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    config: ModelConfig,
    kind: Kind,
    tensors: BTreeMap<String, TensorData>,
}

impl Weights {
    /// A model from its parts, checked: every tensor present with the right shape, nothing else, all finite,
    /// positions as the configuration says, and every size within the default [`Limits`].
    pub fn new(
        config: ModelConfig,
        tensors: BTreeMap<String, TensorData>,
    ) -> Result<Self, WeightsError> {
        Self::new_with_limits(config, tensors, &Limits::default())
    }

    /// As [`Weights::new`], with sizes up to `limits`.
    pub fn new_with_limits(
        config: ModelConfig,
        tensors: BTreeMap<String, TensorData>,
        limits: &Limits,
    ) -> Result<Self, WeightsError> {
        let kind = check_config(&config, limits)?;
        let expected = config.parameter_shapes();
        for (name, shape) in &expected {
            let tensor = tensors
                .get(name)
                .ok_or_else(|| WeightsError::MissingTensor(name.clone()))?;
            if &tensor.shape != shape || tensor.values.len() != shape.iter().product::<usize>() {
                return Err(WeightsError::WrongShape {
                    name: name.clone(),
                    found: tensor.shape.clone(),
                    expected: shape.clone(),
                });
            }
            if tensor.values.iter().any(|v| !v.is_finite()) {
                return Err(WeightsError::NotFinite(name.clone()));
            }
        }
        if let Some(extra) = tensors
            .keys()
            .find(|k| !expected.iter().any(|(name, _)| name == *k))
        {
            return Err(WeightsError::ExtraTensor(extra.clone()));
        }
        if let Some(gpt) = config.network.as_gpt() {
            let positions = position_table(config.layout, gpt.width, gpt.positions);
            let stored = &tensors[POSITIONS].values;
            if let Some(j) = (0..positions.len()).find(|&j| (positions[j] - stored[j]).abs() > 1e-4)
            {
                return Err(WeightsError::Disagrees(format!(
                    "{POSITIONS}[{j}] is {}, but {:?} positions give {}",
                    stored[j], gpt.positions, positions[j]
                )));
            }
        }
        Ok(Self {
            config,
            kind,
            tensors,
        })
    }

    /// The same model on a canvas of `width` × `height` cells, in one pass: a U-Net has no absolute positions and
    /// samples any canvas whose sides are multiples of 2^(levels − 1); a GPT only the one it was trained on (a
    /// [`crate::model::mosaic::Mosaic`] draws its larger maps window by window).
    pub fn with_canvas(&self, width: usize, height: usize) -> Result<Self, WeightsError> {
        let layout = self.config.layout;
        if (layout.width, layout.height) == (width, height) {
            return Ok(self.clone());
        }
        if self.config.network.as_gpt().is_some() {
            return Err(WeightsError::Config(format!(
                "a GPT samples the {}×{} canvas it was trained on, not {width}×{height}: its positions are \
                 absolute (a mosaic draws larger maps)",
                layout.width, layout.height
            )));
        }
        let config = ModelConfig {
            layout: crate::model::Layout {
                width,
                height,
                ..layout
            },
            ..self.config.clone()
        };
        Self::new(config, self.tensors.clone())
    }

    /// Parses and checks a weights file's bytes, with the default [`Limits`]: the asset loader's way in, so
    /// that a file claiming an absurd size is an asset error rather than an aborted game.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WeightsError> {
        Self::from_bytes_with_limits(bytes, &Limits::default())
    }

    /// As [`Weights::from_bytes`], with sizes up to `limits`.
    pub fn from_bytes_with_limits(bytes: &[u8], limits: &Limits) -> Result<Self, WeightsError> {
        let (metadata, tensors) = decode(bytes)?;
        match metadata.get("format").map(String::as_str) {
            Some(FORMAT) => {}
            other => {
                return Err(WeightsError::NotAModel(format!(
                    "format is {other:?}, expected \"{FORMAT}\""
                )));
            }
        }
        let version = metadata.get("format_version").cloned().unwrap_or_default();
        if version != FORMAT_VERSION.to_string() {
            return Err(WeightsError::UnknownVersion { found: version });
        }
        let config_json = metadata
            .get("config")
            .ok_or_else(|| WeightsError::NotAModel("no `config` in __metadata__".into()))?;
        let config: ModelConfig =
            serde_json::from_str(config_json).map_err(|e| WeightsError::Config(e.to_string()))?;
        Self::new_with_limits(config, tensors, limits)
    }

    /// A model configuration from the JSON a weights file stores, checked as loading checks it: the sizes
    /// within `limits` first, then the settings and their agreement. Returns the configuration and its kind.
    pub fn config_from_json(
        json: &str,
        limits: &Limits,
    ) -> Result<(ModelConfig, Kind), WeightsError> {
        let config: ModelConfig =
            serde_json::from_str(json).map_err(|e| WeightsError::Config(e.to_string()))?;
        let kind = check_config(&config, limits)?;
        Ok((config, kind))
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let metadata = HashMap::from([
            ("format".to_owned(), FORMAT.to_owned()),
            ("format_version".to_owned(), FORMAT_VERSION.to_string()),
            (
                "config".to_owned(),
                serde_json::to_string(&self.config).expect("the config serialises"),
            ),
        ]);
        encode(&self.tensors, metadata)
    }

    /// Reads and checks a weights file, with the default [`Limits`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, WeightsError> {
        Self::load_with_limits(path, &Limits::default())
    }

    /// As [`Weights::load`], with sizes up to `limits`. A file longer than `limits.parameters` f32 values and
    /// the largest header safetensors reads is refused before it is read.
    pub fn load_with_limits(path: impl AsRef<Path>, limits: &Limits) -> Result<Self, WeightsError> {
        let path = path.as_ref();
        let io = |source| WeightsError::Io {
            path: path.display().to_string(),
            source,
        };
        let length = std::fs::metadata(path).map_err(io)?.len();
        let largest = (limits.parameters as u128) * 4 + MAX_HEADER_BYTES;
        limits::within(
            &format!("{} bytes", path.display()),
            length,
            "parameters",
            largest,
        )?;
        let bytes = std::fs::read(path).map_err(io)?;
        Self::from_bytes_with_limits(&bytes, limits)
    }

    /// Writes the file atomically (a crash leaves the old file or the new one, never half of one).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), WeightsError> {
        let path = path.as_ref();
        write_atomic(path, &self.to_bytes()).map_err(|source| WeightsError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The data kind, built from the configuration.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// All tensors by name.
    pub fn tensors(&self) -> &BTreeMap<String, TensorData> {
        &self.tensors
    }
}

/// The longest header the safetensors crate reads (its own bound against a hostile header length).
const MAX_HEADER_BYTES: u128 = 100_000_000;

/// Checks a configuration's sizes against `limits` before anything of those sizes is built, then its settings.
fn check_config(config: &ModelConfig, limits: &Limits) -> Result<Kind, WeightsError> {
    limits.check_model(config)?;
    config
        .validate()
        .map_err(|e| WeightsError::Config(e.to_string()))
}

/// A safetensors file's `__metadata__`.
pub(crate) type Metadata = HashMap<String, String>;

/// A safetensors file of f32 tensors with string metadata: the weights file and the trainer's checkpoints.
pub(crate) fn encode(
    tensors: &BTreeMap<String, TensorData>,
    metadata: HashMap<String, String>,
) -> Vec<u8> {
    let bytes: Vec<(&str, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            (
                name.as_str(),
                t.shape.clone(),
                t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes.iter().map(|(name, shape, data)| {
        let view = TensorView::new(Dtype::F32, shape.clone(), data)
            .expect("a shape's product matches its data");
        (*name, view)
    });
    safetensors::serialize(views, Some(metadata))
        .expect("f32 tensors with a small header serialise")
}

/// Reads a safetensors file of f32 tensors and its metadata (empty when there is none).
pub(crate) fn decode(
    bytes: &[u8],
) -> Result<(Metadata, BTreeMap<String, TensorData>), WeightsError> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| WeightsError::Malformed(format!("{e:?}")))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let file =
        SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Malformed(format!("{e:?}")))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.iter() {
        if view.dtype() != Dtype::F32 {
            return Err(WeightsError::WrongDtype {
                name: name.to_owned(),
                found: format!("{:?}", view.dtype()),
            });
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        tensors.insert(
            name.to_owned(),
            TensorData {
                shape: view.shape().to_vec(),
                values,
            },
        );
    }
    Ok((metadata, tensors))
}
