//! The accuracy schedule β(t) and the per-step sender accuracies α_i derived from it.
//!
//! β(t) is how much the receiver knows about the data at time t; step i of an n-step transmission adds
//! α_i = β(i/n) − β((i−1)/n). Continuous and discretised data use β(t) = σ₁^{−2t} − 1, chosen so that the
//! input variance falls geometrically to σ₁²; discrete data use β(t) = β₁t², which makes the expected entropy of
//! the input distribution fall roughly linearly (paper §6.8).

use crate::error::{BfnError, Result};
use crate::flow::Real;

/// The largest number of steps: the step counter shares a 32-bit word of the random generator's counter.
pub const MAX_STEPS: u32 = (1 << 30) - 1;

/// β(t) for one data kind. Built through [`AccuracySchedule::exponential`] or [`AccuracySchedule::quadratic`], which
/// check their setting, so every schedule in hand gives finite accuracies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AccuracySchedule(Form);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Form {
    Exponential { sigma_1: f64 },
    Quadratic { beta_1: f64 },
}

impl AccuracySchedule {
    /// β(t) = σ₁^{−2t} − 1, for continuous and discretised data; σ₁ ∈ (0, 1) is the input standard deviation at
    /// t = 1.
    pub fn exponential(sigma_1: f64) -> Result<Self> {
        if !(sigma_1 > 0.0 && sigma_1 < 1.0) {
            return Err(BfnError::Sigma1OutOfRange(sigma_1));
        }
        Ok(Self(Form::Exponential { sigma_1 }))
    }

    /// β(t) = β₁t², for discrete data; β₁ > 0.
    pub fn quadratic(beta_1: f64) -> Result<Self> {
        if !(beta_1 > 0.0 && beta_1.is_finite()) {
            return Err(BfnError::Beta1OutOfRange(beta_1));
        }
        Ok(Self(Form::Quadratic { beta_1 }))
    }

    /// σ₁ for the exponential schedule, `None` for the quadratic one.
    pub fn sigma_1(&self) -> Option<f64> {
        match self.0 {
            Form::Exponential { sigma_1 } => Some(sigma_1),
            Form::Quadratic { .. } => None,
        }
    }

    /// β₁ for the quadratic schedule, `None` for the exponential one.
    pub fn beta_1(&self) -> Option<f64> {
        match self.0 {
            Form::Quadratic { beta_1 } => Some(beta_1),
            Form::Exponential { .. } => None,
        }
    }

    /// β(t), the accuracy accumulated by time t.
    pub fn beta<F: Real>(&self, t: F) -> F {
        match self.0 {
            Form::Exponential { sigma_1 } => F::from_f64(sigma_1).powf(-(t + t)) - F::ONE,
            Form::Quadratic { beta_1 } => F::from_f64(beta_1) * t * t,
        }
    }

    /// α of the step of n that starts at time t = (i − 1)/n, as the discrete-time loss evaluates it (with
    /// i = t·n + 1 real-valued, as the reference does).
    pub fn alpha_at_time<F: Real>(&self, t: F, n: u32) -> F {
        let n = F::from_f64(n.into());
        self.alpha_at(t * n + F::ONE, n)
    }

    /// α at a real-valued step index i of n.
    ///
    /// For the exponential schedule α = σ₁^{−2i/n}·(1 − σ₁^{2/n}); the second factor is computed as
    /// −expm1(2 ln σ₁ / n) because `1 - powf` loses most of its digits in `f32` when n is in the thousands.
    fn alpha_at<F: Real>(&self, i: F, n: F) -> F {
        match self.0 {
            Form::Exponential { sigma_1 } => {
                let ln_sigma_1 = F::from_f64(sigma_1.ln());
                let two = F::from_f64(2.0);
                (-two * i * ln_sigma_1 / n).exp() * -(two * ln_sigma_1 / n).exp_m1()
            }
            Form::Quadratic { beta_1 } => {
                F::from_f64(beta_1) * (F::from_f64(2.0) * i - F::ONE) / (n * n)
            }
        }
    }

    /// α_i, the accuracy of the sender sample at `step`.
    pub fn alpha<F: Real>(&self, step: Step) -> F {
        self.alpha_at(F::from_f64(step.i as f64), F::from_f64(step.n as f64))
    }
}

/// Step i of an n-step transmission, 1 ≤ i ≤ n ≤ [`MAX_STEPS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    i: u32,
    n: u32,
}

impl Step {
    /// Step `i` of `n`, checked.
    pub fn new(i: u32, n: u32) -> Result<Self> {
        check_steps(n)?;
        if i == 0 || i > n {
            return Err(BfnError::StepOutOfRange {
                i: i.into(),
                n: n.into(),
            });
        }
        Ok(Self { i, n })
    }

    /// The steps 1..=n of an n-step transmission.
    pub fn all(n: u32) -> Result<impl DoubleEndedIterator<Item = Step> + Clone> {
        check_steps(n)?;
        Ok((1..=n).map(move |i| Step { i, n }))
    }

    /// The step index i, from 1.
    pub fn i(&self) -> u32 {
        self.i
    }

    /// The number of steps n.
    pub fn n(&self) -> u32 {
        self.n
    }

    /// t_{i−1} = (i − 1)/n: the time at which the network is asked for its output distribution at this step.
    pub fn t<F: Real>(&self) -> F {
        F::from_f64(f64::from(self.i - 1) / f64::from(self.n))
    }
}

/// Checks a number of steps n.
pub fn check_steps(n: u32) -> Result<()> {
    if n == 0 || n > MAX_STEPS {
        return Err(BfnError::StepsOutOfRange {
            got: n.into(),
            max: MAX_STEPS.into(),
        });
    }
    Ok(())
}

/// Checks a number of Monte Carlo draws: each draw uses one value of the generator's step counter.
pub fn check_draws(what: &'static str, draws: u32) -> Result<()> {
    if draws == 0 || draws > MAX_STEPS {
        return Err(BfnError::DrawsOutOfRange {
            what,
            got: draws.into(),
            max: MAX_STEPS.into(),
        });
    }
    Ok(())
}

/// Checks a time t ∈ [0, 1].
pub fn check_time<F: Real>(t: F) -> Result<()> {
    if !(t >= F::ZERO && t <= F::ONE) {
        return Err(BfnError::TimeOutOfRange(t.to_f64()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracies_of_all_steps_add_up_to_beta_1() {
        for schedule in [
            AccuracySchedule::exponential(0.001).unwrap(),
            AccuracySchedule::quadratic(3.0).unwrap(),
        ] {
            for n in [1, 7, 1000] {
                let sum: f64 = Step::all(n)
                    .unwrap()
                    .map(|s| schedule.alpha::<f64>(s))
                    .sum();
                let beta_1 = schedule.beta(1.0f64);
                assert!(
                    (sum - beta_1).abs() <= 1e-9 * beta_1,
                    "n={n}: {sum} vs {beta_1}"
                );
            }
        }
    }

    #[test]
    fn settings_out_of_range_are_errors() {
        for s in [0.0, 1.0, -0.5, f64::NAN] {
            assert!(matches!(
                AccuracySchedule::exponential(s),
                Err(BfnError::Sigma1OutOfRange(_))
            ));
        }
        for b in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            assert!(matches!(
                AccuracySchedule::quadratic(b),
                Err(BfnError::Beta1OutOfRange(_))
            ));
        }
        assert!(Step::new(0, 5).is_err() && Step::new(6, 5).is_err() && Step::new(1, 0).is_err());
        assert!(
            check_time(1.5f32).is_err()
                && check_time(f32::NAN).is_err()
                && check_time(0.0f32).is_ok()
        );
    }
}
