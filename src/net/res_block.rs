//! The U-Net's residual block.

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use crate::model::unet_parameters;
use crate::net::dropout::drop;
use crate::net::{Conv2d, Dropout, GroupNorm, Linear};

/// The official `ResBlock`: GroupNorm, SiLU, 3×3 conv, plus a projection of the time features (which carry the
/// class too) to every channel; GroupNorm, SiLU, dropout, a zero-initialised 3×3 conv; plus the input, through a
/// 1×1 conv where the channels change. The zero start makes every block its skip, so a fresh network passes its
/// input through and learns the residuals. Not a [`Module`]: it takes the time features beside the canvas.
///
/// ```
/// use bevy_bfn::model::unet_parameters::{Layer, UnetParameters};
/// use bevy_bfn::model::{KindConfig, Layout, ModelConfig, NetworkConfig, UnetConfig};
/// use bevy_bfn::net::{ResBlock, initial_varmap};
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::VarBuilder;
///
/// # fn main() -> candle_core::Result<()> {
/// # let net = UnetConfig { channels: 8, multipliers: vec![1, 2], res_blocks: 1, attention_levels: vec![],
/// #     heads: 1, groups: 4, context: false };
/// # let config = ModelConfig { kind: KindConfig::Continuous { sigma_1: 0.03 },
/// #     layout: Layout { height: 4, width: 4, channels: 1 }, patch: 1, network: NetworkConfig::Unet(net.clone()),
/// #     legend: vec![], normalisation: None, sampling_steps: None, sampler: None, provenance: String::new(),
/// #     training_data: None, labels: vec![] };
/// let parameters = UnetParameters::new(&config, &net);
/// let Layer::Res(block) = &parameters.input_blocks[1][0] else { unreachable!() };
/// let varmap = initial_varmap(&config, 7, &Device::Cpu)?;
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let res = ResBlock::new(&vb, block, net.groups)?;
/// let x = Tensor::randn(0f32, 1.0, (2, 8, 4, 4), &Device::Cpu)?;
/// let time = Tensor::randn(0f32, 1.0, (2, 32), &Device::Cpu)?;
/// // Its last convolution starts at zero: a fresh block is its skip.
/// let y = res.forward(&x, &time, None, 0)?;
/// assert_eq!((y - &x)?.abs()?.max_all()?.to_scalar::<f32>()?, 0.0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ResBlock {
    in_norm: GroupNorm,
    in_conv: Conv2d,
    emb: Linear,
    out_norm: GroupNorm,
    out_conv: Conv2d,
    skip: Option<Conv2d>,
}

impl ResBlock {
    /// The block `parameters` names, normalised in `groups` groups.
    pub fn new(
        vb: &VarBuilder,
        parameters: &unet_parameters::ResBlock,
        groups: usize,
    ) -> Result<Self> {
        Ok(Self {
            in_norm: GroupNorm::new(vb, &parameters.in_norm, groups, true)?,
            in_conv: Conv2d::new(vb, &parameters.in_conv)?,
            emb: Linear::new(vb, &parameters.emb)?,
            out_norm: GroupNorm::new(vb, &parameters.out_norm, groups, true)?,
            out_conv: Conv2d::new(vb, &parameters.out_conv)?,
            skip: parameters
                .skip
                .as_ref()
                .map(|skip| Conv2d::new(vb, skip))
                .transpose()?,
        })
    }

    /// The block on `x` [batch, channels, height, width] with the time features `time` [batch, features], and
    /// `dropout` (at mask site `site`) while training.
    pub fn forward(
        &self,
        x: &Tensor,
        time: &Tensor,
        dropout: Option<&Dropout>,
        site: usize,
    ) -> Result<Tensor> {
        let h = self.in_conv.forward(&self.in_norm.forward(x)?)?;
        let (batch, channels, _, _) = h.dims4()?;
        let shift = self
            .emb
            .forward(&time.silu()?)?
            .reshape((batch, channels, 1, 1))?;
        let h = self.out_norm.forward(&h.broadcast_add(&shift)?)?;
        let h = self.out_conv.forward(&drop(dropout, h, site)?)?;
        match &self.skip {
            Some(skip) => skip.forward(x)? + h,
            None => x + h,
        }
    }
}
