//! The catalog functions psql, pgjdbc and pg_dump call, as SQLite scalar functions (all read-only, so
//! innocuous: views and triggers may use them): `format_type`, `pg_get_userbyid`, `pg_table_is_visible`,
//! `pg_type_is_visible`, `pg_function_is_visible`, `pg_get_expr`, `pg_get_indexdef`, `pg_get_constraintdef`,
//! `pg_get_viewdef`, `obj_description`, `col_description`, `shobj_description` (the host keeps no comments:
//! NULL), `pg_encoding_to_char`, `has_table_privilege`, `has_schema_privilege`, `has_database_privilege` (the host
//! has no per-object privileges: true for what exists), `current_schemas`, `current_schema`,
//! `pg_get_function_result`, `pg_get_function_arguments`, `pg_get_function_identity_arguments`,
//! `pg_relation_size`, `pg_table_size`, `pg_indexes_size`, `pg_total_relation_size` (from SQLite's `dbstat`),
//! `pg_relation_is_publishable` (false: no publications), `quote_ident`.
//!
//! A relation argument (`regclass`) is its OID or its name (`t`, `s.t`); errors are PostgreSQL's (42P01 for an
//! unknown relation, 22023 for an unknown privilege, ...).
//!
//! Runs in: a backend process.

use std::sync::Arc;

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::host::{all_functions, function_oid, role_name, role_names};
use super::model::{self, Model};
use super::{format, relation_oid, vtab, CatalogSource, FunctionInfo};
use crate::sql::error::SqlError;
use crate::sql::types::PgType;
use crate::sql::value::Value;

/// One call: its arguments, the session's source, the connection.
struct Call<'a> {
    ctx: &'a Context<'a>,
    source: &'a dyn CatalogSource,
    conn: &'a Connection,
}

type Body = fn(&Call) -> Result<Value, SqlError>;

impl Call<'_> {
    fn raw(&self, i: usize) -> ValueRef<'_> {
        if i < self.ctx.len() {
            self.ctx.get_raw(i)
        } else {
            ValueRef::Null
        }
    }

    fn text(&self, i: usize) -> Option<String> {
        match self.raw(i) {
            ValueRef::Null => None,
            ValueRef::Integer(v) => Some(v.to_string()),
            ValueRef::Real(v) => Some(v.to_string()),
            ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
        }
    }

    fn int(&self, i: usize) -> Result<Option<i64>, SqlError> {
        match self.raw(i) {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            ValueRef::Real(v) => Ok(Some(v as i64)),
            ValueRef::Text(b) | ValueRef::Blob(b) => {
                let t = String::from_utf8_lossy(b);
                t.trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| SqlError::error("22P02", format!("invalid input syntax for type integer: \"{t}\"")))
            }
        }
    }

    fn oid(&self, i: usize) -> Result<Option<u32>, SqlError> {
        Ok(self.int(i)?.and_then(|v| u32::try_from(v).ok()))
    }

    fn model(&self) -> Result<std::rc::Rc<Model>, SqlError> {
        model::read(self.conn).map_err(crate::sql::sqlite::from_rusqlite)
    }

    /// A `regclass` argument: an OID, or a relation's name (`t`, `s.t`, `"T"`); 42P01 for an unknown name.
    fn relation(&self, i: usize) -> Result<Option<u32>, SqlError> {
        match self.raw(i) {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(u32::try_from(v).ok()),
            _ => {
                let name = self.text(i).unwrap_or_default();
                if let Ok(oid) = name.trim().parse::<u32>() {
                    return Ok(Some(oid));
                }
                let model = self.model()?;
                resolve_relation(&model, self.source, &name)
                    .map(Some)
                    .ok_or_else(|| SqlError::error("42P01", format!("relation \"{name}\" does not exist")))
            }
        }
    }
}

/// An identifier as PostgreSQL reads it: folded to lower case unless quoted.
fn identifier(part: &str) -> String {
    let part = part.trim();
    match part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => part.to_ascii_lowercase(),
    }
}

/// The OID of relation `name` (`t` along the search path, or `s.t`).
fn resolve_relation(model: &Model, source: &dyn CatalogSource, name: &str) -> Option<u32> {
    let (schema, relation) = match name.split_once('.') {
        Some((s, r)) if !name.starts_with('"') || s.ends_with('"') => (Some(identifier(s)), identifier(r)),
        _ => (None, identifier(name)),
    };
    let path = match schema {
        Some(s) => vec![s],
        None => search_path(source, model, true),
    };
    path.iter().find_map(|schema| {
        model.tables.iter().find_map(|t| {
            if &t.schema == schema && t.name == relation {
                return Some(t.oid);
            }
            t.indexes.iter().find(|i| &t.schema == schema && i.name == relation).map(|i| i.oid)
        })
    })
}

/// The schemas every database has.
const BUILT_IN_SCHEMAS: &[&str] = &["pg_catalog", "pg_toast", "public", "information_schema"];

/// The schemas of the search path that exist, in order; with `implicit`, `pg_catalog` first unless listed.
fn search_path(source: &dyn CatalogSource, model: &Model, implicit: bool) -> Vec<String> {
    let setting = source.setting("search_path").unwrap_or_else(|| "\"$user\", public".into());
    let mut path: Vec<String> = setting
        .split(',')
        .map(|s| {
            let s = s.trim();
            if s == "\"$user\"" || s == "$user" {
                // Only a schema of the user's name would be found (and asking who the user is reads the catalog).
                if model.namespaces.iter().all(|n| BUILT_IN_SCHEMAS.contains(&n.name.as_str())) {
                    String::new()
                } else {
                    source.current_user()
                }
            } else {
                identifier(s)
            }
        })
        .filter(|s| model.namespaces.iter().any(|n| &n.name == s))
        .collect();
    path.dedup();
    if implicit && !path.iter().any(|s| s == "pg_catalog") {
        path.insert(0, "pg_catalog".into());
    }
    path
}

fn null_or<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    v.map_or(Value::Null, f)
}

fn boolean(v: bool) -> Value {
    Value::Integer(v.into())
}

// --- the functions ---

fn format_type(c: &Call) -> Result<Value, SqlError> {
    let Some(type_oid) = c.oid(0)? else { return Ok(Value::Null) };
    let typmod = c.int(1)?.and_then(|m| i32::try_from(m).ok());
    Ok(Value::Text(format::format_type(type_oid, typmod)))
}

fn pg_get_userbyid(c: &Call) -> Result<Value, SqlError> {
    Ok(null_or(c.oid(0)?, |o| Value::Text(role_name(c.source, o))))
}

fn pg_table_is_visible(c: &Call) -> Result<Value, SqlError> {
    let Some(oid) = c.oid(0)? else { return Ok(Value::Null) };
    let model = c.model()?;
    let Some((t, index)) = model.relation(oid) else { return Ok(Value::Null) };
    let name = index.map_or(&t.name, |i| &t.indexes[i].name);
    let path = search_path(c.source, &model, true);
    let first = path.iter().find(|schema| {
        model
            .tables
            .iter()
            .any(|o| &o.schema == *schema && (&o.name == name || o.indexes.iter().any(|i| &i.name == name)))
    });
    Ok(boolean(first == Some(&t.schema)))
}

fn pg_type_is_visible(c: &Call) -> Result<Value, SqlError> {
    Ok(null_or(c.oid(0)?, |o| boolean(PgType::from_oid(o).is_some())))
}

fn function(c: &Call, i: usize) -> Result<Option<FunctionInfo>, SqlError> {
    let Some(oid) = c.oid(i)? else { return Ok(None) };
    Ok(all_functions(c.source).into_iter().find(|f| function_oid(f) == oid))
}

fn pg_function_is_visible(c: &Call) -> Result<Value, SqlError> {
    if c.oid(0)?.is_none() {
        return Ok(Value::Null);
    }
    let Some(f) = function(c, 0)? else { return Ok(Value::Null) };
    let model = c.model()?;
    Ok(boolean(search_path(c.source, &model, true).contains(&f.schema)))
}

fn pg_get_expr(c: &Call) -> Result<Value, SqlError> {
    // A serial key's default names its sequence, qualified when `public` is not on the search path.
    let visible = public_visible(c.source);
    Ok(null_or(c.text(0), |text| Value::Text(if visible { text } else { qualify_nextval(&text) })))
}

/// `nextval('t_id_seq'::regclass)` as `nextval('public.t_id_seq'::regclass)` (a sequence of another schema is
/// qualified already).
pub(super) fn qualify_nextval(text: &str) -> String {
    match text.strip_prefix("nextval('") {
        Some(rest) if !rest.starts_with('"') && !rest.split('\'').next().unwrap_or("").contains('.') => {
            format!("nextval('public.{rest}")
        }
        _ => text.to_owned(),
    }
}

/// Whether schema `public` is on the session's search path (PostgreSQL qualifies the names of its relations in
/// the texts it prints when it is not, as under `pg_dump`'s empty search path).
pub(super) fn public_visible(source: &dyn CatalogSource) -> bool {
    let path = source.setting("search_path").unwrap_or_else(|| "public".into());
    path.split(',').any(|p| p.trim().trim_matches('"') == "public")
}

fn pg_get_indexdef(c: &Call) -> Result<Value, SqlError> {
    let Some(oid) = c.oid(0)? else { return Ok(Value::Null) };
    let column = c.int(1)?.unwrap_or(0);
    let pretty = c.int(2).ok().flatten().is_some_and(|p| p != 0) || c.text(2).is_some_and(|p| p.starts_with('t'));
    let model = c.model()?;
    Ok(match model.relation(oid) {
        Some((t, Some(index))) => Value::Text(format::index_def(t, index, column, pretty)),
        _ => Value::Null,
    })
}

fn pg_get_constraintdef(c: &Call) -> Result<Value, SqlError> {
    let Some(oid) = c.oid(0)? else { return Ok(Value::Null) };
    let model = c.model()?;
    Ok(null_or(format::constraint_def(&model, oid, public_visible(c.source)), Value::Text))
}

fn pg_get_viewdef(c: &Call) -> Result<Value, SqlError> {
    let Some(oid) = c.relation(0)? else { return Ok(Value::Null) };
    let model = c.model()?;
    Ok(match model.relation(oid) {
        Some((t, None)) if t.kind == b'v' => null_or(format::view_body(&t.sql, public_visible(c.source)), Value::Text),
        _ => Value::Null,
    })
}

fn no_description(_: &Call) -> Result<Value, SqlError> {
    Ok(Value::Null)
}

/// `pg_describe_object(classid, objid, objsubid)`, for functions and relations (what `\dx+` lists): `function
/// f(integer,text)`, `table t`, `view s.v`; NULL for other objects.
fn pg_describe_object(call: &Call) -> Result<Value, SqlError> {
    let (Some(class), Some(object)) = (call.oid(0)?, call.oid(1)?) else { return Ok(Value::Null) };
    let qualified = |schema: &str, name: &str| {
        if schema == "public" || schema == "pg_catalog" {
            name.to_string()
        } else {
            format!("{schema}.{name}")
        }
    };
    Ok(match class {
        1255 => all_functions(call.source).into_iter().find(|f| function_oid(f) == object).map_or(Value::Null, |f| {
            let args: Vec<&str> = f.args.iter().map(|a| a.sql_name()).collect();
            Value::Text(format!("function {}({})", qualified(&f.schema, &f.name), args.join(",")))
        }),
        1259 => {
            let model = call.model()?;
            if let Some(t) = model.tables.iter().find(|t| t.oid == object) {
                let kind = if t.kind == b'v' { "view" } else { "table" };
                Value::Text(format!("{kind} {}", qualified(&t.schema, &t.name)))
            } else if let Some((t, c)) =
                model::serial_sequences(&model).into_iter().find(|(t, _)| model::sequence_oid(&t.sqlite_name) == object)
            {
                Value::Text(format!("sequence {}", qualified(&t.schema, &model::sequence_name(t, c))))
            } else {
                Value::Null
            }
        }
        _ => Value::Null,
    })
}

/// A shared object's comment: a database's says where a database on a PostgreSQL server lives (its engine and
/// connection string); nothing else has one.
fn shobj_description(c: &Call) -> Result<Value, SqlError> {
    let Some(oid) = c.oid(0)? else { return Ok(Value::Null) };
    if c.text(1).as_deref() != Some("pg_database") {
        return Ok(Value::Null);
    }
    let databases = c.source.databases();
    Ok(null_or(databases.into_iter().find(|d| d.oid == oid).and_then(|d| d.description), Value::Text))
}

/// `pg_has_role(role, privilege)`: whether the current user has the role's privileges (MEMBER, USAGE): a
/// superuser has every role's; anyone has their own. The host has no role membership besides.
fn pg_has_role(c: &Call) -> Result<Value, SqlError> {
    let (Some(role), Some(privilege)) = (c.text(0), c.text(1)) else { return Ok(Value::Null) };
    for p in privilege.split(',') {
        let p = p.trim().to_ascii_uppercase();
        let p = p.strip_suffix(" WITH ADMIN OPTION").or(p.strip_suffix(" WITH GRANT OPTION")).unwrap_or(&p);
        if !["MEMBER", "USAGE", "SET"].contains(&p) {
            return Err(SqlError::error("22023", format!("unrecognized privilege type: \"{}\"", p.to_lowercase())));
        }
    }
    let roles = c.source.roles();
    if !roles.iter().any(|r| r.name == role) && !role.starts_with("pg_") {
        return Err(SqlError::error("42704", format!("role \"{role}\" does not exist")));
    }
    Ok(Value::Integer(i64::from(c.source.is_superuser() || role == c.source.current_user())))
}

/// `pg_database_size(name)`: the database's files (NULL for a database on a PostgreSQL server: ask the server).
fn pg_database_size(c: &Call) -> Result<Value, SqlError> {
    let Some(name) = c.text(0) else { return Ok(Value::Null) };
    let databases = c.source.databases();
    let Some(db) = databases.into_iter().find(|d| d.name == name) else {
        return Err(SqlError::error("3D000", format!("database \"{name}\" does not exist")));
    };
    Ok(null_or(db.size, Value::Integer))
}

/// `pg_size_pretty(bigint)`, PostgreSQL 15's units and rounding: bytes below 10 kB, then kB, MB, GB, TB, PB,
/// each rounded half away from zero.
fn pg_size_pretty(c: &Call) -> Result<Value, SqlError> {
    let Some(size) = c.int(0)? else { return Ok(Value::Null) };
    Ok(Value::Text(size_pretty(size)))
}

fn size_pretty(size: i64) -> String {
    const LIMIT: i64 = 10 * 1024;
    if size.abs() < LIMIT {
        return format!("{size} bytes");
    }
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    // One extra bit kept for the rounding; divisions truncate toward zero, as PostgreSQL's.
    let mut value = size / 512;
    for unit in ["kB", "MB", "GB", "TB"] {
        if value.abs() < LIMIT * 2 - 1 {
            return format!("{} {unit}", half_rounded(value));
        }
        value /= 1024;
    }
    format!("{} PB", half_rounded(value))
}

#[cfg(test)]
#[test]
fn sizes_are_pretty_as_postgresql_prints_them() {
    // From PostgreSQL 15: SELECT pg_size_pretty(x) for these x.
    for (x, want) in [
        (0, "0 bytes"),
        (10239, "10239 bytes"),
        (10240, "10 kB"),
        (-10240, "-10 kB"),
        (1_000_000, "977 kB"),
        (-1_000_000, "-977 kB"),
        (-10_485_248, "-10 MB"),
        (10_485_248, "10 MB"),
        (10_485_760, "10 MB"),
        (1_000_000_000, "954 MB"),
        (1_000_000_000_000, "931 GB"),
        (1_000_000_000_000_000, "909 TB"),
        (i64::MAX, "8192 PB"),
    ] {
        assert_eq!(size_pretty(x), want, "{x}");
    }
}

fn pg_encoding_to_char(c: &Call) -> Result<Value, SqlError> {
    Ok(null_or(c.int(0)?, |e| {
        Value::Text(
            match e {
                0 => "SQL_ASCII",
                6 => "UTF8",
                _ => "",
            }
            .into(),
        )
    }))
}

/// Checks a privilege list (`SELECT, UPDATE WITH GRANT OPTION`) against the privileges `allowed`.
fn check_privileges(list: &str, allowed: &[&str]) -> Result<(), SqlError> {
    for item in list.split(',') {
        let item = item.trim().to_ascii_uppercase();
        let item = item.strip_suffix(" WITH GRANT OPTION").unwrap_or(&item).trim();
        if !allowed.contains(&item) {
            return Err(SqlError::error("22023", format!("unrecognized privilege type: \"{}\"", item.to_lowercase())));
        }
    }
    Ok(())
}

/// The (role, object, privileges) of a `has_*_privilege` call with two or three arguments; Err for an unknown
/// role.
fn privilege_args(c: &Call) -> Result<Option<(usize, String)>, SqlError> {
    let (object, privileges) = if c.ctx.len() == 3 { (1, 2) } else { (0, 1) };
    if c.ctx.len() == 3 {
        match c.raw(0) {
            ValueRef::Null => return Ok(None),
            ValueRef::Integer(role) => {
                if !super::host::roles(c.source).iter().any(|r| i64::from(r.oid) == role) {
                    return Err(SqlError::error("42704", format!("role with OID {role} does not exist")));
                }
            }
            _ => {
                let role = c.text(0).unwrap_or_default();
                let known =
                    role.eq_ignore_ascii_case("public") || super::host::roles(c.source).iter().any(|r| r.name == role);
                if !known {
                    return Err(SqlError::error("42704", format!("role \"{role}\" does not exist")));
                }
            }
        }
    }
    if matches!(c.raw(object), ValueRef::Null) {
        return Ok(None);
    }
    Ok(c.text(privileges).map(|p| (object, p)))
}

fn has_table_privilege(c: &Call) -> Result<Value, SqlError> {
    let Some((object, privileges)) = privilege_args(c)? else { return Ok(Value::Null) };
    check_privileges(
        &privileges,
        &["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "RULE"],
    )?;
    let Some(oid) = c.relation(object)? else { return Ok(Value::Null) };
    let model = c.model()?;
    Ok(if model.relation(oid).is_some() { boolean(true) } else { Value::Null })
}

fn has_schema_privilege(c: &Call) -> Result<Value, SqlError> {
    let Some((object, privileges)) = privilege_args(c)? else { return Ok(Value::Null) };
    check_privileges(&privileges, &["USAGE", "CREATE"])?;
    let model = c.model()?;
    let exists = match c.raw(object) {
        ValueRef::Integer(oid) => model.namespaces.iter().any(|n| i64::from(n.oid) == oid),
        _ => {
            let name = c.text(object).unwrap_or_default();
            if !model.namespaces.iter().any(|n| n.name == name) {
                return Err(SqlError::error("3F000", format!("schema \"{name}\" does not exist")));
            }
            true
        }
    };
    Ok(if exists { boolean(true) } else { Value::Null })
}

fn has_database_privilege(c: &Call) -> Result<Value, SqlError> {
    let Some((object, privileges)) = privilege_args(c)? else { return Ok(Value::Null) };
    check_privileges(&privileges, &["CREATE", "CONNECT", "TEMPORARY", "TEMP"])?;
    let databases = c.source.databases();
    let exists = match c.raw(object) {
        ValueRef::Integer(oid) => databases.iter().any(|d| i64::from(d.oid) == oid),
        _ => {
            let name = c.text(object).unwrap_or_default();
            if !databases.iter().any(|d| d.name == name) {
                return Err(SqlError::error("3D000", format!("database \"{name}\" does not exist")));
            }
            true
        }
    };
    Ok(if exists { boolean(true) } else { Value::Null })
}

fn current_schemas(c: &Call) -> Result<Value, SqlError> {
    let implicit = match c.raw(0) {
        ValueRef::Null => return Ok(Value::Null),
        ValueRef::Integer(v) => v != 0,
        _ => matches!(c.text(0).as_deref().map(str::to_ascii_lowercase).as_deref(), Some("t" | "true" | "on" | "1")),
    };
    let model = c.model()?;
    Ok(super::host::text_array(search_path(c.source, &model, implicit)))
}

fn current_schema(c: &Call) -> Result<Value, SqlError> {
    let model = c.model()?;
    Ok(null_or(search_path(c.source, &model, false).into_iter().next(), Value::Text))
}

fn pg_get_function_result(c: &Call) -> Result<Value, SqlError> {
    Ok(null_or(function(c, 0)?, |f| Value::Text(f.result.sql_name().into())))
}

fn pg_get_function_arguments(c: &Call) -> Result<Value, SqlError> {
    Ok(null_or(function(c, 0)?, |f| {
        let args: Vec<&str> = f.args.iter().map(|a| a.sql_name()).collect();
        Value::Text(args.join(", "))
    }))
}

/// The bytes of the SQLite b-trees named `names` (from `dbstat`; 0A000 when SQLite was built without it).
fn size_of(conn: &Connection, names: &[String]) -> Result<i64, SqlError> {
    let mut total = 0;
    for name in names {
        let size: i64 = conn
            .query_row("SELECT coalesce(sum(pgsize), 0) FROM dbstat('main') WHERE name = ?1", [name], |r| r.get(0))
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(_, Some(m)) if m.contains("no such table") => {
                    SqlError::error("0A000", "relation sizes are not supported by this build of SQLite")
                }
                other => crate::sql::sqlite::from_rusqlite(other),
            })?;
        total += size;
    }
    Ok(total)
}

/// The SQLite b-trees of a relation: (the table's, its indexes').
type Btrees = (Vec<String>, Vec<String>);

/// The b-trees of relation `oid` (a rowid key has none of its own).
fn btrees(c: &Call, oid: u32) -> Result<Option<Btrees>, SqlError> {
    let mut stmt = c
        .conn
        .prepare("SELECT name, tbl_name, type FROM main.sqlite_schema WHERE type IN ('table', 'index')")
        .map_err(crate::sql::sqlite::from_rusqlite)?;
    let objects: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(crate::sql::sqlite::from_rusqlite)?;
    if let Some((name, table, kind)) = objects.iter().find(|(name, _, _)| relation_oid(name) == oid) {
        if kind == "index" {
            return Ok(Some((vec![name.clone()], Vec::new())));
        }
        let indexes = objects.iter().filter(|o| o.2 == "index" && &o.1 == table).map(|o| o.0.clone()).collect();
        return Ok(Some((vec![name.clone()], indexes)));
    }
    let model = c.model()?;
    Ok(model.relation(oid).map(|_| (Vec::new(), Vec::new())))
}

fn relation_size(c: &Call, pick: fn(Btrees) -> Vec<String>) -> Result<Value, SqlError> {
    let Some(oid) = c.relation(0)? else { return Ok(Value::Null) };
    match btrees(c, oid)? {
        Some(trees) => Ok(Value::Integer(size_of(c.conn, &pick(trees))?)),
        None => Ok(Value::Null),
    }
}

fn pg_relation_size(c: &Call) -> Result<Value, SqlError> {
    if let Some(fork) = c.text(1) {
        if !matches!(fork.as_str(), "main" | "fsm" | "vm" | "init") {
            return Err(SqlError::error("22023", "invalid fork name")
                .with_hint("Valid fork names are \"main\", \"fsm\", \"vm\", and \"init\"."));
        }
        if fork != "main" {
            return relation_size(c, |_| Vec::new());
        }
    }
    relation_size(c, |(table, _)| table)
}

fn pg_total_relation_size(c: &Call) -> Result<Value, SqlError> {
    relation_size(c, |(mut table, indexes)| {
        table.extend(indexes);
        table
    })
}

fn pg_indexes_size(c: &Call) -> Result<Value, SqlError> {
    relation_size(c, |(_, indexes)| indexes)
}

fn pg_relation_is_publishable(c: &Call) -> Result<Value, SqlError> {
    Ok(null_or(c.relation(0)?, |_| boolean(false)))
}

fn quote_ident(c: &Call) -> Result<Value, SqlError> {
    Ok(null_or(c.text(0), |t| Value::Text(format::quote_ident(&t))))
}

/// `quote_literal(text)`: the text as a string literal (an `E'...'` one when it holds a backslash).
fn quote_literal(c: &Call) -> Result<Value, SqlError> {
    Ok(null_or(c.text(0), |t| {
        let body = t.replace('\'', "''");
        Value::Text(if t.contains('\\') { format!("E'{}'", body.replace('\\', "\\\\")) } else { format!("'{body}'") })
    }))
}

/// `acldefault(objtype, owner)`: the privileges an object of that kind owned by `owner` has when its ACL is
/// NULL, as PostgreSQL 15 spells them (`aclitem[]` text).
fn acldefault(c: &Call) -> Result<Value, SqlError> {
    let (Some(kind), Some(owner)) = (c.text(0), c.int(1)?) else { return Ok(Value::Null) };
    let owner = u32::try_from(owner).unwrap_or(0);
    let name = role_names(c.source).into_iter().find(|(oid, _)| *oid == owner).map_or_else(
        || owner.to_string(),
        |(_, n)| {
            if n.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                n
            } else {
                format!("\"{}\"", n.replace('"', "\"\""))
            }
        },
    );
    let (public, own) = match kind.as_str() {
        "c" => return Ok(Value::Text("{}".into())),
        "r" => (None, "arwdDxt"),
        "s" => (None, "rwU"),
        "d" => (Some("Tc"), "CTc"),
        "f" => (Some("X"), "X"),
        "l" => (Some("U"), "U"),
        "L" => (None, "rw"),
        "n" => (None, "UC"),
        "t" => (None, "C"),
        "F" | "S" => (None, "U"),
        "T" => (Some("U"), "U"),
        "p" => (None, "sA"),
        other => {
            return Err(SqlError::error("XX000", format!("unrecognized objtype abbreviation: {other}")));
        }
    };
    let mut items = Vec::new();
    if let Some(p) = public {
        items.push(format!("={p}/{name}"));
    }
    items.push(format!("{name}={own}/{name}"));
    Ok(Value::Text(format!("{{{}}}", items.join(","))))
}

/// A catalog function: name, argument counts, argument types (for `pg_proc`), result type, body.
type Definition = (&'static str, &'static [i32], &'static [PgType], PgType, Body);

/// Every catalog function.
const FUNCTIONS: &[Definition] = {
    use PgType as T;
    &[
        ("format_type", &[2], &[T::Oid, T::Int4], T::Text, format_type),
        ("pg_get_userbyid", &[1], &[T::Oid], T::Name, pg_get_userbyid),
        ("pg_table_is_visible", &[1], &[T::Oid], T::Bool, pg_table_is_visible),
        ("pg_type_is_visible", &[1], &[T::Oid], T::Bool, pg_type_is_visible),
        ("pg_function_is_visible", &[1], &[T::Oid], T::Bool, pg_function_is_visible),
        ("pg_get_expr", &[2, 3], &[T::Text, T::Oid], T::Text, pg_get_expr),
        ("pg_get_indexdef", &[1, 3], &[T::Oid], T::Text, pg_get_indexdef),
        ("pg_get_constraintdef", &[1, 2], &[T::Oid], T::Text, pg_get_constraintdef),
        ("pg_get_viewdef", &[1, 2], &[T::Oid], T::Text, pg_get_viewdef),
        ("pg_describe_object", &[3], &[T::Oid, T::Oid, T::Int4], T::Text, pg_describe_object),
        ("obj_description", &[1, 2], &[T::Oid, T::Name], T::Text, no_description),
        ("col_description", &[2], &[T::Oid, T::Int4], T::Text, no_description),
        ("shobj_description", &[2], &[T::Oid, T::Name], T::Text, shobj_description),
        ("pg_has_role", &[2], &[T::Name, T::Text], T::Bool, pg_has_role),
        ("pg_database_size", &[1], &[T::Name], T::Int8, pg_database_size),
        ("pg_size_pretty", &[1], &[T::Int8], T::Text, pg_size_pretty),
        ("pg_encoding_to_char", &[1], &[T::Int4], T::Name, pg_encoding_to_char),
        ("has_table_privilege", &[2, 3], &[T::Text, T::Text], T::Bool, has_table_privilege),
        ("has_schema_privilege", &[2, 3], &[T::Text, T::Text], T::Bool, has_schema_privilege),
        ("has_database_privilege", &[2, 3], &[T::Text, T::Text], T::Bool, has_database_privilege),
        ("current_schemas", &[1], &[T::Bool], T::NameArray, current_schemas),
        ("current_schema", &[0], &[], T::Name, current_schema),
        ("pg_get_function_result", &[1], &[T::Oid], T::Text, pg_get_function_result),
        ("pg_get_function_arguments", &[1], &[T::Oid], T::Text, pg_get_function_arguments),
        ("pg_get_function_identity_arguments", &[1], &[T::Oid], T::Text, pg_get_function_arguments),
        ("pg_relation_size", &[1, 2], &[T::Regclass], T::Int8, pg_relation_size),
        ("pg_table_size", &[1], &[T::Regclass], T::Int8, pg_relation_size),
        ("pg_indexes_size", &[1], &[T::Regclass], T::Int8, pg_indexes_size),
        ("pg_total_relation_size", &[1], &[T::Regclass], T::Int8, pg_total_relation_size),
        ("pg_relation_is_publishable", &[1], &[T::Regclass], T::Bool, pg_relation_is_publishable),
        ("quote_ident", &[1], &[T::Text], T::Text, quote_ident),
        ("quote_literal", &[1], &[T::Text], T::Text, quote_literal),
        ("acldefault", &[2], &[T::Char, T::Oid], T::Text, acldefault),
    ]
};

/// The catalog functions as `pg_proc` lists them (in `pg_catalog`).
pub(super) fn catalog_functions() -> Vec<FunctionInfo> {
    FUNCTIONS
        .iter()
        .map(|(name, _, args, result, _)| FunctionInfo {
            schema: "pg_catalog".into(),
            name: (*name).into(),
            args: args.to_vec(),
            result: *result,
            c: None,
        })
        .collect()
}

/// The result type of catalog function `name` (and of `version` and `pg_postmaster_start_time`, which the
/// backend defines), for describing result columns before they run.
pub fn function_type(name: &str) -> Option<PgType> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, _, _, result, _)) = FUNCTIONS.iter().find(|f| f.0 == lower) {
        return Some(*result);
    }
    match lower.as_str() {
        "version" => Some(PgType::Text),
        "pg_postmaster_start_time" => Some(PgType::Timestamptz),
        _ => None,
    }
}

/// Defines the catalog functions on `conn`.
pub(super) fn register(conn: &Connection, source: Arc<dyn CatalogSource>) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_INNOCUOUS;
    for &(name, arities, _, _, body) in FUNCTIONS {
        for &arity in arities {
            let source = source.clone();
            conn.create_scalar_function(name, arity, flags, move |ctx| {
                let result = vtab::with_connection(ctx, |conn| {
                    let call = Call { ctx, source: &*source, conn };
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&call)))
                        .unwrap_or_else(|_| Err(SqlError::error("XX000", format!("internal error in function {name}"))))
                })?;
                result.map_err(|err| {
                    source.function_failed(&err);
                    rusqlite::Error::UserFunctionError(Box::new(err))
                })
            })?;
        }
    }
    Ok(())
}
