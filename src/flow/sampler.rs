//! The n-step sampler, generic over the data kind, the network and the [`SamplingMethod`].
//!
//! The standard method is the paper's (Algorithms 3, 6 and 9). Step i = 1..n: ask the network for the output
//! distribution at t = (i − 1)/n, draw a value from it, send it through the sender with accuracy α_i and update θ
//! with Bayes' rule. After the last step the network is asked once more, at t = 1, and the mode of its output
//! distribution is the sample.
//!
//! The other methods move θ along the Bayesian flow in closed form ([`FlowSpace`]): each step asks the network
//! at the grid time t_{i−1}, takes the mean x̂ of its output distribution and maps the flow's state to t_i. The
//! solvers start at t_0 = η from u ~ N(0, s(η)²) and end on the mode of the output at t_{n−1}; the redraw starts
//! at the prior and ends as the standard sampler does ([`SamplingMethod`] tabulates the grids and what n counts).
//!
//! All noise comes from a [`CounterRng`] keyed by (seed, step, variable): the standard sampler's on the output and
//! sender streams, the others' on [`Stream::Flow`] (their start is step 0; a redraw with fixed noise draws step
//! 0's noise at every step). So one seed gives one trajectory per method, on the CPU or the GPU.
//!
//! ```
//! use bevy_bfn::flow::{Discrete, Sampler, SamplingMethod, Shape, oracle::Oracle};
//!
//! let kind = Discrete::new(3.0, 27)?;
//! let word = [7, 4, 11, 11, 14];
//! // Ten network calls of the second-order ODE solver.
//! let sampler = Sampler::new(kind, 10, 7)?.with_method(SamplingMethod::Ode2 { eta: 1e-5 })?;
//! let sample = sampler.sample::<f32, _>(&mut Oracle { kind, data: &word }, Shape::new(1, word.len())?)?;
//! assert_eq!(sample, word);
//! # Ok::<(), bevy_bfn::BfnError>(())
//! ```

use crate::error::{BfnError, Result};
use crate::flow::accuracy_schedule::check_steps;
use crate::flow::constraints::Conditioning;
use crate::flow::input_params::check_finite;
use crate::flow::{
    BayesianFlow, Constraints, CounterRng, DataKind, Datum, FlowUpdate, InputParams, Real,
    SamplingMethod, Shape, Step, Stream, VariableNoise,
};

/// The network, seen from the sampler: θ and t in, output parameters out.
///
/// `t` holds one time per example; `output` has [`DataKind::output_width`] values per variable. Closures of
/// the same signature are denoisers, which is how tests plug in known-answer networks.
pub trait Denoiser<F: Real> {
    /// Writes the output parameters for θ at times `t` into `output`.
    fn output_params(&mut self, input: &InputParams<F>, t: &[F], output: &mut [F]) -> Result<()>;

    /// [`Denoiser::output_params`] in a run that keeps known values: `context` holds, per variable of the batch,
    /// 1 + input-width values — a 1 and the value in θ's coordinates (its one-hot, or the value itself:
    /// [`BayesianFlow::point_mean`](crate::flow::BayesianFlow::point_mean)) where the variable is conditioned at
    /// these times (t < w, or held to the end: w = 1), zeros where it is free. A network with a context input reads it, so that the cells beside
    /// a painted one know it from the first step; the default ignores it, as a network without one must.
    fn output_params_in_context(
        &mut self,
        input: &InputParams<F>,
        t: &[F],
        context: &[F],
        output: &mut [F],
    ) -> Result<()> {
        let _ = context;
        self.output_params(input, t, output)
    }
}

impl<F: Real, T> Denoiser<F> for T
where
    T: FnMut(&InputParams<F>, &[F], &mut [F]) -> Result<()>,
{
    fn output_params(&mut self, input: &InputParams<F>, t: &[F], output: &mut [F]) -> Result<()> {
        self(input, t, output)
    }
}

/// How to sample: the data kind, the number of steps n, the seed and the method.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampler<K> {
    kind: K,
    steps: u32,
    seed: u64,
    method: SamplingMethod,
}

impl<K> Sampler<K> {
    /// The standard sampler; checks 1 ≤ n ≤ [`crate::flow::MAX_STEPS`].
    pub fn new(kind: K, steps: u32, seed: u64) -> Result<Self> {
        check_steps(steps)?;
        Ok(Self {
            kind,
            steps,
            seed,
            method: SamplingMethod::Standard,
        })
    }

    /// The same sampler running `method`, whose settings are checked ([`SamplingMethod::check`]).
    pub fn with_method(self, method: SamplingMethod) -> Result<Self> {
        method.check()?;
        Ok(Self { method, ..self })
    }

    /// The method.
    pub fn method(&self) -> SamplingMethod {
        self.method
    }

    /// n.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The data kind.
    pub fn kind(&self) -> &K {
        &self.kind
    }

    /// A sampling run at its prior, to be advanced step by step (a few steps per frame, say).
    pub fn start<F: Real>(&self, shape: Shape) -> Sampling<F, K>
    where
        K: DataKind<F>,
    {
        self.start_conditioned(shape, Conditioning::none())
    }

    /// As [`start`](Self::start), for a run that keeps `constraints`; fails as
    /// [`Constraints`] says for constraints that do not fit the kind or the batch.
    pub fn start_constrained<F: Real>(
        &self,
        shape: Shape,
        constraints: &Constraints<Datum<F, K>>,
    ) -> Result<Sampling<F, K>>
    where
        K: DataKind<F>,
    {
        Ok(self.start_conditioned(shape, constraints.conditioning(&self.kind, shape)?))
    }

    fn start_conditioned<F: Real>(
        &self,
        shape: Shape,
        conditioning: Conditioning<Datum<F, K>>,
    ) -> Sampling<F, K>
    where
        K: DataKind<F>,
    {
        let flow = self.kind.flow();
        let (value, precision) = flow.prior();
        let width = flow.input_width();
        // The standard sampler keeps no state besides θ.
        let state_len = match self.method {
            SamplingMethod::Standard => 0,
            _ => shape.len() * width,
        };
        let mut run = Sampling {
            kind: self.kind,
            method: self.method,
            steps: self.steps,
            rng: CounterRng::new(self.seed),
            input: InputParams::filled(shape, width, value),
            precision,
            done: 0,
            t: vec![F::ZERO; shape.batch()],
            output: vec![F::ZERO; shape.len() * self.kind.output_width()],
            y: vec![F::ZERO; width],
            state: vec![F::ZERO; state_len],
            prediction: vec![F::ZERO; state_len],
            previous: vec![F::ZERO; state_len],
            conditioning,
        };
        if let Some(eta) = self.method.eta() {
            flow.flow_space()
                .start(eta, run.rng, &mut run.state, run.input.values_mut());
            run.precision = precision + flow.schedule().beta(F::from_f64(eta));
        }
        run
    }

    /// Runs all n steps and returns the samples, one datum per variable.
    pub fn sample<F: Real, D: Denoiser<F> + ?Sized>(
        &self,
        denoiser: &mut D,
        shape: Shape,
    ) -> Result<Vec<Datum<F, K>>>
    where
        K: DataKind<F>,
    {
        self.sample_observed(denoiser, shape, |_, _| {})
    }

    /// As [`sample`](Self::sample), keeping `constraints`: known values and allowed classes.
    pub fn sample_constrained<F: Real, D: Denoiser<F> + ?Sized>(
        &self,
        denoiser: &mut D,
        shape: Shape,
        constraints: &Constraints<Datum<F, K>>,
    ) -> Result<Vec<Datum<F, K>>>
    where
        K: DataKind<F>,
    {
        self.start_constrained(shape, constraints)?.finish(denoiser)
    }

    /// As [`sample`](Self::sample), showing θ to `observe` before the first step (step 0) and after every step
    /// i: the Bayesian flow of this run, for visualisation.
    pub fn sample_observed<F: Real, D: Denoiser<F> + ?Sized>(
        &self,
        denoiser: &mut D,
        shape: Shape,
        mut observe: impl FnMut(u32, &InputParams<F>),
    ) -> Result<Vec<Datum<F, K>>>
    where
        K: DataKind<F>,
    {
        let mut run = self.start(shape);
        observe(0, run.input_params());
        while !run.is_finished() {
            run.step(denoiser)?;
            observe(run.steps_done(), run.input_params());
        }
        run.finish(denoiser)
    }
}

/// One sampling run in progress: θ, the accumulated precision and the buffers, allocated once.
#[derive(Clone, Debug)]
pub struct Sampling<F: Real, K: DataKind<F>> {
    kind: K,
    method: SamplingMethod,
    steps: u32,
    rng: CounterRng,
    input: InputParams<F>,
    precision: F,
    done: u32,
    t: Vec<F>,
    output: Vec<F>,
    y: Vec<F>,
    /// The few-step samplers' state u (μ, or θ's logits), and x̂ at this step and the one before.
    state: Vec<F>,
    prediction: Vec<F>,
    previous: Vec<F>,
    /// What the run must keep ([`Constraints`]).
    conditioning: Conditioning<Datum<F, K>>,
}

impl<F: Real, K: DataKind<F>> Sampling<F, K> {
    /// θ now.
    pub fn input_params(&self) -> &InputParams<F> {
        &self.input
    }

    /// ρ = 1 + Σα (continuous, discretised) or β = Σα (discrete) accumulated so far; for the other methods, whose
    /// θ follows the Bayesian flow, its ρ = 1 + β(t) or β(t) at the time reached.
    pub fn precision(&self) -> F {
        self.precision
    }

    /// Updates of θ taken.
    pub fn steps_done(&self) -> u32 {
        self.done
    }

    /// n.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// The method.
    pub fn method(&self) -> SamplingMethod {
        self.method
    }

    /// Whether all updates have been taken ([`SamplingMethod::updates`]: n, or n − 1 for the solvers).
    pub fn is_finished(&self) -> bool {
        self.done == self.method.updates(self.steps)
    }

    /// Takes the next update. Fails with [`crate::BfnError::StepOutOfRange`] after the last one, and with
    /// [`crate::BfnError::NotFinite`] if the network's output is not finite (θ is then left as it was).
    pub fn step<D: Denoiser<F> + ?Sized>(&mut self, denoiser: &mut D) -> Result<()> {
        let i = self.done + 1;
        let updates = self.method.updates(self.steps);
        if i > updates {
            return Err(BfnError::StepOutOfRange {
                i: i.into(),
                n: updates.into(),
            });
        }
        let time = |j| self.method.time(j, self.steps);
        let (previous, t, next) = ((i > 1).then(|| time(i - 2)), time(i - 1), time(i));
        let space = self.kind.flow().flow_space();
        match space.update(self.method, previous, t, next) {
            None => self.send(denoiser, Step::new(i, self.steps)?)?,
            Some(update) => self.move_along_flow(denoiser, update, i, t, next)?,
        }
        self.done += 1;
        Ok(())
    }

    /// The standard step: draw from p_O (or take the known value), send it, update θ with Bayes' rule.
    fn send<D: Denoiser<F> + ?Sized>(&mut self, denoiser: &mut D, step: Step) -> Result<()> {
        let t = step.t::<F>();
        self.ask(denoiser, t)?;
        let flow = self.kind.flow();
        let alpha = flow.schedule().alpha::<F>(step);
        let (in_width, out_width) = (flow.input_width(), self.kind.output_width());
        let values = self.input.values_mut();
        for v in 0..values.len() / in_width {
            let noise = variable_noise(self.rng, step.i(), v);
            let theta = &mut values[v * in_width..][..in_width];
            let output = &self.output[v * out_width..][..out_width];
            let datum = match self.conditioning.at(v, t.to_f64()) {
                Some(x) => x,
                None => self.kind.draw_output(theta, output, t, noise),
            };
            flow.sender_sample(datum, alpha, noise, &mut self.y);
            flow.bayesian_update(theta, self.precision, &self.y, alpha);
        }
        self.precision += alpha;
        Ok(())
    }

    /// A few-step sampler's step from t to t′ (update i): u′ = keep·u + pull·x̂ + slope·(x̂ − x̂₋) + noise·ε.
    fn move_along_flow<D: Denoiser<F> + ?Sized>(
        &mut self,
        denoiser: &mut D,
        update: FlowUpdate,
        i: u32,
        t: f64,
        next: f64,
    ) -> Result<()> {
        let t = F::from_f64(t);
        self.ask(denoiser, t)?;
        let flow = self.kind.flow();
        let space = flow.flow_space();
        let (width, out_width) = (flow.input_width(), self.kind.output_width());
        let noise_step = match self.method {
            SamplingMethod::Redraw {
                fixed_noise: true, ..
            } => 0,
            _ => i,
        };
        let [keep, pull, slope, spread] =
            [update.keep, update.pull, update.slope, update.noise].map(F::from_f64);
        let values = self.input.values_mut();
        for (v, ((state, input), (mean, previous))) in self
            .state
            .chunks_exact_mut(width)
            .zip(values.chunks_exact_mut(width))
            .zip(
                self.prediction
                    .chunks_exact_mut(width)
                    .zip(self.previous.chunks_exact(width)),
            )
            .enumerate()
        {
            let output = &self.output[v * out_width..][..out_width];
            match self.conditioning.at(v, t.to_f64()) {
                Some(x) => flow.point_mean(x, mean),
                None => self.kind.output_mean(input, output, t, mean),
            }
            let noise = variable_noise(self.rng, noise_step, v);
            for (k, ((u, &x), &x_prev)) in state.iter_mut().zip(&*mean).zip(previous).enumerate() {
                *u = keep * *u + pull * x + slope * (x - x_prev);
                if update.noise != 0.0 {
                    *u += spread * noise.gaussian(Stream::Flow, k as u32, width as u32);
                }
            }
            space.input_from_state(state, input);
        }
        std::mem::swap(&mut self.prediction, &mut self.previous);
        self.precision = flow.prior().1 + flow.schedule().beta(F::from_f64(next));
        Ok(())
    }

    /// Takes the updates left, then returns the mode of the output distribution for every variable: at t = 1, or
    /// for the solvers at their last grid time t_{n−1} ("last drop").
    pub fn finish<D: Denoiser<F> + ?Sized>(
        &mut self,
        denoiser: &mut D,
    ) -> Result<Vec<Datum<F, K>>> {
        while !self.is_finished() {
            self.step(denoiser)?;
        }
        let t = F::from_f64(self.method.time(self.done, self.steps));
        self.ask(denoiser, t)?;
        let out_width = self.kind.output_width();
        Ok((0..self.input.shape().len())
            .map(|v| {
                let output = &self.output[v * out_width..][..out_width];
                self.conditioning
                    .hard(v)
                    .unwrap_or_else(|| self.kind.output_mode(self.input.variable(v), output, t))
            })
            .collect())
    }

    fn ask<D: Denoiser<F> + ?Sized>(&mut self, denoiser: &mut D, t: F) -> Result<()> {
        self.t.fill(t);
        if self.conditioning.knows_any() {
            let flow = self.kind.flow();
            let width = 1 + flow.input_width();
            let variables = self.input.shape().len();
            let mut context = vec![F::ZERO; variables * width];
            for (v, slot) in context.chunks_exact_mut(width).enumerate() {
                // Held to the end (w = 1): known at the final ask too, where t = 1 is no longer below w.
                let known = self
                    .conditioning
                    .at(v, t.to_f64())
                    .or(self.conditioning.hard(v));
                if let Some(x) = known {
                    slot[0] = F::ONE;
                    flow.point_mean(x, &mut slot[1..]);
                }
            }
            denoiser.output_params_in_context(&self.input, &self.t, &context, &mut self.output)?;
        } else {
            denoiser.output_params(&self.input, &self.t, &mut self.output)?;
        }
        check_finite("network output", self.output.iter().copied())?;
        self.conditioning.forbid(&mut self.output);
        Ok(())
    }
}

/// The noise of variable `v` (flattened over the batch) at `step`.
fn variable_noise(rng: CounterRng, step: u32, v: usize) -> VariableNoise {
    VariableNoise {
        rng,
        step,
        variable: v as u32,
    }
}
