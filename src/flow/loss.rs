//! The training inputs and the three losses for a batch: shapes and ranges checked once, then the per-variable
//! maths of the data kind.
//!
//! The losses take θ (`input`), the network's `output` for it, and t per example (`t[b]` for every variable of example
//! b), and return one value per variable; average them over an example's variables for its loss per dimension.

use crate::error::{Result, check_len};
use crate::flow::accuracy_schedule::{check_draws, check_steps, check_time};
use crate::flow::input_params::check_finite;
use crate::flow::{
    BayesianFlow, CounterRng, DataKind, Datum, Estimate, InputParams, MonteCarlo, Real, Shape,
    VariableNoise,
};

/// θ ~ p_F(θ ∣ x; t) for a batch (t per example): the network's training input. The noise of variable v is
/// the [`Stream::Flow`](crate::flow::Stream) draw of (`step`, v).
pub fn bayesian_flow<F: Real, K: DataKind<F>>(
    kind: &K,
    x: &[Datum<F, K>],
    shape: Shape,
    t: &[F],
    rng: &CounterRng,
    step: u32,
) -> Result<InputParams<F>> {
    shape.check("data", 1, x.len())?;
    check_len("times (one per example)", t.len(), shape.batch())?;
    let flow = kind.flow();
    x.iter().try_for_each(|&x| flow.check_datum(x))?;
    let width = flow.input_width();
    let mut values = vec![F::ZERO; shape.len() * width];
    for (v, (&x, theta)) in x.iter().zip(values.chunks_exact_mut(width)).enumerate() {
        let noise = VariableNoise {
            rng: *rng,
            step,
            variable: v as u32,
        };
        flow.bayesian_flow_sample(x, t[v / shape.variables()], noise, theta);
    }
    InputParams::new(shape, width, values)
}

/// L∞ per variable (paper eq. 41 / 101 / 184, as the reference computes it).
pub fn cts_time_loss<F: Real, K: DataKind<F>>(
    kind: &K,
    x: &[Datum<F, K>],
    input: &InputParams<F>,
    output: &[F],
    t: &[F],
) -> Result<Vec<F>> {
    check_batch(kind, x, input, output, t)?;
    Ok(per_variable(kind, input, output, |v, inp, out| {
        kind.cts_time_loss(x[v], inp, out, t[v / input.shape().variables()])
    }))
}

/// Lⁿ per variable at t = (i − 1)/n, estimated with `draws` Monte Carlo draws where there is no closed form.
#[allow(clippy::too_many_arguments)]
pub fn discrete_time_loss<F: Real, K: DataKind<F>>(
    kind: &K,
    x: &[Datum<F, K>],
    input: &InputParams<F>,
    output: &[F],
    t: &[F],
    n: u32,
    draws: u32,
    rng: &CounterRng,
) -> Result<Vec<Estimate<F>>> {
    check_batch(kind, x, input, output, t)?;
    check_steps(n)?;
    check_draws("draws", draws)?;
    Ok(per_variable(kind, input, output, |v, inp, out| {
        let t = t[v / input.shape().variables()];
        let mc = MonteCarlo {
            draws,
            rng: *rng,
            variable: v as u32,
        };
        kind.discrete_time_loss(x[v], inp, out, t, n, mc)
    }))
}

/// L^r per variable: the network's output is for θ at t = 1.
pub fn reconstruction_loss<F: Real, K: DataKind<F>>(
    kind: &K,
    x: &[Datum<F, K>],
    input: &InputParams<F>,
    output: &[F],
) -> Result<Vec<F>> {
    let t = vec![F::ONE; input.shape().batch()];
    check_batch(kind, x, input, output, &t)?;
    Ok(per_variable(kind, input, output, |v, inp, out| {
        kind.reconstruction_loss(x[v], inp, out)
    }))
}

/// Checks every buffer against θ's shape and the kind's widths, data against the kind, t against [0, 1] and the
/// network output for NaN.
pub(crate) fn check_batch<F: Real, K: DataKind<F>>(
    kind: &K,
    x: &[Datum<F, K>],
    input: &InputParams<F>,
    output: &[F],
    t: &[F],
) -> Result<()> {
    let shape = input.shape();
    check_len(
        "input parameters per variable",
        input.width(),
        kind.flow().input_width(),
    )?;
    shape.check("data", 1, x.len())?;
    shape.check("network output", kind.output_width(), output.len())?;
    check_len("times (one per example)", t.len(), shape.batch())?;
    t.iter().try_for_each(|&t| check_time(t))?;
    x.iter().try_for_each(|&x| kind.flow().check_datum(x))?;
    check_finite("network output", output.iter().copied())
}

/// `f(v, θ_v, output_v)` for every variable v.
fn per_variable<F: Real, K: DataKind<F>, T>(
    kind: &K,
    input: &InputParams<F>,
    output: &[F],
    f: impl FnMut(usize, &[F], &[F]) -> T,
) -> Vec<T> {
    let mut f = f;
    (0..input.shape().len())
        .map(|v| {
            f(
                v,
                input.variable(v),
                &output[v * kind.output_width()..][..kind.output_width()],
            )
        })
        .collect()
}
