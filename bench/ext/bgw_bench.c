/*
 * bgw_bench: the benchmark module, one C source for two hosts.
 *
 * Built with PGXS for PostgreSQL 15 and, from the same source with no #ifdef for the host, against bgw's server
 * include tree (bgw's pg_config and PGXS, or `cc -shared -fPIC -I include`). Everything is written once, against
 * PostgreSQL's server API, which bgw implements: RegisterDynamicBackgroundWorker, WaitForBackgroundWorkerStartup/
 * Shutdown, TerminateBackgroundWorker, latches, palloc, shmem_request_hook with AddinShmemInitLock, version-1
 * SQL functions, which the driver creates on both hosts alike with CREATE FUNCTION ... LANGUAGE C.
 *
 * Loaded through shared_preload_libraries, _PG_init registers bgw_bench.static_workers static workers (default 4)
 * that record their pid in a small named shared-memory array and wait on their latch; they restart after 1 s, or at
 * once after a crash-and-restart cycle. Dynamic workers are registered with shared memory access, never restart,
 * and notify the registering backend (bgw_notify_pid = MyProcPid), as the benchmark's rules say.
 *
 * SQL functions (every one runs inside the calling backend, so client round trips are not timed); each returns
 * its samples as text, nanoseconds separated by spaces:
 *   bgw_bench_launch_to_started(n)   register a worker that returns at once, wait for its start; n times
 *   bgw_bench_launch_full_cycle(n)   register it, wait for its shutdown; n times
 *   bgw_bench_burst(k)               register k latch-waiting workers, wait until all started ("start_ns"), then
 *                                    terminate all and wait until all stopped ("terminate_ns"); then, for the
 *                                    timeline, when each worker's main function began, from the first
 *                                    registration: "start_ns terminate_ns began_1 ... began_k"
 *   bgw_bench_terminate_latency(n)   start a latch-waiting worker (not timed), terminate it, wait for its shutdown
 *   bgw_bench_terminate_to_wake(n)   start a worker with its own SIGTERM handler and wait until it waits (not timed);
 *                                    time from the TerminateBackgroundWorker call to the handler's first instruction
 *                                    (CLOCK_MONOTONIC is one clock for every process); n times
 *   bgw_bench_start_idle(k)          start k latch-waiting workers and leave them running (for the scale scenario);
 *                                    returns the time it took
 *   bgw_bench_static_pids()          the static workers' pids as recorded in shared memory ("0" while not started)
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/wait_event.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

PG_MODULE_MAGIC;

#define BENCH_MAX_STATIC 64
#define BENCH_MAX_BURST 1024

/*
 * Shared by the backend that runs a scenario and its workers. Hand-off: a worker writes only its own entry
 * (static_pids[index], began_ns[index - 1], or woke_ns/waiting_pid for the one relay worker alive at a time) with
 * an atomic store; the backend reads them with atomic loads after WaitForBackgroundWorkerStartup/Shutdown or while
 * polling for a pid, and zeroes them before it launches the workers that write them.
 */
typedef struct BenchShared
{
	int nstatic;
	pid_t static_pids[BENCH_MAX_STATIC];
	int64_t woke_ns;
	pid_t waiting_pid;
	int64_t began_ns[BENCH_MAX_BURST];
} BenchShared;

void _PG_init(void);
PGDLLEXPORT void bgw_bench_noop(Datum main_arg);
PGDLLEXPORT void bgw_bench_idle(Datum main_arg);
PGDLLEXPORT void bgw_bench_static(Datum main_arg);
PGDLLEXPORT void bgw_bench_relay(Datum main_arg);

static int bench_static_workers = 4;

#define bench_free_handle(h) pfree(h)
#define bench_alloc(n) palloc(n)
#define bench_free(p) pfree(p)

static BenchShared *
bench_shared(void)
{
	bool found;
	BenchShared *shared;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = (BenchShared *) ShmemInitStruct("bgw_bench static pids", sizeof(BenchShared), &found);
	if (!found)
		memset(shared, 0, sizeof(*shared));
	LWLockRelease(AddinShmemInitLock);
	return shared;
}

/* ---------- timing and results ---------- */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Samples as text: "123 456 ...". The caller frees the buffer. */
static char *
samples_text(const int64_t *samples, int n)
{
	size_t cap = (size_t) n * 21 + 1;
	char *buf = bench_alloc(cap);
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += snprintf(buf + len, cap - len, i ? " %lld" : "%lld", (long long) samples[i]);
	return buf;
}

/* ---------- registration (shared by every scenario) ---------- */

static void
fill_worker(BackgroundWorker *worker, const char *function, int restart, Datum arg)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = restart;
	snprintf(worker->bgw_library_name, MAXPGPATH, "bgw_bench");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_name, BGW_MAXLEN, "bgw_bench %s", function);
	snprintf(worker->bgw_type, BGW_MAXLEN, "bgw_bench");
	worker->bgw_main_arg = arg;
}

static BackgroundWorkerHandle *
launch_arg(const char *function, Datum arg)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	fill_worker(&worker, function, BGW_NEVER_RESTART, arg);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR, (errmsg("could not register background process"),
						errhint("You may need to increase max_worker_processes.")));
	return handle;
}

static BackgroundWorkerHandle *
launch(const char *function)
{
	return launch_arg(function, (Datum) 0);
}

static void
wait_started(BackgroundWorkerHandle *handle, bool may_have_ended)
{
	pid_t pid;
	BgwHandleStatus status = WaitForBackgroundWorkerStartup(handle, &pid);

	/*
	 * A worker that returns at once may be gone before this backend wakes to look: then its pid was published
	 * and cleared again, and both hosts answer BGWH_STOPPED (that wait includes its whole run, so it never flatters).
	 */
	if (status == BGWH_STARTED || (may_have_ended && status == BGWH_STOPPED))
		return;
	ereport(ERROR, (errmsg("could not start background process")));
}

static void
wait_stopped(BackgroundWorkerHandle *handle)
{
	if (WaitForBackgroundWorkerShutdown(handle) != BGWH_STOPPED)
		ereport(ERROR, (errmsg("background process did not stop")));
}

/* ---------- the scenarios ---------- */

static char *
run_launch_to_started(int n)
{
	int64_t *samples = bench_alloc(sizeof(int64_t) * (n > 0 ? n : 1));
	char *text;
	int i;

	for (i = 0; i < n; i++)
	{
		int64_t t0 = now_ns();
		BackgroundWorkerHandle *handle = launch("bgw_bench_noop");

		wait_started(handle, true);
		samples[i] = now_ns() - t0;
		wait_stopped(handle); /* not timed: frees the slot for the next round */
		bench_free_handle(handle);
	}
	text = samples_text(samples, n);
	bench_free(samples);
	return text;
}

static char *
run_launch_full_cycle(int n)
{
	int64_t *samples = bench_alloc(sizeof(int64_t) * (n > 0 ? n : 1));
	char *text;
	int i;

	for (i = 0; i < n; i++)
	{
		int64_t t0 = now_ns();
		BackgroundWorkerHandle *handle = launch("bgw_bench_noop");

		wait_stopped(handle);
		samples[i] = now_ns() - t0;
		bench_free_handle(handle);
	}
	text = samples_text(samples, n);
	bench_free(samples);
	return text;
}

static char *
run_burst(int k)
{
	BackgroundWorkerHandle **handles = bench_alloc(sizeof(*handles) * (k > 0 ? k : 1));
	BenchShared *shared = bench_shared();
	int64_t *samples = bench_alloc(sizeof(int64_t) * (2 + (k > 0 ? k : 1)));
	int64_t t0;
	int64_t start_t0;
	char *text;
	int i;

	for (i = 0; i < k && i < BENCH_MAX_BURST; i++)
		__atomic_store_n(&shared->began_ns[i], 0, __ATOMIC_SEQ_CST);
	t0 = start_t0 = now_ns();
	/* Worker i + 1 records when its main function began (0: no record, beyond BENCH_MAX_BURST). */
	for (i = 0; i < k; i++)
		handles[i] = launch_arg("bgw_bench_idle", Int32GetDatum(i < BENCH_MAX_BURST ? i + 1 : 0));
	for (i = 0; i < k; i++)
		wait_started(handles[i], false);
	samples[0] = now_ns() - t0;

	t0 = now_ns();
	for (i = 0; i < k; i++)
		TerminateBackgroundWorker(handles[i]);
	for (i = 0; i < k; i++)
		wait_stopped(handles[i]);
	samples[1] = now_ns() - t0;

	/*
	 * Read after every worker has stopped: a worker is "started" once its pid is published, possibly before its
	 * main function runs, but it records before it unblocks signals, so before a termination can end it.
	 */
	for (i = 0; i < k; i++)
	{
		int64_t began = i < BENCH_MAX_BURST ? __atomic_load_n(&shared->began_ns[i], __ATOMIC_SEQ_CST) : 0;

		samples[2 + i] = began > 0 ? began - start_t0 : -1;
	}

	for (i = 0; i < k; i++)
		bench_free_handle(handles[i]);
	bench_free(handles);
	text = samples_text(samples, 2 + k);
	bench_free(samples);
	return text;
}

static char *
run_terminate_latency(int n)
{
	int64_t *samples = bench_alloc(sizeof(int64_t) * (n > 0 ? n : 1));
	char *text;
	int i;

	for (i = 0; i < n; i++)
	{
		BackgroundWorkerHandle *handle = launch("bgw_bench_idle");
		int64_t t0;

		wait_started(handle, false); /* not timed */
		t0 = now_ns();
		TerminateBackgroundWorker(handle);
		wait_stopped(handle);
		samples[i] = now_ns() - t0;
		bench_free_handle(handle);
	}
	text = samples_text(samples, n);
	bench_free(samples);
	return text;
}

static char *
run_terminate_to_wake(int n)
{
	BenchShared *shared = bench_shared();
	int64_t *samples = bench_alloc(sizeof(int64_t) * (n > 0 ? n : 1));
	char *text;
	int i;

	for (i = 0; i < n; i++)
	{
		BackgroundWorkerHandle *handle;
		pid_t pid;
		int64_t t0;
		int64_t woke;

		__atomic_store_n(&shared->woke_ns, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&shared->waiting_pid, 0, __ATOMIC_SEQ_CST);
		handle = launch("bgw_bench_relay");
		if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
			ereport(ERROR, (errmsg("could not start background process")));
		/* Not timed: until the worker has its handler installed and sleeps on its latch. */
		while (__atomic_load_n(&shared->waiting_pid, __ATOMIC_SEQ_CST) != pid)
		{
			struct timespec pause = {0, 20000};

			nanosleep(&pause, NULL);
		}
		t0 = now_ns();
		TerminateBackgroundWorker(handle);
		wait_stopped(handle);
		woke = __atomic_load_n(&shared->woke_ns, __ATOMIC_SEQ_CST);
		if (woke == 0)
			ereport(ERROR, (errmsg("the worker's SIGTERM handler did not run")));
		samples[i] = woke - t0;
		bench_free_handle(handle);
	}
	text = samples_text(samples, n);
	bench_free(samples);
	return text;
}

static char *
run_start_idle(int k)
{
	int64_t t0 = now_ns();
	int64_t took;
	int i;

	for (i = 0; i < k; i++)
	{
		BackgroundWorkerHandle *handle = launch("bgw_bench_idle");

		wait_started(handle, false);
		bench_free_handle(handle);
	}
	took = now_ns() - t0;
	return samples_text(&took, 1);
}

static char *
run_static_pids(void)
{
	BenchShared *shared = bench_shared();
	int64_t pids[BENCH_MAX_STATIC];
	int n = bench_static_workers < BENCH_MAX_STATIC ? bench_static_workers : BENCH_MAX_STATIC;
	int i;

	for (i = 0; i < n; i++)
		pids[i] = __atomic_load_n(&shared->static_pids[i], __ATOMIC_SEQ_CST);
	return samples_text(pids, n);
}

/* ---------- the workers ---------- */

void
bgw_bench_noop(Datum main_arg)
{
	(void) main_arg;
}

/* Wait on the latch until terminated: SIGTERM's default handling in a worker ends it. */
static void
idle_loop(void)
{
	BackgroundWorkerUnblockSignals();
	for (;;)
	{
		WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, 0, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

void
bgw_bench_idle(Datum main_arg)
{
	int index = DatumGetInt32(main_arg);

	if (index > 0 && index <= BENCH_MAX_BURST)
		__atomic_store_n(&bench_shared()->began_ns[index - 1], now_ns(), __ATOMIC_SEQ_CST);
	idle_loop();
}

/* The relay worker: its own SIGTERM handler records when it ran (the first thing it does), then the worker exits. */
static volatile sig_atomic_t relay_terminated = 0;
static BenchShared *relay_shared = NULL;

static void
relay_sigterm(SIGNAL_ARGS)
{
	int save_errno = errno;

	__atomic_store_n(&relay_shared->woke_ns, now_ns(), __ATOMIC_SEQ_CST);
	relay_terminated = 1;
	SetLatch(MyLatch);
	errno = save_errno;
}

void
bgw_bench_relay(Datum main_arg)
{
	(void) main_arg;
	relay_shared = bench_shared();
	pqsignal(SIGTERM, relay_sigterm);
	BackgroundWorkerUnblockSignals();
	__atomic_store_n(&relay_shared->waiting_pid, MyProcPid, __ATOMIC_SEQ_CST);
	while (!relay_terminated)
	{
		WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, 0, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}

void
bgw_bench_static(Datum main_arg)
{
	int index = DatumGetInt32(main_arg);

	if (index >= 0 && index < BENCH_MAX_STATIC)
		__atomic_store_n(&bench_shared()->static_pids[index], MyProcPid, __ATOMIC_SEQ_CST);
	idle_loop();
}

/* ---------- SQL glue ---------- */

/*
 * BENCH_SQL_FUNCTION(name, call) defines the version-1 SQL function `name`: `call` may use `arg`, the function's
 * integer argument (0 when it has none), and returns the palloc'ed text to hand back.
 */
static shmem_request_hook_type prev_shmem_request_hook = NULL;

static void
bench_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(BenchShared));
}

static Datum
text_result(char *buf)
{
	text *t = cstring_to_text(buf);

	pfree(buf);
	PG_RETURN_TEXT_P(t);
}

#define BENCH_SQL_FUNCTION(name, call) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) \
	{ \
		int arg = PG_NARGS() > 0 ? PG_GETARG_INT32(0) : 0; \
		(void) arg; \
		return text_result(call); \
	}

BENCH_SQL_FUNCTION(bgw_bench_launch_to_started, run_launch_to_started(arg))
BENCH_SQL_FUNCTION(bgw_bench_launch_full_cycle, run_launch_full_cycle(arg))
BENCH_SQL_FUNCTION(bgw_bench_burst, run_burst(arg))
BENCH_SQL_FUNCTION(bgw_bench_terminate_latency, run_terminate_latency(arg))
BENCH_SQL_FUNCTION(bgw_bench_terminate_to_wake, run_terminate_to_wake(arg))
BENCH_SQL_FUNCTION(bgw_bench_start_idle, run_start_idle(arg))
BENCH_SQL_FUNCTION(bgw_bench_static_pids, run_static_pids())

void
_PG_init(void)
{
	BackgroundWorker worker;
	int i;

	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("bgw_bench.static_workers", "Static workers to register.", NULL, &bench_static_workers,
							4, 0, BENCH_MAX_STATIC, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("bgw_bench");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = bench_shmem_request;
	for (i = 0; i < bench_static_workers; i++)
	{
		fill_worker(&worker, "bgw_bench_static", 1, Int32GetDatum(i));
		snprintf(worker.bgw_name, BGW_MAXLEN, "bgw_bench static %d", i);
		RegisterBackgroundWorker(&worker);
	}
}
