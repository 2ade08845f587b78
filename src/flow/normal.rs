//! The standard normal distribution and a stable log-sum-exp, the two numerical tools every data kind uses.

use crate::flow::Real;

/// Φ(z) = ½·erfc(−z/√2): written with erfc rather than the reference's ½(1 + erf(z/√2)) so that the lower tail
/// keeps its relative precision (the two agree to the last digits the golden tolerances see).
pub fn std_normal_cdf<F: Real>(z: F) -> F {
    F::from_f64(0.5) * (-z * F::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erfc()
}

/// ln N(x ∣ mean, std²).
pub fn normal_log_pdf<F: Real>(x: F, mean: F, std: F) -> F {
    let z = (x - mean) / std;
    F::from_f64(-0.5) * z * z - std.ln() - F::from_f64(0.5 * (2.0 * std::f64::consts::PI).ln())
}

/// ln Σ exp(xᵢ), shifted by the maximum so that nothing overflows; −∞ for an empty or all −∞ input.
pub fn log_sum_exp<F: Real>(xs: impl Iterator<Item = F> + Clone) -> F {
    let max = xs.clone().fold(-F::INFINITY, F::max);
    if max == -F::INFINITY {
        return max;
    }
    max + xs.map(|x| (x - max).exp()).sum::<F>().ln()
}

/// xᵢ ← exp(xᵢ)/Σ exp(xⱼ), stably; entries of −∞ become 0.
pub fn softmax_in_place<F: Real>(xs: &mut [F]) {
    let norm = log_sum_exp(xs.iter().copied());
    for x in xs.iter_mut() {
        *x = (*x - norm).exp();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_known_values_and_tail_precision() {
        assert!((std_normal_cdf(0.0f64) - 0.5).abs() < 1e-16);
        assert!((std_normal_cdf(1.959963984540054f64) - 0.975).abs() < 1e-15);
        // Φ(−10) = 7.619853024160527e−24: the erf form would give 0.
        assert!((std_normal_cdf(-10.0f64) / 7.619853024160527e-24 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert!(
            (log_sum_exp([1000.0f64, 1000.0].into_iter()) - (1000.0 + 2f64.ln())).abs() < 1e-12
        );
        assert_eq!(log_sum_exp([f64::NEG_INFINITY, 0.0].into_iter()), 0.0);
        assert_eq!(log_sum_exp(std::iter::empty::<f32>()), f32::NEG_INFINITY);
    }
}
