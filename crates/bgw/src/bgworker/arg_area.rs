//! The shared area holding the registrations' typed arguments: one [`ArgEntry`] per worker slot (the protocol is
//! `super::args`).
//!
//! Which process runs this code: the postmaster creates the area once ([`create`]), before it forks anything;
//! every child inherits the mapping across `fork` and reaches it through [`entry`]. The area is not re-created
//! in a crash cycle (entries are tied to generations, which keep growing), and it stays mapped in workers without
//! shared-memory access, which only read their own entry through the host's `bgw_worker_arg`.
//!
//! Size: `max_worker_processes` × [`MAX_ARG_BYTES`] (plus 16 bytes each) of address space; pages are backed only
//! when an argument is written into them.

use super::args::{ArgEntry, MAX_ARG_BYTES};
use crate::sys::shm::SharedMapping;
use std::sync::OnceLock;

struct Area {
    mapping: SharedMapping,
    count: usize,
}

// SAFETY: the mapping is only reached as `&ArgEntry`s, whose shared access follows the protocol of
// `super::args` (atomics, and bytes written only under the slot array's lock while the slot is free).
unsafe impl Sync for Area {}
// SAFETY: as above; the mapping itself is a plain range of shared memory.
unsafe impl Send for Area {}

static AREA: OnceLock<Area> = OnceLock::new();

/// Creates the area for `max_workers` slots (postmaster, before the first fork; later calls keep the first area).
pub fn create(max_workers: usize) -> std::io::Result<()> {
    if AREA.get().is_some() {
        return Ok(());
    }
    let mapping = SharedMapping::new(max_workers.max(1) * std::mem::size_of::<ArgEntry>())?;
    let _ = AREA.set(Area { mapping, count: max_workers });
    Ok(())
}

/// The argument entry of `slot`; None without an area (outside the host's processes) or for a slot beyond it.
pub fn entry(slot: u32) -> Option<&'static ArgEntry> {
    let area = AREA.get()?;
    if slot as usize >= area.count {
        return None;
    }
    // SAFETY: the mapping is page-aligned (enough for ArgEntry), zero-filled (a valid, empty ArgEntry) and holds
    // `count` entries; it lives in a static and is never unmapped, so the reference is valid for 'static.
    Some(unsafe { &*(area.mapping.as_ptr() as *const ArgEntry).add(slot as usize) })
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
