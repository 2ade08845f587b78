//! The categorical input distribution of discrete data (paper §6): θ, the K class probabilities of every
//! variable; a sender that adds Gaussian noise to a scaled one-hot vector; the Bayesian update θ' ∝ θ·e^y.

use crate::error::{BfnError, Result};
use crate::flow::normal::softmax_in_place;
use crate::flow::{AccuracySchedule, BayesianFlow, FlowSpace, Real, Stream, VariableNoise};

/// The reference's p_F clamps t to at most 1 − 10⁻⁶ …
const T_MAX: f64 = 1.0 - 1e-6;
/// … and treats √β below 10⁻¹⁰ as no information at all (θ uniform).
const MIN_SQRT_BETA: f64 = 1e-10;

/// θ over K classes with the schedule β(t) = β₁t².
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CategoricalInput {
    beta_1: f64,
    classes: u32,
    schedule: AccuracySchedule,
}

/// Checks that a variable has at least two classes (or bins): with one there is nothing to generate.
pub(crate) fn check_classes(what: &'static str, got: u32) -> Result<()> {
    if got < 2 {
        return Err(BfnError::TooFewClasses { what, got });
    }
    Ok(())
}

impl CategoricalInput {
    /// Checks β₁ > 0 and K ≥ 2.
    pub fn new(beta_1: f64, classes: u32) -> Result<Self> {
        check_classes("classes", classes)?;
        Ok(Self {
            beta_1,
            classes,
            schedule: AccuracySchedule::quadratic(beta_1)?,
        })
    }

    /// β₁.
    pub fn beta_1(&self) -> f64 {
        self.beta_1
    }

    /// K.
    pub fn classes(&self) -> u32 {
        self.classes
    }

    /// β(t) = β₁t².
    pub fn schedule(&self) -> AccuracySchedule {
        self.schedule
    }

    /// The mean and standard deviation of coordinate k of p_S(y ∣ x; a) = N(a(K·e_x − 1), aK·I).
    ///
    /// The Bayesian flow's logits are a sender sample too, with the accumulated accuracy
    /// [`flow_accuracy`](Self::flow_accuracy) in place of a, so this gives p_F's moments as well.
    pub fn sender_moments<F: Real>(&self, x: u32, k: u32, accuracy: F) -> (F, F) {
        let classes = F::from_f64(self.classes.into());
        let one_hot = if k == x { classes } else { F::ZERO };
        (accuracy * (one_hot - F::ONE), (accuracy * classes).sqrt())
    }

    /// β(t) as the reference's p_F uses it: t clamped to ≤ 1 − 10⁻⁶ and √β to ≥ 10⁻¹⁰.
    pub fn flow_accuracy<F: Real>(&self, t: F) -> F {
        let sqrt_beta = self.sqrt_beta(t).max(F::from_f64(MIN_SQRT_BETA));
        sqrt_beta * sqrt_beta
    }

    fn sqrt_beta<F: Real>(&self, t: F) -> F {
        self.schedule.beta(t.min(F::from_f64(T_MAX))).sqrt()
    }

    /// Gaussian logits y_k = a(K·δ_kx − 1) + √(aK)·z_k, z from `stream`: a sender sample (accuracy α) or,
    /// before the softmax, a Bayesian flow sample (accuracy β(t)).
    fn gaussian_logits<F: Real>(
        &self,
        x: u32,
        accuracy: F,
        noise: VariableNoise,
        stream: Stream,
        y: &mut [F],
    ) {
        for (k, y) in y.iter_mut().enumerate() {
            let (mean, std) = self.sender_moments(x, k as u32, accuracy);
            *y = mean + std * noise.gaussian(stream, k as u32, self.classes);
        }
    }
}

impl<F: Real> BayesianFlow<F> for CategoricalInput {
    /// The class index.
    type Datum = u32;

    fn input_width(&self) -> usize {
        self.classes as usize
    }

    fn schedule(&self) -> AccuracySchedule {
        self.schedule
    }

    fn prior(&self) -> (F, F) {
        (F::ONE / F::from_f64(self.classes.into()), F::ZERO)
    }

    fn check_datum(&self, x: u32) -> Result<()> {
        if x >= self.classes {
            return Err(BfnError::ClassOutOfRange {
                class: x,
                classes: self.classes,
            });
        }
        Ok(())
    }

    fn point_mean(&self, x: u32, mean: &mut [F]) {
        mean.fill(F::ZERO);
        mean[x as usize] = F::ONE;
    }

    fn sender_sample(&self, x: u32, alpha: F, noise: VariableNoise, y: &mut [F]) {
        self.gaussian_logits(x, alpha, noise, Stream::Sender, y);
    }

    /// θ' ∝ θ·e^y, in log space: ln θ' = ln θ + y − ln Σ θ·e^y. The linear form of the reference overflows once
    /// αK is in the hundreds; a class whose probability underflows to 0 stays at 0 here instead of becoming NaN.
    fn bayesian_update(&self, input: &mut [F], _precision: F, y: &[F], _alpha: F) {
        for (theta, &y) in input.iter_mut().zip(y) {
            *theta = theta.ln() + y;
        }
        softmax_in_place(input);
    }

    /// θ = softmax(y) with y ~ N(β(t)(K·e_x − 1), β(t)K·I); uniform while √β(t) < 10⁻¹⁰.
    fn bayesian_flow_sample(&self, x: u32, t: F, noise: VariableNoise, input: &mut [F]) {
        if self.sqrt_beta(t) < F::from_f64(MIN_SQRT_BETA) {
            input.fill(<Self as BayesianFlow<F>>::prior(self).0);
            return;
        }
        self.gaussian_logits(x, self.flow_accuracy(t), noise, Stream::Flow, input);
        softmax_in_place(input);
    }

    fn flow_space(&self) -> FlowSpace {
        FlowSpace::Logits {
            beta_1: self.beta_1,
            classes: self.classes,
        }
    }
}
