//! The U-Net's forward pass for one job, as a fixed list of bound dispatches: the twin of `Unet::forward`
//! (`src/net/unet.rs`).
//!
//! Features are cells × channels (channels innermost), so that a 1×1 convolution or a linear layer is one matmul
//! and a 3×3 convolution the same matmul over its unfolded input, which it reads without writing it out. Each
//! output block takes its features beside a kept input block's: that pair is one buffer, the kept block
//! written by the way down into the right-hand columns and read from there by the way down and up alike, so the
//! concatenation costs no copy. Nearest upsampling is read into the convolution that follows it.

use std::collections::HashMap;

use crate::gpu::attention::check_attention_shape;
use crate::gpu::copy_columns::Columns;
use crate::gpu::error::GpuError;
use crate::gpu::group_norm::GroupNormArgs;
use crate::gpu::kernel::{Dispatch, check_groups, grid, storage, storage_with, uniform_with};
use crate::gpu::matmul::{ConvShape, Epilogue, MatmulBuffers, MatmulShape, TILE};
use crate::gpu::model::{GpuModel, check_binding};
use crate::gpu::network::{NetworkInputs, NetworkPass};
use crate::gpu::time_embedding::TimeBuffers;
use crate::gpu::unet_input::WORKGROUP;
use crate::model::parameters::Affine;
use crate::model::time_features::time_features;
use crate::model::unet_parameters::{AttentionBlock, Conv, Layer, ResBlock, UnetParameters};
use crate::model::{ModelConfig, TensorData, UnetConfig};

/// Where features lie: buffer `buffer` of the pass, rows of `stride` words from column `offset`, `channels` of
/// them, on the canvas of `level` (0 the full canvas, each level half the one before).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct View {
    buffer: usize,
    stride: u32,
    offset: u32,
    channels: u32,
    level: usize,
}

impl View {
    /// The whole of a dense buffer of `channels` columns.
    fn dense(buffer: usize, channels: usize, level: usize) -> Self {
        Self {
            buffer,
            stride: channels as u32,
            offset: 0,
            channels: channels as u32,
            level,
        }
    }
}

/// The pass being built: its buffers, dispatches and the shapes they share.
struct Builder<'a> {
    device: &'a wgpu::Device,
    model: &'a GpuModel,
    net: &'a UnetConfig,
    buffers: Vec<wgpu::Buffer>,
    dispatches: Vec<Dispatch>,
    /// Examples the network runs on (twice the batch for a guided job).
    examples: u32,
    /// (height, width) of each level's canvas.
    sides: Vec<(u32, u32)>,
    /// Scratch buffers, each as large as its largest use: normalised features, a convolution's output, a block's
    /// features between its layers, q·k·v, the attention's output, a residual block's time shift.
    scratch: HashMap<&'static str, usize>,
    /// The time features after SiLU, [examples, 4 · channels].
    time: usize,
}

/// The U-Net's dispatches for `batch` examples (twice that for a guided job), the guidance mix not included.
pub(crate) fn unet_pass(
    device: &wgpu::Device,
    model: &GpuModel,
    net: &UnetConfig,
    inputs: &NetworkInputs,
    batch: usize,
) -> Result<NetworkPass, GpuError> {
    let config = model.config();
    let parameters = UnetParameters::new(config, net);
    let examples = if inputs.mix.is_some() {
        2 * batch
    } else {
        batch
    };
    let (height, width) = (config.layout.height as u32, config.layout.width as u32);
    let sides: Vec<(u32, u32)> = (0..net.levels())
        .map(|level| (height >> level, width >> level))
        .collect();
    check_shapes(device, net, &parameters, &sides, examples)?;
    let mut builder = Builder {
        device,
        model,
        net,
        buffers: Vec::new(),
        dispatches: Vec::new(),
        examples: examples as u32,
        sides,
        scratch: HashMap::new(),
        time: 0,
    };
    builder.allocate_scratch(&parameters);
    builder.time_embedding(&parameters, inputs);
    let input = builder.input(config, inputs, batch);
    let output = builder.body(&parameters, input);
    let output_buffer = builder.output(&parameters, output, config);
    let bytes = builder.buffers.iter().map(wgpu::Buffer::size).sum();
    let output = builder.buffers.swap_remove(output_buffer);
    Ok(NetworkPass {
        dispatches: builder.dispatches,
        output,
        bytes,
    })
}

/// Refuses a canvas or batch the kernels cannot take: attention over too many cells or too wide a head, a
/// buffer beyond the device's binding limit, too many workgroups.
fn check_shapes(
    device: &wgpu::Device,
    net: &UnetConfig,
    parameters: &UnetParameters,
    sides: &[(u32, u32)],
    examples: usize,
) -> Result<(), GpuError> {
    let rows = |level: usize| examples * (sides[level].0 * sides[level].1) as usize;
    for (layer, level) in levels(parameters) {
        let (what, channels) = match layer {
            Layer::Res(r) => (&r.in_conv.name, r.in_norm.outputs().max(r.outputs())),
            Layer::Attention(a) => {
                check_attention_shape(rows(level) / examples, a.channels() / net.heads)?;
                (&a.name, 3 * a.channels())
            }
            Layer::Conv(c) | Layer::Downsample(c) | Layer::Upsample(c) => (&c.name, c.outputs),
        };
        check_binding(
            device,
            format!("the features of {what}"),
            (rows(level) * channels * 4) as u64,
        )?;
        check_groups(
            device,
            &format!("the convolutions of {what}"),
            [1, (rows(level) as u32).div_ceil(TILE), 1],
        )?;
    }
    Ok(())
}

/// Every layer with the level of the canvas it reads.
fn levels(parameters: &UnetParameters) -> Vec<(&Layer, usize)> {
    let mut level = 0;
    parameters
        .layers()
        .map(|layer| {
            let reads = level;
            match layer {
                Layer::Downsample(_) => level += 1,
                Layer::Upsample(_) => level -= 1,
                _ => {}
            }
            (layer, reads)
        })
        .collect()
}

impl Builder<'_> {
    fn rows(&self, level: usize) -> u32 {
        let (h, w) = self.sides[level];
        self.examples * h * w
    }

    fn buffer(&mut self, label: &str, words: usize) -> usize {
        self.buffers.push(storage(self.device, label, words));
        self.buffers.len() - 1
    }

    fn weight(&self, name: &str) -> &wgpu::Buffer {
        self.model.tensor(name)
    }

    /// The scratch buffers, each as large as the full canvas's rows times the widest features any layer
    /// keeps there (three times for q·k·v): the finest level has the most rows, a coarser one at most as many
    /// words.
    fn allocate_scratch(&mut self, parameters: &UnetParameters) {
        let widest = parameters
            .layers()
            .map(|layer| match layer {
                Layer::Res(r) => r.in_norm.outputs().max(r.outputs()),
                Layer::Attention(a) => 3 * a.channels(),
                Layer::Conv(c) | Layer::Downsample(c) | Layer::Upsample(c) => {
                    c.outputs.max(c.inputs)
                }
            })
            .max()
            .unwrap_or(0);
        let rows = self.rows(0) as usize;
        for name in ["normed", "conv", "carry", "qkv", "attended"] {
            let buffer = self.buffer(name, rows * widest);
            self.scratch.insert(name, buffer);
        }
        let shift = self.buffer("shift", self.examples as usize * 4 * self.net.channels);
        self.scratch.insert("shift", shift);
    }

    /// The time embedding, class rows and SiLU: [examples, 4 · channels] in `self.time`.
    fn time_embedding(&mut self, parameters: &UnetParameters, inputs: &NetworkInputs) {
        let features = parameters.time_channels;
        let steps: Vec<f32> = inputs
            .times
            .iter()
            .flat_map(|&t| time_features(t, features))
            .collect();
        self.buffers.push(storage_with(
            self.device,
            "time features of each step",
            &steps,
        ));
        let steps = self.buffers.len() - 1;
        let sinusoids = self.buffer("time sinusoids", self.examples as usize * features);
        let hidden = self.buffer("time hidden", self.examples as usize * 4 * features);
        self.time = self.buffer("time features", self.examples as usize * 4 * features);
        let kernels = &self.model.kernels.device;
        let buffers = TimeBuffers {
            steps: &self.buffers[steps],
            progress: inputs.progress,
            labels: inputs.labels,
            label_embedding: self.model.label_embedding(),
        };
        let rows = self.examples;
        let [first, second] = &parameters.time_embed;
        let dispatches = [
            kernels.time_embedding.features(
                self.device,
                &buffers,
                &self.buffers[sinusoids],
                rows,
                features as u32,
            ),
            self.linear(sinusoids, first, hidden, Epilogue::Silu),
            self.linear(hidden, second, self.time, Epilogue::Store),
            kernels.time_embedding.finish(
                self.device,
                &buffers,
                &self.buffers[self.time],
                rows,
                4 * features as u32,
            ),
        ];
        self.dispatches.extend(dispatches);
    }

    /// `layer` on the examples' rows of buffer `a`, into `c`.
    fn linear(&self, a: usize, layer: &Affine, c: usize, epilogue: Epilogue) -> Dispatch {
        self.model.kernels.device.matmul.call(
            self.device,
            MatmulBuffers {
                a: &self.buffers[a],
                b: self.weight(&layer.weight()),
                bias: self.weight(&layer.bias()),
                c: &self.buffers[c],
            },
            MatmulShape::dense(self.examples, layer.outputs() as u32, layer.inputs() as u32),
            epilogue,
        )
    }

    /// The input features of every cell: θ's, 2t − 1 and the context.
    fn input(&mut self, config: &ModelConfig, inputs: &NetworkInputs, batch: usize) -> View {
        let per_cell = config.kind.input_per_token(config.layout.channels);
        let context = self.net.context_channels(config);
        let width = per_cell + 1 + context;
        let rows = self.rows(0) as usize;
        let buffer = self.buffer("unet input", rows * width);
        let dims = uniform_with(
            self.device,
            "unet input dims",
            &[
                rows as u32,
                per_cell as u32,
                (batch * config.layout.tokens()) as u32,
                context as u32,
                (1 + per_cell / config.layout.channels) as u32,
                0,
                0,
                0,
            ],
        );
        let dispatch = self.model.kernels.input.bind(
            self.device,
            &[
                inputs.theta,
                inputs.table,
                inputs.progress,
                &self.buffers[buffer],
                &dims,
                inputs.constraints,
            ],
            grid(rows * width, WORKGROUP),
        );
        self.dispatches.push(dispatch);
        View::dense(buffer, width, 0)
    }

    /// The way down, the middle and the way up, from `input`; returns the last output block's features.
    fn body(&mut self, parameters: &UnetParameters, input: View) -> View {
        // The channels and level each input block leaves, and so the buffer each output block takes: its own
        // features on the left, the kept block's on the right.
        let mut kept = Vec::new();
        let mut level = 0;
        for block in &parameters.input_blocks {
            if matches!(block[0], Layer::Downsample(_)) {
                level += 1;
            }
            kept.push((block_outputs(block), level));
        }
        let mut pairs = Vec::new();
        let mut ch = block_outputs(&parameters.middle_block);
        for (j, block) in parameters.output_blocks.iter().enumerate() {
            let (skip, level) = kept[kept.len() - 1 - j];
            let buffer = self.buffer("unet pair", self.rows(level) as usize * (ch + skip));
            let stride = (ch + skip) as u32;
            pairs.push((
                View {
                    buffer,
                    stride,
                    offset: 0,
                    channels: stride,
                    level,
                },
                View {
                    buffer,
                    stride,
                    offset: ch as u32,
                    channels: skip as u32,
                    level,
                },
            ));
            ch = block_outputs(block);
        }
        let n = parameters.input_blocks.len();
        let mut x = input;
        for (i, block) in parameters.input_blocks.iter().enumerate() {
            let destination = pairs[n - 1 - i].1;
            self.block(block, x, destination);
            x = destination;
        }
        let middle_out = View {
            channels: block_outputs(&parameters.middle_block) as u32,
            ..pairs[0].0
        };
        self.block(&parameters.middle_block, x, middle_out);
        let last = parameters.output_blocks.len() - 1;
        let finish = self.buffer("unet last features", self.rows(0) as usize * ch);
        for (j, block) in parameters.output_blocks.iter().enumerate() {
            let destination = if j == last {
                View::dense(finish, ch, 0)
            } else {
                View {
                    channels: block_outputs(block) as u32,
                    ..pairs[j + 1].0
                }
            };
            self.block(block, pairs[j].0, destination);
        }
        View::dense(finish, ch, 0)
    }

    /// One block's layers from `source` into `destination`: each layer writes where the next reads, the last
    /// (or a residual block followed only by attention, which works in place) into `destination`.
    fn block(&mut self, block: &[Layer], source: View, destination: View) {
        let carry = self.scratch["carry"];
        let mut x = source;
        for (i, layer) in block.iter().enumerate() {
            let rest_in_place = block[i + 1..]
                .iter()
                .all(|l| matches!(l, Layer::Attention(_)));
            let target = |channels: usize, level: usize| {
                if rest_in_place {
                    destination
                } else {
                    View::dense(carry, channels, level)
                }
            };
            x = match layer {
                Layer::Attention(a) => {
                    self.attention(a, x);
                    x
                }
                Layer::Conv(conv) | Layer::Downsample(conv) | Layer::Upsample(conv) => {
                    let level = match layer {
                        Layer::Downsample(_) => x.level + 1,
                        Layer::Upsample(_) => x.level - 1,
                        _ => x.level,
                    };
                    let out = target(conv.outputs, level);
                    self.conv(conv, x, out, Epilogue::Store);
                    out
                }
                Layer::Res(res) => {
                    let out = target(res.outputs(), x.level);
                    self.res_block(res, x, out);
                    out
                }
            };
        }
        debug_assert_eq!(x, destination, "a block ends in its destination");
    }

    /// A convolution from `x` into `out`: 3×3 as implicit GEMM (stride 2 down, upsampling up), 1×1 as a matmul.
    fn conv(&mut self, conv: &Conv, x: View, out: View, epilogue: Epilogue) {
        let (in_height, in_width) = self.sides[x.level];
        let shape = MatmulShape {
            m: self.rows(out.level),
            n: conv.outputs as u32,
            k: (conv.kernel * conv.kernel * conv.inputs) as u32,
            lda: x.stride,
            ldc: out.stride,
            c_offset: out.offset,
            a_offset: x.offset,
            conv: (conv.kernel == 3).then_some(ConvShape {
                in_height,
                in_width,
                stride: conv.stride as u32,
                in_channels: conv.inputs as u32,
                upsample: out.level < x.level,
            }),
        };
        let dispatch = self.model.kernels.device.matmul.call(
            self.device,
            MatmulBuffers {
                a: &self.buffers[x.buffer],
                b: self.weight(&conv.weight()),
                bias: self.weight(&conv.bias()),
                c: &self.buffers[out.buffer],
            },
            shape,
            epilogue,
        );
        self.dispatches.push(dispatch);
    }

    /// GroupNorm (+ SiLU) of `x` (plus `shift` per example) into the dense scratch `into`.
    fn group_norm(
        &mut self,
        norm: &Affine,
        x: View,
        shift: Option<usize>,
        silu: bool,
        into: &str,
    ) -> View {
        let (h, w) = self.sides[x.level];
        let out = View::dense(self.scratch[into], x.channels as usize, x.level);
        let dispatch = self.model.kernels.device.group_norm.call(
            self.device,
            GroupNormArgs {
                x: &self.buffers[x.buffer],
                in_stride: x.stride,
                in_offset: x.offset,
                shift: shift.map(|s| &self.buffers[s]),
                weight: self.weight(&norm.weight()),
                bias: self.weight(&norm.bias()),
                y: &self.buffers[out.buffer],
                examples: self.examples,
                cells: h * w,
                channels: x.channels,
                groups: self.net.groups as u32,
                silu,
            },
        );
        self.dispatches.push(dispatch);
        out
    }

    /// A residual block from `x` into `out` (neither a scratch it uses itself).
    fn res_block(&mut self, res: &ResBlock, x: View, out: View) {
        let normed = self.group_norm(&res.in_norm, x, None, true, "normed");
        let h = View::dense(self.scratch["conv"], res.outputs(), x.level);
        self.conv(&res.in_conv, normed, h, Epilogue::Store);
        let shift = self.scratch["shift"];
        let projection = self.linear(self.time, &res.emb, shift, Epilogue::Store);
        self.dispatches.push(projection);
        let normed = self.group_norm(&res.out_norm, h, Some(shift), true, "normed");
        match &res.skip {
            Some(skip) => self.conv(skip, x, out, Epilogue::Store),
            None => {
                let copy = self.model.kernels.device.copy_columns.call(
                    self.device,
                    Columns {
                        buffer: &self.buffers[x.buffer],
                        stride: x.stride,
                        offset: x.offset,
                    },
                    Columns {
                        buffer: &self.buffers[out.buffer],
                        stride: out.stride,
                        offset: out.offset,
                    },
                    self.rows(x.level),
                    x.channels,
                );
                self.dispatches.push(copy);
            }
        }
        self.conv(&res.out_conv, normed, out, Epilogue::Accumulate);
    }

    /// Self-attention over every cell of `x`'s level, added to `x` in place.
    fn attention(&mut self, block: &AttentionBlock, x: View) {
        let c = block.channels();
        let normed = self.group_norm(&block.norm, x, None, false, "normed");
        let qkv = View::dense(self.scratch["qkv"], 3 * c, x.level);
        self.conv(&block.qkv, normed, qkv, Epilogue::Store);
        let attended = View::dense(self.scratch["attended"], c, x.level);
        let (h, w) = self.sides[x.level];
        let dispatch = self.model.kernels.device.attention.call(
            self.device,
            &self.buffers[qkv.buffer],
            &self.buffers[attended.buffer],
            [self.examples, h * w, c as u32, self.net.heads as u32],
        );
        self.dispatches.push(dispatch);
        self.conv(&block.proj_out, attended, x, Epilogue::Accumulate);
    }

    /// GroupNorm, SiLU and the last convolution into the outputs per cell; returns the output buffer's index.
    fn output(&mut self, parameters: &UnetParameters, x: View, config: &ModelConfig) -> usize {
        let normed = self.group_norm(&parameters.out_norm, x, None, true, "normed");
        let outputs = config.kind.output_per_token(config.layout.channels);
        let buffer = self.buffer("output", self.rows(0) as usize * outputs);
        self.conv(
            &parameters.out_conv,
            normed,
            View::dense(buffer, outputs, 0),
            Epilogue::Store,
        );
        buffer
    }
}

/// The channels a block leaves.
fn block_outputs(block: &[Layer]) -> usize {
    block
        .iter()
        .rev()
        .find_map(|layer| match layer {
            Layer::Conv(c) | Layer::Downsample(c) | Layer::Upsample(c) => Some(c.outputs),
            Layer::Res(r) => Some(r.outputs()),
            Layer::Attention(_) => None,
        })
        .unwrap_or(0)
}

/// The U-Net's tensors as the kernels read them: a 3×3 convolution's weight as the matmul's B, [9 · in, out],
/// row (dy·3 + dx)·in + c; a 1×1 convolution's and a linear layer's transposed, [in, out]; the attention's q, k,
/// v projection with its outputs regrouped from the official per-head q·k·v to all heads' q, then k, then v,
/// the order the attention kernel reads; the rest as they are.
pub(crate) fn unet_layout(
    config: &ModelConfig,
    net: &UnetConfig,
) -> impl Fn(&str, &TensorData) -> Vec<f32> + use<> {
    let parameters = UnetParameters::new(config, net);
    let mut convs: HashMap<String, Conv> = HashMap::new();
    let mut qkv_biases: HashMap<String, usize> = HashMap::new();
    for (conv, _) in parameters.convs() {
        convs.insert(conv.weight(), conv.clone());
    }
    for attention in parameters.attentions() {
        qkv_biases.insert(attention.qkv.bias(), attention.channels());
    }
    let linears: Vec<Affine> = parameters
        .time_embed
        .iter()
        .cloned()
        .chain(parameters.layers().filter_map(|layer| match layer {
            Layer::Res(r) => Some(r.emb.clone()),
            _ => None,
        }))
        .collect();
    let heads = net.heads;
    move |name, tensor| {
        if let Some(conv) = convs.get(name) {
            let (out, inputs, taps) = (conv.outputs, conv.inputs, conv.kernel * conv.kernel);
            let mut b = vec![0f32; tensor.values.len()];
            for o in 0..out {
                for c in 0..inputs {
                    for tap in 0..taps {
                        b[(tap * inputs + c) * out + regrouped(conv, heads, o)] =
                            tensor.values[(o * inputs + c) * taps + tap];
                    }
                }
            }
            return b;
        }
        if let Some(&channels) = qkv_biases.get(name) {
            let mut b = vec![0f32; tensor.values.len()];
            let projection = Conv {
                name: String::new(),
                outputs: 3 * channels,
                inputs: channels,
                kernel: 1,
                stride: 1,
                one_dimensional: true,
            };
            for (o, &v) in tensor.values.iter().enumerate() {
                b[regrouped(&projection, heads, o)] = v;
            }
            return b;
        }
        if let Some(layer) = linears.iter().find(|l| l.weight() == name) {
            let (out, inputs) = (layer.outputs(), layer.inputs());
            let mut b = vec![0f32; tensor.values.len()];
            for o in 0..out {
                for i in 0..inputs {
                    b[i * out + o] = tensor.values[o * inputs + i];
                }
            }
            return b;
        }
        tensor.values.clone()
    }
}

/// Where output `o` of `conv` goes: itself, but for an attention's q·k·v projection (C → 3C), whose official
/// outputs are head by head (q, k, v of head 0, then of head 1, …), to part·C + head·(C/heads) + j.
fn regrouped(conv: &Conv, heads: usize, o: usize) -> usize {
    if !conv.one_dimensional || conv.outputs != 3 * conv.inputs {
        return o;
    }
    let c = conv.inputs;
    let head_size = c / heads;
    let (head, within) = (o / (3 * head_size), o % (3 * head_size));
    let (part, j) = (within / head_size, within % head_size);
    part * c + head * head_size + j
}
