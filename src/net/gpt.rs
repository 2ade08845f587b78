//! The official BFN GPT in candle (feature `train`): the trainer's network and the CPU reference the GPU
//! kernels are tested against.
//!
//! Pre-LayerNorm blocks (LayerNorm with bias, ε = 10⁻⁵; fused `c_attn` split into q, k, v; softmax attention over
//! all tokens; `c_proj`; MLP d → 4d → d with tanh-GELU), a final LayerNorm, and the `skip` head that concatenates
//! the final features with the input adapter's output before `lm_head`. The input adapter is the official text
//! adapter — Linear(input → d) + fixed positions + Linear(1 → d) applied to 2t − 1 — fed with 2θ − 1 for discrete
//! data and with μ per channel for continuous and discretised data.

use std::collections::{BTreeMap, HashMap};

use candle_core::{D, DType, Device, Result, Tensor, Var};
use candle_nn::{Linear, VarBuilder, VarMap};

use crate::flow::{CounterRng, Stream};
use crate::model::parameters::{POSITIONS, Parameters};
use crate::model::positions::position_table;
use crate::model::{KindConfig, ModelConfig, TensorData, Weights, WeightsError};
use crate::net::fused;

const LAYER_NORM_EPS: f32 = 1e-5;
/// Mixed into the seed for the initial weights, so that they draw other numbers than the training noise.
const INIT_KEY: u64 = 0x1A17_5EED_0F0F_B0F0;
/// Mixed into the seed for the dropout masks.
const DROPOUT_KEY: u64 = 0xD40F_0B75_5EED_0001;

/// Training-time dropout (nanoGPT's places: after the embedding, after each attention and MLP projection), with
/// masks drawn from the counter-based generator so that a resumed run drops the same units as an uninterrupted
/// one. Inference never drops.
#[derive(Clone, Copy, Debug)]
pub struct Dropout {
    /// The probability of zeroing a unit, in [0, 1).
    pub rate: f32,
    /// Keyed by the run's seed.
    pub rng: CounterRng,
    /// The training step, so that every step draws new masks.
    pub step: u32,
}

impl Dropout {
    /// The run's dropout at `step`.
    pub fn new(rate: f32, seed: u64, step: u32) -> Self {
        Self {
            rate,
            rng: CounterRng::new(seed ^ DROPOUT_KEY),
            step,
        }
    }

    /// `x` with units zeroed at the rate and the rest scaled by 1/(1 − rate); `site` tells the places apart.
    fn apply(&self, x: &Tensor, site: u32) -> Result<Tensor> {
        if self.rate == 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.rate;
        // 32 sites a step: the counter's step word holds step·32 + site.
        let counter_step = self.step.wrapping_mul(32).wrapping_add(site);
        let count = x.elem_count() as u32;
        let mask: Vec<f32> = (0..count)
            .map(|i| {
                let bits = self.rng.bits(counter_step, Stream::Flow, i / 2)[(i % 2) as usize];
                if (bits as f32) * (1.0 / 4_294_967_296.0) < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        x * Tensor::from_vec(mask, x.shape(), x.device())?
    }
}

/// LayerNorm over the last dimension, fused (`net::fused`, which has a backward pass, unlike candle-nn's).
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        fused::layer_norm(x, &self.weight, &self.bias, LAYER_NORM_EPS)
    }
}

struct Block {
    ln_1: LayerNorm,
    c_attn: Linear,
    attn_proj: Linear,
    ln_2: LayerNorm,
    c_fc: Linear,
    mlp_proj: Linear,
}

/// The network.
pub struct Gpt {
    config: ModelConfig,
    inp_embedding: Linear,
    t_embedding: Linear,
    positions: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    lm_head: Linear,
}

fn linear(vb: &VarBuilder, name: &str, inputs: usize, outputs: usize) -> Result<Linear> {
    let weight = vb.get((outputs, inputs), &format!("{name}.weight"))?;
    let bias = vb.get(outputs, &format!("{name}.bias"))?;
    Ok(Linear::new(weight, Some(bias)))
}

fn layer_norm(vb: &VarBuilder, name: &str, size: usize) -> Result<LayerNorm> {
    Ok(LayerNorm {
        weight: vb.get(size, &format!("{name}.weight"))?,
        bias: vb.get(size, &format!("{name}.bias"))?,
    })
}

/// The network's parameters as the official `_init_weights` sets them — N(0, 0.02²) linear weights,
/// N(0, (0.02/√(2·layers))²) for the residual projections `c_proj` (GPT-2's scaled init), zero biases, unit
/// LayerNorm gains — drawn from the counter-based generator so that one seed gives one network (candle's own
/// CPU generator cannot be seeded).
pub fn initial_varmap(config: &ModelConfig, seed: u64, device: &Device) -> Result<VarMap> {
    let rng = CounterRng::new(seed ^ INIT_KEY);
    let residual_std = 0.02 / (2.0 * config.network.layers as f64).sqrt();
    let varmap = VarMap::new();
    {
        let mut vars = varmap.data().lock().expect("a new VarMap's lock is free");
        for (index, (name, shape)) in Parameters::new(config).shapes().into_iter().enumerate() {
            if name == POSITIONS {
                continue;
            }
            let count: usize = shape.iter().product();
            let values: Vec<f32> = if name.ends_with(".bias") {
                vec![0.0; count]
            } else if shape.len() == 1 {
                vec![1.0; count]
            } else {
                let std = if name.ends_with("c_proj.weight") {
                    residual_std
                } else {
                    0.02
                };
                (0..count as u32)
                    .map(|i| (std * rng.gaussian::<f64>(index as u32, Stream::Flow, i)) as f32)
                    .collect()
            };
            let tensor = Tensor::from_vec(values, shape, device)?;
            vars.insert(name, Var::from_tensor(&tensor)?);
        }
    }
    Ok(varmap)
}

/// A model file's parameters as trainable variables (the position table, which is not trained, left out):
/// the starting point of a fine-tuning run.
pub fn varmap_from_weights(weights: &Weights, device: &Device) -> Result<VarMap> {
    let varmap = VarMap::new();
    {
        let mut vars = varmap.data().lock().expect("a new VarMap's lock is free");
        for (name, data) in weights.tensors() {
            if name != POSITIONS {
                let tensor = Tensor::from_slice(&data.values, data.shape.as_slice(), device)?;
                vars.insert(name.clone(), Var::from_tensor(&tensor)?);
            }
        }
    }
    Ok(varmap)
}

impl Gpt {
    /// The network of `config` with its parameters from `vb`: from [`initial_varmap`] for training, or from a
    /// weights file through [`Gpt::from_weights`].
    pub fn new(config: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let d = config.network.width;
        let channels = config.layout.channels;
        let adapter = vb.pp("input_adapter");
        let blocks = (0..config.network.layers)
            .map(|layer| {
                let vb = vb.pp(format!("transformer.h.{layer}"));
                Ok(Block {
                    ln_1: layer_norm(&vb, "ln_1", d)?,
                    c_attn: linear(&vb, "attn.c_attn", d, 3 * d)?,
                    attn_proj: linear(&vb, "attn.c_proj", d, d)?,
                    ln_2: layer_norm(&vb, "ln_2", d)?,
                    c_fc: linear(&vb, "mlp.c_fc", d, 4 * d)?,
                    mlp_proj: linear(&vb, "mlp.c_proj", 4 * d, d)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let table = position_table(config.layout, d, config.network.positions);
        Ok(Self {
            config: config.clone(),
            inp_embedding: linear(
                &adapter,
                "inp_embedding",
                config.kind.input_per_token(channels),
                d,
            )?,
            t_embedding: linear(&adapter, "t_embedding", 1, d)?,
            positions: Tensor::from_vec(table, (config.layout.tokens(), d), vb.device())?,
            blocks,
            ln_f: layer_norm(&vb, "transformer.ln_f", d)?,
            lm_head: linear(
                &vb,
                "lm_head",
                2 * d,
                config.kind.output_per_token(channels),
            )?,
        })
    }

    /// The network of a weights file, on `device`.
    pub fn from_weights(weights: &Weights, device: &Device) -> Result<Self> {
        let tensors = weights
            .tensors()
            .iter()
            .map(|(name, t)| {
                Ok((
                    name.clone(),
                    Tensor::from_slice(&t.values, t.shape.as_slice(), device)?,
                ))
            })
            .collect::<Result<HashMap<_, _>>>()?;
        Self::new(
            weights.config(),
            VarBuilder::from_tensors(tensors, DType::F32, device),
        )
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Output parameters [batch, tokens, outputs per token] for network inputs [batch, tokens, inputs per token]
    /// (2θ − 1 or μ, see [`Gpt::network_input`]) at times `t` (one per example).
    pub fn forward(&self, input: &Tensor, t: &Tensor) -> Result<Tensor> {
        self.forward_with_dropout(input, t, None)
    }

    /// [`Gpt::forward`] while training, with `dropout` if any.
    pub fn forward_with_dropout(
        &self,
        input: &Tensor,
        t: &Tensor,
        dropout: Option<&Dropout>,
    ) -> Result<Tensor> {
        let drop = |x: Tensor, site: usize| match dropout {
            Some(d) => d.apply(&x, site as u32),
            None => Ok(x),
        };
        let (batch, tokens, _) = input.dims3()?;
        let time = t.affine(2.0, -1.0)?.reshape((batch, 1, 1))?;
        let x_in = fused::linear(&self.inp_embedding, input)?
            .broadcast_add(&self.positions)?
            .broadcast_add(&fused::linear(&self.t_embedding, &time)?)?;
        let heads = self.config.network.heads;
        let d = self.config.network.width;
        let head_size = d / heads;
        let mut x = drop(x_in.clone(), 0)?;
        for (layer, block) in self.blocks.iter().enumerate() {
            let qkv = fused::linear(&block.c_attn, &block.ln_1.forward(&x)?)?;
            let split = |i: usize| -> Result<Tensor> {
                qkv.narrow(D::Minus1, i * d, d)?
                    .reshape((batch, tokens, heads, head_size))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let (q, k, v) = (split(0)?, split(1)?, split(2)?);
            let weights =
                fused::scaled_softmax(&q.matmul(&k.t()?)?, (head_size as f32).sqrt().recip())?;
            let attention = weights.matmul(&v)?;
            let attention = attention.transpose(1, 2)?.reshape((batch, tokens, d))?;
            x = (x + drop(fused::linear(&block.attn_proj, &attention)?, 1 + 2 * layer)?)?;
            let hidden = fused::gelu(&fused::linear(&block.c_fc, &block.ln_2.forward(&x)?)?)?;
            x = (x + drop(fused::linear(&block.mlp_proj, &hidden)?, 2 + 2 * layer)?)?;
        }
        let x = self.ln_f.forward(&x)?;
        fused::linear(&self.lm_head, &Tensor::cat(&[&x, &x_in], D::Minus1)?)
    }

    /// What the input adapter is fed: 2θ − 1 for discrete data (the official `TextInputAdapter`), μ as it is for
    /// continuous and discretised data. `values` is θ [batch, tokens, input width].
    pub fn network_input(&self, values: &Tensor) -> Result<Tensor> {
        match self.config.kind {
            KindConfig::Discrete { .. } => values.affine(2.0, -1.0),
            _ => Ok(values.clone()),
        }
    }
}

/// The variables of a [`VarMap`] and the position buffer as a checked weights file.
pub fn weights_from_varmap(
    config: &ModelConfig,
    varmap: &VarMap,
) -> std::result::Result<Weights, WeightsError> {
    let data = varmap
        .data()
        .lock()
        .expect("the VarMap lock is never poisoned");
    let mut tensors = BTreeMap::new();
    for (name, var) in data.iter() {
        tensors.insert(
            name.clone(),
            tensor_data(var.as_tensor()).map_err(|e| WeightsError::Config(e.to_string()))?,
        );
    }
    let table = position_table(
        config.layout,
        config.network.width,
        config.network.positions,
    );
    tensors.insert(
        POSITIONS.to_owned(),
        TensorData {
            shape: vec![config.layout.tokens(), config.network.width],
            values: table,
        },
    );
    Weights::new(config.clone(), tensors)
}

/// A candle tensor's shape and values.
pub fn tensor_data(t: &Tensor) -> Result<TensorData> {
    Ok(TensorData {
        shape: t.dims().to_vec(),
        values: t.flatten_all()?.to_vec1()?,
    })
}
