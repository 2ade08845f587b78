// The counter-based random generator, WGSL twin of `src/flow/rng.rs` (Threefry-2×32-20 keyed by the seed,
// counter = (step · 4 + stream, index)); the GPU draws the same bits as the CPU for every (step, stream, index).

const STREAM_OUTPUT: u32 = 0u;
const STREAM_SENDER: u32 = 1u;
const STREAM_FLOW: u32 = 2u;
const PI: f32 = 3.141592653589793;

fn rotate_left(x: u32, r: u32) -> u32 {
    return (x << r) | (x >> (32u - r));
}

fn threefry2x32(key: vec2<u32>, counter: vec2<u32>) -> vec2<u32> {
    var schedule = array<u32, 3>(key.x, key.y, 0x1BD11BDAu ^ key.x ^ key.y);
    var rotations = array<u32, 8>(13u, 15u, 26u, 6u, 17u, 29u, 16u, 24u);
    var x0 = counter.x + schedule[0];
    var x1 = counter.y + schedule[1];
    for (var round = 0u; round < 20u; round++) {
        x0 += x1;
        x1 = rotate_left(x1, rotations[round % 8u]) ^ x0;
        if (round % 4u == 3u) {
            let s = round / 4u + 1u;
            x0 += schedule[s % 3u];
            x1 += schedule[(s + 1u) % 3u] + s;
        }
    }
    return vec2<u32>(x0, x1);
}

fn random_bits(key: vec2<u32>, step: u32, stream: u32, index: u32) -> vec2<u32> {
    return threefry2x32(key, vec2<u32>((step << 2u) | stream, index));
}

// (2m + 1)·2⁻²⁴ for the top 23 bits m: exact in f32, so bit-identical to the CPU's.
fn bits_to_uniform(bits: u32) -> f32 {
    return f32(((bits >> 9u) << 1u) | 1u) * (1.0 / 16777216.0);
}

fn random_uniform(key: vec2<u32>, step: u32, stream: u32, index: u32) -> f32 {
    return bits_to_uniform(random_bits(key, step, stream, index).x);
}

// Box–Muller with the angle in (−π, π), as the CPU draws it.
fn random_gaussian(key: vec2<u32>, step: u32, stream: u32, index: u32) -> f32 {
    let bits = random_bits(key, step, stream, index);
    let radius = sqrt(-2.0 * log(bits_to_uniform(bits.x)));
    let angle = PI * (2.0 * bits_to_uniform(bits.y) - 1.0);
    return radius * cos(angle);
}
