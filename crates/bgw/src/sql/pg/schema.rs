//! What the translator knows of a database's relations: each table's, view's and catalog's columns with their
//! PostgreSQL types, read from SQLite.
//!
//! Names: a relation `t` of schema `public` is SQLite's `t`; of schema `s`, SQLite's `s.t` (one identifier with a
//! dot); `pg_catalog.X` is SQLite's `X`; `information_schema.X` is `information_schema_X` (see
//! [`sqlite_name`]).
//!
//! Column lists come from preparing a query of the relation without running it, so that looking one up starts no
//! read transaction (inside a deferred transaction block such a read would make the block's later write fail on
//! a busy database instead of waiting); they are kept for the statement being translated only, as another
//! session may change the schema between statements.
//!
//! Runs in: any process that runs SQL through the translator.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;

use crate::sql::error::SqlError;
use crate::sql::types::PgType;

/// A column of a relation, as the translator types it.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    /// None for a column whose declared type says nothing (SQLite's untyped columns).
    pub ty: Option<PgType>,
    /// The SQLite declared type as written.
    pub decltype: String,
    /// A `GENERATED ALWAYS AS IDENTITY` column: only its default may be inserted.
    pub identity_always: bool,
    /// A serial or identity key: its values come from the table's sequence (SQLite's `sqlite_sequence` row).
    pub serial: bool,
}

/// How a serial or identity key (SQLite's rowid, declared `INTEGER`) keeps its PostgreSQL type and kind in the
/// SQLite schema, where its declared type must stay `INTEGER`: in its collation, which never matters for a column
/// that only holds integers (none: int8, RTRIM: int4, NOCASE: int2), and in a NOT NULL, which never matters for a
/// rowid (present: GENERATED ALWAYS).
pub fn serial_clause(ty: PgType, always: bool) -> String {
    let collation = match ty {
        PgType::Int4 => " COLLATE RTRIM",
        PgType::Int2 => " COLLATE NOCASE",
        _ => "",
    };
    format!("INTEGER PRIMARY KEY AUTOINCREMENT{collation}{}", if always { " NOT NULL" } else { "" })
}

/// The relations the translator resolves names against.
pub trait Schema {
    /// The columns of the SQLite relation `sqlite_name` (a table, view or virtual table), or None if there is
    /// no such relation.
    fn columns(&self, sqlite_name: &str) -> Result<Option<Arc<Vec<Column>>>, SqlError>;

    /// Each column's name, NOT NULL and primary-key position (reads the schema: for DDL only).
    fn table_info(&self, sqlite_name: &str) -> Result<Vec<(String, bool, u32)>, SqlError>;

    /// Whether schema `name` exists (public, pg_catalog and information_schema always do).
    fn schema_exists(&self, name: &str) -> Result<bool, SqlError>;

    /// The rows of a query of the schema or of the host's internal tables, each value as text (reads the
    /// database: for DDL and the restore statements of [`super::restore`] only).
    fn rows(&self, sql: &str, args: &[&str]) -> Result<Vec<Vec<Option<String>>>, SqlError>;
}

/// The SQLite name of relation `name` in schema `schema` (None: not qualified).
pub fn sqlite_name(schema: Option<&str>, name: &str) -> String {
    match schema {
        None | Some("public") | Some("pg_catalog") => name.to_owned(),
        Some("information_schema") => format!("information_schema_{name}"),
        Some(other) => format!("{other}.{name}"),
    }
}

/// A [`Schema`] over a SQLite connection.
pub struct SqliteSchema<'c> {
    conn: &'c Connection,
    cache: RefCell<HashMap<String, Option<Arc<Vec<Column>>>>>,
}

impl<'c> SqliteSchema<'c> {
    /// The schema of `conn`.
    pub fn new(conn: &'c Connection) -> SqliteSchema<'c> {
        SqliteSchema { conn, cache: RefCell::default() }
    }
}

impl Schema for SqliteSchema<'_> {
    fn columns(&self, sqlite_name: &str) -> Result<Option<Arc<Vec<Column>>>, SqlError> {
        if let Some(hit) = self.cache.borrow().get(sqlite_name) {
            return Ok(hit.clone());
        }
        let found = crate::sql::sqlite::relation_columns(self.conn, sqlite_name)?.map(|cols| {
            Arc::new(
                cols.into_iter()
                    .map(|c| {
                        let decltype = c.decltype.unwrap_or_default();
                        let mut column = Column {
                            ty: PgType::from_decltype(&decltype),
                            name: c.name,
                            decltype,
                            identity_always: false,
                            serial: false,
                        };
                        if column.decltype.eq_ignore_ascii_case("INTEGER") {
                            // A serial or identity key (a view's column too): its type and kind (see serial_clause).
                            let (table, col) =
                                c.origin.unwrap_or_else(|| (sqlite_name.to_owned(), column.name.clone()));
                            if let Ok((_, collation, not_null, true, true)) =
                                self.conn.column_metadata(None, table.as_str(), col.as_str())
                            {
                                column.ty = Some(match collation.and_then(|c| c.to_str().ok()) {
                                    Some("RTRIM") => PgType::Int4,
                                    Some("NOCASE") => PgType::Int2,
                                    _ => PgType::Int8,
                                });
                                column.identity_always = not_null;
                                column.serial = true;
                            }
                        }
                        column
                    })
                    .collect::<Vec<_>>(),
            )
        });
        self.cache.borrow_mut().insert(sqlite_name.to_owned(), found.clone());
        Ok(found)
    }

    fn table_info(&self, sqlite_name: &str) -> Result<Vec<(String, bool, u32)>, SqlError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, \"notnull\", pk FROM pragma_table_info(?1)")
            .map_err(crate::sql::sqlite::from_rusqlite)?;
        let rows = stmt
            .query_map([sqlite_name], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? != 0, row.get::<_, i64>(2)? as u32)))
            .map_err(crate::sql::sqlite::from_rusqlite)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(crate::sql::sqlite::from_rusqlite)
    }

    fn rows(&self, sql: &str, args: &[&str]) -> Result<Vec<Vec<Option<String>>>, SqlError> {
        let mut stmt = self.conn.prepare(sql).map_err(crate::sql::sqlite::from_rusqlite)?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |row| {
                (0..width)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => None,
                            rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                            rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                            rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(crate::sql::sqlite::from_rusqlite)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(crate::sql::sqlite::from_rusqlite)
    }

    fn schema_exists(&self, name: &str) -> Result<bool, SqlError> {
        if matches!(name, "public" | "pg_catalog" | "information_schema") {
            return Ok(true);
        }
        if crate::sql::sqlite::relation_columns(self.conn, "_pg_schemas")?.is_none() {
            return Ok(false);
        }
        Ok(self.conn.query_row("SELECT 1 FROM _pg_schemas WHERE nspname = ?1", [name], |_| Ok(())).is_ok())
    }
}
