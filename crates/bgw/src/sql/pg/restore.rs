//! The statements `pg_dump` sends and writes that are neither queries nor plain definitions: `LOCK TABLE ... IN
//! ACCESS SHARE MODE` (its snapshot), sequences (`CREATE SEQUENCE`, `ALTER SEQUENCE ... OWNED BY`, a column's
//! `SET DEFAULT nextval(...)`, `setval`), `ALTER ... OWNER TO` and the constraints a dump adds after the data.
//!
//! Invariants: a statement of a shape the host cannot honour is refused with 0A000 naming it; nothing here
//! changes what an existing database means.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::ast::{Lock, LockTableMode};

use super::expr::Translator;
use super::names;
use super::schema::sqlite_name;
use super::unsupported;
use crate::sql::error::SqlError;
use crate::sql::statement::{ColumnInfo, Kind};

type Out = (String, Kind, Vec<ColumnInfo>);

/// `LOCK [TABLE] name [, ...] IN ACCESS SHARE MODE`: every relation must exist; the statement reads each (no
/// row), which starts the transaction's SQLite read snapshot if it has none yet, so that later DDL of other
/// sessions is not seen, as a PostgreSQL ACCESS SHARE lock keeps it out. Stronger modes: 0A000.
pub(super) fn lock(tx: &mut Translator<'_>, lock: &Lock) -> Result<Out, SqlError> {
    match &lock.lock_mode {
        None => return Err(unsupported("LOCK TABLE in ACCESS EXCLUSIVE mode")),
        Some(LockTableMode::AccessShare) => {}
        Some(mode) => return Err(unsupported(format!("LOCK TABLE in {mode} mode"))),
    }
    let mut reads = Vec::new();
    for target in &lock.tables {
        let (schema, name) = names::relation(&target.name)?;
        let (_, sqlite) = tx.table(schema.as_deref(), &name, None)?;
        if !sqlite.starts_with('"') || sqlite_name(schema.as_deref(), &name).starts_with("_pg_") {
            return Err(unsupported(format!("LOCK TABLE of \"{name}\"")));
        }
        reads.push(format!("SELECT 1 FROM {sqlite} LIMIT 0"));
    }
    // The reads run before the statement, which itself has nothing to do (and so no result columns).
    tx.before.extend(reads);
    Ok((String::new(), Kind::Other("LOCK TABLE".into()), Vec::new()))
}
