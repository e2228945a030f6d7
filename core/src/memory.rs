//! Process-wide memory allocator settings.
//!
//! A training step allocates and frees the same few hundred megabytes of tensors over and
//! over. With glibc's defaults, freed memory at the top of the heap goes back to the
//! kernel (trim threshold 128 KiB, raised only dynamically) and large blocks are `mmap`ed
//! afresh, so every step faults its tensors' pages in again and the kernel zeroes each
//! one: `perf` showed page faults, `clear_page_erms` and `memset` at ~4% of a PatchVAE
//! step's CPU time. Keeping freed memory in the process makes the next step reuse it.
//! Measured: PatchVAE training on `flex`, 2 cores, see `docs/benchmarks.md`.

/// Keeps freed memory in the process for reuse instead of returning it to the kernel:
/// blocks up to 32 MiB come from the heap (not a fresh `mmap`), the heap is only trimmed
/// once 1 GiB sits free at its top, and it grows 64 MiB at a time. The cost is a resident
/// size that stays near its peak. Does nothing off glibc.
///
/// # Safety
/// Changes the allocator's parameters: call it first thing in `main`, before any other
/// thread exists.
pub unsafe fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MIB: libc::c_int = 1 << 20;
        // SAFETY: mallopt only sets allocator parameters; the caller guarantees no other
        // thread is allocating meanwhile. 32 MiB is glibc's largest allowed threshold on
        // 64-bit targets. A rejected value leaves the default in place (return value 0),
        // which is only slower, so it is not an error.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * MIB);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * MIB);
            libc::mallopt(libc::M_TOP_PAD, 64 * MIB);
        }
    }
}
