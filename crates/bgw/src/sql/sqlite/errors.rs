//! SQLSTATE for SQLite's errors: by extended result code where SQLite says enough, by message otherwise.
//!
//! SQLite's "database is locked" (`SQLITE_BUSY`, `SQLITE_LOCKED`: another connection holds the lock the statement
//! needs, and the wait allowed by the busy timeout ran out) is PostgreSQL's lock wait that timed out: 55P03
//! "canceling statement due to lock timeout", SQLite's own text in the DETAIL. SQLite locks a whole database file,
//! so the lock is the database's, not a relation's; `idle_in_transaction_session_timeout` ends a session that holds
//! it idle.
//!
//! Runs in: any process that runs SQL.

use std::ffi::c_int;

use rusqlite::ffi;

use crate::sql::error::SqlError;

thread_local! {
    /// The error the last failing SQL function of the SQL layer raised ([`function_failed`]).
    static FUNCTION_ERROR: std::cell::RefCell<Option<SqlError>> = const { std::cell::RefCell::new(None) };
}

/// The rusqlite error a SQL function returns to fail with `err`: SQLite keeps only its message, so the whole
/// error is kept aside and [`from_rusqlite`] gives it back (SQLSTATE, detail and hint) when SQLite reports a
/// failure with that message.
pub fn function_failed(err: SqlError) -> rusqlite::Error {
    FUNCTION_ERROR.with(|slot| *slot.borrow_mut() = Some(err.clone()));
    rusqlite::Error::UserFunctionError(Box::new(err))
}

/// The error a SQL function raised, if SQLite's `message` is its message (and forgets it).
fn take_function_error(message: Option<&str>) -> Option<SqlError> {
    let taken = FUNCTION_ERROR.with(|slot| slot.borrow_mut().take())?;
    (message == Some(taken.message.as_str())).then_some(taken)
}

/// Maps a rusqlite error to a PostgreSQL error.
pub fn from_rusqlite(err: rusqlite::Error) -> SqlError {
    if let rusqlite::Error::SqliteFailure(_, message) = &err {
        if let Some(raised) = take_function_error(message.as_deref()) {
            return raised;
        }
    }
    match err {
        rusqlite::Error::UserFunctionError(boxed) => match boxed.downcast::<SqlError>() {
            Ok(raised) => *raised,
            Err(other) => SqlError::error("XX000", other.to_string()),
        },
        // PostgreSQL's text for it (SQLite's varies with where the allocation failed).
        rusqlite::Error::SqliteFailure(failure, _) if failure.extended_code & 0xff == ffi::SQLITE_NOMEM => {
            SqlError::error("53200", "out of memory")
        }
        rusqlite::Error::SqliteFailure(failure, message) => {
            let message = message.unwrap_or_else(|| failure.to_string());
            if failure.extended_code & 0xff == ffi::SQLITE_AUTH {
                if let Some(denial) = super::ffi::take_denial() {
                    return SqlError::error("42501", denial);
                }
            }
            if is_lock_timeout(failure.extended_code) {
                return SqlError::error("55P03", "canceling statement due to lock timeout")
                    .with_detail(format!("SQLite: {message}"));
            }
            SqlError::error(sqlstate(failure.extended_code, &message), message)
        }
        rusqlite::Error::Utf8Error(..) => SqlError::error("22021", "invalid byte sequence for encoding \"UTF8\""),
        other => SqlError::error("XX000", other.to_string()),
    }
}

/// Whether SQLite's result code says a lock could not be had in time (busy or locked, any extended code).
pub fn is_lock_timeout(code: c_int) -> bool {
    matches!(code & 0xff, ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED)
}

/// The SQLSTATE of a SQLite error with extended result code `code` and text `message` (XX000 if nothing fits).
pub fn sqlstate(code: c_int, message: &str) -> &'static str {
    match code {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => return "23505",
        ffi::SQLITE_CONSTRAINT_NOTNULL => return "23502",
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return "23503",
        ffi::SQLITE_CONSTRAINT_CHECK => return "23514",
        _ => {}
    }
    match code & 0xff {
        ffi::SQLITE_CONSTRAINT => return "23000",
        ffi::SQLITE_TOOBIG => return "54000",
        ffi::SQLITE_MISMATCH => return "42804",
        ffi::SQLITE_NOMEM => return "53200",
        ffi::SQLITE_FULL => return "53100",
        ffi::SQLITE_INTERRUPT => return "57014",
        ffi::SQLITE_READONLY => return "25006",
        ffi::SQLITE_AUTH => return "42501",
        ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => return "55P03",
        _ => {}
    }
    const BY_MESSAGE: &[(&str, &str)] = &[
        ("syntax error", "42601"),
        ("incomplete input", "42601"),
        ("unrecognized token", "42601"),
        ("no such table", "42P01"),
        ("no such column", "42703"),
        ("ambiguous column name", "42702"),
        ("no such function", "42883"),
        ("wrong number of arguments to function", "42883"),
        ("already exists", "42P07"),
        ("no such index", "42704"),
        ("no such view", "42704"),
        ("no such trigger", "42704"),
        ("no such savepoint", "3B001"),
        ("cannot start a transaction within a transaction", "25001"),
        ("no transaction is active", "25P01"),
        ("misuse of aggregate", "42803"),
        ("integer overflow", "22003"),
        ("too many", "54000"),
    ];
    let lower = message.to_ascii_lowercase();
    BY_MESSAGE.iter().find(|(needle, _)| lower.contains(needle)).map_or("XX000", |(_, state)| state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_database_is_a_lock_timeout() {
        for code in [ffi::SQLITE_BUSY, ffi::SQLITE_LOCKED, ffi::SQLITE_BUSY_SNAPSHOT, ffi::SQLITE_LOCKED_SHAREDCACHE] {
            let e =
                from_rusqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some("database is locked".into())));
            assert_eq!((e.code, e.message.as_str()), ("55P03", "canceling statement due to lock timeout"));
            assert_eq!(sqlstate(code, "database is locked"), "55P03");
        }
    }
}
