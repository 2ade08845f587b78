// The sampling steps for every variable of a job and the final mode. `step` is the paper's: draw from the output
// distribution p_O, send the draw through the sender with accuracy α, update θ by Bayes' rule. `flow_step` is the
// few-step samplers': move the flow's state u along the Bayesian flow with the table's coefficients. Twin of
// `Sampling::step` / `Sampling::finish` (`src/flow/sampler.rs`) with the data kinds' `draw_output`,
// `sender_sample`, `bayesian_update`, `output_mean` and `output_mode` (`src/flow/{continuous,discretised,
// discrete}.rs`). One invocation per variable; the noise is keyed by (seed, step, variable) as on the CPU.
// Constraints are `Conditioning`'s (`src/flow/constraints.rs`): a known variable takes its value x in place of the
// draw (step) or of x̂ (flow_step) while t < w, its sample is x for w = 1, and a forbidden class's logit is −∞.

struct Job {
    key: vec2<u32>,
    variables: u32,
    // The run's updates u: entry u of the table is the final ask.
    last: u32,
}

// 0: continuous, 1: discretised, 2: discrete (DataKind's three implementations).
override KIND: u32 = 0u;
// Bins (discretised) or classes (discrete).
override CLASSES: u32 = 2u;

// Discretised output distribution: ln σ clamp and σ range (`src/flow/discretised.rs`).
const LN_SIGMA_RANGE: f32 = 10.0;
const SIGMA_MIN: f32 = 1e-3;
const SIGMA_MAX: f32 = 10.0;

@group(0) @binding(0) var<storage, read_write> theta: array<f32>; // [variables, input width]
@group(0) @binding(1) var<storage, read> output: array<f32>; // [variables, output width]
@group(0) @binding(2) var<storage, read_write> preview: array<f32>; // [variables, input width]
@group(0) @binding(3) var<storage, read_write> result: array<u32>; // [variables]
@group(0) @binding(4) var<storage, read> table: array<StepEntry>;
@group(0) @binding(5) var<storage, read_write> progress: array<u32>;
@group(0) @binding(6) var<uniform> job: Job;
// The few-step samplers' state u (μ, or the logits z with θ = softmax(z)) and their previous x̂.
@group(0) @binding(7) var<storage, read_write> state: array<f32>; // [variables, input width]
@group(0) @binding(8) var<storage, read_write> previous: array<f32>; // [variables, input width]
// Per variable its known value (a class, or f32 bits) and strength w (f32 bits, 0 if free); then, for discrete
// data, MASK_WORDS words per variable, bit k set where class k is forbidden (`src/gpu/constraints.rs`).
@group(0) @binding(9) var<storage, read> constraints: array<u32>;

override MASK_WORDS: u32 = (CLASSES + 31u) / 32u;
// −∞ as far as the discrete kernels are concerned (WGSL has no infinity): it loses every comparison with a finite
// logit and exp(FORBIDDEN − m) is 0 for every finite m, as exp(−∞ − m) is on the CPU.
const FORBIDDEN: f32 = -3.4028235e38;

// Whether variable v is conditioned at time t (t < w).
fn is_known_at(v: u32, t: f32) -> bool {
    return t < bitcast<f32>(constraints[2u * v + 1u]);
}

// Whether variable v is held to the end (w = 1): its sample is its known value.
fn is_held(v: u32) -> bool {
    return bitcast<f32>(constraints[2u * v + 1u]) == 1.0;
}

// The known value of variable v (continuous and discretised data).
fn known_value(v: u32) -> f32 {
    return bitcast<f32>(constraints[2u * v]);
}

// A variable held to the end shows its known value in the preview, not the network's belief: that value is what its
// sample will be, and a designer who painted it should see it painted.
fn preview_held(v: u32) {
    if (!is_held(v)) {
        return;
    }
    if (KIND == 2u) {
        for (var k = 0u; k < CLASSES; k++) {
            preview[v * CLASSES + k] = select(0.0, 1.0, k == constraints[2u * v]);
        }
    } else {
        preview[v] = known_value(v);
    }
}

// Logit k of variable v, FORBIDDEN where the class is not allowed (`Conditioning::forbid`).
fn logit(v: u32, k: u32) -> f32 {
    let mask = constraints[2u * job.variables + v * MASK_WORDS + k / 32u];
    if (((mask >> (k % 32u)) & 1u) != 0u) {
        return FORBIDDEN;
    }
    return output[v * CLASSES + k];
}

struct Normal {
    mean: f32,
    scale: f32,
}

// x̂ = μ/γ − √((1 − γ)/γ)·ε̂, clamped to the data range; 0 before t_min.
fn continuous_estimate(mu: f32, eps: f32, entry: StepEntry) -> f32 {
    if (entry.has_map == 0u) {
        return 0.0;
    }
    return clamp(mu * entry.inv_gamma - entry.noise_scale * eps, -1.0, 1.0);
}

fn discretised_normal(mu: f32, v: u32, entry: StepEntry) -> Normal {
    var p = Normal(0.0, 1.0);
    if (entry.has_map != 0u) {
        p = Normal(mu * entry.inv_gamma - entry.noise_scale * output[2u * v],
                   entry.noise_scale * exp(clamp(output[2u * v + 1u], -LN_SIGMA_RANGE, LN_SIGMA_RANGE)));
    }
    p.scale = clamp(p.scale, SIGMA_MIN, SIGMA_MAX);
    return p;
}

fn bin_centre(k: u32) -> f32 {
    return f32(2u * k + 1u) / f32(CLASSES) - 1.0;
}

fn bin_of(x: f32) -> u32 {
    let k = floor((x * 0.5 + 0.5) * f32(CLASSES));
    return u32(clamp(k, 0.0, f32(CLASSES - 1u)));
}

// erfc(x) for x ≥ 0 with relative error below 1.2e−7 (Numerical Recipes' Chebyshev fit); the CPU uses libm's.
fn erfc_positive(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    return t * exp(poly);
}

// Φ(z) = ½·erfc(−z/√2), with the upper tail taken from the complement so that both tails keep their digits.
fn std_normal_cdf(z: f32) -> f32 {
    let u = -z * 0.7071067811865476;
    if (u >= 0.0) {
        return 0.5 * erfc_positive(u);
    }
    return 1.0 - 0.5 * erfc_positive(-u);
}

// Mass of bin k (the end bins absorb the tails), from the nearer tail: `DiscretisedNormal::prob`.
fn bin_mass(p: Normal, k: u32) -> f32 {
    let width = 2.0 / f32(CLASSES);
    let z_lo = (width * f32(k) - 1.0 - p.mean) / p.scale;
    let z_hi = (width * f32(k + 1u) - 1.0 - p.mean) / p.scale;
    if (k > 0u && z_lo > 0.0) {
        var upper = 0.0;
        if (k + 1u < CLASSES) {
            upper = std_normal_cdf(-z_hi);
        }
        return std_normal_cdf(-z_lo) - upper;
    }
    var hi = 1.0;
    if (k + 1u < CLASSES) {
        hi = std_normal_cdf(z_hi);
    }
    var lo = 0.0;
    if (k > 0u) {
        lo = std_normal_cdf(z_lo);
    }
    return hi - lo;
}

// Σ_k p(k)·centre(k): `DiscretisedNormal::mean_value`.
fn discretised_mean(p: Normal) -> f32 {
    var mean = 0.0;
    for (var k = 0u; k < CLASSES; k++) {
        mean += bin_mass(p, k) * bin_centre(k);
    }
    return mean;
}

fn largest_logit(v: u32) -> f32 {
    var largest = logit(v, 0u);
    for (var k = 1u; k < CLASSES; k++) {
        largest = max(largest, logit(v, k));
    }
    return largest;
}

// Σ_k exp(logit_k − largest) over variable v's output logits: p_O's unnormalised weights summed.
fn output_weight_sum(v: u32, largest: f32) -> f32 {
    var total = 0.0;
    for (var k = 0u; k < CLASSES; k++) {
        total += exp(logit(v, k) - largest);
    }
    return total;
}

// θ ← softmax(θ) for the K logits from `base`, as `softmax_in_place` computes it: exp(z − (max + ln Σ exp(z − max))).
fn softmax_theta(base: u32) {
    var largest = theta[base];
    for (var k = 1u; k < CLASSES; k++) {
        largest = max(largest, theta[base + k]);
    }
    var norm = 0.0;
    for (var k = 0u; k < CLASSES; k++) {
        norm += exp(theta[base + k] - largest);
    }
    norm = largest + log(norm);
    for (var k = 0u; k < CLASSES; k++) {
        theta[base + k] = exp(theta[base + k] - norm);
    }
}

// y = x + N(0, 1/α), then μ ← (ρμ + αy)/(ρ + α).
fn gaussian_update(v: u32, x: f32, entry: StepEntry) {
    let y = x + random_gaussian(job.key, entry.step, STREAM_SENDER, v) / sqrt(entry.alpha);
    theta[v] = (entry.accumulated * theta[v] + entry.alpha * y) / (entry.accumulated + entry.alpha);
}

// Draw a class by inversion of p_O = softmax(logits) (or take the known class), then
// y_k = α(K·[k = x] − 1) + √(αK)·N(0, 1) and θ ← softmax(ln θ + y).
fn discrete_step(v: u32, entry: StepEntry) {
    let base = v * CLASSES;
    let largest = largest_logit(v);
    let total = output_weight_sum(v, largest);
    let threshold = random_uniform(job.key, entry.step, STREAM_OUTPUT, v) * total;
    var cumulative = 0.0;
    var drawn = 0u;
    var found = false;
    for (var k = 0u; k < CLASSES; k++) {
        let w = exp(logit(v, k) - largest);
        preview[base + k] = w / total;
        if (w > 0.0 && !found) {
            cumulative += w;
            drawn = k;
            found = threshold < cumulative;
        }
    }
    if (is_known_at(v, entry.t)) {
        drawn = constraints[2u * v];
    }
    let classes = f32(CLASSES);
    let spread = sqrt(entry.alpha * classes);
    for (var k = 0u; k < CLASSES; k++) {
        var mean = -entry.alpha;
        if (k == drawn) {
            mean = entry.alpha * (classes - 1.0);
        }
        let y = mean + spread * random_gaussian(job.key, entry.step, STREAM_SENDER, v * CLASSES + k);
        theta[base + k] = log(theta[base + k]) + y;
    }
    softmax_theta(base);
}

@compute @workgroup_size(64)
fn step(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let v = element_index(id, groups, 64u);
    if (v >= job.variables) {
        return;
    }
    let entry = table[progress[0]];
    if (KIND == 2u) {
        discrete_step(v, entry);
    } else if (KIND == 1u) {
        let p = discretised_normal(theta[v], v, entry);
        preview[v] = clamp(p.mean, -1.0, 1.0);
        let draw = p.mean + p.scale * random_gaussian(job.key, entry.step, STREAM_OUTPUT, v);
        gaussian_update(v, select(bin_centre(bin_of(draw)), known_value(v), is_known_at(v, entry.t)), entry);
    } else {
        let x = continuous_estimate(theta[v], output[v], entry);
        preview[v] = x;
        gaussian_update(v, select(x, known_value(v), is_known_at(v, entry.t)), entry);
    }
    preview_held(v);
}

// A few-step sampler's update (`Sampling::move_along_flow`): x̂ = the mean of p_O at t (`output_mean`: p̂, the
// clipped x̂, or the discretised distribution's mean), u′ = keep·u + pull·x̂ + slope·(x̂ − x̂₋) + noise·ε, and θ
// from u′ (μ = u, or θ = softmax(z)). A known variable takes x (its one-hot, or its value) for x̂. x̂ is kept as the
// next step's x̂₋.
@compute @workgroup_size(64)
fn flow_step(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let v = element_index(id, groups, 64u);
    if (v >= job.variables) {
        return;
    }
    let entry = table[progress[0]];
    var width = 1u;
    var log_norm = 0.0;
    if (KIND == 2u) {
        width = CLASSES;
        let largest = largest_logit(v);
        // ln Σ exp(logit), so that p̂ = exp(logit − log_norm) as `softmax_in_place` computes it.
        log_norm = largest + log(output_weight_sum(v, largest));
    }
    let base = v * width;
    for (var k = 0u; k < width; k++) {
        var x: f32;
        if (KIND == 2u) {
            x = exp(logit(v, k) - log_norm);
            preview[base + k] = x;
        } else if (KIND == 1u) {
            let p = discretised_normal(theta[v], v, entry);
            preview[v] = clamp(p.mean, -1.0, 1.0);
            x = discretised_mean(p);
        } else {
            x = continuous_estimate(theta[v], output[v], entry);
            preview[v] = x;
        }
        if (is_known_at(v, entry.t)) {
            x = select(known_value(v), select(0.0, 1.0, k == constraints[2u * v]), KIND == 2u);
        }
        var u = entry.keep * state[base + k] + entry.pull * x + entry.slope * (x - previous[base + k]);
        if (entry.noise != 0.0) {
            u += entry.noise * random_gaussian(job.key, entry.step, STREAM_FLOW, base + k);
        }
        state[base + k] = u;
        previous[base + k] = x;
        theta[base + k] = u;
    }
    if (KIND == 2u) {
        softmax_theta(base);
    }
    preview_held(v);
}

// The mode of p_O at the final entry's time (t = 1, or the solvers' t_{n−1}), or the known value of a variable held
// to the end: the sample (class index, or the value's f32 bits).
@compute @workgroup_size(64)
fn finish(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let v = element_index(id, groups, 64u);
    if (v >= job.variables) {
        return;
    }
    let entry = table[job.last];
    if (is_held(v)) {
        result[v] = constraints[2u * v];
    } else if (KIND == 2u) {
        var best = 0u;
        for (var k = 1u; k < CLASSES; k++) {
            if (logit(v, k) > logit(v, best)) {
                best = k;
            }
        }
        result[v] = best;
    } else if (KIND == 1u) {
        let p = discretised_normal(theta[v], v, entry);
        var best = 0u;
        var best_mass = bin_mass(p, 0u);
        for (var k = 1u; k < CLASSES; k++) {
            let mass = bin_mass(p, k);
            if (mass > best_mass) {
                best = k;
                best_mass = mass;
            }
        }
        result[v] = bitcast<u32>(bin_centre(best));
    } else {
        result[v] = bitcast<u32>(continuous_estimate(theta[v], output[v], entry));
    }
}

// Moves the job's counter to the next table entry; one invocation, after every step's update.
@compute @workgroup_size(1)
fn advance() {
    progress[0] = min(progress[0] + 1u, job.last);
}
