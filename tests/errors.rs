//! Settings out of range and shapes that disagree are typed errors naming the problem: never a panic or a NaN.

use bevy_bfn::BfnError;
use bevy_bfn::flow::elbo::{ElboSettings, LossTime, negative_elbo};
use bevy_bfn::flow::{
    Continuous, CounterRng, Discrete, Discretised, InputParams, Sampler, Shape, Step, loss,
};

#[test]
fn settings_out_of_range() {
    for sigma_1 in [0.0, 1.0, 1.5, -0.1, f64::NAN] {
        assert!(
            matches!(Continuous::new(sigma_1), Err(BfnError::Sigma1OutOfRange(_))),
            "σ₁ = {sigma_1}"
        );
        assert!(matches!(
            Discretised::new(sigma_1, 16),
            Err(BfnError::Sigma1OutOfRange(_))
        ));
    }
    for beta_1 in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(Discrete::new(beta_1, 4), Err(BfnError::Beta1OutOfRange(_))),
            "β₁ = {beta_1}"
        );
    }
    assert_eq!(
        Discrete::new(1.0, 1),
        Err(BfnError::TooFewClasses {
            what: "classes",
            got: 1
        })
    );
    assert_eq!(
        Discretised::new(0.1, 0),
        Err(BfnError::TooFewClasses {
            what: "bins",
            got: 0
        })
    );
    let kind = Discrete::new(1.0, 4).unwrap();
    assert!(matches!(
        Sampler::new(kind, 0, 1),
        Err(BfnError::StepsOutOfRange { got: 0, .. })
    ));
    assert!(matches!(
        Step::new(0, 3),
        Err(BfnError::StepOutOfRange { i: 0, n: 3 })
    ));
    assert_eq!(Shape::new(0, 3), Err(BfnError::Empty("batch")));
    assert_eq!(Shape::new(2, 0), Err(BfnError::Empty("example")));
    assert!(
        Shape::new(1 << 20, 1 << 13).is_err(),
        "more variables than the generator can index"
    );
}

#[test]
fn the_messages_name_the_problem() {
    assert_eq!(
        Continuous::new(2.0).unwrap_err().to_string(),
        "sigma_1 must lie in (0, 1), got 2"
    );
    assert_eq!(
        Discrete::new(1.0, 1).unwrap_err().to_string(),
        "classes must be at least 2, got 1"
    );
    let shape = Shape::new(2, 3).unwrap();
    assert_eq!(
        InputParams::new(shape, 4, vec![0.25f32; 20])
            .unwrap_err()
            .to_string(),
        "input parameters has 20 values, expected 24"
    );
}

#[test]
fn losses_check_their_inputs() {
    let kind = Discrete::new(1.0, 3).unwrap();
    let shape = Shape::new(2, 2).unwrap();
    let input = InputParams::new(shape, 3, vec![1.0 / 3.0; 12]).unwrap();
    let output = vec![0.0f64; 12];
    let (x, t) = ([0u32, 1, 2, 0], [0.5, 0.25]);
    assert!(loss::cts_time_loss(&kind, &x, &input, &output, &t).is_ok());

    let e = loss::cts_time_loss(&kind, &x[..3], &input, &output, &t).unwrap_err();
    assert_eq!(
        e,
        BfnError::ShapeMismatch {
            what: "data",
            got: 3,
            expected: 4
        }
    );
    let e = loss::cts_time_loss(&kind, &x, &input, &output[..11], &t).unwrap_err();
    assert_eq!(
        e,
        BfnError::ShapeMismatch {
            what: "network output",
            got: 11,
            expected: 12
        }
    );
    let e = loss::cts_time_loss(&kind, &x, &input, &output, &[0.5]).unwrap_err();
    assert!(matches!(
        e,
        BfnError::ShapeMismatch {
            what: "times (one per example)",
            ..
        }
    ));
    for bad_t in [1.5, -0.1, f64::NAN] {
        let e = loss::cts_time_loss(&kind, &x, &input, &output, &[0.5, bad_t]).unwrap_err();
        assert!(matches!(e, BfnError::TimeOutOfRange(_)), "t = {bad_t}: {e}");
    }
    let e = loss::cts_time_loss(&kind, &[0, 1, 3, 0], &input, &output, &t).unwrap_err();
    assert_eq!(
        e,
        BfnError::ClassOutOfRange {
            class: 3,
            classes: 3
        }
    );
    let mut nan_output = output.clone();
    nan_output[5] = f64::NAN;
    let e = loss::reconstruction_loss(&kind, &x, &input, &nan_output).unwrap_err();
    assert!(matches!(
        e,
        BfnError::NotFinite {
            what: "network output",
            ..
        }
    ));
    let e = loss::discrete_time_loss(&kind, &x, &input, &output, &t, 10, 0, &CounterRng::new(0))
        .unwrap_err();
    assert!(matches!(
        e,
        BfnError::DrawsOutOfRange {
            what: "draws",
            got: 0,
            ..
        }
    ));
    let e = loss::discrete_time_loss(
        &kind,
        &x,
        &input,
        &output,
        &t,
        10,
        1 << 30,
        &CounterRng::new(0),
    )
    .unwrap_err();
    assert!(
        matches!(e, BfnError::DrawsOutOfRange { what: "draws", .. }),
        "more draws than counters"
    );
    let e = loss::discrete_time_loss(&kind, &x, &input, &output, &t, 0, 10, &CounterRng::new(0))
        .unwrap_err();
    assert!(matches!(e, BfnError::StepsOutOfRange { .. }));

    // θ of another kind's width.
    let narrow = InputParams::new(shape, 1, vec![0.0; 4]).unwrap();
    let e = loss::cts_time_loss(&kind, &x, &narrow, &output, &t).unwrap_err();
    assert!(matches!(
        e,
        BfnError::ShapeMismatch {
            what: "input parameters per variable",
            ..
        }
    ));

    // Continuous data outside [−1, 1] or not finite.
    let kind = Continuous::new(0.01).unwrap();
    let input = InputParams::new(shape, 1, vec![0.0; 4]).unwrap();
    let e = loss::cts_time_loss(&kind, &[0.0, 1.5, 0.0, 0.0], &input, &[0.0; 4], &t).unwrap_err();
    assert_eq!(e, BfnError::DataOutOfRange(1.5));
    let e = loss::cts_time_loss(
        &kind,
        &[0.0, f64::INFINITY, 0.0, 0.0],
        &input,
        &[0.0; 4],
        &t,
    )
    .unwrap_err();
    assert!(matches!(e, BfnError::NotFinite { what: "data", .. }));
    assert!(
        InputParams::new(shape, 1, vec![0.0, f64::NAN, 0.0, 0.0]).is_err(),
        "θ must be finite"
    );
}

#[test]
fn a_network_that_returns_nan_or_fails_stops_the_sampler_with_an_error() {
    let kind = Discrete::new(2.0, 4).unwrap();
    let shape = Shape::new(1, 8).unwrap();
    let sampler = Sampler::new(kind, 10, 1).unwrap();
    let mut calls = 0;
    let mut nan_on_third_call = |_: &InputParams<f32>, _: &[f32], out: &mut [f32]| {
        calls += 1;
        out.fill(if calls == 3 { f32::NAN } else { 0.0 });
        Ok(())
    };
    let mut run = sampler.start(shape);
    run.step(&mut nan_on_third_call).unwrap();
    run.step(&mut nan_on_third_call).unwrap();
    let before = run.input_params().clone();
    let e = run.step(&mut nan_on_third_call).unwrap_err();
    assert!(
        matches!(
            e,
            BfnError::NotFinite {
                what: "network output",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(run.input_params(), &before, "θ is left as it was");
    assert_eq!(run.steps_done(), 2);

    let mut failing = |_: &InputParams<f32>, _: &[f32], _: &mut [f32]| {
        Err(BfnError::Denoiser("out of memory".into()))
    };
    let e = sampler.sample(&mut failing, shape).unwrap_err();
    assert_eq!(e.to_string(), "denoiser failed: out of memory");
}

#[test]
fn the_elbo_checks_its_settings_and_data() {
    let kind = Discrete::new(2.0, 4).unwrap();
    let shape = Shape::new(1, 2).unwrap();
    let mut uniform = |_: &InputParams<f64>, _: &[f64], out: &mut [f64]| {
        out.fill(0.0);
        Ok(())
    };
    let settings = ElboSettings {
        time: LossTime::Continuous,
        repeats: 0,
        draws: 1,
        seed: 0,
    };
    assert!(matches!(
        negative_elbo(&kind, &mut uniform, &[0, 1], shape, settings),
        Err(BfnError::DrawsOutOfRange {
            what: "repeats",
            ..
        })
    ));
    let settings = ElboSettings {
        repeats: 1,
        ..settings
    };
    assert!(matches!(
        negative_elbo(&kind, &mut uniform, &[0, 1, 2], shape, settings),
        Err(BfnError::ShapeMismatch { what: "data", .. })
    ));
    assert!(matches!(
        negative_elbo(&kind, &mut uniform, &[0, 9], shape, settings),
        Err(BfnError::ClassOutOfRange {
            class: 9,
            classes: 4
        })
    ));
}
