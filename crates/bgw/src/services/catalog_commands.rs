//! CREATE / ALTER / DROP DATABASE and ROLE, and LISTEN / UNLISTEN / NOTIFY (which the catalog's parser also
//! recognises): privileges, PostgreSQL's checks and messages, then one catalog transaction.
//!
//! Runs in a backend process.

use super::ShmemHost;
use crate::backend::host::SqlError;
use crate::shmem;
use crate::sync::Ordering;

fn notice(message: String) -> SqlError {
    let mut e = SqlError::warning("00000", message);
    e.severity = crate::backend::host::Severity::Notice;
    e
}

/// How long `DROP DATABASE` waits for the processes connected to the database to go away before refusing, as
/// PostgreSQL's `CountOtherDBBackends` (50 looks, 100 ms apart): a session that just disconnected may not be reaped
/// yet.
const DROP_WAIT_LOOKS: u32 = 50;
const DROP_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(100);

/// Other live processes (sessions and workers) connected to database `oid`, this one excluded, after waiting
/// for them to go away as PostgreSQL does. Call it with the drop marked ([`DropMark`]).
fn sessions_using(oid: u32) -> usize {
    let me = std::process::id() as i32;
    let Some(shm) = shmem::attached() else { return 0 };
    let mut n = crate::shmem::procs::connected_to(shm.procs(), oid, me);
    for _ in 1..DROP_WAIT_LOOKS {
        if n == 0 {
            break;
        }
        std::thread::sleep(DROP_WAIT_STEP);
        n = crate::shmem::procs::connected_to(shm.procs(), oid, me);
    }
    n
}

/// What DROP DATABASE and ALTER DATABASE ... RENAME need first: no other process connected to database `oid`
/// (`name`). Marks the database, terminates its interruptible workers (PostgreSQL 19's rule), then counts: a
/// process connecting meanwhile either is counted or sees the mark (and is refused with 3D000); one connecting
/// after the command commits no longer finds the database under its old name. The mark lasts as long as the
/// returned guard. 55006 with PostgreSQL's message if others stay.
fn no_one_connected(name: &str, oid: u32) -> Result<DropMark, SqlError> {
    let mark = DropMark::new(oid);
    terminate_interruptible_workers(oid);
    let others = sessions_using(oid);
    if others > 0 {
        let detail = if others == 1 {
            "There is 1 other session using the database.".to_string()
        } else {
            format!("There are {others} other sessions using the database.")
        };
        return Err(SqlError::error("55006", format!("database \"{name}\" is being accessed by other users"))
            .with_detail(detail));
    }
    Ok(mark)
}

/// PostgreSQL 19's rule for `BGWORKER_INTERRUPTIBLE` workers: DROP DATABASE terminates those connected to the
/// database (as TerminateBackgroundWorker: they are not restarted) instead of waiting for them; the others are
/// waited for as before. Not a hot path: every process entry is looked at once.
fn terminate_interruptible_workers(oid: u32) {
    let Some(shm) = shmem::attached() else { return };
    for entry in shm.procs() {
        let slot = entry.worker_slot.load(crate::sync::Ordering::Relaxed);
        if entry.pid.load(crate::sync::Ordering::Acquire) <= 0 || slot < 0 || entry.database_oid() != oid {
            continue;
        }
        let Some((copy, _)) = shm.slots().copy_locked(slot as u32) else { continue };
        if copy.payload.worker.bgw_flags & crate::bgworker::types::BGWORKER_INTERRUPTIBLE != 0 {
            let handle = crate::bgworker::handle::Handle { slot: slot as u32, generation: copy.generation };
            let _ = crate::dynamic::terminate_background_worker(handle);
        }
    }
}

/// This process's mark "database `oid` is being dropped" in its process entry, for as long as the value lives
/// (the protocol: [`crate::shmem::procs::ProcEntry::begin_drop`]). Made while the catalog's write lock is held,
/// and dropped after the catalog commits or the command fails.
struct DropMark(Option<&'static crate::shmem::procs::ProcEntry>);

impl DropMark {
    fn new(oid: u32) -> DropMark {
        let p = crate::process::my_proc();
        if let Some(p) = p {
            p.begin_drop(oid);
        }
        DropMark(p)
    }
}

impl Drop for DropMark {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            p.end_drop();
        }
    }
}

/// The engine CREATE DATABASE's options ask for: `sqlite` (the default) or `postgresql` with a connection string
/// the catalog may keep.
fn database_engine(options: &crate::catalog::ddl::DatabaseOptions) -> Result<crate::catalog::DatabaseEngine, SqlError> {
    use crate::catalog::DatabaseEngine;
    match (options.engine.as_deref(), &options.connection) {
        (None | Some("sqlite"), None) => Ok(DatabaseEngine::Sqlite),
        (None | Some("sqlite"), Some(_)) => {
            Err(SqlError::error("22023", "the sqlite engine takes no connection string")
                .with_hint("Use ENGINE = postgresql for a database on a PostgreSQL server."))
        }
        (Some("postgresql"), Some(connection)) => {
            check_connection(connection)?;
            Ok(DatabaseEngine::Postgresql { connection: connection.clone() })
        }
        (Some("postgresql"), None) => Err(SqlError::error("22023", "the postgresql engine needs a connection string")
            .with_hint("Add CONNECTION = 'host=... port=... dbname=... user=...'.")),
        (Some(other), _) => Err(SqlError::error("22023", format!("database engine \"{other}\" does not exist"))
            .with_hint("The engines are sqlite and postgresql.")),
    }
}

/// A connection string checked as the catalog may keep it (no password: that goes in the password file).
fn check_connection(connection: &str) -> Result<(), SqlError> {
    crate::catalog::remote::check_connection(connection).map(drop).map_err(|e| {
        let err = SqlError::error(e.sqlstate(), e.to_string());
        match e.hint() {
            Some(hint) => err.with_hint(hint),
            None => err,
        }
    })
}

/// CREATE/ALTER/DROP DATABASE and ROLE: privileges, PostgreSQL's checks and messages, then the catalog.
pub(super) fn run_catalog_command(host: &ShmemHost, sql: &str, in_transaction_block: bool) -> Result<String, SqlError> {
    use crate::catalog::ddl::{parse, CatalogCommand};
    let cmd = parse(sql).map_err(|m| SqlError::error("42601", m))?;
    if in_standby() {
        return Err(SqlError::error("25006", format!("cannot execute {} in a read-only transaction", cmd.tag())));
    }
    if in_transaction_block
        && matches!(cmd, CatalogCommand::CreateDatabase { .. } | CatalogCommand::DropDatabase { .. })
    {
        return Err(SqlError::error("25001", format!("{} cannot run inside a transaction block", cmd.tag())));
    }
    match &cmd {
        CatalogCommand::Listen(channel) => {
            if channel.is_empty() || channel.len() >= crate::shmem::notify::CHANNEL_LEN {
                return Err(SqlError::error("22023", "invalid channel name"));
            }
            host.queue_listen(Some(channel), true);
            return Ok(cmd.tag().to_string());
        }
        CatalogCommand::Unlisten(channel) => {
            host.queue_listen(channel.as_deref(), false);
            return Ok(cmd.tag().to_string());
        }
        CatalogCommand::Notify { channel, payload } => {
            host.queue_notify(channel, payload)?;
            return Ok(cmd.tag().to_string());
        }
        _ => {}
    }
    let data_dir = crate::process::data_dir();
    let internal = |e: crate::catalog::CatalogError| SqlError::error("XX000", e.to_string());
    let mut cat = crate::catalog::Catalog::open(data_dir).map_err(internal)?;
    // The command's checks and changes are one transaction: a failure part-way (DROP ROLE a, missing) changes
    // nothing, and concurrent commands cannot pick the same new oid.
    cat.begin().map_err(internal)?;
    let superuser = host.is_superuser();
    let denied = |m: String| SqlError::error("42501", m);
    match &cmd {
        CatalogCommand::CreateDatabase { name, options } => {
            if !superuser {
                return Err(denied("permission denied to create database".into()));
            }
            let engine = database_engine(options)?;
            if cat.database(name).map_err(internal)?.is_some() {
                return Err(SqlError::error("42P04", format!("database \"{name}\" already exists")));
            }
            cat.create_database(data_dir, name, options.allow_connections.unwrap_or(true), &engine)
                .map_err(internal)?;
        }
        CatalogCommand::AlterDatabase { name, options } => {
            if !superuser {
                return Err(denied(format!("must be owner of database {name}")));
            }
            let Some(db) = cat.database(name).map_err(internal)? else {
                return Err(SqlError::error("3D000", format!("database \"{name}\" does not exist")));
            };
            if options.engine.as_deref().is_some_and(|e| e != db.engine.name()) {
                return Err(SqlError::error("0A000", "changing the engine of a database is not supported"));
            }
            if let Some(connection) = &options.connection {
                if db.engine == crate::catalog::DatabaseEngine::Sqlite {
                    return Err(SqlError::error(
                        "22023",
                        format!("database \"{name}\" has the sqlite engine, which takes no connection string"),
                    ));
                }
                check_connection(connection)?;
                cat.set_connection(db.oid, connection).map_err(internal)?;
            }
            if let Some(allow) = options.allow_connections {
                cat.set_allow_connections(name, allow).map_err(internal)?;
            }
        }
        CatalogCommand::DropDatabase { name, if_exists } => {
            if !superuser {
                return Err(denied(format!("must be owner of database {name}")));
            }
            let Some(db) = cat.database(name).map_err(internal)? else {
                if *if_exists {
                    host.notices.borrow_mut().push(notice(format!("database \"{name}\" does not exist, skipping")));
                    return Ok(cmd.tag().to_string());
                }
                return Err(SqlError::error("3D000", format!("database \"{name}\" does not exist")));
            };
            if db.oid == host.db_oid.get() {
                return Err(SqlError::error("55006", "cannot drop the currently open database"));
            }
            let mark = no_one_connected(name, db.oid)?;
            cat.drop_database(data_dir, &db).map_err(internal)?;
            cat.commit().map_err(internal)?;
            drop(mark);
            return Ok(cmd.tag().to_string());
        }
        CatalogCommand::RenameDatabase { name, new_name } => {
            if !superuser {
                return Err(denied(format!("must be owner of database {name}")));
            }
            let Some(db) = cat.database(name).map_err(internal)? else {
                return Err(SqlError::error("3D000", format!("database \"{name}\" does not exist")));
            };
            if cat.database(new_name).map_err(internal)?.is_some() {
                return Err(SqlError::error("42P04", format!("database \"{new_name}\" already exists")));
            }
            if db.oid == host.db_oid.get() {
                return Err(SqlError::error("0A000", "current database cannot be renamed"));
            }
            // As DROP DATABASE: no process may be connected to it.
            let mark = no_one_connected(name, db.oid)?;
            cat.rename_database(db.oid, new_name).map_err(internal)?;
            cat.commit().map_err(internal)?;
            drop(mark);
            return Ok(cmd.tag().to_string());
        }
        CatalogCommand::CreateRole { name, options } => {
            if !superuser {
                return Err(denied("permission denied to create role".into()));
            }
            if cat.role(name).map_err(internal)?.is_some() {
                return Err(SqlError::error("42710", format!("role \"{name}\" already exists")));
            }
            let verifier = options.password.clone().flatten().map(|p| crate::catalog::scram::verifier(&p));
            cat.create_role(
                name,
                options.superuser.unwrap_or(false),
                options.login.unwrap_or(false),
                verifier.as_deref(),
            )
            .map_err(internal)?;
        }
        CatalogCommand::AlterRole { name, options, current } => {
            // CURRENT_USER and friends: the session's role, by oid.
            let role = if *current {
                cat.role_by_oid(host.role_oid.get()).map_err(internal)?
            } else {
                cat.role(name).map_err(internal)?
            }
            .ok_or_else(|| SqlError::error("42704", format!("role \"{name}\" does not exist")))?;
            if !superuser {
                // As PostgreSQL: a role may change its own password (and nothing else about itself); only a
                // superuser touches a superuser, the superuser attribute, or other roles.
                if role.superuser || options.superuser.is_some() {
                    return Err(denied(
                        "must be superuser to alter superuser roles or change superuser attribute".into(),
                    ));
                }
                let own_password_only =
                    role.oid == host.role_oid.get() && options.login.is_none() && options.password.is_some();
                if !own_password_only {
                    return Err(denied("permission denied".into()));
                }
            }
            let verifier = options.password.clone().map(|p| p.map(|p| crate::catalog::scram::verifier(&p)));
            cat.alter_role(role.oid, options.superuser, options.login, verifier.as_ref().map(|v| v.as_deref()))
                .map_err(internal)?;
        }
        CatalogCommand::DropRole { names, if_exists } => {
            if !superuser {
                return Err(denied("permission denied to drop role".into()));
            }
            for name in names {
                let Some(role) = cat.role(name).map_err(internal)? else {
                    if *if_exists {
                        host.notices.borrow_mut().push(notice(format!("role \"{name}\" does not exist, skipping")));
                        continue;
                    }
                    return Err(SqlError::error("42704", format!("role \"{name}\" does not exist")));
                };
                if role.oid == host.role_oid.get() {
                    return Err(SqlError::error("55006", "current user cannot be dropped"));
                }
                if role.oid == crate::catalog::BOOTSTRAP_SUPERUSER_OID {
                    return Err(SqlError::error(
                        "2BP01",
                        format!("cannot drop role {name} because it is required by the database system"),
                    ));
                }
                cat.drop_role(role.oid).map_err(internal)?;
            }
        }
        CatalogCommand::Listen(_) | CatalogCommand::Unlisten(_) | CatalogCommand::Notify { .. } => {}
    }
    cat.commit().map_err(internal)?;
    Ok(cmd.tag().to_string())
}

/// Whether the host is a standby that has not been promoted (sessions are then read-only).
pub(super) fn in_standby() -> bool {
    shmem::attached()
        .is_some_and(|s| s.header().phase.load(Ordering::Acquire) == crate::shmem::Phase::HotStandby as u32)
}
