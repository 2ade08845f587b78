//! The networks in candle (feature `train`): the official BFN's non-causal GPT and its convolutional U-Net, with
//! the official parameter names, so that a weights file of ours loads into the official PyTorch module and the
//! two can be compared on the same weights. [`Network`] is either, as the model file names it. One layer kind a
//! file, each a candle-nn module over the fused CPU kernels (`fused`).

mod attention;
mod block;
mod class_embedding;
mod conv;
mod dropout;
mod fused;
mod gpt;
mod group_norm;
mod input_adapter;
mod layer_norm;
mod linear;
mod mlp;
mod network;
mod res_block;
mod spatial_attention;
mod time_embedding;
mod unet;
mod upsample;
mod variables;

pub use attention::Attention;
pub use block::Block;
pub use conv::Conv2d;
pub use dropout::Dropout;
pub use fused::use_candle_ops;
pub use gpt::Gpt;
pub use group_norm::GroupNorm;
pub use input_adapter::InputAdapter;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use mlp::Mlp;
pub use network::Network;
pub use res_block::ResBlock;
pub use spatial_attention::SpatialAttention;
pub use time_embedding::{TimeEmbedding, sinusoids};
pub use unet::Unet;
pub use upsample::Upsample;
pub use variables::{initial_varmap, tensor_data, varmap_from_weights, weights_from_varmap};
