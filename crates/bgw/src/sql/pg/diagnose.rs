//! PostgreSQL's constraint errors from SQLite's: SQLite says `UNIQUE constraint failed: t.a`, `NOT NULL
//! constraint failed: t.a` or `FOREIGN KEY constraint failed`; PostgreSQL names the constraint and, in the
//! DETAIL, the key (`Key (a)=(1) already exists.`). What the translator knew of the failed statement
//! ([`Diagnostics`]: its target and the value expressions of the rows it wrote) lets the engine find which row and
//! which constraint it was, by asking the database after the statement failed (its changes are gone by then).
//!
//! Constraint names follow PostgreSQL's defaults: `t_pkey`, `t_a_key`, `t_a_fkey`; a unique index keeps its
//! own name.
//!
//! Runs in: any process that runs SQL through the translator.

use rusqlite::Connection;

use super::names::quote;
use crate::sql::error::SqlError;
use crate::sql::types::PgType;
use crate::sql::value::Value;

/// What the translator knew of a statement that writes a table, for explaining a constraint error.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The table as PostgreSQL names it (without its schema) and as SQLite does.
    pub table: String,
    pub sqlite_table: String,
    pub writes: Writes,
}

/// How the statement wrote.
#[derive(Debug, Clone)]
pub enum Writes {
    /// INSERT ... VALUES: the target columns and each row's value expressions (SQLite text, `$n` parameters).
    Rows { columns: Vec<String>, rows: Vec<Vec<String>> },
    /// UPDATE: the assignments (column, SQLite expression) and the WHERE clause, over the table aliased `alias`.
    Update { alias: String, sets: Vec<(String, String)>, filter: Option<String> },
    /// DELETE: the WHERE clause over the table aliased `alias`.
    Delete { alias: String, filter: Option<String> },
    /// Anything else (INSERT ... SELECT): the message only.
    Other,
}

/// PostgreSQL's error for SQLite's constraint error `err` of the statement described by `d` with parameters
/// `params`; None to keep SQLite's (nothing better could be said).
pub fn explain(conn: &Connection, d: &Diagnostics, err: &SqlError, params: &[Value]) -> Option<SqlError> {
    match err.code {
        "23505" => unique(conn, d, err, params),
        "23502" => not_null(conn, d, err, params),
        "23503" => foreign_key(conn, d, params),
        "23514" => check(conn, d, err, params),
        _ => None,
    }
}

/// A CHECK constraint (named at CREATE TABLE as PostgreSQL names it: SQLite's message names it): PostgreSQL's
/// message, and the failing row where the statement inserts one row.
fn check(conn: &Connection, d: &Diagnostics, err: &SqlError, params: &[Value]) -> Option<SqlError> {
    let (_, name) = err.message.split_once("CHECK constraint failed: ")?;
    if name.contains(' ') || name.contains('(') {
        // An expression: a constraint made before constraints were named.
        return None;
    }
    let base =
        SqlError::error("23514", format!("new row for relation \"{}\" violates check constraint \"{name}\"", d.table));
    let types = column_types(conn, &d.sqlite_table);
    let show = |(names, values): (Vec<String>, Vec<Value>)| {
        let shown: Vec<String> = names.iter().zip(&values).map(|(n, v)| shown(v, type_of(&types, n))).collect();
        format!("Failing row contains ({}).", shown.join(", "))
    };
    // The rows the statement wrote (each column's name and value).
    let candidates: Vec<(Vec<String>, Vec<Value>)> = match &d.writes {
        Writes::Rows { columns: targets, rows } => {
            if let [row] = rows.as_slice() {
                return Some(match failing_row(conn, d, targets, row, 0, params) {
                    Some(found) => base.with_detail(show(found)),
                    None => base,
                });
            }
            let mut all = Vec::new();
            for (index, row) in rows.iter().enumerate() {
                let Some(found) = failing_row(conn, d, targets, row, index, params) else { return Some(base) };
                all.push(found);
            }
            all
        }
        Writes::Update { alias, sets, filter } => {
            let names: Vec<String> = types.iter().map(|(n, _)| n.clone()).collect();
            let exprs: Vec<String> = names
                .iter()
                .map(|c| {
                    sets.iter()
                        .find(|(s, _)| s == c)
                        .map_or_else(|| format!("{}.{}", quote(alias), quote(c)), |(_, e)| e.clone())
                })
                .collect();
            let from = format!(
                " FROM {} AS {}{}",
                quote(&d.sqlite_table),
                quote(alias),
                filter.as_ref().map(|f| format!(" WHERE {f}")).unwrap_or_default()
            );
            let Some(rows) = eval(conn, &exprs, Some(&from), params) else { return Some(base) };
            rows.into_iter().map(|values| (names.clone(), values)).collect()
        }
        _ => return Some(base),
    };
    // The first row whose values fail the constraint's expression (read from the table's definition).
    let Some(expr) = check_text(conn, &d.sqlite_table, name) else { return Some(base) };
    for (names, values) in candidates {
        let cols: Vec<String> =
            names.iter().enumerate().map(|(i, n)| format!("?{} AS \"{}\"", i + 1, n.replace('"', "\"\""))).collect();
        let sql = format!(
            "SELECT NOT ({expr}) FROM (SELECT {}) AS \"{}\"",
            cols.join(", "),
            d.sqlite_table.replace('"', "\"\"")
        );
        let fails: Option<bool> = conn
            .prepare(&sql)
            .and_then(|mut st| st.query_row(rusqlite::params_from_iter(values.iter()), |r| r.get(0)))
            .ok()?;
        if fails == Some(true) {
            return Some(base.with_detail(show((names, values))));
        }
    }
    Some(base)
}

/// The expression of CHECK constraint `name` of `sqlite_table`, from its `CREATE TABLE` text.
fn check_text(conn: &Connection, sqlite_table: &str, name: &str) -> Option<String> {
    let sql: String = conn
        .query_row("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1", [sqlite_table], |r| r.get(0))
        .ok()?;
    let marker = format!("CONSTRAINT \"{}\" CHECK (", name.replace('"', "\"\""));
    let start = sql.find(&marker)? + marker.len();
    let (mut depth, mut quote) = (1usize, None::<char>);
    for (i, ch) in sql[start..].char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(sql[start..start + i].to_owned());
                }
            }
            _ => {}
        }
    }
    None
}

/// The `index`-th row an INSERT writes: every column's name and value, with its default where the statement gave
/// none.
fn failing_row(
    conn: &Connection,
    d: &Diagnostics,
    targets: &[String],
    row: &[String],
    index: usize,
    params: &[Value],
) -> Option<(Vec<String>, Vec<Value>)> {
    let info: Vec<(String, Option<String>, bool)> = conn
        .prepare("SELECT name, dflt_value, pk > 0 AND lower(type) = 'integer' FROM pragma_table_info(?1) ORDER BY cid")
        .and_then(|mut s| s.query_map([&d.sqlite_table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .ok()?;
    let next_id: i64 =
        conn.query_row("SELECT seq FROM sqlite_sequence WHERE name = ?1", [&d.sqlite_table], |r| r.get(0)).unwrap_or(0);
    let exprs: Vec<String> = info
        .iter()
        .map(|(name, default, rowid)| match targets.iter().position(|t| t == name) {
            Some(i) => row[i].clone(),
            None if *rowid => (next_id + 1 + index as i64).to_string(),
            None => default.clone().map_or_else(|| "NULL".to_owned(), |e| format!("({e})")),
        })
        .collect();
    let values = eval(conn, &exprs, None, params)?.into_iter().next()?;
    Some((info.into_iter().map(|(n, _, _)| n).collect(), values))
}

/// The columns SQLite's message names (`UNIQUE constraint failed: t.a, t.b`).
fn failed_columns(message: &str) -> Vec<String> {
    let Some((_, list)) = message.split_once("failed: ") else { return Vec::new() };
    list.split(", ").filter_map(|c| c.rsplit_once('.').map(|(_, col)| col.to_owned())).collect()
}

/// The values `exprs` evaluate to with `params`.
fn eval(conn: &Connection, exprs: &[String], from: Option<&str>, params: &[Value]) -> Option<Vec<Vec<Value>>> {
    let sql = format!("SELECT {}{}", exprs.join(", "), from.unwrap_or(""));
    let mut stmt = conn.prepare(&sql).ok()?;
    for i in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(i)?.to_owned();
        let n: usize = name.strip_prefix('$')?.parse().ok()?;
        stmt.raw_bind_parameter(i, params.get(n - 1).unwrap_or(&Value::Null)).ok()?;
    }
    let width = exprs.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Ok(Some(row)) = rows.next() {
        out.push((0..width).map(|i| row.get_ref(i).map(Value::from).unwrap_or(Value::Null)).collect());
    }
    Some(out)
}

/// The column types of the table.
fn column_types(conn: &Connection, sqlite_table: &str) -> Vec<(String, Option<PgType>)> {
    let schema = super::schema::SqliteSchema::new(conn);
    super::schema::Schema::columns(&schema, sqlite_table)
        .ok()
        .flatten()
        .map(|cols| cols.iter().map(|c| (c.name.clone(), c.ty)).collect())
        .unwrap_or_default()
}

fn shown(value: &Value, ty: Option<PgType>) -> String {
    match value {
        Value::Null => "null".into(),
        v => crate::sql::datum::output(ty.unwrap_or(PgType::Text), v).unwrap_or_else(|| "null".into()),
    }
}

fn type_of(types: &[(String, Option<PgType>)], column: &str) -> Option<PgType> {
    types.iter().find(|(n, _)| n == column).and_then(|(_, t)| *t)
}

/// Whether a row with `values` in `columns` exists in the table.
fn exists(conn: &Connection, sqlite_table: &str, columns: &[String], values: &[Value]) -> bool {
    let filter: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("{} IS ?{}", quote(c), i + 1)).collect();
    let sql = format!("SELECT 1 FROM {} WHERE {}", quote(sqlite_table), filter.join(" AND "));
    conn.query_row(&sql, rusqlite::params_from_iter(values.iter()), |_| Ok(())).is_ok()
}

/// The unique constraint over exactly `columns`: its PostgreSQL name.
fn unique_name(conn: &Connection, d: &Diagnostics, columns: &[String]) -> String {
    let pk: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")
        .and_then(|mut s| s.query_map([&d.sqlite_table], |r| r.get(0))?.collect())
        .unwrap_or_default();
    if pk == columns {
        return format!("{}_pkey", d.table);
    }
    // A unique index made by CREATE UNIQUE INDEX keeps its name.
    let indexes: Vec<(String, String)> = conn
        .prepare("SELECT name, origin FROM pragma_index_list(?1) WHERE \"unique\"")
        .and_then(|mut s| s.query_map([&d.sqlite_table], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .unwrap_or_default();
    for (index, origin) in indexes {
        let cols: Vec<String> = conn
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
            .and_then(|mut s| s.query_map([&index], |r| r.get(0))?.collect())
            .unwrap_or_default();
        if cols == columns && origin == "c" {
            return index.rsplit_once('.').map_or(index.clone(), |(_, n)| n.to_owned());
        }
    }
    format!("{}_{}_key", d.table, columns.join("_"))
}

fn key_detail(columns: &[String], values: &[Value], types: &[(String, Option<PgType>)]) -> String {
    let shown: Vec<String> = columns.iter().zip(values).map(|(c, v)| shown(v, type_of(types, c))).collect();
    format!("Key ({})=({})", columns.join(", "), shown.join(", "))
}

fn unique(conn: &Connection, d: &Diagnostics, err: &SqlError, params: &[Value]) -> Option<SqlError> {
    let columns = failed_columns(&err.message);
    if columns.is_empty() {
        return None;
    }
    let name = unique_name(conn, d, &columns);
    let types = column_types(conn, &d.sqlite_table);
    let base = SqlError::error("23505", format!("duplicate key value violates unique constraint \"{name}\""));
    // The new keys, in the order the statement wrote them.
    let keys: Vec<Vec<Value>> = match &d.writes {
        Writes::Rows { columns: targets, rows } => {
            let mut keys = Vec::new();
            for row in rows {
                let exprs: Option<Vec<String>> =
                    columns.iter().map(|c| targets.iter().position(|t| t == c).map(|i| row[i].clone())).collect();
                let values = eval(conn, &exprs?, None, params)?;
                keys.push(values.into_iter().next()?);
            }
            keys
        }
        Writes::Update { alias, sets, filter } => {
            let exprs: Vec<String> = columns
                .iter()
                .map(|c| {
                    sets.iter()
                        .find(|(s, _)| s == c)
                        .map_or_else(|| format!("{}.{}", quote(alias), quote(c)), |(_, e)| e.clone())
                })
                .collect();
            let from = format!(
                " FROM {} AS {}{}",
                quote(&d.sqlite_table),
                quote(alias),
                filter.as_ref().map(|f| format!(" WHERE {f}")).unwrap_or_default()
            );
            eval(conn, &exprs, Some(&from), params)?
        }
        _ => return Some(base),
    };
    let mut seen: Vec<&Vec<Value>> = Vec::new();
    for key in &keys {
        if key.contains(&Value::Null) {
            continue;
        }
        if seen.contains(&key) || exists(conn, &d.sqlite_table, &columns, key) {
            return Some(base.with_detail(format!("{} already exists.", key_detail(&columns, key, &types))));
        }
        seen.push(key);
    }
    Some(base)
}

fn not_null(conn: &Connection, d: &Diagnostics, err: &SqlError, params: &[Value]) -> Option<SqlError> {
    let column = failed_columns(&err.message).into_iter().next()?;
    let base = SqlError::error(
        "23502",
        format!("null value in column \"{column}\" of relation \"{}\" violates not-null constraint", d.table),
    );
    let Writes::Rows { columns: targets, rows } = &d.writes else { return Some(base) };
    // The failing row as PostgreSQL shows it: every column, with its default where the statement gave none.
    let info: Vec<(String, Option<String>, bool)> = conn
        .prepare("SELECT name, dflt_value, pk > 0 AND lower(type) = 'integer' FROM pragma_table_info(?1) ORDER BY cid")
        .and_then(|mut s| s.query_map([&d.sqlite_table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .ok()?;
    let types = column_types(conn, &d.sqlite_table);
    let next_id: i64 =
        conn.query_row("SELECT seq FROM sqlite_sequence WHERE name = ?1", [&d.sqlite_table], |r| r.get(0)).unwrap_or(0);
    for (index, row) in rows.iter().enumerate() {
        let exprs: Vec<String> = info
            .iter()
            .map(|(name, default, rowid)| match targets.iter().position(|t| t == name) {
                Some(i) => row[i].clone(),
                None if *rowid => (next_id + 1 + index as i64).to_string(),
                None => default.clone().map_or_else(|| "NULL".to_owned(), |e| format!("({e})")),
            })
            .collect();
        let values = eval(conn, &exprs, None, params)?.into_iter().next()?;
        let at = info.iter().position(|(n, _, _)| *n == column)?;
        if values[at] == Value::Null {
            let shown: Vec<String> =
                info.iter().zip(&values).map(|((n, _, _), v)| shown(v, type_of(&types, n))).collect();
            return Some(base.with_detail(format!("Failing row contains ({}).", shown.join(", "))));
        }
    }
    Some(base)
}

/// A foreign key: (child table, child columns, parent table, parent columns).
type ForeignKey = (String, Vec<String>, String, Vec<String>);

fn foreign_keys(conn: &Connection, child: &str) -> Vec<ForeignKey> {
    let rows: Vec<(i64, String, String, Option<String>)> = conn
        .prepare("SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq")
        .and_then(|mut s| s.query_map([child], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect())
        .unwrap_or_default();
    let mut keys: Vec<(i64, ForeignKey)> = Vec::new();
    for (id, parent, from, to) in rows {
        let to = to.unwrap_or_default();
        match keys.iter_mut().find(|(i, _)| *i == id) {
            Some((_, fk)) => {
                fk.1.push(from);
                fk.3.push(to);
            }
            None => keys.push((id, (child.to_owned(), vec![from], parent, vec![to]))),
        }
    }
    keys.into_iter().map(|(_, fk)| fk).collect()
}

fn pg_name(sqlite: &str) -> &str {
    sqlite.rsplit_once('.').map_or(sqlite, |(_, n)| n)
}

fn foreign_key(conn: &Connection, d: &Diagnostics, params: &[Value]) -> Option<SqlError> {
    match &d.writes {
        Writes::Rows { columns: targets, rows } => {
            let types = column_types(conn, &d.sqlite_table);
            for (_, from, parent, to) in foreign_keys(conn, &d.sqlite_table) {
                for row in rows {
                    let exprs: Option<Vec<String>> =
                        from.iter().map(|c| targets.iter().position(|t| t == c).map(|i| row[i].clone())).collect();
                    let Some(exprs) = exprs else { continue };
                    let values = eval(conn, &exprs, None, params)?.into_iter().next()?;
                    if values.contains(&Value::Null) {
                        continue;
                    }
                    let to = if to.iter().all(String::is_empty) { primary_key(conn, &parent) } else { to.clone() };
                    if !exists(conn, &parent, &to, &values) {
                        return Some(
                            SqlError::error(
                                "23503",
                                format!(
                                    "insert or update on table \"{}\" violates foreign key constraint \"{}_{}_fkey\"",
                                    d.table,
                                    d.table,
                                    from.join("_")
                                ),
                            )
                            .with_detail(format!(
                                "{} is not present in table \"{}\".",
                                key_detail(&from, &values, &types),
                                pg_name(&parent)
                            )),
                        );
                    }
                }
            }
            None
        }
        Writes::Delete { alias, filter } => {
            // Which table still references a row the statement deleted.
            let children: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .unwrap_or_default();
            let types = column_types(conn, &d.sqlite_table);
            for child in children {
                for (_, from, parent, to) in foreign_keys(conn, &child) {
                    if parent != d.sqlite_table {
                        continue;
                    }
                    let to = if to.iter().all(String::is_empty) { primary_key(conn, &parent) } else { to };
                    let exprs: Vec<String> = to.iter().map(|c| format!("{}.{}", quote(alias), quote(c))).collect();
                    let from_clause = format!(
                        " FROM {} AS {}{}",
                        quote(&d.sqlite_table),
                        quote(alias),
                        filter.as_ref().map(|f| format!(" WHERE {f}")).unwrap_or_default()
                    );
                    for key in eval(conn, &exprs, Some(&from_clause), params)? {
                        if exists(conn, &child, &from, &key) {
                            let child_name = pg_name(&child);
                            return Some(
                                SqlError::error(
                                    "23503",
                                    format!(
                                        "update or delete on table \"{}\" violates foreign key constraint \"{child_name}_{}_fkey\" on table \"{child_name}\"",
                                        d.table,
                                        from.join("_")
                                    ),
                                )
                                .with_detail(format!(
                                    "{} is still referenced from table \"{child_name}\".",
                                    key_detail(&to, &key, &types)
                                )),
                            );
                        }
                    }
                }
            }
            None
        }
        _ => None,
    }
}

fn primary_key(conn: &Connection, table: &str) -> Vec<String> {
    conn.prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")
        .and_then(|mut s| s.query_map([table], |r| r.get(0))?.collect())
        .unwrap_or_default()
}
