//! The n-step sampler (paper Algorithms 3, 6 and 9), generic over the data kind and the network.
//!
//! Step i = 1..n: ask the network for the output distribution at t = (i − 1)/n, draw a value from it, send it
//! through the sender with accuracy α_i and update θ with Bayes' rule. After the last step the network is asked
//! once more, at t = 1, and the mode of its output distribution is the sample. All noise comes from a
//! [`CounterRng`] keyed by (seed, step, variable), so one seed gives one trajectory, on the CPU or the GPU.

use crate::error::Result;
use crate::flow::accuracy_schedule::check_steps;
use crate::flow::input_params::check_finite;
use crate::flow::{
    BayesianFlow, CounterRng, DataKind, Datum, InputParams, Real, Shape, Step, VariableNoise,
};

/// The network, seen from the sampler: θ and t in, output parameters out.
///
/// `t` holds one time per example; `output` has [`DataKind::output_width`] values per variable. Closures of
/// the same signature are denoisers, which is how tests plug in known-answer networks.
pub trait Denoiser<F: Real> {
    /// Writes the output parameters for θ at times `t` into `output`.
    fn output_params(&mut self, input: &InputParams<F>, t: &[F], output: &mut [F]) -> Result<()>;
}

impl<F: Real, T> Denoiser<F> for T
where
    T: FnMut(&InputParams<F>, &[F], &mut [F]) -> Result<()>,
{
    fn output_params(&mut self, input: &InputParams<F>, t: &[F], output: &mut [F]) -> Result<()> {
        self(input, t, output)
    }
}

/// How to sample: the data kind, the number of steps n and the seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampler<K> {
    kind: K,
    steps: u32,
    seed: u64,
}

impl<K> Sampler<K> {
    /// Checks 1 ≤ n ≤ [`crate::flow::MAX_STEPS`].
    pub fn new(kind: K, steps: u32, seed: u64) -> Result<Self> {
        check_steps(steps)?;
        Ok(Self { kind, steps, seed })
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
        let (value, precision) = self.kind.flow().prior();
        Sampling {
            kind: self.kind,
            steps: self.steps,
            rng: CounterRng::new(self.seed),
            input: InputParams::filled(shape, self.kind.flow().input_width(), value),
            precision,
            done: 0,
            t: vec![F::ZERO; shape.batch()],
            output: vec![F::ZERO; shape.len() * self.kind.output_width()],
            y: vec![F::ZERO; self.kind.flow().input_width()],
        }
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
pub struct Sampling<F, K> {
    kind: K,
    steps: u32,
    rng: CounterRng,
    input: InputParams<F>,
    precision: F,
    done: u32,
    t: Vec<F>,
    output: Vec<F>,
    y: Vec<F>,
}

impl<F: Real, K: DataKind<F>> Sampling<F, K> {
    /// θ now.
    pub fn input_params(&self) -> &InputParams<F> {
        &self.input
    }

    /// ρ = 1 + Σα (continuous, discretised) or β = Σα (discrete) accumulated so far.
    pub fn precision(&self) -> F {
        self.precision
    }

    /// Steps taken.
    pub fn steps_done(&self) -> u32 {
        self.done
    }

    /// n.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Whether all n steps have been taken.
    pub fn is_finished(&self) -> bool {
        self.done == self.steps
    }

    /// Takes the next step. Fails with [`crate::BfnError::StepOutOfRange`] after the last one, and with
    /// [`crate::BfnError::NotFinite`] if the network's output is not finite (θ is then left as it was).
    pub fn step<D: Denoiser<F> + ?Sized>(&mut self, denoiser: &mut D) -> Result<()> {
        let step = Step::new(self.done + 1, self.steps)?;
        let t = step.t::<F>();
        self.ask(denoiser, t)?;
        let flow = self.kind.flow();
        let alpha = flow.schedule().alpha::<F>(step);
        let (in_width, out_width) = (flow.input_width(), self.kind.output_width());
        let values = self.input.values_mut();
        for v in 0..values.len() / in_width {
            let noise = VariableNoise {
                rng: self.rng,
                step: step.i(),
                variable: v as u32,
            };
            let theta = &mut values[v * in_width..][..in_width];
            let output = &self.output[v * out_width..][..out_width];
            let datum = self.kind.draw_output(theta, output, t, noise);
            flow.sender_sample(datum, alpha, noise, &mut self.y);
            flow.bayesian_update(theta, self.precision, &self.y, alpha);
        }
        self.precision += alpha;
        self.done += 1;
        Ok(())
    }

    /// Takes the steps left, then returns the mode of the output distribution at t = 1 for every variable.
    pub fn finish<D: Denoiser<F> + ?Sized>(
        &mut self,
        denoiser: &mut D,
    ) -> Result<Vec<Datum<F, K>>> {
        while !self.is_finished() {
            self.step(denoiser)?;
        }
        self.ask(denoiser, F::ONE)?;
        let out_width = self.kind.output_width();
        Ok((0..self.input.shape().len())
            .map(|v| {
                let output = &self.output[v * out_width..][..out_width];
                self.kind
                    .output_mode(self.input.variable(v), output, F::ONE)
            })
            .collect())
    }

    fn ask<D: Denoiser<F> + ?Sized>(&mut self, denoiser: &mut D, t: F) -> Result<()> {
        self.t.fill(t);
        denoiser.output_params(&self.input, &self.t, &mut self.output)?;
        check_finite("network output", self.output.iter().copied())
    }
}
