//! The views `pg_stat_activity` and `bgw_workers`, as eponymous SQLite virtual tables.
//!
//! Each scan asks the host afresh (one [`HostServices::activity`] or [`HostServices::workers`] call per scan),
//! so a query sees the current state; SQLite itself applies `WHERE`, `ORDER BY` and the rest. The tables are
//! read-only. The declared column types give the result columns their PostgreSQL types (`INT4` → int4,
//! `INTEGER` → int8, `TEXT` → text).

use std::borrow::Cow;
use std::ffi::{c_int, CStr};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::vtab::{Context, Filters, IndexInfo, Module, VTab, VTabConnection, VTabCursor};
use rusqlite::{ffi, Connection};

use super::context;
use super::host::{HostServices, SqlError};
use super::types::{timestamp_text, Value};

/// A view: its columns and how to get its rows from the host.
trait View {
    const SCHEMA: &'static CStr;
    fn rows(host: &dyn HostServices) -> Vec<Vec<Value>>;
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
        pid INT4, state TEXT, notify_pid INT4, restart_count INTEGER, last_exit_code INT4)";

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
                ]
            })
            .collect()
    }
}

/// Defines the views on `conn`.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    const ACTIVITY: Module<'static, ViewTable<Activity>> = Module::eponymous_only_module();
    const WORKERS: Module<'static, ViewTable<Workers>> = Module::eponymous_only_module();
    conn.create_module(c"pg_stat_activity", &ACTIVITY, None)?;
    conn.create_module(c"bgw_workers", &WORKERS, None)?;
    Ok(())
}

#[repr(C)]
struct ViewTable<V> {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab,
    view: PhantomData<V>,
}

// SAFETY: `ViewTable` is `repr(C)` with the `sqlite3_vtab` first, as rusqlite requires.
unsafe impl<'vtab, V: View + 'vtab> VTab<'vtab> for ViewTable<V> {
    type Aux = ();
    type Cursor = ViewCursor<'vtab>;

    fn connect(
        db: &mut VTabConnection,
        _aux: Option<&()>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        // Read-only: users' views and triggers may read it.
        db.config(rusqlite::vtab::VTabConfig::Innocuous)?;
        Ok((Cow::Borrowed(V::SCHEMA), ViewTable { base: ffi::sqlite3_vtab::default(), view: PhantomData }))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        // Always a full scan; SQLite checks the constraints itself.
        info.set_estimated_cost(1000.0);
        info.set_estimated_rows(100);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<ViewCursor<'vtab>> {
        Ok(ViewCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            fetch: V::rows,
            rows: Vec::new(),
            at: 0,
            table: PhantomData,
        })
    }
}

#[repr(C)]
struct ViewCursor<'vtab> {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab_cursor,
    fetch: fn(&dyn HostServices) -> Vec<Vec<Value>>,
    rows: Vec<Vec<Value>>,
    at: usize,
    table: PhantomData<&'vtab ()>,
}

// SAFETY: `ViewCursor` is `repr(C)` with the `sqlite3_vtab_cursor` first, as rusqlite requires.
unsafe impl VTabCursor for ViewCursor<'_> {
    fn filter(&mut self, _idx_num: c_int, _idx_str: Option<&str>, _args: &Filters<'_>) -> rusqlite::Result<()> {
        let host = context::host().map_err(context::fail)?;
        self.at = 0;
        // A panic must not unwind into SQLite (rusqlite does not catch it here); it fails the scan instead.
        match catch_unwind(AssertUnwindSafe(|| (self.fetch)(&*host))) {
            Ok(rows) => {
                self.rows = rows;
                Ok(())
            }
            Err(payload) => {
                self.rows = Vec::new();
                Err(context::fail(SqlError::error(
                    "XX000",
                    format!("internal error while reading a view: {}", context::panic_message(&*payload)),
                )))
            }
        }
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.at += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, column: c_int) -> rusqlite::Result<()> {
        let value = usize::try_from(column).ok().and_then(|c| self.rows.get(self.at)?.get(c));
        ctx.set_result(value.unwrap_or(&Value::Null))
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.at as i64 + 1)
    }
}
