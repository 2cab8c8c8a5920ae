//! The postgresql engine: [`PostgresEngine`], the [`Engine`] interface over a connection to a PostgreSQL server
//! (or any server that speaks its protocol), for a database of the host whose engine is `postgresql`.
//!
//! Everything runs on the server, with its semantics: `prepare` splits off the first statement
//! ([`crate::sql::pg::first_statement`]) and prepares it there (Parse and Describe: the server's syntax errors,
//! its parameter and result types); `execute` binds the parameters in text format and streams the rows back
//! ([`values`]). Transactions, savepoints and the failed-block rule are the server's: the engine only remembers
//! what it ran (a block begun, ended, failed by an error) to answer [`Engine::tx_state`] without a round trip.
//! Transaction control that arrives as a statement runs through the simple protocol. Errors keep the server's
//! SQLSTATE, message, detail, hint and context ([`errors`]); once the connection is lost every statement gets
//! 08006. Notices the server sends go to the caller's [`Hooks::notice`] after the statement.
//!
//! The client is `tokio-postgres` on a current-thread tokio runtime of the engine's own, driven only while a
//! call waits for the server: while it waits, the caller's interrupt check ([`Engine::set_interrupt_check`]) runs
//! every [`CHECK_EVERY`], and an interrupt sends the server a cancel request for the running statement (the
//! statement ends with the interrupt's error). Dropping the engine says goodbye to the server (Terminate); a
//! process killed without it leaves the server to roll back what it had open.
//!
//! The session settings the engine sets at connect are the ones [`crate::sql::datum`] prints values with:
//! `TimeZone` UTC, `DateStyle` ISO, `IntervalStyle` postgres (unless the connection's `options` name them: the
//! server reports these, and while they differ date/time values are read as the server's text), and always
//! `extra_float_digits` 1 and `bytea_output` hex (not reported: a statement that changes them is refused, 0A000).
//!
//! Runs in: a background worker process (SPI on a postgresql-engine database); never in the postmaster, which
//! runs no threads and no runtimes.

pub mod errors;
pub mod values;

use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls, SimpleQueryMessage};

use super::interrupt::{CheckInterrupts, Wait};
use super::statement::{self, is_transaction_control, ColumnInfo, Kind, Statement};
use super::txn::TxState;
use super::{Completion, Engine, Hooks, SqlError, Value};

/// How often the interrupt check runs while a call waits for the server.
pub const CHECK_EVERY: Duration = Duration::from_millis(10);

/// The session settings set at connect, as `options` (`-c name=value`), unless the connection's own options set
/// them: the server reports changes of these, and values whose text depends on them are read as text while they
/// differ ([`values::depends_on_settings`]).
const REPORTED_SETTINGS: [(&str, &str); 3] = [("TimeZone", "UTC"), ("DateStyle", "ISO"), ("IntervalStyle", "postgres")];

/// The session settings always set at connect (the server does not report changes of these, so SPI refuses
/// statements that change them: see [`changes_fixed_settings`]).
const FIXED_SETTINGS: [(&str, &str); 2] = [("extra_float_digits", "1"), ("bytea_output", "hex")];

/// Whether the server's reported settings are the ones [`crate::sql::datum`] prints with.
fn settings_match(
    connection: &tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
) -> bool {
    connection.parameter("TimeZone").is_some_and(|tz| matches!(tz, "UTC" | "Etc/UTC"))
        && connection.parameter("DateStyle").is_some_and(|d| d.starts_with("ISO"))
        && connection.parameter("IntervalStyle").is_some_and(|i| i == "postgres")
}

/// Whether statement `sql` changes a setting the server does not report (`SET extra_float_digits`,
/// `set_config('bytea_output', ...)`, `RESET ALL`), which would change how values print unseen.
fn changes_fixed_settings(kind: &Kind, sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    let names = FIXED_SETTINGS.iter().any(|(name, _)| lower.contains(name));
    let setting = matches!(kind, Kind::Other(tag) if tag == "SET" || tag == "RESET")
        || lower.contains("set_config")
        || lower.contains("pg_catalog.set_config");
    (names && setting) || (matches!(kind, Kind::Other(tag) if tag == "RESET") && lower.contains(" all"))
}

/// How a prepared statement's results are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Bind and Execute, binary results printed by [`values::Cell`].
    Extended,
    /// The simple protocol: the server's text (a result type [`values::decodable`] refuses, no parameters).
    Simple,
    /// Transaction control, through the simple protocol.
    Control,
}

/// The last statement prepared, kept for the `execute` that follows.
struct Prepared {
    sql: String,
    statement: Option<tokio_postgres::Statement>,
    plan: Plan,
}

/// A connection to a PostgreSQL server as an [`Engine`] (see the module doc).
pub struct PostgresEngine {
    runtime: tokio::runtime::Runtime,
    client: Option<tokio_postgres::Client>,
    cancel: tokio_postgres::CancelToken,
    /// Notices from the connection task, handed to the hooks after each call.
    notices: mpsc::UnboundedReceiver<tokio_postgres::error::DbError>,
    /// The task that reads the connection (ends when the connection does).
    connection: Option<tokio::task::JoinHandle<()>>,
    hooks: Box<dyn Hooks>,
    check: Option<CheckInterrupts>,
    in_block: bool,
    failed: bool,
    prepared: Option<Prepared>,
    /// Whether the session's reported settings are still the engine's (kept by the connection task).
    settings: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl PostgresEngine {
    /// Connects to the server `config` describes (password included), with the caller's `hooks`. Err: the
    /// server's refusal with its SQLSTATE, or 08001 when it was not reached (FATAL either way).
    pub fn connect(config: &tokio_postgres::Config, hooks: Box<dyn Hooks>) -> Result<PostgresEngine, SqlError> {
        PostgresEngine::connect_checked(config, hooks, None)
    }

    /// [`connect`](Self::connect), with an interrupt check that also ends the wait for the server.
    pub fn connect_checked(
        config: &tokio_postgres::Config,
        hooks: Box<dyn Hooks>,
        check: Option<CheckInterrupts>,
    ) -> Result<PostgresEngine, SqlError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| SqlError::fatal("58000", format!("could not start the client runtime: {e}")))?;
        let config = with_session_settings(config);
        let server = server_text(&config);
        let connected = runtime.block_on(async {
            let connect = config.connect(NoTls);
            tokio::pin!(connect);
            let mut tick = tokio::time::interval(CHECK_EVERY);
            loop {
                tokio::select! {
                    done = &mut connect => return done.map_err(|e| errors::from_connect(&e, &server)),
                    _ = tick.tick(), if check.is_some() => {
                        if let Some(Err(e)) = check.map(|c| c(Wait::Running)) {
                            return Err(e);
                        }
                    }
                }
            }
        });
        let (client, mut connection) = connected?;
        let (notice_tx, notices) = mpsc::unbounded_channel();
        let settings = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(settings_match(&connection)));
        let seen = settings.clone();
        let task = runtime.spawn(async move {
            let mut next = futures::future::poll_fn(|cx| {
                let polled = connection.poll_message(cx);
                // ParameterStatus messages are taken in by the poll: the flag is current before any row after them.
                seen.store(settings_match(&connection), std::sync::atomic::Ordering::Relaxed);
                polled
            });
            while let Some(message) = (&mut next).await {
                match message {
                    Ok(AsyncMessage::Notice(notice)) => {
                        let _ = notice_tx.send(notice);
                    }
                    // A worker does not LISTEN: nothing else is expected.
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        Ok(PostgresEngine {
            runtime,
            cancel: client.cancel_token(),
            client: Some(client),
            notices,
            connection: Some(task),
            hooks,
            check,
            in_block: false,
            failed: false,
            prepared: None,
            settings,
        })
    }

    /// Whether the connection to the server is gone.
    pub fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(|c| c.is_closed())
    }

    /// Runs `fut` to its end on the runtime, checking for interrupts meanwhile: the first interrupt sends the
    /// server a cancel request, and the call ends with the interrupt's error once the server has answered.
    fn wait<T>(&mut self, fut: impl Future<Output = Result<T, SqlError>>) -> Result<T, SqlError> {
        let check = self.check;
        let cancel = self.cancel.clone();
        let out = self.runtime.block_on(async {
            tokio::pin!(fut);
            let mut interrupted: Option<SqlError> = None;
            let mut canceling = None;
            let mut tick = tokio::time::interval(CHECK_EVERY);
            let done = loop {
                tokio::select! {
                    done = &mut fut => break done,
                    _ = tick.tick(), if check.is_some() && interrupted.is_none() => {
                        if let Some(Err(e)) = check.map(|c| c(Wait::Running)) {
                            interrupted = Some(e);
                            let cancel = cancel.clone();
                            canceling = Some(tokio::spawn(async move {
                                let _ = cancel.cancel_query(NoTls).await;
                            }));
                        }
                    }
                }
            };
            // A cancel request still on its way when the statement ended is delivered before the next statement
            // is sent (the server ignores one that finds its session idle).
            if let Some(task) = canceling {
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            }
            match (done, interrupted) {
                (Err(_), Some(interrupt)) => Err(interrupt),
                (done, _) => done,
            }
        });
        while let Ok(notice) = self.notices.try_recv() {
            self.hooks.notice(errors::from_db(&notice));
        }
        out
    }

    /// Runs transaction control `sql` through the simple protocol and records what it did.
    fn control(&mut self, sql: &str, kind: &Kind) -> Result<(), SqlError> {
        let Some(client) = self.client.take() else { return Err(errors::connection_lost()) };
        let done = self.wait(async { client.batch_execute(sql).await.map_err(|e| errors::from_client(&e)) });
        self.client = Some(client);
        match (&done, kind) {
            (Ok(()), Kind::Begin) => {
                self.in_block = true;
                self.failed = false;
            }
            (Ok(()), Kind::Commit | Kind::Rollback) => {
                self.in_block = false;
                self.failed = false;
            }
            (Ok(()), Kind::RollbackTo) => self.failed = false,
            (Ok(()), _) => {}
            (Err(_), Kind::Commit | Kind::Rollback) => {
                // COMMIT and ROLLBACK end the block even when they fail (or the connection is gone).
                self.in_block = false;
                self.failed = false;
            }
            (Err(_), _) => self.statement_failed(),
        }
        done
    }

    fn statement_failed(&mut self) {
        if self.in_block {
            self.failed = true;
        }
        if self.is_closed() {
            self.in_block = false;
        }
    }

    /// Prepares `sql` (one statement) on the server.
    fn prepare_on_server(&mut self, sql: &str) -> Result<(Statement, Prepared), SqlError> {
        let kind = statement::classify(sql);
        if is_transaction_control(sql) {
            let prepared = Prepared { sql: sql.to_owned(), statement: None, plan: Plan::Control };
            return Ok((Statement::bare(sql, kind), prepared));
        }
        if matches!(&kind, Kind::Other(tag) if tag == "COPY") {
            let upper = sql.to_ascii_uppercase();
            if upper.contains("STDIN") || upper.contains("STDOUT") {
                // The copy sub-protocol has no place here (PostgreSQL's SPI refuses it too: SPI_ERROR_COPY).
                return Err(SqlError::error("0A000", "COPY to or from the client is not supported here"));
            }
        }
        if changes_fixed_settings(&kind, sql) {
            let names = FIXED_SETTINGS.map(|(name, _)| name).join(" and ");
            return Err(SqlError::error(
                "0A000",
                format!("changing {names} is not supported on a postgresql-engine database"),
            ));
        }
        let Some(client) = self.client.take() else { return Err(errors::connection_lost()) };
        let done = self.wait(async { client.prepare(sql).await.map_err(|e| errors::from_client(&e)) });
        self.client = Some(client);
        let server = match done {
            Ok(s) => s,
            Err(e) => {
                self.statement_failed();
                return Err(e);
            }
        };
        let params = server.params().len();
        let settings = self.settings.load(std::sync::atomic::Ordering::Relaxed);
        let readable =
            |ty: &tokio_postgres::types::Type| values::decodable(ty) && (settings || !values::depends_on_settings(ty));
        let plan = if server.columns().iter().all(|c| readable(c.type_())) {
            Plan::Extended
        } else if params == 0 {
            Plan::Simple
        } else {
            let ty = server.columns().iter().find(|c| !readable(c.type_())).map(|c| c.type_().name());
            return Err(SqlError::error(
                "0A000",
                format!(
                    "a result column of type {} in a statement with parameters is not supported on a \
                     postgresql-engine database",
                    ty.unwrap_or("?")
                ),
            ));
        };
        let stmt = Statement {
            sql: sql.to_owned(),
            columns: server
                .columns()
                .iter()
                .map(|c| ColumnInfo { name: c.name().to_owned(), ty: values::pg_type(c.type_()) })
                .collect(),
            param_names: (1..=params).map(|n| Some(format!("${n}"))).collect(),
            param_numbers: (1..=params).collect(),
            param_count: params,
            param_types: server.params().iter().map(values::pg_type).collect(),
            read_only: reads_only(&kind, sql),
            kind,
            ..Statement::bare(sql, Kind::Query)
        };
        Ok((stmt, Prepared { sql: sql.to_owned(), statement: Some(server), plan }))
    }
}

/// Whether a statement of `kind` only reads (for SPI's read-only executions): queries without a row lock or a
/// data-modifying `WITH`, and the utility statements that show things. The server decides what a statement does;
/// this reads the statement's words, and errs on the side of refusing (a query whose text names one of those
/// words in a string is treated as one that writes).
fn reads_only(kind: &Kind, sql: &str) -> bool {
    match kind {
        Kind::Query => {
            let upper = sql.to_ascii_uppercase();
            let words: Vec<&str> = upper.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
            let locks = words.windows(2).any(|w| w[0] == "FOR" && matches!(w[1], "UPDATE" | "SHARE" | "NO" | "KEY"));
            let modifies = words.first().is_some_and(|w| w.is_empty() || *w == "WITH")
                && words.iter().any(|w| matches!(*w, "INSERT" | "UPDATE" | "DELETE" | "MERGE"));
            !locks && !modifies
        }
        Kind::Other(tag) => matches!(tag.as_str(), "SHOW" | "EXPLAIN" | "VALUES" | "TABLE"),
        _ => false,
    }
}

/// `config` with the session settings the engine prints values with, where its `options` do not set them.
fn with_session_settings(config: &tokio_postgres::Config) -> tokio_postgres::Config {
    let mut config = config.clone();
    let mut options = config.get_options().unwrap_or_default().to_owned();
    let lower = options.to_ascii_lowercase();
    let unset = REPORTED_SETTINGS.into_iter().filter(|(name, _)| !lower.contains(&name.to_ascii_lowercase()));
    for (name, value) in unset.chain(FIXED_SETTINGS) {
        if !options.is_empty() {
            options.push(' ');
        }
        options.push_str(&format!("-c {name}={value}"));
    }
    config.options(options);
    config
}

/// Where the server is, as libpq names it in a connection failure: `"127.0.0.1", port 5433` or a socket.
pub fn server_text(config: &tokio_postgres::Config) -> String {
    let port = config.get_ports().first().copied().unwrap_or(5432);
    match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => format!("\"{host}\", port {port}"),
        Some(tokio_postgres::config::Host::Unix(dir)) => {
            format!("socket \"{}/.s.PGSQL.{port}\"", dir.display())
        }
        None => format!("socket \"/var/run/postgresql/.s.PGSQL.{port}\""),
    }
}

/// PostgreSQL's command tag for a statement of `kind` that returned or changed `count` rows.
fn command_tag(kind: &Kind, count: u64) -> String {
    match kind {
        Kind::Query => format!("SELECT {count}"),
        Kind::Insert => format!("INSERT 0 {count}"),
        Kind::Update => format!("UPDATE {count}"),
        Kind::Delete => format!("DELETE {count}"),
        Kind::Begin => "BEGIN".into(),
        Kind::Commit => "COMMIT".into(),
        Kind::Rollback | Kind::RollbackTo => "ROLLBACK".into(),
        Kind::Other(tag) => tag.clone(),
        Kind::Catalog => String::new(),
    }
}

impl Engine for PostgresEngine {
    fn prepare<'a>(&mut self, sql: &'a str) -> Result<Option<(Statement, &'a str)>, SqlError> {
        let Some((text, len)) = super::pg::first_statement(sql) else { return Ok(None) };
        let (stmt, prepared) = self.prepare_on_server(text)?;
        self.prepared = Some(prepared);
        Ok(Some((stmt, &sql[len..])))
    }

    fn execute(
        &mut self,
        stmt: &Statement,
        params: &[Value],
        rows: &mut dyn FnMut(Vec<Value>) -> ControlFlow<()>,
    ) -> Result<Completion, SqlError> {
        let prepared = match self.prepared.take() {
            Some(p) if p.sql == stmt.sql => p,
            _ => self.prepare_on_server(&stmt.sql)?.1,
        };
        let kind = &stmt.kind;
        if prepared.plan == Plan::Control {
            self.control(&stmt.sql, kind)?;
            return Ok(Completion { tag: command_tag(kind, 0), rows: 0, changes: 0 });
        }
        let Some(client) = self.client.take() else {
            self.statement_failed();
            return Err(errors::connection_lost());
        };
        let texts: Vec<Option<String>> = match &prepared.statement {
            Some(s) => (0..s.params().len()).map(|i| params.get(i).and_then(values::param_text)).collect(),
            None => Vec::new(),
        };
        let (plan, server) = (prepared.plan, prepared.statement.clone());
        let done = self.wait(async {
            let mut sent = 0u64;
            let changed;
            if plan == Plan::Simple {
                let stream = client.simple_query_raw(&stmt.sql).await.map_err(|e| errors::from_client(&e))?;
                tokio::pin!(stream);
                let mut count = 0;
                let mut stopped = false;
                while let Some(message) = stream.next().await {
                    match message.map_err(|e| errors::from_client(&e))? {
                        SimpleQueryMessage::Row(row) if !stopped => {
                            let values =
                                (0..row.len()).map(|i| row.get(i).map_or(Value::Null, |t| Value::Text(t.into())));
                            sent += 1;
                            stopped = rows(values.collect()).is_break();
                        }
                        SimpleQueryMessage::CommandComplete(n) => count = n,
                        _ => {}
                    }
                }
                changed = count;
            } else {
                let server = server.as_ref().expect("an extended plan has a statement");
                let args = texts.iter().map(|t| values::TextParam(t.as_deref()));
                let stream = client.query_raw(server, args).await.map_err(|e| errors::from_client(&e))?;
                tokio::pin!(stream);
                let width = server.columns().len();
                while let Some(row) = stream.next().await {
                    let row = row.map_err(|e| errors::from_client(&e))?;
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        let cell: values::Cell = row
                            .try_get(i)
                            .map_err(|e| SqlError::error("XX000", format!("could not read column {}: {e}", i + 1)))?;
                        values.push(cell.0.map_or(Value::Null, Value::Text));
                    }
                    sent += 1;
                    if rows(values).is_break() {
                        // The rest of the rows are dropped by the connection; the statement has run on the server.
                        return Ok((sent, sent));
                    }
                }
                changed = stream.rows_affected().unwrap_or(sent);
            }
            Ok((sent, changed))
        });
        self.client = Some(client);
        match done {
            Ok((sent, changed)) => {
                if !self.in_block {
                    self.failed = false;
                }
                let count = if stmt.columns.is_empty() { changed } else { sent };
                let changes = if matches!(kind, Kind::Insert | Kind::Update | Kind::Delete) { changed } else { 0 };
                Ok(Completion { tag: command_tag(kind, count), rows: sent, changes })
            }
            Err(e) => {
                self.statement_failed();
                Err(e)
            }
        }
    }

    fn tx_state(&self) -> TxState {
        match (self.in_block, self.failed) {
            (false, _) => TxState::Idle,
            (true, false) => TxState::InBlock,
            (true, true) => TxState::Failed,
        }
    }

    fn transaction_failed(&self) -> bool {
        self.failed
    }

    fn fail_transaction(&mut self) {
        self.failed = true;
    }

    fn begin(&mut self) -> Result<(), SqlError> {
        self.control("BEGIN", &Kind::Begin)
    }

    fn commit(&mut self) -> Result<(), SqlError> {
        if !self.in_block {
            self.failed = false;
            return Ok(());
        }
        if self.failed {
            self.control("ROLLBACK", &Kind::Rollback)?;
            self.hooks.transaction_ended(false);
            return Ok(());
        }
        if let Err(e) = self.hooks.pre_commit() {
            let _ = self.control("ROLLBACK", &Kind::Rollback);
            self.hooks.transaction_ended(false);
            return Err(e);
        }
        let done = self.control("COMMIT", &Kind::Commit);
        self.hooks.transaction_ended(done.is_ok());
        done
    }

    fn rollback(&mut self) -> Result<(), SqlError> {
        self.failed = false;
        if !self.in_block {
            return Ok(());
        }
        let done = self.control("ROLLBACK", &Kind::Rollback);
        self.hooks.transaction_ended(false);
        done
    }

    fn set_interrupt_check(&mut self, check: CheckInterrupts) {
        self.check = Some(check);
    }
}

impl Drop for PostgresEngine {
    fn drop(&mut self) {
        // Dropping the client queues Terminate; the connection task sends it and ends (bounded: a server that
        // does not answer is left to notice the closed socket).
        self.prepared = None;
        self.client = None;
        if let Some(task) = self.connection.take() {
            let _ = self.runtime.block_on(async { tokio::time::timeout(Duration::from_secs(1), task).await });
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn what_reads_only() {
        assert!(reads_only(&Kind::Query, "SELECT * FROM t WHERE a = 'x'"));
        assert!(!reads_only(&Kind::Query, "SELECT * FROM t FOR UPDATE SKIP LOCKED"));
        assert!(!reads_only(&Kind::Query, "with d as (delete from t returning *) select * from d"));
        assert!(reads_only(&Kind::Query, "WITH a AS (SELECT 1) SELECT * FROM a"));
        assert!(reads_only(&Kind::Other("SHOW".into()), "SHOW TimeZone"));
        assert!(!reads_only(&Kind::Insert, "INSERT INTO t VALUES (1)"));
        assert!(!reads_only(&Kind::Other("CREATE TABLE".into()), "CREATE TABLE t (a int)"));
    }

    #[test]
    fn settings_are_added_unless_set() {
        let mut c = tokio_postgres::Config::new();
        c.options("-c TimeZone=Europe/Paris");
        let c = with_session_settings(&c);
        let options = c.get_options().unwrap();
        assert!(options.starts_with("-c TimeZone=Europe/Paris -c DateStyle=ISO"), "{options}");
        assert!(!options.contains("TimeZone=UTC") && options.ends_with("-c bytea_output=hex"), "{options}");
        assert!(changes_fixed_settings(&Kind::Other("SET".into()), "SET extra_float_digits = 0"));
        assert!(changes_fixed_settings(&Kind::Query, "SELECT set_config('bytea_output', 'escape', false)"));
        assert!(changes_fixed_settings(&Kind::Other("RESET".into()), "RESET ALL"));
        assert!(!changes_fixed_settings(&Kind::Other("SET".into()), "SET TimeZone = 'Europe/Paris'"));
        assert!(!changes_fixed_settings(&Kind::Query, "SELECT 'extra_float_digits'"));
    }
}
