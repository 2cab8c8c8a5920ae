/*
 * c_hello: a background worker module in C, written against the spec's API (include/bgworker.h).
 *
 * Loaded through shared_preload_libraries, its _PG_init registers a static worker. Its functions can also be
 * launched dynamically, from SQL or from another worker:
 *
 *   c_hello_main(naptime_ms)   waits on its latch, logs its first ticks, reloads configuration on SIGHUP,
 *                              ends on SIGTERM (through die and CHECK_FOR_INTERRUPTS) or postmaster death
 *   c_hello_launcher(0)        registers a c_hello_main worker from inside a worker, waits for it to start,
 *                              terminates it, waits for it to stop
 *   c_hello_fail(n)            raises an ERROR with a detail (the worker logs it and exits with code 1)
 *
 * Build: cc -shared -fPIC -I include modules/c_hello/c_hello.c -o c_hello.so
 */
#include "bgworker.h"

#include <stdlib.h>
#include <string.h>

PG_MODULE_MAGIC;

void _PG_init(void);
PGDLLEXPORT void c_hello_main(Datum main_arg);
PGDLLEXPORT void c_hello_launcher(Datum main_arg);
PGDLLEXPORT void c_hello_fail(Datum main_arg);

static void
fill_worker(BackgroundWorker *worker, const char *name, const char *function, int restart, Datum arg)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = restart;
	snprintf(worker->bgw_library_name, MAXPGPATH, "c_hello");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker->bgw_type, BGW_MAXLEN, "c_hello");
	worker->bgw_main_arg = arg;
}

void
_PG_init(void)
{
	BackgroundWorker worker;

	fill_worker(&worker, "c_hello static", "c_hello_main", 5, Int32GetDatum(200));
	RegisterBackgroundWorker(&worker);
}

void
c_hello_main(Datum main_arg)
{
	int naptime = DatumGetInt32(main_arg);
	int ticks = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	ereport(LOG, (errmsg("%s started with naptime %d ms", MyBgworkerEntry->bgw_name, naptime)));
	for (;;)
	{
		int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, naptime, PG_WAIT_EXTENSION);

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			elog(LOG, "%s: reloaded configuration", MyBgworkerEntry->bgw_name);
		}
		if ((rc & WL_TIMEOUT) && ++ticks <= 3)
			elog(LOG, "%s: tick %d", MyBgworkerEntry->bgw_name, ticks);
	}
}

void
c_hello_launcher(Datum main_arg)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	pid_t pid;

	(void) main_arg;
	BackgroundWorkerUnblockSignals();
	fill_worker(&worker, "c_hello child", "c_hello_main", BGW_NEVER_RESTART, Int32GetDatum(1000));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR, (errmsg("could not register background process"),
						errhint("You may need to increase max_worker_processes.")));
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		ereport(ERROR, (errmsg("could not start background process")));
	elog(LOG, "c_hello launcher started worker with PID %d (type %s)", (int) pid, GetBackgroundWorkerTypeByPid(pid));
	TerminateBackgroundWorker(handle);
	if (WaitForBackgroundWorkerShutdown(handle) != BGWH_STOPPED)
		ereport(ERROR, (errmsg("the worker did not stop")));
	elog(LOG, "c_hello launcher saw worker %d stop", (int) pid);
	free(handle);
}

void
c_hello_fail(Datum main_arg)
{
	BackgroundWorkerUnblockSignals();
	ereport(ERROR, (errmsg("c_hello failed on purpose"), errdetail("main argument %d", DatumGetInt32(main_arg))));
}
