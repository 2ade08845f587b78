//! The network in candle (feature `train`): the official BFN's non-causal GPT, with the official parameter names,
//! so that a weights file of ours loads into the official PyTorch module and the two can be compared on the same
//! weights. One layer kind a file, each a candle-nn module over the fused CPU kernels (`fused`).

mod attention;
mod block;
mod dropout;
mod fused;
mod gpt;
mod input_adapter;
mod layer_norm;
mod linear;
mod mlp;
mod variables;

pub use attention::Attention;
pub use block::Block;
pub use dropout::Dropout;
pub use gpt::Gpt;
pub use input_adapter::InputAdapter;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use mlp::Mlp;
pub use variables::{initial_varmap, tensor_data, varmap_from_weights, weights_from_varmap};
