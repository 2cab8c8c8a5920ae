//! Registrant binding and queued registration through the C ABI (issue 17, items 5 and 6): a C worker registers a
//! child with `BGWORKER_BIND_REGISTRANT` through `RegisterDynamicBackgroundWorkerWait`; with every slot taken a
//! short wait answers false, a long one gets the slot that frees; when the C worker exits, the host terminates the
//! child; a static registration that asks for the binding is refused. (The SDK's `bind_to_registrant` and
//! `register_dynamic_wait` are tested with the `bgw_testing` module, crates/bgw-testing/tests/module.rs.)
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

const PARENT_MODULE: &str = r#"
#include "bgworker.h"
#include <string.h>

PG_MODULE_MAGIC;

void parent_main(Datum arg);

void
parent_main(Datum arg)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *h;
	pid_t pid = 0;
	bool ok;

	(void) arg;
	BackgroundWorkerUnblockSignals();
	memset(&w, 0, sizeof(w));
	snprintf(w.bgw_name, BGW_MAXLEN, "bound child");
	snprintf(w.bgw_type, BGW_MAXLEN, "bound child");
	snprintf(w.bgw_library_name, MAXPGPATH, "bgw");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "sleeper");
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BIND_REGISTRANT;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	w.bgw_notify_pid = MyProcPid;
	ok = RegisterDynamicBackgroundWorkerWait(&w, &h, 50);
	elog(LOG, "parent: short wait %s", ok ? "true" : "false");
	if (!ok)
		ok = RegisterDynamicBackgroundWorkerWait(&w, &h, 60000);
	if (!ok)
		elog(FATAL, "parent: no slot");
	if (WaitForBackgroundWorkerStartup(h, &pid) != BGWH_STARTED)
		elog(FATAL, "parent: the child did not start");
	elog(LOG, "parent: child started with pid %d", (int) pid);
	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}
"#;

#[test]
fn a_c_worker_waits_for_a_slot_and_its_bound_child_ends_with_it() {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "parent", PARENT_MODULE);
    let h = Host::start(
        Setup::new(BGW).library_path(dir.path()).conf("max_worker_processes", "2").conf("log_min_messages", "debug1"),
    );
    let blocker = h.sql("SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"blocker\"}')");
    let parent = h.sql("SELECT bgw_register('parent', 'parent_main', 0, '{\"name\": \"parent\"}')");
    assert!(parent.contains(':'), "the second slot was free: {parent:?}");
    // The parent's short wait found no slot; its long wait queues until the blocker's slot frees.
    h.wait_log("parent: short wait false");
    h.wait_log("background worker \"bound child\" waits for a free slot");
    h.sql(&format!("SELECT bgw_terminate('{blocker}')"));
    h.wait_log("parent: child started with pid");
    let child = h.wait_worker_pid("bound child");
    // The parent exits: the host terminates the child bound to it.
    h.sql(&format!("SELECT bgw_terminate('{parent}')"));
    h.wait_log("background worker \"bound child\": its registrant (PID");
    h.wait_log(&format!("(PID {child}) exited"));
    h.wait_sql("SELECT count(*) FROM bgw_workers", |n| n == "0");
}

/// A preloaded module registers a static worker asking for the binding: there is no registrant to bind it to, so
/// the registration is refused and logged (as the spec refuses a static worker that asks for notifications).
const STATIC_MODULE: &str = r#"
#include "bgworker.h"
#include <string.h>

PG_MODULE_MAGIC;

void _PG_init(void);
void idle_main(Datum arg);

void
idle_main(Datum arg)
{
	(void) arg;
}

void
_PG_init(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	snprintf(w.bgw_name, BGW_MAXLEN, "static bound");
	snprintf(w.bgw_library_name, MAXPGPATH, "staticbind");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "idle_main");
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BIND_REGISTRANT;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	RegisterBackgroundWorker(&w);
}
"#;

#[test]
fn a_static_registration_cannot_be_bound_to_a_registrant() {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "staticbind", STATIC_MODULE);
    let h = Host::start(Setup::new(BGW).library_path(dir.path()).conf("shared_preload_libraries", "'staticbind'"));
    h.wait_log("background worker \"static bound\": only dynamic background workers can be bound to their registrant");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'static bound'"), "0");
}
