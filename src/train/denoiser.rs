//! The candle network as a [`Denoiser`], so the flow's sampler and ELBO run on a trained model.

use candle_core::{Device, Tensor};

use crate::error::{BfnError, Result};
use crate::flow::{Denoiser, InputParams};
use crate::net::Gpt;

/// What a conditional model is asked for: a class per batch row and how hard to push towards it.
///
/// Classifier-free guidance: the network's raw output for row b is `(1 + w)·out(labels[b]) − w·out(no class)`,
/// which exaggerates what sets the class apart from the data at large. The network has learnt both terms (label
/// dropout in training); w = 0 is the plain conditional model and costs one pass, w > 0 two (batched as one
/// forward of twice the rows). Rows without a class are not mixed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Guidance {
    /// One per batch row (`None`: no class), or empty for no class anywhere.
    pub labels: Vec<Option<u32>>,
    /// The guidance weight w ≥ 0.
    pub weight: f64,
}

impl Guidance {
    /// Every one of `count` rows asks for class `label` with weight `weight`.
    pub fn class(label: u32, count: usize, weight: f64) -> Result<Self> {
        if !(weight >= 0.0 && weight.is_finite()) {
            return Err(BfnError::Config(format!(
                "guidance weight {weight}: it must be finite and not negative"
            )));
        }
        Ok(Self {
            labels: vec![Some(label); count],
            weight,
        })
    }

    /// Whether the unconditional pass is needed: a positive weight and some row with a class.
    fn mixes(&self) -> bool {
        self.weight > 0.0 && self.labels.iter().any(Option::is_some)
    }
}

/// A [`Gpt`] answering the sampler's and the ELBO's questions in `f32`.
pub struct GptDenoiser<'a> {
    /// The network.
    pub gpt: &'a Gpt,
    /// Where it runs.
    pub device: &'a Device,
    /// The classes asked for; the default asks for none.
    pub guidance: Guidance,
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
        let labels = &self.guidance.labels;
        if !labels.is_empty() && labels.len() != batch {
            return Err(BfnError::ShapeMismatch {
                what: "guidance labels",
                got: labels.len(),
                expected: batch,
            });
        }
        let per_token = input.values().len() / (batch * layout.tokens());
        let theta = Tensor::from_slice(
            input.values(),
            (batch, layout.tokens(), per_token),
            self.device,
        )
        .map_err(fail)?;
        let t = Tensor::from_slice(t, batch, self.device).map_err(fail)?;
        let mixes = self.guidance.mixes();
        // With guidance, the rows twice over: first with their classes, then with none.
        let (theta, t, labels) = if mixes {
            let twice = |x: &Tensor| Tensor::cat(&[x, x], 0).map_err(fail);
            let both: Vec<Option<u32>> = labels.iter().copied().chain(vec![None; batch]).collect();
            (twice(&theta)?, twice(&t)?, both)
        } else {
            (theta, t, labels.clone())
        };
        let out = self
            .gpt
            .forward_labelled(&self.gpt.network_input(&theta).map_err(fail)?, &t, &labels)
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
