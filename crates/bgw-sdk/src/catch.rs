//! Catching panics before they reach the host: every Rust function the host calls through the SDK (a worker's
//! entry point, `_PG_init`, a SQL function) runs inside [`catch`].
//!
//! Invariants:
//! - A panic must never unwind into the host's C frames (that aborts the process). [`catch`] stops it and
//!   returns its payload, message and location, for the caller to turn into an ERROR or a failed statement.
//! - The module has its own copy of Rust's standard library, hence its own panic hook. The SDK installs one
//!   (once) that, while [`catch`] runs on the current thread, records the panic's message and location instead of
//!   printing Rust's default report; panics elsewhere (threads the worker starts) go to the previous hook.
//!
//! Runs in: any process the module runs in, on the thread that called into the SDK. Imports nothing of the SDK.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether [`catch`] is running on this thread (its panics are reported by the SDK).
    pub(crate) static IN_ENTRY: Cell<bool> = const { Cell::new(false) };
    /// The last panic's message and location, recorded by the hook for [`catch`] to return.
    static LAST_PANIC: RefCell<Option<(String, Option<String>)>> = const { RefCell::new(None) };
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_ENTRY.try_with(Cell::get).unwrap_or(false) {
                let message = payload_text(info.payload());
                let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                let _ = LAST_PANIC.try_with(|p| *p.borrow_mut() = Some((message, location)));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a Rust panic with a non-text payload".to_string()
    }
}

/// A caught panic: its payload, message and location (when the SDK's hook saw it).
pub(crate) struct CaughtPanic {
    pub payload: Box<dyn std::any::Any + Send>,
    pub message: String,
    pub location: Option<String>,
}

/// Runs `f` with panics caught and kept out of Rust's default report.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, CaughtPanic> {
    install_panic_hook();
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let was = IN_ENTRY.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_ENTRY.with(|c| c.set(was));
    result.map_err(|payload| {
        let (message, location) =
            LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| (payload_text(&*payload), None));
        CaughtPanic { payload, message, location }
    })
}
