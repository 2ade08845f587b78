//! The few-step samplers' maths: the Bayesian flow written as one Gaussian, u = a(t)·x + s(t)·ε, and the update
//! u′ = keep·u + pull·x̂ + slope·(x̂ − x̂₋) + noise·ε that each of them takes from t to t′ on it.
//!
//! The coordinates u are μ itself for the Gaussian input (a = γ, s = √(γ(1 − γ))), and the logits z of θ for the
//! categorical input (a = β(t)K, s = √(β(t)K), x the one-hot e_x). p_F's logits have mean β(K·e_x − 1); the
//! −β is the same for every class, softmax ignores it, and so z is kept without it: ln θ up to a per-variable
//! constant. The network's x̂ is the mean of p_O in those coordinates ([`DataKind::output_mean`]): p̂ for
//! discrete data, x̂ clipped to [−1, 1] for continuous data, and for discretised data the mean of the discretised
//! output distribution, which is in [−1, 1] by construction and is what the continuous-time loss trains.
//!
//! With λ = ln a − ln s (½ ln β(t)K, or ½ ln(γ/(1 − γ)) = ½ ln β(t)) and h = λ(t′) − λ(t):
//! - first-order ODE step (ODE-Solver1, Solver++1): u′ = (s′/s)·u + a′(1 − e^{−h})·x̂. For the logits this is
//!   BFN-Solver's z′ = (t′/t)·z + β₁t′(t′ − t)(K p̂ − 1); the noise-prediction form of BFN-Solver's continuous
//!   ODE-Solver1 is the same map once ε̂ is recomputed from the clipped x̂.
//! - first-order SDE step (SDE-Solver1): u′ = (s′/s)e^{−h}·u + a′(1 − e^{−2h})·x̂ + s′√(1 − e^{−2h})·ε; for the
//!   logits z′ = z + Δβ(K p̂ − 1) + √(KΔβ)·ε.
//! - second order, multistep, with x̂₋ the prediction at the previous time t₋ (the first step is first order):
//!   - logits, p̂ linear in t (BFN-Solver `bfnsolver_t.py`): ODE-Solver2 adds ½Kβ₁t′(t′ − t)²·(p̂ − p̂₋)/(t − t₋),
//!     SDE-Solver2 adds ⅓Kβ₁(t′ − t)²(t + 2t′)·(p̂ − p̂₋)/(t − t₋), the exact integral of the drift 2β₁sK·p̂(s);
//!   - μ, x̂ linear in λ (DPM-Solver++(2M), BFN-Solver `bfnsolver_i.py`), r = h₋/h: Solver++2 adds
//!     a′(1 − e^{−h})/(2r)·(x̂ − x̂₋), SDE-Solver++2 adds ½a′(1 − e^{−2h})/r·(x̂ − x̂₋).
//! - redraw: u′ = a′·x̂ + √τ·s′·ε, a draw from the flow at t′ with x̂ in place of x and τ scaling its variance
//!   (ChemBFN's `ode_sample` for the logits; the same rule for μ).
//!
//! All coefficients are computed once per step in `f64`, whatever the precision of θ, so that a GPU twin can take
//! them from a table as it takes the standard sampler's accuracies.

use crate::flow::normal::softmax_in_place;
use crate::flow::{CounterRng, Real, SamplingMethod, Stream, VariableNoise};

/// An input side's Bayesian flow as u = a(t)·x + s(t)·ε.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FlowSpace {
    /// μ = γ(t)x + √(γ(1 − γ))·ε with γ(t) = 1 − σ₁^{2t}.
    Gaussian {
        /// σ₁.
        sigma_1: f64,
    },
    /// z = β(t)K·e_x + √(β(t)K)·ε with β(t) = β₁t², θ = softmax(z).
    Logits {
        /// β₁.
        beta_1: f64,
        /// K.
        classes: u32,
    },
}

/// a(t), s(t) and λ(t) = ln a − ln s.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scales {
    a: f64,
    s: f64,
    lambda: f64,
}

/// One step's coefficients: u′ = keep·u + pull·x̂ + slope·(x̂ − x̂₋) + noise·ε.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowUpdate {
    /// The factor on the state.
    pub keep: f64,
    /// The factor on the prediction at t.
    pub pull: f64,
    /// The factor on the change of prediction since t₋ (second-order solvers).
    pub slope: f64,
    /// The standard deviation of the fresh noise.
    pub noise: f64,
}

impl FlowSpace {
    fn scales(&self, t: f64) -> Scales {
        match *self {
            Self::Gaussian { sigma_1 } => {
                let gamma = -(2.0 * t * sigma_1.ln()).exp_m1();
                let one_minus_gamma = sigma_1.powf(2.0 * t);
                Scales {
                    a: gamma,
                    s: (gamma * one_minus_gamma).sqrt(),
                    lambda: 0.5 * (gamma.ln() - one_minus_gamma.ln()),
                }
            }
            Self::Logits { beta_1, classes } => {
                let a = beta_1 * t * t * f64::from(classes);
                Scales {
                    a,
                    s: a.sqrt(),
                    lambda: 0.5 * a.ln(),
                }
            }
        }
    }

    /// The standard deviation of the solvers' start, u ~ N(0, s(η)²): BFN-Solver's `zero_mean_and_std`, which
    /// drops p_F's mean a(η)·x, negligible at small η.
    pub fn start_std(&self, eta: f64) -> f64 {
        self.scales(eta).s
    }

    /// Components of u per variable: 1 (μ), or K (the logits).
    pub fn width(&self) -> usize {
        match *self {
            Self::Gaussian { .. } => 1,
            Self::Logits { classes, .. } => classes as usize,
        }
    }

    /// The solvers' start at η for every variable: u ~ N(0, s(η)²) from step 0's [`Stream::Flow`] noise into
    /// `state`, and θ from it into `input`. One function for the CPU sampler and the GPU job, which uploads it,
    /// so that both start from the same numbers.
    pub fn start<F: Real>(&self, eta: f64, rng: CounterRng, state: &mut [F], input: &mut [F]) {
        let width = self.width();
        let std = F::from_f64(self.start_std(eta));
        for (v, (state, input)) in state
            .chunks_exact_mut(width)
            .zip(input.chunks_exact_mut(width))
            .enumerate()
        {
            let noise = VariableNoise {
                rng,
                step: 0,
                variable: v as u32,
            };
            for (k, u) in state.iter_mut().enumerate() {
                *u = std * noise.gaussian(Stream::Flow, k as u32, width as u32);
            }
            self.input_from_state(state, input);
        }
    }

    /// θ from the state u: μ itself, or softmax(z).
    pub fn input_from_state<F: Real>(&self, state: &[F], input: &mut [F]) {
        input.copy_from_slice(state);
        if let Self::Logits { .. } = self {
            softmax_in_place(input);
        }
    }

    /// The coefficients of `method`'s update from t to t′, with t₋ the time of the previous network call (if
    /// any); `None` for the standard sampler, which sends messages instead.
    pub fn update(
        &self,
        method: SamplingMethod,
        previous: Option<f64>,
        t: f64,
        next: f64,
    ) -> Option<FlowUpdate> {
        let (now, then) = (self.scales(t), self.scales(next));
        let h = then.lambda - now.lambda;
        let second_order = |sde| {
            previous.map_or(0.0, |t_prev| {
                self.slope(sde, t_prev, t, next, self.scales(t_prev).lambda)
            })
        };
        Some(match method {
            SamplingMethod::Standard => return None,
            SamplingMethod::Ode1 { .. } | SamplingMethod::Ode2 { .. } => FlowUpdate {
                keep: then.s / now.s,
                pull: then.a * -(-h).exp_m1(),
                slope: match method {
                    SamplingMethod::Ode2 { .. } => second_order(false),
                    _ => 0.0,
                },
                noise: 0.0,
            },
            SamplingMethod::Sde2 { .. } => FlowUpdate {
                keep: then.s / now.s * (-h).exp(),
                pull: then.a * -(-2.0 * h).exp_m1(),
                slope: second_order(true),
                noise: then.s * (-(-2.0 * h).exp_m1()).sqrt(),
            },
            SamplingMethod::Redraw { temperature, .. } => FlowUpdate {
                keep: 0.0,
                pull: then.a,
                slope: 0.0,
                noise: then.s * temperature.sqrt(),
            },
        })
    }

    /// The second-order factor on x̂ − x̂₋ of the ODE or (`sde`) SDE solver, t₋ < t < t′.
    fn slope(&self, sde: bool, t_prev: f64, t: f64, next: f64, lambda_prev: f64) -> f64 {
        match *self {
            Self::Logits { beta_1, classes } => {
                let scale = f64::from(classes) * beta_1 * (next - t).powi(2) / (t - t_prev);
                if sde {
                    scale * (t + 2.0 * next) / 3.0
                } else {
                    scale * next / 2.0
                }
            }
            Self::Gaussian { .. } => {
                let (now, then) = (self.scales(t), self.scales(next));
                let h = then.lambda - now.lambda;
                let r = (now.lambda - lambda_prev) / h;
                if sde {
                    0.5 * then.a * -(-2.0 * h).exp_m1() / r
                } else {
                    then.a * -(-h).exp_m1() / (2.0 * r)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BFN-Solver's logit updates, written as its source writes them, in reverse time τ = 1 − t.
    #[test]
    fn logit_updates_are_bfn_solvers() {
        let (beta_1, k) = (3.0, 5u32);
        let space = FlowSpace::Logits { beta_1, classes: k };
        let kf = f64::from(k);
        let (t_prev, t, next) = (0.2, 0.35, 0.6);
        let (tau_r, tau_s, tau_t) = (1.0 - t_prev, 1.0 - t, 1.0 - next);
        let close =
            |a: f64, b: f64| assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");

        let ode2 = space
            .update(SamplingMethod::Ode2 { eta: 0.1 }, Some(t_prev), t, next)
            .unwrap();
        let c_t = kf * beta_1 * (1.0 - tau_t);
        close(ode2.keep, (1.0 - tau_t) / (1.0 - tau_s));
        // c_t(τ_t − τ_s)(1/K − p̂) = −(c_t(τ_t − τ_s))·p̂ + const.
        close(ode2.pull, -c_t * (tau_t - tau_s));
        // −c_t(τ_t − τ_s)²/2 · (p̂ − p̂₋)/(τ_s − τ_r).
        close(
            ode2.slope,
            -c_t * (tau_t - tau_s).powi(2) / 2.0 / (tau_s - tau_r),
        );
        assert_eq!(ode2.noise, 0.0);

        let sde2 = space
            .update(SamplingMethod::Sde2 { eta: 0.1 }, Some(t_prev), t, next)
            .unwrap();
        let (beta_s, beta_t) = (beta_1 * t * t, beta_1 * next * next);
        close(sde2.keep, 1.0);
        close(sde2.pull, kf * (beta_t - beta_s));
        // ⅓Kβ₁(τ_t − τ_s)²(τ_s + 2τ_t − 3)·(p̂₋ − p̂)/(τ_r − τ_s).
        close(
            sde2.slope,
            -kf * beta_1 * (tau_t - tau_s).powi(2) * (tau_s + 2.0 * tau_t - 3.0)
                / 3.0
                / (tau_r - tau_s),
        );
        close(sde2.noise, (kf * (beta_t - beta_s)).sqrt());

        let first = space
            .update(SamplingMethod::Sde2 { eta: 0.1 }, None, t, next)
            .unwrap();
        assert_eq!(first.slope, 0.0, "the first step is first order");
    }

    /// Solver++ in μ, from α, σ, λ as BFN-Solver's `bfnsolver_i.py` tabulates them.
    #[test]
    fn gaussian_updates_are_solver_plus_plus() {
        let sigma_1: f64 = 0.02;
        let space = FlowSpace::Gaussian { sigma_1 };
        let table = |t: f64| {
            let alpha = 1.0 - sigma_1.powf(2.0 * t);
            let sigma = (alpha * (1.0 - alpha)).sqrt();
            (alpha, sigma, alpha.ln() - sigma.ln())
        };
        let (t_prev, t, next) = (0.1, 0.4, 0.7);
        let ((_, _, l_r), (_, s_s, l_s), (a_t, s_t, l_t)) = (table(t_prev), table(t), table(next));
        let h = l_t - l_s;
        let r = (l_s - l_r) / h;
        let close =
            |a: f64, b: f64| assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} vs {b}");

        let ode2 = space
            .update(SamplingMethod::Ode2 { eta: 0.1 }, Some(t_prev), t, next)
            .unwrap();
        close(ode2.keep, s_t / s_s);
        close(ode2.pull, -a_t * ((-h).exp() - 1.0));
        close(ode2.slope, -a_t * ((-h).exp() - 1.0) / (2.0 * r));

        let sde2 = space
            .update(SamplingMethod::Sde2 { eta: 0.1 }, Some(t_prev), t, next)
            .unwrap();
        close(sde2.keep, s_t / s_s * (-h).exp());
        close(sde2.pull, a_t * (1.0 - (-2.0 * h).exp()));
        close(sde2.slope, 0.5 * a_t * (1.0 - (-2.0 * h).exp()) / r);
        close(sde2.noise, s_t * (1.0 - (-2.0 * h).exp()).sqrt());

        let redraw = space
            .update(
                SamplingMethod::Redraw {
                    temperature: 0.25,
                    fixed_noise: false,
                },
                None,
                t,
                next,
            )
            .unwrap();
        assert_eq!((redraw.keep, redraw.slope), (0.0, 0.0));
        close(redraw.pull, a_t);
        close(redraw.noise, 0.5 * s_t);
        assert!(
            space
                .update(SamplingMethod::Standard, None, t, next)
                .is_none()
        );
    }
}
