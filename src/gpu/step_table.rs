//! The per-step constants of a sampling job (`StepEntry` in `shaders/step_table.wgsl`), computed once, in `f32`,
//! by the same functions the CPU sampler calls, so that a GPU step uses the very numbers of the CPU step.

use crate::error::Result;
use crate::flow::Step;
use crate::model::Kind;

/// 32-bit words per entry.
pub(crate) const ENTRY_WORDS: usize = 8;

/// Entries 0..n for steps 1..n and entry n for the final ask at t = 1, as 32-bit words.
pub(crate) fn step_table(kind: &Kind, steps: u32) -> Result<Vec<u32>> {
    let schedule = kind.schedule();
    let gaussian = kind.gaussian_input();
    let (_, (_, mut precision)) = kind.input_width_and_prior();
    let mut words = Vec::with_capacity((steps as usize + 1) * ENTRY_WORDS);
    for i in 1..=steps + 1 {
        let (t, alpha) = if i <= steps {
            let step = Step::new(i, steps)?;
            (step.t::<f32>(), schedule.alpha::<f32>(step))
        } else {
            (1.0, 0.0)
        };
        let map = gaussian.and_then(|g| g.noise_to_data::<f32>(t));
        words.extend([
            t.to_bits(),
            alpha.to_bits(),
            precision.to_bits(),
            map.map_or(0.0, |m| m.inv_gamma).to_bits(),
            map.map_or(0.0, |m| m.noise_scale).to_bits(),
            u32::from(map.is_some()),
            i,
            0,
        ]);
        precision += alpha;
    }
    Ok(words)
}
