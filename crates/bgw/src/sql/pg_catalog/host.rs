//! The catalogs of the host, from [`CatalogSource`]: `pg_database`, `pg_authid` (superusers only, as in
//! PostgreSQL; `rolpassword` is always NULL), `pg_roles`, `pg_user` (passwords shown as `********`),
//! `pg_settings`, `pg_proc` (the host's functions and this module's).
//!
//! Runs in: a backend process.

use super::relations::{boolean, ch, int, oid, opt_text, text, vector, Env, Rows, NULL};
use super::{
    functions, hashed_oid, namespace_oid, CatalogSource, FunctionInfo, RoleInfo, BOOTSTRAP_SUPERUSER, PG_DATABASE_OWNER,
};
use crate::sql::error::SqlError;
use crate::sql::value::Value;

/// The roles, with PostgreSQL's predefined `pg_database_owner` (owner of `public`).
pub(super) fn roles(source: &dyn CatalogSource) -> Vec<RoleInfo> {
    let mut roles = source.roles();
    if !roles.iter().any(|r| r.oid == PG_DATABASE_OWNER) {
        roles.push(RoleInfo {
            oid: PG_DATABASE_OWNER,
            name: "pg_database_owner".into(),
            superuser: false,
            can_login: false,
        });
    }
    roles.sort_by_key(|r| r.oid);
    roles
}

/// The name of role `role`, as `pg_get_userbyid` gives it.
/// Every role's OID and name.
pub(super) fn role_names(source: &dyn CatalogSource) -> Vec<(u32, String)> {
    roles(source).into_iter().map(|r| (r.oid, r.name)).collect()
}

pub(super) fn role_name(source: &dyn CatalogSource, role: u32) -> String {
    roles(source).into_iter().find(|r| r.oid == role).map_or_else(|| format!("unknown (OID={role})"), |r| r.name)
}

pub(super) fn database_rows(env: &Env) -> Rows {
    Ok(env
        .source
        .databases()
        .into_iter()
        .map(|d| {
            vec![
                oid(d.oid),
                text(d.name),
                oid(d.owner),
                int(6),
                ch(b'c'),
                boolean(d.is_template),
                boolean(d.allow_connections),
                int(-1),
                text("0"),
                text("1"),
                oid(1663),
                text("C"),
                text("C"),
                NULL,
                NULL,
                NULL,
            ]
        })
        .collect())
}

/// What a role may do, as the role columns say it: (rolcreaterole, rolcreatedb, rolreplication, rolbypassrls).
fn abilities(role: &RoleInfo) -> [bool; 4] {
    [role.superuser; 4]
}

pub(super) fn authid_rows(env: &Env) -> Rows {
    if !env.source.is_superuser() {
        return Err(SqlError::error("42501", "permission denied for table pg_authid"));
    }
    Ok(roles(env.source)
        .into_iter()
        .map(|r| {
            let [create_role, create_db, replication, bypass] = abilities(&r);
            vec![
                oid(r.oid),
                text(r.name),
                boolean(r.superuser),
                boolean(true),
                boolean(create_role),
                boolean(create_db),
                boolean(r.can_login),
                boolean(replication),
                boolean(bypass),
                int(-1),
                NULL,
                NULL,
            ]
        })
        .collect())
}

pub(super) fn roles_rows(env: &Env) -> Rows {
    Ok(roles(env.source)
        .into_iter()
        .map(|r| {
            let [create_role, create_db, replication, bypass] = abilities(&r);
            vec![
                text(r.name),
                boolean(r.superuser),
                boolean(true),
                boolean(create_role),
                boolean(create_db),
                boolean(r.can_login),
                boolean(replication),
                int(-1),
                text("********"),
                NULL,
                boolean(bypass),
                NULL,
                oid(r.oid),
            ]
        })
        .collect())
}

pub(super) fn user_rows(env: &Env) -> Rows {
    Ok(roles(env.source)
        .into_iter()
        .filter(|r| r.can_login)
        .map(|r| {
            let [_, create_db, replication, bypass] = abilities(&r);
            vec![
                text(r.name),
                oid(r.oid),
                boolean(create_db),
                boolean(r.superuser),
                boolean(replication),
                boolean(bypass),
                text("********"),
                NULL,
                NULL,
            ]
        })
        .collect())
}

/// PostgreSQL's array literal of texts, each element quoted when it must be (`{a,"b c"}`).
pub(super) fn text_array<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    let items: Vec<String> = items
        .into_iter()
        .map(|item| {
            let item = item.as_ref();
            let plain = !item.is_empty()
                && !item.eq_ignore_ascii_case("null")
                && !item.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
            if plain {
                item.to_owned()
            } else {
                format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect();
    Value::Text(format!("{{{}}}", items.join(",")))
}

pub(super) fn settings_rows(env: &Env) -> Rows {
    Ok(env
        .source
        .settings()
        .into_iter()
        .map(|s| {
            vec![
                text(s.name),
                text(s.setting),
                opt_text(s.unit),
                text(s.category),
                text(s.short_desc),
                NULL,
                text(s.context),
                text(s.vartype),
                text(s.source),
                opt_text(s.min_val),
                opt_text(s.max_val),
                s.enumvals.map_or(NULL, text_array),
                opt_text(s.boot_val),
                opt_text(s.reset_val),
                NULL,
                NULL,
                boolean(false),
            ]
        })
        .collect())
}

/// Every function `pg_proc` lists: the host's, then this module's.
pub(super) fn all_functions(source: &dyn CatalogSource) -> Vec<FunctionInfo> {
    let mut all = source.functions();
    for f in functions::catalog_functions() {
        if !all.iter().any(|a| a.name == f.name && a.args == f.args) {
            all.push(f);
        }
    }
    all
}

/// A function's OID: a stable hash of its schema, name and argument types.
pub(super) fn function_oid(f: &FunctionInfo) -> u32 {
    let args: Vec<&str> = f.args.iter().map(|a| a.typname()).collect();
    hashed_oid(format!("proc\0{}.{}({})", f.schema, f.name, args.join(",")).as_bytes())
}

pub(super) fn proc_rows(env: &Env) -> Rows {
    Ok(all_functions(env.source)
        .into_iter()
        .filter(|f| env.only.is_none_or(|o| o == i64::from(function_oid(f))))
        .map(|f| {
            // A C function (CREATE FUNCTION ... LANGUAGE C): language c, its strictness and volatility, its
            // symbol and library; the host's own functions are `internal`.
            let (lang, strict, volatility) = f.c.as_ref().map_or((12, false, b'v'), |c| (13, c.strict, c.volatility));
            let (src, bin) = match &f.c {
                Some(c) => (text(c.symbol.clone()), text(c.library.clone())),
                None => (text(f.name.clone()), NULL),
            };
            vec![
                oid(function_oid(&f)),
                text(f.name.clone()),
                oid(namespace_oid(&f.schema)),
                oid(BOOTSTRAP_SUPERUSER),
                oid(lang),
                Value::Real(1.0),
                Value::Real(0.0),
                oid(0),
                int(0),
                ch(b'f'),
                boolean(false),
                boolean(false),
                boolean(strict),
                boolean(false),
                ch(volatility),
                ch(b'u'),
                int(i64::try_from(f.args.len()).unwrap_or(0)),
                int(0),
                oid(f.result.oid()),
                vector(f.args.iter().map(|a| a.oid())),
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
                src,
                bin,
                NULL,
                NULL,
                NULL,
            ]
        })
        .collect())
}
