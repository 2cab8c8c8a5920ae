//! The session's thread-local context: what SQLite callbacks (functions and virtual tables) need.
//!
//! rusqlite requires its callbacks to be `Send`, but the host handle is an `Rc` that never leaves the backend's
//! single thread. So [`install`] puts the handle in a thread-local for the duration of a session, and the
//! callbacks, which SQLite always runs on the thread stepping the statement, fetch it from there.
//!
//! The context also carries what a callback produces besides its SQL result: a [`SqlError`] that failed a
//! function (SQLite keeps only its message; the session recovers the whole error, SQLSTATE included, with
//! [`take_pending_error`]) and notices raised by the backend itself (sent with the host's after the statement).
//!
//! Runs in: a backend process.

use std::cell::RefCell;
use std::rc::Rc;

use super::host::{HostServices, SqlError};

thread_local! {
    static HOST: RefCell<Option<Rc<dyn HostServices>>> = const { RefCell::new(None) };
    static PENDING_ERROR: RefCell<Option<SqlError>> = const { RefCell::new(None) };
    static NOTICES: RefCell<Vec<SqlError>> = const { RefCell::new(Vec::new()) };
}

/// Keeps the context installed; dropping it clears the context again.
pub(crate) struct Installed {
    _not_send: std::marker::PhantomData<Rc<()>>,
}

/// Makes `host` the current thread's session host until the returned guard is dropped.
pub(crate) fn install(host: Rc<dyn HostServices>) -> Installed {
    HOST.with(|slot| *slot.borrow_mut() = Some(host));
    PENDING_ERROR.with(|slot| slot.borrow_mut().take());
    NOTICES.with(|slot| slot.borrow_mut().clear());
    Installed { _not_send: std::marker::PhantomData }
}

impl Drop for Installed {
    fn drop(&mut self) {
        HOST.with(|slot| slot.borrow_mut().take());
        PENDING_ERROR.with(|slot| slot.borrow_mut().take());
        NOTICES.with(|slot| slot.borrow_mut().clear());
    }
}

/// The current session's host, or an internal error outside a session.
pub(crate) fn host() -> Result<Rc<dyn HostServices>, SqlError> {
    HOST.with(|slot| slot.borrow().clone())
        .ok_or_else(|| SqlError::error("XX000", "no backend session is active on this thread"))
}

/// Records `err` as the reason a SQL function failed and returns the rusqlite error that makes SQLite fail the
/// statement. The session picks the full error up again with [`take_pending_error`].
pub(crate) fn fail(err: SqlError) -> rusqlite::Error {
    PENDING_ERROR.with(|slot| *slot.borrow_mut() = Some(err.clone()));
    rusqlite::Error::UserFunctionError(Box::new(err))
}

/// The error recorded by the last failing SQL function, if any (and forgets it).
pub(crate) fn take_pending_error() -> Option<SqlError> {
    PENDING_ERROR.with(|slot| slot.borrow_mut().take())
}

/// Queues a notice or warning raised by the backend itself, to be sent after the current statement.
pub(crate) fn notice(notice: SqlError) {
    NOTICES.with(|slot| slot.borrow_mut().push(notice));
}

/// The notices queued by the backend since the last call.
pub(crate) fn take_notices() -> Vec<SqlError> {
    NOTICES.with(|slot| std::mem::take(&mut *slot.borrow_mut()))
}

/// The text of a caught panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
