//! The catalog: roles and databases, kept in `global/catalog.db` (SQLite, WAL) in the data directory, and the
//! database files themselves, `base/<oid>.db`.
//!
//! `bgw initdb` creates it with a bootstrap superuser (the OS user's name, or `--username`) and the databases
//! `postgres` and `template1`; the postmaster creates it at start for a data directory made before the catalog
//! existed. Backends read it when a client connects (does the role exist, may it log in, does the database exist,
//! does it accept connections). Every query here takes its values as parameters, never by formatting SQL. Beside
//! it, [`secret`] keeps the server secret password authentication derives mock salts from.
//!
//! Each database has an engine ([`DatabaseEngine`]): `sqlite`, its data in the file `base/<oid>.db` (the
//! default), or `postgresql`, its data on a PostgreSQL server (or anything speaking its protocol) that the
//! catalog names with a libpq connection string, never holding a password; [`remote`] reads that string and the
//! host's password file. Creating, altering or dropping such a database changes only this catalog, never the
//! server's data.
//!
//! Runs in: `bgw initdb`, the postmaster at start, backends at connection.

pub mod ddl;
pub mod remote;
pub mod scram;
pub mod secret;

use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// PostgreSQL's oids for the bootstrap superuser and the two databases initdb creates.
pub const BOOTSTRAP_SUPERUSER_OID: u32 = 10;
pub const TEMPLATE1_OID: u32 = 1;
pub const POSTGRES_OID: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("could not access the catalog \"{path}\": {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error("could not create directory \"{path}\": {source}")]
    Io { path: String, source: std::io::Error },
    #[error("could not create the server secret \"{path}\": {source}")]
    Secret { path: String, source: std::io::Error },
}

/// A role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub oid: u32,
    pub name: String,
    pub superuser: bool,
    pub can_login: bool,
}

/// A database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub oid: u32,
    pub name: String,
    pub allow_connections: bool,
    pub engine: DatabaseEngine,
}

/// Where a database's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseEngine {
    /// The SQLite file `base/<oid>.db` in the data directory.
    Sqlite,
    /// A PostgreSQL server: `connection` is a libpq connection string (keyword/value or URI) without a password
    /// ([`remote::server_config`] adds it from the password file).
    Postgresql { connection: String },
}

impl DatabaseEngine {
    /// The engine's name as SQL spells it (`ENGINE = sqlite`).
    pub fn name(&self) -> &'static str {
        match self {
            DatabaseEngine::Sqlite => "sqlite",
            DatabaseEngine::Postgresql { .. } => "postgresql",
        }
    }

    fn from_columns(engine: &str, connection: Option<String>) -> DatabaseEngine {
        match (engine, connection) {
            ("postgresql", Some(connection)) => DatabaseEngine::Postgresql { connection },
            _ => DatabaseEngine::Sqlite,
        }
    }
}

/// The columns a [`Database`] is read from, in [`database_row`]'s order.
const DATABASE_COLUMNS: &str = "oid, name, allow_connections, engine, connection";

fn database_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Database> {
    let engine: String = r.get(3)?;
    Ok(Database {
        oid: r.get(0)?,
        name: r.get(1)?,
        allow_connections: r.get(2)?,
        engine: DatabaseEngine::from_columns(&engine, r.get(4)?),
    })
}

/// `global/catalog.db` in `data_dir`.
pub fn catalog_path(data_dir: &Path) -> PathBuf {
    data_dir.join("global").join("catalog.db")
}

/// The file of database `oid`.
pub fn database_path(data_dir: &Path, oid: u32) -> PathBuf {
    data_dir.join("base").join(format!("{oid}.db"))
}

/// Whether `data_dir` has a catalog.
pub fn exists(data_dir: &Path) -> bool {
    catalog_path(data_dir).is_file()
}

fn sqlite_err(path: &Path) -> impl Fn(rusqlite::Error) -> CatalogError + '_ {
    move |source| CatalogError::Sqlite { path: path.display().to_string(), source }
}

/// Opens (creating if needed) a SQLite file the way every database of the host is used: WAL, durable commits,
/// writers that meet a writer wait instead of failing at once.
pub fn open_database_file(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    conn.pragma_update(None, "synchronous", "full")?;
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    Ok(conn)
}

/// Creates the catalog and the initial databases. `superuser` names the bootstrap superuser.
pub fn create(data_dir: &Path, superuser: &str) -> Result<(), CatalogError> {
    for dir in ["global", "base"] {
        let p = data_dir.join(dir);
        std::fs::create_dir_all(&p).map_err(|source| CatalogError::Io { path: p.display().to_string(), source })?;
    }
    let path = catalog_path(data_dir);
    let err = sqlite_err(&path);
    let mut conn = open_database_file(&path).map_err(&err)?;
    let tx = conn.transaction().map_err(&err)?;
    tx.execute_batch(
        "CREATE TABLE roles (
             oid INTEGER PRIMARY KEY,
             name TEXT NOT NULL UNIQUE,
             superuser INTEGER NOT NULL,
             can_login INTEGER NOT NULL,
             password TEXT
         );
         CREATE TABLE databases (
             oid INTEGER PRIMARY KEY,
             name TEXT NOT NULL UNIQUE,
             allow_connections INTEGER NOT NULL,
             engine TEXT NOT NULL DEFAULT 'sqlite',
             connection TEXT
         );",
    )
    .map_err(&err)?;
    tx.execute(
        "INSERT INTO roles (oid, name, superuser, can_login) VALUES (?1, ?2, 1, 1)",
        params![BOOTSTRAP_SUPERUSER_OID, superuser],
    )
    .map_err(&err)?;
    for (oid, name) in [(TEMPLATE1_OID, "template1"), (POSTGRES_OID, "postgres")] {
        tx.execute("INSERT INTO databases (oid, name, allow_connections) VALUES (?1, ?2, 1)", params![oid, name])
            .map_err(&err)?;
    }
    tx.commit().map_err(&err)?;
    let secret = secret::secret_path(data_dir);
    secret::ensure_secret(data_dir)
        .map_err(|source| CatalogError::Secret { path: secret.display().to_string(), source })?;
    for oid in [TEMPLATE1_OID, POSTGRES_OID] {
        let p = database_path(data_dir, oid);
        open_database_file(&p).map_err(sqlite_err(&p))?;
    }
    Ok(())
}

/// Brings a catalog made by an earlier version up to this one's columns (databases' engines). Run by the
/// postmaster at start, before any backend reads the catalog.
pub fn upgrade(data_dir: &Path) -> Result<(), CatalogError> {
    let path = catalog_path(data_dir);
    let err = sqlite_err(&path);
    let conn = open_database_file(&path).map_err(&err)?;
    let has_engine: bool = conn
        .query_row("SELECT count(*) FROM pragma_table_info('databases') WHERE name = 'engine'", [], |r| r.get(0))
        .map_err(&err)?;
    if !has_engine {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE databases ADD COLUMN engine TEXT NOT NULL DEFAULT 'sqlite';
             ALTER TABLE databases ADD COLUMN connection TEXT;
             COMMIT;",
        )
        .map_err(&err)?;
    }
    Ok(())
}

/// A read connection to the catalog.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

impl Catalog {
    pub fn open(data_dir: &Path) -> Result<Catalog, CatalogError> {
        let path = catalog_path(data_dir);
        let conn = open_database_file(&path).map_err(sqlite_err(&path))?;
        Ok(Catalog { conn, path })
    }

    /// Starts a write transaction (waiting for another writer of the catalog): one command's changes commit
    /// together with [`Catalog::commit`]; dropping the catalog before that rolls them back.
    pub fn begin(&self) -> Result<(), CatalogError> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err(&self.path))
    }

    pub fn commit(&self) -> Result<(), CatalogError> {
        self.conn.execute_batch("COMMIT").map_err(sqlite_err(&self.path))
    }

    pub fn role(&self, name: &str) -> Result<Option<Role>, CatalogError> {
        self.conn
            .query_row("SELECT oid, name, superuser, can_login FROM roles WHERE name = ?1", params![name], |r| {
                Ok(Role { oid: r.get(0)?, name: r.get(1)?, superuser: r.get(2)?, can_login: r.get(3)? })
            })
            .optional()
            .map_err(sqlite_err(&self.path))
    }

    pub fn role_by_oid(&self, oid: u32) -> Result<Option<Role>, CatalogError> {
        self.conn
            .query_row("SELECT oid, name, superuser, can_login FROM roles WHERE oid = ?1", params![oid], |r| {
                Ok(Role { oid: r.get(0)?, name: r.get(1)?, superuser: r.get(2)?, can_login: r.get(3)? })
            })
            .optional()
            .map_err(sqlite_err(&self.path))
    }

    pub fn database_by_oid(&self, oid: u32) -> Result<Option<Database>, CatalogError> {
        self.conn
            .query_row(&format!("SELECT {DATABASE_COLUMNS} FROM databases WHERE oid = ?1"), params![oid], database_row)
            .optional()
            .map_err(sqlite_err(&self.path))
    }

    /// Adds a database (a sqlite-engine database's file is created too; a postgresql-engine one has none).
    /// Returns its oid. The name must be new (the caller checked; the unique constraint guards against a race).
    pub fn create_database(
        &mut self,
        data_dir: &Path,
        name: &str,
        allow_connections: bool,
        engine: &DatabaseEngine,
    ) -> Result<u32, CatalogError> {
        let err = sqlite_err(&self.path);
        let tx = self.conn.savepoint().map_err(&err)?; // nests in a command's transaction
        let oid: u32 = tx
            .query_row("SELECT max(16384, coalesce(max(oid), 0) + 1) FROM databases", [], |r| r.get(0))
            .map_err(&err)?;
        let connection = match engine {
            DatabaseEngine::Sqlite => None,
            DatabaseEngine::Postgresql { connection } => Some(connection.as_str()),
        };
        tx.execute(
            "INSERT INTO databases (oid, name, allow_connections, engine, connection) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![oid, name, allow_connections, engine.name(), connection],
        )
        .map_err(&err)?;
        if *engine == DatabaseEngine::Sqlite {
            let file = database_path(data_dir, oid);
            open_database_file(&file).map_err(sqlite_err(&file))?;
        }
        tx.commit().map_err(&err)?;
        Ok(oid)
    }

    pub fn set_allow_connections(&self, name: &str, allow: bool) -> Result<bool, CatalogError> {
        let n = self
            .conn
            .execute("UPDATE databases SET allow_connections = ?2 WHERE name = ?1", params![name, allow])
            .map_err(sqlite_err(&self.path))?;
        Ok(n > 0)
    }

    /// Renames database `oid` (its file is named by oid, so only the catalog changes).
    pub fn rename_database(&self, oid: u32, new_name: &str) -> Result<(), CatalogError> {
        self.conn
            .execute("UPDATE databases SET name = ?2 WHERE oid = ?1", params![oid, new_name])
            .map_err(sqlite_err(&self.path))?;
        Ok(())
    }

    /// Points a postgresql-engine database at another connection string (the server's data is not touched).
    pub fn set_connection(&self, oid: u32, connection: &str) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "UPDATE databases SET connection = ?2 WHERE oid = ?1 AND engine = 'postgresql'",
                params![oid, connection],
            )
            .map_err(sqlite_err(&self.path))?;
        Ok(())
    }

    /// Removes a database from the catalog and deletes its files (a postgresql-engine database has none: the
    /// server's data stays where it is).
    pub fn drop_database(&self, data_dir: &Path, db: &Database) -> Result<(), CatalogError> {
        self.conn.execute("DELETE FROM databases WHERE oid = ?1", params![db.oid]).map_err(sqlite_err(&self.path))?;
        if db.engine == DatabaseEngine::Sqlite {
            let file = database_path(data_dir, db.oid);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
        Ok(())
    }

    /// Adds a role; `password` is already a verifier.
    pub fn create_role(
        &self,
        name: &str,
        superuser: bool,
        login: bool,
        password: Option<&str>,
    ) -> Result<u32, CatalogError> {
        let err = sqlite_err(&self.path);
        let oid: u32 = self
            .conn
            .query_row("SELECT max(16384, coalesce(max(oid), 0) + 1) FROM roles", [], |r| r.get(0))
            .map_err(&err)?;
        self.conn
            .execute(
                "INSERT INTO roles (oid, name, superuser, can_login, password) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![oid, name, superuser, login, password],
            )
            .map_err(&err)?;
        Ok(oid)
    }

    /// Changes what is given of a role.
    pub fn alter_role(
        &self,
        oid: u32,
        superuser: Option<bool>,
        login: Option<bool>,
        password: Option<Option<&str>>,
    ) -> Result<(), CatalogError> {
        let err = sqlite_err(&self.path);
        if let Some(s) = superuser {
            self.conn.execute("UPDATE roles SET superuser = ?2 WHERE oid = ?1", params![oid, s]).map_err(&err)?;
        }
        if let Some(l) = login {
            self.conn.execute("UPDATE roles SET can_login = ?2 WHERE oid = ?1", params![oid, l]).map_err(&err)?;
        }
        if let Some(p) = password {
            self.conn.execute("UPDATE roles SET password = ?2 WHERE oid = ?1", params![oid, p]).map_err(&err)?;
        }
        Ok(())
    }

    pub fn drop_role(&self, oid: u32) -> Result<(), CatalogError> {
        self.conn.execute("DELETE FROM roles WHERE oid = ?1", params![oid]).map_err(sqlite_err(&self.path))?;
        Ok(())
    }

    /// A role's stored password verifier.
    pub fn password_verifier(&self, name: &str) -> Result<Option<String>, CatalogError> {
        self.conn
            .query_row("SELECT password FROM roles WHERE name = ?1", params![name], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(sqlite_err(&self.path))
    }

    /// Every role, by oid.
    pub fn roles(&self) -> Result<Vec<Role>, CatalogError> {
        let err = sqlite_err(&self.path);
        let mut stmt =
            self.conn.prepare("SELECT oid, name, superuser, can_login FROM roles ORDER BY oid").map_err(&err)?;
        let rows = stmt
            .query_map([], |r| Ok(Role { oid: r.get(0)?, name: r.get(1)?, superuser: r.get(2)?, can_login: r.get(3)? }))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Every database, by oid.
    pub fn databases(&self) -> Result<Vec<Database>, CatalogError> {
        let err = sqlite_err(&self.path);
        let mut stmt =
            self.conn.prepare(&format!("SELECT {DATABASE_COLUMNS} FROM databases ORDER BY oid")).map_err(&err)?;
        let rows = stmt.query_map([], database_row).map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    pub fn database(&self, name: &str) -> Result<Option<Database>, CatalogError> {
        self.conn
            .query_row(
                &format!("SELECT {DATABASE_COLUMNS} FROM databases WHERE name = ?1"),
                params![name],
                database_row,
            )
            .optional()
            .map_err(sqlite_err(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initdb_catalog_has_the_bootstrap_superuser_and_two_databases() {
        let t = tempfile::tempdir().unwrap();
        create(t.path(), "alice").unwrap();
        let c = Catalog::open(t.path()).unwrap();
        let alice = c.role("alice").unwrap().unwrap();
        assert_eq!((alice.oid, alice.superuser, alice.can_login), (BOOTSTRAP_SUPERUSER_OID, true, true));
        assert!(c.role("bob").unwrap().is_none());
        assert_eq!(c.database("postgres").unwrap().unwrap().oid, POSTGRES_OID);
        assert_eq!(c.database("template1").unwrap().unwrap().oid, TEMPLATE1_OID);
        assert!(c.database("nope").unwrap().is_none());
        assert_eq!(c.role_by_oid(BOOTSTRAP_SUPERUSER_OID).unwrap().unwrap().name, "alice");
        assert_eq!(c.database_by_oid(POSTGRES_OID).unwrap().unwrap().name, "postgres");
        assert_eq!(c.roles().unwrap().iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["alice"]);
        let databases: Vec<_> = c.databases().unwrap().into_iter().map(|d| d.oid).collect();
        assert_eq!(databases, [TEMPLATE1_OID, POSTGRES_OID]);
        assert!(c.database_by_oid(999).unwrap().is_none());
        assert!(database_path(t.path(), POSTGRES_OID).is_file());
        // A name that looks like SQL is just a name.
        assert!(c.role("x' OR '1'='1").unwrap().is_none());
    }
}
