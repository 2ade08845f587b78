//! The network's parameters as candle variables: drawn afresh, read from a weights file, written back to one.

use std::collections::{BTreeMap, HashSet};

use candle_core::{Device, Result, Tensor, Var};
use candle_nn::VarMap;

use crate::flow::{CounterRng, Stream};
use crate::model::parameters::{LABEL_EMBEDDING, POSITIONS, Parameters};
use crate::model::positions::position_table;
use crate::model::unet_parameters::{LABEL_EMB, UnetParameters};
use crate::model::{
    GptConfig, ModelConfig, NetworkConfig, TensorData, UnetConfig, Weights, WeightsError,
};

/// Mixed into the seed for the initial weights, so that they draw other numbers than the training noise.
const INIT_KEY: u64 = 0x1A17_5EED_0F0F_B0F0;

/// How a tensor starts, from its name and shape.
type InitOf = dyn Fn(&str, &[usize]) -> Init;

/// How one tensor starts.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Init {
    Zero,
    One,
    /// N(0, std²).
    Normal(f64),
    /// U(−bound, bound).
    Uniform(f64),
}

/// How the official code starts the GPT's tensor `name` (`_init_weights`): N(0, 0.02²) linear weights,
/// N(0, (0.02/√(2·layers))²) for the residual projections `c_proj` (GPT-2's scaled init), zero biases, unit
/// LayerNorm gains.
fn gpt_init(config: &ModelConfig, net: &GptConfig) -> impl Fn(&str, &[usize]) -> Init + use<> {
    let residual: HashSet<String> = Parameters::new(config, net)
        .blocks
        .iter()
        .flat_map(|block| [block.attn_proj.weight(), block.mlp_proj.weight()])
        .collect();
    let residual_std = 0.02 / (2.0 * net.layers as f64).sqrt();
    move |name, shape| match () {
        _ if name.ends_with(".bias") => Init::Zero,
        _ if shape.len() == 1 => Init::One,
        _ if residual.contains(name) => Init::Normal(residual_std),
        _ => Init::Normal(0.02),
    }
}

/// How PyTorch starts the U-Net's tensor `name`: weights U(±1/√fan-in) (its default for convolutions and linear
/// layers), unit GroupNorm gains, and zero for the official `zero_module`s (the last convolution of each residual
/// block, each attention's output projection, the network's output), which make every block start as its skip
/// and the network's first outputs zero. Biases start at zero, where PyTorch draws them like the weights: a
/// departure that changes nothing the zero-initialised outputs do not already.
fn unet_init(config: &ModelConfig, net: &UnetConfig) -> impl Fn(&str, &[usize]) -> Init + use<> {
    let zero: HashSet<String> = UnetParameters::new(config, net)
        .convs()
        .filter(|(_, zero)| *zero)
        .map(|(conv, _)| conv.weight())
        .collect();
    move |name, shape| match () {
        _ if name.ends_with(".bias") || zero.contains(name) => Init::Zero,
        _ if shape.len() == 1 => Init::One,
        _ => Init::Uniform(1.0 / (shape[1..].iter().product::<usize>() as f64).sqrt()),
    }
}

/// The network's parameters as the official code starts them (see `gpt_init` and `unet_init`), drawn from the
/// counter-based generator so that one seed gives one network (candle's own CPU generator cannot be seeded).
/// The class embedding starts at zero, so that a conditional network starts as its unconditional self, whether
/// drawn afresh or fine-tuned from an unconditional model.
pub fn initial_varmap(config: &ModelConfig, seed: u64, device: &Device) -> Result<VarMap> {
    let rng = CounterRng::new(seed ^ INIT_KEY);
    let init: Box<InitOf> = match &config.network {
        NetworkConfig::Gpt(net) => Box::new(gpt_init(config, net)),
        NetworkConfig::Unet(net) => Box::new(unet_init(config, net)),
    };
    let varmap = VarMap::new();
    {
        let mut vars = varmap.data().lock().expect("a new VarMap's lock is free");
        for (index, (name, shape)) in config.parameter_shapes().into_iter().enumerate() {
            if name == POSITIONS {
                continue;
            }
            let count = shape.iter().product::<usize>() as u32;
            let draw = |i| match init(&name, &shape) {
                _ if name == LABEL_EMBEDDING || name == LABEL_EMB => 0.0,
                Init::Zero => 0.0,
                Init::One => 1.0,
                Init::Normal(std) => std * rng.gaussian::<f64>(index as u32, Stream::Flow, i),
                Init::Uniform(bound) => {
                    bound * (2.0 * rng.uniform::<f64>(index as u32, Stream::Flow, i) - 1.0)
                }
            };
            let values: Vec<f32> = (0..count).map(|i| draw(i) as f32).collect();
            let tensor = Tensor::from_vec(values, shape, device)?;
            vars.insert(name, Var::from_tensor(&tensor)?);
        }
    }
    Ok(varmap)
}

/// A model file's parameters as trainable variables (the position table, which is not trained, left out):
/// the starting point of a fine-tuning run of `config`. An unconditional file fine-tuned into a conditional
/// model gets a zero class embedding, so the run starts exactly as the file's model.
pub fn varmap_from_weights(
    weights: &Weights,
    config: &ModelConfig,
    device: &Device,
) -> Result<VarMap> {
    let varmap = VarMap::new();
    {
        let mut vars = varmap.data().lock().expect("a new VarMap's lock is free");
        for (name, data) in weights.tensors() {
            if name != POSITIONS {
                let tensor = Tensor::from_slice(&data.values, data.shape.as_slice(), device)?;
                vars.insert(name.clone(), Var::from_tensor(&tensor)?);
            }
        }
        for (name, shape) in config.parameter_shapes() {
            if (name == LABEL_EMBEDDING || name == LABEL_EMB) && !vars.contains_key(&name) {
                let zeros = Tensor::zeros(shape.as_slice(), candle_core::DType::F32, device)?;
                vars.insert(name, Var::from_tensor(&zeros)?);
            }
        }
    }
    Ok(varmap)
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
    if let Some(gpt) = config.network.as_gpt() {
        tensors.insert(
            POSITIONS.to_owned(),
            TensorData {
                shape: vec![config.layout.tokens(), gpt.width],
                values: position_table(config.layout, gpt.width, gpt.positions),
            },
        );
    }
    Weights::new(config.clone(), tensors)
}

/// A candle tensor's shape and values.
pub fn tensor_data(t: &Tensor) -> Result<TensorData> {
    Ok(TensorData {
        shape: t.dims().to_vec(),
        values: t.flatten_all()?.to_vec1()?,
    })
}
