//! Which sampler a [`Sampler`](crate::flow::Sampler) runs: the paper's, a few-step solver of the Bayesian flow's
//! ODE or SDE, or a flow redraw. The choice travels in a model file's configuration as `sampler`, so its names
//! and fields are part of the file format.
//!
//! What n ("steps") counts differs, and is chosen so that each method's n is what its source calls it:
//!
//! | method     | grid of times                | updates | network calls | sample                        |
//! |------------|------------------------------|---------|---------------|-------------------------------|
//! | `standard` | t_i = i/n from 0             | n       | n + 1         | mode of p_O at t = 1          |
//! | `redraw`   | t_i = i/n from 0             | n       | n + 1         | mode of p_O at t = 1          |
//! | `ode1`, `ode2`, `sde2` | t_i = η + (1 − η)·i/n | n − 1 | n           | mode of p_O at t_{n−1} ("last drop") |
//!
//! The solvers' n is BFN-Solver's number of function evaluations: the last call's output is the sample, with no
//! update after it, so n = 1 is valid (the mode of the prediction at t = η). The redraw sampler is a drop-in for
//! the standard one (ChemBFN's `ode_sample` runs on the same grid), so it keeps the standard n.

use serde::{Deserialize, Serialize};

use crate::error::{BfnError, Result};
use crate::flow::gaussian_input::T_MIN;

/// BFN-Solver's start time: its text8 default, inside the 10⁻⁵…10⁻³ the paper recommends.
pub const DEFAULT_ETA: f64 = 1e-5;

/// A sampler. Serialised with serde's default (external) tagging: `"standard"`, `{"ode2": {"eta": 1e-5}}`,
/// `{"redraw": {"temperature": 0.5, "fixed_noise": true}}`; omitted fields take their defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SamplingMethod {
    /// The paper's sampler (Algorithms 3, 6, 9): draw from p_O, send it, update θ with Bayes' rule.
    #[default]
    Standard,
    /// First-order solver of the probability-flow ODE: BFN-Solver's ODE-Solver1 (discrete data) and
    /// Solver++1 (continuous and discretised data), deterministic after the first draw at t = η.
    Ode1 {
        /// The start time η ∈ [10⁻⁶, 1).
        #[serde(default = "default_eta")]
        eta: f64,
    },
    /// Second-order multistep ODE solver: ODE-Solver2 (discrete) and Solver++2 (continuous, discretised).
    Ode2 {
        /// The start time η ∈ [10⁻⁶, 1).
        #[serde(default = "default_eta")]
        eta: f64,
    },
    /// Second-order multistep SDE solver: SDE-Solver2 (discrete) and SDE-Solver++2 (continuous, discretised).
    Sde2 {
        /// The start time η ∈ [10⁻⁶, 1).
        #[serde(default = "default_eta")]
        eta: f64,
    },
    /// Each step draws θ afresh from the Bayesian flow at the next time, centred on the network's prediction
    /// (MolCRAFT's `end_back_pmf`, ChemBFN's `ode_sample`, ProtBFN's fixed noise). One Gaussian around x̂ is
    /// narrower than p_F's mixture over the data, so the samples lean towards the likely values even with the
    /// ideal network: a trade of diversity for confidence, which τ < 1 strengthens.
    Redraw {
        /// τ > 0 scales the variance of the redraw; 1 is the flow's own, ChemBFN uses 0.5.
        #[serde(default = "one")]
        temperature: f64,
        /// Keep one ε per variable for the whole run, so that the seed alone fixes the path (ProtBFN).
        #[serde(default)]
        fixed_noise: bool,
    },
}

fn default_eta() -> f64 {
    DEFAULT_ETA
}

fn one() -> f64 {
    1.0
}

impl SamplingMethod {
    /// Fails with [`BfnError::EtaOutOfRange`] unless η ∈ [10⁻⁶, 1): below t_min the Gaussian kinds' network is
    /// not trusted (x̂ = 0), and at 1 there is no time left. Fails with [`BfnError::TemperatureOutOfRange`]
    /// unless τ is positive and finite.
    pub fn check(&self) -> Result<()> {
        match *self {
            Self::Standard => Ok(()),
            Self::Ode1 { eta } | Self::Ode2 { eta } | Self::Sde2 { eta } => {
                if (T_MIN..1.0).contains(&eta) {
                    Ok(())
                } else {
                    Err(BfnError::EtaOutOfRange(eta))
                }
            }
            Self::Redraw { temperature, .. } => {
                if temperature > 0.0 && temperature.is_finite() {
                    Ok(())
                } else {
                    Err(BfnError::TemperatureOutOfRange(temperature))
                }
            }
        }
    }

    /// η for the solvers, which start there instead of at 0.
    pub fn eta(&self) -> Option<f64> {
        match *self {
            Self::Ode1 { eta } | Self::Ode2 { eta } | Self::Sde2 { eta } => Some(eta),
            Self::Standard | Self::Redraw { .. } => None,
        }
    }

    /// How many times [`Sampling::step`](crate::flow::Sampling::step) updates θ in a run of n: n − 1 for the
    /// solvers, whose last network call is the sample, n otherwise.
    pub fn updates(&self, steps: u32) -> u32 {
        match self.eta() {
            Some(_) => steps - 1,
            None => steps,
        }
    }

    /// t_i, the time after update i of n (t_0 is the start): i/n, or η + (1 − η)·i/n for the solvers.
    pub fn time(&self, i: u32, steps: u32) -> f64 {
        let fraction = f64::from(i) / f64::from(steps);
        match self.eta() {
            Some(eta) => eta + (1.0 - eta) * fraction,
            None => fraction,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_model_files() {
        let cases = [
            (SamplingMethod::Standard, r#""standard""#),
            (
                SamplingMethod::Ode1 { eta: 1e-4 },
                r#"{"ode1":{"eta":0.0001}}"#,
            ),
            (
                SamplingMethod::Ode2 { eta: 1e-4 },
                r#"{"ode2":{"eta":0.0001}}"#,
            ),
            (
                SamplingMethod::Sde2 { eta: 1e-4 },
                r#"{"sde2":{"eta":0.0001}}"#,
            ),
            (
                SamplingMethod::Redraw {
                    temperature: 0.5,
                    fixed_noise: true,
                },
                r#"{"redraw":{"temperature":0.5,"fixed_noise":true}}"#,
            ),
        ];
        for (method, json) in cases {
            assert_eq!(serde_json::to_string(&method).unwrap(), json);
            assert_eq!(
                serde_json::from_str::<SamplingMethod>(json).unwrap(),
                method
            );
        }
        let defaults: SamplingMethod = serde_json::from_str(r#"{"redraw":{}}"#).unwrap();
        assert_eq!(
            defaults,
            SamplingMethod::Redraw {
                temperature: 1.0,
                fixed_noise: false
            }
        );
        let defaults: SamplingMethod = serde_json::from_str(r#"{"ode2":{}}"#).unwrap();
        assert_eq!(defaults, SamplingMethod::Ode2 { eta: DEFAULT_ETA });
        assert!(serde_json::from_str::<SamplingMethod>(r#""ode3""#).is_err());
    }

    #[test]
    fn the_solvers_grid_runs_from_eta_to_one() {
        let method = SamplingMethod::Ode2 { eta: 0.01 };
        assert_eq!(method.time(0, 4), 0.01);
        assert_eq!(method.time(4, 4), 1.0);
        assert_eq!(method.updates(4), 3);
        assert_eq!(SamplingMethod::Standard.time(3, 4), 0.75);
        assert_eq!(SamplingMethod::Standard.updates(4), 4);
    }
}
