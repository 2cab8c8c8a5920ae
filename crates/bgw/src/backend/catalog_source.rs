//! What the SQL layer's catalogs ([`crate::sql::pg_catalog`]) need from a client session: who the session is
//! (its process entry: role and database OIDs), the host's roles and databases (the catalog), the session's
//! settings (the session layer over the host's, as `SHOW` gives them), and the backend's SQL functions.
//!
//! [`SessionCatalog`] holds nothing: it reaches the session through the thread-local context (the catalogs call
//! it from SQLite callbacks on the backend's one thread), so it is `Send + Sync` as rusqlite wants.
//!
//! Runs in: a backend process.

use std::sync::Arc;

use crate::config::{GucContext, GucDef, GucKind, GucSource, GucValue};
use crate::sql::pg_catalog::{CatalogSource, DatabaseInfo, FunctionInfo, RoleInfo, SettingInfo};
use crate::sql::{PgType, SqlError};

use super::context;
use super::settings;

/// The session's catalog source.
pub(crate) struct SessionCatalog;

/// Installs the catalogs on a session's connection.
pub(crate) fn install(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    crate::sql::pg_catalog::install(conn, Arc::new(SessionCatalog))
}

fn catalog() -> Option<crate::catalog::Catalog> {
    crate::catalog::Catalog::open(crate::process::data_dir()).ok()
}

/// The session's (role OID, database OID), from its process entry.
fn connected_as() -> Option<(u32, u32)> {
    let entry = crate::process::my_proc()?;
    Some((entry.role_oid(), entry.database_oid()))
}

/// Whether `name` is one of PostgreSQL's function names (`pg_catalog`) rather than the host's own (`public`).
fn schema_of(name: &str) -> &'static str {
    if name.starts_with("bgw_") {
        "public"
    } else {
        "pg_catalog"
    }
}

/// The backend's functions: name, argument types (one entry per argument count), result type.
fn backend_functions() -> Vec<(&'static str, Vec<PgType>, PgType)> {
    use PgType as T;
    let registration = |name: &'static str, result: PgType| {
        (2..=4).map(move |n| (name, [T::Text, T::Text, T::Int8, T::Text][..n].to_vec(), result))
    };
    let mut all: Vec<(&'static str, Vec<PgType>, PgType)> = Vec::new();
    all.extend(registration("bgw_register", T::Text));
    all.extend(registration("bgw_launch", T::Int4));
    all.extend([
        ("bgw_status", vec![T::Text], T::Text),
        ("bgw_pid", vec![T::Text], T::Int4),
        ("bgw_wait_for_startup", vec![T::Text], T::Int4),
        ("bgw_wait_for_shutdown", vec![T::Text], T::Text),
        ("bgw_terminate", vec![T::Text], T::Bool),
        ("bgw_type_by_pid", vec![T::Int4], T::Text),
        ("pg_backend_pid", vec![], T::Int4),
        ("pg_reload_conf", vec![], T::Bool),
        ("pg_cancel_backend", vec![T::Int4], T::Bool),
        ("pg_terminate_backend", vec![T::Int4], T::Bool),
        ("current_setting", vec![T::Text], T::Text),
        ("current_setting", vec![T::Text, T::Bool], T::Text),
        ("set_config", vec![T::Text, T::Text, T::Bool], T::Text),
        ("pg_postmaster_start_time", vec![], T::Timestamptz),
        ("version", vec![], T::Text),
        ("pg_notify", vec![T::Text, T::Text], T::Void),
    ]);
    all
}

fn context_name(context: GucContext) -> &'static str {
    match context {
        GucContext::Internal => "internal",
        GucContext::Postmaster => "postmaster",
        GucContext::Sighup => "sighup",
        GucContext::Superuser => "superuser",
        GucContext::User => "user",
    }
}

/// A value as `pg_settings.setting` shows it: integers in their base unit, without the unit.
fn raw(value: &GucValue) -> String {
    value.to_string()
}

fn setting_info(def: &GucDef, shown: String, host: Option<(GucValue, GucSource)>) -> SettingInfo {
    let parsed = def.parse_value(&shown).ok();
    let setting = parsed.as_ref().map_or_else(|| shown.clone(), raw);
    let (vartype, unit, min_val, max_val, enumvals) = match &def.kind {
        GucKind::Bool => ("bool", None, None, None, None),
        GucKind::Int { min, max, unit } => {
            ("integer", unit.name().map(str::to_owned), Some(min.to_string()), Some(max.to_string()), None)
        }
        GucKind::Real { min, max } => ("real", None, Some(min.to_string()), Some(max.to_string()), None),
        GucKind::String => ("string", None, None, None, None),
        GucKind::Enum { options } => ("enum", None, None, None, Some(options.clone())),
    };
    let reset = match (&host, &parsed) {
        // A fixed parameter's value is what it is (`is_superuser`, `server_version`).
        (_, Some(value)) if def.context == GucContext::Internal => value.clone(),
        (Some((value, _)), _) => value.clone(),
        (None, _) => def.default.clone(),
    };
    let source = if parsed.as_ref().is_some_and(|p| *p != reset) {
        "session"
    } else {
        match host.map(|(_, source)| source) {
            Some(GucSource::File) => "configuration file",
            Some(GucSource::CommandLine) => "command line",
            _ => "default",
        }
    };
    SettingInfo {
        name: def.name.clone(),
        setting,
        unit,
        category: "Ungrouped".into(),
        short_desc: def.short_desc.clone(),
        context: context_name(def.context).into(),
        vartype: vartype.into(),
        source: source.into(),
        min_val,
        max_val,
        enumvals,
        boot_val: Some(raw(&def.default)),
        reset_val: Some(raw(&reset)),
    }
}

impl CatalogSource for SessionCatalog {
    fn current_user(&self) -> String {
        let role = connected_as().map(|(role, _)| role);
        role.and_then(|oid| catalog()?.role_by_oid(oid).ok().flatten()).map(|r| r.name).unwrap_or_default()
    }

    fn current_database(&self) -> String {
        let database = connected_as().map(|(_, database)| database);
        database.and_then(|oid| catalog()?.database_by_oid(oid).ok().flatten()).map(|d| d.name).unwrap_or_default()
    }

    fn is_superuser(&self) -> bool {
        context::host().is_ok_and(|h| h.current_setting("is_superuser").is_ok_and(|v| v == "on"))
    }

    fn databases(&self) -> Vec<DatabaseInfo> {
        let databases = catalog().and_then(|c| c.databases().ok()).unwrap_or_default();
        databases
            .into_iter()
            .map(|d| DatabaseInfo {
                is_template: d.name.starts_with("template"),
                oid: d.oid,
                name: d.name,
                owner: crate::catalog::BOOTSTRAP_SUPERUSER_OID,
                allow_connections: d.allow_connections,
                size: match &d.engine {
                    crate::catalog::DatabaseEngine::Sqlite => {
                        let file = crate::catalog::database_path(crate::process::data_dir(), d.oid);
                        let len = |suffix: &str| {
                            std::fs::metadata(format!("{}{suffix}", file.display())).map_or(0, |m| m.len() as i64)
                        };
                        Some(len("") + len("-wal"))
                    }
                    crate::catalog::DatabaseEngine::Postgresql { .. } => None,
                },
                description: match &d.engine {
                    crate::catalog::DatabaseEngine::Sqlite => None,
                    crate::catalog::DatabaseEngine::Postgresql { connection } => {
                        Some(format!("engine postgresql: {connection}"))
                    }
                },
            })
            .collect()
    }

    fn roles(&self) -> Vec<RoleInfo> {
        let roles = catalog().and_then(|c| c.roles().ok()).unwrap_or_default();
        roles
            .into_iter()
            .map(|r| RoleInfo { oid: r.oid, name: r.name, superuser: r.superuser, can_login: r.can_login })
            .collect()
    }

    fn settings(&self) -> Vec<SettingInfo> {
        let Ok(host) = context::host() else { return Vec::new() };
        // The guard of the host's settings is released before reading the session's values (which take it).
        let host_defs: Vec<(GucDef, GucValue, GucSource)> = {
            let guard = crate::process::settings();
            guard
                .as_ref()
                .map(|s| {
                    s.names()
                        .into_iter()
                        .filter_map(|n| {
                            Some((s.def(n)?.clone(), s.get(n)?.clone(), s.source(n).unwrap_or(GucSource::Default)))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut out: Vec<SettingInfo> = Vec::new();
        for def in settings::all_session_parameters() {
            if let Ok(shown) = settings::current_setting(&*host, &def.name) {
                out.push(setting_info(&def, shown, None));
            }
        }
        for (def, value, source) in host_defs {
            if out.iter().any(|s| s.name.eq_ignore_ascii_case(&def.name)) {
                continue;
            }
            if let Ok(shown) = settings::current_setting(&*host, &def.name) {
                out.push(setting_info(&def, shown, Some((value, source))));
            }
        }
        out.sort_by_key(|s| s.name.to_ascii_lowercase());
        out
    }

    fn setting(&self, name: &str) -> Option<String> {
        settings::current_setting(&*context::host().ok()?, name).ok()
    }

    fn functions(&self) -> Vec<FunctionInfo> {
        let mut all: Vec<FunctionInfo> = backend_functions()
            .into_iter()
            .map(|(name, args, result)| FunctionInfo {
                schema: schema_of(name).into(),
                name: name.into(),
                args,
                result,
                c: None,
            })
            .collect();
        if let Ok(host) = context::host() {
            for f in host.module_functions() {
                let result = super::functions::result_type(&f.name).unwrap_or(PgType::Text);
                let args = vec![PgType::Text; usize::try_from(f.nargs).unwrap_or(0)];
                all.push(FunctionInfo { schema: "public".into(), name: f.name, args, result, c: None });
            }
        }
        for f in super::extension::registry::registered() {
            all.retain(|x| x.name != f.name);
        }
        for f in super::extension::registry::registered() {
            let result = PgType::from_oid(f.rettype).unwrap_or(PgType::Void);
            let args = f.argtypes.iter().map(|o| PgType::from_oid(*o).unwrap_or(PgType::Text)).collect();
            let c = crate::sql::pg_catalog::CFunctionDetails {
                strict: f.strict,
                volatility: f.volatility.bytes().next().unwrap_or(b'v'),
                symbol: f.symbol,
                library: f.library,
                extension: f.extension,
            };
            all.push(FunctionInfo { schema: f.schema, name: f.name, args, result, c: Some(c) });
        }
        all
    }

    fn function_failed(&self, err: &SqlError) {
        let _ = context::fail(err.clone());
    }

    fn available_extensions(&self) -> Vec<crate::sql::pg_catalog::AvailableExtension> {
        super::extension::available()
    }
}
