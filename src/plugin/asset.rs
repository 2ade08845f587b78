//! The weights file as a Bevy asset: `asset_server.load("models/dungeon.safetensors")`. A file that fails the
//! weights checks is reported through Bevy's asset events (`AssetLoadFailedEvent<BfnModel>`) and the app runs on.

use std::sync::Arc;

use bevy::asset::io::Reader;
use bevy::asset::{Asset, AssetLoader, LoadContext};
use bevy::reflect::TypePath;

use crate::model::{Weights, WeightsError};

/// A trained model: its configuration and weights, checked on load.
#[derive(Asset, TypePath, Clone, Debug)]
pub struct BfnModel {
    /// The weights file's content, shared with the render world without a copy.
    pub weights: Arc<Weights>,
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
        Ok(BfnModel {
            weights: Arc::new(Weights::from_bytes(&bytes)?),
        })
    }

    fn extensions(&self) -> &[&str] {
        &["safetensors"]
    }
}
