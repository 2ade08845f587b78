// GroupNorm over the cells of each example (ε = 10⁻⁵, biased variance of the centred values), a gain and a bias
// per channel, then SiLU where the U-Net has one: twin of `GroupNorm::forward` (`src/net/group_norm.rs`). One
// workgroup per (group, example). The input is cells × channels with row stride `in_stride` from column
// `in_offset` (a block of the U-Net's concatenated features, read where it lies), plus, where a residual block
// adds its time features, `shift` [examples, channels]; the output is dense [cells, channels].

struct Dims {
    cells: u32,
    channels: u32,
    groups: u32,
    in_stride: u32,
    in_offset: u32,
    silu: u32,
    shift: u32,
    _pad: u32,
}

const LANES: u32 = 256u;
const EPS: f32 = 1e-5;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> shift: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> dims: Dims;

// Element i of the group (cell-major, then channel) of `example`, shifted.
fn value(example: u32, first: u32, width: u32, i: u32) -> f32 {
    let cell = i / width;
    let channel = first + i % width;
    var v = x[(example * dims.cells + cell) * dims.in_stride + dims.in_offset + channel];
    if (dims.shift == 1u) {
        v += shift[example * dims.channels + channel];
    }
    return v;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) id: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let group = id.x;
    let example = id.y;
    let width = dims.channels / dims.groups;
    let first = group * width;
    let count = dims.cells * width;
    var sum = 0.0;
    for (var i = lane; i < count; i += LANES) {
        sum += value(example, first, width, i);
    }
    let mean = workgroup_sum(lane, sum) / f32(count);
    var squares = 0.0;
    for (var i = lane; i < count; i += LANES) {
        let d = value(example, first, width, i) - mean;
        squares += d * d;
    }
    let scale = 1.0 / sqrt(workgroup_sum(lane, squares) / f32(count) + EPS);
    for (var i = lane; i < count; i += LANES) {
        let cell = i / width;
        let channel = first + i % width;
        var out = (value(example, first, width, i) - mean) * scale * weight[channel] + bias[channel];
        if (dims.silu == 1u) {
            out = out / (1.0 + exp(-out));
        }
        y[(example * dims.cells + cell) * dims.channels + channel] = out;
    }
}
