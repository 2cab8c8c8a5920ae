//! The session's database: the SQL layer's SQLite engine ([`crate::sql::sqlite`]) with what a client session
//! adds through [`Hooks`]: the backend's SQL functions and views, the catalogs (`pg_catalog`, installed by
//! `catalog_source`), the host's catalog commands (CREATE/ALTER/DROP DATABASE and ROLE, LISTEN/NOTIFY), its
//! read-only state, the end of each transaction (notifications are
//! published on commit), and the notices the engine raises.
//!
//! The hooks reach the host through the session's thread-local context ([`super::context`]), as the SQL
//! functions do.
//!
//! Runs in: a backend process.

use std::path::Path;

use crate::sql::sqlite::{Options, SqliteEngine};
use crate::sql::{Engine, Hooks, PgType, SqlError};

use super::catalog_source;
use super::context;
use super::functions;
use super::settings;
use super::views;

/// The client session's hooks: everything goes to the host installed in the context.
struct SessionHooks {
    user: String,
    database: String,
}

impl Hooks for SessionHooks {
    fn own_statement_len(&self, sql: &str) -> Option<usize> {
        if crate::sql::session::is_session_statement(sql) {
            // SET / RESET / DISCARD ALL: the session's settings (a malformed one is reported when it runs).
            return Some(crate::sql::session::parse(sql).map_or(sql.len(), |(_, len)| len));
        }
        context::host().ok().and_then(|h| h.catalog_statement_len(sql))
    }

    fn run_own_statement(&self, sql: &str, in_transaction_block: bool) -> Result<String, SqlError> {
        let host = context::host()?;
        if crate::sql::session::is_session_statement(sql) {
            return settings::run(&*host, sql, in_transaction_block);
        }
        let mut words = crate::sql::lexer::leading_words(sql);
        if let (Some(verb @ ("CREATE" | "ALTER" | "DROP")), Some(object)) = (words.next().as_deref(), words.next()) {
            if settings::transaction_read_only() {
                // CREATE/ALTER/DROP DATABASE and ROLE write; LISTEN and NOTIFY may run in a read-only transaction.
                return Err(SqlError::error(
                    "25006",
                    format!("cannot execute {verb} {object} in a read-only transaction"),
                ));
            }
        }
        host.catalog_command(sql, in_transaction_block)
    }

    fn read_only(&self) -> bool {
        context::host().map(|h| h.read_only()).unwrap_or(false) || settings::transaction_read_only()
    }

    fn pre_commit(&self) -> Result<(), SqlError> {
        context::host().map_or(Ok(()), |h| h.pre_commit())
    }

    fn transaction_ended(&self, committed: bool) {
        settings::transaction_ended(committed);
        if let Ok(h) = context::host() {
            h.transaction_ended(committed);
        }
    }

    fn subtransaction(&self, what: crate::sql::txn::SubXact) {
        settings::subtransaction(what);
        if let Ok(h) = context::host() {
            h.subtransaction(what);
        }
    }

    fn notice(&self, notice: SqlError) {
        context::notice(notice);
    }

    fn take_function_error(&self) -> Option<SqlError> {
        context::take_pending_error()
    }

    fn function_result_type(&self, name: &str) -> Option<PgType> {
        functions::result_type(name).or_else(|| crate::sql::pg_catalog::function_type(name))
    }

    fn function_argument_types(&self, name: &str) -> Option<Vec<PgType>> {
        functions::argument_types(name)
    }

    fn function_parameter_names(&self, name: &str) -> Option<Vec<&'static str>> {
        functions::parameter_names(name)
    }

    fn in_recovery(&self) -> bool {
        context::host().map(|h| h.read_only()).unwrap_or(false)
    }

    fn session_identity(&self) -> (String, String) {
        (self.user.clone(), self.database.clone())
    }
}

/// What a worker's SPI connection speaking PostgreSQL's SQL adds to the translator's functions: the catalogs and
/// the host's views, as a session's connection has them (the host's SQL functions, which act for a client
/// session, are not among them).
pub fn setup_for_spi(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    views::register(conn)?;
    catalog_source::install(conn)
}

/// The session's database (the file at `path`, or a fresh in-memory one), sandboxed, with the backend's
/// functions and views.
pub(crate) fn open(path: Option<&Path>, user: &str, database: &str) -> Result<Box<dyn Engine>, SqlError> {
    let conn = SqliteEngine::open_sandboxed(path, |conn| {
        functions::register(conn)?;
        views::register(conn)?;
        catalog_source::install(conn)
    })
    .map_err(|err| SqlError::fatal("XX000", format!("could not set up the session database: {err}")))?;
    // One session per backend process: SQLite's process-wide heap limit is the session's.
    crate::sql::sqlite::set_memory_limit(crate::process::setting_int("backend_memory_limit").saturating_mul(1024));
    let options = if crate::process::setting_text("sql_dialect").as_deref() == Some("postgresql") {
        Options::CLIENT_POSTGRES
    } else {
        Options::CLIENT
    };
    let mut engine = SqliteEngine::with_hooks(
        conn,
        options,
        Box::new(SessionHooks { user: user.to_owned(), database: database.to_owned() }),
    );
    // A cancel, a statement or lock timeout, or SIGTERM ends a running statement (see crate::process::interrupts).
    engine.set_interrupt_check(crate::process::interrupts::check_sql);
    Ok(Box::new(engine))
}
