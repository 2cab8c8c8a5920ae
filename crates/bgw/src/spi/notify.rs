//! NOTIFY from a worker: `NOTIFY` and `pg_notify` through SPI, and the C ABI's `Async_Notify`.
//!
//! A worker's notifications wait in this process's pending list until its transaction commits (or, outside a
//! transaction, until the statement that sent them finishes), then go to the shared queue in one publish; a
//! rollback drops them. The list has its own lock, apart from the SPI state's, because `pg_notify` runs inside
//! SQLite while the SPI state is held. Workers cannot consume notifications, so `LISTEN` is refused.
//!
//! Runs in: a background worker process.

use std::sync::Mutex;

/// (channel, payload) in the order sent; each distinct pair once per transaction.
static PENDING: Mutex<crate::shmem::notify::Pending> = Mutex::new(crate::shmem::notify::Pending::new());

fn pending() -> std::sync::MutexGuard<'static, crate::shmem::notify::Pending> {
    PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Queues a notification after checking it as PostgreSQL does; Err is the error message.
pub fn queue(channel: &str, payload: &str) -> Result<(), String> {
    pending().add(channel, payload).map_err(|e| e.to_string())
}

/// Pre-commit of the worker's transaction (`CommitTransactionCommand`, before SQLite's COMMIT): reserves room in
/// the queue for its pending notifications, or Err with PostgreSQL's error message (SQLSTATE 54000), and the
/// caller rolls the transaction back.
pub fn pre_commit() -> Result<(), String> {
    let count = pending().len();
    crate::shmem::notify::pre_commit(count).map_err(|e| e.to_string())
}

/// The hooks of a worker's database connection: the pre-commit of a transaction SQLite commits itself (an SPI
/// statement outside a transaction that wrote).
pub struct CommitHooks;

impl crate::sql::Hooks for CommitHooks {
    fn pre_commit(&self) -> Result<(), crate::sql::SqlError> {
        pre_commit().map_err(|m| crate::sql::SqlError::error("54000", m))
    }
}

/// The hooks of a worker's connection to a PostgreSQL server: notifications are the server's (NOTIFY runs there),
/// and its warnings go to the log, as a PostgreSQL worker's do (notices are below the log's default level).
pub struct ServerHooks;

impl crate::sql::Hooks for ServerHooks {
    fn notice(&self, notice: crate::sql::SqlError) {
        if notice.severity == crate::sql::Severity::Warning {
            crate::elog::report(crate::elog::Level::Warning, notice.message);
        }
    }
}

/// The transaction (or the statement outside one) ended: publishes the pending notifications if it committed
/// into database `db`, and drops them otherwise.
pub fn transaction_ended(committed: bool, db: Option<u32>) {
    let list = pending().take();
    if !committed || db.is_none() {
        crate::shmem::notify::release();
    }
    if let (true, Some(db)) = (committed, db) {
        if let Err(e) = crate::shmem::notify::send(db, &list) {
            crate::elog::report(crate::elog::Level::Warning, format!("{e}: {} notifications not sent", list.len()));
        }
    }
}

/// Registers `pg_notify(channel, payload)` on a worker's database connection.
pub fn register_function(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function("pg_notify", 2, FunctionFlags::SQLITE_UTF8, |ctx| {
        let channel: Option<String> = ctx.get(0)?;
        let payload: Option<String> = ctx.get(1)?;
        queue(&channel.unwrap_or_default(), &payload.unwrap_or_default())
            .map_err(|m| rusqlite::Error::UserFunctionError(m.into()))?;
        Ok(rusqlite::types::Null)
    })
}

/// What a NOTIFY-family statement sent through SPI does: Some(Ok) if it was one and succeeded, Some(Err) with
/// the message if it was refused, None if `sql` is not one.
pub fn run_statement(sql: &str) -> Option<Result<(), String>> {
    use crate::catalog::ddl::{is_catalog_command, parse, CatalogCommand};
    if !is_catalog_command(sql) {
        return None;
    }
    match parse(sql) {
        Ok(CatalogCommand::Notify { channel, payload }) => Some(queue(&channel, &payload)),
        Ok(CatalogCommand::Listen(..)) => Some(Err("cannot execute LISTEN within a background process".into())),
        // Nothing to stop listening to.
        Ok(CatalogCommand::Unlisten(_)) => Some(Ok(())),
        Ok(_) => None,
        Err(message) => Some(Err(message)),
    }
}
