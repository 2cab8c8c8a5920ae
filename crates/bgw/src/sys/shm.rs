//! The shared anonymous mapping behind the host's shared memory.
//!
//! `mmap(MAP_SHARED | MAP_ANONYMOUS)`: zero-filled, inherited by every child across `fork`, and private to the
//! postmaster's process tree. (An anonymous map from memmap2 is `MAP_PRIVATE`, which children would copy on write:
//! not shared at all.) Pages are only backed when touched, so the segment's size costs nothing until used.

use std::ptr::NonNull;

/// Maps `len` (> 0) bytes of zeroed anonymous memory, readable and writable: `sharing` is `MAP_SHARED` (children
/// share the pages) or `MAP_PRIVATE` (each process has its own, copied on write). The one `mmap` of the host's own
/// memory; `super::private_memory` uses it too.
pub(super) fn map_anonymous(len: usize, sharing: libc::c_int) -> std::io::Result<NonNull<u8>> {
    // SAFETY: an anonymous mapping with no address hint touches no existing memory.
    let ptr = unsafe {
        libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, sharing | libc::MAP_ANONYMOUS, -1, 0)
    };
    if ptr == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    NonNull::new(ptr as *mut u8).ok_or_else(|| std::io::Error::other("mmap returned null"))
}

/// A shared mapping. Dropping it unmaps it in this process only.
pub struct SharedMapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl SharedMapping {
    /// Maps `len` bytes of zeroed shared memory.
    pub fn new(len: usize) -> std::io::Result<Self> {
        let len = len.max(1);
        Ok(SharedMapping { ptr: map_anonymous(len, libc::MAP_SHARED)?, len })
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: the range was mapped by `new` and nothing in this process uses it after the owner drops it
        // (references into it are tied to the owner's lifetime).
        unsafe { libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len) };
    }
}
