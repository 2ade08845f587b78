// C = epilogue(A·B + bias): the networks' linear layers (PyTorch's x·Wᵀ + b, with W uploaded transposed as B)
// and, as implicit GEMM, the U-Net's convolutions. Tiled and register-blocked: a workgroup of 16×16 invocations
// computes a 64×64 tile of C, each invocation a 4×4 block, from 64×16 and 16×64 tiles of A and B staged in
// workgroup memory. Twin of candle's `Linear::forward` and of `net::fused::conv2d`.
//
// A convolution (CONV) reads A as the unfolded input it never writes out: row r is output cell r of a canvas of
// [examples, out_height, out_width] cells, column k is tap k / in_channels (dy·3 + dx of the 3×3 kernel) of input
// channel k % in_channels, zero outside the canvas. The input is cells × channels with row stride `lda` from
// column `a_offset`: a kept block inside the buffer of the two blocks the U-Net concatenates, read where it lies.
// With `upsample`, the input canvas is half the output's and read at (y / 2, x / 2): nearest doubling, fused.

struct Dims {
    m: u32,
    n: u32,
    k: u32,
    // Row strides of A and C (each may be a column block of a wider matrix, at `a_offset` and `c_offset`).
    lda: u32,
    ldc: u32,
    c_offset: u32,
    a_offset: u32,
    // Convolutions only.
    in_height: u32,
    in_width: u32,
    out_height: u32,
    out_width: u32,
    stride: u32,
    in_channels: u32,
    upsample: u32,
}

// 0: C = A·B + bias. 1: C = gelu(A·B + bias) (tanh form). 2: C += A·B + bias (the residual connection).
// 3: C = silu(A·B + bias).
override EPILOGUE: u32 = 0u;
// Whether A is a 3×3 convolution's unfolded input (see above) or a matrix.
override CONV: bool = false;

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
    if (row >= dims.m || col >= dims.k) {
        return 0.0;
    }
    if (!CONV) {
        return a[row * dims.lda + dims.a_offset + col];
    }
    let cells = dims.out_height * dims.out_width;
    let example = row / cells;
    let cell = row % cells;
    let tap = col / dims.in_channels;
    // The cell of the (virtual, when upsampling) input canvas the tap reads; padding 1 on every side.
    let y = i32((cell / dims.out_width) * dims.stride + tap / 3u) - 1;
    let x = i32((cell % dims.out_width) * dims.stride + tap % 3u) - 1;
    let factor = 1u + dims.upsample;
    if (y < 0 || x < 0 || u32(y) >= dims.in_height * factor || u32(x) >= dims.in_width * factor) {
        return 0.0;
    }
    let source = (example * dims.in_height + u32(y) / factor) * dims.in_width + u32(x) / factor;
    return a[source * dims.lda + dims.a_offset + col % dims.in_channels];
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
            } else if (EPILOGUE == 3u) {
                c[at] = value / (1.0 + exp(-value));
            } else if (EPILOGUE == 2u) {
                c[at] = c[at] + value;
            } else {
                c[at] = value;
            }
        }
    }
}
