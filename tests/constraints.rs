//! Constraints (known values, allowed classes) under every sampler, with properties a wrong implementation would
//! fail.

mod common;

use bevy_bfn::BfnError;
use bevy_bfn::flow::discretised_normal::{bin_centre, bin_of};
use bevy_bfn::flow::oracle::Oracle;
use bevy_bfn::flow::{
    Constraints, Continuous, DataKind, Datum, Denoiser, Discrete, Discretised, InputParams, Known,
    RuntimeDatum, Sampler, SamplingMethod, Shape,
};
use common::{assert_standard_normal, class_log_odds_z, fickle, methods, values, wild};

/// Every `every`-th variable known with strength `strength`.
fn known_every<D: Copy>(every: usize, known: &[D], strength: f64) -> Constraints<D> {
    Constraints {
        known: known
            .iter()
            .enumerate()
            .map(|(v, &value)| (v % every == 0).then_some(Known { value, strength }))
            .collect(),
        allowed: Vec::new(),
    }
}

fn sampler<K>(kind: K, method: SamplingMethod, steps: u32, seed: u64) -> Sampler<K> {
    Sampler::new(kind, steps, seed)
        .unwrap()
        .with_method(method)
        .unwrap()
}

/// Samples with constraints twice (the same seed must give the same result) and returns the sample.
fn sample<K: DataKind<f64>>(
    kind: K,
    method: SamplingMethod,
    network: &mut impl Denoiser<f64>,
    shape: Shape,
    constraints: &Constraints<Datum<f64, K>>,
) -> Vec<Datum<f64, K>> {
    let sampler = sampler(kind, method, 8, 11);
    let first = sampler
        .sample_constrained(network, shape, constraints)
        .unwrap();
    let again = sampler
        .sample_constrained(network, shape, constraints)
        .unwrap();
    assert_eq!(first, again, "{method}: one seed, one sample");
    first
}

/// Samples with every other variable hard-known to be `truth` and an oracle of `other` for a network, under
/// every sampler: a known variable that is not kept comes out as the oracle's value, and a free one that does
/// not come from the network does not come out as the oracle's. `kept` is `truth` as a sample of the kind.
fn keeps_the_known_and_follows_the_network<K: DataKind<f64>>(
    kind: K,
    truth: &[Datum<f64, K>],
    kept: &[Datum<f64, K>],
    other: &[Datum<f64, K>],
    close: impl Fn(Datum<f64, K>, Datum<f64, K>) -> bool,
) where
    for<'a> Oracle<'a, K, Datum<f64, K>>: Denoiser<f64>,
{
    let shape = Shape::new(2, truth.len() / 2).unwrap();
    for method in methods() {
        let mut network = Oracle { kind, data: other };
        let out = sample(
            kind,
            method,
            &mut network,
            shape,
            &known_every(2, truth, 1.0),
        );
        for (v, &x) in out.iter().enumerate() {
            if v % 2 == 0 {
                assert_eq!(x, kept[v], "{method}: {kind:?} {v}");
            } else {
                assert!(close(x, other[v]), "{method}: {kind:?} {v}: {x:?}");
            }
        }
    }
}

#[test]
fn hard_known_variables_are_kept_and_the_free_ones_come_from_the_network() {
    let count = 80;
    let truth: Vec<f64> = values(count).iter().map(|x| -x * 0.9).collect();
    let other = values(count);
    keeps_the_known_and_follows_the_network(
        Continuous::new(0.02).unwrap(),
        &truth,
        &truth,
        &other,
        |a, b| (a - b).abs() < 1e-6,
    );

    let bins = 16;
    let centre = |x: &f64| bin_centre(bin_of(*x, bins), bins);
    keeps_the_known_and_follows_the_network(
        Discretised::new(0.02, bins).unwrap(),
        &truth,
        &truth.iter().map(centre).collect::<Vec<f64>>(),
        &other.iter().map(centre).collect::<Vec<f64>>(),
        |a, b| a == b,
    );

    let classes = 7;
    let truth: Vec<u32> = (0..count as u32).map(|v| v % classes).collect();
    let other: Vec<u32> = truth.iter().map(|x| (x + 3) % classes).collect();
    keeps_the_known_and_follows_the_network(
        Discrete::new(2.0, classes).unwrap(),
        &truth,
        &truth,
        &other,
        |a, b| a == b,
    );
}

/// A network that puts its weight on class 0, then 2, then 3; every variable may take only classes 2 and 3. A
/// forbidden class is never output, and the allowed ones keep the network's odds: the sample is its favourite
/// of the allowed (the mode), and the standard sampler's draws, which θ accumulates, favour 2 over 3 as
/// e¹ : 1 does — a choice among the allowed that ignored the network (uniform, say) gives neither.
#[test]
fn a_forbidden_class_is_never_output() {
    let shape = Shape::new(3, 50).unwrap();
    let kind = Discrete::new(3.0, 5).unwrap();
    let mut prefers_zero = |_: &InputParams<f64>, _: &[f64], output: &mut [f64]| {
        for out in output.chunks_exact_mut(5) {
            out.copy_from_slice(&[40.0, 0.0, 1.0, 0.0, 0.0]);
        }
        Ok::<(), BfnError>(())
    };
    let allowed = Constraints {
        known: Vec::new(),
        allowed: (0..shape.len()).map(|_| Some(vec![3, 2])).collect(),
    };
    for method in methods() {
        let free = sample(
            kind,
            method,
            &mut prefers_zero,
            shape,
            &Constraints::default(),
        );
        assert!(
            free.iter().all(|&x| x == 0),
            "{method}: the network's class"
        );
        let out = sample(kind, method, &mut prefers_zero, shape, &allowed);
        assert!(
            out.iter().all(|&x| x == 2),
            "{method}: {out:?} is not the network's favourite of the allowed everywhere"
        );
    }
    // The standard sampler's θ gathers its draws: class 2 (probability e/(e + 1) ≈ 0.73 among the allowed) must
    // lead class 3 in most variables, and class 0 (forbidden) in every one.
    let mut run = sampler(kind, SamplingMethod::Standard, 30, 4)
        .start_constrained::<f64>(shape, &allowed)
        .unwrap();
    run.finish(&mut prefers_zero).unwrap();
    let theta = run.input_params();
    let two_leads = (0..shape.len())
        .filter(|&v| theta.variable(v)[2] > theta.variable(v)[3])
        .count();
    assert!(
        two_leads * 10 >= shape.len() * 8,
        "class 2 leads class 3 in only {two_leads} of {} variables",
        shape.len()
    );
    let mean = |k: usize| (0..shape.len()).map(|v| theta.variable(v)[k]).sum::<f64>();
    assert!(
        mean(0) < mean(3) && mean(3) < mean(2),
        "θ does not rank the classes as the draws should (0, never drawn, below 3 below 2): {:?}",
        [mean(0), mean(2), mean(3)]
    );
}

/// A known-answer network for maps `width` cells wide: a free cell's logits are `gain`·ln θ of the cell to its
/// left, so that it copies what the run believes of its left neighbour now; the first column's are flat. Only a
/// run that conditions θ on the held first column, step by step, gives the free cells anything to copy.
fn copies_left_neighbour(
    width: usize,
    gain: f64,
) -> impl FnMut(&InputParams<f64>, &[f64], &mut [f64]) -> Result<(), BfnError> {
    move |input, _, output| {
        let k = input.width();
        for (v, out) in output.chunks_exact_mut(k).enumerate() {
            if v % width == 0 {
                out.fill(0.0);
            } else {
                for (o, &p) in out.iter_mut().zip(input.variable(v - 1)) {
                    *o = gain * p.max(1e-300).ln();
                }
            }
        }
        Ok(())
    }
}

/// The known cells condition the free ones during the run, not only the sample's end: with the first of every
/// two cells held and a network whose free cell copies its held neighbour's current estimate, every sampler's θ
/// has the held class on top in at least three quarters of the free cells by the middle of the run and in 95% by
/// three quarters of it (the deterministic solvers lag the most), and the samples are the held classes. A sampler
/// that wrote the held values over its sample only at the end would leave the held cells' θ at the flat
/// network's draws, and the free cells would copy noise: the held class on top in about a fifth of them.
#[test]
fn free_cells_follow_held_ones_long_before_the_last_step() {
    let (classes, rows, width) = (5u32, 8, 2);
    let kind = Discrete::new(20.0, classes).unwrap();
    let shape = Shape::new(8, rows * width).unwrap();
    let held_class = |v: usize| ((v / width) as u32 * 3 + 1) % classes;
    let constraints = Constraints {
        known: (0..shape.len())
            .map(|v| (v % width == 0).then(|| Known::held(held_class(v))))
            .collect(),
        allowed: Vec::new(),
    };
    let free: Vec<usize> = (0..shape.len()).filter(|v| v % width != 0).collect();
    for method in methods() {
        let steps = 20;
        let mut network = copies_left_neighbour(width, 8.0);
        let mut run = sampler(kind, method, steps, 9)
            .start_constrained::<f64>(shape, &constraints)
            .unwrap();
        let updates = method.updates(steps);
        for (done, percent) in [(updates / 2, 75), (3 * updates / 4, 95)] {
            while run.steps_done() < done {
                run.step(&mut network).unwrap();
            }
            let theta = run.input_params();
            let on_top = free
                .iter()
                .filter(|&&v| {
                    let p = theta.variable(v);
                    (0..classes as usize).all(|k| p[held_class(v) as usize] >= p[k])
                })
                .count();
            assert!(
                on_top * 100 >= free.len() * percent,
                "{method}: after {done} of {updates} updates the held class leads in only {on_top} of {} free \
                 cells",
                free.len()
            );
        }
        let out = run.finish(&mut network).unwrap();
        for (v, &x) in out.iter().enumerate() {
            assert_eq!(x, held_class(v), "{method}: cell {v}");
        }
    }
}

/// Strength 0 conditions nothing: the run is the unconstrained one, bit for bit, θ included.
#[test]
fn strength_zero_is_the_unconstrained_run() {
    fn same_run<K: DataKind<f64>>(
        kind: K,
        network: &mut impl Denoiser<f64>,
        known: &[Datum<f64, K>],
        shape: Shape,
    ) {
        for method in methods() {
            let sampler = sampler(kind, method, 6, 5);
            let mut free = sampler.start::<f64>(shape);
            let mut weak = sampler
                .start_constrained(shape, &known_every(2, known, 0.0))
                .unwrap();
            while !free.is_finished() {
                free.step(network).unwrap();
                weak.step(network).unwrap();
                assert_eq!(
                    free.input_params().values(),
                    weak.input_params().values(),
                    "{method}"
                );
            }
            assert_eq!(
                free.finish(network).unwrap(),
                weak.finish(network).unwrap(),
                "{method}"
            );
        }
    }
    let shape = Shape::new(2, 30).unwrap();
    let data = values(shape.len());
    same_run(Continuous::new(0.05).unwrap(), &mut wild, &data, shape);
    same_run(Discretised::new(0.05, 8).unwrap(), &mut wild, &data, shape);
    let classes: Vec<u32> = (0..shape.len() as u32).map(|v| v % 4).collect();
    same_run(Discrete::new(2.0, 4).unwrap(), &mut fickle, &classes, shape);
}

/// A variable known with strength w = ½ receives messages from its value through t = ½, so there its θ follows
/// the Bayesian flow of that value whatever the network says: μ ~ N(γx, γ(1 − γ)), or for discrete data
/// ln θ_x − ln θ_j ~ N(βK, 2βK) with β = β₁/4. The steps with t < ½ are the first five of ten, for every grid.
#[test]
fn a_soft_known_variable_follows_the_flow_of_its_value_until_its_strength() {
    let shape = Shape::new(4, 1000).unwrap();
    let (steps, strength, conditioned) = (10, 0.5, 5);
    let sigma_1: f64 = 0.1;
    let (beta_1, classes) = (2.0, 9);
    let data = values(shape.len());
    let labels: Vec<u32> = (0..shape.len() as u32).map(|v| v * 5 % classes).collect();
    for method in methods() {
        if matches!(method, SamplingMethod::Redraw { temperature, .. } if temperature != 1.0) {
            continue; // τ ≠ 1 redraws from a narrower flow on purpose.
        }
        let t = method.time(conditioned, steps);

        let kind = Continuous::new(sigma_1).unwrap();
        let mut run = sampler(kind, method, steps, 9)
            .start_constrained::<f64>(shape, &known_every(1, &data, strength))
            .unwrap();
        for _ in 0..conditioned {
            run.step(&mut wild).unwrap();
        }
        let gamma = 1.0 - sigma_1.powf(2.0 * t);
        let z: Vec<f64> = run
            .input_params()
            .values()
            .iter()
            .zip(&data)
            .map(|(mu, x)| (mu - gamma * x) / (gamma * (1.0 - gamma)).sqrt())
            .collect();
        assert_standard_normal(&z, &format!("{method}: continuous μ at t = {t}"));

        let kind = Discrete::new(beta_1, classes).unwrap();
        let mut run = sampler(kind, method, steps, 9)
            .start_constrained::<f64>(shape, &known_every(1, &labels, strength))
            .unwrap();
        for _ in 0..conditioned {
            run.step(&mut fickle).unwrap();
        }
        let z = class_log_odds_z(run.input_params(), &labels, classes, beta_1 * t * t);
        assert_standard_normal(
            &z,
            &format!("{method}: discrete ln θ_x − ln θ_j at t = {t}"),
        );

        // After t = w the network decides: the fickle one is confident enough to move most variables.
        let out = run.finish(&mut fickle).unwrap();
        let moved = out.iter().zip(&labels).filter(|(a, b)| a != b).count();
        assert!(moved > shape.len() / 2, "{method}: {moved} moved");
    }
}

#[test]
fn bad_constraints_are_refused() {
    let shape = Shape::new(2, 3).unwrap();
    fn known<D>(value: D, strength: f64) -> Option<Known<D>> {
        Some(Known { value, strength })
    }
    let discrete = Sampler::new(Discrete::new(2.0, 4).unwrap(), 4, 0).unwrap();
    let start = |constraints: Constraints<u32>| {
        discrete.start_constrained::<f64>(shape, &constraints).err()
    };
    let with_known = |known| Constraints {
        known,
        allowed: Vec::new(),
    };
    let with_allowed = |allowed| Constraints {
        known: Vec::new(),
        allowed,
    };
    assert!(matches!(
        start(with_known(vec![None; 5])),
        Some(BfnError::ShapeMismatch { got: 5, .. })
    ));
    assert!(matches!(
        start(with_allowed(vec![None; 7])),
        Some(BfnError::ShapeMismatch { got: 7, .. })
    ));
    let mut bad = vec![None; 6];
    bad[2] = known(4, 1.0);
    assert!(matches!(
        start(with_known(bad)),
        Some(BfnError::ClassOutOfRange { class: 4, .. })
    ));
    for strength in [-0.1, 1.5, f64::NAN] {
        let mut bad = vec![None; 6];
        bad[0] = known(1, strength);
        assert!(matches!(
            start(with_known(bad)),
            Some(BfnError::StrengthOutOfRange(_))
        ));
    }
    let mut bad = vec![None; 6];
    bad[3] = Some(vec![]);
    assert!(matches!(
        start(with_allowed(bad)),
        Some(BfnError::NoAllowedClass { variable: 3 })
    ));
    let mut bad = vec![None; 6];
    bad[1] = Some(vec![0, 9]);
    assert!(matches!(
        start(with_allowed(bad)),
        Some(BfnError::ClassOutOfRange { class: 9, .. })
    ));

    let continuous = Sampler::new(Continuous::new(0.1).unwrap(), 4, 0).unwrap();
    let start = |known: Option<Known<f64>>, allowed| {
        let mut all = vec![None; 6];
        all[4] = known;
        continuous
            .start_constrained::<f64>(
                shape,
                &Constraints {
                    known: all,
                    allowed,
                },
            )
            .err()
    };
    assert!(matches!(
        start(known(f64::NAN, 1.0), Vec::new()),
        Some(BfnError::NotFinite { .. })
    ));
    assert!(matches!(
        start(known(1.5, 1.0), Vec::new()),
        Some(BfnError::DataOutOfRange(_))
    ));
    assert!(matches!(
        start(None, vec![Some(vec![0]); 6]),
        Some(BfnError::Config(_))
    ));
    assert!(start(known(-1.0, 0.3), Vec::new()).is_none());
}

#[test]
fn retyped_constraints_keep_their_values_and_refuse_the_other_type() {
    let classes = Constraints {
        known: vec![
            None,
            Some(Known {
                value: 3u32,
                strength: 0.5,
            }),
        ],
        allowed: vec![Some(vec![1, 3]), None],
    };
    assert_eq!(classes.retyped(RuntimeDatum::class).unwrap(), classes);
    assert!(matches!(
        classes.retyped(RuntimeDatum::value),
        Err(BfnError::Config(_))
    ));
    // No known value: any type will do, and the allowed classes carry over.
    let allowed = Constraints::<f32> {
        known: Vec::new(),
        allowed: classes.allowed.clone(),
    };
    assert_eq!(
        allowed.retyped(RuntimeDatum::class).unwrap().allowed,
        classes.allowed
    );
}
