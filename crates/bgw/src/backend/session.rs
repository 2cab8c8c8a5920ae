//! The session state machine: one client session after authentication, handling one frontend message at a time
//! and queueing the backend messages to send. It holds the database engine, decides when the session ends, and
//! keeps PostgreSQL's order of things around each statement (termination check, configuration reload, reported
//! state, notices, ReadyForQuery with the transaction state, notifications outside a transaction block).
//!
//! The simple query protocol is here; the extended protocol (Parse/Bind/Describe/Execute/Close/Sync, its
//! prepared statements and portals) is in [`super::extended`]. The bytes are [`super::wire`]'s business, the
//! loop around it [`super::serve`]'s.
//!
//! Runs in: a backend process.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use pgwire::api::results::FieldFormat;
use pgwire::messages::response::NotificationResponse;
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse, ReadyForQuery, TransactionStatus};
use pgwire::messages::startup::{Authentication, BackendKeyData, ParameterStatus, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::sql::lexer::is_blank;
use crate::sql::{Engine, Statement, TxState};

use super::context;
use super::database;
use super::host::{HostServices, Severity, SqlError};
use super::portal::{Portal, Prepared};
use super::types::{row_description, type_from_values, RowEncoder, Value, WireColumn};
use super::wire::{error_response, message_name, notice_response, protocol_violation, Spill, Wire};

/// What the backend reports in ParameterStatus messages after authentication (besides application_name,
/// session_authorization and is_superuser), with the values in effect once the startup packet's are applied.
const PARAMETER_STATUS: &[&str] = &[
    "server_version",
    "server_encoding",
    "client_encoding",
    "DateStyle",
    "IntervalStyle",
    "integer_datetimes",
    "standard_conforming_strings",
    "TimeZone",
];

pub(super) fn terminating() -> SqlError {
    SqlError::fatal("57P01", "terminating connection due to administrator command")
}

pub(super) fn internal_error(payload: &(dyn std::any::Any + Send)) -> SqlError {
    SqlError::error("XX000", format!("internal error in the backend: {}", context::panic_message(payload)))
}

/// The protocol state of one session after authentication.
pub(super) struct Session {
    pub(super) host: Rc<dyn HostServices>,
    pub(super) engine: Box<dyn Engine>,
    /// Messages to send, in order.
    pub(super) out: Vec<PgWireBackendMessage>,
    pub(super) statements: HashMap<String, Rc<Prepared>>,
    pub(super) portals: HashMap<String, Portal>,
    /// After an error in the extended protocol, messages are ignored up to the next Sync.
    pub(super) skip_until_sync: bool,
    /// Set when the session must end, with the exit code, once `out` is sent.
    pub(super) exit: Option<i32>,
    /// Sends a running statement's rows before it ends (None: they wait in `out`).
    spill: Option<Spill>,
    /// A COPY FROM STDIN waiting for its data (see `super::copy`).
    pub(super) copy_in: Option<Box<super::copy::CopyIn>>,
}

/// How many rows (or bytes of their values) the simple protocol holds back to type the result columns that have
/// no declared type (by their values, [`type_from_values`]); the rest of the rows are sent as they come.
const HOLD_ROWS: usize = 1000;
const HOLD_BYTES: usize = 1 << 20;

/// Where a running statement's messages go: to the wire at once through the [`Spill`] (in order after what
/// `out` already holds), or into `out` without one.
pub(super) struct Output<'a> {
    out: &'a mut Vec<PgWireBackendMessage>,
    spill: Option<&'a mut Spill>,
    lost: bool,
}

impl Output<'_> {
    pub(super) fn push(&mut self, message: PgWireBackendMessage) {
        let Some(spill) = self.spill.as_deref_mut() else {
            self.out.push(message);
            return;
        };
        if self.lost {
            return;
        }
        let queued = std::mem::take(self.out);
        if queued.into_iter().chain(std::iter::once(message)).try_for_each(|m| spill.send(m)).is_err() {
            // The client is gone (or SIGTERM came while it did not read): the interrupt check ends the statement.
            self.lost = true;
            crate::process::interrupts::client_connection_lost();
        }
    }
}

/// The approximate size of a row's values (for the limits on rows held in memory).
pub(super) fn row_bytes(row: &[Value]) -> usize {
    row.iter()
        .map(|v| match v {
            Value::Text(t) => t.len() + 24,
            Value::Blob(b) => b.len() + 24,
            _ => 16,
        })
        .sum()
}

/// A simple-protocol result while it streams: rows held back until the columns are typed, then sent one by one.
struct SimpleRows<'s, 'o> {
    statement: &'s Statement,
    output: &'s mut Output<'o>,
    columns: Option<Vec<WireColumn>>,
    held: Vec<Vec<Value>>,
    held_bytes: usize,
    encoder: RowEncoder,
    error: Option<SqlError>,
    /// Describe the columns when the first row comes (not holding rows to type them).
    describe_at_first_row: bool,
}

impl SimpleRows<'_, '_> {
    fn row(&mut self, row: Vec<Value>) -> ControlFlow<()> {
        if self.error.is_some() {
            // The statement is ending with that error (see `send`); the rows it still reads are dropped.
            return ControlFlow::Continue(());
        }
        if self.columns.is_none() && self.describe_at_first_row {
            self.describe();
            self.send(&row);
        } else if self.columns.is_none() {
            self.held_bytes += row_bytes(&row);
            self.held.push(row);
            if self.held.len() < HOLD_ROWS && self.held_bytes < HOLD_BYTES {
                return ControlFlow::Continue(());
            }
            self.describe();
        } else {
            self.send(&row);
        }
        ControlFlow::Continue(())
    }

    /// Types the columns (declared, or by the rows held), sends RowDescription and the rows held.
    fn describe(&mut self) {
        let held = std::mem::take(&mut self.held);
        let columns: Vec<WireColumn> = self
            .statement
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| WireColumn {
                name: column.name.clone(),
                ty: column.ty.unwrap_or_else(|| type_from_values(held.iter().filter_map(|row| row.get(i)))),
                format: FieldFormat::Text,
                origin: self.statement.column_origins.get(i).copied().flatten().unwrap_or((0, 0)),
            })
            .collect();
        self.output.push(PgWireBackendMessage::RowDescription(row_description(&columns)));
        self.columns = Some(columns);
        for row in &held {
            if self.error.is_none() {
                self.send(row);
            }
        }
    }

    fn send(&mut self, row: &[Value]) {
        let Some(columns) = &self.columns else { return };
        match self.encoder.encode(row, columns) {
            Ok(data) => self.output.push(PgWireBackendMessage::DataRow(data)),
            Err(err) => {
                // Ends the statement at SQLite's next interrupt check, undoing what it wrote.
                crate::process::interrupts::fail_statement(err.clone());
                self.error = Some(err);
            }
        }
    }
}

/// The role and database a startup packet names (the database defaults to the role's name).
pub(super) fn startup_names(parameters: &HashMap<String, String>) -> Result<(&str, &str), SqlError> {
    let user = parameters
        .get("user")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| SqlError::fatal("28000", "no PostgreSQL user name specified in startup packet"))?;
    let database = parameters.get("database").filter(|d| !d.is_empty()).unwrap_or(user);
    Ok((user, database))
}

/// Admits an authenticated client: the role may log in, the database exists and accepts connections (and is
/// not being dropped). An error is FATAL.
pub(super) fn admit(
    wire: &Wire,
    host: &dyn HostServices,
    parameters: &HashMap<String, String>,
) -> Result<(), SqlError> {
    let (user, database) = startup_names(parameters)?;
    if wire.is_tcp() {
        // The password exchange has succeeded (see `serve::run`): the role and database checks remain.
        host.authenticate_password(user, database)
    } else {
        let uid = crate::sys::user::peer_uid(wire.raw_fd())
            .map_err(|err| SqlError::fatal("28000", format!("could not get peer credentials: {err}")))?;
        host.authenticate_peer(uid, user, database)
    }
}

impl Session {
    /// Greets an admitted client ([`admit`]) and starts its session; an error is FATAL.
    pub(super) fn start(
        wire: &Wire,
        host: Rc<dyn HostServices>,
        parameters: &HashMap<String, String>,
    ) -> Result<Session, SqlError> {
        let (user, database) = startup_names(parameters)?;
        // The startup packet's settings (an unknown or invalid one is FATAL, as in PostgreSQL).
        super::settings::start(&*host, parameters)?;
        // The startup packet's, or `options=-c application_name=...`.
        let application_name = super::settings::current_setting(&*host, "application_name").unwrap_or_default();
        let application_name = application_name.as_str();
        host.report_application_name(application_name);
        let engine = database::open(host.database_path().as_deref(), user, database)?;

        let mut out = vec![PgWireBackendMessage::Authentication(Authentication::Ok)];
        let status = |name: &str, value: &str| {
            PgWireBackendMessage::ParameterStatus(ParameterStatus::new(name.to_owned(), value.to_owned()))
        };
        out.push(status("application_name", application_name));
        out.push(status("session_authorization", user));
        let mut reported: Vec<(String, String)> = PARAMETER_STATUS
            .iter()
            .map(|name| (name.to_string(), super::settings::current_setting(&*host, name).unwrap_or_default()))
            .collect();
        out.extend(reported.iter().map(|(name, value)| status(name, value)));
        // Whether the role the session is connected as is a superuser, as PostgreSQL reports it.
        let superuser = host.current_setting("is_superuser").is_ok_and(|v| v == "on");
        out.push(status("is_superuser", if superuser { "on" } else { "off" }));
        reported.push(("application_name".into(), application_name.to_string()));
        super::settings::reported(&reported);
        let pid = host.backend_pid();
        let key = secret_key()?;
        crate::process::interrupts::publish_cancel_key(key);
        out.push(PgWireBackendMessage::BackendKeyData(BackendKeyData::new(pid, SecretKey::I32(key))));
        host.report_state("idle", "");
        let mut session = Session {
            host,
            engine,
            out,
            statements: HashMap::new(),
            portals: HashMap::new(),
            skip_until_sync: false,
            exit: None,
            spill: wire.spill(),
            copy_in: None,
        };
        session.ready();
        Ok(session)
    }

    /// A message that could not be read is an ERROR (ignored while skipping to Sync); the session goes on, as
    /// after any failed simple query or extended-protocol step.
    pub(super) fn malformed(&mut self, err: SqlError, extended: bool) {
        if self.copy_in.is_some() {
            return self.copy_abort(err);
        }
        if self.skip_until_sync {
            return;
        }
        self.error(err);
        if extended {
            self.skip_until_sync = true;
        } else {
            self.ready();
        }
    }

    /// Handles one message; a panic becomes an internal error and the session goes on.
    pub(super) fn handle_caught(&mut self, message: PgWireFrontendMessage) {
        let extended = message.is_extended_query();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.handle(message))) {
            self.error(internal_error(&*payload));
            if extended {
                self.skip_until_sync = true;
            } else {
                self.ready();
            }
        }
    }

    fn handle(&mut self, message: PgWireFrontendMessage) {
        if self.copy_in.is_some() {
            return self.copy_message(message);
        }
        if self.skip_until_sync && !matches!(message, PgWireFrontendMessage::Sync(_)) {
            // After an error in the extended protocol everything up to Sync is ignored, as PostgreSQL does.
            return;
        }
        match message {
            PgWireFrontendMessage::Query(query) => self.simple_query(&query.query),
            PgWireFrontendMessage::Parse(parse) => self.extended(|s| s.parse(parse)),
            PgWireFrontendMessage::Bind(bind) => self.extended(|s| s.bind(bind)),
            PgWireFrontendMessage::Describe(describe) => self.extended(|s| s.describe(describe)),
            PgWireFrontendMessage::Execute(execute) => self.extended(|s| s.execute(execute)),
            PgWireFrontendMessage::Close(close) => self.extended(|s| s.close(close)),
            PgWireFrontendMessage::Sync(_) => self.sync(),
            // Output is flushed whenever the session waits for input.
            PgWireFrontendMessage::Flush(_) => {}
            // Outside COPY these are ignored, as PostgreSQL does.
            PgWireFrontendMessage::CopyData(_)
            | PgWireFrontendMessage::CopyDone(_)
            | PgWireFrontendMessage::CopyFail(_) => {}
            other => {
                self.error(protocol_violation(format!("unexpected message from client: {}", message_name(&other))))
            }
        }
    }

    /// Queues `err`; a FATAL one ends the session.
    pub(super) fn error(&mut self, err: SqlError) {
        self.out.push(PgWireBackendMessage::ErrorResponse(error_response(&err)));
        if err.severity == Severity::Fatal {
            self.exit = Some(1);
        }
    }

    pub(super) fn ready(&mut self) {
        if super::settings::take_discard() {
            // DISCARD ALL: the session's prepared statements and portals go too.
            self.statements.clear();
            self.portals.clear();
        }
        self.deliver_notifications();
        let status = match self.engine.tx_state() {
            TxState::Idle => TransactionStatus::Idle,
            TxState::InBlock => TransactionStatus::Transaction,
            TxState::Failed => TransactionStatus::Error,
        };
        self.out.push(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status)));
    }

    /// Sends the notifications for this session's channels, outside a transaction block (as PostgreSQL does).
    pub(super) fn deliver_notifications(&mut self) {
        if self.engine.tx_state() != TxState::Idle {
            return;
        }
        for (pid, channel, payload) in self.host.take_notifications() {
            self.out.push(PgWireBackendMessage::NotificationResponse(NotificationResponse::new(pid, channel, payload)));
        }
    }

    /// What has to happen before any statement runs; an error here is FATAL.
    pub(super) fn before_statement(&mut self, query: &str) -> Result<(), SqlError> {
        if self.host.termination_requested() {
            return Err(terminating());
        }
        self.host.absorb_config_reload();
        self.host.report_state("active", query);
        super::extension::before_statement(&*self.engine);
        super::settings::statement_starts(self.engine.tx_state() != TxState::Idle);
        crate::process::interrupts::start_statement(crate::process::interrupts::timeout_setting("statement_timeout"));
        Ok(())
    }

    /// What has to happen after a statement: its notices go out, and the backend is idle again.
    pub(super) fn after_statement(&mut self) {
        crate::process::interrupts::end_statement();
        let notices: Vec<SqlError> = context::take_notices()
            .into_iter()
            .chain(self.host.take_notices())
            .filter(|n| super::settings::sends_notice(n.severity))
            .collect();
        self.out.extend(notices.iter().map(|n| PgWireBackendMessage::NoticeResponse(notice_response(n))));
        // A reported parameter the statement changed (SET application_name, a rollback undoing a SET, ...).
        for (name, value) in super::settings::after_statement(&*self.host) {
            self.out.push(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(name, value)));
        }
        let state = match self.engine.tx_state() {
            TxState::Idle => "idle",
            TxState::InBlock => "idle in transaction",
            TxState::Failed => "idle in transaction (aborted)",
        };
        self.host.report_state(state, "");
    }

    /// Prepares (in simple mode) and runs one statement between the before and after steps, its result messages
    /// going to the [`Output`] it is given; a panic becomes an internal error.
    pub(super) fn run_statement<T>(
        &mut self,
        query: &str,
        work: impl FnOnce(&mut dyn Engine, &mut Output<'_>) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        self.before_statement(query)?;
        let engine = &mut *self.engine;
        let mut output = Output { out: &mut self.out, spill: self.spill.as_mut(), lost: false };
        let result = catch_unwind(AssertUnwindSafe(|| work(engine, &mut output)))
            .unwrap_or_else(|payload| Err(internal_error(&*payload)));
        self.after_statement();
        result
    }

    pub(super) fn simple_query(&mut self, query: &str) {
        let mut rest = query;
        let mut ran_any = false;
        while !is_blank(rest) {
            if super::copy::is_copy(rest) {
                match self.copy_simple(rest) {
                    super::copy::Step::Next(len) => {
                        ran_any = true;
                        rest = &rest[len..];
                        continue;
                    }
                    super::copy::Step::Failed => {
                        ran_any = true;
                        break;
                    }
                    super::copy::Step::Waiting => return,
                }
            }
            let step = if super::extension::is_extension_statement(rest) {
                // CREATE/DROP EXTENSION, CREATE/DROP FUNCTION ... LANGUAGE C: the backend's (see super::extension).
                let (text, consumed) = crate::sql::pg::first_statement(rest).unwrap_or((rest, rest.len()));
                let host = self.host.clone();
                let remaining = rest.len() - consumed.min(rest.len());
                self.run_statement(query, |engine, _| super::extension::run(&*host, engine, text))
                    .map(|tag| Some((tag, remaining)))
            } else if crate::sql::utility::is_prepared_command(rest) {
                // SQL-level PREPARE / EXECUTE / DEALLOCATE: the session's prepared statements.
                self.prepared_command(query, rest, None).map(|(tag, len)| Some((tag, rest.len() - len.min(rest.len()))))
            } else {
                let host = self.host.clone();
                self.run_statement(query, |engine, output| {
                    let Some((statement, remainder)) = engine.prepare_simple(rest)? else {
                        return Ok(None);
                    };
                    if let Some(n) = statement.param_numbers.first() {
                        // The simple protocol has no parameters to give.
                        if engine.tx_state() == TxState::InBlock {
                            engine.fail_transaction();
                        }
                        return Err(SqlError::error("42P02", format!("there is no parameter ${n}")));
                    }
                    let mut tag = run_streaming(&*host, engine, &statement, &[], output, None)?;
                    if tag == crate::sql::statement::REPLAN {
                        // A cached translation the schema changed under, with other result columns: afresh.
                        let Some((statement, _)) = engine.prepare(rest)? else { return Ok(None) };
                        tag = run_streaming(&*host, engine, &statement, &[], output, None)?;
                    }
                    Ok(Some((tag, remainder.len())))
                })
            };
            match step {
                Ok(Some((tag, remaining))) => {
                    ran_any = true;
                    rest = &rest[rest.len() - remaining..];
                    self.out.push(PgWireBackendMessage::CommandComplete(CommandComplete::new(tag)));
                }
                Ok(None) => break,
                Err(err) => {
                    ran_any = true;
                    self.error(err);
                    break;
                }
            }
            if self.exit.is_some() {
                return;
            }
        }
        if self.exit.is_some() {
            return;
        }
        if !ran_any {
            self.out.push(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()));
        }
        self.ready();
    }

    pub(super) fn send_rows<'a>(
        &mut self,
        rows: impl Iterator<Item = &'a Vec<Value>>,
        columns: &[WireColumn],
    ) -> Result<usize, SqlError> {
        let mut encoder = RowEncoder::new();
        let mut sent = 0;
        for row in rows {
            self.out.push(PgWireBackendMessage::DataRow(encoder.encode(row, columns)?));
            sent += 1;
        }
        Ok(sent)
    }
}

/// Runs a statement with `params`, its rows going out as they come: in the simple protocol's way (`columns`
/// None: typed by declaration or by their first rows' values, text format), or with the portal's `columns`;
/// then the session's settings hear of it (a `BEGIN`'s modes, a block's first query). Its command tag.
pub(super) fn run_streaming(
    host: &dyn HostServices,
    engine: &mut dyn Engine,
    statement: &Statement,
    params: &[Value],
    output: &mut Output<'_>,
    columns: Option<&[WireColumn]>,
) -> Result<String, SqlError> {
    let result = match columns {
        None => stream_simple(engine, statement, params, output),
        Some(columns) => stream_encoded(engine, statement, params, output, columns),
    };
    let ran = super::settings::statement_ran(host, statement, engine.tx_state(), result.is_ok());
    let tag = result?;
    if let Err(err) = ran {
        if engine.tx_state() == TxState::InBlock {
            engine.fail_transaction();
        }
        return Err(err);
    }
    Ok(tag)
}

/// Runs a statement, each row encoded with `columns` as it comes; its command tag.
fn stream_encoded(
    engine: &mut dyn Engine,
    statement: &Statement,
    params: &[Value],
    output: &mut Output<'_>,
    columns: &[WireColumn],
) -> Result<String, SqlError> {
    let mut encoder = RowEncoder::new();
    let mut error = None;
    let done = engine.execute(statement, params, &mut |row| {
        if error.is_none() {
            match encoder.encode(&row, columns) {
                Ok(data) => output.push(PgWireBackendMessage::DataRow(data)),
                Err(err) => {
                    crate::process::interrupts::fail_statement(err.clone());
                    error = Some(err);
                }
            }
        }
        ControlFlow::Continue(())
    });
    let late = crate::process::interrupts::take_statement_error();
    let done = done?;
    match error.or(late) {
        Some(err) => Err(err),
        None => Ok(done.tag),
    }
}

/// Runs a statement in the simple protocol, sending its result as it comes (columns typed by declaration or by
/// their first rows' values, in text format); its command tag.
fn stream_simple(
    engine: &mut dyn Engine,
    statement: &Statement,
    params: &[Value],
    output: &mut Output<'_>,
) -> Result<String, SqlError> {
    let mut rows = SimpleRows {
        statement,
        output,
        columns: None,
        held: Vec::new(),
        held_bytes: 0,
        encoder: RowEncoder::new(),
        error: None,
        describe_at_first_row: false,
    };
    if statement.describe_first && statement.columns.iter().all(|c| c.ty.is_some()) {
        // A query of relations whose columns' types are known before it runs: RowDescription goes first, as
        // PostgreSQL sends it (before an error the first row may raise). A statement the engine may replan
        // (see Engine::prepare_simple) is described at its first row or its end: the same order of messages.
        if statement.schema_check.is_some() {
            rows.describe_at_first_row = true;
        } else {
            rows.describe();
        }
    }
    let done = engine.execute(statement, params, &mut |row| rows.row(row));
    // An error the rows raised that SQLite's interrupt check did not take (the statement ended first).
    let late = crate::process::interrupts::take_statement_error();
    if matches!(&done, Ok(done) if done.tag == crate::sql::statement::REPLAN) {
        return Ok(crate::sql::statement::REPLAN.to_owned());
    }
    if rows.columns.is_none() && rows.describe_at_first_row {
        rows.describe();
    }
    let done = done?;
    if rows.columns.is_none() && !statement.columns.is_empty() {
        rows.describe();
    }
    match rows.error.or(late) {
        Some(err) => Err(err),
        None => Ok(done.tag),
    }
}

/// A random nonzero cancel key for BackendKeyData, from the system's random source (a CancelRequest must name
/// it with the pid; 0 means "no key" in the process entry).
pub(super) fn secret_key() -> Result<i32, SqlError> {
    use ring::rand::SecureRandom;
    let rng = ring::rand::SystemRandom::new();
    loop {
        let mut bytes = [0u8; 4];
        rng.fill(&mut bytes).map_err(|_| SqlError::fatal("XX000", "could not generate a cancel key"))?;
        let key = i32::from_be_bytes(bytes);
        if key != 0 {
            return Ok(key);
        }
    }
}
