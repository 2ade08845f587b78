// Elementwise kernels run one invocation per element over a 2-D grid of workgroups (one dimension holds at
// most 65,535): the element's index in row-major order of the grid.
fn element_index(id: vec3<u32>, groups: vec3<u32>, workgroup_size: u32) -> u32 {
    return id.x + id.y * groups.x * workgroup_size;
}
