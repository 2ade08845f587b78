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

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{BfnError, Result};
use crate::flow::gaussian_input::T_MIN;

/// BFN-Solver's start time: its text8 default, inside the 10⁻⁵…10⁻³ the paper recommends.
pub const DEFAULT_ETA: f64 = 1e-5;

/// A sampler. Written with serde's default (external) tagging: `"standard"`, `{"ode2": {"eta": 1e-5}}`,
/// `{"redraw": {"temperature": 0.5, "fixed_noise": true}}`. Read from that, or from its name alone (`"ode2"`,
/// `sampler = "ode2"` in a TOML config), the settings left out taking their defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "Written")]
pub enum SamplingMethod {
    /// The paper's sampler (Algorithms 3, 6, 9): draw from p_O, send it, update θ with Bayes' rule.
    #[default]
    Standard,
    /// First-order solver of the probability-flow ODE: BFN-Solver's ODE-Solver1 (discrete data) and
    /// Solver++1 (continuous and discretised data), deterministic after the first draw at t = η.
    Ode1 {
        /// The start time η ∈ [10⁻⁶, 1).
        eta: f64,
    },
    /// Second-order multistep ODE solver: ODE-Solver2 (discrete) and Solver++2 (continuous, discretised).
    Ode2 {
        /// The start time η ∈ [10⁻⁶, 1).
        eta: f64,
    },
    /// Second-order multistep SDE solver: SDE-Solver2 (discrete) and SDE-Solver++2 (continuous, discretised).
    Sde2 {
        /// The start time η ∈ [10⁻⁶, 1).
        eta: f64,
    },
    /// Each step draws θ afresh from the Bayesian flow at the next time, centred on the network's prediction
    /// (MolCRAFT's `end_back_pmf`, ChemBFN's `ode_sample`, ProtBFN's fixed noise). One Gaussian around x̂ is
    /// narrower than p_F's mixture over the data, so the samples lean towards the likely values even with the
    /// ideal network: a trade of diversity for confidence, which τ < 1 strengthens.
    Redraw {
        /// τ > 0 scales the variance of the redraw; 1 is the flow's own, ChemBFN uses 0.5.
        temperature: f64,
        /// Keep one ε per variable for the whole run, so that the seed alone fixes the path (ProtBFN).
        fixed_noise: bool,
    },
}

/// How a sampler may be written: its name, or its name with some of its settings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Name(String),
    Table(BTreeMap<String, Settings>),
}

/// A sampler's settings as written; those left out take their defaults.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    eta: Option<f64>,
    temperature: Option<f64>,
    fixed_noise: Option<bool>,
}

impl TryFrom<Written> for SamplingMethod {
    type Error = BfnError;

    fn try_from(written: Written) -> Result<Self> {
        let (name, settings) = match written {
            Written::Name(name) => (name, Settings::default()),
            Written::Table(table) if table.len() == 1 => {
                table.into_iter().next().unwrap_or_default()
            }
            Written::Table(_) => {
                return Err(BfnError::Config(
                    "a sampler is one name, alone or with its settings".into(),
                ));
            }
        };
        let mut method: Self = name.parse()?;
        let misplaced =
            |setting: &str| BfnError::Config(format!("sampler {name} has no setting {setting}"));
        match &mut method {
            Self::Ode1 { eta } | Self::Ode2 { eta } | Self::Sde2 { eta } => {
                *eta = settings.eta.unwrap_or(*eta);
            }
            Self::Redraw {
                temperature,
                fixed_noise,
            } => {
                *temperature = settings.temperature.unwrap_or(*temperature);
                *fixed_noise = settings.fixed_noise.unwrap_or(*fixed_noise);
            }
            Self::Standard => {}
        }
        let has_eta = method.eta().is_some();
        let is_redraw = matches!(method, Self::Redraw { .. });
        if settings.eta.is_some() && !has_eta {
            return Err(misplaced("eta"));
        }
        if (settings.temperature.is_some() || settings.fixed_noise.is_some()) && !is_redraw {
            return Err(misplaced("temperature or fixed_noise"));
        }
        method.check()?;
        Ok(method)
    }
}

impl FromStr for SamplingMethod {
    type Err = BfnError;

    /// A sampler by its name, with its default settings (η = 10⁻⁵; τ = 1, fresh noise each step).
    fn from_str(name: &str) -> Result<Self> {
        Ok(match name {
            "standard" => Self::Standard,
            "ode1" => Self::Ode1 { eta: DEFAULT_ETA },
            "ode2" => Self::Ode2 { eta: DEFAULT_ETA },
            "sde2" => Self::Sde2 { eta: DEFAULT_ETA },
            "redraw" => Self::Redraw {
                temperature: 1.0,
                fixed_noise: false,
            },
            other => {
                return Err(BfnError::Config(format!(
                    "unknown sampler {other:?}: one of {}",
                    SamplingMethod::NAMES.join(", ")
                )));
            }
        })
    }
}

impl fmt::Display for SamplingMethod {
    /// The name, and the settings that differ from the defaults: `ode2`, `redraw τ = 0.5, fixed noise`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match *self {
            Self::Ode1 { eta } | Self::Ode2 { eta } | Self::Sde2 { eta } if eta != DEFAULT_ETA => {
                write!(f, " η = {eta:e}")
            }
            Self::Redraw {
                temperature,
                fixed_noise,
            } => {
                let mut settings = Vec::new();
                if temperature != 1.0 {
                    settings.push(format!("τ = {temperature}"));
                }
                if fixed_noise {
                    settings.push("fixed noise".to_owned());
                }
                if settings.is_empty() {
                    Ok(())
                } else {
                    write!(f, " {}", settings.join(", "))
                }
            }
            _ => Ok(()),
        }
    }
}

impl SamplingMethod {
    /// Every sampler's name, as the model file, the configs and `--sampler` write it.
    pub const NAMES: [&'static str; 5] = ["standard", "ode1", "ode2", "sde2", "redraw"];

    /// The name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Ode1 { .. } => "ode1",
            Self::Ode2 { .. } => "ode2",
            Self::Sde2 { .. } => "sde2",
            Self::Redraw { .. } => "redraw",
        }
    }

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
        // Names alone, and settings that are not the method's, out of range or unknown.
        for name in SamplingMethod::NAMES {
            let method: SamplingMethod = serde_json::from_str(&format!("{name:?}")).unwrap();
            assert_eq!(method, name.parse().unwrap());
            assert_eq!(method.to_string(), name);
        }
        for bad in [
            r#"{"standard":{"eta":0.001}}"#,
            r#"{"ode1":{"temperature":0.5}}"#,
            r#"{"ode1":{"eta":2.0}}"#,
            r#"{"redraw":{"temperature":0.0}}"#,
            r#"{"redraw":{"tau":0.5}}"#,
            r#"{"ode1":{},"ode2":{}}"#,
        ] {
            assert!(
                serde_json::from_str::<SamplingMethod>(bad).is_err(),
                "{bad}"
            );
        }
        let redraw: SamplingMethod =
            serde_json::from_str(r#"{"redraw":{"temperature":0.5,"fixed_noise":true}}"#).unwrap();
        assert_eq!(redraw.to_string(), "redraw τ = 0.5, fixed noise");
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
