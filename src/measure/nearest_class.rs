//! Whether a conditional model's samples are of the class asked for, measured without a classifier of our own:
//! each sample takes the class of its nearest held-out example, and the share that lands in the class asked for
//! is compared with the class's share of the held-out examples (what a sample of any class would score).
//!
//! Nearness is read in the data's pixel layout: the number of differing cells for classes (characters of a name,
//! tiles of a map), the squared distance of the values for images.

use crate::error::{BfnError, Result};
use crate::measure::quality::pixel_values;
use crate::model::content::example_count;
use crate::model::{ModelConfig, Samples};

/// One class's score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NearestClass {
    /// The share of the samples whose nearest held-out example is of the class asked for.
    pub share: f64,
    /// The class's share of the labelled held-out examples: the score of samples that ignore the class.
    pub chance: f64,
}

/// Scores `samples`, all asked for class `class`, against the `reference` examples of classes `labels` (one per
/// example; unlabelled examples are left out).
pub fn nearest_class(
    config: &ModelConfig,
    samples: &Samples,
    reference: &Samples,
    labels: &[Option<u32>],
    class: u32,
) -> Result<NearestClass> {
    let labelled: Vec<(Vec<f64>, u32)> = (0..example_count(config, reference))
        .zip(labels)
        .filter_map(|(e, label)| label.map(|l| (pixel_values(config, reference, e), l)))
        .collect();
    let count = example_count(config, samples);
    if labelled.is_empty() || count == 0 {
        return Err(BfnError::Config(
            "the nearest-class check needs samples and labelled reference examples".into(),
        ));
    }
    let classes = matches!(samples, Samples::Classes(_));
    let distance = |a: &[f64], b: &[f64]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                if classes {
                    f64::from(u8::from(x != y))
                } else {
                    (x - y).powi(2)
                }
            })
            .sum()
    };
    let hits = (0..count)
        .filter(|&e| {
            let sample = pixel_values(config, samples, e);
            labelled
                .iter()
                .min_by(|a, b| distance(&sample, &a.0).total_cmp(&distance(&sample, &b.0)))
                .is_some_and(|(_, label)| *label == class)
        })
        .count();
    let of_class = labelled.iter().filter(|(_, l)| *l == class).count();
    Ok(NearestClass {
        share: hits as f64 / count as f64,
        chance: of_class as f64 / labelled.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GptConfig, KindConfig, Layout, NetworkConfig, Positions};

    #[test]
    fn samples_take_the_class_of_their_nearest_example() {
        let config = ModelConfig {
            kind: KindConfig::Discrete {
                beta_1: 1.0,
                classes: 3,
            },
            layout: Layout {
                height: 1,
                width: 3,
                channels: 1,
            },
            patch: 1,
            network: NetworkConfig::Gpt(GptConfig {
                layers: 1,
                heads: 1,
                width: 4,
                positions: Positions::Sequence,
            }),
            legend: Vec::new(),
            normalisation: None,
            sampling_steps: None,
            sampler: None,
            provenance: String::new(),
            training_data: None,
            labels: vec!["a".into(), "b".into()],
        };
        // Three reference examples: [0,0,0] class 0, [2,2,2] class 1, [1,1,1] unlabelled.
        let reference = Samples::Classes(vec![0, 0, 0, 2, 2, 2, 1, 1, 1]);
        let labels = [Some(0), Some(1), None];
        // Nearest: [0,0,1] → class 0, [2,2,1] → class 1 (the unlabelled [1,1,1] is not a candidate).
        let samples = Samples::Classes(vec![0, 0, 1, 2, 2, 1]);
        let score = nearest_class(&config, &samples, &reference, &labels, 0).unwrap();
        assert_eq!(
            score,
            NearestClass {
                share: 0.5,
                chance: 0.5
            }
        );
        assert!(nearest_class(&config, &samples, &reference, &[None, None, None], 0).is_err());
    }
}
