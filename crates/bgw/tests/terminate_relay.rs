//! A termination signalled by the terminator itself (issue 18: TerminateBackgroundWorker -> the worker's SIGTERM
//! handler without a relay through the postmaster), with the spec's guarantees kept: the worker gets one SIGTERM
//! per registration however often it is terminated, a terminated worker is not restarted whatever its exit code,
//! its exit reason says it was terminated, and a handle whose run has ended signals nobody.
//!
//! The worker is a C module of this file's own with a SIGTERM handler that counts. Every host is stopped when its
//! test ends, failed or not.

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

const RELAY: &str = r#"
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/wait_event.h"

#include <signal.h>
#include <string.h>

PG_MODULE_MAGIC;

PGDLLEXPORT void relay_main(Datum arg);

static volatile sig_atomic_t sigterms = 0;
static volatile pid_t sender = 0;

/* SA_SIGINFO: who sent it (the terminating session itself, not the postmaster). */
static void
count_sigterm(int signo, siginfo_t *info, void *context)
{
	(void) signo;
	(void) context;
	sigterms++;
	sender = info->si_pid;
	SetLatch(MyLatch);
}

void
relay_main(Datum arg)
{
	(void) arg;
	struct sigaction act;

	memset(&act, 0, sizeof(act));
	act.sa_sigaction = count_sigterm;
	act.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGTERM, &act, NULL);
	BackgroundWorkerUnblockSignals();
	elog(LOG, "relay worker %d started", MyProcPid);
	while (sigterms == 0)
	{
		WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, 0, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	/* Time for a second SIGTERM to arrive, if anyone sent one. */
	WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 500, PG_WAIT_EXTENSION);
	elog(LOG, "relay worker %d got %d SIGTERM from %d", MyProcPid, (int) sigterms, (int) sender);
	/* Exit code 1: a worker that was not terminated would be restarted. */
	proc_exit(1);
}
"#;

#[test]
fn a_terminated_worker_gets_one_sigterm_and_is_not_restarted() {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "relay", RELAY);
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    let handle = h.sql(r#"SELECT bgw_register('relay', 'relay_main', 0, '{"name": "relay", "restart": 1}')"#);
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')")).parse().unwrap();
    h.wait_log(&format!("relay worker {pid} started"));
    // Terminated twice, from two sessions: one SIGTERM, sent by the first session itself (not relayed by the
    // postmaster).
    let mut c = h.client();
    let session: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    c.batch_execute(&format!("SELECT bgw_terminate('{handle}')")).unwrap();
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    let log = h.wait_log(&format!("relay worker {pid} got "));
    assert!(log.contains(&format!("relay worker {pid} got 1 SIGTERM from {session}")), "{log}");
    let reason = h.wait_sql(&format!("SELECT bgw_exit_reason('{handle}')"), |r| r != "has not ended");
    assert_eq!(reason, "terminated on request (exit code 1)");
    assert_eq!(h.sql(&format!("SELECT bgw_status('{handle}')")), "stopped");
    // Its restart interval (1 s) passes: it stays stopped, started once.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(h.log().matches("relay worker ").count(), 2, "{}", h.log());
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'relay'"), "0");
    // The ended handle signals nobody (its slot may be reused meanwhile: the next registration is not touched).
    let next = h.sql(r#"SELECT bgw_register('relay', 'relay_main', 0, '{"name": "next", "restart": "never"}')"#);
    let next_pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{next}')")).parse().unwrap();
    h.wait_log(&format!("relay worker {next_pid} started"));
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!h.log().contains(&format!("relay worker {next_pid} got")), "{}", h.log());
    assert!(alive(next_pid));
    h.sql(&format!("SELECT bgw_terminate('{next}')"));
    h.wait_log(&format!("relay worker {next_pid} got 1 SIGTERM from"));
}
