//! [`SqlError`]: a PostgreSQL-style error, what every engine returns and what a backend sends as an
//! ErrorResponse (or, for notices and warnings, a NoticeResponse).
//!
//! Runs in: any process that runs SQL (a backend, a worker using SPI).

use thiserror::Error;

/// A PostgreSQL-style error: severity, SQLSTATE, message, and the optional detail and hint.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct SqlError {
    /// "ERROR" or "FATAL" (FATAL ends the session after it is sent); notices and warnings use the same type.
    pub severity: Severity,
    /// Five-character SQLSTATE, for example "42501".
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// Where in the statement text the engine found the error (a byte offset), if it said. The backend does not
    /// send it; SPI quotes it in its error text as SQLite's own messages do. (u32 keeps the error small.)
    pub position: Option<u32>,
    /// Where the error happened, as PostgreSQL's CONTEXT line says it (`COPY t, line 3, column a: "x"`); boxed to
    /// keep the error small.
    pub context: Option<Box<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// PostgreSQL's INFO: always sent to the client, whatever `client_min_messages` says.
    Info,
    Notice,
    Warning,
    Error,
    Fatal,
}

impl SqlError {
    fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        SqlError { severity, code, message: message.into(), detail: None, hint: None, position: None, context: None }
    }
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        SqlError::new(Severity::Error, code, message)
    }
    pub fn fatal(code: &'static str, message: impl Into<String>) -> Self {
        SqlError::new(Severity::Fatal, code, message)
    }
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        SqlError::new(Severity::Warning, code, message)
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into().into_boxed_str());
        self
    }
}
