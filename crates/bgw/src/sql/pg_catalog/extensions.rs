//! The extension catalogs: `pg_extension` (read from the database's `_pg_extension` table, which the backend's
//! CREATE EXTENSION writes), the extensions' comments in `pg_description`, and the views
//! `pg_available_extensions` / `pg_available_extension_versions` (from the share directory, which the
//! [`CatalogSource`] reads).
//!
//! Runs in: a backend process.

use rusqlite::Connection;

use super::model::Model;
use super::relations::{boolean, ch, int, oid, opt_text, text, Env, Rows, NULL};
use super::{hashed_oid, namespace_oid, BOOTSTRAP_SUPERUSER};
use crate::sql::value::Value;

/// An extension the share directory holds (one row per version with an install script).
#[derive(Debug, Clone, Default)]
pub struct AvailableExtension {
    pub name: String,
    pub default_version: Option<String>,
    pub comment: Option<String>,
    /// The versions with an install script.
    pub versions: Vec<String>,
    pub superuser: bool,
    pub trusted: bool,
    pub relocatable: bool,
    pub schema: Option<String>,
    pub requires: Vec<String>,
}

/// An installed extension, as `_pg_extension` holds it.
struct Installed {
    name: String,
    version: String,
    schema: String,
    relocatable: bool,
    comment: Option<String>,
}

/// The OID of extension `name`.
pub fn extension_oid(name: &str) -> u32 {
    hashed_oid(format!("extension\0{name}").as_bytes())
}

fn installed(conn: &Connection) -> Vec<Installed> {
    let Ok(mut stmt) = conn
        .prepare("SELECT extname, extversion, extschema, extrelocatable, comment FROM _pg_extension ORDER BY extname")
    else {
        // No extension was ever created in this database.
        return Vec::new();
    };
    let rows = stmt.query_map([], |r| {
        Ok(Installed {
            name: r.get(0)?,
            version: r.get(1)?,
            schema: r.get(2)?,
            relocatable: r.get::<_, i64>(3)? != 0,
            comment: r.get(4)?,
        })
    });
    rows.map(|rows| rows.flatten().collect()).unwrap_or_default()
}

pub(super) fn extension_rows(env: &Env) -> Rows {
    Ok(installed(env.conn)
        .into_iter()
        .map(|e| {
            vec![
                oid(extension_oid(&e.name)),
                text(e.name),
                oid(BOOTSTRAP_SUPERUSER),
                oid(namespace_oid(&e.schema)),
                boolean(e.relocatable),
                text(e.version),
                NULL,
                NULL,
            ]
        })
        .collect())
}

/// `pg_description` rows of the installed extensions' comments.
pub(super) fn description_rows(conn: &Connection) -> Vec<Vec<Value>> {
    installed(conn)
        .into_iter()
        .filter_map(|e| {
            let comment = e.comment?;
            Some(vec![oid(extension_oid(&e.name)), oid(3079), Value::Integer(0), text(comment)])
        })
        .collect()
}

fn array(items: &[String]) -> Value {
    if items.is_empty() {
        return NULL;
    }
    text(format!("{{{}}}", items.join(",")))
}

pub(super) fn available_rows(env: &Env) -> Rows {
    let installed = installed(env.conn);
    Ok(env
        .source
        .available_extensions()
        .into_iter()
        .map(|a| {
            let version = installed.iter().find(|i| i.name == a.name).map(|i| i.version.clone());
            vec![text(a.name), opt_text(a.default_version), opt_text(version), opt_text(a.comment)]
        })
        .collect())
}

pub(super) fn available_version_rows(env: &Env) -> Rows {
    let installed = installed(env.conn);
    let mut out = Vec::new();
    for a in env.source.available_extensions() {
        for v in &a.versions {
            let is_installed = installed.iter().any(|i| i.name == a.name && &i.version == v);
            out.push(vec![
                text(a.name.clone()),
                text(v.clone()),
                boolean(is_installed),
                boolean(a.superuser),
                boolean(a.trusted),
                boolean(a.relocatable),
                a.schema.clone().map_or(NULL, text),
                array(&a.requires),
                opt_text(a.comment.clone()),
            ]);
        }
    }
    Ok(out)
}

/// `pg_depend` rows saying what each extension's members are (deptype `e`): the C functions its scripts created
/// and the relations they created (as the backend recorded them in `_pg_extension_member`).
pub(super) fn member_depend_rows(env: &Env, model: &Model) -> Vec<Vec<Value>> {
    let member = |classid: u32, objid: u32, extension: &str| {
        vec![oid(classid), oid(objid), int(0), oid(3079), oid(extension_oid(extension)), int(0), ch(b'e')]
    };
    let mut rows = Vec::new();
    for f in super::host::all_functions(env.source) {
        if let Some(ext) = f.c.as_ref().and_then(|c| c.extension.as_deref()) {
            rows.push(member(1255, super::host::function_oid(&f), ext));
        }
    }
    let Ok(mut stmt) = env.conn.prepare("SELECT extension, name FROM _pg_extension_member") else {
        return rows;
    };
    let members: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map(|rows| rows.flatten().collect()).unwrap_or_default();
    let serials = super::model::serial_sequences(model);
    for (ext, name) in members {
        if let Some(t) = model.table_by_sqlite_name(&name) {
            rows.push(member(1259, t.oid, &ext));
            // A serial column's sequence is a member too, as PostgreSQL's.
            if serials.iter().any(|(s, _)| s.oid == t.oid) {
                rows.push(member(1259, super::model::sequence_oid(&t.sqlite_name), &ext));
            }
        }
    }
    rows
}
