// C = epilogue(A·B + bias): the network's linear layers (PyTorch's x·Wᵀ + b, with W uploaded transposed as B).
// Tiled and register-blocked: a workgroup of 16×16 invocations computes a 64×64 tile of C, each invocation a 4×4
// block, from 64×16 and 16×64 tiles of A and B staged in workgroup memory. Twin of candle's `Linear::forward`.

struct Dims {
    m: u32,
    n: u32,
    k: u32,
    // Row strides of A and C (C may be a column block of a wider matrix, at `c_offset`).
    lda: u32,
    ldc: u32,
    c_offset: u32,
}

// 0: C = A·B + bias. 1: C = gelu(A·B + bias) (tanh form). 2: C += A·B + bias (the residual connection).
override EPILOGUE: u32 = 0u;

const TILE: u32 = 64u;
const DEPTH: u32 = 16u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> dims: Dims;

// Both tiles k-major, so that an invocation reads its 4 rows of A and 4 columns of B as one vec4 each.
var<workgroup> tile_a: array<vec4<f32>, 256>; // [DEPTH][TILE / 4]
var<workgroup> tile_b: array<vec4<f32>, 256>; // [DEPTH][TILE / 4]

fn gelu(x: f32) -> f32 {
    // tanh saturates long before |u| = 10; clamping keeps drivers whose tanh overflows for large |u| exact.
    let u = clamp(0.7978845608028654 * x * (1.0 + 0.044715 * x * x), -10.0, 10.0);
    return 0.5 * x * (1.0 + tanh(u));
}

fn load_a(row: u32, col: u32) -> f32 {
    if (row < dims.m && col < dims.k) {
        return a[row * dims.lda + col];
    }
    return 0.0;
}

fn load_b(row: u32, col: u32) -> f32 {
    if (row < dims.k && col < dims.n) {
        return b[row * dims.n + col];
    }
    return 0.0;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
    let row0 = group.y * TILE;
    let col0 = group.x * TILE;
    let lane = local.y * 16u + local.x;
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < dims.k; k0 += DEPTH) {
        // 256 invocations stage 64×16 values of each: one vec4 (4 rows of A, or 4 columns of B) each.
        {
            let kk = lane % DEPTH;
            let r = (lane / DEPTH) * 4u;
            tile_a[kk * 16u + lane / DEPTH] = vec4<f32>(
                load_a(row0 + r, k0 + kk), load_a(row0 + r + 1u, k0 + kk),
                load_a(row0 + r + 2u, k0 + kk), load_a(row0 + r + 3u, k0 + kk));
            let kb = lane / 16u;
            let cb = (lane % 16u) * 4u;
            tile_b[kb * 16u + lane % 16u] = vec4<f32>(
                load_b(k0 + kb, col0 + cb), load_b(k0 + kb, col0 + cb + 1u),
                load_b(k0 + kb, col0 + cb + 2u), load_b(k0 + kb, col0 + cb + 3u));
        }
        workgroupBarrier();
        for (var kk = 0u; kk < DEPTH; kk++) {
            let av = tile_a[kk * 16u + local.y];
            let bv = tile_b[kk * 16u + local.x];
            acc[0] += av.x * bv;
            acc[1] += av.y * bv;
            acc[2] += av.z * bv;
            acc[3] += av.w * bv;
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + local.y * 4u + i;
        if (row >= dims.m) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + local.x * 4u + j;
            if (col >= dims.n) {
                break;
            }
            let value = acc[i][j] + bias[col];
            let at = row * dims.ldc + dims.c_offset + col;
            if (EPILOGUE == 1u) {
                c[at] = gelu(value);
            } else if (EPILOGUE == 2u) {
                c[at] = c[at] + value;
            } else {
                c[at] = value;
            }
        }
    }
}
