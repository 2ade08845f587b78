//! Fixed sinusoidal position features, as the official text adapter's `pe_encode` makes them.
//!
//! Feature 2j of position p is sin(p / 1000^{2j/d}) and feature 2j + 1 is cos(p / 1000^{(2j+1)/d}) — the
//! official code's exponents, base 1000 rather than the Transformer paper's 10,000. They are stored in the weights
//! file as the `input_adapter.pos_embedding` buffer (so the official module loads the file as it is) and checked
//! against this function on load.

use crate::model::{Layout, Positions};

/// `pe_encode` for one position into `features.len()` features.
fn encode(position: usize, features: &mut [f32]) {
    let d = features.len() as f32;
    for (j, f) in features.iter_mut().enumerate() {
        let angle = position as f32 / 1000f32.powf(j as f32 / d);
        *f = if j % 2 == 0 { angle.sin() } else { angle.cos() };
    }
}

/// The [tokens × `width`] table for a layout: one index per token, or row and column in halves of the features.
pub fn position_table(layout: Layout, width: usize, positions: Positions) -> Vec<f32> {
    let mut table = vec![0.0; layout.tokens() * width];
    for (token, row) in table.chunks_exact_mut(width).enumerate() {
        match positions {
            Positions::Sequence => encode(token, row),
            Positions::Grid => {
                let (y, x) = row.split_at_mut(width / 2);
                encode(token / layout.width, y);
                encode(token % layout.width, x);
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_official_formula() {
        // pe_encode(3, 4) from the official utils_model.py, computed by hand.
        let layout = Layout {
            height: 1,
            width: 3,
            channels: 1,
        };
        let table = position_table(layout, 4, Positions::Sequence);
        let d = 4.0f32;
        for p in 0..3 {
            let p_f = p as f32;
            let expected = [
                (p_f / 1000f32.powf(0.0 / d)).sin(),
                (p_f / 1000f32.powf(1.0 / d)).cos(),
                (p_f / 1000f32.powf(2.0 / d)).sin(),
                (p_f / 1000f32.powf(3.0 / d)).cos(),
            ];
            assert_eq!(&table[p * 4..p * 4 + 4], &expected);
        }
    }

    #[test]
    fn grid_positions_share_rows_and_columns() {
        let layout = Layout {
            height: 3,
            width: 4,
            channels: 1,
        };
        let table = position_table(layout, 8, Positions::Grid);
        let token = |r: usize, c: usize| &table[(r * 4 + c) * 8..(r * 4 + c + 1) * 8];
        assert_eq!(
            token(1, 0)[..4],
            token(1, 3)[..4],
            "same row, same first half"
        );
        assert_eq!(
            token(0, 2)[4..],
            token(2, 2)[4..],
            "same column, same second half"
        );
        assert_ne!(token(0, 2)[..4], token(2, 2)[..4]);
    }
}
