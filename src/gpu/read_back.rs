//! Reading a buffer back without blocking a frame: ask for the mapping after the copy is submitted, then look
//! once a frame until the device (polled by the engine) has answered.

use std::sync::{Arc, Mutex};

use crate::gpu::GpuError;

/// A mapping asked of the device and not yet taken.
#[derive(Clone, Debug)]
pub struct PendingMap {
    answer: Arc<Mutex<Option<Result<(), wgpu::BufferAsyncError>>>>,
    size: u64,
}

impl PendingMap {
    /// Asks to map the first `size` bytes of `buffer` (a `MAP_READ` buffer whose copy has been submitted).
    pub fn request(buffer: &wgpu::Buffer, size: u64) -> Self {
        let answer = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&answer);
        buffer
            .slice(..size)
            .map_async(wgpu::MapMode::Read, move |result| {
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(result);
                }
            });
        Self { answer, size }
    }

    /// The buffer's words once the mapping has arrived (and the buffer unmapped again); `None` while waiting.
    pub fn try_words(&self, buffer: &wgpu::Buffer) -> Option<Result<Vec<u32>, GpuError>> {
        let answer = self.answer.lock().ok()?.take()?;
        Some(
            answer
                .map_err(|e| GpuError::DeviceLost(e.to_string()))
                .map(|()| mapped_words(buffer, self.size)),
        )
    }
}

/// The first `size` bytes of a mapped buffer as words; unmaps it.
fn mapped_words(buffer: &wgpu::Buffer, size: u64) -> Vec<u32> {
    let words = buffer
        .slice(..size)
        .get_mapped_range()
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    buffer.unmap();
    words
}
