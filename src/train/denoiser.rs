//! The candle network as a [`Denoiser`], so the flow's sampler and ELBO run on a trained model.

use candle_core::{Device, Tensor};

use crate::error::{BfnError, Result};
use crate::flow::{Denoiser, InputParams};
use crate::net::Gpt;

/// A [`Gpt`] answering the sampler's and the ELBO's questions in `f32`.
pub struct GptDenoiser<'a> {
    /// The network.
    pub gpt: &'a Gpt,
    /// Where it runs.
    pub device: &'a Device,
}

impl Denoiser<f32> for GptDenoiser<'_> {
    fn output_params(
        &mut self,
        input: &InputParams<f32>,
        t: &[f32],
        output: &mut [f32],
    ) -> Result<()> {
        let fail = |e: candle_core::Error| BfnError::Denoiser(e.to_string());
        let layout = self.gpt.config().layout;
        let batch = input.shape().batch();
        let per_token = input.values().len() / (batch * layout.tokens());
        let theta = Tensor::from_slice(
            input.values(),
            (batch, layout.tokens(), per_token),
            self.device,
        )
        .map_err(fail)?;
        let t = Tensor::from_slice(t, batch, self.device).map_err(fail)?;
        let out = self
            .gpt
            .forward(&self.gpt.network_input(&theta).map_err(fail)?, &t)
            .map_err(fail)?;
        let values: Vec<f32> = out.flatten_all().and_then(|o| o.to_vec1()).map_err(fail)?;
        if values.len() != output.len() {
            return Err(BfnError::ShapeMismatch {
                what: "network output",
                got: values.len(),
                expected: output.len(),
            });
        }
        output.copy_from_slice(&values);
        Ok(())
    }
}
