//! Properties of the few-step samplers (`SamplingMethod`) that a wrong implementation would fail.

mod common;

use bevy_bfn::flow::discretised_normal::{bin_centre, bin_of};
use bevy_bfn::flow::oracle::{CategoricalPosterior, Oracle};
use bevy_bfn::flow::{
    Continuous, DataKind, Denoiser, Discrete, Discretised, InputParams, Real, Sampler,
    SamplingMethod, Shape,
};
use bevy_bfn::{BfnError, Result};
use common::{ETA, assert_matches_distribution, fickle, methods, values, wild};

fn sampler<K>(kind: K, method: SamplingMethod, steps: u32, seed: u64) -> Sampler<K> {
    Sampler::new(kind, steps, seed)
        .unwrap()
        .with_method(method)
        .unwrap()
}

/// A network whose logits are `logits` for every variable, whatever θ and t.
fn constant<const K: usize>(
    logits: [f64; K],
) -> impl FnMut(&InputParams<f64>, &[f64], &mut [f64]) -> Result<()> {
    move |_, _, out| {
        for o in out.chunks_exact_mut(K) {
            o.copy_from_slice(&logits);
        }
        Ok(())
    }
}

/// Every θ of a run and its sample.
fn trajectory<F: Real, K: DataKind<F>>(
    sampler: Sampler<K>,
    denoiser: &mut impl Denoiser<F>,
    shape: Shape,
) -> (Vec<bevy_bfn::flow::Datum<F, K>>, Vec<InputParams<F>>) {
    let mut flow = Vec::new();
    let sample = sampler
        .sample_observed(denoiser, shape, |_, theta| flow.push(theta.clone()))
        .unwrap();
    (sample, flow)
}

#[test]
fn one_seed_gives_one_sample_per_sampler() {
    let p = [0.4f32, 0.3, 0.2, 0.1];
    let kind = Discrete::new(3.0, 4).unwrap();
    let shape = Shape::new(2, 64).unwrap();
    let mut trajectories = Vec::new();
    for method in methods() {
        let run = |seed| {
            trajectory(
                sampler(kind, method, 12, seed),
                &mut CategoricalPosterior::new(&p).unwrap(),
                shape,
            )
        };
        let (a, flow_a) = run(42);
        let (b, flow_b) = run(42);
        let (_, flow_c) = run(43);
        assert_eq!(a, b, "{method:?}");
        assert_eq!(flow_a, flow_b, "{method:?}: every θ repeats, bit for bit");
        assert_ne!(flow_a, flow_c, "{method:?}: another seed, another path");
        trajectories.push(flow_a);
    }
    for (i, a) in trajectories.iter().enumerate() {
        for b in &trajectories[i + 1..] {
            assert_ne!(a, b, "each method takes its own path");
        }
    }

    // Continuous data, where the noise enters μ directly.
    let kind = Continuous::new(0.01).unwrap();
    let wobbly = |input: &InputParams<f64>, t: &[f64], out: &mut [f64]| -> Result<()> {
        for (o, mu) in out.iter_mut().zip(input.values()) {
            *o = (mu * 3.0 + t[0]).sin();
        }
        Ok(())
    };
    for method in methods() {
        let run = |seed| trajectory(sampler(kind, method, 8, seed), &mut { wobbly }, shape);
        assert_eq!(run(5), run(5), "{method:?}");
    }
}

#[test]
fn the_standard_method_is_the_standard_sampler_bit_for_bit() {
    let p = [0.4f32, 0.3, 0.2, 0.1];
    let kind = Discrete::new(3.0, 4).unwrap();
    let shape = Shape::new(2, 64).unwrap();
    let plain = Sampler::new(kind, 20, 9).unwrap();
    let chosen = plain.with_method(SamplingMethod::Standard).unwrap();
    assert_eq!(plain, chosen);
    assert_eq!(
        trajectory(plain, &mut CategoricalPosterior::new(&p).unwrap(), shape),
        trajectory(chosen, &mut CategoricalPosterior::new(&p).unwrap(), shape)
    );
}

/// The oracle's output distribution is centred on x at every time the solvers ask (t ≥ η ≥ t_min), so each
/// sampler must end on x, whatever n, including a single network call.
#[test]
fn every_sampler_ends_on_the_data_with_the_oracle() {
    let shape = Shape::new(3, 50).unwrap();
    for method in methods() {
        for steps in [1, 2, 3, 10, 100] {
            let kind = Continuous::new(0.001).unwrap();
            let data = values(shape.len());
            let sample = sampler(kind, method, steps, 1)
                .sample::<f64, _>(&mut Oracle { kind, data: &data }, shape)
                .unwrap();
            for (s, x) in sample.iter().zip(&data) {
                // x̂ = μ/γ − √((1 − γ)/γ)·ε̂ undoes the oracle's ε̂ up to rounding.
                assert!((s - x).abs() < 1e-9, "{method:?} n={steps}: {s} vs {x}");
            }

            let bins = 16;
            let kind = Discretised::new(0.02, bins).unwrap();
            let data: Vec<f64> = values(shape.len())
                .iter()
                .map(|&x| bin_centre(bin_of(x, bins), bins))
                .collect();
            let sample = sampler(kind, method, steps, 2)
                .sample::<f64, _>(&mut Oracle { kind, data: &data }, shape)
                .unwrap();
            assert_eq!(sample, data, "{method:?} n={steps}");

            let kind = Discrete::new(2.0, 27).unwrap();
            let data: Vec<u32> = (0..shape.len() as u32).map(|v| v * 7 % 27).collect();
            let sample = sampler(kind, method, steps, 3)
                .sample::<f32, _>(&mut Oracle { kind, data: &data }, shape)
                .unwrap();
            assert_eq!(sample, data, "{method:?} n={steps}");
        }
    }
}

/// The probability-flow ODE has the Bayesian flow's marginals, so the solvers, drawing their start at random,
/// sample the data distribution with the ideal network as the standard sampler does; at 40 network calls the
/// error is below what 20,000 draws can see.
#[test]
fn the_solvers_sample_the_data_distribution_with_the_ideal_network() {
    let p = [0.5f64, 0.05, 0.3, 0.15];
    let kind = Discrete::new(20.0, 4).unwrap();
    let shape = Shape::new(4, 5000).unwrap();
    for method in &methods()[1..4] {
        let mut posterior = CategoricalPosterior::new(&p.map(|p| p as f32)).unwrap();
        let sample = sampler(kind, *method, 40, 99)
            .sample::<f32, _>(&mut posterior, shape)
            .unwrap();
        let mut counts = vec![0u64; 4];
        for s in sample {
            counts[s as usize] += 1;
        }
        assert_matches_distribution(&format!("{method:?}"), &counts, &p);
    }
}

/// The redraw replaces p_F's mixture over classes by one Gaussian around p̂, narrower than the mixture, so even
/// the ideal network's samples lean towards the likely classes (here p = 0.5 comes out near 0.58): no χ² test
/// can pass. What it must do is draw from the flow at each t′: with a constant prediction p̂, the logit
/// differences (z_k − z_0) − β(t′)K(p̂_k − p̂_0) are √τ·√(β(t′)K)·(ε_k − ε_0), of variance 2τβ(t′)K; with fixed
/// noise, the same ε at every step.
#[test]
fn a_redraw_draws_from_the_flow_around_the_prediction() {
    let (beta_1, classes) = (4.0, 3u32);
    let kind = Discrete::new(beta_1, classes).unwrap();
    let logits = [0.5f64, -1.0, 1.5];
    let mut p = [0.0; 3];
    Discrete::output_probs(&logits, &mut p);
    let shape = Shape::new(1, 20_000).unwrap();
    let steps = 5;
    for (temperature, fixed_noise) in [(1.0, false), (0.3, false), (0.3, true)] {
        let method = SamplingMethod::Redraw {
            temperature,
            fixed_noise,
        };
        let (_, flow) = trajectory(
            sampler(kind, method, steps, 4),
            &mut constant(logits),
            shape,
        );
        // Standardised noise of class 1 against class 0, per step i ≥ 1 and variable.
        let noise: Vec<Vec<f64>> = (1..=steps as usize)
            .map(|i| {
                let t = i as f64 / f64::from(steps);
                let a = beta_1 * t * t * f64::from(classes);
                flow[i]
                    .values()
                    .chunks_exact(3)
                    .map(|th| {
                        ((th[1].ln() - th[0].ln()) - a * (p[1] - p[0])) / (temperature * a).sqrt()
                    })
                    .collect()
            })
            .collect();
        for d in &noise {
            let n = d.len() as f64;
            let mean = d.iter().sum::<f64>() / n;
            let var = d.iter().map(|d| d * d).sum::<f64>() / n;
            assert!(
                mean.abs() < 5.0 * (2.0 / n).sqrt(),
                "τ={temperature}: mean {mean}"
            );
            assert!(
                (var - 2.0).abs() < 5.0 * 2.0 * (2.0 / n).sqrt(),
                "τ={temperature}: var {var}"
            );
        }
        let same = noise[0]
            .iter()
            .zip(&noise[steps as usize - 1])
            .all(|(a, b)| (a - b).abs() < 1e-6);
        assert_eq!(same, fixed_noise, "τ={temperature}: fixed noise repeats ε");
    }
}

/// BFN-Solver's ODE-Solver1 by hand, for a network whose p̂ is constant: the class differences of
/// z = ln θ map as z′ = (t′/t)·z + β₁t′(t′ − t)(K p̂ − 1). The second-order term vanishes for a constant p̂, so
/// ODE-Solver2 must take the same path.
#[test]
fn ode1_maps_the_logits_as_bfn_solver_does() {
    let (beta_1, classes, eta, steps) = (5.0, 4u32, 0.05, 4);
    let kind = Discrete::new(beta_1, classes).unwrap();
    let logits = [0.2f64, -0.7, 1.1, 0.0];
    let mut p = [0.0; 4];
    Discrete::output_probs(&logits, &mut p);
    let shape = Shape::new(2, 8).unwrap();
    let (_, ode1) = trajectory(
        sampler(kind, SamplingMethod::Ode1 { eta }, steps, 6),
        &mut constant(logits),
        shape,
    );
    assert_eq!(ode1.len(), steps as usize, "n − 1 updates and the start");
    let k = f64::from(classes);
    let time = |i: usize| eta + (1.0 - eta) * i as f64 / f64::from(steps);
    for i in 1..ode1.len() {
        let (t, next) = (time(i - 1), time(i));
        for (before, after) in ode1[i - 1]
            .values()
            .chunks_exact(4)
            .zip(ode1[i].values().chunks_exact(4))
        {
            for c in 1..4 {
                let z = |th: &[f64], c: usize| th[c].ln() - th[0].ln();
                let by_hand = next / t * z(before, c)
                    + beta_1 * next * (next - t) * ((k * p[c] - 1.0) - (k * p[0] - 1.0));
                assert!(
                    (z(after, c) - by_hand).abs() < 1e-9 * by_hand.abs().max(1.0),
                    "step {i} class {c}: {} vs {by_hand}",
                    z(after, c)
                );
            }
        }
    }
    let (_, ode2) = trajectory(
        sampler(kind, SamplingMethod::Ode2 { eta }, steps, 6),
        &mut constant(logits),
        shape,
    );
    for (a, b) in ode1.iter().zip(&ode2) {
        for (a, b) in a.values().iter().zip(b.values()) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}

/// Solver++1 in μ is exact for a constant x̂ (the oracle's): the standardised noise (μ − γx)/√(γ(1 − γ)) of each
/// variable stays what it was drawn at t = η, step after step.
#[test]
fn solver_plus_plus_keeps_the_noise_of_mu_for_a_constant_prediction() {
    let sigma_1: f64 = 0.01;
    let kind = Continuous::new(sigma_1).unwrap();
    let shape = Shape::new(1, 32).unwrap();
    let data = values(shape.len());
    let (eta, steps) = (1e-3, 6);
    for method in [SamplingMethod::Ode1 { eta }, SamplingMethod::Ode2 { eta }] {
        let (_, flow) = trajectory(
            sampler(kind, method, steps, 8),
            &mut Oracle { kind, data: &data },
            shape,
        );
        let noise = |i: usize| -> Vec<f64> {
            let t = eta + (1.0 - eta) * i as f64 / f64::from(steps);
            let gamma = 1.0 - sigma_1.powf(2.0 * t);
            let std = (gamma * (1.0 - gamma)).sqrt();
            flow[i]
                .values()
                .iter()
                .zip(&data)
                .map(|(mu, x)| (mu - gamma * x) / std)
                .collect()
        };
        let start = noise(0);
        for i in 1..flow.len() {
            for (a, b) in noise(i).iter().zip(&start) {
                assert!(
                    (a - b).abs() < 1e-6 * b.abs().max(1.0),
                    "{method:?} step {i}: {a} vs {b}"
                );
            }
        }
    }
}

fn check_finite<F: Real, K: DataKind<F>>(
    kind: K,
    method: SamplingMethod,
    steps: u32,
    denoiser: &mut impl Denoiser<F>,
) {
    let shape = Shape::new(1, 16).unwrap();
    sampler(kind, method, steps, 3)
        .sample_observed(denoiser, shape, |step, theta: &InputParams<F>| {
            assert!(
                theta.values().iter().all(|v| v.is_finite()),
                "{kind:?} {method:?} n={steps} step {step}: θ {:?}",
                theta.values()
            );
        })
        .unwrap();
}

#[test]
fn theta_stays_finite_over_the_range_of_settings() {
    for method in &methods()[1..] {
        for steps in [1, 2, 10, 100, 1000] {
            for beta_1 in [0.1, 3.0, 20.0] {
                let kind = Discrete::new(beta_1, 8).unwrap();
                check_finite::<f32, _>(kind, *method, steps, &mut fickle);
                check_finite::<f64, _>(kind, *method, steps, &mut fickle);
                let p = [0.6f32, 0.0, 0.1, 0.3, 0.0, 0.0, 0.0, 0.0];
                check_finite(
                    kind,
                    *method,
                    steps,
                    &mut CategoricalPosterior::new(&p).unwrap(),
                );
            }
            for sigma_1 in [0.1, 1e-3, 1e-4] {
                check_finite::<f32, _>(
                    Continuous::new(sigma_1).unwrap(),
                    *method,
                    steps,
                    &mut wild,
                );
                check_finite::<f32, _>(
                    Discretised::new(sigma_1, 256).unwrap(),
                    *method,
                    steps,
                    &mut wild,
                );
            }
        }
    }
}

#[test]
fn bad_settings_are_typed_errors() {
    let kind = Discrete::new(1.0, 3).unwrap();
    let plain = Sampler::new(kind, 10, 0).unwrap();
    for eta in [0.0, 1e-7, 1.0, 2.0, -0.1, f64::NAN] {
        for method in [
            SamplingMethod::Ode1 { eta },
            SamplingMethod::Ode2 { eta },
            SamplingMethod::Sde2 { eta },
        ] {
            assert!(
                matches!(plain.with_method(method), Err(BfnError::EtaOutOfRange(_))),
                "{method:?}"
            );
        }
    }
    for temperature in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let method = SamplingMethod::Redraw {
            temperature,
            fixed_noise: false,
        };
        assert!(matches!(
            plain.with_method(method),
            Err(BfnError::TemperatureOutOfRange(_))
        ));
    }
    assert!(
        plain
            .with_method(SamplingMethod::Ode2 { eta: 1e-6 })
            .is_ok()
    );

    // A one-call solver has nothing to update: a step is an error, finishing is the sample.
    let data = [2u32, 0, 1];
    let mut oracle = Oracle { kind, data: &data };
    let mut run = sampler(kind, SamplingMethod::Sde2 { eta: ETA }, 1, 0)
        .start::<f32>(Shape::new(1, 3).unwrap());
    assert!(run.is_finished());
    assert!(matches!(
        run.step(&mut oracle),
        Err(BfnError::StepOutOfRange { i: 1, n: 0 })
    ));
    assert_eq!(run.finish(&mut oracle).unwrap(), data);
}
