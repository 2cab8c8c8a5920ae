//! Extensions as PostgreSQL installs them, on an embedded database: `CREATE EXTENSION` runs the extension's
//! script from the share directory ([`control`]) in one transaction, its `CREATE FUNCTION ... LANGUAGE C`
//! statements load the library and record the function in the database's catalog ([`registry`]), which
//! registers it in every session of that database; `DROP EXTENSION` removes what the extension created (its C
//! functions, and the tables and views its script created); `DROP FUNCTION` drops a C function; `ALTER
//! EXTENSION` is refused (0A000).
//!
//! The statements are parsed by [`crate::sql::pg::extension`]; the script's other statements run through the
//! session's engine (the dialect's translator), so a statement the dialect refuses fails the CREATE EXTENSION
//! with its error. Permissions as PostgreSQL's: CREATE EXTENSION needs a superuser unless the control file says
//! `trusted` (or `superuser = false`); CREATE FUNCTION ... LANGUAGE C outside an extension's script needs a
//! superuser ("permission denied for language c").
//!
//! Runs in: a backend process.

pub(crate) mod control;
pub(crate) mod registry;

use std::ops::ControlFlow;

use rusqlite::params;

use crate::sql::pg::extension::{self as parse, CFunction, CreateExtension, ExtensionStatement};
use crate::sql::{Engine, PgType, SqlError, TxState};

use super::context;
use super::host::HostServices;

pub(crate) use crate::sql::pg::extension::is_extension_statement;
use registry::CFunctionRow;

/// Runs the extension statement `sql` (one statement, without what follows it) on `engine`; its command tag.
pub(crate) fn run(host: &dyn HostServices, engine: &mut dyn Engine, sql: &str) -> Result<String, SqlError> {
    let statement = match parse::parse(sql) {
        Ok(s) => s,
        Err(e) => {
            fail(engine);
            return Err(e);
        }
    };
    if engine.sqlite_connection().is_none() {
        return Err(SqlError::error("0A000", "extensions are supported on embedded databases only"));
    }
    let superuser = host.current_setting("is_superuser").is_ok_and(|v| v == "on");
    let result = match statement {
        ExtensionStatement::AlterExtension { .. } => Err(SqlError::error("0A000", "ALTER EXTENSION is not supported")),
        ExtensionStatement::CreateExtension(e) => {
            in_transaction(engine, |engine| create_extension(engine, &e, superuser, &mut Vec::new()))
                .map(|()| "CREATE EXTENSION".to_string())
        }
        ExtensionStatement::DropExtension { names, if_exists, cascade } => {
            in_transaction(engine, |engine| drop_extensions(engine, &names, if_exists, cascade, superuser))
                .map(|()| "DROP EXTENSION".to_string())
        }
        ExtensionStatement::CreateFunction(f) => {
            if !superuser {
                Err(SqlError::error("42501", "permission denied for language c"))
            } else {
                in_transaction(engine, |engine| create_function(engine, &f, None, "public"))
                    .map(|()| "CREATE FUNCTION".to_string())
            }
        }
        ExtensionStatement::DropFunction { name, args, if_exists } => {
            in_transaction(engine, |engine| drop_function(engine, &name, args.as_deref(), if_exists, superuser))
                .map(|()| "DROP FUNCTION".to_string())
        }
    };
    if let Some(conn) = engine.sqlite_connection() {
        registry::changed();
        let _ = registry::sync(conn);
    }
    if result.is_err() && engine.tx_state() == TxState::InBlock {
        engine.fail_transaction();
    }
    result
}

/// A NOTICE with `code` (sent to the client after the statement).
fn notice(code: &'static str, message: String) -> SqlError {
    SqlError { severity: crate::sql::Severity::Notice, ..SqlError::error(code, message) }
}

fn fail(engine: &mut dyn Engine) {
    if engine.tx_state() == TxState::InBlock {
        engine.fail_transaction();
    }
}

/// Runs `work` in the open transaction block, or in a transaction of its own that commits if it succeeds.
fn in_transaction(
    engine: &mut dyn Engine,
    work: impl FnOnce(&mut dyn Engine) -> Result<(), SqlError>,
) -> Result<(), SqlError> {
    match engine.tx_state() {
        TxState::Failed => Err(SqlError::error(
            "25P02",
            "current transaction is aborted, commands ignored until end of transaction block",
        )),
        TxState::InBlock => work(engine),
        TxState::Idle => {
            engine.begin()?;
            match work(engine) {
                Ok(()) => engine.commit(),
                Err(e) => {
                    let _ = engine.rollback();
                    Err(e)
                }
            }
        }
    }
}

fn conn(engine: &dyn Engine) -> Result<&rusqlite::Connection, SqlError> {
    engine
        .sqlite_connection()
        .ok_or_else(|| SqlError::error("0A000", "extensions are supported on embedded databases only"))
}

fn schema_exists(conn: &rusqlite::Connection, schema: &str) -> bool {
    schema == "public"
        || schema == "pg_catalog"
        || conn.query_row("SELECT 1 FROM _pg_schemas WHERE nspname = ?1", [schema], |_| Ok(())).is_ok()
}

/// The relations (tables and views) of the database, by SQLite name.
fn relations(conn: &rusqlite::Connection) -> Result<Vec<(String, String)>, SqlError> {
    let mut stmt = conn
        .prepare("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE '\\_pg\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
        .map_err(registry::internal)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(registry::internal)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(registry::internal)
}

fn create_extension(
    engine: &mut dyn Engine,
    e: &CreateExtension,
    superuser: bool,
    creating: &mut Vec<String>,
) -> Result<(), SqlError> {
    registry::ensure(conn(engine)?)?;
    let installed = registry::extensions(conn(engine)?)?;
    if installed.iter().any(|x| x.name == e.name) {
        if e.if_not_exists {
            context::notice(notice("42710", format!("extension \"{}\" already exists, skipping", e.name)));
            return Ok(());
        }
        return Err(SqlError::error("42710", format!("extension \"{}\" already exists", e.name)));
    }
    let c = control::read(&e.name)?;
    if c.superuser && !c.trusted && !superuser {
        let mut err = SqlError::error("42501", format!("permission denied to create extension \"{}\"", e.name));
        err.hint = Some("Must be superuser to create this extension.".into());
        return Err(err);
    }
    let version = match e.version.clone().or_else(|| c.default_version.clone()) {
        Some(v) => v,
        None => return Err(SqlError::error("22023", "version to install must be specified")),
    };
    let chain = control::script_chain(&c, &version).ok_or_else(|| {
        SqlError::error(
            "22023",
            format!("extension \"{}\" has no installation script nor update path for version \"{version}\"", e.name),
        )
    })?;
    let schema = match (&c.schema, &e.schema) {
        (Some(fixed), Some(asked)) if fixed != asked => {
            return Err(SqlError::error(
                "0A000",
                format!("extension \"{}\" must be installed in schema \"{fixed}\"", e.name),
            ))
        }
        (Some(fixed), _) => fixed.clone(),
        (None, Some(asked)) => asked.clone(),
        (None, None) => "public".to_string(),
    };
    if !schema_exists(conn(engine)?, &schema) {
        return Err(SqlError::error("3F000", format!("schema \"{schema}\" does not exist")));
    }
    creating.push(e.name.clone());
    for required in &c.requires {
        if installed.iter().any(|x| &x.name == required) || creating.contains(required) {
            continue;
        }
        if !e.cascade {
            let mut err = SqlError::error("42704", format!("required extension \"{required}\" is not installed"));
            err.hint = Some("Use CREATE EXTENSION ... CASCADE to install required extensions too.".into());
            return Err(err);
        }
        context::notice(notice("00000", format!("installing required extension \"{required}\"")));
        let sub =
            CreateExtension { name: required.clone(), cascade: true, schema: e.schema.clone(), ..Default::default() };
        create_extension(engine, &sub, superuser, creating)?;
    }
    let before = relations(conn(engine)?)?;
    for path in &chain {
        let text = std::fs::read_to_string(path).map_err(|err| {
            SqlError::error("58P01", format!("could not open file \"{}\" for reading: {err}", path.display()))
        })?;
        let script = control::prepare_script(&c, &text, &schema);
        run_script(engine, &script, &e.name, &schema)?;
    }
    let conn = conn(engine)?;
    for (kind, name) in relations(conn)? {
        if !before.iter().any(|(_, n)| *n == name) {
            conn.execute("INSERT INTO _pg_extension_member VALUES (?1, ?2, ?3)", params![e.name, kind, name])
                .map_err(registry::internal)?;
        }
    }
    conn.execute(
        "INSERT INTO _pg_extension VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![e.name, version, schema, c.relocatable, c.comment, c.requires.join(",")],
    )
    .map_err(registry::internal)?;
    Ok(())
}

/// Runs an extension's script, statement by statement, in the current transaction.
fn run_script(engine: &mut dyn Engine, script: &str, extension: &str, schema: &str) -> Result<(), SqlError> {
    let mut rest = script;
    while !crate::sql::lexer::is_blank(rest) {
        let Some((text, consumed)) = crate::sql::pg::first_statement(rest) else { break };
        rest = &rest[consumed.min(rest.len())..];
        if crate::sql::lexer::is_blank(text) {
            continue;
        }
        if is_extension_statement(text) {
            match parse::parse(text)? {
                ExtensionStatement::CreateFunction(f) => create_function(engine, &f, Some(extension), schema)?,
                _ => {
                    return Err(SqlError::error(
                        "0A000",
                        "extension scripts may not create, alter or drop extensions or drop functions here",
                    ))
                }
            }
            continue;
        }
        // Anything else goes through the dialect, as a client's statement would.
        let Some((statement, _)) = engine.prepare(text)? else { continue };
        if matches!(statement.kind, crate::sql::Kind::Begin | crate::sql::Kind::Commit | crate::sql::Kind::Rollback) {
            return Err(SqlError::error(
                "0A000",
                "transaction control statements are not allowed in an extension script",
            ));
        }
        engine.execute(&statement, &[], &mut |_| ControlFlow::Continue(()))?;
    }
    Ok(())
}

/// The type oid a C function may take (or return, with `result`), or 0A000 naming the type.
fn c_type(name: &str, result: bool) -> Result<u32, SqlError> {
    let base = name.split('(').next().unwrap_or(name).trim();
    let ty =
        PgType::from_name(base).or_else(|| (base.trim_start_matches("pg_catalog.") == "void").then_some(PgType::Void));
    let supported = [
        PgType::Bool,
        PgType::Int2,
        PgType::Int4,
        PgType::Int8,
        PgType::Oid,
        PgType::Float4,
        PgType::Float8,
        PgType::Text,
        PgType::Varchar,
    ];
    match ty {
        Some(t) if supported.contains(&t) || (result && t == PgType::Void) => Ok(t.oid()),
        Some(_) if !result => {
            Err(SqlError::error("0A000", format!("C functions taking type {name} are not supported")))
        }
        Some(_) => Err(SqlError::error("0A000", format!("C functions returning type {name} are not supported"))),
        None => Err(SqlError::error("42704", format!("type \"{base}\" does not exist"))),
    }
}

/// CREATE FUNCTION ... LANGUAGE C; an unqualified name goes to `schema` (an extension's script creates its
/// functions in the extension's schema, as PostgreSQL's search_path during the script does).
fn create_function(
    engine: &mut dyn Engine,
    f: &CFunction,
    extension: Option<&str>,
    schema: &str,
) -> Result<(), SqlError> {
    let argtypes = f.args.iter().map(|a| c_type(a, false)).collect::<Result<Vec<u32>, _>>()?;
    let rettype = c_type(&f.returns, true)?;
    let schema = f.schema.clone().unwrap_or_else(|| schema.to_string());
    let conn = conn(engine)?;
    if !schema_exists(conn, &schema) {
        return Err(SqlError::error("3F000", format!("schema \"{schema}\" does not exist")));
    }
    registry::ensure(conn)?;
    let row = CFunctionRow {
        name: f.name.clone(),
        schema,
        argtypes,
        rettype,
        strict: f.strict,
        volatility: f.volatility.to_string(),
        library: f.library.clone(),
        symbol: f.symbol.clone().unwrap_or_else(|| f.name.clone()),
        extension: extension.map(str::to_string),
    };
    // Loaded and checked now, as PostgreSQL's CREATE FUNCTION does.
    context::host()?.c_function(&row.library, &row.symbol, &row.argtypes, row.rettype, row.strict)?;
    let existing = registry::functions(conn)?;
    if let Some(old) = existing.iter().find(|x| x.name == row.name && x.argtypes == row.argtypes) {
        if !f.or_replace {
            return Err(SqlError::error(
                "42723",
                format!("function \"{}\" already exists with same argument types", f.name),
            ));
        }
        if old.rettype != row.rettype {
            let mut e = SqlError::error("42P13", "cannot change return type of existing function");
            e.hint = Some(format!("Use DROP FUNCTION {} first.", old.signature()));
            return Err(e);
        }
    } else if existing.iter().any(|x| x.name == row.name && x.argtypes.len() == row.argtypes.len()) {
        return Err(SqlError::error(
            "0A000",
            format!(
                "C functions of one name with the same number of arguments but other types are not supported: {}",
                row.signature()
            ),
        ));
    }
    conn.execute(
        "INSERT OR REPLACE INTO _pg_c_function VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
         COALESCE(?9, (SELECT extension FROM _pg_c_function WHERE proname = ?1 AND argtypes = ?3)))",
        params![
            row.name,
            row.schema,
            row.argtypes_text(),
            row.rettype,
            row.strict,
            row.volatility,
            row.library,
            row.symbol,
            row.extension
        ],
    )
    .map_err(registry::internal)?;
    registry::changed();
    registry::sync(conn)
}

fn drop_function(
    engine: &mut dyn Engine,
    name: &str,
    args: Option<&[String]>,
    if_exists: bool,
    superuser: bool,
) -> Result<(), SqlError> {
    let conn = conn(engine)?;
    let all = registry::functions(conn)?;
    let wanted: Option<Vec<u32>> = match args {
        Some(a) => Some(
            a.iter()
                .map(|t| {
                    let base = t.split('(').next().unwrap_or(t).trim();
                    PgType::from_name(base)
                        .map(PgType::oid)
                        .ok_or_else(|| SqlError::error("42704", format!("type \"{base}\" does not exist")))
                })
                .collect::<Result<_, _>>()?,
        ),
        None => None,
    };
    let matching: Vec<&CFunctionRow> =
        all.iter().filter(|f| f.name == name && wanted.as_ref().is_none_or(|w| *w == f.argtypes)).collect();
    let shown = match &args {
        Some(a) => format!("{name}({})", a.join(", ")),
        None => name.to_string(),
    };
    let Some(f) = matching.first() else {
        if if_exists {
            context::notice(notice("00000", format!("function {shown} does not exist, skipping")));
            return Ok(());
        }
        return Err(match wanted {
            Some(w) => {
                let types: Vec<&str> =
                    w.iter().map(|o| PgType::from_oid(*o).map_or("unknown", PgType::sql_name)).collect();
                SqlError::error("42883", format!("function {name}({}) does not exist", types.join(", ")))
            }
            None => SqlError::error("42883", format!("could not find a function named \"{name}\"")),
        });
    };
    if matching.len() > 1 {
        return Err(SqlError::error("42725", format!("function name \"{name}\" is not unique")));
    }
    if !superuser {
        return Err(SqlError::error("42501", format!("must be owner of function {name}")));
    }
    if let Some(ext) = &f.extension {
        let mut e = SqlError::error(
            "2BP01",
            format!("cannot drop function {} because extension {ext} requires it", f.signature()),
        );
        e.hint = Some(format!("You can drop extension {ext} instead."));
        return Err(e);
    }
    conn.execute("DELETE FROM _pg_c_function WHERE proname = ?1 AND argtypes = ?2", params![f.name, f.argtypes_text()])
        .map_err(registry::internal)?;
    registry::changed();
    registry::sync(conn)
}

fn drop_extensions(
    engine: &mut dyn Engine,
    names: &[String],
    if_exists: bool,
    cascade: bool,
    superuser: bool,
) -> Result<(), SqlError> {
    let conn = conn(engine)?;
    let installed = registry::extensions(conn)?;
    let mut dropping: Vec<String> = Vec::new();
    for name in names {
        if !installed.iter().any(|x| &x.name == name) {
            if if_exists {
                context::notice(notice("00000", format!("extension \"{name}\" does not exist, skipping")));
                continue;
            }
            return Err(SqlError::error("42704", format!("extension \"{name}\" does not exist")));
        }
        dropping.push(name.clone());
    }
    if !dropping.is_empty() && !superuser {
        return Err(SqlError::error("42501", format!("must be owner of extension {}", dropping[0])));
    }
    // The extensions that require one being dropped go too (CASCADE), or stop it.
    let mut i = 0;
    while i < dropping.len() {
        let name = dropping[i].clone();
        for x in installed.iter().filter(|x| x.requires.contains(&name)) {
            if dropping.contains(&x.name) {
                continue;
            }
            if !cascade {
                let mut e = SqlError::error(
                    "2BP01",
                    format!("cannot drop extension {name} because other objects depend on it"),
                );
                e.detail = Some(format!("extension {} depends on extension {name}", x.name));
                e.hint = Some("Use DROP ... CASCADE to drop the dependent objects too.".into());
                return Err(e);
            }
            context::notice(notice("00000", format!("drop cascades to extension {}", x.name)));
            dropping.push(x.name.clone());
        }
        i += 1;
    }
    for name in &dropping {
        let members: Vec<(String, String)> = {
            let mut stmt = conn
                .prepare("SELECT type, name FROM _pg_extension_member WHERE extension = ?1")
                .map_err(registry::internal)?;
            let rows = stmt.query_map([name], |r| Ok((r.get(0)?, r.get(1)?))).map_err(registry::internal)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(registry::internal)?
        };
        for (kind, member) in
            members.iter().filter(|(k, _)| k == "view").chain(members.iter().filter(|(k, _)| k != "view"))
        {
            let quoted = member.replace('"', "\"\"");
            let what = if kind == "view" { "VIEW" } else { "TABLE" };
            conn.execute_batch(&format!("DROP {what} IF EXISTS \"{quoted}\"")).map_err(registry::internal)?;
        }
        conn.execute("DELETE FROM _pg_extension_member WHERE extension = ?1", [name]).map_err(registry::internal)?;
        conn.execute("DELETE FROM _pg_c_function WHERE extension = ?1", [name]).map_err(registry::internal)?;
        conn.execute("DELETE FROM _pg_extension WHERE extname = ?1", [name]).map_err(registry::internal)?;
    }
    registry::changed();
    registry::sync(conn)
}

/// Before each statement outside a transaction: this session's C functions brought up to date with the
/// database's catalog. Not inside one: reading the catalog there would take the transaction's snapshot before its
/// first statement does (a later write could then not upgrade it, SQLite's busy snapshot); a block sees the
/// functions of its own session's changes, and the others' from its next statement after it ends.
pub(crate) fn before_statement(engine: &dyn Engine) {
    if let Some(conn) = engine.sqlite_connection().filter(|c| c.is_autocommit()) {
        let _ = registry::sync(conn);
    }
}

/// The extensions the share directory holds, with what their control files say (a control file that does not
/// parse is left out).
pub(crate) fn available() -> Vec<crate::sql::pg_catalog::AvailableExtension> {
    control::available()
        .into_iter()
        .filter_map(|(name, path)| {
            let text = std::fs::read_to_string(&path).ok()?;
            let c = control::parse(&name, &path, &text).ok()?;
            Some(crate::sql::pg_catalog::AvailableExtension {
                versions: control::versions(&c),
                name: c.name,
                default_version: c.default_version,
                comment: c.comment,
                superuser: c.superuser,
                trusted: c.trusted,
                relocatable: c.relocatable,
                schema: c.schema,
                requires: c.requires,
            })
        })
        .collect()
}

/// The kind an extension statement is kept with by the extended protocol's Parse (run at Execute).
const KIND: &str = "EXTENSION STATEMENT";

/// The statement a Parse of an extension statement keeps: its text, to run at Execute.
pub(crate) fn parsed_statement(query: &str) -> Result<crate::sql::Statement, SqlError> {
    let (text, consumed) = crate::sql::pg::first_statement(query).unwrap_or((query, query.len()));
    if !crate::sql::lexer::is_blank(&query[consumed.min(query.len())..]) {
        return Err(SqlError::error("42601", "cannot insert multiple commands into a prepared statement"));
    }
    Ok(crate::sql::Statement::bare(text, crate::sql::Kind::Other(KIND.to_string())))
}

/// Whether `statement` was kept by [`parsed_statement`].
pub(crate) fn is_extension_kind(statement: &crate::sql::Statement) -> bool {
    matches!(&statement.kind, crate::sql::Kind::Other(k) if k == KIND)
}
