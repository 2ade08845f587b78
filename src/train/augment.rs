//! Symmetries of the data that training may apply to its examples.
//!
//! Small datasets are what a game has: 2,700 vault maps, a few hundred sprites. Where the data do not care
//! which way up they lie — Dungeon Crawl itself places its vaults rotated and mirrored, a height field has no
//! preferred north — every example stands for its whole orbit under those symmetries, and showing the network
//! each of them multiplies the data for free. Each training example is drawn with one symmetry of the group,
//! chosen by the run's random stream, so resuming a run still repeats it exactly. Evaluation never augments.
//!
//! The symmetries act on pixels and are expressed as permutations of an example's variables, so that one
//! gather serves the three data kinds, whatever the patch size.

use serde::{Deserialize, Serialize};

use crate::model::ModelConfig;

/// The group of symmetries a training example is drawn from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Augment {
    /// The examples as they are.
    #[default]
    None,
    /// The example or its left–right mirror image.
    Mirror,
    /// The 8 rotations and reflections of the square (square examples only).
    Dihedral,
}

impl Augment {
    /// The group's elements as permutations of a token-major example's variables: variable `v` of the
    /// transformed example is variable `permutation[v]` of the original. The identity comes first.
    pub fn permutations(self, model: &ModelConfig) -> Result<Vec<Vec<usize>>, String> {
        let pixels = model.pixel_layout();
        let (height, width) = (pixels.height, pixels.width);
        // Element g transposes when bit 2 is set, then flips rows (bit 1) and columns (bit 0): for a square
        // these 8 maps are the dihedral group, and bit 0 alone is the mirror.
        let elements: &[usize] = match self {
            Augment::None => &[0],
            Augment::Mirror => &[0, 1],
            Augment::Dihedral if height == width => &[0, 1, 2, 3, 4, 5, 6, 7],
            Augment::Dihedral => {
                return Err(format!(
                    "training.augment = \"dihedral\" needs square examples, the data are {height} × {width} \
                     (\"mirror\" works on any shape)"
                ));
            }
        };
        Ok(elements
            .iter()
            .map(|&g| {
                let mut permutation = vec![0; pixels.variables()];
                for row in 0..height {
                    for column in 0..width {
                        let (r, c) = if g & 4 != 0 {
                            (column, row)
                        } else {
                            (row, column)
                        };
                        let r = if g & 2 != 0 { height - 1 - r } else { r };
                        let c = if g & 1 != 0 { width - 1 - c } else { c };
                        for channel in 0..pixels.channels {
                            permutation[model.variable_of_pixel(row, column, channel)] =
                                model.variable_of_pixel(r, c, channel);
                        }
                    }
                }
                permutation
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GptConfig, KindConfig, Layout, NetworkConfig, Positions};
    use crate::train::dataset::{Dataset, Examples};

    fn model(height: usize, width: usize, channels: usize, patch: usize) -> ModelConfig {
        ModelConfig {
            kind: KindConfig::Continuous { sigma_1: 0.01 },
            layout: Layout {
                height: height / patch,
                width: width / patch,
                channels: channels * patch * patch,
            },
            patch,
            network: NetworkConfig::Gpt(GptConfig {
                layers: 1,
                heads: 1,
                width: 8,
                positions: Positions::Grid,
            }),
            legend: Vec::new(),
            normalisation: None,
            sampling_steps: None,
            sampler: None,
            provenance: String::new(),
            training_data: None,
            labels: Vec::new(),
        }
    }

    /// `pixels` (one example in pixel order) cut into `model`'s tokens by the trainer's own patching.
    fn patched(model: &ModelConfig, pixels: &[usize]) -> Vec<usize> {
        let data = Dataset {
            crops: Vec::new(),
            held_out_crops: Vec::new(),
            layout: model.pixel_layout(),
            count: 1,
            examples: Examples::Values(pixels.iter().map(|&v| v as f32).collect()),
            test_count: 0,
            legend: Vec::new(),
            bins: None,
            normalisation: None,
            provenance: String::new(),
            labels: None,
        };
        let Examples::Values(values) = data.patched(model).unwrap().examples else {
            unreachable!("values stay values")
        };
        values.into_iter().map(|v| v as usize).collect()
    }

    fn apply(permutation: &[usize], example: &[usize]) -> Vec<usize> {
        permutation.iter().map(|&v| example[v]).collect()
    }

    #[test]
    fn the_dihedral_group_has_eight_distinct_bijections_closed_under_composition() {
        let plain = model(4, 4, 2, 1);
        let group = Augment::Dihedral.permutations(&plain).unwrap();
        assert_eq!(group.len(), 8);
        assert_eq!(group[0], (0..32).collect::<Vec<_>>(), "identity first");
        for p in &group {
            let mut sorted = p.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..32).collect::<Vec<_>>(), "a bijection");
        }
        let mut distinct = group.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "distinct");
        for a in &group {
            for b in &group {
                assert!(group.contains(&apply(a, b)), "closed under composition");
            }
        }
        // Channels move with their pixel: pixel (0, 0)'s two channels land together in a corner.
        for p in &group {
            let at = p.iter().position(|&v| v == 0).unwrap();
            assert_eq!(p[at + 1], 1);
        }
    }

    #[test]
    fn a_quarter_turn_four_times_is_the_identity_and_mirror_reverses_rows() {
        let plain = model(4, 4, 1, 1);
        let group = Augment::Dihedral.permutations(&plain).unwrap();
        let example: Vec<usize> = (0..16).collect();
        let turns = group
            .iter()
            .filter(|p| {
                let twice = apply(p, &apply(p, &example));
                twice != example && apply(p, &apply(p, &twice)) == example
            })
            .count();
        assert_eq!(turns, 2, "the two quarter turns have order 4");
        let mirror = &Augment::Mirror.permutations(&plain).unwrap()[1];
        assert_eq!(&apply(mirror, &example)[..4], &[3, 2, 1, 0]);
    }

    #[test]
    fn patched_examples_transform_as_their_pixels_do() {
        let plain = model(4, 4, 2, 1);
        let patched = model(4, 4, 2, 2);
        let pixels: Vec<usize> = (0..32).collect();
        let on_pixels = Augment::Dihedral.permutations(&plain).unwrap();
        let on_tokens = Augment::Dihedral.permutations(&patched).unwrap();
        for (p, q) in on_pixels.iter().zip(&on_tokens) {
            assert_eq!(
                apply(q, &self::patched(&patched, &pixels)),
                self::patched(&patched, &apply(p, &pixels))
            );
        }
    }

    #[test]
    fn dihedral_on_a_non_square_is_refused_by_name() {
        let error = Augment::Dihedral
            .permutations(&model(1, 8, 1, 1))
            .unwrap_err();
        assert!(
            error.contains("training.augment") && error.contains("1 × 8"),
            "{error}"
        );
        assert_eq!(
            Augment::Mirror
                .permutations(&model(1, 8, 1, 1))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            Augment::None
                .permutations(&model(1, 8, 1, 1))
                .unwrap()
                .len(),
            1
        );
    }
}
