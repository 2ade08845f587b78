//! The GPT's forward pass for one job, as a fixed list of bound dispatches: the input adapter, the blocks
//! (LayerNorm → c_attn → attention → c_proj + residual → LayerNorm → c_fc + GELU → c_proj + residual), the
//! final LayerNorm into the skip head's input and `lm_head`. The twin of `Gpt::forward` (`src/net/gpt.rs`).

use crate::gpu::error::GpuError;
use crate::gpu::input_adapter::WORKGROUP;
use crate::gpu::kernel::{check_groups, grid, storage, uniform_with};
use crate::gpu::layer_norm::LayerNormArgs;
use crate::gpu::matmul::{Epilogue, MatmulBuffers, MatmulShape, TILE};
use crate::gpu::model::{GpuModel, check_binding};
use crate::gpu::network::{NetworkInputs, NetworkPass};
use crate::model::GptConfig;
use crate::model::parameters::{Affine, POSITIONS, Parameters};

/// The GPT's dispatches for `batch` examples (twice that for a guided job), the guidance mix not included.
pub(crate) fn gpt_pass(
    device: &wgpu::Device,
    model: &GpuModel,
    network: &GptConfig,
    inputs: &NetworkInputs,
    batch: usize,
) -> Result<NetworkPass, GpuError> {
    let config = model.config();
    let tokens = config.layout.tokens();
    let theta_rows = batch * tokens;
    let batch = if inputs.mix.is_some() {
        2 * batch
    } else {
        batch
    };
    let (d, rows) = (network.width, batch * tokens);
    let inputs_per_token = config.kind.input_per_token(config.layout.channels);
    let outputs_per_token = config.kind.output_per_token(config.layout.channels);
    // Batch and tokens are dispatch dimensions of the attention, and the rows of every matmul a second one.
    check_groups(
        device,
        "the attention over tokens × heads × batch",
        [
            tokens as u32,
            network.heads as u32,
            u32::try_from(batch).unwrap_or(u32::MAX),
        ],
    )?;
    check_groups(
        device,
        "the matmuls over batch × tokens rows",
        [
            1,
            u32::try_from(rows.div_ceil(TILE as usize)).unwrap_or(u32::MAX),
            1,
        ],
    )?;
    for (what, columns) in [
        ("the attention's q, k, v", 3 * d),
        ("the MLP's hidden layer", 4 * d),
        ("the skip head's input", 2 * d),
    ] {
        check_binding(device, what, (rows * columns * 4) as u64)?;
    }
    let activation = |label, columns| storage(device, label, rows * columns);
    let residual = activation("residual", d);
    let normed = activation("normed", d);
    let qkv = activation("qkv", 3 * d);
    let attended = activation("attended", d);
    let hidden = activation("hidden", 4 * d);
    let skip = activation("skip", 2 * d);
    let output = activation("output", outputs_per_token);

    let kernels = &model.kernels;
    let parameters = Parameters::new(config, network);
    let w = |name: &str| model.tensor(name);
    let [rows32, d32] = [rows as u32, d as u32];
    let (embedding, time) = (&parameters.inp_embedding, &parameters.t_embedding);
    let mut dispatches = vec![kernels.input.bind(
        device,
        &[
            inputs.theta,
            w(&embedding.weight()),
            w(&embedding.bias()),
            w(POSITIONS),
            w(&time.weight()),
            w(&time.bias()),
            inputs.table,
            inputs.progress,
            &residual,
            &skip,
            &uniform_with(
                device,
                "input adapter dims",
                &[
                    rows32,
                    d32,
                    inputs_per_token as u32,
                    tokens as u32,
                    theta_rows as u32,
                    0,
                    0,
                    0,
                ],
            ),
            inputs.labels,
            model.label_embedding(),
        ],
        grid(rows * d, WORKGROUP),
    )];
    let layer_norm = |x, norm: &Affine, y, out_stride: u32, out_offset: u32| {
        kernels.device.layer_norm.call(
            device,
            LayerNormArgs {
                x,
                weight: w(&norm.weight()),
                bias: w(&norm.bias()),
                y,
                rows: rows32,
                width: d32,
                out_stride,
                out_offset,
            },
        )
    };
    let linear = |a, layer: &Affine, c, epilogue| {
        kernels.device.matmul.call(
            device,
            MatmulBuffers {
                a,
                b: w(&layer.weight()),
                bias: w(&layer.bias()),
                c,
            },
            MatmulShape::dense(rows32, layer.outputs() as u32, layer.inputs() as u32),
            epilogue,
        )
    };
    for block in &parameters.blocks {
        dispatches.extend([
            layer_norm(&residual, &block.ln_1, &normed, d32, 0),
            linear(&normed, &block.c_attn, &qkv, Epilogue::Store),
            kernels.device.attention.call(
                device,
                &qkv,
                &attended,
                [batch as u32, tokens as u32, d32, network.heads as u32],
            ),
            linear(&attended, &block.attn_proj, &residual, Epilogue::Accumulate),
            layer_norm(&residual, &block.ln_2, &normed, d32, 0),
            linear(&normed, &block.c_fc, &hidden, Epilogue::Gelu),
            linear(&hidden, &block.mlp_proj, &residual, Epilogue::Accumulate),
        ]);
    }
    dispatches.extend([
        layer_norm(&residual, &parameters.ln_f, &skip, 2 * d32, 0),
        linear(&skip, &parameters.lm_head, &output, Epilogue::Store),
    ]);
    let bytes = [&residual, &normed, &qkv, &attended, &hidden, &skip, &output]
        .iter()
        .map(|b| b.size())
        .sum();
    Ok(NetworkPass {
        dispatches,
        output,
        bytes,
    })
}
