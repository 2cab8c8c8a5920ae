//! The views `pg_stat_activity` and `bgw_workers`, as eponymous SQLite virtual tables.
//!
//! Each scan asks the host afresh (one [`HostServices::activity`] or [`HostServices::workers`] call per scan),
//! so a query sees the current state; SQLite itself applies `WHERE`, `ORDER BY` and the rest. The tables are
//! read-only (the SQL layer's [`RowsTable`]s). The declared column types give the result columns their PostgreSQL
//! types (`INT4` → int4, `INTEGER` → int8, `TEXT` → text).
//!
//! Runs in: a backend process.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::vtab::Module;
use rusqlite::Connection;

use crate::sql::sqlite::rows_table::{RowSource, RowsTable};

use super::context;
use super::host::{HostServices, SqlError};
use super::types::{timestamp_text, Value};

/// A view: its columns and how to get its rows from the host.
trait View {
    const SCHEMA: &'static CStr;
    fn rows(host: &dyn HostServices) -> Vec<Vec<Value>>;
}

/// A view's rows for the SQL layer's table: asked of the session's host, a panic failing the scan (it must not
/// unwind into SQLite, and rusqlite does not catch it here).
struct HostView<V>(PhantomData<V>);

impl<V: View> RowSource for HostView<V> {
    const SCHEMA: &'static CStr = V::SCHEMA;

    fn rows() -> rusqlite::Result<Vec<Vec<Value>>> {
        let host = context::host().map_err(context::fail)?;
        catch_unwind(AssertUnwindSafe(|| V::rows(&*host))).map_err(|payload| {
            context::fail(SqlError::error(
                "XX000",
                format!("internal error while reading a view: {}", context::panic_message(&*payload)),
            ))
        })
    }
}

struct Activity;

impl View for Activity {
    const SCHEMA: &'static CStr = c"CREATE TABLE x(pid INT4, backend_type TEXT, backend_start TEXT, \
        application_name TEXT, state TEXT, query TEXT, datname TEXT, usename TEXT)";

    fn rows(host: &dyn HostServices) -> Vec<Vec<Value>> {
        host.activity()
            .into_iter()
            .map(|row| {
                vec![
                    Value::Integer(row.pid.into()),
                    Value::Text(row.backend_type),
                    Value::Text(timestamp_text(row.backend_start)),
                    Value::Text(row.application_name),
                    Value::Text(row.state),
                    Value::Text(row.query),
                    row.datname.map_or(Value::Null, Value::Text),
                    row.usename.map_or(Value::Null, Value::Text),
                ]
            })
            .collect()
    }
}

struct Workers;

impl View for Workers {
    const SCHEMA: &'static CStr = c"CREATE TABLE x(slot INTEGER, generation INTEGER, name TEXT, \"type\" TEXT, \
        library TEXT, \"function\" TEXT, main_arg INTEGER, flags TEXT, start_phase TEXT, restart_interval INTEGER, \
        pid INT4, state TEXT, notify_pid INT4, restart_count INTEGER, last_exit_code INT4, starts INTEGER, \
        last_exit_reason TEXT, last_exit_description TEXT, last_exit_at timestamptz, next_start_at timestamptz)";

    fn rows(host: &dyn HostServices) -> Vec<Vec<Value>> {
        let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
        host.workers()
            .into_iter()
            .map(|row| {
                vec![
                    Value::Integer(row.slot),
                    Value::Integer(row.generation),
                    Value::Text(row.name),
                    Value::Text(row.worker_type),
                    Value::Text(row.library),
                    Value::Text(row.function),
                    Value::Integer(row.main_arg),
                    Value::Text(row.flags),
                    Value::Text(row.start_phase),
                    int(row.restart_seconds),
                    int(row.pid.map(i64::from)),
                    Value::Text(row.state),
                    int(row.notify_pid.map(i64::from)),
                    Value::Integer(row.restart_count),
                    int(row.last_exit_code.map(i64::from)),
                    Value::Integer(row.starts),
                    row.last_exit_reason.map_or(Value::Null, Value::Text),
                    row.last_exit_description.map_or(Value::Null, Value::Text),
                    row.last_exit_at.map_or(Value::Null, |t| Value::Text(timestamp_text(t))),
                    row.next_start_at.map_or(Value::Null, |t| Value::Text(timestamp_text(t))),
                ]
            })
            .collect()
    }
}

/// Defines the views on `conn`.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    const ACTIVITY: Module<'static, RowsTable<HostView<Activity>>> = Module::eponymous_only_module();
    const WORKERS: Module<'static, RowsTable<HostView<Workers>>> = Module::eponymous_only_module();
    conn.create_module(c"pg_stat_activity", &ACTIVITY, None)?;
    conn.create_module(c"bgw_workers", &WORKERS, None)?;
    Ok(())
}
