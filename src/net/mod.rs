//! The network in candle (feature `train`): the official BFN's non-causal GPT, with the official parameter names,
//! so that a weights file of ours loads into the official PyTorch module and the two can be compared on the same
//! weights.

mod fused;
pub mod gpt;
