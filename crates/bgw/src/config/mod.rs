//! # `config` — PostgreSQL-style configuration and the GUC registry
//!
//! This module reads `bgworker.conf`, the host's configuration file, which uses
//! the syntax of PostgreSQL's `postgresql.conf`, and keeps the typed registry of
//! configuration parameters ("GUCs", grand unified configuration) that the rest
//! of the host and the loaded modules read their settings from.
//!
//! Its parts:
//!
//! * [`parse_config`] (in `parse.rs`) turns file text into a list of
//!   [`ConfigItem`]s: one `name = value` per line, `#` comments, single-quoted
//!   strings with escapes. It knows nothing about which parameters exist.
//! * [`GucDef`], [`GucKind`], [`GucValue`] and [`GucContext`] (in `def.rs`)
//!   describe a parameter and validate a raw string against it, with
//!   PostgreSQL's error wording; the value syntax (booleans, integers with
//!   units such as `10s` or `64MB`, reals, enums) and [`Unit`] are in `value.rs`.
//! * [`Settings`] (in `registry.rs`) is the registry: definitions, current
//!   values and their sources, placeholders, `get`/`show`. `reload.rs` applies
//!   the defaults, the file and the `-c name=value` command-line overrides at
//!   start ([`Settings::load_initial`]) and again on SIGHUP
//!   ([`Settings::reload`]).
//! * [`host_parameters`] (in `params.rs`) is the table of the host's built-in
//!   parameters, and [`render_default_config`] (in `render.rs`) writes the
//!   commented-out default file `bgw initdb` creates.
//!
//! ## Who runs it
//!
//! The postmaster runs all of it: it parses the file at start (an invalid
//! setting there makes the start fail) and again on every SIGHUP (`bgw reload`),
//! logging the [`ReloadReport`]. Every child process (workers, the front door)
//! inherits the postmaster's [`Settings`] through `fork` and, like a PostgreSQL
//! backend, may re-read the file itself on SIGHUP with the same code. Because
//! of that the module is deliberately pure: it does no logging, keeps no global
//! state, performs no I/O except in the convenience [`read_config_file`], and
//! gives the same answer in every process for the same input.
//!
//! ## Invariants
//!
//! * Parameter names are case-insensitive; they are stored and compared in
//!   ASCII lower case.
//! * The value held for a defined parameter always satisfies its definition
//!   (type, range, enum options). Invalid input never replaces a valid value.
//! * Precedence is built-in default < configuration file < command line.
//!   A `-c` override wins over the file, also across reloads.
//! * A `Postmaster`-context parameter never changes after
//!   [`Settings::load_initial`]; a differing file value on reload is reported
//!   and remembered as "pending restart" instead.
//! * A reload that finds a syntax error or an unknown parameter name changes
//!   nothing; one that finds only invalid values applies the valid changes.
//! * Dotted names that are not (yet) defined, such as `worker_spi.naptime`,
//!   are kept as placeholders and validated when a module calls
//!   [`Settings::define`].
//! * No input makes any function here panic: the parser and the value parsers
//!   use checked indexing and checked or saturating arithmetic throughout.

mod def;
mod params;
mod parse;
mod registry;
mod reload;
mod render;
mod session;
#[cfg(test)]
mod testing;
mod value;

use std::path::{Path, PathBuf};

pub use def::{GucContext, GucDef, GucKind, GucValue};
pub use params::{host_parameters, MAX_SPARES};
pub use parse::{parse_config, parse_override, read_config_file, ConfigItem};
pub use registry::{GucSource, Settings};
pub use reload::{Level, ReloadMessage, ReloadReport};
pub use render::render_default_config;
pub use session::{check_session_value, is_reported, session_parameters, SessionLayer};
pub use value::{parse_bool, Unit};

/// An error from reading, parsing or applying configuration.
///
/// The `Display` text follows PostgreSQL's server messages. A hint, when there
/// is one, is kept apart (see [`ConfigError::hint`]) so the caller can log it
/// as a separate `HINT:` line, as PostgreSQL does.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The file does not follow the `name = value` syntax.
    #[error("syntax error in file \"{}\" line {line}, {}", .file.display(), near_text(.near))]
    Syntax {
        /// The file that contains the error.
        file: PathBuf,
        /// The 1-based line number of the error.
        line: u32,
        /// The offending token as written, or `None` when the line ended too early.
        near: Option<String>,
    },

    /// The configuration file could not be read.
    #[error("could not open configuration file \"{}\": {message}", .file.display())]
    Io {
        /// The file that could not be read.
        file: PathBuf,
        /// The operating system's description of the failure.
        message: String,
    },

    /// A parameter name or value was rejected.
    ///
    /// `Display` shows the message followed by ` in file "..." line N` when the
    /// setting came from a file.
    #[error("{message}{}", location(.file, .line))]
    Parameter {
        /// The parameter's name (lower case), or the name as given when unknown.
        name: String,
        /// The primary message, e.g. `invalid value for parameter "port": "abc"`.
        message: String,
        /// An optional hint, e.g. the list of accepted enum values.
        hint: Option<String>,
        /// The file the setting came from, if any (none for `-c` overrides).
        file: Option<PathBuf>,
        /// The line the setting came from, if any.
        line: Option<u32>,
    },

    /// A parameter definition handed to [`Settings::define`] is inconsistent.
    #[error("invalid definition of parameter \"{name}\": {reason}")]
    Definition {
        /// The name in the rejected definition.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A parameter with this name is already defined.
    #[error("attempt to redefine parameter \"{name}\"")]
    Duplicate {
        /// The name that is already taken.
        name: String,
    },
}

impl ConfigError {
    /// The hint that goes with the error, if any (PostgreSQL's `HINT:` line).
    pub fn hint(&self) -> Option<&str> {
        match self {
            ConfigError::Parameter { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    /// The file the error refers to, if any.
    pub fn file(&self) -> Option<&Path> {
        match self {
            ConfigError::Syntax { file, .. } | ConfigError::Io { file, .. } => Some(file),
            ConfigError::Parameter { file, .. } => file.as_deref(),
            ConfigError::Definition { .. } | ConfigError::Duplicate { .. } => None,
        }
    }

    /// The 1-based line the error refers to, if any.
    pub fn line(&self) -> Option<u32> {
        match self {
            ConfigError::Syntax { line, .. } => Some(*line),
            ConfigError::Parameter { line, .. } => *line,
            _ => None,
        }
    }

    /// Attaches a file and line to a [`ConfigError::Parameter`] error; other
    /// variants are returned unchanged.
    pub fn at(self, file: &Path, line: u32) -> ConfigError {
        match self {
            ConfigError::Parameter { name, message, hint, .. } => {
                ConfigError::Parameter { name, message, hint, file: Some(file.to_path_buf()), line: Some(line) }
            }
            other => other,
        }
    }
}

/// Renders the tail of a syntax error message.
fn near_text(near: &Option<String>) -> String {
    match near {
        Some(token) => format!("near token \"{token}\""),
        None => "near end of line".to_string(),
    }
}

/// Renders the ` in file "..." line N` context of a parameter error.
fn location(file: &Option<PathBuf>, line: &Option<u32>) -> String {
    match (file, line) {
        (Some(file), Some(line)) => format!(" in file \"{}\" line {line}", file.display()),
        (Some(file), None) => format!(" in file \"{}\"", file.display()),
        (None, _) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_display_matches_postgres() {
        let e = ConfigError::Syntax { file: PathBuf::from("/path/bgworker.conf"), line: 3, near: Some("xyz".into()) };
        assert_eq!(e.to_string(), "syntax error in file \"/path/bgworker.conf\" line 3, near token \"xyz\"");
        let e = ConfigError::Syntax { file: PathBuf::from("/path/bgworker.conf"), line: 7, near: None };
        assert_eq!(e.to_string(), "syntax error in file \"/path/bgworker.conf\" line 7, near end of line");
        assert_eq!(e.file(), Some(Path::new("/path/bgworker.conf")));
        assert_eq!(e.line(), Some(7));
        assert_eq!(e.hint(), None);
    }

    #[test]
    fn parameter_error_display_and_location() {
        let e = ConfigError::Parameter {
            name: "foo".into(),
            message: "unrecognized configuration parameter \"foo\"".into(),
            hint: None,
            file: None,
            line: None,
        };
        assert_eq!(e.to_string(), "unrecognized configuration parameter \"foo\"");
        assert_eq!(e.file(), None);
        let e = e.at(Path::new("/path"), 3);
        assert_eq!(e.to_string(), "unrecognized configuration parameter \"foo\" in file \"/path\" line 3");
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.file(), Some(Path::new("/path")));
    }

    #[test]
    fn other_errors_display() {
        let e = ConfigError::Io { file: PathBuf::from("/x.conf"), message: "No such file or directory".into() };
        assert_eq!(e.to_string(), "could not open configuration file \"/x.conf\": No such file or directory");
        let e2 = e.clone().at(Path::new("/y"), 1);
        assert_eq!(e, e2);
        let e = ConfigError::Duplicate { name: "port".into() };
        assert_eq!(e.to_string(), "attempt to redefine parameter \"port\"");
        let e = ConfigError::Definition { name: "x".into(), reason: "bad".into() };
        assert_eq!(e.to_string(), "invalid definition of parameter \"x\": bad");
        assert_eq!(e.file(), None);
        assert_eq!(e.line(), None);
    }
}
