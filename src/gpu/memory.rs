//! What the sampler holds on the GPU, counted where it is made. Every buffer of the crate is created through
//! [`buffer`] or [`buffer_init`] (`clippy.toml` forbids wgpu's own calls elsewhere), which note its size in the
//! innermost [`counted`] scope of the thread. A job, a model or a timer runs its construction in such a scope and
//! keeps the total: what it holds is then known without listing its buffers one by one, and a buffer added to
//! a kernel's setup tomorrow is counted without anyone remembering to.

use std::cell::Cell;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

/// Buffers and their bytes on the GPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GpuMemory {
    /// Buffers.
    pub buffers: u64,
    /// Their sizes added up, in bytes (as asked for: the driver may round each allocation up).
    pub bytes: u64,
}

impl Add for GpuMemory {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            buffers: self.buffers + other.buffers,
            bytes: self.bytes + other.bytes,
        }
    }
}

impl AddAssign for GpuMemory {
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

impl Sum for GpuMemory {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), Add::add)
    }
}

thread_local! {
    /// The innermost open [`counted`] scope's total, if one is open.
    static SCOPE: Cell<Option<GpuMemory>> = const { Cell::new(None) };
}

/// Runs `create` and returns what it returned with the buffers created meanwhile on this thread. Scopes nest:
/// an inner scope's buffers count in the outer one too.
pub fn counted<T>(create: impl FnOnce() -> T) -> (T, GpuMemory) {
    let outer = SCOPE.replace(Some(GpuMemory::default()));
    let created = create();
    let inner = SCOPE.replace(outer).unwrap_or_default();
    if let Some(outer) = outer {
        SCOPE.set(Some(outer + inner));
    }
    (created, inner)
}

/// Notes a buffer of `bytes` in the open scope.
fn note(bytes: u64) {
    SCOPE.with(|scope| {
        if let Some(total) = scope.get() {
            scope.set(Some(total + GpuMemory { buffers: 1, bytes }));
        }
    });
}

/// A buffer, counted ([`counted`]).
#[allow(clippy::disallowed_methods)]
pub fn buffer(device: &wgpu::Device, descriptor: &wgpu::BufferDescriptor) -> wgpu::Buffer {
    let buffer = device.create_buffer(descriptor);
    note(buffer.size());
    buffer
}

/// A buffer holding `descriptor`'s contents, counted ([`counted`]).
#[allow(clippy::disallowed_methods)]
pub fn buffer_init(
    device: &wgpu::Device,
    descriptor: &wgpu::util::BufferInitDescriptor,
) -> wgpu::Buffer {
    let buffer = wgpu::util::DeviceExt::create_buffer_init(device, descriptor);
    note(buffer.size());
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_count_only_while_open() {
        note(7);
        let ((inner, ()), outer) = counted(|| {
            note(4);
            let inner = counted(|| note(16)).1;
            note(8);
            (inner, ())
        });
        note(7);
        assert_eq!(
            inner,
            GpuMemory {
                buffers: 1,
                bytes: 16
            }
        );
        assert_eq!(
            outer,
            GpuMemory {
                buffers: 3,
                bytes: 28
            }
        );
    }
}
