//! GroupNorm, with the SiLU that follows it everywhere in the U-Net but before attention.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::parameters::Affine;
use crate::net::fused;

/// The official `GroupNorm32` (ε = 10⁻⁵, biased variance, a gain and a bias per channel) over [batch, channels,
/// ...], followed by SiLU where the U-Net has one. Fused with it in one pass forward and one back
/// (`net::fused::group_norm`): candle's composition of a dozen ops cost fifteen times its forward to train.
///
/// ```
/// use bevy_bfn::model::parameters::Affine;
/// use bevy_bfn::net::GroupNorm;
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{Module, VarBuilder, VarMap};
///
/// # fn main() -> candle_core::Result<()> {
/// let varmap = VarMap::new(); // variables created on first use, zero: the output is the bias, 0
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let norm = GroupNorm::new(&vb, &Affine::layer_norm("out.0", 8), 4, true)?;
/// let x = Tensor::randn(0f32, 1.0, (2, 8, 4, 4), &Device::Cpu)?;
/// assert_eq!(norm.forward(&x)?.dims(), [2, 8, 4, 4]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct GroupNorm {
    gain: Tensor,
    bias: Tensor,
    groups: usize,
    silu: bool,
}

/// The official normalisation's ε.
const EPS: f64 = 1e-5;

impl GroupNorm {
    /// The normalisation `parameters` names, in `groups` groups, followed by SiLU when `silu`.
    pub fn new(vb: &VarBuilder, parameters: &Affine, groups: usize, silu: bool) -> Result<Self> {
        let channels = parameters.outputs();
        Ok(Self {
            gain: vb.get(channels, &parameters.weight())?,
            bias: vb.get(channels, &parameters.bias())?,
            groups,
            silu,
        })
    }
}

impl Module for GroupNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        fused::group_norm(x, &self.gain, &self.bias, self.groups, EPS, self.silu)
    }
}
