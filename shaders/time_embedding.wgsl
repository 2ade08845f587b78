// The U-Net's time embedding around its two linear layers (which the matmul runs): `features` copies the
// sinusoidal features of the step's t (computed on the CPU with the CPU network's own function,
// `model::time_features`, a row per step) to one row per example the network runs on; `finish` adds each
// example's class row (the zero row of an unconditional model) to the second layer's output and applies the
// SiLU every residual block's time projection starts with. Twin of `TimeEmbedding::forward` and the class lines
// of `Unet::forward` (`src/net/time_embedding.rs`, `src/net/unet.rs`).

struct Dims {
    rows: u32,
    // Sinusoidal features (`features`) or time features (`finish`) per row.
    width: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> steps: array<f32>; // [table entries, width]: the features of each t
@group(0) @binding(1) var<storage, read> progress: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>; // per example the network runs on
@group(0) @binding(3) var<storage, read> label_embedding: array<f32>; // [classes + 1, width]
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // [rows, width]
@group(0) @binding(5) var<uniform> dims: Dims;

@compute @workgroup_size(64)
fn features(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x;
    if (index < dims.rows * dims.width) {
        out[index] = steps[progress[0] * dims.width + index % dims.width];
    }
}

@compute @workgroup_size(64)
fn finish(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x;
    if (index >= dims.rows * dims.width) {
        return;
    }
    let row = index / dims.width;
    let v = out[index] + label_embedding[labels[row] * dims.width + index % dims.width];
    out[index] = v / (1.0 + exp(-v));
}
