//! Resource limits: out of worker slots, out of connections, out of parallel worker slots, and a module asking for
//! more shared memory than there is. Each is a clear error (PostgreSQL's message and SQLSTATE where it has one),
//! refusals leak nothing (after the pressure is gone, exactly the configured number fits again), and the host
//! keeps working: new connections and new launches succeed afterwards.
//!
//! `lifecycle.rs` and `commands.rs` check the first refusal of each kind; these tests check what comes after.

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// Registers a sleeper named `name` with `options` (a JSON object's members, without braces); its handle, or ""
/// when no slot is free (NULL).
fn register(h: &Host, name: &str, members: &str) -> String {
    let sep = if members.is_empty() { "" } else { ", " };
    h.register("bgw", "sleeper", 0, &format!(r#"{{"name": "{name}"{sep}{members}}}"#))
}

/// Waits until the worker behind `handle` is running.
fn wait_started(h: &Host, handle: &str) {
    let pid = h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')"));
    assert!(pid.parse::<i32>().is_ok_and(|p| p > 0), "{handle}: {pid:?}\n{}", h.log());
}

/// Terminates the worker behind `handle` and waits until it is gone.
fn terminate(h: &Host, handle: &str) {
    assert_eq!(
        h.sql(&format!("SELECT bgw_terminate('{handle}'); SELECT bgw_wait_for_shutdown('{handle}')")),
        "t\nstopped"
    );
}

/// Registers sleepers until the host refuses one; returns the handles it accepted.
fn fill(h: &Host, prefix: &str, members: &str, at_most: usize) -> Vec<String> {
    let mut handles = Vec::new();
    for i in 0..=at_most {
        let handle = register(h, &format!("{prefix}{i}"), members);
        if handle.is_empty() {
            break;
        }
        handles.push(handle);
    }
    handles
}

/// `n` refused registrations in one statement (a recursive CTE calling bgw_register): how many got a handle.
fn burst(h: &Host, n: usize, members: &str) -> String {
    let sep = if members.is_empty() { "" } else { ", " };
    h.sql(&format!(
        r#"WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
           SELECT count(bgw_register('bgw', 'sleeper', 0, '{{"name": "burst"{sep}{members}}}')) FROM k"#
    ))
}

fn client(h: &Host) -> Result<postgres::Client, postgres::Error> {
    h.client_config(&os_user(), "postgres").connect_timeout(DEADLINE).connect(postgres::NoTls)
}

#[test]
fn out_of_worker_slots_is_53400_with_a_hint_and_leaks_no_slot() {
    let h = Host::start(Setup::new(BGW).conf("max_worker_processes", "3"));
    let handles = fill(&h, "s", "", 3);
    assert_eq!(handles.len(), 3, "{handles:?}");
    for handle in &handles {
        wait_started(&h, handle);
    }
    // SQL: NULL from bgw_register; bgw_launch fails with PostgreSQL's message, SQLSTATE and hint.
    assert_eq!(register(&h, "refused", ""), "");
    let err = h.psql("SELECT bgw_launch('bgw', 'sleeper')").unwrap_err();
    assert!(err.contains("ERROR:  53400: could not register background process"), "{err}");
    assert!(err.contains("HINT:  You may need to increase \"max_worker_processes\"."), "{err}");
    assert_eq!(burst(&h, 50, ""), "0");
    // The C API inside a worker: with one slot freed for a spawner, its own registrations find none and it says
    // so, and goes on running.
    terminate(&h, &handles[0]);
    let spawner = h.sql(r#"SELECT bgw_register('bgw', 'spawner', 2, '{"name": "greedy"}')"#);
    wait_started(&h, &spawner);
    h.wait_log("spawner \"greedy\": no free background worker slot for worker 1");
    h.wait_log("spawner \"greedy\": no free background worker slot for worker 2");
    assert_eq!(h.sql(&format!("SELECT bgw_status('{spawner}')")), "started");
    // Nothing leaked: with every worker gone, exactly max_worker_processes fit again, and they all start.
    for handle in handles[1..].iter().chain([&spawner]) {
        terminate(&h, handle);
    }
    let again = fill(&h, "again", "", 3);
    assert_eq!(again.len(), 3, "{again:?}\n{}", h.log());
    for handle in &again {
        wait_started(&h, handle);
    }
    assert!(!h.log().contains("PANIC"));
}

#[test]
fn out_of_connections_refuses_each_extra_client_with_53300_and_workers_still_launch() {
    let h = Host::start(Setup::new(BGW).conf("max_connections", "2").conf("superuser_reserved_connections", "0"));
    let mut held: Vec<postgres::Client> = (0..2).map(|_| client(&h).expect("within max_connections")).collect();
    // A burst of clients at once: every one refused with PostgreSQL's FATAL, none waiting or dropped silently.
    let refused: Vec<postgres::Error> = std::thread::scope(|s| {
        let tries: Vec<_> = (0..12).map(|_| s.spawn(|| client(&h).err())).collect();
        tries.into_iter().map(|t| t.join().unwrap().expect("a client beyond max_connections got in")).collect()
    });
    for e in &refused {
        let db = e.as_db_error().unwrap_or_else(|| panic!("not an ErrorResponse: {e}"));
        assert_eq!(db.code(), &postgres::error::SqlState::TOO_MANY_CONNECTIONS);
        assert_eq!(db.severity(), "FATAL");
        assert_eq!(db.message(), "sorry, too many clients already");
    }
    // The sessions already in keep working, and the host still launches workers.
    let pid: i32 = held[0].query_one("SELECT bgw_launch('bgw', 'sleeper')", &[]).unwrap().get(0);
    assert!(pid > 0);
    assert_eq!(held[1].query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1);
    // Refused clients took no connection slot: with one session gone exactly one new client gets in, and with
    // both gone, two.
    drop(held.pop());
    // The client that finds the slot free keeps it (a probe dropped at once frees its slot only once its backend
    // has exited, which a second connection attempt could race).
    let got = std::cell::RefCell::new(None);
    wait_until("a connection slot to be free", || {
        let c = client(&h).ok();
        let ok = c.is_some();
        *got.borrow_mut() = c;
        ok
    });
    let third = got.into_inner().unwrap();
    assert!(client(&h).is_err(), "a third client got in with max_connections = 2");
    drop(third);
    drop(held.pop());
    wait_until("both slots to be free", || {
        let a = client(&h);
        let b = client(&h);
        a.is_ok() && b.is_ok()
    });
    assert!(alive(h.pid()));
}

#[test]
fn out_of_parallel_slots_refuses_only_parallel_workers_and_a_crash_cycle_resets_the_count() {
    let parallel = r#""flags": ["shmem", "parallel"]"#;
    let h = Host::start(Setup::new(BGW).conf("max_parallel_workers", "2").conf("max_worker_processes", "6"));
    let first = fill(&h, "p", parallel, 2);
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(register(&h, "p-refused", parallel), "");
    assert_eq!(burst(&h, 20, parallel), "0");
    let err = h.psql(r#"SELECT bgw_launch('bgw', 'sleeper', 0, '{"flags": ["shmem", "parallel"]}')"#).unwrap_err();
    assert!(err.contains("53400: could not register background process"), "{err}");
    // Ordinary workers still have slots while the parallel ones are used up.
    let plain = register(&h, "plain", "");
    assert!(plain.contains(':'), "{plain:?}");
    wait_started(&h, &plain);
    for handle in &first {
        wait_started(&h, handle);
    }
    // A crash cycle forgets the (never-restart) parallel workers and starts the count again in the new segment:
    // exactly max_parallel_workers fit afterwards, not fewer (a leaked count) and not more.
    let pid: i32 = h.sql(&format!("SELECT bgw_pid('{plain}')")).parse().unwrap();
    signal(pid, SIGKILL);
    h.wait_log("all server processes terminated; reinitializing");
    h.wait_log_count("database system is ready to accept connections", 2);
    let after = fill(&h, "q", parallel, 2);
    assert_eq!(after.len(), 2, "{after:?}\n{}", h.log());
    // Ending one parallel worker frees its parallel slot for the next.
    terminate(&h, &after[0]);
    let next = register(&h, "q-next", parallel);
    assert!(next.contains(':'), "{next:?}");
    wait_started(&h, &next);
    assert_eq!(register(&h, "q-refused", parallel), "");
}

/// A module that reserves 4 kB of shared memory and a worker that asks for an area of main_arg bytes.
const AREA_MODULE: &str = r#"
#include "bgworker.h"

PG_MODULE_MAGIC;

void _PG_init(void);
PGDLLEXPORT void limits_area(Datum main_arg);

void
_PG_init(void)
{
	RequestAddinShmemSpace(4096);
}

void
limits_area(Datum main_arg)
{
	bool found;
	char *area;

	BackgroundWorkerUnblockSignals();
	area = ShmemInitStruct("limits area", (size_t) main_arg, &found);
	elog(LOG, "limits_area: got %zu bytes (found %d, first byte %d)", (size_t) main_arg, (int) found, (int) area[0]);
}
"#;

#[test]
fn too_much_shared_memory_is_a_clear_error_and_the_host_goes_on() {
    let dir = tempfile::Builder::new().prefix("bgwl").tempdir_in("/tmp").unwrap();
    build_c_module_from_text(dir.path(), "limits_area", AREA_MODULE);
    build_c_module(&repo_root().join("crates/bgw/tests/modules/c_greedy.c"), dir.path(), "c_greedy");
    let modules = Setup::new(BGW).library_path(dir.path());

    // At start: a module that requests more than the host allows stops the start, naming itself and the limit.
    let mut h = Host::init(&modules.clone().conf("shared_preload_libraries", "'c_greedy'"));
    let out = h.bgw(&["start"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("module \"c_greedy\" requested too much shared memory (1099511627776 bytes)"), "{err}");
    assert!(err.contains("HINT:  All modules together may request at most 1073741824 bytes."), "{err}");
    // The same data directory starts once the module is no longer preloaded, and works.
    let conf = h.data().join("bgworker.conf");
    let text = std::fs::read_to_string(&conf).unwrap().replace("shared_preload_libraries = 'c_greedy'", "");
    std::fs::write(&conf, text).unwrap();
    h.launch_postmaster(&[]);
    h.wait_ready();
    assert!(h.sql("SELECT bgw_launch('bgw', 'sleeper')").parse::<i32>().is_ok());
    drop(h);

    // At run time: an area larger than the modules reserved is an ERROR in the worker that asked (it exits 1: no
    // crash cycle); the failed request takes nothing, so an area that fits is still there for the next.
    let h = Host::start(modules.conf("shared_preload_libraries", "'limits_area'"));
    let big = h.sql("SELECT bgw_register('limits_area', 'limits_area', 1048576)");
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{big}')")), "stopped");
    h.wait_log("not enough shared memory for data structure \"limits area\" (1048576 bytes requested)");
    let fits = h.sql("SELECT bgw_register('limits_area', 'limits_area', 4000)");
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{fits}')")), "stopped");
    h.wait_log("limits_area: got 4000 bytes (found 0, first byte 0)");
    let log = h.log();
    assert!(!log.contains("reinitializing"), "a refused shared memory request started a crash cycle:\n{log}");
    assert!(h.sql("SELECT bgw_launch('bgw', 'sleeper')").parse::<i32>().is_ok());
}
