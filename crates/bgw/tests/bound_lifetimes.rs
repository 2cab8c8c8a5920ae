//! Bound lifetimes (issue 17, item 5): a dynamic worker registered with `"bind": "registrant"` is terminated
//! when the session (or worker) that registered it exits, as systemd's `BindsTo` and an OTP link; one that is not
//! bound outlives its registrant, as in PostgreSQL. A worker flagged `interruptible` (PostgreSQL 19's
//! `BGWORKER_INTERRUPTIBLE`) is bound to its database: DROP DATABASE terminates it.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

#[test]
fn a_worker_bound_to_its_session_ends_with_it() {
    let h = Host::start(Setup::new(BGW));
    let mut session = h.client();
    let backend: i32 = session.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let bound: String = session
        .query_one(r#"SELECT bgw_register('bgw', 'sleeper', 0, '{"name": "bound", "bind": "registrant"}')"#, &[])
        .unwrap()
        .get(0);
    let free: String =
        session.query_one(r#"SELECT bgw_register('bgw', 'sleeper', 0, '{"name": "free"}')"#, &[]).unwrap().get(0);
    let pid = h.sql(&format!("SELECT bgw_wait_for_startup('{bound}')"));
    h.sql(&format!("SELECT bgw_wait_for_startup('{free}')"));
    // The session ends (as psql quitting does): its bound worker is terminated, the other one keeps running.
    drop(session);
    h.wait_log(&format!("background worker \"bound\": its registrant (PID {backend}) exited; terminating it"));
    assert_eq!(
        h.wait_sql(&format!("SELECT bgw_exit_reason('{bound}')"), |r| r != "has not ended"),
        "terminated on request (exit code 1)"
    );
    wait_until("the bound worker to exit", || !alive(pid.parse().unwrap()));
    assert_eq!(h.sql("SELECT name, state FROM bgw_workers ORDER BY name"), "free|running");
    // A bad value is refused.
    let err = h.psql(r#"SELECT bgw_register('bgw', 'sleeper', 0, '{"bind": "parent"}')"#).unwrap_err();
    assert!(err.contains("\"bind\" must be \"registrant\" or \"none\""), "{err}");
}

/// PostgreSQL 19's `BGWORKER_INTERRUPTIBLE` (`"interruptible"` in the flags): DROP DATABASE (and ALTER DATABASE
/// ... RENAME TO) terminates such a worker connected to the database instead of waiting for it (and failing with
/// 55006 if it stays); a worker without the flag is waited for, as before.
#[test]
fn an_interruptible_worker_ends_when_its_database_is_dropped() {
    let dir = module_tempdir();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules/c_pg_engine.c");
    build_c_module(&source, dir.path(), "c_pg_engine");
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    h.sql("CREATE DATABASE doomed");
    h.sql("CREATE DATABASE held");
    let launch = |name: &str, db: &str, flags: &str| {
        let options = format!(r#"{{"name": "{name}", "extra": "{db}", "flags": [{flags}]}}"#);
        let handle = h.sql(&format!("SELECT bgw_register('c_pg_engine', 'c_pg_engine_bench', 5, '{options}')"));
        h.wait_log(&format!("c_pg_engine {name}: bench 5 statements"));
        handle
    };
    let inter = launch("inter", "doomed", r#""shmem", "database", "interruptible""#);
    let plain = launch("plain", "held", r#""shmem", "database""#);
    assert_eq!(h.sql("SELECT flags FROM bgw_workers WHERE name = 'inter'"), "shmem,database,interruptible");
    // The interruptible worker is ended by the drop, which succeeds.
    h.sql("DROP DATABASE doomed");
    assert_eq!(
        h.wait_sql(&format!("SELECT bgw_exit_reason('{inter}')"), |r| r != "has not ended"),
        "terminated on request (exit code 1)"
    );
    // The other one is waited for, and the drop fails while it stays.
    let err = h.psql("DROP DATABASE held").unwrap_err();
    assert!(err.contains("database \"held\" is being accessed by other users"), "{err}");
    assert_eq!(h.sql(&format!("SELECT bgw_status('{plain}')")), "started");
    // The flag needs database access, as in PostgreSQL.
    let err =
        h.psql(r#"SELECT bgw_register('bgw', 'sleeper', 0, '{"flags": ["shmem", "interruptible"]}')"#).unwrap_err();
    assert!(err.contains("cannot make background workers interruptible without database access"), "{err}");

    // Renaming a database: the same rules (PostgreSQL 19 terminates interruptible workers for a rename too).
    h.sql("CREATE DATABASE moving");
    let mover = launch("mover", "moving", r#""shmem", "database", "interruptible""#);
    assert_eq!(h.sql("ALTER DATABASE moving RENAME TO moved"), "ALTER DATABASE");
    assert_eq!(
        h.wait_sql(&format!("SELECT bgw_exit_reason('{mover}')"), |r| r != "has not ended"),
        "terminated on request (exit code 1)"
    );
    assert_eq!(h.sql("SELECT datname FROM pg_database WHERE datname LIKE 'mov%'"), "moved");
    let err = h.psql("ALTER DATABASE held RENAME TO elsewhere").unwrap_err();
    assert!(err.contains("database \"held\" is being accessed by other users"), "{err}");
    let err = h.psql("ALTER DATABASE postgres RENAME TO other").unwrap_err();
    assert!(err.contains("current database cannot be renamed"), "{err}");
    let err = h.psql("ALTER DATABASE moved RENAME TO held").unwrap_err();
    assert!(err.contains("database \"held\" already exists"), "{err}");
    let err = h.psql("ALTER DATABASE nowhere RENAME TO somewhere").unwrap_err();
    assert!(err.contains("database \"nowhere\" does not exist"), "{err}");
}
