// The official text input adapter: x = W_in·f(θ) + b_in + position + (w_t·(2t − 1) + b_t), with f(θ) = 2θ − 1 for
// discrete data and μ as it is otherwise, plus the class embedding of the example's label (a conditional model; an
// unconditional one adds a row of zeros). Twin of `Gpt::forward`'s first lines (`src/net/gpt.rs`). Writes the
// residual stream and the second half of the skip head's input. A guided job runs the batch twice: rows past θ's
// read θ from the start again, with their own labels.

struct Dims {
    rows: u32,
    width: u32,
    // Inputs per token.
    inputs: u32,
    tokens: u32,
    // Rows of θ: the batch's tokens.
    theta_rows: u32,
}

override DISCRETE: bool = false;

@group(0) @binding(0) var<storage, read> theta: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>; // [width, inputs], PyTorch's layout
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<f32>; // [tokens, width]
@group(0) @binding(4) var<storage, read> time_weight: array<f32>;
@group(0) @binding(5) var<storage, read> time_bias: array<f32>;
@group(0) @binding(6) var<storage, read> table: array<StepEntry>;
@group(0) @binding(7) var<storage, read> progress: array<u32>;
@group(0) @binding(8) var<storage, read_write> residual: array<f32>; // [rows, width]
@group(0) @binding(9) var<storage, read_write> skip: array<f32>; // [rows, 2·width]
@group(0) @binding(10) var<uniform> dims: Dims;
@group(0) @binding(11) var<storage, read> labels: array<u32>; // per example the network runs on
@group(0) @binding(12) var<storage, read> label_embedding: array<f32>; // [classes + 1, width]

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = element_index(id, groups, 256u);
    if (index >= dims.rows * dims.width) {
        return;
    }
    let row = index / dims.width;
    let j = index % dims.width;
    var sum = 0.0;
    for (var c = 0u; c < dims.inputs; c++) {
        var value = theta[(row % dims.theta_rows) * dims.inputs + c];
        if (DISCRETE) {
            value = 2.0 * value - 1.0;
        }
        sum += weight[j * dims.inputs + c] * value;
    }
    let time = 2.0 * table[progress[0]].t - 1.0;
    let adapted = ((sum + bias[j]) + positions[(row % dims.tokens) * dims.width + j]) + (time_weight[j] * time + time_bias[j]);
    let x = adapted + label_embedding[labels[row / dims.tokens] * dims.width + j];
    residual[index] = x;
    skip[row * 2u * dims.width + dims.width + j] = x;
}
