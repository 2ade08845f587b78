//! The network's parameters under the official BFN GPT's names, with their shapes: the one list that the weights
//! file is checked against, the candle network loads and the GPU network binds, so that the three cannot drift
//! apart.
//!
//! The names are those of the official module's state dict (nanoGPT's, with the `skip` head and a linear input
//! adapter), so that a weights file of ours loads into the official PyTorch module.

use crate::model::{GptConfig, ModelConfig};

/// The position buffer, which the official module registers as a buffer and so saves with the rest.
pub const POSITIONS: &str = "input_adapter.pos_embedding";

/// A conditional model's class embedding, [classes + 1, width]: row c is added to every token's input features
/// for class c, the last row for "no class". Not an official name: the official GPT has no classes.
pub const LABEL_EMBEDDING: &str = "label_embedding.weight";

/// A layer with a weight and a bias: a linear layer, whose weight is [outputs, inputs] as PyTorch and candle
/// store it, or a LayerNorm, whose gain is `width` long. Either way the bias is as long as the weight's first
/// dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Affine {
    /// The official name of the layer, which its parameters' names extend (`transformer.h.0.attn.c_attn`).
    pub name: String,
    /// The weight's shape.
    pub shape: Vec<usize>,
}

impl Affine {
    /// A linear layer from `inputs` to `outputs` features.
    pub fn linear(name: impl Into<String>, inputs: usize, outputs: usize) -> Self {
        Self {
            name: name.into(),
            shape: vec![outputs, inputs],
        }
    }

    /// A LayerNorm over `width` features.
    pub fn layer_norm(name: impl Into<String>, width: usize) -> Self {
        Self {
            name: name.into(),
            shape: vec![width],
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

    /// The bias's length: the layer's output features.
    pub fn outputs(&self) -> usize {
        self.shape[0]
    }

    /// The weight's last dimension: a linear layer's input features, a LayerNorm's width.
    pub fn inputs(&self) -> usize {
        self.shape[self.shape.len() - 1]
    }

    /// The weight and the bias, names and shapes, in that order.
    pub(crate) fn shapes(&self) -> [(String, Vec<usize>); 2] {
        [
            (self.weight(), self.shape.clone()),
            (self.bias(), vec![self.outputs()]),
        ]
    }
}

/// One transformer block (`transformer.h.{layer}`): LayerNorm, attention, LayerNorm, MLP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The LayerNorm before the attention.
    pub ln_1: Affine,
    /// The attention's fused q, k, v projection, d → 3d.
    pub c_attn: Affine,
    /// The attention's output projection, d → d.
    pub attn_proj: Affine,
    /// The LayerNorm before the MLP.
    pub ln_2: Affine,
    /// The MLP's hidden layer, d → 4d.
    pub c_fc: Affine,
    /// The MLP's output projection, 4d → d.
    pub mlp_proj: Affine,
}

impl Block {
    /// Block `layer` of a network `width` features wide.
    pub fn new(layer: usize, width: usize) -> Self {
        let name = |part: &str| format!("transformer.h.{layer}.{part}");
        let d = width;
        Self {
            ln_1: Affine::layer_norm(name("ln_1"), d),
            c_attn: Affine::linear(name("attn.c_attn"), d, 3 * d),
            attn_proj: Affine::linear(name("attn.c_proj"), d, d),
            ln_2: Affine::layer_norm(name("ln_2"), d),
            c_fc: Affine::linear(name("mlp.c_fc"), d, 4 * d),
            mlp_proj: Affine::linear(name("mlp.c_proj"), 4 * d, d),
        }
    }

    /// The block's layers in the order of the official state dict.
    pub fn layers(&self) -> [&Affine; 6] {
        [
            &self.ln_1,
            &self.c_attn,
            &self.attn_proj,
            &self.ln_2,
            &self.c_fc,
            &self.mlp_proj,
        ]
    }
}

/// Every parameter of a configuration's network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parameters {
    /// The input adapter's embedding of a token's inputs (2θ − 1 or μ).
    pub inp_embedding: Affine,
    /// The input adapter's embedding of the time 2t − 1.
    pub t_embedding: Affine,
    /// The shape of the [`POSITIONS`] buffer, [tokens, width].
    pub positions: [usize; 2],
    /// The transformer blocks.
    pub blocks: Vec<Block>,
    /// The final LayerNorm.
    pub ln_f: Affine,
    /// The `skip` head, from the final features beside the input adapter's output (2d) to the outputs.
    pub lm_head: Affine,
    /// The shape of the [`LABEL_EMBEDDING`], [classes + 1, width], for a conditional model.
    pub label_embedding: Option<[usize; 2]>,
}

impl Parameters {
    /// The parameters of the GPT `net` for `config`'s data.
    pub fn new(config: &ModelConfig, net: &GptConfig) -> Self {
        let d = net.width;
        let channels = config.layout.channels;
        Self {
            inp_embedding: Affine::linear(
                "input_adapter.inp_embedding",
                config.kind.input_per_token(channels),
                d,
            ),
            t_embedding: Affine::linear("input_adapter.t_embedding", 1, d),
            positions: [config.layout.tokens(), d],
            blocks: (0..net.layers).map(|layer| Block::new(layer, d)).collect(),
            ln_f: Affine::layer_norm("transformer.ln_f", d),
            lm_head: Affine::linear("lm_head", 2 * d, config.kind.output_per_token(channels)),
            label_embedding: (!config.labels.is_empty()).then_some([config.labels.len() + 1, d]),
        }
    }

    /// Every tensor's name and shape, in the order of the official state dict, the class embedding last. The
    /// trainer's initial weights draw tensor i from stream i, so the order is part of what a seed means: last, the
    /// embedding leaves an unconditional model's draws as they were.
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let adapter = [&self.inp_embedding, &self.t_embedding];
        let head = [&self.ln_f, &self.lm_head];
        let blocks = self.blocks.iter().flat_map(Block::layers);
        adapter
            .into_iter()
            .flat_map(Affine::shapes)
            .chain([(POSITIONS.to_owned(), self.positions.to_vec())])
            .chain(blocks.chain(head).flat_map(Affine::shapes))
            .chain(
                self.label_embedding
                    .map(|shape| (LABEL_EMBEDDING.to_owned(), shape.to_vec())),
            )
            .collect()
    }
}
