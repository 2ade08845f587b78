//! Every golden case computed by the official PyTorch implementation (`tests/fixtures/golden/*.json`, copied from
//! `shared/golden/`) is checked against the `f64` maths. A case whose `fn` or data kind this file does not know is
//! a failure, not a skip: new fixture files in the same schema must pass as they are.
//!
//! Tolerances (from the fixtures' README): deterministic values agree to a relative error of 1e−6 with an
//! absolute floor of 1e−7; Monte Carlo values within 4·√(stderr² + ours_stderr²).

use std::path::Path;

use bevy_bfn::flow::{
    BayesianFlow, Continuous, CounterRng, DataKind, Datum, Discrete, Discretised, Estimate,
    InputParams, Shape, Step, loss,
};
use serde_json::Value;

/// Our Monte Carlo draws per variable for Lⁿ (the reference used 2,000,000): enough that our standard error is
/// within a few times theirs, few enough for a debug-profile test.
const DISCRETE_DRAWS: u32 = 200_000;
const DISCRETISED_DRAWS: u32 = 50_000;

struct Case<'a> {
    name: String,
    value: &'a Value,
    shape: Shape,
}

impl Case<'_> {
    fn param(&self, key: &str) -> f64 {
        self.value["params"][key]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: params.{key} missing", self.name))
    }
    fn scalar(&self, key: &str) -> f64 {
        self.value["inputs"][key]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: inputs.{key} is not a number", self.name))
    }
    fn array(&self, key: &str) -> Vec<f64> {
        numbers(&self.value["inputs"][key])
            .unwrap_or_else(|| panic!("{}: inputs.{key} is not an array", self.name))
    }
    fn classes(&self, key: &str) -> Vec<u32> {
        self.array(key).into_iter().map(|c| c as u32).collect()
    }
    /// t per example, from the per-variable array (constant along a row).
    fn times(&self) -> Vec<f64> {
        let t = self.array("t");
        let rows: Vec<&[f64]> = t.chunks(self.shape.variables()).collect();
        assert!(
            rows.iter().all(|r| r.iter().all(|&v| v == r[0])),
            "{}: t is not constant along a row",
            self.name
        );
        rows.iter().map(|r| r[0]).collect()
    }
    fn step_count(&self) -> u32 {
        self.scalar("n") as u32
    }
}

fn numbers(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(Value::as_f64).collect()
}

/// What a case computed, to be compared with `expected`.
enum Outcome {
    Values(Vec<f64>),
    Fields(Vec<(&'static str, Vec<f64>)>),
    MonteCarlo(Vec<Estimate<f64>>),
}

fn per_variable_input(shape: Shape, mu: Vec<f64>) -> InputParams<f64> {
    InputParams::new(shape, 1, mu).expect("input shape")
}

fn continuous(case: &Case, f: &str) -> Result<Outcome, String> {
    let kind = Continuous::new(case.param("sigma_1")).map_err(|e| e.to_string())?;
    let shape = case.shape;
    let value = |x: f64| x;
    Ok(match f {
        "alpha" => alpha(&kind, case),
        "update" => {
            let (rho, alpha) = (case.scalar("rho"), case.scalar("alpha"));
            let mut mu = case.array("mu");
            for (m, y) in mu.iter_mut().zip(case.array("y")) {
                let mut theta = [*m];
                BayesianFlow::<f64>::bayesian_update(kind.input(), &mut theta, rho, &[y], alpha);
                *m = theta[0];
            }
            Outcome::Fields(vec![("mu", mu), ("rho", vec![rho + alpha])])
        }
        "flow_moments" => {
            let (mean, var) = case
                .array("x")
                .iter()
                .zip(case.array("t"))
                .map(|(&x, t)| kind.input().flow_moments(x, t))
                .unzip();
            Outcome::Fields(vec![("mean", mean), ("var", var)])
        }
        "x_hat" => Outcome::Values(
            itertools3(case.array("mu"), case.array("eps_hat"), case.array("t"))
                .map(|(mu, eps, t)| kind.x_hat(mu, eps, t))
                .collect(),
        ),
        _ => {
            let x: Vec<f64> = case.array("x").into_iter().map(value).collect();
            let input = per_variable_input(shape, case.array("mu"));
            let output = case.array("eps_hat");
            losses(&kind, case, f, &x, &input, &output)?
        }
    })
}

fn discretised(case: &Case, f: &str) -> Result<Outcome, String> {
    let kind = Discretised::new(case.param("sigma_1"), case.param("bins") as u32)
        .map_err(|e| e.to_string())?;
    let shape = case.shape;
    let output: Vec<f64> = case
        .array("mu_eps")
        .into_iter()
        .zip(case.array("ln_sigma_eps"))
        .flat_map(|(m, s)| [m, s])
        .collect();
    let (mu, t) = (case.array("mu"), case.array("t"));
    let distributions = || {
        (0..shape.len()).map(|v| kind.output_distribution(mu[v], &output[2 * v..2 * v + 2], t[v]))
    };
    Ok(match f {
        "output_probs" => Outcome::Values(
            distributions()
                .flat_map(|d| d.probs().collect::<Vec<_>>())
                .collect(),
        ),
        "output_mean" => Outcome::Values(distributions().map(|d| d.mean_value()).collect()),
        _ => {
            let input = per_variable_input(shape, case.array("mu"));
            losses(&kind, case, f, &case.array("x"), &input, &output)?
        }
    })
}

fn discrete(case: &Case, f: &str) -> Result<Outcome, String> {
    let kind = Discrete::new(case.param("beta_1"), case.param("classes") as u32)
        .map_err(|e| e.to_string())?;
    let k = kind.classes() as usize;
    let moments = |x: Vec<u32>, accuracy: &dyn Fn(usize) -> f64| {
        let (mean, std): (Vec<f64>, Vec<f64>) = x
            .iter()
            .enumerate()
            .flat_map(|(v, &x)| (0..k as u32).map(move |c| (v, x, c)))
            .map(|(v, x, c)| kind.input().sender_moments(x, c, accuracy(v)))
            .unzip();
        Outcome::Fields(vec![("mean", mean), ("std", std)])
    };
    Ok(match f {
        "alpha" => alpha(&kind, case),
        "sender" => moments(case.classes("x"), &|_| case.scalar("alpha")),
        "flow_moments" => {
            let t = case.array("t");
            moments(case.classes("x"), &|v| kind.input().flow_accuracy(t[v]))
        }
        "update" => {
            let alpha = case.scalar("alpha");
            let mut theta = case.array("theta");
            for (th, y) in theta
                .chunks_exact_mut(k)
                .zip(case.array("y").chunks_exact(k))
            {
                BayesianFlow::<f64>::bayesian_update(kind.input(), th, 0.0, y, alpha);
            }
            Outcome::Values(theta)
        }
        _ => {
            let uniform = vec![1.0 / k as f64; case.shape.len() * k];
            let input = InputParams::new(case.shape, k, uniform).expect("input shape");
            losses(
                &kind,
                case,
                f,
                &case.classes("x"),
                &input,
                &case.array("logits"),
            )?
        }
    })
}

fn alpha<K: DataKind<f64>>(kind: &K, case: &Case) -> Outcome {
    let step = Step::new(case.scalar("i") as u32, case.scalar("n") as u32).expect("step");
    Outcome::Values(vec![kind.flow().schedule().alpha::<f64>(step)])
}

/// The three losses, through the checked batch-level functions.
fn losses<K: DataKind<f64>>(
    kind: &K,
    case: &Case,
    f: &str,
    x: &[Datum<f64, K>],
    input: &InputParams<f64>,
    output: &[f64],
) -> Result<Outcome, String> {
    let err = |e: bevy_bfn::BfnError| e.to_string();
    Ok(match f {
        "cts_time_loss" => Outcome::Values(
            loss::cts_time_loss(kind, x, input, output, &case.times()).map_err(err)?,
        ),
        "reconstruction_loss" => {
            Outcome::Values(loss::reconstruction_loss(kind, x, input, output).map_err(err)?)
        }
        "discrete_time_loss" => {
            let draws = if kind.flow().input_width() > 1 {
                DISCRETE_DRAWS
            } else {
                DISCRETISED_DRAWS
            };
            let rng = CounterRng::new(20231123);
            let n = case.step_count();
            let per_variable =
                loss::discrete_time_loss(kind, x, input, output, &case.times(), n, draws, &rng)
                    .map_err(err)?;
            if case.value.get("stderr").is_some() {
                // Per example: the mean over its variables.
                let d = case.shape.variables();
                Outcome::MonteCarlo(per_variable.chunks(d).map(Estimate::mean_of).collect())
            } else {
                Outcome::Values(per_variable.into_iter().map(|e| e.mean).collect())
            }
        }
        _ => return Err(format!("unknown fn `{f}`")),
    })
}

fn itertools3(a: Vec<f64>, b: Vec<f64>, c: Vec<f64>) -> impl Iterator<Item = (f64, f64, f64)> {
    a.into_iter().zip(b).zip(c).map(|((a, b), c)| (a, b, c))
}

fn close(ours: f64, expected: f64) -> bool {
    (ours - expected).abs() <= (1e-6 * expected.abs()).max(1e-7)
}

fn compare(case: &Case, outcome: Outcome) -> Vec<String> {
    let expected = &case.value["expected"];
    let mut problems = Vec::new();
    let mut check = |what: &str, ours: &[f64], theirs: Option<Vec<f64>>| match theirs {
        None => problems.push(format!(
            "{}: expected.{what} missing or not numbers",
            case.name
        )),
        Some(theirs) if theirs.len() != ours.len() => problems.push(format!(
            "{}: {what} has {} values, expected {}",
            case.name,
            ours.len(),
            theirs.len()
        )),
        Some(theirs) => {
            for (j, (&o, &e)) in ours.iter().zip(&theirs).enumerate() {
                if !close(o, e) {
                    problems.push(format!(
                        "{}: {what}[{j}] = {o:e}, expected {e:e}",
                        case.name
                    ));
                }
            }
        }
    };
    match outcome {
        Outcome::Values(ours) => {
            let theirs = expected
                .as_f64()
                .map(|e| vec![e])
                .or_else(|| numbers(expected));
            check("value", &ours, theirs);
        }
        Outcome::Fields(fields) => {
            for (key, ours) in fields {
                let theirs = expected[key]
                    .as_f64()
                    .map(|e| vec![e])
                    .or_else(|| numbers(&expected[key]));
                check(key, &ours, theirs);
            }
        }
        Outcome::MonteCarlo(ours) => {
            let (theirs, stderr) = (numbers(expected), numbers(&case.value["stderr"]));
            match (theirs, stderr) {
                (Some(theirs), Some(stderr))
                    if theirs.len() == ours.len() && stderr.len() == ours.len() =>
                {
                    for (j, ((o, e), s)) in ours.iter().zip(theirs).zip(stderr).enumerate() {
                        let bound = 4.0 * (s * s + o.stderr * o.stderr).sqrt();
                        if (o.mean - e).abs() > bound || !o.mean.is_finite() {
                            problems.push(format!(
                                "{}: [{j}] = {} ± {}, expected {e} ± {s} (bound {bound})",
                                case.name, o.mean, o.stderr
                            ));
                        }
                    }
                }
                _ => problems.push(format!(
                    "{}: expected/stderr missing or of the wrong length",
                    case.name
                )),
            }
        }
    }
    problems
}

/// "… batch 3, dims 5 …" from the file's `layout`.
fn layout_shape(layout: &str) -> Option<Shape> {
    let number_after = |word: &str| -> Option<usize> {
        let rest = &layout[layout.find(word)? + word.len()..];
        rest.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Shape::new(number_after("batch")?, number_after("dims")?).ok()
}

#[test]
fn every_golden_case_matches_the_official_implementation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/golden")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no golden files in {}", dir.display());

    let mut problems = Vec::new();
    let mut checked = 0;
    for path in &files {
        let file: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(shape) = file["layout"].as_str().and_then(layout_shape) else {
            problems.push(format!("{file_name}: no `batch N, dims M` in its layout"));
            continue;
        };
        let data = file["data"].as_str().unwrap_or_default().to_owned();
        let cases = file["cases"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if cases.is_empty() {
            problems.push(format!("{file_name}: no cases"));
        }
        for (index, value) in cases.iter().enumerate() {
            let f = value["fn"].as_str().unwrap_or_default();
            let case = Case {
                name: format!("{file_name}#{index} {data}/{f}"),
                value,
                shape,
            };
            let outcome = match data.as_str() {
                "continuous" => continuous(&case, f),
                "discretised" => discretised(&case, f),
                "discrete" => discrete(&case, f),
                other => Err(format!("unknown data kind `{other}`")),
            };
            match outcome {
                Ok(outcome) => problems.extend(compare(&case, outcome)),
                Err(e) => problems.push(format!("{}: {e}", case.name)),
            }
            checked += 1;
        }
    }
    println!("checked {checked} golden cases from {} files", files.len());
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
