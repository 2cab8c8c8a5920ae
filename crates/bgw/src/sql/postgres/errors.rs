//! The client's errors as [`SqlError`]s: a server's error keeps its SQLSTATE, message, detail, hint, position and
//! context; a lost connection is 08006 in libpq's words; a refused connection is 08001.
//!
//! Runs in: a process connected to a PostgreSQL server (a background worker).

use std::collections::HashSet;
use std::sync::Mutex;

use tokio_postgres::error::{DbError, ErrorPosition};

use crate::sql::error::{Severity, SqlError};

/// A SQLSTATE as the `&'static str` [`SqlError`] holds: the server may send any five characters, and each
/// distinct one is kept once for the life of the process (there are a few hundred at most).
pub fn static_code(code: &str) -> &'static str {
    static CODES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut codes = CODES.lock().unwrap_or_else(|e| e.into_inner());
    let codes = codes.get_or_insert_with(HashSet::new);
    if let Some(known) = codes.get(code) {
        return known;
    }
    let leaked: &'static str = Box::leak(code.to_owned().into_boxed_str());
    codes.insert(leaked);
    leaked
}

/// A server's ErrorResponse or NoticeResponse as an [`SqlError`].
pub fn from_db(db: &DbError) -> SqlError {
    let severity = match db.severity() {
        "FATAL" | "PANIC" => Severity::Fatal,
        "ERROR" => Severity::Error,
        "WARNING" => Severity::Warning,
        _ => Severity::Notice,
    };
    SqlError {
        severity,
        code: static_code(db.code().code()),
        message: db.message().to_owned(),
        detail: db.detail().map(str::to_owned),
        hint: db.hint().map(str::to_owned),
        position: match db.position() {
            Some(ErrorPosition::Original(p)) => Some(*p),
            _ => None,
        },
        context: db.where_().map(|w| w.to_owned().into_boxed_str()),
    }
}

/// The connection to the server is gone (the server stopped, restarted or dropped it): 08006, libpq's text.
pub fn connection_lost() -> SqlError {
    SqlError::error("08006", "server closed the connection unexpectedly")
        .with_detail("This probably means the server terminated abnormally before or while processing the request.")
}

/// A client error of a statement: the server's error if it sent one, else the connection is lost.
pub fn from_client(err: &tokio_postgres::Error) -> SqlError {
    match err.as_db_error() {
        // The server's FATAL (a shutdown's 57P01, ...) ends the connection: the statement sees a lost connection.
        Some(db) if !matches!(db.severity(), "FATAL" | "PANIC") => from_db(db),
        _ if err.is_closed() || err.as_db_error().is_some() || io_error(err).is_some() => connection_lost(),
        // A value the client could not encode or decode, and the like.
        _ => SqlError::error("XX000", err.to_string()),
    }
}

/// The client's error at connect: the server's refusal (authentication, an unknown database, too many
/// connections: its SQLSTATE and message), or 08001 saying where the server was not reached and why.
pub fn from_connect(err: &tokio_postgres::Error, server: &str) -> SqlError {
    if let Some(db) = err.as_db_error() {
        let mut e = from_db(db);
        e.severity = Severity::Fatal;
        return e;
    }
    let reason = match io_error(err) {
        Some(io) => io.to_string(),
        None => err.to_string(),
    };
    // The standard library words it "Connection refused (os error 111)"; libpq "Connection refused".
    let reason = match reason.rfind(" (os error ") {
        Some(at) if reason.ends_with(')') => reason[..at].to_owned(),
        _ => reason,
    };
    SqlError::fatal("08001", format!("connection to server at {server} failed: {reason}"))
}

/// The I/O error at the root of a client error, if that is what it is.
fn io_error(err: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kept_once() {
        let a = static_code("22P02");
        let b = static_code(&String::from("22P02"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(static_code("XX001"), "XX001");
    }

    #[test]
    fn lost_connection_is_libpq_text() {
        let e = connection_lost();
        assert_eq!((e.code, e.message.as_str()), ("08006", "server closed the connection unexpectedly"));
    }
}
