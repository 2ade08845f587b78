//! The U-Net's parameters under the official names (`input_blocks.*`, `middle_block.*`, `output_blocks.*`,
//! `time_embed.*`, `out.*`, `label_emb.weight`), with their shapes: the one list that the weights file is checked
//! against, the candle network is built from and the GPU network walks, as [`crate::model::parameters`] is for
//! the GPT.
//!
//! The structure is improved-diffusion's `UNetModel` with learned resampling (`conv_resample`), no scale-shift
//! norm and a 1×1 skip where a residual block changes its channels, so that a weights file of ours loads into
//! the official module (`image_size` aside: ours takes any canvas).

use crate::model::ModelConfig;
use crate::model::parameters::Affine;
use crate::model::unet_config::UnetConfig;

/// A conditional model's class embedding, [classes + 1, time features]: row c is added to the time embedding
/// for class c, the last row for "no class" (the official `label_emb` has no such row: it has no guidance).
pub const LABEL_EMB: &str = "label_emb.weight";

/// A convolution (2-D, k × k, or the official 1-D 1×1 of an attention block) with a bias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conv {
    /// The official name, which `.weight` and `.bias` extend.
    pub name: String,
    /// Output channels.
    pub outputs: usize,
    /// Input channels.
    pub inputs: usize,
    /// Cells per side of the kernel (3 or 1).
    pub kernel: usize,
    /// 2 for a downsampling convolution, 1 otherwise.
    pub stride: usize,
    /// Whether PyTorch stores it as `Conv1d` ([out, in, 1], the attention's projections).
    pub one_dimensional: bool,
}

impl Conv {
    fn new(name: String, inputs: usize, outputs: usize, kernel: usize, stride: usize) -> Self {
        Self {
            name,
            outputs,
            inputs,
            kernel,
            stride,
            one_dimensional: false,
        }
    }

    fn projection(name: String, inputs: usize, outputs: usize) -> Self {
        Self {
            one_dimensional: true,
            ..Self::new(name, inputs, outputs, 1, 1)
        }
    }

    /// The weight's name.
    pub fn weight(&self) -> String {
        format!("{}.weight", self.name)
    }

    /// The bias's name.
    pub fn bias(&self) -> String {
        format!("{}.bias", self.name)
    }

    /// The weight's shape as PyTorch stores it.
    pub fn weight_shape(&self) -> Vec<usize> {
        if self.one_dimensional {
            vec![self.outputs, self.inputs, 1]
        } else {
            vec![self.outputs, self.inputs, self.kernel, self.kernel]
        }
    }

    /// Padding that keeps (stride 1) or halves (stride 2) the canvas: 1 for a 3×3 kernel, 0 for 1×1.
    pub fn padding(&self) -> usize {
        self.kernel / 2
    }

    /// Inputs a weight row sees: the fan-in of the initialisation.
    pub fn fan_in(&self) -> usize {
        self.inputs * self.kernel * self.kernel
    }

    fn shapes(&self) -> [(String, Vec<usize>); 2] {
        [
            (self.weight(), self.weight_shape()),
            (self.bias(), vec![self.outputs]),
        ]
    }
}

/// A residual block (`ResBlock`): GroupNorm, SiLU, 3×3 conv, plus the time embedding's projection; GroupNorm,
/// SiLU, dropout, zero-initialised 3×3 conv; plus the input, through a 1×1 conv where the channels change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResBlock {
    /// `in_layers.0`.
    pub in_norm: Affine,
    /// `in_layers.2`.
    pub in_conv: Conv,
    /// `emb_layers.1`, from the time features to the block's channels.
    pub emb: Affine,
    /// `out_layers.0`.
    pub out_norm: Affine,
    /// `out_layers.3`, zero-initialised so that the block starts as its skip.
    pub out_conv: Conv,
    /// `skip_connection`, where the channels change.
    pub skip: Option<Conv>,
}

impl ResBlock {
    fn new(name: &str, inputs: usize, outputs: usize, time_features: usize) -> Self {
        let part = |p: &str| format!("{name}.{p}");
        Self {
            in_norm: Affine::layer_norm(part("in_layers.0"), inputs),
            in_conv: Conv::new(part("in_layers.2"), inputs, outputs, 3, 1),
            emb: Affine::linear(part("emb_layers.1"), time_features, outputs),
            out_norm: Affine::layer_norm(part("out_layers.0"), outputs),
            out_conv: Conv::new(part("out_layers.3"), outputs, outputs, 3, 1),
            skip: (inputs != outputs)
                .then(|| Conv::new(part("skip_connection"), inputs, outputs, 1, 1)),
        }
    }

    /// Channels out.
    pub fn outputs(&self) -> usize {
        self.in_conv.outputs
    }
}

/// Self-attention over every cell (`AttentionBlock`): GroupNorm, a 1×1 projection to q, k, v, softmax attention
/// per head, a zero-initialised 1×1 projection, plus the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttentionBlock {
    /// The block's name.
    pub name: String,
    /// `norm`.
    pub norm: Affine,
    /// `qkv`, C → 3C, each head's q, k and v contiguous (the official legacy order).
    pub qkv: Conv,
    /// `proj_out`, C → C.
    pub proj_out: Conv,
}

impl AttentionBlock {
    fn new(name: &str, channels: usize) -> Self {
        Self {
            name: name.to_owned(),
            norm: Affine::layer_norm(format!("{name}.norm"), channels),
            qkv: Conv::projection(format!("{name}.qkv"), channels, 3 * channels),
            proj_out: Conv::projection(format!("{name}.proj_out"), channels, channels),
        }
    }

    /// Channels in and out.
    pub fn channels(&self) -> usize {
        self.proj_out.outputs
    }
}

/// One layer of a `TimestepEmbedSequential` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layer {
    /// A plain convolution (the first input block).
    Conv(Conv),
    /// A residual block, which takes the time embedding.
    Res(ResBlock),
    /// Self-attention.
    Attention(AttentionBlock),
    /// A stride-2 3×3 convolution (`Downsample.op`).
    Downsample(Conv),
    /// Nearest-neighbour doubling, then a 3×3 convolution (`Upsample.conv`).
    Upsample(Conv),
}

/// Every parameter of a configuration's U-Net, in the order of the official state dict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnetParameters {
    /// `time_embed.0` and `time_embed.2`: the sinusoidal features of the time to the time features, through
    /// SiLU.
    pub time_embed: [Affine; 2],
    /// Sinusoidal time features (`model_channels`).
    pub time_channels: usize,
    /// The shape of the [`LABEL_EMB`], [classes + 1, time features], for a conditional model.
    pub label_emb: Option<[usize; 2]>,
    /// `input_blocks.{i}`: the way down, each block's output kept for the way up.
    pub input_blocks: Vec<Vec<Layer>>,
    /// `middle_block`: residual block, attention, residual block.
    pub middle_block: Vec<Layer>,
    /// `output_blocks.{i}`: the way up, each block taking the features beside the last kept input block's.
    pub output_blocks: Vec<Vec<Layer>>,
    /// `out.0`, the last GroupNorm (SiLU follows).
    pub out_norm: Affine,
    /// `out.2`, zero-initialised: to the outputs per cell (logits, ε̂, or μ_ε and ln σ_ε).
    pub out_conv: Conv,
}

impl UnetParameters {
    /// The parameters of `net` for `config`'s data: one cell a position, `input_per_token` network inputs, the
    /// time 2t − 1 and the context (if any) in, `output_per_token` out.
    pub fn new(config: &ModelConfig, net: &UnetConfig) -> Self {
        let c = net.channels;
        let time_features = 4 * c;
        let inputs =
            config.kind.input_per_token(config.layout.channels) + 1 + net.context_channels(config);
        let outputs = config.kind.output_per_token(config.layout.channels);
        let mut input_blocks = vec![vec![Layer::Conv(Conv::new(
            "input_blocks.0.0".into(),
            inputs,
            c,
            3,
            1,
        ))]];
        let mut kept = vec![c];
        let mut ch = c;
        for (level, &mult) in net.multipliers.iter().enumerate() {
            for _ in 0..net.res_blocks {
                let name = format!("input_blocks.{}", input_blocks.len());
                let mut block = vec![Layer::Res(ResBlock::new(
                    &format!("{name}.0"),
                    ch,
                    mult * c,
                    time_features,
                ))];
                ch = mult * c;
                if net.attention_levels.contains(&level) {
                    block.push(Layer::Attention(AttentionBlock::new(
                        &format!("{name}.1"),
                        ch,
                    )));
                }
                input_blocks.push(block);
                kept.push(ch);
            }
            if level + 1 != net.levels() {
                let name = format!("input_blocks.{}.0.op", input_blocks.len());
                input_blocks.push(vec![Layer::Downsample(Conv::new(name, ch, ch, 3, 2))]);
                kept.push(ch);
            }
        }
        let middle_block = vec![
            Layer::Res(ResBlock::new("middle_block.0", ch, ch, time_features)),
            Layer::Attention(AttentionBlock::new("middle_block.1", ch)),
            Layer::Res(ResBlock::new("middle_block.2", ch, ch, time_features)),
        ];
        let mut output_blocks = Vec::new();
        for (level, &mult) in net.multipliers.iter().enumerate().rev() {
            for i in 0..=net.res_blocks {
                let name = format!("output_blocks.{}", output_blocks.len());
                let skip = kept.pop().unwrap_or(0);
                let mut block = vec![Layer::Res(ResBlock::new(
                    &format!("{name}.0"),
                    ch + skip,
                    mult * c,
                    time_features,
                ))];
                ch = mult * c;
                if net.attention_levels.contains(&level) {
                    block.push(Layer::Attention(AttentionBlock::new(
                        &format!("{name}.1"),
                        ch,
                    )));
                }
                if level > 0 && i == net.res_blocks {
                    let conv = format!("{name}.{}.conv", block.len());
                    block.push(Layer::Upsample(Conv::new(conv, ch, ch, 3, 1)));
                }
                output_blocks.push(block);
            }
        }
        Self {
            time_embed: [
                Affine::linear("time_embed.0", c, time_features),
                Affine::linear("time_embed.2", time_features, time_features),
            ],
            time_channels: c,
            label_emb: (!config.labels.is_empty())
                .then_some([config.labels.len() + 1, time_features]),
            input_blocks,
            middle_block,
            output_blocks,
            out_norm: Affine::layer_norm("out.0", ch),
            out_conv: Conv::new("out.2".into(), ch, outputs, 3, 1),
        }
    }

    /// Every layer, way down, middle, way up.
    pub fn layers(&self) -> impl Iterator<Item = &Layer> {
        self.input_blocks
            .iter()
            .flatten()
            .chain(&self.middle_block)
            .chain(self.output_blocks.iter().flatten())
    }

    /// Every GroupNorm.
    pub fn norms(&self) -> impl Iterator<Item = &Affine> {
        self.layers()
            .flat_map(|layer| match layer {
                Layer::Res(r) => vec![&r.in_norm, &r.out_norm],
                Layer::Attention(a) => vec![&a.norm],
                _ => Vec::new(),
            })
            .chain([&self.out_norm])
    }

    /// Every attention block.
    pub fn attentions(&self) -> impl Iterator<Item = &AttentionBlock> {
        self.layers().filter_map(|layer| match layer {
            Layer::Attention(a) => Some(a),
            _ => None,
        })
    }

    /// Every convolution, with whether it starts at zero (the official `zero_module`s: the last of each
    /// residual block, each attention's output projection, and the network's output).
    pub fn convs(&self) -> impl Iterator<Item = (&Conv, bool)> {
        self.layers()
            .flat_map(|layer| match layer {
                Layer::Conv(c) | Layer::Downsample(c) | Layer::Upsample(c) => vec![(c, false)],
                Layer::Res(r) => [(&r.in_conv, false), (&r.out_conv, true)]
                    .into_iter()
                    .chain(r.skip.iter().map(|s| (s, false)))
                    .collect(),
                Layer::Attention(a) => vec![(&a.qkv, false), (&a.proj_out, true)],
            })
            .chain([(&self.out_conv, true)])
    }

    /// Every tensor's name and shape, in the order of the official state dict (each block's layers in order,
    /// a layer's weight before its bias), the class embedding last.
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let layer_shapes = |layer: &Layer| -> Vec<(String, Vec<usize>)> {
            match layer {
                Layer::Conv(c) | Layer::Downsample(c) | Layer::Upsample(c) => c.shapes().to_vec(),
                Layer::Res(r) => {
                    let mut s = Vec::new();
                    s.extend(Affine::shapes(&r.in_norm));
                    s.extend(r.in_conv.shapes());
                    s.extend(Affine::shapes(&r.emb));
                    s.extend(Affine::shapes(&r.out_norm));
                    s.extend(r.out_conv.shapes());
                    if let Some(skip) = &r.skip {
                        s.extend(skip.shapes());
                    }
                    s
                }
                Layer::Attention(a) => {
                    let mut s = Affine::shapes(&a.norm).to_vec();
                    s.extend(a.qkv.shapes());
                    s.extend(a.proj_out.shapes());
                    s
                }
            }
        };
        self.time_embed
            .iter()
            .flat_map(Affine::shapes)
            .chain(self.layers().flat_map(layer_shapes))
            .chain(Affine::shapes(&self.out_norm))
            .chain(self.out_conv.shapes())
            .chain(
                self.label_emb
                    .map(|shape| (LABEL_EMB.to_owned(), shape.to_vec())),
            )
            .collect()
    }
}
