//! Typed arguments larger than `bgw_extra`: bytes a registrant attaches to a dynamic registration, carried in
//! shared memory, read by the worker; the hand-off protocol.
//!
//! Purpose: `bgw_extra` holds 128 bytes and `bgw_main_arg` one Datum. A registrant may attach up to
//! [`MAX_ARG_BYTES`] opaque bytes (the Rust SDK's serde-encoded argument) with `bgw_register_dynamic_with_arg`;
//! the worker reads them with `bgw_worker_arg`. There is one [`ArgEntry`] per worker slot, in an area of its own
//! (`super::arg_area`): the bytes belong to the slot's registration, so they are freed with the slot (the next
//! registration of the slot replaces or ignores them), a crashed registrant leaks nothing, and the area is
//! bounded (`max_worker_processes` entries of [`MAX_ARG_BYTES`]); a larger argument is refused with a clear error
//! before any slot is taken.
//!
//! This module is compiled twice, like `slots.rs`: into the host, with the real atomics of `crate::sync`, and into
//! the `slot-model` crate, with loom's (its tests model the hand-off). It uses nothing but `crate::sync` and `core`.
//!
//! # Who writes which bytes, when
//!
//! | field        | slot free (`in_use` false)                                    | slot used (`in_use` true) |
//! |--------------|---------------------------------------------------------------|---------------------------|
//! | `bytes`      | the registrant, holding the slot array's lock, inside `SlotArray::register_with` | nobody     |
//! | `len`        | the same registrant, after the bytes                          | nobody                    |
//! | `generation` | the same registrant: the new registration's generation, last  | nobody                    |
//!
//! Only a registration with an argument writes its entry: one without leaves the entry as it was, and the
//! entry's `generation` (an earlier registration's) then does not match, which reads as "no argument".
//!
//! Publication: the registrant's writes happen before its Release store of the slot's `in_use` (`register_with`
//! calls the writer just before it). The postmaster loads `in_use` with Acquire before it launches the worker,
//! and the worker process is forked (or handed to a spare through a pipe) after that load, so the worker sees the
//! complete entry. Nobody writes an entry while its slot is in use, and the postmaster frees the slot only after
//! the worker of the registration has exited: the bytes cannot change under a reader.
//!
//! # What a reader tolerates
//!
//! A child may have scribbled over the area. The reader therefore compares `generation` with its own
//! registration's (a mismatch is "no argument"), clamps `len` to the entry's capacity, and copies the bytes out
//! once; what it decodes from them is checked by the decoder (the SDK's serde format), never trusted.
//! Generations only grow, across crash cycles too (`SlotArray::init_slot`), so a stale entry never matches a
//! later registration of its slot.

use crate::sync::{AtomicU32, AtomicU64, Ordering, UnsafeCell};

/// The largest argument, in bytes (`BGW_MAX_ARG_BYTES` of `include/bgw/bgw.h`).
pub const MAX_ARG_BYTES: usize = 8192;

/// One slot's argument. All-zero is a valid, empty entry (the host's area is zeroed shared memory).
#[repr(C)]
pub struct ArgEntry<const N: usize = MAX_ARG_BYTES> {
    /// The generation of the registration the bytes belong to, plus one (0: never written).
    generation: AtomicU64,
    /// How many bytes are in use.
    len: AtomicU32,
    bytes: UnsafeCell<[u8; N]>,
}

/// What a worker finds in its slot's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgRead {
    /// Its registration has no argument.
    None,
    /// The argument's bytes.
    Bytes(Vec<u8>),
}

impl<const N: usize> ArgEntry<N> {
    /// An empty entry (the model's; the host's entries are zeroed shared memory, the same state).
    pub fn new() -> Self {
        ArgEntry { generation: AtomicU64::new(0), len: AtomicU32::new(0), bytes: UnsafeCell::new([0; N]) }
    }

    /// Whether `len` bytes fit.
    pub const fn fits(len: usize) -> bool {
        len <= N
    }

    /// Writes the argument of the registration `generation` of this entry's slot. Only inside
    /// `SlotArray::register_with`'s `fill` (the lock held, the slot not yet published); `bytes` must fit (checked
    /// before registering: nothing is cut here, a longer argument is not written at all).
    pub fn write(&self, generation: u64, bytes: &[u8]) {
        if !Self::fits(bytes.len()) {
            return;
        }
        // SAFETY: the caller holds the slot array's lock and the slot is free: no other registrant writes this
        // entry, and no worker of the slot reads it (none runs until the slot is published, after this).
        self.bytes.with_mut(|b| unsafe { (&mut (*b))[..bytes.len()].copy_from_slice(bytes) });
        self.len.store(bytes.len() as u32, Ordering::Relaxed);
        self.generation.store(generation.wrapping_add(1), Ordering::Relaxed);
    }

    /// The argument of the registration `generation` (the reader's own, in a slot it saw published): a copy.
    pub fn read(&self, generation: u64) -> ArgRead {
        if self.generation.load(Ordering::Relaxed) != generation.wrapping_add(1) {
            return ArgRead::None;
        }
        let len = (self.len.load(Ordering::Relaxed) as usize).min(N);
        // SAFETY: the slot is in use (the caller saw it published, Acquire), so nobody writes the entry; a rogue
        // child's scribbles are bytes like any other, which the decoder checks.
        let bytes = self.bytes.with(|b| unsafe { (&(*b))[..len].to_vec() });
        ArgRead::Bytes(bytes)
    }
}

impl<const N: usize> ArgEntry<N> {
    /// Tests: overwrites the length as a rogue child could.
    pub fn scribble_len(&self, len: u32) {
        self.len.store(len, Ordering::Relaxed);
    }
}

impl<const N: usize> Default for ArgEntry<N> {
    fn default() -> Self {
        Self::new()
    }
}
