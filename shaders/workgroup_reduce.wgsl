// The sum or the largest of one value a lane over a workgroup of LANES lanes, returned to every lane: a tree in
// workgroup memory. Shared by LayerNorm, GroupNorm and attention's softmax; each declares LANES, its workgroup size.
// Every lane of the workgroup must call it (it holds barriers).

var<workgroup> partial: array<f32, LANES>;

fn workgroup_reduce(lane: u32, value: f32, take_max: bool) -> f32 {
    partial[lane] = value;
    workgroupBarrier();
    for (var stride = LANES / 2u; stride > 0u; stride /= 2u) {
        if (lane < stride) {
            if (take_max) {
                partial[lane] = max(partial[lane], partial[lane + stride]);
            } else {
                partial[lane] += partial[lane + stride];
            }
        }
        workgroupBarrier();
    }
    let result = partial[0];
    workgroupBarrier();
    return result;
}

fn workgroup_sum(lane: u32, value: f32) -> f32 {
    return workgroup_reduce(lane, value, false);
}
