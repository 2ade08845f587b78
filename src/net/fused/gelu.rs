//! tanh-GELU, the MLP's activation: ½x(1 + tanh u) with u = √(2/π)(x + 0.044715x³), as candle's `gelu` and the
//! GPU's matmul kernel compute it.

use candle_core::{Result, Tensor};

use super::RowOp;

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const CUBIC: f32 = 0.044_715;

/// tanh-GELU of every element of `x`.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    super::apply(x, Gelu)
}

#[derive(Clone)]
struct Gelu;

/// tanh u and du/dx at `x`.
fn tanh_and_slope(x: f32) -> (f32, f32) {
    let u = SQRT_2_OVER_PI * x * (1.0 + CUBIC * x * x);
    (tanh(u), SQRT_2_OVER_PI * (1.0 + 3.0 * CUBIC * x * x))
}

/// tanh through one `exp`: glibc's `tanhf` goes through `expm1f` and took a tenth of a training step. Its error,
/// about 10⁻⁷ absolute near 0, is below what ½(1 + tanh u) can show in f32; ±∞ and NaN come out as from `tanhf`.
fn tanh(u: f32) -> f32 {
    1.0 - 2.0 / ((2.0 * u).exp() + 1.0)
}

impl RowOp for Gelu {
    const NAME: &'static str = "tanh-gelu";
    const BACKWARD_READS_ARGUMENT: bool = true;

    fn forward(&self, x: &[f32], y: &mut [f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = 0.5 * x * (1.0 + tanh_and_slope(x).0);
        }
    }

    /// d/dx ½x(1 + tanh u) = ½(1 + tanh u) + ½x(1 − tanh² u)·du/dx.
    fn backward(&self, x: &[f32], dy: &[f32], dx: &mut [f32]) {
        for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
            let (tanh, slope) = tanh_and_slope(x);
            *dx = dy * (0.5 * (1.0 + tanh) + 0.5 * x * (1.0 - tanh * tanh) * slope);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::assert_matches;

    #[test]
    fn equals_candles_gelu_in_values_and_gradients() {
        assert_matches(
            &[&[3, 5, 40]],
            1e-5,
            |x| super::gelu(&x[0]),
            |x| x[0].gelu(),
        );
    }
}
