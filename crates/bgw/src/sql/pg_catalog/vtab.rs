//! The catalogs as read-only eponymous SQLite virtual tables: one module, registered once per relation with the
//! relation's definition as its client data. A scan computes the relation's rows when it begins (reading the
//! schema through the same connection, which SQLite allows from inside a virtual table) and SQLite applies
//! `WHERE`, joins and the rest. A scan constrained by `key = value` on the relation's key column (`pg_class.oid`,
//! `pg_attribute.attrelid`, ...) hands the value to the relation, which may then read one table's schema only;
//! SQLite still checks the constraint on every row.
//!
//! This is the catalogs' only `unsafe` code: rusqlite's virtual-table traits (the layout promise), and a
//! non-owning `Connection` on the handle SQLite gave the table.
//!
//! Runs in: a backend process.

use std::borrow::Cow;
use std::ffi::{c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rusqlite::ffi;
use rusqlite::vtab::{
    Context, Filters, IndexConstraintOp, IndexInfo, Module, VTab, VTabConfig, VTabConnection, VTabCursor,
};
use rusqlite::Connection;

use super::relations::{Env, Relation, ALL};
use super::CatalogSource;
use crate::sql::sqlite::rows_table::Scan;

/// What a registration of the module carries: the relation and where host data comes from.
pub(super) struct Aux {
    relation: &'static Relation,
    source: Arc<dyn CatalogSource>,
}

/// Registers every relation on `conn`.
pub(super) fn register(conn: &Connection, source: &Arc<dyn CatalogSource>) -> rusqlite::Result<()> {
    const MODULE: Module<'static, CatalogTable> = Module::eponymous_only_module();
    for relation in ALL {
        conn.create_module(relation.name, &MODULE, Some(Aux { relation, source: source.clone() }))?;
    }
    Ok(())
}

/// The `CREATE TABLE` statement SQLite is given for `relation`: its columns, each declared with its type.
pub(super) fn schema_sql(relation: &Relation) -> String {
    let columns: Vec<String> = relation.column_list().map(|(name, ty)| format!("\"{name}\" {ty}")).collect();
    format!("CREATE TABLE x({})", columns.join(", "))
}

/// One relation, as SQLite holds it.
#[repr(C)]
pub(super) struct CatalogTable {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab,
    db: *mut ffi::sqlite3,
    relation: &'static Relation,
    source: Arc<dyn CatalogSource>,
}

/// `idx_num` of a scan constrained on the key column.
const BY_KEY: c_int = 1;

// SAFETY: `CatalogTable` is `repr(C)` with the `sqlite3_vtab` first, as rusqlite requires.
unsafe impl<'vtab> VTab<'vtab> for CatalogTable {
    type Aux = Aux;
    type Cursor = CatalogCursor<'vtab>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Aux>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let aux = aux.ok_or_else(|| rusqlite::Error::ModuleError("catalog without a definition".into()))?;
        // Read-only: users' views and triggers may read it.
        db.config(VTabConfig::Innocuous)?;
        let sql = CString::new(schema_sql(aux.relation))
            .map_err(|_| rusqlite::Error::ModuleError("catalog schema with a NUL".into()))?;
        // SAFETY: the handle is the connection creating this table; the table lives no longer than it.
        let handle = unsafe { db.handle() };
        Ok((
            Cow::Owned(sql),
            CatalogTable {
                base: ffi::sqlite3_vtab::default(),
                db: handle,
                relation: aux.relation,
                source: aux.source.clone(),
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        let key = self.relation.key.and_then(|k| c_int::try_from(k).ok());
        let usable = info.constraints().position(|c| {
            c.is_usable() && Some(c.column()) == key && c.operator() == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ
        });
        match usable {
            Some(index) => {
                let mut usage = info.constraint_usage(index);
                usage.set_argv_index(1);
                info.set_idx_num(BY_KEY);
                info.set_estimated_cost(10.0);
                info.set_estimated_rows(10);
            }
            None => {
                info.set_estimated_cost(1000.0);
                info.set_estimated_rows(1000);
            }
        }
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<CatalogCursor<'vtab>> {
        Ok(CatalogCursor { base: ffi::sqlite3_vtab_cursor::default(), table: self, scan: Scan::default() })
    }
}

/// A scan: the rows computed when it began.
#[repr(C)]
pub(super) struct CatalogCursor<'vtab> {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab_cursor,
    table: &'vtab CatalogTable,
    scan: Scan,
}

// SAFETY: `CatalogCursor` is `repr(C)` with the `sqlite3_vtab_cursor` first, as rusqlite requires.
unsafe impl VTabCursor for CatalogCursor<'_> {
    fn filter(&mut self, idx_num: c_int, _idx_str: Option<&str>, args: &Filters<'_>) -> rusqlite::Result<()> {
        self.scan.start(Vec::new());
        let mut only = None;
        if idx_num == BY_KEY && !args.is_empty() {
            match args.get::<rusqlite::types::Value>(0)? {
                // `key = NULL` matches nothing.
                rusqlite::types::Value::Null => return Ok(()),
                rusqlite::types::Value::Integer(v) => only = Some(v),
                // A value SQLite may still find equal after conversion (`oid = '16385'`): every row, and SQLite
                // checks each.
                rusqlite::types::Value::Text(t) => only = t.trim().parse().ok(),
                _ => {}
            }
        }
        // SAFETY: SQLite calls xFilter on the thread running the statement, on the connection that owns this
        // table (`db`, alive as long as the table); a non-owning `Connection` on it runs the schema queries
        // (nested statements, which SQLite allows) and is dropped before returning, without closing the handle.
        let conn = unsafe { Connection::from_handle(self.table.db) }?;
        let env = Env { conn: &conn, source: &*self.table.source, only };
        let relation = self.table.relation;
        let computed = catch_unwind(AssertUnwindSafe(|| (relation.rows)(&env)));
        drop(conn);
        match computed {
            Ok(Ok(rows)) => {
                self.scan.start(rows);
                Ok(())
            }
            Ok(Err(err)) => {
                self.table.source.function_failed(&err);
                Err(rusqlite::Error::ModuleError(err.message))
            }
            Err(_) => Err(rusqlite::Error::ModuleError(format!("internal error while reading {}", relation.name))),
        }
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

/// Runs `f` with the connection a SQL function is called on (the catalog functions read the schema).
pub(super) fn with_connection<T>(
    ctx: &rusqlite::functions::Context<'_>,
    f: impl FnOnce(&Connection) -> T,
) -> rusqlite::Result<T> {
    // SAFETY: SQLite calls a function on the thread running the statement, on the connection the statement runs
    // on; the non-owning `Connection` rusqlite builds on it lives only for this call and never closes it, and `f`
    // runs only nested statements, which SQLite allows.
    let conn = unsafe { ctx.get_connection() }?;
    Ok(f(&conn))
}
