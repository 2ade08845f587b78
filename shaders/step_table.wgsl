// The per-step constants of a sampling job, computed once on the CPU in f32 exactly as the CPU sampler computes
// them (`src/gpu/step_table.rs`), and the GPU-side counter that says which entry the job is at. Entry i < n is
// step i + 1 (network at t = i/n, then the Bayesian update with α_{i+1}); entry n is the final ask at t = 1.
struct StepEntry {
    t: f32,
    alpha: f32,
    // ρ (or β for discrete data) accumulated before this step.
    accumulated: f32,
    // The noise-to-data map x̂ = μ·inv_gamma − noise_scale·ε̂ at t (continuous and discretised data).
    inv_gamma: f32,
    noise_scale: f32,
    // 0 where t < t_min: x̂ is then 0 (the map would divide by γ ≈ 0).
    has_map: u32,
    // The step index i the noise is keyed by.
    step: u32,
    padding: u32,
}
