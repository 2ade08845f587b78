// The per-step constants of a sampling job, computed once on the CPU in f32 exactly as the CPU sampler computes
// them (`src/gpu/step_table.rs`), and the GPU-side counter that says which entry the job is at. Entry i < u (the
// run's updates) asks the network at t_i and moves θ to t_{i+1}; entry u is the final ask (at t = 1, or for the
// solvers at t_{n−1}).
struct StepEntry {
    t: f32,
    // The standard sampler's α of this step (0 for the others).
    alpha: f32,
    // ρ (or β for discrete data) accumulated before this step, by the standard sampler.
    accumulated: f32,
    // The noise-to-data map x̂ = μ·inv_gamma − noise_scale·ε̂ at t (continuous and discretised data).
    inv_gamma: f32,
    noise_scale: f32,
    // 0 where t < t_min: x̂ is then 0 (the map would divide by γ ≈ 0).
    has_map: u32,
    // The step index the noise is keyed by.
    step: u32,
    // The few-step samplers' update u′ = keep·u + pull·x̂ + slope·(x̂ − x̂₋) + noise·ε (`FlowSpace::update`).
    keep: f32,
    pull: f32,
    slope: f32,
    noise: f32,
    padding: u32,
}
