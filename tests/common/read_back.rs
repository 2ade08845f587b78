//! Reading a GPU result back in a test: through the plugin's own [`PendingMap`], waiting for the device instead
//! of a frame.

use bevy_bfn::gpu::PendingMap;

/// A `MAP_READ` buffer of `size` bytes for a result to be copied into and read back by [`submit_and_read`].
pub fn staging_buffer(device: &wgpu::Device, size: u64) -> wgpu::Buffer {
    bevy_bfn::gpu::memory::buffer(
        device,
        &wgpu::BufferDescriptor {
            label: Some("test read-back"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        },
    )
}

/// Submits `encoder`, whose last command copies into `staging` ([`staging_buffer`]), and reads it back as words.
pub fn submit_and_read(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    encoder: wgpu::CommandEncoder,
    staging: &wgpu::Buffer,
) -> Vec<u32> {
    queue.submit([encoder.finish()]);
    let pending = PendingMap::request(staging, staging.size());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    pending
        .try_words(staging)
        .expect("the mapping has arrived after waiting for the device")
        .unwrap()
}
