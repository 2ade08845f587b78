// Softmax attention over all tokens (non-causal), fused: scores, softmax and the weighted sum of values in one
// kernel. One workgroup per (query token, head, example); the query's scores stay in workgroup memory. Twin of the
// attention lines of `Gpt::forward` (`src/net/gpt.rs`): q·kᵀ/√(head size), softmax, then ·v.

struct Dims {
    tokens: u32,
    width: u32,
    heads: u32,
    head_size: u32,
}

const LANES: u32 = 64u;
// The host refuses models with more tokens or a larger head (`src/gpu/attention.rs`).
const MAX_TOKENS: u32 = 1024u;
const MAX_HEAD_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read> qkv: array<f32>; // [rows, 3·width]: q, k, v, heads side by side
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // [rows, width]
@group(0) @binding(2) var<uniform> dims: Dims;

var<workgroup> scores: array<f32, MAX_TOKENS>;
var<workgroup> query: array<f32, MAX_HEAD_SIZE>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let token = group.x;
    let head = group.y;
    let example = group.z;
    let stride = 3u * dims.width;
    let first_row = example * dims.tokens;
    let q_at = (first_row + token) * stride + head * dims.head_size;
    for (var j = lane; j < dims.head_size; j += LANES) {
        query[j] = qkv[q_at + j];
    }
    workgroupBarrier();
    let scale = 1.0 / sqrt(f32(dims.head_size));
    var largest = -3.4028235e38;
    for (var key = lane; key < dims.tokens; key += LANES) {
        let k_at = (first_row + key) * stride + dims.width + head * dims.head_size;
        var dot = 0.0;
        for (var j = 0u; j < dims.head_size; j++) {
            dot += query[j] * qkv[k_at + j];
        }
        let score = dot * scale;
        scores[key] = score;
        largest = max(largest, score);
    }
    largest = workgroup_reduce(lane, largest, true);
    var total = 0.0;
    for (var key = lane; key < dims.tokens; key += LANES) {
        let e = exp(scores[key] - largest);
        scores[key] = e;
        total += e;
    }
    total = workgroup_reduce(lane, total, false);
    for (var key = lane; key < dims.tokens; key += LANES) {
        scores[key] = scores[key] / total;
    }
    workgroupBarrier();
    for (var j = lane; j < dims.head_size; j += LANES) {
        var sum = 0.0;
        for (var key = 0u; key < dims.tokens; key++) {
            let v_at = (first_row + key) * stride + 2u * dims.width + head * dims.head_size;
            sum += scores[key] * qkv[v_at + j];
        }
        out[(first_row + token) * dims.width + head * dims.head_size + j] = sum;
    }
}
