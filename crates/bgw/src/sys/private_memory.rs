//! Memory that a fork does not copy: the postmaster's own tables.
//!
//! A fork shares every writable page of the postmaster with the new child, copy-on-write. The next time the
//! postmaster writes such a page it takes a fault and copies it, and a postmaster launching workers writes the same
//! few pages after every fork: its table of children above all (a hash table: each insert writes a control byte
//! and a bucket on different pages). Memory from [`PrivateAlloc`] is mapped with `MADV_DONTFORK`: a child does not
//! get it at all, so the postmaster writes it without faults, and a fork has fewer page tables to copy.
//!
//! The rule this imposes: no code that runs in a child may touch such memory, not even to drop it. A child that
//! did would die of SIGSEGV at once (the pages are not mapped in it), which is loud rather than silent. The
//! postmaster's child paths only read what they were handed before the fork (see `crate::postmaster`), and a child
//! never returns into the postmaster's frames (it exits, also on a panic).
//!
//! Each allocation is its own mapping, rounded up to whole pages: this is for a few large, long-lived tables sized
//! at start, not for general use.
//!
//! Runs in: the postmaster.

use allocator_api2::alloc::{AllocError, Allocator, Layout};
use std::ptr::NonNull;

/// An allocator of whole pages that children of this process do not inherit.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrivateAlloc;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

fn mapping_len(layout: Layout) -> usize {
    let page = page_size();
    layout.size().max(1).div_ceil(page) * page
}

// SAFETY: allocate returns fresh, page-aligned, writable mappings of at least the requested size that stay valid
// until deallocate unmaps them; clones of the (stateless) allocator are interchangeable.
unsafe impl Allocator for PrivateAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.align() > page_size() {
            return Err(AllocError);
        }
        let len = mapping_len(layout);
        let ptr = super::shm::map_anonymous(len, libc::MAP_PRIVATE).map_err(|_| AllocError)?;
        // SAFETY: advising the mapping just created, over its whole length.
        if unsafe { libc::madvise(ptr.as_ptr().cast(), len, libc::MADV_DONTFORK) } != 0 {
            // SAFETY: unmapping what was mapped above.
            unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
            return Err(AllocError);
        }
        Ok(NonNull::slice_from_raw_parts(ptr, len))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller passes a pointer this allocator returned for `layout`, so this is exactly one mapping.
        unsafe { libc::munmap(ptr.as_ptr() as *mut libc::c_void, mapping_len(layout)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `addr` lies in a mapping marked "dc" (do not copy on fork) in /proc/self/smaps.
    fn marked_dontcopy(addr: usize) -> bool {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((a, b)) = range.split_once('-') {
                    if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                        inside = a <= addr && addr < b;
                        continue;
                    }
                }
            }
            if inside && line.starts_with("VmFlags:") {
                return line.split_whitespace().any(|f| f == "dc");
            }
        }
        false
    }

    #[test]
    fn tables_live_in_memory_a_fork_does_not_copy() {
        let mut map: hashbrown::HashMap<i32, u64, std::hash::BuildHasherDefault<std::hash::DefaultHasher>, _> =
            hashbrown::HashMap::with_capacity_and_hasher_in(1000, Default::default(), PrivateAlloc);
        for i in 0..1000 {
            map.insert(i, i as u64 * 3);
        }
        assert_eq!(map.get(&999), Some(&2997));
        let ptr = map.get(&999).unwrap() as *const u64;
        assert!(marked_dontcopy(ptr as usize), "the table's memory must be marked MADV_DONTFORK");
        // Growing past the capacity maps anew and unmaps the old table.
        for i in 1000..5000 {
            map.insert(i, 0);
        }
        assert_eq!(map.len(), 5000);
        let ptr = map.get(&4000).unwrap() as *const u64;
        assert!(marked_dontcopy(ptr as usize));
        drop(map);
    }

    #[test]
    fn a_forked_child_does_not_have_the_memory() {
        let layout = Layout::from_size_align(4096, 8).unwrap();
        let p = PrivateAlloc.allocate(layout).unwrap().cast::<u64>();
        // SAFETY: writing within the fresh allocation.
        unsafe { p.as_ptr().write_volatile(42) };
        // SAFETY: the child only reads memory and calls _exit, both async-signal-safe, so forking this
        // multi-threaded test process is sound.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: deliberately reading the parent's private memory, which is not mapped here: SIGSEGV.
            let v = unsafe { p.as_ptr().read_volatile() };
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(v as i32) };
        }
        assert!(pid > 0);
        let mut status = 0;
        // SAFETY: waiting for the child just forked, with a valid status pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV, "child status {status:#x}");
        // SAFETY: the parent still has it.
        assert_eq!(unsafe { p.as_ptr().read_volatile() }, 42);
        // SAFETY: freeing what was allocated above with the same layout.
        unsafe { PrivateAlloc.deallocate(p.cast(), layout) };
    }

    #[test]
    fn over_aligned_requests_are_refused() {
        let layout = Layout::from_size_align(64, 1 << 20).unwrap();
        assert!(PrivateAlloc.allocate(layout).is_err());
        let small = Layout::from_size_align(10, 8).unwrap();
        let p = PrivateAlloc.allocate(small).unwrap();
        assert!(p.len() >= 10);
        // SAFETY: freeing what was just allocated with the same layout.
        unsafe { PrivateAlloc.deallocate(p.cast(), small) };
    }
}
