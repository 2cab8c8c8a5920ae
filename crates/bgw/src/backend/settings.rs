//! The session's settings: PostgreSQL's `SET` / `SET LOCAL` / `RESET` / `RESET ALL` / `DISCARD ALL`, `SHOW`,
//! `set_config` and `current_setting` over a per-session layer ([`crate::config::SessionLayer`]) on the host's
//! settings, with PostgreSQL's rules: only `user`-context parameters (and `superuser` ones for a superuser) may be
//! set, values are checked with the configuration file's parser and units, and values the SQLite engine cannot
//! honour are refused with 0A000.
//!
//! Who writes what: the session's thread-local [`State`] is written by the session commands (run as the engine's
//! own statements, see [`super::database`]), by `set_config` and by the end of each transaction; the session reads
//! it after each statement to send ParameterStatus messages and to publish its timeouts to
//! [`crate::process::interrupts`], and at ReadyForQuery to drop its prepared statements after `DISCARD ALL`.
//!
//! Runs in: a backend process.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::config::{check_session_value, is_reported, session_parameters, GucContext, GucDef, GucValue, SessionLayer};
use crate::sql::session::SessionCommand;

use super::context;
use super::host::{HostServices, SqlError};

#[derive(Default)]
struct State {
    layer: SessionLayer,
    /// The session-only parameters ([`session_parameters`]).
    defs: Vec<GucDef>,
    /// Whether the statement running is inside a transaction block (for `set_config(..., true)`).
    in_block: bool,
    /// The reported parameters' values the client was last told.
    reported: HashMap<String, String>,
    /// `DISCARD ALL` ran: the session drops its prepared statements and portals.
    discard: bool,
    /// Values the startup packet gave (`application_name`): what `RESET` returns to, as in PostgreSQL.
    startup: HashMap<String, GucValue>,
    /// The layer's change count and this process's reload count when [`after_statement`] last looked (None:
    /// never): the same pair means no value it reports or publishes can have changed.
    looked_at: Option<(u64, u64)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

const TIMEOUTS: [&str; 4] =
    ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout"];

/// Starts the session's settings: the client's `application_name` from the startup packet, and the values sent
/// in the first ParameterStatus messages.
pub(super) fn start(application_name: &str, reported: &[(String, String)]) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        *s = State { defs: session_parameters(), ..State::default() };
        if !application_name.is_empty() {
            s.startup.insert("application_name".into(), GucValue::String(application_name.to_string()));
        }
        s.reported = reported.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect();
    });
    publish_timeouts();
}

fn session_def(name: &str) -> Option<GucDef> {
    STATE.with(|s| s.borrow().defs.iter().find(|d| d.name.eq_ignore_ascii_case(name)).cloned())
}

fn host_def(name: &str) -> Option<GucDef> {
    crate::process::settings().as_ref().and_then(|s| s.def(&name.to_ascii_lowercase()).cloned())
}

fn unrecognized(name: &str) -> SqlError {
    SqlError::error("42704", format!("unrecognized configuration parameter \"{name}\""))
}

fn superuser(host: &dyn HostServices) -> bool {
    host.current_setting("is_superuser").is_ok_and(|v| v == "on")
}

/// `SET name = value` / `SET LOCAL` / `... TO DEFAULT` (`raw` None) by this session.
pub(crate) fn set(host: &dyn HostServices, name: &str, raw: Option<&str>, local: bool) -> Result<(), SqlError> {
    let def = session_def(name).or_else(|| host_def(name)).ok_or_else(|| unrecognized(name))?;
    let shown = def.name.clone();
    match def.context {
        GucContext::Internal => {
            return Err(SqlError::error("55P02", format!("parameter \"{shown}\" cannot be changed")));
        }
        GucContext::Postmaster => {
            return Err(SqlError::error(
                "55P02",
                format!("parameter \"{shown}\" cannot be changed without restarting the server"),
            ));
        }
        GucContext::Sighup => {
            return Err(SqlError::error("55P02", format!("parameter \"{shown}\" cannot be changed now")));
        }
        GucContext::Superuser if !superuser(host) => {
            return Err(SqlError::error("42501", format!("permission denied to set parameter \"{shown}\"")));
        }
        GucContext::Superuser | GucContext::User => {}
    }
    let value = match raw {
        None => None,
        Some(raw) => {
            let parsed = def.parse_value(raw).map_err(|err| {
                let hint = err.hint().map(str::to_string);
                let e = SqlError::error("22023", err.to_string());
                match hint {
                    Some(h) => e.with_hint(h),
                    None => e,
                }
            })?;
            Some(check_session_value(&def.name, parsed).map_err(|(code, message)| SqlError::error(code, message))?)
        }
    };
    let in_block = STATE.with(|s| s.borrow().in_block);
    if local && !in_block {
        context::notice(SqlError::warning("25P01", "SET LOCAL can only be used in transaction blocks"));
        return Ok(());
    }
    STATE.with(|s| s.borrow_mut().layer.set(&def.name, value, local));
    Ok(())
}

/// Runs a session command (the engine's own statement); its command tag.
pub(crate) fn run(host: &dyn HostServices, sql: &str, in_transaction_block: bool) -> Result<String, SqlError> {
    let Some((command, _)) = crate::sql::session::parse(sql) else {
        return Err(crate::sql::session::syntax_error(sql));
    };
    STATE.with(|s| s.borrow_mut().in_block = in_transaction_block);
    match command {
        SessionCommand::Set { name, value, local } => {
            set(host, &name, value.as_deref(), local)?;
            Ok("SET".into())
        }
        SessionCommand::Reset(name) => {
            set(host, &name, None, false)?;
            Ok("RESET".into())
        }
        SessionCommand::ResetAll => {
            STATE.with(|s| s.borrow_mut().layer.reset_all());
            Ok("RESET".into())
        }
        SessionCommand::DiscardAll => {
            if in_transaction_block {
                return Err(SqlError::error("25001", "DISCARD ALL cannot run inside a transaction block"));
            }
            host.catalog_command("UNLISTEN *", false)?;
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.layer.reset_all();
                s.discard = true;
            });
            Ok("DISCARD ALL".into())
        }
    }
}

/// `set_config(name, value, is_local)`: the value now in effect.
pub(crate) fn set_config(
    host: &dyn HostServices,
    name: &str,
    value: Option<&str>,
    local: bool,
) -> Result<String, SqlError> {
    // A NULL value is RESET (PostgreSQL's set_config treats NULL as the default).
    set(host, name, value, local)?;
    current_setting(host, name)
}

/// The value of `name` in effect in this session, as `SHOW` and `current_setting` give it.
pub(crate) fn current_setting(host: &dyn HostServices, name: &str) -> Result<String, SqlError> {
    if name.eq_ignore_ascii_case("is_superuser") {
        return host.current_setting("is_superuser");
    }
    let own = STATE.with(|s| {
        let s = s.borrow();
        match s.layer.get(name) {
            Some(Some(v)) => Some(Some(v.clone())),
            // Not set, or SET ... TO DEFAULT: the startup packet's value, else the default.
            _ => s.startup.get(&name.to_ascii_lowercase()).map(|v| Some(v.clone())),
        }
    });
    let session_def = session_def(name);
    let kind_def = session_def.clone().or_else(|| host_def(name));
    match (own, kind_def) {
        (Some(Some(value)), Some(def)) => Ok(value.show(&def.kind)),
        _ => match session_def {
            Some(def) => Ok(def.default.show(&def.kind)),
            None => host.current_setting(&name.to_ascii_lowercase()).map_err(|err| {
                if err.code == "42704" {
                    unrecognized(name)
                } else {
                    err
                }
            }),
        },
    }
}

/// `SHOW ALL` as `bgw_show_all()` gives it: a JSON array of `[name, setting, description]`, by name, of the
/// settings this session may read.
pub(crate) fn show_all(host: &dyn HostServices) -> String {
    let mut defs: Vec<GucDef> = STATE.with(|s| s.borrow().defs.clone());
    if let Some(settings) = crate::process::settings().as_ref() {
        defs.extend(settings.names().iter().filter_map(|n| settings.def(n).cloned()));
    }
    defs.sort_by_key(|d| d.name.to_ascii_lowercase());
    defs.dedup_by_key(|d| d.name.to_ascii_lowercase());
    let rows: Vec<serde_json::Value> = defs
        .iter()
        .filter_map(|d| {
            let value = current_setting(host, &d.name).ok()?;
            Some(serde_json::json!([d.name, value, d.short_desc]))
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// Before each statement: whether it runs inside a transaction block.
pub(super) fn statement_starts(in_block: bool) {
    STATE.with(|s| s.borrow_mut().in_block = in_block);
}

/// The transaction ended (the engine's hook): `SET LOCAL`s end, a rollback undoes the transaction's `SET`s.
pub(super) fn transaction_ended(committed: bool) {
    STATE.with(|s| s.borrow_mut().layer.transaction_ended(committed));
}

/// After each statement: publishes the session's timeouts to the interrupt checks, tells the host the
/// application name, and returns the reported parameters whose values changed (for ParameterStatus).
pub(super) fn after_statement(host: &dyn HostServices) -> Vec<(String, String)> {
    // Most statements change no setting: then there is nothing to compare (work on every statement otherwise).
    let now = (STATE.with(|s| s.borrow().layer.changes()), crate::process::reload_count());
    if STATE.with(|s| s.borrow_mut().looked_at.replace(now)) == Some(now) {
        return Vec::new();
    }
    publish_timeouts();
    let names: Vec<String> =
        STATE.with(|s| s.borrow().defs.iter().filter(|d| is_reported(&d.name)).map(|d| d.name.clone()).collect());
    let mut changed = Vec::new();
    for name in names {
        if name == "is_superuser" {
            continue;
        }
        let Ok(value) = current_setting(host, &name) else { continue };
        let key = name.to_ascii_lowercase();
        let differs = STATE.with(|s| s.borrow().reported.get(&key) != Some(&value));
        if differs {
            if name == "application_name" {
                host.report_application_name(&value);
            }
            STATE.with(|s| s.borrow_mut().reported.insert(key, value.clone()));
            changed.push((name, value));
        }
    }
    changed
}

/// Whether `DISCARD ALL` ran since the last call.
pub(super) fn take_discard() -> bool {
    STATE.with(|s| std::mem::take(&mut s.borrow_mut().discard))
}

fn publish_timeouts() {
    for name in TIMEOUTS {
        let own = STATE.with(|s| match s.borrow().layer.get(name) {
            Some(Some(GucValue::Int(ms))) => Some(*ms),
            _ => None,
        });
        crate::process::interrupts::set_session_timeout(name, own);
    }
}

/// Whether a notice of `severity` goes to the client under the session's `client_min_messages` (ERRORs always
/// do; the debug levels and `log` let every notice through).
pub(super) fn sends_notice(severity: crate::sql::Severity) -> bool {
    use crate::sql::Severity;
    let level = STATE.with(|s| match s.borrow().layer.get("client_min_messages") {
        Some(Some(GucValue::Enum(level))) => level.clone(),
        _ => "notice".to_string(),
    });
    match severity {
        Severity::Notice => !matches!(level.as_str(), "warning" | "error"),
        Severity::Warning => level != "error",
        Severity::Error | Severity::Fatal => true,
    }
}
