//! θ stays finite and normalised over the whole range of settings: β₁ up to 20, σ₁ down to 10⁻⁴, n from 1 to
//! 10,000, in f32 (the GPU's precision) and f64, with networks that are right, wrong, or confidently wrong.

use bevy_bfn::flow::gaussian_input::GaussianInput;
use bevy_bfn::flow::oracle::Oracle;
use bevy_bfn::flow::{
    Continuous, DataKind, Denoiser, Discrete, Discretised, InputParams, Real, Sampler, Shape,
};

mod common;

use common::{fickle, wild};

const STEPS: [u32; 5] = [1, 10, 100, 1000, 10_000];

fn check_discrete<F: Real>(beta_1: f64, steps: u32, denoiser: &mut impl Denoiser<F>) {
    let kind = Discrete::new(beta_1, 8).unwrap();
    let shape = Shape::new(1, 16).unwrap();
    let tolerance = F::from_f64(64.0) * F::EPSILON;
    Sampler::new(kind, steps, 3)
        .unwrap()
        .sample_observed(denoiser, shape, |step, theta: &InputParams<F>| {
            for th in theta.values().chunks_exact(8) {
                let sum: F = th.iter().copied().sum();
                assert!(
                    th.iter()
                        .all(|&p| p.is_finite() && p >= F::ZERO && p <= F::ONE)
                        && (sum - F::ONE).abs() <= tolerance,
                    "β₁={beta_1} n={steps} step {step}: θ {th:?} sums to {sum}"
                );
            }
        })
        .unwrap();
}

fn check_gaussian<K>(kind: K, steps: u32, denoiser: &mut dyn Denoiser<f32>)
where
    K: DataKind<f32, Flow = GaussianInput>,
{
    let shape = Shape::new(1, 16).unwrap();
    let sample = Sampler::new(kind, steps, 1)
        .unwrap()
        .sample_observed(denoiser, shape, |step, theta| {
            assert!(
                theta.values().iter().all(|mu| mu.is_finite()),
                "{kind:?} n={steps} step {step}: μ {:?}",
                theta.values()
            );
        })
        .unwrap();
    assert!(
        sample.iter().all(|x| x.abs() <= 1.0),
        "{kind:?}: samples lie in [−1, 1]"
    );
}

#[test]
fn discrete_theta_stays_a_distribution() {
    let data: Vec<u32> = (0..16).map(|v| v % 8).collect();
    for beta_1 in [0.01, 1.0, 3.0, 20.0] {
        let kind = Discrete::new(beta_1, 8).unwrap();
        for steps in STEPS {
            check_discrete::<f32>(beta_1, steps, &mut Oracle { kind, data: &data });
            check_discrete::<f32>(beta_1, steps, &mut fickle::<f32>);
            check_discrete::<f64>(beta_1, steps, &mut fickle::<f64>);
        }
    }
}

#[test]
fn gaussian_mu_stays_finite() {
    let data: Vec<f32> = (0..16).map(|v| v as f32 / 8.0 - 1.0).collect();
    for sigma_1 in [0.5, 0.02, 1e-3, 1e-4] {
        let continuous = Continuous::new(sigma_1).unwrap();
        let discretised = Discretised::new(sigma_1, 16).unwrap();
        for steps in STEPS {
            check_gaussian(
                continuous,
                steps,
                &mut Oracle {
                    kind: continuous,
                    data: &data,
                },
            );
            check_gaussian(continuous, steps, &mut wild::<f32>);
            check_gaussian(
                discretised,
                steps,
                &mut Oracle {
                    kind: discretised,
                    data: &data,
                },
            );
            check_gaussian(discretised, steps, &mut wild::<f32>);
        }
    }
}
