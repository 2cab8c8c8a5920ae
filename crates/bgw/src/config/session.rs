//! A session's layer over the host's settings: the parameters only a client session has (PostgreSQL's
//! `search_path`, `DateStyle`, `TimeZone`, `extra_float_digits`, ...: [`session_parameters`]), the values a
//! session's `SET` / `SET LOCAL` gave ([`SessionLayer`]), and which values the embedded SQLite engine can honour
//! ([`check_session_value`]). Pure: the backend keeps one layer per session and decides who may set what.
//!
//! Runs in: a backend process (pure data; any process could).

use std::collections::HashMap;

use super::def::{GucContext, GucDef, GucValue};
use super::Unit;

/// The parameters a client session has besides the host's table: PostgreSQL's names, defaults and contexts.
/// Values the SQLite engine cannot honour are refused by [`check_session_value`].
pub fn session_parameters() -> Vec<GucDef> {
    use GucContext::{Internal, User};
    vec![
        GucDef::string(
            "application_name",
            "",
            User,
            "Sets the application name to be reported in statistics and logs.",
        ),
        GucDef::string(
            "search_path",
            "\"$user\", public",
            User,
            "Sets the schema search order for names that are not schema-qualified.",
        ),
        GucDef::string("client_encoding", "UTF8", User, "Sets the client's character set encoding."),
        GucDef::string("DateStyle", "ISO, MDY", User, "Sets the display format for date and time values."),
        GucDef::string("TimeZone", "UTC", User, "Sets the time zone for displaying and interpreting time stamps."),
        GucDef::enumeration(
            "IntervalStyle",
            "postgres",
            &["postgres", "postgres_verbose", "sql_standard", "iso_8601"],
            User,
            "Sets the display format for interval values.",
        ),
        GucDef::int(
            "extra_float_digits",
            1,
            -15,
            3,
            Unit::None,
            User,
            "Sets the number of digits displayed for floating-point values.",
        ),
        GucDef::bool("standard_conforming_strings", true, User, "Causes '...' strings to treat backslashes literally."),
        GucDef::enumeration("bytea_output", "hex", &["escape", "hex"], User, "Sets the output format for bytea."),
        GucDef::enumeration(
            "client_min_messages",
            "notice",
            &["debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error"],
            User,
            "Sets the message levels that are sent to the client.",
        ),
        GucDef::enumeration(
            "default_transaction_isolation",
            "serializable",
            &["serializable", "repeatable read", "read committed", "read uncommitted"],
            User,
            "Sets the transaction isolation level of each new transaction.",
        ),
        GucDef::enumeration(
            "transaction_isolation",
            "serializable",
            &["serializable", "repeatable read", "read committed", "read uncommitted"],
            User,
            "Sets the current transaction's isolation level.",
        ),
        GucDef::bool(
            "default_transaction_read_only",
            false,
            User,
            "Sets the default read-only status of new transactions.",
        ),
        GucDef::bool("transaction_read_only", false, User, "Sets the current transaction's read-only status."),
        GucDef::bool(
            "default_transaction_deferrable",
            false,
            User,
            "Sets the default deferrable status of new transactions.",
        ),
        GucDef::bool(
            "transaction_deferrable",
            false,
            User,
            "Whether to defer a read-only serializable transaction until it can be executed with no possible \
             serialization failures.",
        ),
        GucDef::bool("is_superuser", false, Internal, "Shows whether the current user is a superuser."),
        GucDef::string("server_version", "15.0 (bgw)", Internal, "Shows the server version."),
        GucDef::int(
            "server_version_num",
            150000,
            150000,
            150000,
            Unit::None,
            Internal,
            "Shows the server version as an integer.",
        ),
        GucDef::string("server_encoding", "UTF8", Internal, "Shows the server (database) character set encoding."),
        GucDef::bool("integer_datetimes", true, Internal, "Shows whether datetimes are integer based."),
    ]
}

/// Whether a change of the parameter goes to the client in a ParameterStatus message (PostgreSQL's
/// `GUC_REPORT`).
pub fn is_reported(name: &str) -> bool {
    [
        "application_name",
        "client_encoding",
        "DateStyle",
        "IntervalStyle",
        "TimeZone",
        "integer_datetimes",
        "is_superuser",
        "server_encoding",
        "server_version",
        "standard_conforming_strings",
    ]
    .iter()
    .any(|n| n.eq_ignore_ascii_case(name))
}

/// Checks a parsed session value against what the embedded engine honours: Ok with the value to keep (a
/// normalised spelling), or Err with the SQLSTATE and PostgreSQL-style message (0A000 for a valid PostgreSQL
/// value bgw cannot honour, 22023 for one PostgreSQL would refuse too).
pub fn check_session_value(name: &str, value: GucValue) -> Result<GucValue, (&'static str, String)> {
    let unsupported = |what: String| Err(("0A000", what));
    let invalid = |raw: &str| Err(("22023", format!("invalid value for parameter \"{name}\": \"{raw}\"")));
    match (name.to_ascii_lowercase().as_str(), &value) {
        ("client_encoding", GucValue::String(raw)) => {
            // Clients may quote it (asyncpg sends `'utf-8'`), as PostgreSQL's parser allows.
            let norm = raw.trim().trim_matches('\'').to_ascii_uppercase().replace(['-', '_'], "");
            match norm.as_str() {
                "UTF8" | "UNICODE" => Ok(GucValue::String("UTF8".into())),
                // No conversion at all, as PostgreSQL does for SQL_ASCII: what bgw does for UTF8 too.
                "SQLASCII" => Ok(GucValue::String("SQL_ASCII".into())),
                "" => invalid(raw),
                _ => unsupported(format!("client_encoding \"{raw}\" is not supported: bgw speaks UTF8 only")),
            }
        }
        ("datestyle", GucValue::String(raw)) => {
            for part in raw.split(',').map(|p| p.trim().to_ascii_lowercase()) {
                match part.as_str() {
                    "iso" | "mdy" | "us" | "noneuropean" | "default" => {}
                    "sql" | "postgres" | "german" | "dmy" | "ymd" | "european" | "euro" => {
                        return unsupported(format!(
                            "DateStyle \"{raw}\" is not supported: bgw shows dates as ISO, MDY"
                        ))
                    }
                    _ => return invalid(raw),
                }
            }
            Ok(GucValue::String("ISO, MDY".into()))
        }
        ("timezone", GucValue::String(raw)) => {
            let utc = [
                "utc",
                "etc/utc",
                "gmt",
                "etc/gmt",
                "z",
                "zulu",
                "universal",
                "etc/universal",
                "0",
                "+0",
                "-0",
                "+00",
                "utc0",
            ];
            if utc.contains(&raw.trim().to_ascii_lowercase().as_str()) {
                Ok(value)
            } else {
                unsupported(format!("time zone \"{raw}\" is not supported: bgw's time stamps are in UTC"))
            }
        }
        ("search_path", GucValue::String(raw)) => {
            for part in raw.split(',').map(|p| p.trim().trim_matches('"')) {
                if !matches!(part, "" | "$user" | "public" | "pg_catalog" | "main") {
                    return unsupported(format!(
                        "search_path element \"{part}\" is not supported: the embedded database has one schema"
                    ));
                }
            }
            Ok(value)
        }
        ("extra_float_digits", GucValue::Int(n)) if *n < 1 => unsupported(format!(
            "extra_float_digits = {n} is not supported: bgw always sends floating-point values exactly"
        )),
        ("standard_conforming_strings", GucValue::Bool(false)) => {
            unsupported("standard_conforming_strings = off is not supported".into())
        }
        ("intervalstyle", GucValue::Enum(v)) if v != "postgres" => {
            unsupported(format!("IntervalStyle \"{v}\" is not supported"))
        }
        ("bytea_output", GucValue::Enum(v)) if v != "hex" => {
            unsupported(format!("bytea_output \"{v}\" is not supported"))
        }
        _ => Ok(value),
    }
}

/// The values one session set, over the host's: `SET` (session), `SET LOCAL` (to the end of the transaction),
/// and the session values at the start of the current transaction, restored if it rolls back.
#[derive(Debug, Default, Clone)]
pub struct SessionLayer {
    /// Name (lower case) to value; a name absent here has the host's (or the definition's) value.
    values: HashMap<String, GucValue>,
    /// `SET LOCAL`s of the current transaction; None is "back to the session's value ... of the default".
    local: HashMap<String, Option<GucValue>>,
    /// `values` as they were when the current transaction changed them first.
    saved: Option<HashMap<String, GucValue>>,
    /// How many times what [`SessionLayer::get`] answers may have changed: a reader that saw the same count has
    /// nothing to look at again.
    changes: u64,
}

impl SessionLayer {
    /// See the field: changes with every SET, RESET, and transaction end that undoes or ends one.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// The session's own value of `name`, if it set one: Some(None) for a `SET LOCAL ... TO DEFAULT`.
    pub fn get(&self, name: &str) -> Option<Option<&GucValue>> {
        let key = name.to_ascii_lowercase();
        if let Some(local) = self.local.get(&key) {
            return Some(local.as_ref());
        }
        self.values.get(&key).map(Some)
    }

    /// `SET` (`local` false) or `SET LOCAL`; `value` None is `DEFAULT` (and `RESET`).
    pub fn set(&mut self, name: &str, value: Option<GucValue>, local: bool) {
        let key = name.to_ascii_lowercase();
        self.changes += 1;
        if local {
            self.local.insert(key, value);
            return;
        }
        self.saved.get_or_insert_with(|| self.values.clone());
        // A session SET overrides a SET LOCAL of the same transaction, as in PostgreSQL.
        self.local.remove(&key);
        match value {
            Some(v) => self.values.insert(key, v),
            None => self.values.remove(&key),
        };
    }

    /// `RESET ALL`.
    pub fn reset_all(&mut self) {
        self.changes += 1;
        self.saved.get_or_insert_with(|| self.values.clone());
        self.values.clear();
        self.local.clear();
    }

    /// The transaction ended: `SET LOCAL`s end; a rollback undoes the transaction's `SET`s.
    pub fn transaction_ended(&mut self, committed: bool) {
        if !self.local.is_empty() {
            self.local.clear();
            self.changes += 1;
        }
        if let Some(saved) = self.saved.take() {
            if !committed {
                self.values = saved;
                self.changes += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_count_moves_only_when_a_value_may_have_changed() {
        let mut l = SessionLayer::default();
        let c0 = l.changes();
        l.transaction_ended(true);
        l.transaction_ended(false);
        assert_eq!(l.changes(), c0, "a transaction that set nothing");
        l.set("x", Some(GucValue::Int(1)), false);
        let c1 = l.changes();
        assert!(c1 > c0);
        l.transaction_ended(true);
        assert_eq!(l.changes(), c1, "a commit keeps the session's values");
        l.set("x", Some(GucValue::Int(2)), true);
        let c2 = l.changes();
        l.transaction_ended(true);
        assert!(l.changes() > c2, "a SET LOCAL ends with its transaction");
        let c3 = l.changes();
        l.set("y", Some(GucValue::Int(3)), false);
        l.transaction_ended(false);
        assert!(l.changes() > c3 + 1, "a rollback undoes the SET");
        assert_eq!(l.get("y"), None);
    }

    #[test]
    fn set_local_and_rollback() {
        let mut l = SessionLayer::default();
        l.set("TimeZone", Some(GucValue::String("UTC".into())), false);
        l.transaction_ended(true);
        assert_eq!(l.get("timezone"), Some(Some(&GucValue::String("UTC".into()))));
        l.set("x", Some(GucValue::Int(1)), false);
        l.set("y", Some(GucValue::Int(2)), true);
        assert_eq!(l.get("y"), Some(Some(&GucValue::Int(2))));
        l.transaction_ended(false);
        assert_eq!(l.get("x"), None);
        assert_eq!(l.get("y"), None);
        assert!(l.get("timezone").is_some());
        l.reset_all();
        l.transaction_ended(true);
        assert_eq!(l.get("timezone"), None);
    }

    #[test]
    fn only_honoured_values() {
        let s = |v: &str| GucValue::String(v.into());
        assert_eq!(check_session_value("client_encoding", s("utf-8")), Ok(s("UTF8")));
        assert_eq!(check_session_value("client_encoding", s("LATIN1")).unwrap_err().0, "0A000");
        assert_eq!(check_session_value("DateStyle", s("ISO")), Ok(s("ISO, MDY")));
        assert_eq!(check_session_value("datestyle", s("German")).unwrap_err().0, "0A000");
        assert_eq!(check_session_value("TimeZone", s("Europe/Paris")).unwrap_err().0, "0A000");
        assert_eq!(check_session_value("extra_float_digits", GucValue::Int(3)), Ok(GucValue::Int(3)));
        assert_eq!(check_session_value("extra_float_digits", GucValue::Int(0)).unwrap_err().0, "0A000");
        assert!(check_session_value("search_path", s("\"$user\", public")).is_ok());
        assert!(check_session_value("search_path", s("")).is_ok());
        assert!(check_session_value("search_path", s("app")).is_err());
        for def in session_parameters() {
            assert!(check_session_value(&def.name, def.default.clone()).is_ok(), "{}", def.name);
        }
    }
}
