// LayerNorm over each row (ε = 10⁻⁵, biased variance of the centred values): twin of `LayerNorm::forward` in
// `src/net/gpt.rs`. One workgroup per row; the output may be a column block of a wider matrix (the skip head).

struct Dims {
    width: u32,
    out_stride: u32,
    out_offset: u32,
    rows: u32,
}

const LANES: u32 = 128u;
const EPS: f32 = 1e-5;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> dims: Dims;

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
    let row = group.x + group.y * groups.x;
    // Whole workgroups leave together, so the barriers below stay uniform.
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.width;
    let n = f32(dims.width);
    var sum = 0.0;
    for (var j = lane; j < dims.width; j += LANES) {
        sum += x[base + j];
    }
    let mean = workgroup_sum(lane, sum) / n;
    var squares = 0.0;
    for (var j = lane; j < dims.width; j += LANES) {
        let centred = x[base + j] - mean;
        squares += centred * centred;
    }
    let scale = sqrt(workgroup_sum(lane, squares) / n + EPS);
    for (var j = lane; j < dims.width; j += LANES) {
        y[row * dims.out_stride + dims.out_offset + j] = (x[base + j] - mean) / scale * weight[j] + bias[j];
    }
}
