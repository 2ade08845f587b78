//! Classifier-free guidance: which class each example of a batch is asked to be, and how strongly.
//!
//! A conditional model (one whose file names its classes) sees a class embedding where its time input goes, and a
//! learned "no class" entry stands for none: trained with labels dropped now and then, one network is both
//! conditional and unconditional. Guidance mixes the two outputs, (1 + w)·conditional − w·unconditional (ChemBFN),
//! so w = 0 is the plain conditional model and one network pass, and a larger w holds the samples closer to the
//! class at the cost of variety.

use crate::error::{BfnError, Result};

/// The classes asked for and the guidance weight.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Guidance {
    /// A class per example, `None` for no class; one entry for every example of the batch; empty for none at all.
    pub labels: Vec<Option<u32>>,
    /// w ≥ 0: 0 is the conditional model alone.
    pub weight: f64,
}

impl Guidance {
    /// Every example asked to be `class`, with weight `weight`.
    pub fn class(class: u32, weight: f64) -> Self {
        Self {
            labels: vec![Some(class)],
            weight,
        }
    }

    /// The class of each of `batch` examples; fails with [`BfnError::Config`] for a list of another length, a
    /// class past the model's `classes` (0 for a model without classes: any class is an error) or a weight that is
    /// negative or not finite.
    pub fn per_example(&self, classes: usize, batch: usize) -> Result<Vec<Option<u32>>> {
        if !self.weight.is_finite() || self.weight < 0.0 {
            return Err(BfnError::Config(format!(
                "guidance weight {}: it must be finite and at least 0",
                self.weight
            )));
        }
        let labels = match self.labels.len() {
            0 => vec![None; batch],
            1 => vec![self.labels[0]; batch],
            len if len == batch => self.labels.clone(),
            len => {
                return Err(BfnError::Config(format!(
                    "{len} classes for a batch of {batch}: give one for every example, or one for all"
                )));
            }
        };
        if let Some(class) = labels.iter().flatten().find(|&&c| c as usize >= classes) {
            return Err(BfnError::Config(if classes == 0 {
                format!("class {class} asked of a model without classes")
            } else {
                format!(
                    "class {class} asked of a model of {classes} classes (0 to {})",
                    classes - 1
                )
            }));
        }
        Ok(labels)
    }

    /// Whether sampling needs the unconditional pass beside the conditional one.
    pub fn is_guided(&self) -> bool {
        self.weight > 0.0 && self.labels.iter().any(Option::is_some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_go_to_every_example_or_each_and_bad_ones_are_errors() {
        assert_eq!(
            Guidance::class(3, 1.0).per_example(10, 2).unwrap(),
            [Some(3), Some(3)]
        );
        assert_eq!(Guidance::default().per_example(0, 2).unwrap(), [None, None]);
        let each = Guidance {
            labels: vec![Some(1), None],
            weight: 0.5,
        };
        assert_eq!(each.per_example(2, 2).unwrap(), [Some(1), None]);
        for (guidance, classes, needle) in [
            (Guidance::class(10, 1.0), 10, "0 to 9"),
            (Guidance::class(0, 1.0), 0, "without classes"),
            (Guidance::class(0, -1.0), 10, "at least 0"),
            (Guidance::class(0, f64::NAN), 10, "finite"),
            (each.clone(), 10, "batch of 3"),
        ] {
            let err = guidance.per_example(classes, 3).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        assert!(each.is_guided() && !Guidance::class(1, 0.0).is_guided());
    }
}
