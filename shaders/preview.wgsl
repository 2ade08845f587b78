// The job's preview as an image: each texel gathers its variables from the preview buffer through a pixel map
// made once on the CPU (patches unfolded, examples side by side). Discrete variables are drawn as the
// probability-weighted mix of their classes' colours, so uncertain cells look blended and settle as θ sharpens;
// values in [−1, 1] as grey, RGB or RGBA. Twin of `net::content::example_pixels`, which draws the final samples.

struct Dims {
    width: u32,
    height: u32,
    // Channels per pixel (values) or classes per variable (discrete).
    channels: u32,
    discrete: u32,
    // Values are multiplied by this before they become levels: K/(K − 1) for discretised data, so that the lowest
    // and highest bin centres are 0 and 1 (`net::content::value_stretch`).
    stretch: f32,
}

@group(0) @binding(0) var<storage, read> preview: array<f32>;
// [height, width, channels] → variable index (discrete: one entry per texel).
@group(0) @binding(1) var<storage, read> pixel_variables: array<u32>;
@group(0) @binding(2) var<storage, read> palette: array<vec4<f32>>;
@group(0) @binding(3) var image: texture_storage_2d<rgba8unorm, write>;
@group(0) @binding(4) var<uniform> dims: Dims;

fn level(x: f32) -> f32 {
    return (clamp(x * dims.stretch, -1.0, 1.0) + 1.0) * 0.5;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= dims.width || id.y >= dims.height) {
        return;
    }
    let texel = id.y * dims.width + id.x;
    var colour = vec4<f32>(1.0, 0.0, 1.0, 1.0);
    if (dims.discrete != 0u) {
        let base = pixel_variables[texel] * dims.channels;
        colour = vec4<f32>(0.0);
        for (var k = 0u; k < dims.channels; k++) {
            colour += preview[base + k] * palette[k];
        }
    } else if (dims.channels == 1u) {
        let g = level(preview[pixel_variables[texel]]);
        colour = vec4<f32>(g, g, g, 1.0);
    } else if (dims.channels >= 3u) {
        let at = texel * dims.channels;
        colour = vec4<f32>(level(preview[pixel_variables[at]]), level(preview[pixel_variables[at + 1u]]),
                           level(preview[pixel_variables[at + 2u]]), 1.0);
        if (dims.channels == 4u) {
            colour.w = level(preview[pixel_variables[at + 3u]]);
        }
    }
    textureStore(image, vec2<i32>(i32(id.x), i32(id.y)), colour);
}
