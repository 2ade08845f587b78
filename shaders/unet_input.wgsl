// The U-Net's input: per cell the official adapters' features of θ (2θ − 1 per class for discrete data, μ per
// channel otherwise), 2t − 1 as one more channel, and for a model with a context input, per variable of the cell a
// mask and its known value in θ's coordinates (one-hot class, or the value) where the job's constraints condition it
// at t (t < w, or w = 1), zeros where it is free. Twin of the first lines of `Unet::forward` (`src/net/unet.rs`) fed by the
// CPU sampler's context (`Sampling::ask`, `src/flow/sampler.rs`). A guided job runs the batch twice: rows past
// θ's read θ and the constraints from the start again.

struct Dims {
    rows: u32,
    // θ inputs per cell.
    inputs: u32,
    // Rows of θ: the batch's cells.
    theta_rows: u32,
    // Context channels per cell (0: none), and per variable (1 + input width).
    context: u32,
    per_variable: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override DISCRETE: bool = false;

@group(0) @binding(0) var<storage, read> theta: array<f32>;
@group(0) @binding(1) var<storage, read> table: array<StepEntry>;
@group(0) @binding(2) var<storage, read> progress: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>; // [rows, inputs + 1 + context]
@group(0) @binding(4) var<uniform> dims: Dims;
@group(0) @binding(5) var<storage, read> constraints: array<u32>; // `src/gpu/constraints.rs`

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = element_index(id, groups, 256u);
    let width = dims.inputs + 1u + dims.context;
    if (index >= dims.rows * width) {
        return;
    }
    let row = index / width;
    let c = index % width;
    let t = table[progress[0]].t;
    if (c == dims.inputs) {
        x[index] = 2.0 * t - 1.0;
        return;
    }
    let cell = row % dims.theta_rows;
    if (c > dims.inputs) {
        let j = c - dims.inputs - 1u;
        let v = cell * (dims.context / dims.per_variable) + j / dims.per_variable;
        let part = j % dims.per_variable;
        var value = 0.0;
        // Conditioned at t (t < w), or held to the end (w = 1), the final ask at t = 1 included.
        let strength = bitcast<f32>(constraints[2u * v + 1u]);
        if (t < strength || strength == 1.0) {
            if (part == 0u) {
                value = 1.0;
            } else if (DISCRETE) {
                value = select(0.0, 1.0, constraints[2u * v] == part - 1u);
            } else {
                value = bitcast<f32>(constraints[2u * v]);
            }
        }
        x[index] = value;
        return;
    }
    var value = theta[cell * dims.inputs + c];
    if (DISCRETE) {
        value = 2.0 * value - 1.0;
    }
    x[index] = value;
}
