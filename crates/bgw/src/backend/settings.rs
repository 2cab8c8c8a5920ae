//! The session's settings: PostgreSQL's `SET` / `SET LOCAL` / `RESET` / `RESET ALL` / `DISCARD ALL`, `SHOW`,
//! `set_config` and `current_setting` over a per-session layer ([`crate::config::SessionLayer`]) on the host's
//! settings, with PostgreSQL's rules: only `user`-context parameters (and `superuser` ones for a superuser) may be
//! set, values are checked with the configuration file's parser and units, and values the SQLite engine cannot
//! honour are refused with 0A000.
//!
//! Transaction modes: `transaction_isolation`, `transaction_read_only` and `transaction_deferrable` belong to the
//! open transaction block (set from the `default_transaction_*` values when it starts, by `BEGIN ... modes`,
//! `SET TRANSACTION` or `SET transaction_...`, with PostgreSQL's checks: not after the block's first query, not
//! in a savepoint); outside a block they show the defaults. A read-only transaction refuses writes (25006, through
//! the engine's read-only hook). Every isolation level is accepted and shown as asked; SQLite runs every
//! transaction serializable, the strongest level, which the SQL standard and PostgreSQL permit for any level asked.
//!
//! Savepoints: the layer and the transaction modes are saved at each `SAVEPOINT` and restored by `ROLLBACK TO`,
//! so a `SET` inside a savepoint that is rolled back is undone, as in PostgreSQL.
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
use crate::sql::txn::SubXact;
use crate::sql::utility::TxModes;
use crate::sql::{Kind, Statement, TxState};

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
    /// The layer's change count, the restore count and this process's reload count when [`after_statement`] last
    /// looked (None: never): the same triple means no value it reports or publishes can have changed.
    looked_at: Option<(u64, u64, u64)>,
    /// The open block's transaction modes (None outside a block, and until its first statement).
    block: Option<Block>,
    /// Whether a statement that reads or writes data ran in the open block (PostgreSQL's first snapshot).
    queried: bool,
    /// The layer and the modes at each savepoint of the open block, oldest first.
    savepoints: Vec<(SessionLayer, Option<Block>)>,
    /// How many times `ROLLBACK TO` restored the layer.
    restores: u64,
}

/// The transaction modes of an open block.
#[derive(Debug, Clone, PartialEq)]
struct Block {
    isolation: String,
    read_only: bool,
    deferrable: bool,
}

/// The parameters that are the open transaction's modes.
const TRANSACTION_MODES: [&str; 3] = ["transaction_isolation", "transaction_read_only", "transaction_deferrable"];

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

const TIMEOUTS: [&str; 4] =
    ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout"];

/// Starts the session's settings with the parameters of the startup packet (`application_name`, `DateStyle`,
/// `options=-c name=value`, ...): each is a session default, what `RESET` returns to, checked as `SET` checks it
/// (an error is FATAL, as in PostgreSQL). `user`, `database` and `replication` are not settings.
pub(super) fn start(host: &dyn HostServices, parameters: &HashMap<String, String>) -> Result<(), SqlError> {
    STATE.with(|s| *s.borrow_mut() = State { defs: all_session_parameters(), ..State::default() });
    let mut given: Vec<(String, String)> = Vec::new();
    let mut names: Vec<&String> = parameters.keys().collect();
    names.sort();
    for name in names {
        let value = &parameters[name];
        match name.as_str() {
            "user" | "database" | "replication" => {}
            "options" => given.extend(command_line_options(value)?),
            // Protocol extensions (`_pq_.*`) are not settings.
            n if n.starts_with("_pq_.") => {}
            _ => given.push((name.clone(), value.clone())),
        }
    }
    for (name, raw) in given {
        let fatal = |e: SqlError| SqlError { severity: crate::sql::Severity::Fatal, ..e };
        let (def, value) = checked_value(host, &name, Some(&raw)).map_err(fatal)?;
        let key = def.name.to_ascii_lowercase();
        if let Some(value) = value {
            if !TRANSACTION_MODES.contains(&key.as_str()) {
                STATE.with(|s| s.borrow_mut().startup.insert(key, value));
            }
        }
    }
    publish_timeouts();
    Ok(())
}

/// The settings of the startup packet's `options` (`-c name=value`, `--name=value`; a backslash escapes the next
/// character, a blank), as libpq's `PGOPTIONS` gives them. Anything else is FATAL, as in PostgreSQL.
fn command_line_options(options: &str) -> Result<Vec<(String, String)>, SqlError> {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let invalid = |w: &str| {
        SqlError::fatal("42601", format!("invalid command-line argument for server process: {w}"))
            .with_hint("Try \"postgres --help\" for more information.")
    };
    let mut out = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let setting = if w == "-c" {
            it.next().ok_or_else(|| invalid(w))?.clone()
        } else if let Some(rest) = w.strip_prefix("-c") {
            rest.to_string()
        } else if let Some(rest) = w.strip_prefix("--") {
            rest.to_string()
        } else {
            return Err(invalid(w));
        };
        let Some((name, value)) = setting.split_once('=') else {
            return Err(SqlError::fatal("42601", format!("-c {setting} requires a value")));
        };
        out.push((name.replace('-', "_"), value.to_string()));
    }
    Ok(out)
}

/// Records the values the first ParameterStatus messages sent.
pub(super) fn reported(reported: &[(String, String)]) {
    STATE.with(|s| {
        s.borrow_mut().reported = reported.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect()
    });
}

/// The session's parameters: [`session_parameters`] and those a dump script sets ([`restore_parameters`]).
pub(super) fn all_session_parameters() -> Vec<GucDef> {
    let mut defs = session_parameters();
    defs.extend(restore_parameters());
    defs
}

/// The parameters `pg_dump` sets in its session and writes at the top of a dump, with PostgreSQL's defaults. Each
/// value the host can honour is accepted ([`check_restore_value`]): SQLite scans a table from its start whatever
/// `synchronize_seqscans` says (PostgreSQL's "on" only permits a scan to start elsewhere); the host has no
/// function bodies to check, no XML type, no row-security policies, one tablespace (`pg_default`, the `''`
/// default) and one table access method (`heap`, as `pg_am` shows it).
fn restore_parameters() -> Vec<GucDef> {
    use GucContext::User;
    vec![
        GucDef::bool("synchronize_seqscans", true, User, "Enable synchronized sequential scans."),
        GucDef::bool("check_function_bodies", true, User, "Check routine bodies during CREATE FUNCTION and CREATE PROCEDURE."),
        GucDef::enumeration(
            "xmloption",
            "content",
            &["content", "document"],
            User,
            "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments.",
        ),
        GucDef::bool("row_security", true, User, "Enable row security."),
        GucDef::string(
            "default_tablespace",
            "",
            User,
            "Sets the default tablespace to create tables and indexes in.",
        ),
        GucDef::string(
            "default_table_access_method",
            "heap",
            User,
            "Sets the default table access method for new tables.",
        ),
        GucDef::bool("quote_all_identifiers", false, User, "When generating SQL fragments, quote all identifiers."),
    ]
}

/// Checks a value of one of [`restore_parameters`] as PostgreSQL does (a tablespace or access method that does
/// not exist is 22023 with PostgreSQL's detail).
fn check_restore_value(name: &str, value: GucValue) -> Result<GucValue, SqlError> {
    let invalid = |raw: &str, detail: String| {
        SqlError::error("22023", format!("invalid value for parameter \"{name}\": \"{raw}\"")).with_detail(detail)
    };
    match (name.to_ascii_lowercase().as_str(), &value) {
        ("default_tablespace", GucValue::String(raw)) if raw == "pg_global" => {
            Err(crate::sql::pg::unsupported("default_tablespace \"pg_global\""))
        }
        ("default_tablespace", GucValue::String(raw)) if !matches!(raw.as_str(), "" | "pg_default") => {
            Err(invalid(raw, format!("Tablespace \"{raw}\" does not exist.")))
        }
        ("quote_all_identifiers", GucValue::Bool(true)) => {
            Err(crate::sql::pg::unsupported("quote_all_identifiers = on"))
        }
        ("default_table_access_method", GucValue::String(raw)) if raw != "heap" => {
            if raw.is_empty() {
                return Err(invalid(raw, "default_table_access_method cannot be empty.".into()));
            }
            Err(invalid(raw, format!("Table access method \"{raw}\" does not exist.")))
        }
        _ => Ok(value),
    }
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

/// The definition of `name` and `raw` parsed and checked (None for `DEFAULT`), if this session may set it.
fn checked_value(
    host: &dyn HostServices,
    name: &str,
    raw: Option<&str>,
) -> Result<(GucDef, Option<GucValue>), SqlError> {
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
            let value =
                check_session_value(&def.name, parsed).map_err(|(code, message)| SqlError::error(code, message))?;
            Some(check_restore_value(&def.name, value)?)
        }
    };
    Ok((def, value))
}

/// `SET name = value` / `SET LOCAL` / `... TO DEFAULT` (`raw` None) by this session.
pub(crate) fn set(host: &dyn HostServices, name: &str, raw: Option<&str>, local: bool) -> Result<(), SqlError> {
    let (def, value) = checked_value(host, name, raw)?;
    let key = def.name.to_ascii_lowercase();
    if TRANSACTION_MODES.contains(&key.as_str()) {
        // The open transaction's modes; outside a block (or RESET) nothing lasts, as in PostgreSQL.
        let in_block = STATE.with(|s| s.borrow().in_block);
        let Some(value) = value.filter(|_| in_block) else { return Ok(()) };
        let mut modes = TxModes::default();
        match (key.as_str(), value) {
            ("transaction_isolation", GucValue::Enum(level)) => modes.isolation = isolation_name(&level),
            ("transaction_read_only", GucValue::Bool(b)) => modes.read_only = Some(b),
            ("transaction_deferrable", GucValue::Bool(b)) => modes.deferrable = Some(b),
            _ => {}
        }
        return apply_modes(host, modes);
    }
    let in_block = STATE.with(|s| s.borrow().in_block);
    if local && !in_block {
        context::notice(SqlError::warning("25P01", "SET LOCAL can only be used in transaction blocks"));
        return Ok(());
    }
    STATE.with(|s| s.borrow_mut().layer.set(&def.name, value, local));
    Ok(())
}

/// PostgreSQL's spelling of an isolation level, as a static string.
fn isolation_name(level: &str) -> Option<&'static str> {
    ["serializable", "repeatable read", "read committed", "read uncommitted"].into_iter().find(|l| *l == level)
}

/// The session's own value of a session parameter (its `SET`, else the startup packet's), else its default.
fn session_value(name: &str) -> Option<GucValue> {
    let own = STATE.with(|s| {
        let s = s.borrow();
        match s.layer.get(name) {
            Some(Some(v)) => Some(v.clone()),
            _ => s.startup.get(&name.to_ascii_lowercase()).cloned(),
        }
    });
    own.or_else(|| session_def(name).map(|d| d.default))
}

fn session_bool(name: &str) -> bool {
    matches!(session_value(name), Some(GucValue::Bool(true)))
}

/// The modes a block starts with: the session's `default_transaction_*`.
fn default_block() -> Block {
    let isolation = match session_value("default_transaction_isolation") {
        Some(GucValue::Enum(level)) => level,
        _ => "serializable".to_string(),
    };
    Block {
        isolation,
        read_only: session_bool("default_transaction_read_only"),
        deferrable: session_bool("default_transaction_deferrable"),
    }
}

fn ensure_block() {
    if STATE.with(|s| s.borrow().block.is_none()) {
        let block = default_block();
        STATE.with(|s| s.borrow_mut().block = Some(block));
    }
}

/// Sets the open block's modes, with PostgreSQL's checks (25001 after the block's first query or inside a
/// savepoint, 25006 for read-write in a read-only host).
fn apply_modes(host: &dyn HostServices, modes: TxModes) -> Result<(), SqlError> {
    ensure_block();
    let (block, queried, depth) = STATE.with(|s| {
        let s = s.borrow();
        (s.block.clone().unwrap_or_else(default_block), s.queried, s.savepoints.len())
    });
    let mut new = block.clone();
    let refuse = |message: &str| Err(SqlError::error("25001", message.to_string()));
    if let Some(level) = modes.isolation {
        if level != block.isolation {
            if queried {
                return refuse("SET TRANSACTION ISOLATION LEVEL must be called before any query");
            }
            if depth > 0 {
                return refuse("SET TRANSACTION ISOLATION LEVEL must not be called in a subtransaction");
            }
        }
        new.isolation = level.to_string();
    }
    if let Some(read_only) = modes.read_only {
        if !read_only && block.read_only {
            if depth > 0 {
                return refuse("cannot set transaction read-write mode inside a read-only transaction");
            }
            if queried {
                return refuse("transaction read-write mode must be set before any query");
            }
            if host.read_only() {
                return Err(SqlError::error("25006", "cannot set transaction read-write mode during recovery"));
            }
        }
        new.read_only = read_only;
    }
    if let Some(deferrable) = modes.deferrable {
        if depth > 0 {
            return refuse("SET TRANSACTION [NOT] DEFERRABLE cannot be called within a subtransaction");
        }
        if queried {
            return refuse("SET TRANSACTION [NOT] DEFERRABLE must be called before any query");
        }
        new.deferrable = deferrable;
    }
    STATE.with(|s| s.borrow_mut().block = Some(new));
    Ok(())
}

/// Whether the statement running (or, between statements, the next one) runs in a read-only transaction: the
/// block's mode, or `default_transaction_read_only` for a statement outside a block.
pub(super) fn transaction_read_only() -> bool {
    let (in_block, block) = STATE.with(|s| {
        let s = s.borrow();
        (s.in_block, s.block.clone())
    });
    match block {
        Some(block) if in_block => block.read_only,
        _ => session_bool("default_transaction_read_only"),
    }
}

/// The value of one of the transaction's modes, as `SHOW` gives it.
fn transaction_mode(host: &dyn HostServices, key: &str) -> String {
    let block = STATE.with(|s| {
        let s = s.borrow();
        if s.in_block {
            s.block.clone()
        } else {
            None
        }
    });
    let block = block.unwrap_or_else(default_block);
    let on_off = |b: bool| if b { "on" } else { "off" }.to_string();
    match key {
        "transaction_isolation" => block.isolation,
        "transaction_read_only" => on_off(block.read_only || host.read_only()),
        _ => on_off(block.deferrable),
    }
}

/// After a statement ran (well or not) in either protocol: a `BEGIN` with modes sets them (PostgreSQL's checks
/// apply, as after `BEGIN` inside a block); a statement that reads or writes data is the block's first query.
pub(super) fn statement_ran(
    host: &dyn HostServices,
    statement: &Statement,
    state: TxState,
    ok: bool,
) -> Result<(), SqlError> {
    if state == TxState::Idle {
        return Ok(());
    }
    STATE.with(|s| s.borrow_mut().in_block = true);
    match &statement.kind {
        Kind::Begin if ok => {
            let modes = crate::sql::utility::begin_statement_modes(&statement.sql);
            ensure_block();
            if !modes.is_empty() {
                apply_modes(host, modes)?;
            }
        }
        Kind::Begin | Kind::Commit | Kind::Rollback | Kind::RollbackTo | Kind::Catalog => {}
        Kind::Other(tag) if tag == "SAVEPOINT" || tag == "RELEASE" => {}
        Kind::Query if crate::sql::session::is_show_query(&statement.sql) => {}
        _ => STATE.with(|s| s.borrow_mut().queried = true),
    }
    Ok(())
}

/// A savepoint of the open block was set, released or rolled back to (the engine's hook).
pub(super) fn subtransaction(what: SubXact) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        match what {
            SubXact::Start(n) => {
                s.savepoints.truncate(n);
                let saved = (s.layer.clone(), s.block.clone());
                s.savepoints.push(saved);
            }
            SubXact::Release(n) => s.savepoints.truncate(n),
            SubXact::RollbackTo(n) => {
                if let Some((layer, block)) = s.savepoints.get(n).cloned() {
                    s.layer = layer;
                    s.block = block;
                    s.restores += 1;
                }
                s.savepoints.truncate(n + 1);
            }
        }
    });
}

/// Runs a session command (the engine's own statement); its command tag.
pub(crate) fn run(host: &dyn HostServices, sql: &str, in_transaction_block: bool) -> Result<String, SqlError> {
    let Some((command, _)) = crate::sql::session::parse(sql) else {
        let words: Vec<String> = crate::sql::lexer::leading_words(sql).take(3).collect();
        if words == ["SET", "TRANSACTION", "SNAPSHOT"] {
            // The host exports no snapshot (no pg_export_snapshot), so none can be imported: refused, as the
            // session tests require (pg_dump sends it only for --snapshot and parallel dumps, which need one).
            return Err(SqlError::error("0A000", "SET TRANSACTION SNAPSHOT is not supported"));
        }
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
        SessionCommand::SetTransaction(modes) => {
            if !in_transaction_block {
                context::notice(SqlError::warning("25P01", "SET TRANSACTION can only be used in transaction blocks"));
                return Ok("SET".into());
            }
            apply_modes(host, modes)?;
            Ok("SET".into())
        }
        SessionCommand::SetSessionCharacteristics(modes) => {
            if let Some(level) = modes.isolation {
                set(host, "default_transaction_isolation", Some(level), false)?;
            }
            let on_off = |b: bool| if b { "on" } else { "off" };
            if let Some(read_only) = modes.read_only {
                set(host, "default_transaction_read_only", Some(on_off(read_only)), false)?;
            }
            if let Some(deferrable) = modes.deferrable {
                set(host, "default_transaction_deferrable", Some(on_off(deferrable)), false)?;
            }
            Ok("SET".into())
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
    let key = name.to_ascii_lowercase();
    if TRANSACTION_MODES.contains(&key.as_str()) {
        return Ok(transaction_mode(host, &key));
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
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.in_block = in_block;
        if !in_block {
            s.block = None;
            s.queried = false;
            s.savepoints.clear();
        }
    });
    if in_block {
        ensure_block();
    }
}

/// The transaction ended (the engine's hook): `SET LOCAL`s end, a rollback undoes the transaction's `SET`s.
pub(super) fn transaction_ended(committed: bool) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.layer.transaction_ended(committed);
        s.block = None;
        s.queried = false;
        s.savepoints.clear();
        s.in_block = false;
    });
}

/// After each statement: publishes the session's timeouts to the interrupt checks, tells the host the
/// application name, and returns the reported parameters whose values changed (for ParameterStatus).
pub(super) fn after_statement(host: &dyn HostServices) -> Vec<(String, String)> {
    // Most statements change no setting: then there is nothing to compare (work on every statement otherwise).
    let now = STATE.with(|s| {
        let s = s.borrow();
        (s.layer.changes(), s.restores, crate::process::reload_count())
    });
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
        let own = STATE.with(|s| {
            let s = s.borrow();
            match s.layer.get(name) {
                Some(Some(GucValue::Int(ms))) => Some(*ms),
                Some(Some(_)) => None,
                _ => match s.startup.get(name) {
                    Some(GucValue::Int(ms)) => Some(*ms),
                    _ => None,
                },
            }
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
        Severity::Info => true,
        Severity::Notice => !matches!(level.as_str(), "warning" | "error"),
        Severity::Warning => level != "error",
        Severity::Error | Severity::Fatal => true,
    }
}
