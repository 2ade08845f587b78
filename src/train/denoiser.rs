//! The candle network as a [`Denoiser`], so the flow's sampler and ELBO run on a trained model.

use candle_core::{Device, Tensor};

use crate::error::{BfnError, Result};
use crate::flow::{Denoiser, InputParams};
pub use crate::model::Guidance;
use crate::net::Network;

/// A [`Network`] answering the sampler's and the ELBO's questions in `f32`.
pub struct NetworkDenoiser<'a> {
    /// The network.
    pub network: &'a Network,
    /// Where it runs.
    pub device: &'a Device,
    /// The classes asked for; the default asks for none.
    pub guidance: Guidance,
}

impl<'a> NetworkDenoiser<'a> {
    /// `network` on its configuration's canvas, asking for no class.
    pub fn new(network: &'a Network, device: &'a Device) -> Self {
        Self {
            network,
            device,
            guidance: Guidance::default(),
        }
    }

    /// Asking for the classes of `guidance`.
    pub fn with_guidance(self, guidance: Guidance) -> Self {
        Self { guidance, ..self }
    }
}

impl Denoiser<f32> for NetworkDenoiser<'_> {
    fn output_params(
        &mut self,
        input: &InputParams<f32>,
        t: &[f32],
        output: &mut [f32],
    ) -> Result<()> {
        self.ask(input, t, None, output)
    }

    fn output_params_in_context(
        &mut self,
        input: &InputParams<f32>,
        t: &[f32],
        context: &[f32],
        output: &mut [f32],
    ) -> Result<()> {
        self.ask(input, t, Some(context), output)
    }
}

impl NetworkDenoiser<'_> {
    /// The network's output for θ at `t`, with the run's known values as `context` if it keeps any.
    fn ask(
        &mut self,
        input: &InputParams<f32>,
        t: &[f32],
        context: Option<&[f32]>,
        output: &mut [f32],
    ) -> Result<()> {
        let fail = |e: candle_core::Error| BfnError::Denoiser(e.to_string());
        let tokens = self.network.config().layout.tokens();
        let batch = input.shape().batch();
        // Classifier-free guidance (`Guidance`): the rows' classes, checked against the model's.
        let labels = self
            .guidance
            .per_example(self.network.config().labels.len(), batch)?;
        let per_token = input.values().len() / (batch * tokens).max(1);
        let theta = Tensor::from_slice(input.values(), (batch, tokens, per_token), self.device)
            .map_err(fail)?;
        let t = Tensor::from_slice(t, batch, self.device).map_err(fail)?;
        let context = context
            .map(|c| {
                Tensor::from_slice(
                    c,
                    (batch, tokens, c.len() / (batch * tokens).max(1)),
                    self.device,
                )
            })
            .transpose()
            .map_err(fail)?;
        let mixes = self.guidance.is_guided();
        // With guidance, the rows twice over: first with their classes, then with none; the same context.
        let twice = |x: &Tensor| Tensor::cat(&[x, x], 0).map_err(fail);
        let (theta, t, context, rows) = if mixes {
            let both: Vec<Option<u32>> = labels.iter().copied().chain(vec![None; batch]).collect();
            let context = context.as_ref().map(twice).transpose()?;
            (twice(&theta)?, twice(&t)?, context, both)
        } else {
            (theta, t, context, labels.clone())
        };
        let input = self.network.network_input(&theta).map_err(fail)?;
        let out = self
            .network
            .forward_in_context(&input, &t, &rows, context.as_ref(), None)
            .map_err(fail)?;
        let values: Vec<f32> = out.flatten_all().and_then(|o| o.to_vec1()).map_err(fail)?;
        let expected = if mixes {
            2 * output.len()
        } else {
            output.len()
        };
        if values.len() != expected {
            return Err(BfnError::ShapeMismatch {
                what: "network output",
                got: values.len(),
                expected,
            });
        }
        output.copy_from_slice(&values[..output.len()]);
        if mixes {
            let w = self.guidance.weight as f32;
            let per_row = output.len() / batch;
            let unconditional = values[output.len()..].chunks_exact(per_row);
            for ((row, free), label) in output
                .chunks_exact_mut(per_row)
                .zip(unconditional)
                .zip(labels)
            {
                if label.is_some() {
                    row.iter_mut()
                        .zip(free)
                        .for_each(|(o, u)| *o = (1.0 + w) * *o - w * u);
                }
            }
        }
        Ok(())
    }
}
