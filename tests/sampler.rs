//! Properties of the n-step sampler that a wrong implementation would fail.

mod common;

use bevy_bfn::flow::discretised_normal::{DiscretisedNormal, bin_centre, bin_of};
use bevy_bfn::flow::oracle::{CategoricalPosterior, Oracle};
use bevy_bfn::flow::{
    Continuous, CounterRng, DataKind, Discrete, Discretised, InputParams, Sampler, Shape,
    VariableNoise,
};
use common::{assert_matches_distribution, assert_standard_normal, class_log_odds_z, values};

/// With a network that knows x, the sender's messages come from x, so after n steps θ must follow the Bayesian
/// flow distribution at t = 1 whatever n: for discrete data ln θ_x − ln θ_j ~ N(β₁K, 2β₁K) for any other class j.
/// For continuous and discretised data the first step is at t = 0, before t_min, where every network's
/// prediction is x̂ = 0 (the reference's clip; for discretised data N(0, 1) discretised), so that message comes
/// from a datum d₀ of mean 0 and variance v₀ instead of x: μ has mean x(ρ − 1 − α₁)/ρ and variance
/// (ρ − 1 + α₁²v₀)/ρ², with ρ = σ₁⁻² and α₁ = σ₁^(−2/n) − 1. A wrong Bayesian update or accuracy schedule moves
/// these moments (the samples themselves would still be x: the oracle decides them at t = 1 whatever θ is).
#[test]
fn an_oracle_run_ends_on_the_bayesian_flow_distribution_at_t_1() {
    let shape = Shape::new(4, 1000).unwrap();
    for steps in [1, 10, 200] {
        let sigma_1: f64 = 0.1;
        let rho = sigma_1.powi(-2);
        let alpha_1 = sigma_1.powf(-2.0 / f64::from(steps)) - 1.0;
        let standardised = |mu: &[f64], data: &[f64], v0: f64| -> Vec<f64> {
            let spread = (rho - 1.0 + alpha_1 * alpha_1 * v0).sqrt() / rho;
            mu.iter()
                .zip(data)
                .map(|(mu, x)| (mu - x * (rho - 1.0 - alpha_1) / rho) / spread)
                .collect()
        };

        let kind = Continuous::new(sigma_1).unwrap();
        let data = values(shape.len());
        let mut run = Sampler::new(kind, steps, 1).unwrap().start::<f64>(shape);
        run.finish(&mut Oracle { kind, data: &data }).unwrap();
        assert!((run.precision() - rho).abs() < 1e-9);
        let z = standardised(run.input_params().values(), &data, 0.0);
        assert_standard_normal(&z, &format!("continuous μ, n = {steps}"));

        let bins = 16;
        let kind = Discretised::new(sigma_1, bins).unwrap();
        let data: Vec<f64> = values(shape.len())
            .iter()
            .map(|&x| bin_centre(bin_of(x, bins), bins))
            .collect();
        let first = DiscretisedNormal {
            mean: 0.0,
            std: 1.0,
            bins,
        };
        let v0: f64 = (0..bins)
            .map(|k| first.prob(k) * bin_centre::<f64>(k, bins).powi(2))
            .sum();
        let mut run = Sampler::new(kind, steps, 2).unwrap().start::<f64>(shape);
        run.finish(&mut Oracle { kind, data: &data }).unwrap();
        let z = standardised(run.input_params().values(), &data, v0);
        assert_standard_normal(&z, &format!("discretised μ, n = {steps}"));

        let (beta_1, classes) = (1.0, 27);
        let kind = Discrete::new(beta_1, classes).unwrap();
        let data: Vec<u32> = (0..shape.len() as u32).map(|v| v * 7 % classes).collect();
        let mut run = Sampler::new(kind, steps, 3).unwrap().start::<f64>(shape);
        run.finish(&mut Oracle { kind, data: &data }).unwrap();
        let z = class_log_odds_z(run.input_params(), &data, classes, beta_1);
        assert_standard_normal(&z, &format!("discrete ln θ_x − ln θ_j, n = {steps}"));
    }
}

#[test]
fn the_oracle_flow_converges_on_the_data() {
    // θ itself, not only the final output, must end near x: μ within a few posterior standard deviations, and the
    // right class most probable.
    let shape = Shape::new(1, 64).unwrap();
    let kind = Continuous::new(0.01).unwrap();
    let data = values(shape.len());
    let mut run = Sampler::new(kind, 100, 5).unwrap().start::<f64>(shape);
    run.finish(&mut Oracle { kind, data: &data }).unwrap();
    let posterior_std = run.precision().sqrt().recip();
    assert!(
        (run.precision() - 1e4).abs() < 1e-6,
        "ρ = σ₁⁻² after all steps, got {}",
        run.precision()
    );
    for (mu, x) in run.input_params().values().iter().zip(&data) {
        assert!(
            (mu - x).abs() < 5.0 * posterior_std,
            "μ {mu} vs x {x} (σ {posterior_std})"
        );
    }

    let kind = Discrete::new(4.0, 8).unwrap();
    let data: Vec<u32> = (0..64).map(|v| v % 8).collect();
    let mut entropies = Vec::new();
    Sampler::new(kind, 50, 5)
        .unwrap()
        .sample_observed::<f64, _>(&mut Oracle { kind, data: &data }, shape, |step, theta| {
            let entropy: f64 = theta
                .values()
                .iter()
                .map(|&p| if p > 0.0 { -p * p.ln() } else { 0.0 })
                .sum();
            entropies.push((step, entropy / 64.0));
            if step == 50 {
                for (v, &x) in data.iter().enumerate() {
                    let th = theta.variable(v);
                    let best = (0..8).max_by(|&a, &b| th[a].total_cmp(&th[b])).unwrap();
                    assert_eq!(best, x as usize, "variable {v}: θ {th:?}");
                }
            }
        })
        .unwrap();
    assert_eq!(entropies.len(), 51, "the prior and every step are observed");
    assert!(
        (entropies[0].1 - 8f64.ln()).abs() < 1e-12,
        "the flow starts at the uniform prior"
    );
    assert!(
        entropies[50].1 < 0.1 * entropies[0].1,
        "entropy falls: {entropies:?}"
    );
}

#[test]
fn draws_from_a_fixed_output_distribution_follow_it() {
    let rng = CounterRng::new(11);
    let draws = 40_000u32;
    // Discrete: p_O = softmax(logits).
    let kind = Discrete::new(1.0, 5).unwrap();
    let logits = [0.3f64, -1.0, 2.0, 0.0, -3.0];
    let mut probs = [0.0; 5];
    Discrete::output_probs(&logits, &mut probs);
    let mut counts = vec![0u64; 5];
    for v in 0..draws {
        let noise = VariableNoise {
            rng,
            step: 1,
            variable: v,
        };
        counts[kind.draw_output(&[0.2; 5], &logits, 0.5, noise) as usize] += 1;
    }
    assert_matches_distribution("categorical draws", &counts, &probs);

    // Discretised: a Gaussian draw quantised to its bin has the discretised normal's bin probabilities, end bins
    // included.
    let kind = Discretised::new(0.02, 16).unwrap();
    let (mu, out, t) = (0.3f64, [0.8, 0.4], 0.4);
    let p: DiscretisedNormal<f64> = kind.output_distribution(mu, &out, t);
    assert!(
        p.prob(15) > 0.01,
        "the test must exercise the upper end bin: {}",
        p.prob(15)
    );
    let mut counts = vec![0u64; 16];
    for v in 0..draws {
        let noise = VariableNoise {
            rng,
            step: 1,
            variable: v,
        };
        counts[bin_of(kind.draw_output(&[mu], &out, t, noise), 16) as usize] += 1;
    }
    assert_matches_distribution("discretised draws", &counts, &p.probs().collect::<Vec<_>>());
}

#[test]
fn the_ideal_network_for_categorical_data_samples_that_distribution() {
    let p = [0.5f64, 0.05, 0.3, 0.15];
    let kind = Discrete::new(20.0, 4).unwrap();
    let shape = Shape::new(4, 5000).unwrap();
    let mut posterior = CategoricalPosterior::new(&p.map(|p| p as f32)).unwrap();
    let sample = Sampler::new(kind, 40, 99)
        .unwrap()
        .sample::<f32, _>(&mut posterior, shape)
        .unwrap();
    let mut counts = vec![0u64; 4];
    for s in sample {
        counts[s as usize] += 1;
    }
    assert_matches_distribution("final samples", &counts, &p);
}

#[test]
fn one_seed_gives_one_trajectory() {
    let p = [0.25f32, 0.25, 0.25, 0.25];
    let kind = Discrete::new(3.0, 4).unwrap();
    let shape = Shape::new(2, 64).unwrap();
    let run = |seed| {
        let mut flow = Vec::new();
        let sample = Sampler::new(kind, 25, seed)
            .unwrap()
            .sample_observed(
                &mut CategoricalPosterior::new(&p).unwrap(),
                shape,
                |_, theta: &InputParams<f32>| flow.push(theta.clone()),
            )
            .unwrap();
        (sample, flow)
    };
    let (a, flow_a) = run(42);
    let (b, flow_b) = run(42);
    let (c, _) = run(43);
    assert_eq!(a, b);
    assert_eq!(flow_a, flow_b, "every step's θ repeats, bit for bit");
    let differing = a.iter().zip(&c).filter(|(a, c)| a != c).count();
    assert!(
        differing > 64,
        "another seed gives another sample ({differing} of 128 differ)"
    );
}

#[test]
fn f32_and_f64_runs_follow_the_same_trajectory() {
    // The f32 path is what the GPU reproduces. Same seed, same draws: only rounding differs, which may flip a
    // categorical draw whose uniform lies within ~1e−7 of a boundary, so ≥ 99% of the samples must agree.
    let p = [0.1, 0.2, 0.3, 0.4, 0.0, 0.0, 0.0, 0.0];
    let kind = Discrete::new(3.0, 8).unwrap();
    let shape = Shape::new(8, 512).unwrap();
    let s64 = Sampler::new(kind, 50, 7)
        .unwrap()
        .sample::<f64, _>(&mut CategoricalPosterior::new(&p).unwrap(), shape)
        .unwrap();
    let p32: Vec<f32> = p.iter().map(|&p| p as f32).collect();
    let s32 = Sampler::new(kind, 50, 7)
        .unwrap()
        .sample::<f32, _>(&mut CategoricalPosterior::new(&p32).unwrap(), shape)
        .unwrap();
    let same = s64.iter().zip(&s32).filter(|(a, b)| a == b).count();
    assert!(
        same * 100 >= 99 * shape.len(),
        "{same} of {} agree",
        shape.len()
    );
    assert!(
        s64.iter().all(|&s| s < 4),
        "classes of probability 0 are never sampled"
    );

    // Continuous: the oracle's run agrees to f32 rounding amplified by the ill-conditioned early steps.
    let kind = Continuous::new(0.001).unwrap();
    let data = values(shape.len());
    let data32: Vec<f32> = data.iter().map(|&x| x as f32).collect();
    let mut run64 = Sampler::new(kind, 50, 7).unwrap().start::<f64>(shape);
    let mut run32 = Sampler::new(kind, 50, 7).unwrap().start::<f32>(shape);
    run64.finish(&mut Oracle { kind, data: &data }).unwrap();
    run32
        .finish(&mut Oracle {
            kind,
            data: &data32,
        })
        .unwrap();
    for (a, b) in run64
        .input_params()
        .values()
        .iter()
        .zip(run32.input_params().values())
    {
        assert!((a - f64::from(*b)).abs() < 1e-4, "μ: {a} vs {b}");
    }
    assert!((run64.precision() / f64::from(run32.precision()) - 1.0).abs() < 1e-5);
}

#[test]
fn sampling_stops_after_n_steps_and_reports_progress() {
    let kind = Discrete::new(1.0, 3).unwrap();
    let data = [0u32, 1, 2];
    let mut oracle = Oracle { kind, data: &data };
    let mut run = Sampler::new(kind, 3, 0)
        .unwrap()
        .start::<f32>(Shape::new(1, 3).unwrap());
    for expected in 1..=3 {
        run.step(&mut oracle).unwrap();
        assert_eq!(run.steps_done(), expected);
    }
    assert!(run.is_finished());
    assert!(
        run.step(&mut oracle).is_err(),
        "a fourth step of three is an error"
    );
    assert!(
        (run.precision() - 1.0).abs() < 1e-6,
        "β(1) = β₁ after all steps: {}",
        run.precision()
    );
    assert_eq!(run.finish(&mut oracle).unwrap(), data);
}
