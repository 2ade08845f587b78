//! The network's forward pass for one job, as a fixed list of bound dispatches made once, whatever the
//! architecture: the GPT's (`network_gpt`) or the U-Net's (`network_unet`), each the twin of its candle network.

use crate::gpu::error::GpuError;
use crate::gpu::guidance::WORKGROUP as GUIDANCE_WORKGROUP;
use crate::gpu::kernel::{Dispatch, grid};
use crate::gpu::model::GpuModel;
use crate::gpu::network_gpt::gpt_pass;
use crate::gpu::network_unet::unet_pass;
use crate::model::NetworkConfig;

/// The forward pass of one job: its activations and dispatches, made once.
#[derive(Debug)]
pub(crate) struct NetworkPass {
    pub dispatches: Vec<Dispatch>,
    /// Output parameters [batch·tokens, outputs per token].
    pub output: wgpu::Buffer,
    /// Bytes of the activations, the output included.
    pub bytes: u64,
}

/// The buffers the forward pass reads besides the weights.
pub(crate) struct NetworkInputs<'a> {
    pub theta: &'a wgpu::Buffer,
    pub table: &'a wgpu::Buffer,
    pub progress: &'a wgpu::Buffer,
    /// A class per example the network runs on ([`label_words`](crate::gpu::guidance::label_words)).
    pub labels: &'a wgpu::Buffer,
    /// For a guided job, the guidance mix's uniform ([`mix_words`](crate::gpu::guidance::mix_words)): the network
    /// then runs on the batch twice and mixes the two halves of its output.
    pub mix: Option<&'a wgpu::Buffer>,
    /// The t of each entry of the step table, in its order.
    pub times: &'a [f32],
    /// The job's constraints (`gpu::constraints`), which a network with a context input reads.
    pub constraints: &'a wgpu::Buffer,
}

impl NetworkPass {
    /// Allocates the activations for `batch` examples (twice that for a guided job) and binds every dispatch,
    /// the guidance mix last.
    pub fn new(
        device: &wgpu::Device,
        model: &GpuModel,
        inputs: NetworkInputs,
        batch: usize,
    ) -> Result<Self, GpuError> {
        let config = model.config();
        let mut pass = match &config.network {
            NetworkConfig::Gpt(net) => gpt_pass(device, model, net, &inputs, batch)?,
            NetworkConfig::Unet(net) => unet_pass(device, model, net, &inputs, batch)?,
        };
        if let Some(mix) = inputs.mix {
            let outputs = batch
                * config.layout.tokens()
                * config.kind.output_per_token(config.layout.channels);
            pass.dispatches.push(model.kernels.device.guidance.bind(
                device,
                &[&pass.output, inputs.labels, mix],
                grid(outputs, GUIDANCE_WORKGROUP),
            ));
        }
        Ok(pass)
    }

    /// Records the forward pass at the job's current step.
    pub fn record(&self, pass: &mut wgpu::ComputePass) {
        for dispatch in &self.dispatches {
            dispatch.record(pass);
        }
    }
}
