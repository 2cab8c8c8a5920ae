//! What the translator knows of a database's relations: each table's, view's and catalog's columns with their
//! PostgreSQL types, read from SQLite (`pragma_table_xinfo`) and cached until the schema changes.
//!
//! Names: a relation `t` of schema `public` is SQLite's `t`; of schema `s`, SQLite's `s.t` (one identifier with a
//! dot); `pg_catalog.X` is SQLite's `X`; `information_schema.X` is `information_schema_X` (see
//! [`sqlite_name`]).
//!
//! Runs in: any process that runs SQL through the translator.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::Connection;

use crate::sql::error::SqlError;
use crate::sql::types::PgType;

/// A column of a relation, as the translator types it.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    /// None for a column whose declared type says nothing (SQLite's untyped columns).
    pub ty: Option<PgType>,
    pub not_null: bool,
    /// Position in the primary key (1-based), 0 if not part of it.
    pub pk: u32,
    /// The SQLite declared type as written.
    pub decltype: String,
}

/// The relations the translator resolves names against.
pub trait Schema {
    /// The columns of the SQLite relation `sqlite_name` (a table, view or virtual table), or None if there is
    /// no such relation.
    fn columns(&self, sqlite_name: &str) -> Result<Option<std::sync::Arc<Vec<Column>>>, SqlError>;

    /// Whether schema `name` exists (public, pg_catalog and information_schema always do).
    fn schema_exists(&self, name: &str) -> Result<bool, SqlError>;
}

/// The SQLite name of relation `name` in schema `schema` (None: not qualified).
pub fn sqlite_name(schema: Option<&str>, name: &str) -> String {
    match schema {
        None | Some("public") | Some("pg_catalog") => name.to_owned(),
        Some("information_schema") => format!("information_schema_{name}"),
        Some(other) => format!("{other}.{name}"),
    }
}

/// A [`Schema`] over a SQLite connection, with a cache of column lists valid while the schema versions of the
/// main and temp databases stay the same.
pub struct SqliteSchema<'c> {
    conn: &'c Connection,
    cache: &'c SchemaCache,
}

/// The cache a connection's owner keeps between statements.
#[derive(Default)]
pub struct SchemaCache {
    state: RefCell<CacheState>,
}

#[derive(Default)]
struct CacheState {
    versions: (i64, i64),
    relations: HashMap<String, Option<std::sync::Arc<Vec<Column>>>>,
}

impl<'c> SqliteSchema<'c> {
    /// The schema of `conn`, checking first that `cache` is still valid for it.
    pub fn new(conn: &'c Connection, cache: &'c SchemaCache) -> Result<SqliteSchema<'c>, SqlError> {
        let versions = conn
            .query_row("SELECT (SELECT schema_version FROM pragma_schema_version), (SELECT schema_version FROM temp.pragma_schema_version)", [], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(crate::sql::sqlite::from_rusqlite)?;
        let mut state = cache.state.borrow_mut();
        if state.versions != versions {
            state.versions = versions;
            state.relations.clear();
        }
        drop(state);
        Ok(SqliteSchema { conn, cache })
    }
}

impl Schema for SqliteSchema<'_> {
    fn columns(&self, sqlite_name: &str) -> Result<Option<std::sync::Arc<Vec<Column>>>, SqlError> {
        if let Some(hit) = self.cache.state.borrow().relations.get(sqlite_name) {
            return Ok(hit.clone());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, type, \"notnull\", pk, hidden FROM pragma_table_xinfo(?1)")
            .map_err(crate::sql::sqlite::from_rusqlite)?;
        let rows = stmt
            .query_map([sqlite_name], |row| {
                let decltype: String = row.get::<_, Option<String>>(1)?.unwrap_or_default();
                Ok((
                    Column {
                        name: row.get(0)?,
                        ty: PgType::from_decltype(&decltype),
                        not_null: row.get::<_, i64>(2)? != 0,
                        pk: row.get::<_, i64>(3)? as u32,
                        decltype,
                    },
                    row.get::<_, i64>(4)?,
                ))
            })
            .map_err(crate::sql::sqlite::from_rusqlite)?;
        let mut columns = Vec::new();
        for row in rows {
            let (column, hidden) = row.map_err(crate::sql::sqlite::from_rusqlite)?;
            // Hidden columns of virtual tables (table-valued function arguments) are not relation columns.
            if hidden == 0 || hidden >= 2 {
                columns.push(column);
            }
        }
        let found = if columns.is_empty() { None } else { Some(std::sync::Arc::new(columns)) };
        self.cache.state.borrow_mut().relations.insert(sqlite_name.to_owned(), found.clone());
        Ok(found)
    }

    fn schema_exists(&self, name: &str) -> Result<bool, SqlError> {
        if matches!(name, "public" | "pg_catalog" | "information_schema") {
            return Ok(true);
        }
        let exists = self
            .conn
            .query_row("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_pg_schemas'", [], |_| Ok(()))
            .is_ok();
        if !exists {
            return Ok(false);
        }
        Ok(self.conn.query_row("SELECT 1 FROM _pg_schemas WHERE nspname = ?1", [name], |_| Ok(())).is_ok())
    }
}
