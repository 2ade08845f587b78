// Classifier-free guidance: the network ran on the batch twice, each example with its class and then with none,
// and the conditional outputs become (1 + w)·conditional − w·unconditional. Examples asked for no class keep their
// output. Twin of the CPU denoiser's mix (`src/train/denoiser.rs`).

struct Mix {
    // Outputs of the conditional half: batch × tokens × outputs per token.
    elements: u32,
    // Outputs per example.
    per_example: u32,
    // The label of "no class".
    no_class: u32,
    // w, as f32 bits.
    weight: u32,
}

@group(0) @binding(0) var<storage, read_write> output: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<uniform> mix: Mix;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(id, groups, 256u);
    if (i >= mix.elements || labels[i / mix.per_example] == mix.no_class) {
        return;
    }
    let w = bitcast<f32>(mix.weight);
    output[i] = (1.0 + w) * output[i] - w * output[i + mix.elements];
}
