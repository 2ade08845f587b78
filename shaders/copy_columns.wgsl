// y's column block = x's column block, row by row: a residual block's identity skip from features that lie in
// the U-Net's concatenated buffers (rows of stride `x_stride` from column `x_offset`) to its output. Twin of
// `x + h` in `ResBlock::forward` (`src/net/res_block.rs`), whose `+ h` the last convolution then accumulates.

struct Dims {
    rows: u32,
    columns: u32,
    x_stride: u32,
    x_offset: u32,
    y_stride: u32,
    y_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> dims: Dims;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = element_index(id, groups, 256u);
    if (index >= dims.rows * dims.columns) {
        return;
    }
    let row = index / dims.columns;
    let column = index % dims.columns;
    y[row * dims.y_stride + dims.y_offset + column] = x[row * dims.x_stride + dims.x_offset + column];
}
