//! Named shared memory (`RequestAddinShmemSpace`, `ShmemInitStruct`).
//!
//! Purpose: a preloaded module reserves space in `_PG_init` with [`request`] (or [`request_for`]); afterwards any
//! process of the host with shared memory access (workers with [`Flags::SHMEM`](crate::Flags::SHMEM), backends)
//! creates or attaches a named area with [`init_struct`]. The first caller gets memory the host zeroed and
//! `found == false`; later callers, in any process, get the same memory and `found == true`.
//!
//! ```no_run
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! bgw_sdk::shared_struct! {
//!     /// What the module's processes share.
//!     pub struct Counters {
//!         pub ticks: AtomicU64,
//!         pub launches: [AtomicU64; 4],
//!     }
//! }
//!
//! # fn init() -> Result<(), bgw_sdk::Error> {
//! // In _PG_init, while preloading:
//! bgw_sdk::shmem::request_for::<Counters>()?;
//! // Later, in a worker or a SQL function:
//! let (counters, _found) = bgw_sdk::shmem::init_struct::<Counters>("my_module counters")?;
//! counters.ticks.fetch_add(1, Ordering::Relaxed);
//! # Ok(()) }
//! # fn main() {}
//! ```
//!
//! Invariants:
//! - Only types that are valid when all-zero and safe to share between processes can be placed there: the unsafe
//!   marker trait [`Zeroable`] says so. It is implemented for the atomic integer types and arrays of `Zeroable`
//!   types; [`shared_struct!`](crate::shared_struct) declares a `#[repr(C)]` struct of `Zeroable` fields and
//!   implements it (checking every field's type), so module code needs no `unsafe`. Pointers, references and
//!   heap types never qualify: the heap is per process, and a module should not rely on the area having the
//!   same address in every process.
//! - Nothing in shared memory is ever dropped; the references live as long as the process.
//! - The host aligns areas to 64 bytes; a type that needs more is refused at compile time.
//! - After a crash-and-restart cycle the host creates the areas anew, zeroed; processes started after it attach
//!   to the new ones.
//!
//! Runs in: [`request`] in the postmaster during preload; [`init_struct`] in workers and backends.

use crate::error::Error;
use crate::ffi;
use std::ffi::CString;

/// The alignment the host gives every area.
pub const AREA_ALIGN: usize = 64;

pub use crate::ffi::Zeroable;

/// Declares a `#[repr(C)]` struct whose fields are all [`Zeroable`] and implements [`Zeroable`] for it, so it
/// can be placed in shared memory with [`init_struct`]. A field of any other type does not compile.
///
/// ```
/// use std::sync::atomic::{AtomicBool, AtomicI32};
/// bgw_sdk::shared_struct! {
///     pub struct Flags {
///         pub stop: AtomicBool,
///         pub counts: [AtomicI32; 8],
///     }
/// }
/// let f: Flags = Flags { stop: AtomicBool::new(false), counts: Default::default() };
/// # let _ = f;
/// ```
#[macro_export]
macro_rules! shared_struct {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        $vis struct $name { $($(#[$fmeta])* $fvis $field: $ty),* }
        const _: () = {
            const fn check<T: $crate::shmem::Zeroable>() {}
            $( check::<$ty>(); )*
        };
        // SAFETY: every field is Zeroable (checked above), so the #[repr(C)] struct of them is valid at zero,
        // Sync, pointer-free; it has no Drop of its own that would matter (shared memory is never dropped).
        unsafe impl $crate::shmem::Zeroable for $name {}
    };
}

/// Reserves `size` bytes of shared memory for this module's areas. Only in `_PG_init` while the module is
/// preloaded ([`Error::ShmemNotPreloading`] otherwise). All modules together may request at most 1 GiB; a
/// request beyond that stops start-up (the host's check).
pub fn request(size: usize) -> Result<(), Error> {
    if !crate::preloading() {
        return Err(Error::ShmemNotPreloading);
    }
    ffi::request_addin_shmem_space(size);
    Ok(())
}

/// [`request`] for one `T`.
pub fn request_for<T: Zeroable>() -> Result<(), Error> {
    request(std::mem::size_of::<T>())
}

/// Creates (zeroed) or attaches the area `name`, of `size_of::<T>()` bytes; the reference and whether it already
/// existed. Refused when called while preloading (the postmaster has no shared memory access) or in a worker
/// registered without `Flags::SHMEM`. Areas must fit in what the preloaded modules requested: otherwise the host
/// raises an ERROR (the worker ends; in a SQL function the statement fails).
pub fn init_struct<T: Zeroable>(name: &str) -> Result<(&'static T, bool), Error> {
    const { assert!(std::mem::align_of::<T>() <= AREA_ALIGN, "shared memory areas are aligned to 64 bytes") };
    let bad = |reason| Err(Error::InvalidName { what: "shared memory area", name: name.to_string(), reason });
    if name.is_empty() {
        return bad("it is empty");
    }
    let Ok(c_name) = CString::new(name) else { return bad("it contains a NUL byte") };
    if crate::preloading() {
        return Err(Error::NoShmemAccess);
    }
    if crate::my_registration().is_some_and(|r| !r.flags.contains(crate::Flags::SHMEM)) {
        return Err(Error::NoShmemAccess);
    }
    let (p, found) = ffi::shmem_init_struct(&c_name, std::mem::size_of::<T>());
    match ffi::shared_ref::<T>(p) {
        Some(r) => Ok((r, found)),
        None => Err(Error::ShmemAlignment { name: name.to_string(), align: std::mem::align_of::<T>() }),
    }
}
