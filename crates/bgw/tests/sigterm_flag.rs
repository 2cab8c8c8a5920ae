//! PostgreSQL 19's `die()` as a flag (issue 17, item 7): a worker registered with `BGWORKER_DIE_AT_INTERRUPTS`
//! (flag "die_at_interrupts" in workers.toml or in bgw_register's options) is not ended by SIGTERM at once: the
//! default handler sets `ProcDiePending`, `InterruptPending` and the latch, and the worker ends at its next
//! `CHECK_FOR_INTERRUPTS()` with FATAL "terminating background worker \"%s\" due to administrator command". A
//! registration that does not ask for it keeps the spec's handler, which ends the worker inside the signal handler.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// Sleeps on its latch; on each wake-up logs whether a die request is pending, then checks for interrupts.
const MODULE: &str = r#"
#include "bgworker.h"

PG_MODULE_MAGIC;

void waiter_main(Datum arg);

void
waiter_main(Datum arg)
{
	(void) arg;
	BackgroundWorkerUnblockSignals();
	elog(LOG, "waiter \"%s\": started", MyBgworkerEntry->bgw_name);
	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		elog(LOG, "waiter \"%s\": woke, die pending %d", MyBgworkerEntry->bgw_name, (int) ProcDiePending);
		CHECK_FOR_INTERRUPTS();
	}
}
"#;

fn handle(h: &Host, name: &str) -> String {
    h.wait_sql(&format!("SELECT slot || ':' || generation FROM bgw_workers WHERE name = '{name}' AND pid > 0"), |o| {
        o.contains(':')
    })
}

#[test]
fn sigterm_is_a_flag_only_for_registrations_that_ask() {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "waiter", MODULE);
    let h = Host::start(Setup::new(BGW).library_path(dir.path()).workers(
        r#"
[[worker]]
name = "deferred"
type = "deferred type"
library = "waiter"
function = "waiter_main"
flags = ["shmem", "die_at_interrupts"]
restart = "never"

[[worker]]
name = "immediate"
type = "immediate type"
library = "waiter"
function = "waiter_main"
restart = "never"
"#,
    ));
    h.wait_log("waiter \"deferred\": started");
    h.wait_log("waiter \"immediate\": started");
    let (deferred, immediate) = (handle(&h, "deferred"), handle(&h, "immediate"));
    for handle in [&deferred, &immediate] {
        h.sql(&format!("SELECT bgw_terminate('{handle}')"));
        h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')"));
    }
    let log = h.log();
    // The flag: the worker woke (its latch set by die()), saw the request, and ended at CHECK_FOR_INTERRUPTS.
    assert!(log.contains("waiter \"deferred\": woke, die pending 1"), "{log}");
    assert!(log.contains("terminating background worker \"deferred type\" due to administrator command"), "{log}");
    // The spec's handler: ended inside the handler, never woke.
    assert!(!log.contains("waiter \"immediate\": woke"), "{log}");
    assert!(log.contains("terminating background worker \"immediate type\" due to administrator command"), "{log}");
    for name in ["deferred", "immediate"] {
        assert!(log.contains(&format!("background worker \"{name} type\" (PID")), "{log}");
    }
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers"), "0");
}

#[test]
fn sql_registrations_ask_for_it_with_a_flag() {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "waiter", MODULE);
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    let handle = h.sql(
        "SELECT bgw_register('waiter', 'waiter_main', 0, \
         '{\"name\": \"sql deferred\", \"flags\": [\"shmem\", \"die_at_interrupts\"]}')",
    );
    h.wait_log("waiter \"sql deferred\": started");
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')"));
    let log = h.log();
    assert!(log.contains("waiter \"sql deferred\": woke, die pending 1"), "{log}");
    assert!(log.contains("terminating background worker \"sql deferred\" due to administrator command"), "{log}");
}
