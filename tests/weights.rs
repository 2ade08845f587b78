//! The weights file: a round trip, and a typed error for every way a file can be wrong.

use std::collections::{BTreeMap, HashMap};

use bevy_bfn::model::parameters::POSITIONS;
use bevy_bfn::model::positions::position_table;
use bevy_bfn::model::weights::FORMAT_VERSION;
use bevy_bfn::model::{
    DEFAULT_SAMPLING_STEPS, GptConfig, KindConfig, Layout, ModelConfig, NetworkConfig, Positions,
    TensorData, Weights, WeightsError,
};
use safetensors::tensor::{Dtype, TensorView};

fn config() -> ModelConfig {
    ModelConfig {
        kind: KindConfig::Discrete {
            beta_1: 2.0,
            classes: 5,
        },
        layout: Layout {
            height: 3,
            width: 4,
            channels: 1,
        },
        network: NetworkConfig::Gpt(GptConfig {
            layers: 1,
            heads: 2,
            width: 8,
            positions: Positions::Grid,
        }),
        legend: vec![" ".into(), ".".into(), "#".into(), "~".into(), "+".into()],
        normalisation: None,
        sampling_steps: None,
        sampler: None,
        provenance: "test".into(),
        training_data: None,
        labels: Vec::new(),
        patch: 1,
    }
}

fn tensors(config: &ModelConfig) -> BTreeMap<String, TensorData> {
    config
        .parameter_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let count = shape.iter().product::<usize>();
            let values = if name == POSITIONS {
                let gpt = config.network.as_gpt().unwrap();
                position_table(config.layout, gpt.width, gpt.positions)
            } else {
                (0..count).map(|i| (i as f32 * 0.37).sin() * 0.1).collect()
            };
            (name, TensorData { shape, values })
        })
        .collect()
}

/// A safetensors file from f32 tensors (and, for the dtype test, raw F16 ones) with the given metadata.
fn file(
    tensors: &BTreeMap<String, TensorData>,
    metadata: Option<HashMap<String, String>>,
) -> Vec<u8> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                t.shape.clone(),
                t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes.iter().map(|(n, s, d)| {
        (
            n.as_str(),
            TensorView::new(Dtype::F32, s.clone(), d).unwrap(),
        )
    });
    safetensors::serialize(views, metadata).unwrap()
}

fn metadata(config_json: &str, version: &str) -> Option<HashMap<String, String>> {
    Some(HashMap::from([
        ("format".into(), "bevy_bfn".into()),
        ("format_version".into(), version.into()),
        ("config".into(), config_json.into()),
    ]))
}

fn ours(config: &ModelConfig, tensors: &BTreeMap<String, TensorData>) -> Vec<u8> {
    file(
        tensors,
        metadata(
            &serde_json::to_string(config).unwrap(),
            &FORMAT_VERSION.to_string(),
        ),
    )
}

#[test]
fn a_model_survives_a_round_trip() {
    let config = config();
    let weights = Weights::new(config.clone(), tensors(&config)).unwrap();
    let bytes = weights.to_bytes();
    assert_eq!(Weights::from_bytes(&bytes).unwrap(), weights);
    // Plain safetensors, readable by any safetensors reader, with our metadata.
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone().unwrap();
    assert_eq!(metadata["format"], "bevy_bfn");
    assert_eq!(metadata["format_version"], FORMAT_VERSION.to_string());
    assert!(metadata["config"].contains("\"discrete\""));
}

#[test]
fn a_truncated_or_foreign_file_is_rejected() {
    let config = config();
    let bytes = ours(&config, &tensors(&config));
    for cut in [0, 7, 100, bytes.len() - 1] {
        let e = Weights::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(matches!(e, WeightsError::Malformed(_)), "cut at {cut}: {e}");
    }
    assert!(matches!(
        Weights::from_bytes(b"not a model at all"),
        Err(WeightsError::Malformed(_))
    ));
    let e = Weights::from_bytes(&file(&tensors(&config), None)).unwrap_err();
    assert!(matches!(e, WeightsError::NotAModel(_)), "{e}");
    let mut other = metadata("{}", "1").unwrap();
    other.insert("format".into(), "pytorch".into());
    let e = Weights::from_bytes(&file(&tensors(&config), Some(other))).unwrap_err();
    assert!(matches!(e, WeightsError::NotAModel(_)), "{e}");
}

#[test]
fn an_unknown_version_or_a_bad_configuration_is_rejected() {
    let config = config();
    let json = serde_json::to_string(&config).unwrap();
    let e = Weights::from_bytes(&file(&tensors(&config), metadata(&json, "2"))).unwrap_err();
    assert!(
        matches!(e, WeightsError::UnknownVersion { ref found } if found == "2"),
        "{e}"
    );
    let e =
        Weights::from_bytes(&file(&tensors(&config), metadata("{\"kind\": 3}", "1"))).unwrap_err();
    assert!(matches!(e, WeightsError::Config(_)), "{e}");
    let mut bad = config.clone();
    bad.kind = KindConfig::Discrete {
        beta_1: -1.0,
        classes: 5,
    };
    let e = Weights::from_bytes(&ours(&bad, &tensors(&config))).unwrap_err();
    assert!(e.to_string().contains("beta_1"), "{e}");
    let mut bad = config.clone();
    bad.legend.pop();
    let e = Weights::from_bytes(&ours(&bad, &tensors(&config))).unwrap_err();
    assert!(e.to_string().contains("legend names 4 classes"), "{e}");
    // A discrete token holds one cell or a patch of cells, each one class: two channels a cell is neither.
    let mut bad = config.clone();
    bad.layout.channels = 2;
    let e = Weights::from_bytes(&ours(&bad, &tensors(&config))).unwrap_err();
    assert!(e.to_string().contains("one class per cell"), "{e}");
    let mut bad = config.clone();
    bad.sampling_steps = Some(0);
    let e = Weights::from_bytes(&ours(&bad, &tensors(&config))).unwrap_err();
    assert!(e.to_string().contains("sampling_steps 0"), "{e}");
}

#[test]
fn a_model_names_the_sampling_steps_it_needs_or_gets_fifty() {
    let mut config = config();
    // A file written before models named their steps has no such key, and reads as 50.
    let json = serde_json::to_string(&config).unwrap();
    assert!(!json.contains("sampling_steps"), "{json}");
    let old = Weights::from_bytes(&file(&tensors(&config), metadata(&json, "1"))).unwrap();
    assert_eq!(old.config().sampling_steps(), DEFAULT_SAMPLING_STEPS);
    config.sampling_steps = Some(500);
    let weights = Weights::new(config.clone(), tensors(&config)).unwrap();
    let read = Weights::from_bytes(&weights.to_bytes()).unwrap();
    assert_eq!(read.config().sampling_steps(), 500);
}

#[test]
fn tensors_that_disagree_with_the_configuration_are_rejected() {
    let config = config();
    let mut missing = tensors(&config);
    missing.remove("transformer.h.0.mlp.c_fc.weight");
    let e = Weights::from_bytes(&ours(&config, &missing)).unwrap_err();
    assert!(
        matches!(e, WeightsError::MissingTensor(ref n) if n == "transformer.h.0.mlp.c_fc.weight"),
        "{e}"
    );

    let mut extra = tensors(&config);
    extra.insert(
        "transformer.h.1.ln_1.weight".into(),
        TensorData {
            shape: vec![8],
            values: vec![1.0; 8],
        },
    );
    let e = Weights::from_bytes(&ours(&config, &extra)).unwrap_err();
    assert!(
        matches!(e, WeightsError::ExtraTensor(ref n) if n == "transformer.h.1.ln_1.weight"),
        "{e}"
    );

    let mut wrong = tensors(&config);
    wrong.insert(
        "lm_head.weight".into(),
        TensorData {
            shape: vec![4, 16],
            values: vec![0.0; 64],
        },
    );
    let e = Weights::from_bytes(&ours(&config, &wrong)).unwrap_err();
    assert!(
        matches!(e, WeightsError::WrongShape { ref name, .. } if name == "lm_head.weight"),
        "{e}"
    );

    let mut nan = tensors(&config);
    nan.get_mut("lm_head.bias").unwrap().values[2] = f32::NAN;
    let e = Weights::from_bytes(&ours(&config, &nan)).unwrap_err();
    assert!(
        matches!(e, WeightsError::NotFinite(ref n) if n == "lm_head.bias"),
        "{e}"
    );

    let mut moved = tensors(&config);
    moved.get_mut(POSITIONS).unwrap().values[9] += 0.5;
    let e = Weights::from_bytes(&ours(&config, &moved)).unwrap_err();
    assert!(matches!(e, WeightsError::Disagrees(_)), "{e}");
}

#[test]
fn a_tensor_of_another_dtype_is_rejected() {
    let config = config();
    let tensors = tensors(&config);
    let half = [0u8; 2 * 8];
    let mut views: Vec<(String, TensorView)> = Vec::new();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .filter(|(n, _)| n.as_str() != "lm_head.bias")
        .map(|(n, t)| {
            (
                n.clone(),
                t.shape.clone(),
                t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    for (n, s, d) in &bytes {
        views.push((
            n.clone(),
            TensorView::new(Dtype::F32, s.clone(), d).unwrap(),
        ));
    }
    views.push((
        "lm_head.bias".into(),
        TensorView::new(Dtype::F16, vec![5], &half[..10]).unwrap(),
    ));
    let json = serde_json::to_string(&config).unwrap();
    let e = Weights::from_bytes(&safetensors::serialize(views, metadata(&json, "1")).unwrap())
        .unwrap_err();
    assert!(
        matches!(e, WeightsError::WrongDtype { ref name, .. } if name == "lm_head.bias"),
        "{e}"
    );
}

#[test]
fn a_missing_file_names_its_path() {
    let e = Weights::load("/nonexistent/model.safetensors").unwrap_err();
    assert!(
        e.to_string().starts_with("/nonexistent/model.safetensors"),
        "{e}"
    );
}
