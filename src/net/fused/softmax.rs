//! The attention softmax, with the 1/√(head size) scaling of the scores folded in: one pass over the
//! [batch, heads, tokens, tokens] scores instead of a scaling pass and a softmax.

use candle_core::{Result, Tensor};

use super::RowOp;

/// softmax(scale · x) over the last dimension of `x`.
pub fn scaled_softmax(x: &Tensor, scale: f32) -> Result<Tensor> {
    super::apply(x, ScaledSoftmax { scale })
}

#[derive(Clone)]
struct ScaledSoftmax {
    scale: f32,
}

impl RowOp for ScaledSoftmax {
    const NAME: &'static str = "scaled-softmax";
    const BACKWARD_READS_ARGUMENT: bool = false;

    /// Shifted by the row's maximum so that nothing overflows.
    fn forward(&self, x: &[f32], y: &mut [f32]) {
        let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut sum = 0.0;
        for (y, &x) in y.iter_mut().zip(x) {
            *y = (self.scale * (x - max)).exp();
            sum += *y;
        }
        let inverse = 1.0 / sum;
        y.iter_mut().for_each(|y| *y *= inverse);
    }

    /// dx = scale · y ⊙ (dy − Σ dy ⊙ y), read off the result y.
    fn backward(&self, y: &[f32], dy: &[f32], dx: &mut [f32]) {
        let dot: f32 = y.iter().zip(dy).map(|(y, dy)| y * dy).sum();
        for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
            *dx = self.scale * y * (dy - dot);
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::D;

    use super::super::reference::assert_matches;

    #[test]
    fn equals_the_scaled_softmax_expression_in_values_and_gradients() {
        let scale = 0.37;
        assert_matches(
            &[&[3, 5, 33]],
            1e-5,
            |x| super::scaled_softmax(&x[0], scale),
            |x| candle_nn::ops::softmax(&(&x[0] * scale as f64)?, D::Minus1),
        );
    }
}
