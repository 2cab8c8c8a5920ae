//! The shared area holding the registrations' typed arguments: one [`ArgEntry`] per worker slot (the protocol is
//! `super::args`).
//!
//! Which process runs this code: the postmaster creates the area once ([`create`]), before it forks anything;
//! every child inherits the mapping across `fork` and reaches it through [`entry`]. The area is not re-created
//! in a crash cycle (entries are tied to generations, which keep growing). Workers without shared-memory access
//! unmap it together with the segment ([`detach`], called by `crate::shmem::detach`).
//!
//! Size: `max_worker_processes` × [`MAX_ARG_BYTES`] (plus 16 bytes each) of address space; pages are backed only
//! when an argument is written into them.

use super::args::{ArgEntry, MAX_ARG_BYTES};
use crate::sys::shm::SharedMapping;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The mapping, owned here so that [`detach`] can unmap it (None before [`create`] and after [`detach`]).
static MAPPING: Mutex<Option<Owned>> = Mutex::new(None);

/// The mapping as a value a static may hold.
struct Owned(#[allow(dead_code)] SharedMapping);

// SAFETY: a range of shared memory has no thread affinity; it is only reached through `entry`'s references, whose
// shared access follows the protocol of `super::args`, and unmapped by `detach` in a single-threaded process.
unsafe impl Send for Owned {}
/// The first entry (null: no area in this process), and how many entries there are: what [`entry`] reads without
/// the mutex. Set once by [`create`] before any child exists; cleared by [`detach`] before the unmapping.
static BASE: AtomicPtr<ArgEntry> = AtomicPtr::new(std::ptr::null_mut());
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Creates the area for `max_workers` slots (postmaster, before the first fork; later calls keep the first area).
pub fn create(max_workers: usize) -> std::io::Result<()> {
    let mut mapping = MAPPING.lock().unwrap_or_else(|e| e.into_inner());
    if mapping.is_some() {
        return Ok(());
    }
    let m = SharedMapping::new(max_workers.max(1) * std::mem::size_of::<ArgEntry>())?;
    COUNT.store(max_workers, Ordering::Relaxed);
    BASE.store(m.as_ptr() as *mut ArgEntry, Ordering::Release);
    *mapping = Some(Owned(m));
    Ok(())
}

/// Whether this process has the area.
pub fn available() -> bool {
    !BASE.load(Ordering::Acquire).is_null()
}

/// Unmaps the area in this process (a worker without shared-memory access, at start, with the segment): from
/// then on [`entry`] finds nothing. Single-threaded callers only (a freshly forked worker). On the worker
/// start-up path (`#[hot]`).
#[bgw_macros::hot]
pub fn detach() {
    BASE.store(std::ptr::null_mut(), Ordering::Release);
    drop(MAPPING.lock().unwrap_or_else(|e| e.into_inner()).take());
}

/// The argument entry of `slot`; None without an area (outside the host's processes, or detached) or for a slot
/// beyond it.
pub fn entry(slot: u32) -> Option<&'static ArgEntry> {
    let base = BASE.load(Ordering::Acquire);
    if base.is_null() || slot as usize >= COUNT.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: the mapping is page-aligned (enough for ArgEntry), zero-filled (a valid, empty ArgEntry) and holds
    // COUNT entries. It is unmapped only by `detach`, in a single-threaded worker that holds no entry reference
    // (it detaches before running any module code), so the reference is valid for as long as it is used.
    Some(unsafe { &*base.add(slot as usize) })
}

/// The largest argument ([`MAX_ARG_BYTES`]).
pub const fn max_bytes() -> usize {
    MAX_ARG_BYTES
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_limit_is_the_headers() {
        assert_eq!(super::max_bytes(), bgw_abi::BGW_MAX_ARG_BYTES);
    }
}

// The protocol's own tests live here, not in `args.rs`, which the loom model compiles too.
#[cfg(test)]
mod protocol_tests {
    use crate::bgworker::args::{ArgEntry, ArgRead};

    #[test]
    fn an_entry_belongs_to_one_generation() {
        let e: ArgEntry<8> = ArgEntry::new();
        assert_eq!(e.read(0), ArgRead::None, "a zeroed entry has no argument");
        e.write(3, b"abc");
        assert_eq!(e.read(3), ArgRead::Bytes(b"abc".to_vec()));
        assert_eq!(e.read(4), ArgRead::None, "a later registration without an argument");
        e.write(5, b"");
        assert_eq!(e.read(5), ArgRead::Bytes(vec![]));
        e.write(6, b"123456789");
        assert_eq!(e.read(6), ArgRead::None, "a too long argument is never written");
        assert!(ArgEntry::<8>::fits(8) && !ArgEntry::<8>::fits(9));
        // A scribbled length is clamped to the capacity.
        e.write(7, b"12345678");
        e.scribble_len(u32::MAX);
        assert_eq!(e.read(7), ArgRead::Bytes(b"12345678".to_vec()));
    }
}
