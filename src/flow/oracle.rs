//! Known-answer denoisers: networks whose right output is known exactly, for tests, examples and for checking
//! other samplers (the GPU's) against this one without a trained model.
//!
//! - [`Oracle`] knows the data itself: its output distribution is centred on x (a data prediction of x for
//!   continuous data, a bin of width σ_x = 10⁻³ around x for discretised data, logits with x far ahead for
//!   discrete data). A correct sampler must end exactly at x.
//! - [`CategoricalPosterior`] knows only that every variable is drawn independently from a distribution p over K
//!   classes. For that data the ideal network is the Bayesian posterior p(x ∣ θ) ∝ p_x·θ_x, because θ ∝ exp(Σy) is
//!   exactly the likelihood of the sender messages so far; a correct sampler driven by it draws its samples
//!   from p.

use crate::error::{BfnError, Result, check_len};
use crate::flow::{Continuous, Denoiser, Discrete, Discretised, InputParams, Real};

/// How far ahead the oracle puts the right class's logit: e⁻³⁰ ≈ 10⁻¹³ is left for the others.
const ORACLE_LOGIT: f64 = 30.0;
/// ln σ_ε for discretised data: small enough that σ_x hits the reference's floor of 10⁻³.
const ORACLE_LN_SIGMA: f64 = -10.0;

/// A denoiser that knows the data of every variable of the batch (`data[v]` for variable v).
#[derive(Clone, Copy, Debug)]
pub struct Oracle<'a, K, D> {
    /// The data kind.
    pub kind: K,
    /// The data, one datum per variable of the batch.
    pub data: &'a [D],
}

impl<F: Real> Denoiser<F> for Oracle<'_, Continuous, F> {
    /// ε̂ = (μ/γ − x)/√((1 − γ)/γ), the noise that makes x̂ = x; 0 before t_min, where x̂ is 0 regardless.
    fn output_params(&mut self, input: &InputParams<F>, t: &[F], output: &mut [F]) -> Result<()> {
        check_len("oracle data", self.data.len(), input.shape().len())?;
        for (v, (eps, &x)) in output.iter_mut().zip(self.data).enumerate() {
            let t = t[v / input.shape().variables()];
            *eps = match self.kind.input().noise_to_data(t) {
                None => F::ZERO,
                Some(map) => (input.variable(v)[0] * map.inv_gamma - x) / map.noise_scale,
            };
        }
        Ok(())
    }
}

impl<F: Real> Denoiser<F> for Oracle<'_, Discretised, F> {
    /// μ_ε as for continuous data, and the smallest σ_x the output distribution allows.
    fn output_params(&mut self, input: &InputParams<F>, t: &[F], output: &mut [F]) -> Result<()> {
        check_len("oracle data", self.data.len(), input.shape().len())?;
        for (v, (out, &x)) in output.chunks_exact_mut(2).zip(self.data).enumerate() {
            let t = t[v / input.shape().variables()];
            out[0] = match self.kind.input().noise_to_data(t) {
                None => F::ZERO,
                Some(map) => (input.variable(v)[0] * map.inv_gamma - x) / map.noise_scale,
            };
            out[1] = F::from_f64(ORACLE_LN_SIGMA);
        }
        Ok(())
    }
}

impl<F: Real> Denoiser<F> for Oracle<'_, Discrete, u32> {
    /// Logits 0 except x's, which is 30.
    fn output_params(&mut self, input: &InputParams<F>, _t: &[F], output: &mut [F]) -> Result<()> {
        check_len("oracle data", self.data.len(), input.shape().len())?;
        let classes = self.kind.classes() as usize;
        for (out, &x) in output.chunks_exact_mut(classes).zip(self.data) {
            out.fill(F::ZERO);
            out[x as usize] = F::from_f64(ORACLE_LOGIT);
        }
        Ok(())
    }
}

/// The ideal network for data whose variables are drawn independently from `probs`: logits ln p + ln θ.
#[derive(Clone, Debug)]
pub struct CategoricalPosterior<F> {
    log_probs: Vec<F>,
}

impl<F: Real> CategoricalPosterior<F> {
    /// The posterior for data drawn from `probs` (at least two classes, non-negative, finite, not all 0).
    pub fn new(probs: &[F]) -> Result<Self> {
        if probs.len() < 2 {
            return Err(BfnError::TooFewClasses {
                what: "classes",
                got: probs.len() as u32,
            });
        }
        if let Some(&p) = probs.iter().find(|p| !(p.is_finite() && **p >= F::ZERO)) {
            return Err(BfnError::NotFinite {
                what: "class probability",
                value: p.to_f64(),
            });
        }
        let total: F = probs.iter().copied().sum();
        if total <= F::ZERO {
            return Err(BfnError::Empty("class distribution"));
        }
        Ok(Self {
            log_probs: probs.iter().map(|&p| (p / total).ln()).collect(),
        })
    }
}

impl<F: Real> Denoiser<F> for CategoricalPosterior<F> {
    fn output_params(&mut self, input: &InputParams<F>, _t: &[F], output: &mut [F]) -> Result<()> {
        check_len(
            "input parameters per variable",
            input.width(),
            self.log_probs.len(),
        )?;
        for (out, theta) in output
            .chunks_exact_mut(input.width())
            .zip(input.values().chunks_exact(input.width()))
        {
            for ((o, &log_p), &th) in out.iter_mut().zip(&self.log_probs).zip(theta) {
                // A class the prior rules out, or whose θ underflowed, gets a large negative logit rather than
                // −∞, which the sampler would reject as not finite.
                *o = (log_p + th.ln()).max(F::from_f64(-1e4));
            }
        }
        Ok(())
    }
}
