//! The U-Net's time input.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::parameters::Affine;
use crate::model::time_features::time_features;
use crate::net::Linear;

/// The official time embedding: sinusoidal features of 4000·t (`timestep_embedding`, cosines then sines, periods
/// up to 10⁴; [`time_features`]), then Linear, SiLU, Linear (`time_embed.0`, `time_embed.2`). A [`Module`] from t
/// \[batch\] to the time features \[batch, 4 · channels\]. The times take no gradient: they are data.
///
/// ```
/// use bevy_bfn::model::parameters::Affine;
/// use bevy_bfn::net::TimeEmbedding;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let varmap = VarMap::new();
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let layers = [Affine::linear("time_embed.0", 8, 32), Affine::linear("time_embed.2", 32, 32)];
/// let embedding = TimeEmbedding::new(&vb, &layers, 8)?;
/// let t = Tensor::new(&[0.0f32, 0.5, 1.0], &Device::Cpu)?;
/// assert_eq!(embedding.forward(&t)?.dims(), [3, 32]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TimeEmbedding {
    first: Linear,
    second: Linear,
    /// Sinusoidal features, half cosines and half sines.
    features: usize,
}

impl TimeEmbedding {
    /// The embedding of `layers` (`time_embed.0`, `time_embed.2`) over `features` sinusoidal features.
    pub fn new(vb: &VarBuilder, layers: &[Affine; 2], features: usize) -> Result<Self> {
        Ok(Self {
            first: Linear::new(vb, &layers[0])?,
            second: Linear::new(vb, &layers[1])?,
            features,
        })
    }
}

/// The sinusoidal features \[batch, features\] of `t` \[batch\] ([`time_features`], which the GPU reads too).
pub fn sinusoids(t: &Tensor, features: usize) -> Result<Tensor> {
    let times = t.to_vec1::<f32>()?;
    let values: Vec<f32> = times
        .iter()
        .flat_map(|&t| time_features(t, features))
        .collect();
    Tensor::from_vec(values, (times.len(), features), t.device())
}

impl Module for TimeEmbedding {
    fn forward(&self, t: &Tensor) -> Result<Tensor> {
        let x = self.first.forward(&sinusoids(t, self.features)?)?;
        self.second.forward(&x.silu()?)
    }
}
