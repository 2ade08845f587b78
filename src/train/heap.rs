//! Keeping freed memory in the process while training.
//!
//! A training step on the CPU allocates and frees hundreds of tensors of a few megabytes each (candle allocates
//! every intermediate result). With glibc's defaults, the free memory at the top of the heap is handed back to
//! the kernel whenever it exceeds the trim threshold, and the next step faults every page of it in again:
//! `perf` on the dungeon run put a fifth of the time in page faults and `brk`. Raising the trim threshold keeps
//! that memory for the next step: the dungeon configuration (4 × 96, 256 tokens) goes from 0.47 to 0.87 steps/s
//! on one core, with another run on the other (`docs/benchmarks.md`). Memory use stays at the peak of one step,
//! which it reaches anyway.

/// Tells the C allocator to keep freed memory instead of returning it to the kernel after every step: a step of
/// the candle network frees megabytes of tensors that the next step allocates again, and with glibc's defaults
/// every page of them is faulted in anew (a fifth of a training step on the dungeon run). Call it once, at the
/// start of a process that trains or runs the candle network. Does nothing where the allocator is not glibc's.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::keep_freed_memory();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod glibc {
    /// Never trim the heap.
    const TRIM_THRESHOLD: libc::c_int = libc::c_int::MAX;
    /// Blocks of up to 32 MiB (glibc's ceiling) come from the heap, not from a fresh mapping per tensor: setting
    /// the trim threshold switches off glibc's own raising of this threshold.
    const MMAP_THRESHOLD: libc::c_int = 32 << 20;

    pub(super) fn keep_freed_memory() {
        for (parameter, value) in [
            (libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        ] {
            // SAFETY: mallopt only changes the allocator's tuning parameters; it takes plain integers and is
            // safe to call at any time. A refused value (the return value 0) leaves glibc's default in place.
            unsafe { libc::mallopt(parameter, value) };
        }
    }
}
