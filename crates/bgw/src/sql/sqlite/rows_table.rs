//! Read-only tables whose rows the caller computes at each scan (eponymous SQLite virtual tables): how the
//! backend's views (`pg_stat_activity`, `bgw_workers`) are made. The caller names the columns (their declared
//! types give the result columns their PostgreSQL types) and fetches the rows; SQLite applies `WHERE`, `ORDER BY`
//! and the rest.
//!
//! rusqlite's virtual-table traits are `unsafe` to implement (the layout promise below); this is the only other
//! place of the SQL layer that says `unsafe`.
//!
//! Runs in: a backend process.

use std::borrow::Cow;
use std::ffi::{c_int, CStr};
use std::marker::PhantomData;

use rusqlite::ffi;
use rusqlite::vtab::{Context, Filters, IndexInfo, VTab, VTabConnection, VTabCursor};

use crate::sql::value::Value;

/// Where a [`RowsTable`]'s rows come from.
pub trait RowSource {
    /// The table's `CREATE TABLE` statement (its name is ignored).
    const SCHEMA: &'static CStr;
    /// The rows, fetched afresh for each scan; an error fails the scan. Must not panic into SQLite: catch it.
    fn rows() -> rusqlite::Result<Vec<Vec<Value>>>;
}

/// A read-only, eponymous virtual table whose rows come from `S` at each scan.
#[repr(C)]
pub struct RowsTable<S> {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab,
    source: PhantomData<S>,
}

// SAFETY: `RowsTable` is `repr(C)` with the `sqlite3_vtab` first, as rusqlite requires.
unsafe impl<'vtab, S: RowSource + 'vtab> VTab<'vtab> for RowsTable<S> {
    type Aux = ();
    type Cursor = RowsCursor<'vtab>;

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
        Ok((Cow::Borrowed(S::SCHEMA), RowsTable { base: ffi::sqlite3_vtab::default(), source: PhantomData }))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        // Always a full scan; SQLite checks the constraints itself.
        info.set_estimated_cost(1000.0);
        info.set_estimated_rows(100);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<RowsCursor<'vtab>> {
        Ok(RowsCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            fetch: S::rows,
            scan: Scan::default(),
            table: PhantomData,
        })
    }
}

/// A scan of a [`RowsTable`]: the rows fetched when it began.
#[repr(C)]
pub struct RowsCursor<'vtab> {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab_cursor,
    fetch: fn() -> rusqlite::Result<Vec<Vec<Value>>>,
    scan: Scan,
    table: PhantomData<&'vtab ()>,
}

/// The rows of one scan of a table of computed rows and the position in them: what every such cursor
/// (this module's, `pg_catalog`'s) moves through the same way.
#[derive(Default)]
pub struct Scan {
    rows: Vec<Vec<Value>>,
    at: usize,
}

impl Scan {
    /// A new scan of `rows` (none after a failed computation).
    pub fn start(&mut self, rows: Vec<Vec<Value>>) {
        self.rows = rows;
        self.at = 0;
    }

    pub fn next(&mut self) {
        self.at += 1;
    }

    pub fn eof(&self) -> bool {
        self.at >= self.rows.len()
    }

    /// The current row's value of `column` (NULL past the row's end) as the result of `ctx`.
    pub fn column(&self, ctx: &mut Context, column: c_int) -> rusqlite::Result<()> {
        let value = usize::try_from(column).ok().and_then(|c| self.rows.get(self.at)?.get(c));
        ctx.set_result(value.unwrap_or(&Value::Null))
    }

    pub fn rowid(&self) -> i64 {
        self.at as i64 + 1
    }
}

// SAFETY: `RowsCursor` is `repr(C)` with the `sqlite3_vtab_cursor` first, as rusqlite requires.
unsafe impl VTabCursor for RowsCursor<'_> {
    fn filter(&mut self, _idx_num: c_int, _idx_str: Option<&str>, _args: &Filters<'_>) -> rusqlite::Result<()> {
        // A failed fetch leaves an empty scan behind.
        self.scan.start(Vec::new());
        self.scan.start((self.fetch)()?);
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.scan.next();
        Ok(())
    }

    fn eof(&self) -> bool {
        self.scan.eof()
    }

    fn column(&self, ctx: &mut Context, column: c_int) -> rusqlite::Result<()> {
        self.scan.column(ctx, column)
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.scan.rowid())
    }
}
