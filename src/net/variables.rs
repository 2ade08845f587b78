//! The network's parameters as candle variables: drawn afresh, read from a weights file, written back to one.

use std::collections::{BTreeMap, HashSet};

use candle_core::{Device, Result, Tensor, Var};
use candle_nn::VarMap;

use crate::flow::{CounterRng, Stream};
use crate::model::parameters::{LABEL_EMBEDDING, POSITIONS, Parameters};
use crate::model::positions::position_table;
use crate::model::{ModelConfig, TensorData, Weights, WeightsError};

/// Mixed into the seed for the initial weights, so that they draw other numbers than the training noise.
const INIT_KEY: u64 = 0x1A17_5EED_0F0F_B0F0;

/// The network's parameters as the official `_init_weights` sets them — N(0, 0.02²) linear weights,
/// N(0, (0.02/√(2·layers))²) for the residual projections `c_proj` (GPT-2's scaled init), zero biases, unit
/// LayerNorm gains — drawn from the counter-based generator so that one seed gives one network (candle's own
/// CPU generator cannot be seeded). The class embedding starts at zero, so that a conditional network starts as
/// its unconditional self, whether drawn afresh or fine-tuned from an unconditional model.
pub fn initial_varmap(config: &ModelConfig, seed: u64, device: &Device) -> Result<VarMap> {
    let rng = CounterRng::new(seed ^ INIT_KEY);
    let residual_std = 0.02 / (2.0 * config.network.layers as f64).sqrt();
    let parameters = Parameters::new(config);
    let residual: HashSet<String> = parameters
        .blocks
        .iter()
        .flat_map(|block| [block.attn_proj.weight(), block.mlp_proj.weight()])
        .collect();
    let varmap = VarMap::new();
    {
        let mut vars = varmap.data().lock().expect("a new VarMap's lock is free");
        for (index, (name, shape)) in parameters.shapes().into_iter().enumerate() {
            if name == POSITIONS {
                continue;
            }
            let count: usize = shape.iter().product();
            let values: Vec<f32> = if name.ends_with(".bias") || name == LABEL_EMBEDDING {
                vec![0.0; count]
            } else if shape.len() == 1 {
                vec![1.0; count]
            } else {
                let std = if residual.contains(&name) {
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
        if let Some(shape) = Parameters::new(config).label_embedding
            && !vars.contains_key(LABEL_EMBEDDING)
        {
            let zeros = Tensor::zeros(shape.as_slice(), candle_core::DType::F32, device)?;
            vars.insert(LABEL_EMBEDDING.to_owned(), Var::from_tensor(&zeros)?);
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
