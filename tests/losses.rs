//! Properties of the losses and the ELBO that tie the discrete-time, continuous-time and reconstruction terms
//! together.

use bevy_bfn::flow::elbo::{ElboSettings, LossTime, negative_elbo};
use bevy_bfn::flow::oracle::Oracle;
use bevy_bfn::flow::{
    Continuous, CounterRng, DataKind, Datum, Discrete, Discretised, Estimate, InputParams,
    MonteCarlo, Shape, Step,
};

/// E_t[Lⁿ(t)] over t ∈ {0, 1/n, …, (n−1)/n}, for one variable with the given network output at each t.
fn expected_discrete_time_loss<K: DataKind<f64>>(
    kind: &K,
    x: Datum<f64, K>,
    input: &[f64],
    output_at: impl Fn(f64) -> Vec<f64>,
    n: u32,
    draws: u32,
) -> Estimate<f64> {
    let rng = CounterRng::new(u64::from(n));
    let per_step: Vec<Estimate<f64>> = Step::all(n)
        .unwrap()
        .map(|step| {
            let t = step.t();
            let mc = MonteCarlo {
                draws,
                rng,
                variable: step.i(),
            };
            kind.discrete_time_loss(x, input, &output_at(t), t, n, mc)
        })
        .collect();
    Estimate::mean_of(&per_step)
}

/// ∫₀¹ L∞(t) dt by the midpoint rule on 20,000 points.
fn integrated_cts_time_loss<K: DataKind<f64>>(
    kind: &K,
    x: Datum<f64, K>,
    input: &[f64],
    output_at: impl Fn(f64) -> Vec<f64>,
) -> f64 {
    let points = 20_000;
    (0..points)
        .map(|j| {
            let t = (j as f64 + 0.5) / points as f64;
            kind.cts_time_loss(x, input, &output_at(t), t)
        })
        .sum::<f64>()
        / points as f64
}

fn assert_converges(what: &str, cts: f64, discrete: &[(u32, Estimate<f64>)]) {
    let gaps: Vec<(u32, f64, f64)> = discrete
        .iter()
        .map(|&(n, e)| (n, (e.mean - cts).abs() / cts, e.stderr / cts))
        .collect();
    for pair in gaps.windows(2) {
        let ((n0, g0, s0), (n1, g1, s1)) = (pair[0], pair[1]);
        assert!(
            g1 <= g0 + 3.0 * (s0 + s1),
            "{what}: the gap grew from n={n0} ({g0:.4}) to n={n1} ({g1:.4}); L∞ = {cts}, {gaps:?}"
        );
    }
    let (n, gap, stderr) = *gaps.last().unwrap();
    assert!(
        gap < 0.02 + 3.0 * stderr,
        "{what}: Lⁿ is {gap:.4} away from L∞ at n={n}: {gaps:?}"
    );
    assert!(
        gaps[0].1 > 5.0 * gap,
        "{what}: the test needs a visible gap at small n: {gaps:?}"
    );
}

#[test]
fn discrete_time_loss_approaches_the_continuous_time_loss() {
    // Discrete data, a fixed output distribution.
    let kind = Discrete::new(3.0, 4).unwrap();
    let logits = vec![0.5, 1.5, -0.5, 0.0];
    let prior = [0.25; 4];
    let cts = integrated_cts_time_loss(&kind, 2, &prior, |_| logits.clone());
    let discrete: Vec<_> = [1, 4, 16, 64, 256, 1024]
        .into_iter()
        .map(|n| {
            (
                n,
                expected_discrete_time_loss(
                    &kind,
                    2,
                    &prior,
                    |_| logits.clone(),
                    n,
                    20_000 / n.min(64),
                ),
            )
        })
        .collect();
    assert_converges("discrete", cts, &discrete);

    // Discretised data, a fixed N(0.2, 0.3²) over 16 bins: the network output that gives it at μ = 0 changes with t.
    let kind = Discretised::new(0.2, 16).unwrap();
    let output_at = |t: f64| {
        let gaussian = kind.input();
        let noise_scale = (gaussian.one_minus_gamma(t) / gaussian.gamma(t)).sqrt();
        vec![-0.2 / noise_scale, (0.3 / noise_scale).ln()]
    };
    let x = -0.4375;
    let cts = integrated_cts_time_loss(&kind, x, &[0.0], output_at);
    let discrete: Vec<_> = [1, 4, 16, 64, 256, 1024]
        .into_iter()
        .map(|n| {
            (
                n,
                expected_discrete_time_loss(&kind, x, &[0.0], output_at, n, 20_000 / n.min(64)),
            )
        })
        .collect();
    assert_converges("discretised", cts, &discrete);
}

#[test]
fn continuous_losses_agree_for_every_n_when_the_prediction_is_fixed() {
    // With x̂ fixed, Σᵢ αᵢ = β(1) makes E_t[Lⁿ] = (x − x̂)²·β(1)/2 = ∫ L∞ for every n: a check that the step
    // accuracies and the loss weights come from one schedule.
    let kind = Continuous::new(0.01).unwrap();
    let (x, x_hat) = (0.7, -0.1);
    let output_at = |t: f64| {
        let g = kind.input();
        vec![-x_hat / (g.one_minus_gamma(t) / g.gamma(t)).sqrt()]
    };
    let exact = (x - x_hat) * (x - x_hat) * (1e4 - 1.0) / 2.0;
    let cts = integrated_cts_time_loss(&kind, x, &[0.0], output_at);
    assert!(
        (cts / exact - 1.0).abs() < 1e-6,
        "∫L∞ = {cts}, expected {exact}"
    );
    for n in [1, 10, 1000] {
        let discrete = expected_discrete_time_loss(&kind, x, &[0.0], output_at, n, 1);
        assert_eq!(discrete.stderr, 0.0, "continuous Lⁿ is a closed form");
        // At t = 0 the prediction is x̂ = 0 whatever the network says (t < t_min): step 1 costs α₁/2·x², not
        // α₁/2·(x − x̂)².
        let alpha_1: f64 = kind.input().schedule().alpha(Step::new(1, n).unwrap());
        let first_step = alpha_1 / 2.0 * (x * x - (x - x_hat) * (x - x_hat));
        assert!(
            ((discrete.mean - first_step) / exact - 1.0).abs() < 1e-9,
            "n={n}: {} vs {exact}",
            discrete.mean
        );
    }
}

#[test]
fn the_elbo_of_a_uniform_network_has_its_closed_form_and_an_oracle_beats_it() {
    // A network that always says "uniform": L∞(t) = Kβ₁t·(K − 1)/K, so E_t[L∞] = β₁(K − 1)/2, and L^r = ln K.
    let (beta_1, k) = (2.0, 5u32);
    let kind = Discrete::new(beta_1, k).unwrap();
    let shape = Shape::new(64, 12).unwrap();
    let data: Vec<u32> = (0..shape.len() as u32).map(|v| v * 3 % k).collect();
    let mut uniform = |_: &InputParams<f64>, _: &[f64], out: &mut [f64]| {
        out.fill(0.0);
        Ok(())
    };
    let settings = ElboSettings {
        time: LossTime::Continuous,
        repeats: 200,
        draws: 1,
        seed: 5,
    };
    let elbo = negative_elbo(&kind, &mut uniform, &data, shape, settings).unwrap();
    let expected = beta_1 * f64::from(k - 1) / 2.0;
    assert!(
        (elbo.diffusion.mean - expected).abs() < 4.0 * elbo.diffusion.stderr,
        "{:?} vs {expected}",
        elbo.diffusion
    );
    assert!((elbo.reconstruction.mean - f64::from(k).ln()).abs() < 1e-12);
    let bits = elbo.bits_per_dim();
    assert!((bits.mean - elbo.nats_per_dim().mean / std::f64::consts::LN_2).abs() < 1e-12);

    let oracle = negative_elbo::<f64, _, _>(
        &kind,
        &mut Oracle { kind, data: &data },
        &data,
        shape,
        settings,
    )
    .unwrap();
    assert!(
        oracle.bits_per_dim().mean < 1e-6,
        "an oracle costs nothing: {:?}",
        oracle
    );

    // With many steps the discrete-time estimate agrees with the closed form too (α_i ≤ 0.004: Lⁿ ≈ L∞).
    let settings = ElboSettings {
        time: LossTime::Discrete { steps: 1000 },
        repeats: 50,
        draws: 100,
        seed: 5,
    };
    let discrete = negative_elbo(&kind, &mut uniform, &data, shape, settings).unwrap();
    let bound = 4.0 * discrete.diffusion.stderr + 0.01 * expected;
    assert!(
        (discrete.diffusion.mean - expected).abs() < bound,
        "{discrete:?} vs {expected}"
    );
}
