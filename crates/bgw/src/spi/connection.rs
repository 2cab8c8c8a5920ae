//! A worker's database connection: `BackgroundWorkerInitializeConnection` and `...ByOid`.
//!
//! A worker registered with `BGWORKER_BACKEND_DATABASE_CONNECTION` may connect once: to a database (by name or
//! oid) or to none (catalog only), as a role (by name or oid) or as the bootstrap superuser. The checks are a
//! client connection's, in PostgreSQL's order (the role, then the database) and with its messages; the flags
//! `BGWORKER_BYPASS_ROLELOGINCHECK` and `BGWORKER_BYPASS_ALLOWCONN` skip the login and the allow-connections
//! checks. Every failure is FATAL for the caller (the worker ends with exit code 1 and its restart rule
//! applies). On success the database is opened with its engine ([`SpiEngine`]): a sqlite-engine database's file
//! the host's way, a postgresql-engine database's server with [`crate::catalog::remote::server_config`] (the
//! password from the host's password file; a server that is down or refuses the login is a FATAL with its
//! reason), and the connection is reported in `pg_stat_activity`.
//!
//! Runs in: a background worker process.

use crate::catalog::{self, Catalog, Database, Role, BOOTSTRAP_SUPERUSER_OID};
use std::path::Path;

pub use bgw_abi::{BGWORKER_BYPASS_ALLOWCONN, BGWORKER_BYPASS_ROLELOGINCHECK};

/// Which database to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    /// None (NULL or empty name, InvalidOid): no database, the catalog only.
    None,
    Name(String),
    Oid(u32),
}

/// As which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleTarget {
    /// The bootstrap superuser (NULL name, InvalidOid).
    Bootstrap,
    Name(String),
    Oid(u32),
}

/// Why a connection was refused: a FATAL for the worker (an ERROR when not called from a worker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub fatal: bool,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl ConnectError {
    fn fatal(message: impl Into<String>) -> ConnectError {
        ConnectError { fatal: true, message: message.into(), detail: None, hint: None }
    }
    fn hint(mut self, hint: impl Into<String>) -> ConnectError {
        self.hint = Some(hint.into());
        self
    }
    fn detail(mut self, detail: impl Into<String>) -> ConnectError {
        self.detail = Some(detail.into());
        self
    }
}

/// A worker's connection: who it is, where it is, and the open database.
pub struct Session {
    pub role: Role,
    pub database: Option<Database>,
    /// The database, as the SQL layer's engine sees it (SPI runs its statements there).
    pub conn: Option<SpiEngine>,
}

/// The engine of a worker's database: SPI runs on either through [`SpiEngine::engine`], one code path.
pub enum SpiEngine {
    /// The database's SQLite file.
    Sqlite(Box<crate::sql::sqlite::SqliteEngine>),
    /// A connection to the database's PostgreSQL server.
    Postgres(Box<crate::sql::postgres::PostgresEngine>),
}

impl SpiEngine {
    pub fn engine(&mut self) -> &mut dyn crate::sql::Engine {
        match self {
            SpiEngine::Sqlite(e) => e.as_mut(),
            SpiEngine::Postgres(e) => e.as_mut(),
        }
    }

    pub fn engine_ref(&self) -> &dyn crate::sql::Engine {
        match self {
            SpiEngine::Sqlite(e) => e.as_ref(),
            SpiEngine::Postgres(e) => e.as_ref(),
        }
    }

    /// Whether the database is a server's (its transactions and notifications are the server's).
    pub fn is_remote(&self) -> bool {
        matches!(self, SpiEngine::Postgres(_))
    }
}

/// The catalog checks: the role, then the database, as a client connection makes them, minus what `flags`
/// bypass.
pub fn check(
    catalog: &Catalog,
    db: &DbTarget,
    user: &RoleTarget,
    flags: u32,
) -> Result<(Role, Option<Database>), ConnectError> {
    let internal = |e: catalog::CatalogError| ConnectError::fatal(e.to_string());
    let role = match user {
        RoleTarget::Bootstrap => catalog
            .role_by_oid(BOOTSTRAP_SUPERUSER_OID)
            .map_err(internal)?
            .ok_or_else(|| ConnectError::fatal(format!("role with OID {BOOTSTRAP_SUPERUSER_OID} does not exist")))?,
        RoleTarget::Name(name) => catalog
            .role(name)
            .map_err(internal)?
            .ok_or_else(|| ConnectError::fatal(format!("role \"{name}\" does not exist")))?,
        RoleTarget::Oid(oid) => catalog
            .role_by_oid(*oid)
            .map_err(internal)?
            .ok_or_else(|| ConnectError::fatal(format!("role with OID {oid} does not exist")))?,
    };
    if !role.can_login && flags & BGWORKER_BYPASS_ROLELOGINCHECK == 0 {
        return Err(ConnectError::fatal(format!("role \"{}\" is not permitted to log in", role.name))
            .hint("Pass BGWORKER_BYPASS_ROLELOGINCHECK to connect as a role without LOGIN."));
    }
    let database = match db {
        DbTarget::None => None,
        DbTarget::Name(name) => Some(
            catalog
                .database(name)
                .map_err(internal)?
                .ok_or_else(|| ConnectError::fatal(format!("database \"{name}\" does not exist")))?,
        ),
        DbTarget::Oid(oid) => Some(
            catalog
                .database_by_oid(*oid)
                .map_err(internal)?
                .ok_or_else(|| ConnectError::fatal(format!("database {oid} does not exist")))?,
        ),
    };
    if let Some(d) = &database {
        if !d.allow_connections && flags & BGWORKER_BYPASS_ALLOWCONN == 0 {
            return Err(ConnectError::fatal(format!("database \"{}\" is not currently accepting connections", d.name))
                .hint("Pass BGWORKER_BYPASS_ALLOWCONN to connect to a database that does not allow connections."));
        }
    }
    Ok((role, database))
}

/// Checks and opens a connection (no registration or once-only rules: see [`initialize_connection`]).
pub fn open(
    data_dir: &Path,
    db: &DbTarget,
    user: &RoleTarget,
    flags: u32,
    sql: SpiSql,
) -> Result<Session, ConnectError> {
    let catalog = Catalog::open(data_dir).map_err(|e| ConnectError::fatal(e.to_string()))?;
    let (role, database) = check(&catalog, db, user, flags)?;
    drop(catalog);
    let conn = match &database {
        None => None,
        Some(d) => Some(open_engine(data_dir, d, sql)?),
    };
    Ok(Session { role, database, conn })
}

/// Opens database `d` with its engine.
fn open_engine(data_dir: &Path, d: &Database, sql: SpiSql) -> Result<SpiEngine, ConnectError> {
    if let catalog::DatabaseEngine::Postgresql { connection } = &d.engine {
        let refused = |reason: String| {
            ConnectError::fatal(format!("could not connect to the server of database \"{}\": {reason}", d.name))
        };
        let config = catalog::remote::server_config(data_dir, connection).map_err(|e| refused(e.to_string()))?;
        let engine = crate::sql::postgres::PostgresEngine::connect_checked(
            &config,
            Box::new(super::notify::ServerHooks),
            Some(crate::process::interrupts::check_sql),
        )
        .map_err(|e| {
            let mut err = refused(e.message);
            err.detail = e.detail;
            err.hint = e.hint;
            err
        })?;
        return Ok(SpiEngine::Postgres(Box::new(engine)));
    }
    let path = catalog::database_path(data_dir, d.oid);
    let conn = match sql {
        SpiSql::Sqlite => catalog::open_database_file(&path),
        // PostgreSQL's SQL needs what a client session's connection has: the translator's SQL functions and the
        // catalogs (pg_namespace, pg_class, ...), set up as a session's are (see [`set_postgres_sql_setup`]).
        SpiSql::Postgres => {
            crate::sql::sqlite::SqliteEngine::open_sandboxed(Some(&path), |conn| match POSTGRES_SQL_SETUP.get() {
                Some(setup) => setup(conn),
                None => Ok(()),
            })
        }
    }
    .map_err(|e| {
        ConnectError::fatal(format!("could not open database \"{}\" (file \"{}\"): {e}", d.name, path.display()))
    })?;
    super::notify::register_function(&conn)
        .map_err(|e| ConnectError::fatal(format!("could not set up database \"{}\": {e}", d.name)))?;
    Ok(SpiEngine::Sqlite(Box::new(crate::sql::sqlite::SqliteEngine::with_hooks(
        conn,
        match sql {
            SpiSql::Sqlite => crate::sql::sqlite::Options::SPI,
            SpiSql::Postgres => crate::sql::sqlite::Options::SPI_POSTGRES,
        },
        Box::new(super::notify::CommitHooks),
    ))))
}

/// What a connection speaking PostgreSQL's SQL gets besides the translator's own functions: the catalogs and the
/// host's views, as a client session's connection has them. They belong to a higher layer (the backend's), which
/// gives them once, before the first fork ([`set_postgres_sql_setup`]); every worker inherits it.
static POSTGRES_SQL_SETUP: std::sync::OnceLock<fn(&rusqlite::Connection) -> rusqlite::Result<()>> =
    std::sync::OnceLock::new();

/// Sets up [`SpiSql::Postgres`] connections with `setup` (the postmaster, at start). Later calls are ignored.
pub fn set_postgres_sql_setup(setup: fn(&rusqlite::Connection) -> rusqlite::Result<()>) {
    let _ = POSTGRES_SQL_SETUP.set(setup);
}

/// The SQL a worker's SPI speaks on an embedded database (a postgresql-engine database always speaks its
/// server's): the caller decides (see `crate::modules::abi` on which workers speak which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpiSql {
    /// SQLite's own SQL, untyped results (modules written for bgw).
    Sqlite,
    /// PostgreSQL's SQL, translated as a client session's is (extensions written for PostgreSQL).
    Postgres,
}

/// Publishes the connection by oid in this process's entry, race-free against a `DROP DATABASE` (the handshake
/// of [`crate::shmem::procs::ProcEntry::begin_drop`]): refused as "does not exist" if the database is being
/// dropped or was dropped since [`open`] read the catalog.
fn announce(data_dir: &Path, session: &Session) -> Result<(), ConnectError> {
    let (Some(shm), Some(p)) = (crate::shmem::attached(), crate::process::my_proc()) else { return Ok(()) };
    let db_oid = session.database.as_ref().map_or(0, |d| d.oid);
    let gone = |d: &Database| {
        ConnectError::fatal(format!("database \"{}\" does not exist", d.name))
            .detail("It seems to have just been dropped.")
    };
    if !p.announce_connection(shm.procs(), db_oid, session.role.oid) {
        return Err(gone(session.database.as_ref().expect("a database was announced")));
    }
    if let Some(d) = &session.database {
        let still = Catalog::open(data_dir).and_then(|c| c.database_by_oid(d.oid)).map_err(|e| {
            p.clear_database();
            ConnectError::fatal(e.to_string())
        })?;
        if still.is_none() {
            p.clear_database();
            return Err(gone(d));
        }
    }
    Ok(())
}

/// The spec's `BackgroundWorkerInitializeConnection[ByOid]` in this process: checks that the running worker
/// asked for a database connection at registration and has not connected yet, connects, reports the connection
/// and keeps it for SPI.
pub fn initialize_connection(db: DbTarget, user: RoleTarget, flags: u32, sql: SpiSql) -> Result<(), ConnectError> {
    let Some(spec) = crate::process::my_worker::my_spec() else {
        return Err(ConnectError {
            fatal: false,
            message: "BackgroundWorkerInitializeConnection can only be called in a background worker".into(),
            detail: None,
            hint: None,
        });
    };
    if spec.flags & crate::bgworker::types::BGWORKER_BACKEND_DATABASE_CONNECTION == 0 {
        return Err(ConnectError::fatal("database connection requirement not indicated during registration")
            .hint("Register the worker with BGWORKER_BACKEND_DATABASE_CONNECTION (flags \"database\")."));
    }
    let mut state = super::state();
    if let Some(existing) = state.session() {
        let where_ = match &existing.database {
            Some(d) => format!("database \"{}\"", d.name),
            None => "no database (catalog only)".to_string(),
        };
        return Err(ConnectError::fatal(format!(
            "background worker \"{}\" is already connected: a worker may initialize its connection only once",
            spec.name
        ))
        .detail(format!("It is connected to {where_} as role \"{}\".", existing.role.name)));
    }
    let session = open(crate::process::data_dir(), &db, &user, flags, sql)?;
    let datname = session.database.as_ref().map(|d| d.name.clone()).unwrap_or_default();
    announce(crate::process::data_dir(), &session)?;
    crate::elog::report(
        crate::elog::Level::Debug1,
        format!(
            "background worker \"{}\" connected to {} as role \"{}\"",
            spec.name,
            if datname.is_empty() { "no database".to_string() } else { format!("database \"{datname}\"") },
            session.role.name
        ),
    );
    state.set_session(session);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Catalog) {
        let t = tempfile::tempdir().unwrap();
        catalog::create(t.path(), "boss").unwrap();
        let c = rusqlite::Connection::open(catalog::catalog_path(t.path())).unwrap();
        c.execute_batch(
            "INSERT INTO roles (oid, name, superuser, can_login) VALUES (16384, 'nologin', 0, 0);
             UPDATE databases SET allow_connections = 0 WHERE name = 'template1';",
        )
        .unwrap();
        let cat = Catalog::open(t.path()).unwrap();
        (t, cat)
    }

    fn msg(r: Result<(Role, Option<Database>), ConnectError>) -> String {
        r.unwrap_err().message
    }

    #[test]
    fn checks_follow_postgres_and_the_bypass_flags() {
        let (_t, c) = setup();
        let name = |s: &str| DbTarget::Name(s.into());
        let role = |s: &str| RoleTarget::Name(s.into());
        let (r, d) = check(&c, &name("postgres"), &RoleTarget::Bootstrap, 0).unwrap();
        assert_eq!((r.name.as_str(), d.unwrap().oid), ("boss", catalog::POSTGRES_OID));
        let (r, d) = check(&c, &DbTarget::None, &role("boss"), 0).unwrap();
        assert_eq!((r.oid, d), (BOOTSTRAP_SUPERUSER_OID, None));
        assert_eq!(msg(check(&c, &name("postgres"), &role("ghost"), 0)), "role \"ghost\" does not exist");
        assert_eq!(msg(check(&c, &name("nope"), &role("boss"), 0)), "database \"nope\" does not exist");
        assert_eq!(msg(check(&c, &DbTarget::Oid(999), &role("boss"), 0)), "database 999 does not exist");
        assert_eq!(msg(check(&c, &DbTarget::None, &RoleTarget::Oid(4242), 0)), "role with OID 4242 does not exist");
        assert_eq!(
            msg(check(&c, &name("postgres"), &role("nologin"), 0)),
            "role \"nologin\" is not permitted to log in"
        );
        assert!(check(&c, &name("postgres"), &role("nologin"), BGWORKER_BYPASS_ROLELOGINCHECK).is_ok());
        assert_eq!(
            msg(check(&c, &DbTarget::Oid(catalog::TEMPLATE1_OID), &role("boss"), 0)),
            "database \"template1\" is not currently accepting connections"
        );
        assert!(check(&c, &name("template1"), &role("boss"), BGWORKER_BYPASS_ALLOWCONN).is_ok());
        // The role is checked first, as PostgreSQL does.
        assert_eq!(msg(check(&c, &name("nope"), &role("ghost"), 0)), "role \"ghost\" does not exist");
    }

    #[test]
    fn open_connects_to_the_database_file() {
        let (t, _c) = setup();
        let s = open(t.path(), &DbTarget::Name("postgres".into()), &RoleTarget::Bootstrap, 0, SpiSql::Sqlite).unwrap();
        let Some(SpiEngine::Sqlite(engine)) = s.conn else { panic!("a sqlite engine") };
        engine.connection().execute_batch("CREATE TABLE x (a)").unwrap();
        let other = rusqlite::Connection::open(catalog::database_path(t.path(), catalog::POSTGRES_OID)).unwrap();
        let n: i64 = other.query_row("SELECT count(*) FROM x", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
        let s = open(t.path(), &DbTarget::None, &RoleTarget::Bootstrap, 0, SpiSql::Sqlite).unwrap();
        assert!(s.conn.is_none() && s.database.is_none());
    }
}
