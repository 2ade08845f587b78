//! The weights file as a Bevy asset: `asset_server.load("models/dungeon.safetensors")`. A file that fails the
//! weights checks is reported through Bevy's asset events (`AssetLoadFailedEvent<BfnModel>`) and the app runs on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bevy::asset::io::Reader;
use bevy::asset::{Asset, AssetLoader, LoadContext};
use bevy::reflect::TypePath;

use crate::model::{Weights, WeightsError};

/// A trained model: its configuration and weights, checked on load.
#[derive(Asset, TypePath, Clone, Debug)]
pub struct BfnModel {
    /// The weights file's content, shared with the render world without a copy.
    pub weights: Arc<Weights>,
    /// The same weights on the other canvases generators asked for ([`BfnModel::on_canvas`]), made once each so
    /// that a run's weights stay the same `Arc` from frame to frame.
    canvases: Arc<Mutex<Canvases>>,
}

/// Weights by canvas, (width, height).
type Canvases = HashMap<(usize, usize), Arc<Weights>>;

impl BfnModel {
    /// The model of a weights file.
    pub fn new(weights: Weights) -> Self {
        Self {
            weights: Arc::new(weights),
            canvases: Arc::default(),
        }
    }

    /// The weights on a canvas of `(width, height)` cells (`None`: the model's own), in one pass: a U-Net's any
    /// whose sides are multiples of 2^(levels − 1) ([`Weights::with_canvas`]), a GPT's only its own.
    pub fn on_canvas(&self, canvas: Option<(usize, usize)>) -> Result<Arc<Weights>, WeightsError> {
        let layout = self.weights.config().layout;
        let Some((width, height)) = canvas.filter(|&c| c != (layout.width, layout.height)) else {
            return Ok(Arc::clone(&self.weights));
        };
        let mut canvases = self
            .canvases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(weights) = canvases.get(&(width, height)) {
            return Ok(Arc::clone(weights));
        }
        let weights = Arc::new(self.weights.with_canvas(width, height)?);
        canvases.insert((width, height), Arc::clone(&weights));
        Ok(weights)
    }
}

/// Loads `.safetensors` weights files written by `bfn-train`.
#[derive(Default, TypePath)]
pub struct BfnModelLoader;

impl AssetLoader for BfnModelLoader {
    type Asset = BfnModel;
    type Settings = ();
    type Error = WeightsError;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        load_context: &mut LoadContext<'_>,
    ) -> Result<BfnModel, WeightsError> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .await
            .map_err(|source| WeightsError::Io {
                path: load_context.path().to_string(),
                source,
            })?;
        Ok(BfnModel::new(Weights::from_bytes(&bytes)?))
    }

    fn extensions(&self) -> &[&str] {
        &["safetensors"]
    }
}
