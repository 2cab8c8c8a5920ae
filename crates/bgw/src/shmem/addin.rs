//! Named shared memory for modules (PostgreSQL's `RequestAddinShmemSpace` and `ShmemInitStruct`).
//!
//! While `shared_preload_libraries` load, modules request space; the postmaster adds the total to the segment it
//! creates (and re-creates after a crash, zeroed again). Any process attached to shared memory can then create or
//! attach a named area: the first caller for a name carves it out of the space (zeroed) and is told it was not
//! found; later callers for the same name get the same address, found.
//!
//! # Who writes what
//!
//! The directory (names, offsets, sizes, the bump pointer) is written only under `lock`, the robust process-shared
//! lock, by children. The postmaster initializes it in a fresh segment before any child exists and never touches
//! it afterwards (it takes no locks). The areas themselves belong to the modules, which synchronize as they see
//! fit.

use crate::sync::{AtomicU64, Ordering, ProcessLock, UnsafeCell};
use bgw_macros::hot;

/// How many named areas a segment can hold.
pub const MAX_AREAS: usize = 64;
/// The longest area name, including its NUL.
pub const NAME_LEN: usize = 64;
/// Areas are aligned to this.
pub const ALIGN: usize = 64;

#[repr(C)]
struct Entry {
    name: [u8; NAME_LEN],
    offset: u64,
    size: u64,
}

/// The directory at the start of the modules' space; the areas follow it.
#[repr(C)]
pub struct AddinHeader {
    lock: ProcessLock,
    /// Bytes of the data space handed out so far.
    used: AtomicU64,
    /// Bytes of data space in the segment.
    capacity: AtomicU64,
    entries: UnsafeCell<[Entry; MAX_AREAS]>,
}

/// Why an area could not be had (the messages are PostgreSQL's where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddinError {
    #[error("not enough shared memory for data structure \"{name}\" ({size} bytes requested)")]
    NoSpace { name: String, size: usize },
    #[error("too many named shared memory areas (at most {MAX_AREAS})")]
    TooMany,
    #[error("shared memory name \"{0}\" is empty or too long (at most 63 bytes)")]
    BadName(String),
    #[error("shared memory struct \"{name}\" is already initialized with a different size ({existing} bytes, {size} requested)")]
    SizeMismatch { name: String, existing: usize, size: usize },
}

/// Bytes the modules' space takes for `requested` bytes of requests.
pub fn region_size(requested: usize) -> usize {
    std::mem::size_of::<AddinHeader>().div_ceil(ALIGN) * ALIGN + requested
}

impl AddinHeader {
    /// Postmaster, on a fresh (zeroed) segment: sets up the directory for `capacity` bytes of areas.
    pub fn init_in_place(&self, capacity: usize) {
        self.lock.init();
        self.used.store(0, Ordering::Relaxed);
        self.capacity.store(capacity as u64, Ordering::Relaxed);
    }

    /// Fault injection (the `stubborn` test worker): takes the directory's lock and never gives it back; the
    /// process holds it until it dies.
    pub fn leak_lock(&self) {
        std::mem::forget(self.lock.lock());
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the data space starts right after the header, rounded up to ALIGN, within the segment (the
        // layout reserved region_size(capacity) bytes for this header and its data).
        unsafe { (self as *const Self as *mut u8).add(std::mem::size_of::<AddinHeader>().div_ceil(ALIGN) * ALIGN) }
    }

    /// Creates or attaches the area `name` of `size` bytes. Returns its address and whether it already existed.
    #[hot]
    pub fn init_struct(&self, name: &str, size: usize) -> Result<(*mut u8, bool), AddinError> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() >= NAME_LEN || bytes.contains(&0) {
            return Err(AddinError::BadName(name.to_string()));
        }
        let _guard = self.lock.lock();
        let capacity = self.capacity.load(Ordering::Relaxed) as usize;
        self.entries.with_mut(|entries| {
            // SAFETY: the directory is only accessed under the lock, which we hold.
            let entries = unsafe { &mut *entries };
            let mut free = None;
            for (i, e) in entries.iter().enumerate() {
                if e.name[0] == 0 {
                    free.get_or_insert(i);
                    continue;
                }
                let end = e.name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
                if &e.name[..end] == bytes {
                    if e.size as usize != size {
                        return Err(AddinError::SizeMismatch {
                            name: name.to_string(),
                            existing: e.size as usize,
                            size,
                        });
                    }
                    let off = e.offset as usize;
                    if off.checked_add(size).is_none_or(|end| end > capacity) {
                        return Err(AddinError::NoSpace { name: name.to_string(), size });
                    }
                    // SAFETY: offset + size lies within the data space (checked just above).
                    return Ok((unsafe { self.data().add(off) }, true));
                }
            }
            let slot = free.ok_or(AddinError::TooMany)?;
            let used = self.used.load(Ordering::Relaxed) as usize;
            let start = used.div_ceil(ALIGN) * ALIGN;
            let end = start.checked_add(size).filter(|&e| e <= capacity);
            let Some(end) = end else { return Err(AddinError::NoSpace { name: name.to_string(), size }) };
            let e = &mut entries[slot];
            e.name = [0; NAME_LEN];
            e.name[..bytes.len()].copy_from_slice(bytes);
            e.offset = start as u64;
            e.size = size as u64;
            self.used.store(end as u64, Ordering::Relaxed);
            // SAFETY: [start, end) lies within the data space; the segment is zeroed when created and no area
            // used these bytes before (the bump pointer only grows).
            Ok((unsafe { self.data().add(start) }, false))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_created_once_and_attached_after() {
        let cap = 1024;
        let m = crate::sys::shm::SharedMapping::new(region_size(cap)).unwrap();
        // SAFETY: a fresh, zeroed, page-aligned mapping large enough for the header and its data.
        let h = unsafe { &*(m.as_ptr() as *const AddinHeader) };
        h.init_in_place(cap);
        let (a, found) = h.init_struct("counter", 8).unwrap();
        assert!(!found);
        let (b, found) = h.init_struct("counter", 8).unwrap();
        assert!(found);
        assert_eq!(a, b);
        let (c, _) = h.init_struct("other", 100).unwrap();
        assert_eq!((c as usize) % ALIGN, 0);
        assert_ne!(a, c);
        assert!(matches!(h.init_struct("counter", 16), Err(AddinError::SizeMismatch { .. })));
        assert!(matches!(h.init_struct("big", 2000), Err(AddinError::NoSpace { .. })));
        assert!(matches!(h.init_struct("", 1), Err(AddinError::BadName(_))));
        assert!(matches!(h.init_struct(&"n".repeat(64), 1), Err(AddinError::BadName(_))));
    }
}
