// The U-Net's input: per cell the official adapters' features of θ (2θ − 1 per class for discrete data, μ per
// channel otherwise) and 2t − 1 as one more channel. Twin of the first lines of `Unet::forward`
// (`src/net/unet.rs`). A guided job runs the batch twice: rows past θ's read θ from the start again.

struct Dims {
    rows: u32,
    // Inputs per cell, the time's channel not counted.
    inputs: u32,
    // Rows of θ: the batch's cells.
    theta_rows: u32,
    _pad: u32,
}

override DISCRETE: bool = false;

@group(0) @binding(0) var<storage, read> theta: array<f32>;
@group(0) @binding(1) var<storage, read> table: array<StepEntry>;
@group(0) @binding(2) var<storage, read> progress: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>; // [rows, inputs + 1]
@group(0) @binding(4) var<uniform> dims: Dims;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = element_index(id, groups, 256u);
    let width = dims.inputs + 1u;
    if (index >= dims.rows * width) {
        return;
    }
    let row = index / width;
    let c = index % width;
    if (c == dims.inputs) {
        x[index] = 2.0 * table[progress[0]].t - 1.0;
        return;
    }
    var value = theta[(row % dims.theta_rows) * dims.inputs + c];
    if (DISCRETE) {
        value = 2.0 * value - 1.0;
    }
    x[index] = value;
}
