//! The C ABI of typed arguments (beyond the spec; declared in `include/bgw/bgw.h`): a registrant attaches up to
//! `BGW_MAX_ARG_BYTES` bytes to a dynamic registration, its worker reads them. The protocol and the area are
//! [`crate::bgworker::args`] and [`crate::bgworker::arg_area`]; registration is [`crate::dynamic`]'s.
//!
//! Runs in: backends and workers with shared-memory access (registering), workers (reading their argument).
// Exported C functions take the caller's pointers, as every function of the C ABI does.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use super::abi::{finish_coded, spec_from_c};
use crate::bgworker::types::{BackgroundWorker, RegistrationError};
use crate::dynamic;
use bgw_abi::{BackgroundWorkerHandle, ERROR};
use std::ffi::c_void;

fn null_arg() -> RegistrationError {
    RegistrationError {
        sqlstate: "22004",
        message: "background worker argument is NULL but its length is not 0".into(),
        detail: None,
        hint: None,
    }
}

fn raise(e: RegistrationError) -> ! {
    finish_coded(ERROR, Some(e.sqlstate), e.message, e.detail, e.hint);
    crate::process::exit(1)
}

/// `RegisterDynamicBackgroundWorker` with an argument: `len` bytes at `arg` (NULL with `len` 0: an empty
/// argument) go with the registration, for its worker's `bgw_worker_arg`. True and `*handle` (if not NULL, a
/// malloc'ed handle) on success; false when no slot is free. An argument longer than `BGW_MAX_ARG_BYTES` is an
/// ERROR (54000), like a registration the sanity checks refuse.
#[no_mangle]
pub extern "C" fn bgw_register_dynamic_with_arg(
    worker: *mut BackgroundWorker,
    handle: *mut *mut BackgroundWorkerHandle,
    arg: *const c_void,
    len: usize,
) -> bool {
    // Everything owned is dropped before an error is raised: an ERROR in a SQL function jumps over this frame.
    let outcome = match spec_from_c(worker) {
        Ok(spec) => {
            if let Err(e) = dynamic::check_arg_len(len) {
                // Refused by its length alone (the bytes are not read).
                Err(e)
            } else if arg.is_null() && len > 0 {
                Err(null_arg())
            } else {
                let bytes: &[u8] = if len == 0 {
                    &[]
                } else {
                    // SAFETY: by the call's contract `arg` points at `len` readable bytes for the duration of the
                    // call; non-null, checked above.
                    unsafe { std::slice::from_raw_parts(arg as *const u8, len) }
                };
                dynamic::register_dynamic_background_worker_with_arg(&spec, super::entry::check_entry, Some(bytes))
            }
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Some(h)) => {
            if !handle.is_null() {
                // SAFETY: malloc of the handle's size; checked for NULL before the write.
                let p = unsafe { libc::malloc(std::mem::size_of::<BackgroundWorkerHandle>()) }
                    as *mut BackgroundWorkerHandle;
                if p.is_null() {
                    raise(RegistrationError {
                        sqlstate: "53200",
                        message: "out of memory".into(),
                        detail: None,
                        hint: None,
                    });
                }
                // SAFETY: p is a fresh allocation of the right size and alignment (malloc aligns for any type);
                // `handle` is the caller's out-parameter, non-null.
                unsafe {
                    p.write(BackgroundWorkerHandle { slot: h.slot as std::ffi::c_int, generation: h.generation });
                    handle.write(p);
                }
            }
            true
        }
        Ok(None) => false,
        Err(e) => raise(e),
    }
}

/// In a worker: a malloc'ed copy of the argument attached to its registration, its length in `*len` (if not
/// NULL); the caller frees it. NULL (and `*len` 0) when the registration has none. In a process that is not a
/// worker with shared-memory access: an ERROR (55000).
#[no_mangle]
pub extern "C" fn bgw_worker_arg(len: *mut usize) -> *mut c_void {
    let found = dynamic::my_arg().unwrap_or_else(|e| raise(e));
    let n = found.as_ref().map_or(0, Vec::len);
    if !len.is_null() {
        // SAFETY: the caller's out-parameter, non-null.
        unsafe { len.write(n) };
    }
    let Some(bytes) = found else { return std::ptr::null_mut() };
    // SAFETY: malloc of at least one byte (an empty argument is a valid, non-NULL pointer to nothing).
    let p = unsafe { libc::malloc(n.max(1)) } as *mut u8;
    if p.is_null() {
        drop(bytes);
        raise(RegistrationError { sqlstate: "53200", message: "out of memory".into(), detail: None, hint: None });
    }
    // SAFETY: p holds at least n bytes; the source is a distinct Vec of n bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, n) };
    p as *mut c_void
}
