//! The per-step constants of a sampling job (`StepEntry` in `shaders/step_table.wgsl`), computed once, in `f32`,
//! by the same functions the CPU sampler calls, so that a GPU step uses the very numbers of the CPU step: the
//! standard sampler's accuracies, and the few-step samplers' coefficients from [`FlowSpace::update`], which
//! works in `f64` and would not survive a port to WGSL's `f32` anyway.

use crate::error::Result;
use crate::flow::{BayesianFlow, FlowSpace, FlowUpdate, SamplingMethod, Step};
use crate::model::Kind;

/// 32-bit words per entry.
pub(crate) const ENTRY_WORDS: usize = 12;

/// Entries 0..u for the u updates of `method`'s run of n ([`SamplingMethod::updates`]), each asking the network
/// at t_i and moving θ to t_{i+1}, and entry u for the final ask: at t = 1, or for the solvers at t_{n−1}.
pub(crate) fn step_table(kind: &Kind, method: SamplingMethod, steps: u32) -> Result<Vec<u32>> {
    let schedule = kind.schedule();
    let gaussian = kind.gaussian_input();
    let space = flow_space(kind);
    let (_, (_, mut precision)) = kind.input_width_and_prior();
    let updates = method.updates(steps);
    let time = |i| method.time(i, steps);
    let mut words = Vec::with_capacity((updates as usize + 1) * ENTRY_WORDS);
    for i in 0..=updates {
        let t = time(i);
        let (alpha, flow) = if i < updates {
            let previous = (i > 0).then(|| time(i - 1));
            let flow = space.update(method, previous, t, time(i + 1));
            let alpha = match flow {
                None => schedule.alpha::<f32>(Step::new(i + 1, steps)?),
                Some(_) => 0.0,
            };
            (alpha, flow)
        } else {
            (0.0, None)
        };
        let t = t as f32;
        let map = gaussian.and_then(|g| g.noise_to_data::<f32>(t));
        let FlowUpdate {
            keep,
            pull,
            slope,
            noise,
        } = flow.unwrap_or(FlowUpdate {
            keep: 1.0,
            pull: 0.0,
            slope: 0.0,
            noise: 0.0,
        });
        // A redraw with fixed noise draws step 0's ε at every step.
        let noise_step = match method {
            SamplingMethod::Redraw {
                fixed_noise: true, ..
            } => 0,
            _ => i + 1,
        };
        words.extend([
            t.to_bits(),
            alpha.to_bits(),
            precision.to_bits(),
            map.map_or(0.0, |m| m.inv_gamma).to_bits(),
            map.map_or(0.0, |m| m.noise_scale).to_bits(),
            u32::from(map.is_some()),
            noise_step,
            (keep as f32).to_bits(),
            (pull as f32).to_bits(),
            (slope as f32).to_bits(),
            (noise as f32).to_bits(),
            0,
        ]);
        precision += alpha;
    }
    Ok(words)
}

/// The kind's input side as one Gaussian ([`BayesianFlow::flow_space`]).
pub(crate) fn flow_space(kind: &Kind) -> FlowSpace {
    match kind {
        Kind::Continuous(k) => BayesianFlow::<f32>::flow_space(k.input()),
        Kind::Discretised(k) => BayesianFlow::<f32>::flow_space(k.input()),
        Kind::Discrete(k) => BayesianFlow::<f32>::flow_space(k.input()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Discrete;

    /// The words of entry `i` as (t, the update's coefficients, the noise step).
    fn entry(words: &[u32], i: usize) -> (f32, [f32; 4], u32) {
        let e = &words[i * ENTRY_WORDS..][..ENTRY_WORDS];
        let f = |w: usize| f32::from_bits(e[w]);
        (f(0), [f(7), f(8), f(9), f(10)], e[6])
    }

    #[test]
    fn entries_follow_each_samplers_grid_and_end_on_its_last_ask() {
        let kind = Kind::Discrete(Discrete::new(3.0, 5).unwrap());
        let space = flow_space(&kind);
        let eta = 0.01;
        let method = SamplingMethod::Ode2 { eta };
        let words = step_table(&kind, method, 4).unwrap();
        assert_eq!(words.len(), 4 * ENTRY_WORDS, "3 updates and the last drop");
        let time = |i| method.time(i, 4);
        let update = space
            .update(method, Some(time(0)), time(1), time(2))
            .unwrap();
        let coefficients = [update.keep, update.pull, update.slope, update.noise].map(|c| c as f32);
        assert_eq!(entry(&words, 1), (time(1) as f32, coefficients, 2));
        assert_eq!(
            entry(&words, 3).0,
            time(3) as f32,
            "the sample is asked at t_{{n−1}}"
        );

        let redraw = SamplingMethod::Redraw {
            temperature: 1.0,
            fixed_noise: true,
        };
        let words = step_table(&kind, redraw, 4).unwrap();
        assert_eq!(words.len(), 5 * ENTRY_WORDS);
        assert_eq!(entry(&words, 2).2, 0, "fixed noise: step 0's ε every step");
        assert_eq!(entry(&words, 4).0, 1.0);
    }
}
