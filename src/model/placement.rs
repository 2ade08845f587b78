//! Lists given in the data's own layout — cells, pixels, characters, channels innermost — placed on the
//! network's variables, which fold square patches into tokens. A game paints constraints on the map it sees, not
//! on the network's patches.

use crate::error::{BfnError, Result};
use crate::flow::Constraints;
use crate::model::ModelConfig;

impl ModelConfig {
    /// `per_pixel`, one entry per variable of one example in the data's order (broadcast to every example of the
    /// batch) or of each of `batch` examples in turn, in the network's order for the batch. Fails with
    /// [`BfnError::Config`] for any other length.
    pub fn place<T: Clone>(&self, per_pixel: &[T], batch: usize) -> Result<Vec<T>> {
        let example = self.pixel_layout();
        let n = example.variables();
        let examples = match per_pixel.len() {
            len if len == n => 1,
            len if batch > 0 && len == n * batch => batch,
            len => {
                return Err(BfnError::Config(format!(
                    "{len} values in the data's layout, but an example of {}×{}×{} has {n} ({} for {batch})",
                    example.height,
                    example.width,
                    example.channels,
                    n * batch
                )));
            }
        };
        let mut placed = Vec::with_capacity(n * batch);
        for row in 0..batch {
            let source = &per_pixel[(row % examples) * n..][..n];
            let mut variables = vec![None; n];
            for (v, value) in source.iter().enumerate() {
                let (pixel, channel) = (v / example.channels, v % example.channels);
                let (r, c) = (pixel / example.width, pixel % example.width);
                variables[self.variable_of_pixel(r, c, channel)] = Some(value.clone());
            }
            placed.extend(variables.into_iter().flatten());
        }
        Ok(placed)
    }

    /// Constraints given in the data's layout, for one example or each of `batch` ([`place`](Self::place)), on
    /// the network's variables of the batch. Empty lists stay empty.
    pub fn place_constraints<D: Clone>(
        &self,
        constraints: &Constraints<D>,
        batch: usize,
    ) -> Result<Constraints<D>> {
        fn place<T: Clone>(config: &ModelConfig, list: &[T], batch: usize) -> Result<Vec<T>> {
            if list.is_empty() {
                Ok(Vec::new())
            } else {
                config.place(list, batch)
            }
        }
        Ok(Constraints {
            known: place(self, &constraints.known, batch)?,
            allowed: place(self, &constraints.allowed, batch)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::{Constraints, Known};
    use crate::model::ModelConfig;
    use crate::model::content::example_variables;

    /// Two tokens of 2 × 2 cells side by side: a 2 × 4 map.
    fn patched() -> ModelConfig {
        serde_json::from_str(
            r#"{"kind":{"type":"discrete","beta_1":1.0,"classes":16},
            "layout":{"height":1,"width":2,"channels":4},"patch":2,
            "network":{"layers":1,"heads":1,"width":8,"positions":"grid"}}"#,
        )
        .unwrap()
    }

    #[test]
    fn placing_undoes_reading_in_the_data_order() {
        let config = patched();
        let per_example: Vec<u32> = (100..116).collect();
        let placed = config.place(&per_example, 2).unwrap();
        for example in 0..2 {
            let read: Vec<u32> = example_variables(&config, &placed, example).collect();
            assert_eq!(read, per_example[example * 8..][..8]);
        }
        // One example's list goes to every example of the batch.
        let broadcast = config.place(&per_example[..8], 3).unwrap();
        assert_eq!(broadcast.len(), 24);
        assert!(broadcast.chunks(8).all(|e| e == &placed[..8]));
    }

    #[test]
    fn a_list_of_another_length_is_an_error_naming_both_lengths() {
        let err = patched().place(&[0u32; 7], 2).unwrap_err().to_string();
        assert!(
            err.contains('7') && err.contains('8') && err.contains("16"),
            "{err}"
        );
    }

    #[test]
    fn constraints_are_placed_known_and_allowed_alike_and_empty_stays_empty() {
        let config = patched();
        // Keep the top-right cell (row 0, column 3): the second token's second variable.
        let mut known = vec![None; 8];
        known[3] = Some(Known::held(5u32));
        let constraints = Constraints {
            known,
            allowed: Vec::new(),
        };
        let placed = config.place_constraints(&constraints, 1).unwrap();
        assert!(placed.allowed.is_empty());
        let held: Vec<usize> = (0..8).filter(|&v| placed.known[v].is_some()).collect();
        assert_eq!(held, [5]);
    }
}
