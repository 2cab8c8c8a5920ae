//! Logging to the host's server log, at PostgreSQL's levels.
//!
//! Purpose: [`elog`] and [`Report`] hand a message to the host (`bgw_elog`, or `bgw_errstart` .. `bgw_errfinish`
//! for a message with DETAIL and HINT lines), which writes it with the server log's prefix if its level passes
//! `log_min_messages`. The macros ([`log!`](crate::log), [`info!`](crate::info), [`error!`](crate::error), ...)
//! format with `format!` and call these.
//!
//! Invariants:
//! - Levels are PostgreSQL 15's numbers (DEBUG1 = 14, LOG = 15, INFO = 17, NOTICE = 18, WARNING = 19,
//!   ERROR = 21, FATAL = 22).
//! - ERROR and FATAL end the process with exit code 1 (in a worker: a restart if its registration says so; in
//!   `_PG_init`: start-up stops, naming the module). They never return: if the host ever did, the SDK exits.
//!   Inside a SQL function defined with [`crate::sql`] they fail the statement instead, without calling the host
//!   (whose ERROR would `longjmp` over Rust frames there).
//! - A NUL byte inside a message, which C would read as its end, is written as the two characters `\0`
//!   (the SDK's `ctext` module).
//!
//! Layer: above `ffi`, `ctext` and `sqlcall`; `entry` and `sql` use it.
//!
//! Runs in: any process the module runs in (the postmaster during `_PG_init`, workers, their threads).

use crate::ctext::c_text;
use crate::{ffi, sqlcall};

/// A message level (PostgreSQL 15's values, from `bgw-abi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Level {
    Debug5 = ffi::DEBUG5,
    Debug4 = ffi::DEBUG4,
    Debug3 = ffi::DEBUG3,
    Debug2 = ffi::DEBUG2,
    Debug1 = ffi::DEBUG1,
    Log = ffi::LOG,
    Info = ffi::INFO,
    Notice = ffi::NOTICE,
    Warning = ffi::WARNING,
    /// Logs and ends the process with exit code 1.
    Error = ffi::ERROR,
    /// Logs and ends the process with exit code 1.
    Fatal = ffi::FATAL,
}

impl Level {
    /// The C value.
    pub const fn to_raw(self) -> i32 {
        self as i32
    }
    /// Whether a message at this level ends the process.
    pub const fn ends_process(self) -> bool {
        self.to_raw() >= Level::Error.to_raw()
    }
}

/// Inside a SQL function, an ERROR or FATAL fails the statement instead (see [`crate::sql`]): this unwinds to the
/// SDK's trampoline and never calls the host, whose ERROR would jump over Rust frames.
fn raise_in_sql(level: Level, message: &str, hint: Option<&str>) {
    if level.ends_process() && sqlcall::in_sql_function() {
        sqlcall::raise(message, hint);
    }
}

/// Writes `message` at `level`. At [`Level::Error`] and [`Level::Fatal`] the process ends (exit code 1) and this
/// does not return; inside a SQL function the statement fails instead (XX000).
pub fn elog(level: Level, message: &str) {
    raise_in_sql(level, message, None);
    ffi::elog(level.to_raw(), &c_text(message));
    if level.ends_process() {
        ffi::exit(1);
    }
}

/// Writes `message` as an ERROR and ends the process (exit code 1); inside a SQL function, fails the statement.
pub fn error(message: &str) -> ! {
    raise_in_sql(Level::Error, message, None);
    ffi::elog(Level::Error.to_raw(), &c_text(message));
    ffi::exit(1)
}

/// Writes `message` as a FATAL and ends the process (exit code 1); inside a SQL function, fails the statement.
pub fn fatal(message: &str) -> ! {
    raise_in_sql(Level::Fatal, message, None);
    ffi::elog(Level::Fatal.to_raw(), &c_text(message));
    ffi::exit(1)
}

/// A message with optional DETAIL and HINT lines (PostgreSQL's `ereport`).
///
/// ```no_run
/// # fn not_called() {
/// bgw_sdk::Report::new(bgw_sdk::Level::Warning, "queue is full")
///     .detail("42 items are waiting.")
///     .hint("Raise the limit.")
///     .emit();
/// # }
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a report does nothing until emitted"]
pub struct Report {
    level: Level,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
}

impl Report {
    pub fn new(level: Level, message: impl Into<String>) -> Report {
        Report { level, message: message.into(), detail: None, hint: None }
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Report {
        self.detail = Some(detail.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Report {
        self.hint = Some(hint.into());
        self
    }
    /// Writes the report. At ERROR and FATAL the process ends (exit code 1) and this does not return; inside a
    /// SQL function the statement fails with the message and hint instead (XX000; the detail is dropped).
    pub fn emit(self) {
        raise_in_sql(self.level, &self.message, self.hint.as_deref());
        let detail = self.detail.as_deref().map(c_text);
        let hint = self.hint.as_deref().map(c_text);
        ffi::ereport(self.level.to_raw(), &c_text(&self.message), detail.as_ref(), hint.as_ref());
        if self.level.ends_process() {
            ffi::exit(1);
        }
    }

    /// Writes an ERROR or FATAL report whose strings are leaked before the host is called, for callers whose
    /// frames the host's ERROR may `longjmp` over (a `_PG_init` loaded outside preload): nothing is left to drop.
    pub(crate) fn emit_leaking(self) -> ! {
        let Report { level, message, detail, hint } = self;
        let message = c_text(&message);
        let detail = detail.as_deref().map(c_text);
        let hint = hint.as_deref().map(c_text);
        ffi::ereport_leaking(level.to_raw(), message, detail, hint);
        ffi::exit(1)
    }
}

/// Logs at LOG: `bgw_sdk::log!("processed {} items", n)`.
#[macro_export]
macro_rules! log {
    ($($arg:tt)+) => { $crate::elog::elog($crate::Level::Log, &::std::format!($($arg)+)) };
}

/// Logs at DEBUG1 (written only with `log_min_messages = debug1` or lower).
#[macro_export]
macro_rules! debug1 {
    ($($arg:tt)+) => { $crate::elog::elog($crate::Level::Debug1, &::std::format!($($arg)+)) };
}

/// Logs at INFO.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::elog::elog($crate::Level::Info, &::std::format!($($arg)+)) };
}

/// Logs at NOTICE.
#[macro_export]
macro_rules! notice {
    ($($arg:tt)+) => { $crate::elog::elog($crate::Level::Notice, &::std::format!($($arg)+)) };
}

/// Logs at WARNING.
#[macro_export]
macro_rules! warning {
    ($($arg:tt)+) => { $crate::elog::elog($crate::Level::Warning, &::std::format!($($arg)+)) };
}

/// Logs at ERROR and ends the worker with exit code 1 (its type is `!`).
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::elog::error(&::std::format!($($arg)+)) };
}

/// Logs at FATAL and ends the worker with exit code 1 (its type is `!`).
#[macro_export]
macro_rules! fatal {
    ($($arg:tt)+) => { $crate::elog::fatal(&::std::format!($($arg)+)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_postgresql_15s() {
        let expect = [
            (Level::Debug1, 14),
            (Level::Log, 15),
            (Level::Info, 17),
            (Level::Notice, 18),
            (Level::Warning, 19),
            (Level::Error, 21),
            (Level::Fatal, 22),
        ];
        for (level, n) in expect {
            assert_eq!(level.to_raw(), n);
            assert_eq!(level.ends_process(), n >= 21);
        }
        assert_eq!(Level::Debug5.to_raw(), 10);
    }
}
