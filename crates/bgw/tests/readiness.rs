//! Readiness (issue 17, item 1), through the real binary and SQL: a worker reports ready (the built-in
//! `ready_after` calls the host's `report_ready`, as `BackgroundWorkerReportReady` does), its state becomes
//! `ready`, `bgw_wait_for_ready` and `bgw_launch(... '{"wait": "ready"}')` wait for it (with a timeout that
//! returns NULL), a start timeout ends a worker that does not get there (a failed start: exit reason
//! "start_timeout", restarted by its policy), and a worker that stops first is an error for the waiter.
//!
//! The same through the C ABI (`BackgroundWorkerReportReady`, `WaitForBackgroundWorkerReady`,
//! `TerminateBackgroundWorkerWithGrace`, `GetBackgroundWorkerExitReason`) from a module of the test's own.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn register(h: &Host, function: &str, arg: i64, options: &str) -> String {
    h.sql(&format!("SELECT bgw_register('bgw', '{function}', {arg}, '{options}')"))
}

#[test]
fn started_is_not_ready_and_waits_tell_them_apart() {
    let h = Host::start(Setup::new(BGW));
    let slow = register(&h, "ready_after", 1500, r#"{"name": "slow"}"#);
    let pid = h.sql(&format!("SELECT bgw_wait_for_startup('{slow}')"));
    // Started (forked, pid published) but not ready yet: a short wait for readiness times out with NULL.
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_ready('{slow}', '50 ms') IS NULL")), "t");
    assert_eq!(h.sql("SELECT state FROM bgw_workers WHERE name = 'slow'"), "running");
    // Then ready, with the same process.
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_ready('{slow}')")), pid);
    assert_eq!(h.sql("SELECT state FROM bgw_workers WHERE name = 'slow'"), "ready");

    // bgw_launch waits for readiness when asked to.
    let pid = h.sql(r#"SELECT bgw_launch('bgw', 'ready_after', 200, '{"name": "quick", "wait": "ready"}')"#);
    assert_eq!(h.sql("SELECT pid, state FROM bgw_workers WHERE name = 'quick'"), format!("{pid}|ready"));

    // PostgreSQL's named notation: `wait => 'ready'`, the parameters left out taking their defaults.
    let pid = h.sql("SELECT bgw_launch('bgw', 'ready_after', 100, '{\"name\": \"named\"}', wait => 'ready')");
    assert_eq!(h.sql("SELECT pid, state FROM bgw_workers WHERE name = 'named'"), format!("{pid}|ready"));
    let pid = h.sql("SELECT bgw_launch(function => 'ready_after', library => 'bgw', main_arg => 100, wait => 'ready')");
    assert_eq!(h.sql(&format!("SELECT state FROM bgw_workers WHERE pid = {pid}")), "ready");
    let err = h.psql("SELECT bgw_launch('bgw', 'sleeper', wait => 'ready', wait => 'ready')").unwrap_err();
    assert!(err.contains("argument name \"wait\" used more than once"), "{err}");
    let err = h.psql("SELECT bgw_launch('bgw', 'sleeper', hurry => true)").unwrap_err();
    assert!(err.contains("42883") || err.contains("does not exist"), "{err}");

    // A worker that stops before it is ready is an error for its waiter, pointing at the exit reason.
    let gone = register(&h, "exit_with", 1, r#"{"name": "gone", "flags": []}"#);
    let err = h.psql(&format!("SELECT bgw_wait_for_ready('{gone}')")).unwrap_err();
    assert!(err.contains("stopped before it was ready"), "{err}");
    assert!(err.contains("bgw_exit_reason"), "{err}");
}

#[test]
fn a_start_timeout_ends_a_worker_that_is_not_ready_in_time() {
    let h = Host::start(Setup::new(BGW));
    let never = register(
        &h,
        "ready_after",
        3_600_000,
        r#"{"name": "never", "restart": 0, "start_timeout": 0.3, "give_up": {"restarts": 1, "within": 600}}"#,
    );
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{never}')")).parse().unwrap();
    h.wait_log(&format!(
        "background worker \"never\" (PID {pid}) did not report ready within its start timeout of 0.3 s; terminating it"
    ));
    // A failed start: restarted once by its policy, timed out again, then given up on.
    let row = h.wait_sql("SELECT state, starts FROM bgw_workers WHERE name = 'never'", |r| r.starts_with("failed"));
    assert_eq!(row, "failed|2");
    assert!(h.log().matches("did not report ready within its start timeout").count() >= 2);
    // Its last run's own reason was the timeout; the policy's verdict replaced it.
    assert_eq!(h.sql(&format!("SELECT bgw_exit_reason('{never}')")), "its restart policy gave up");
    // A worker that gets ready in time is left alone.
    let fine = register(&h, "ready_after", 50, r#"{"name": "fine", "start_timeout": 30}"#);
    h.sql(&format!("SELECT bgw_wait_for_ready('{fine}')"));
    assert!(!h.log().contains("\"fine\" (PID"), "{}", h.log());
}

/// The C calls beyond the spec, from a module: a worker reports ready with `BackgroundWorkerReportReady`; another
/// registers it, waits with `WaitForBackgroundWorkerReady`, ends it with `TerminateBackgroundWorkerWithGrace` and
/// reads `GetBackgroundWorkerExitReason`, logging what it saw.
const SUPERVISE_MODULE: &str = r#"
#include "bgworker.h"
#include <string.h>
#include <unistd.h>

PG_MODULE_MAGIC;

void ready_main(Datum arg);
void supervisor_main(Datum arg);

void
ready_main(Datum arg)
{
	(void) arg;
	BackgroundWorkerUnblockSignals();
	usleep(100 * 1000);
	BackgroundWorkerReportReady();
	for (;;)
	{
		int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1, PG_WAIT_EXTENSION);
		(void) rc;
		ResetLatch(MyLatch);
	}
}

void
supervisor_main(Datum arg)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *h;
	pid_t pid = 0;
	BgwHandleStatus st;
	BgwExitInfo info;

	(void) arg;
	BackgroundWorkerUnblockSignals();
	memset(&w, 0, sizeof(w));
	snprintf(w.bgw_name, BGW_MAXLEN, "readied");
	snprintf(w.bgw_type, BGW_MAXLEN, "readied");
	snprintf(w.bgw_library_name, MAXPGPATH, "supervise");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "ready_main");
	w.bgw_flags = BGWORKER_SHMEM_ACCESS;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	w.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&w, &h))
		elog(FATAL, "could not register");
	st = WaitForBackgroundWorkerReady(h, &pid, 10);
	elog(LOG, "supervisor: early wait %d", (int) st);
	st = WaitForBackgroundWorkerReady(h, &pid, -1);
	elog(LOG, "supervisor: ready %d pid %d", (int) st, (int) pid);
	TerminateBackgroundWorkerWithGrace(h, 2000);
	st = WaitForBackgroundWorkerShutdown(h);
	if (!GetBackgroundWorkerExitReason(h, &info))
		elog(FATAL, "no exit record");
	elog(LOG, "supervisor: exit reason %d detail %d starts %u ended %d", info.reason, info.detail, info.starts,
		 info.ended_at_us > 0);
	proc_exit(0);
}
"#;

#[test]
fn the_c_calls_report_wait_terminate_and_explain() {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "supervise", SUPERVISE_MODULE);
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    h.sql("SELECT bgw_register('supervise', 'supervisor_main', 0, '{\"name\": \"supervisor\"}')");
    // BGWH_NOT_YET_STARTED (1) for the short wait, then BGWH_STARTED (0) with the pid, then the reason:
    // BGW_EXIT_TERMINATED (3), detail exit code 1, started once.
    let log = h.wait_log("supervisor: exit reason");
    assert!(log.contains("supervisor: early wait 1"), "{log}");
    assert!(log.contains("supervisor: ready 0 pid "), "{log}");
    assert!(log.contains("supervisor: exit reason 3 detail 1 starts 1 ended 1"), "{log}");
}
