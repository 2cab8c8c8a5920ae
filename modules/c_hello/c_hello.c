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
 *   c_hello_params(0)          logs its parameters at start and after each reload
 *
 * SQL functions (defined in _PG_init, so only when preloaded):
 *   c_hello_launch(naptime_ms) registers a c_hello_main worker from the backend, waits for it, returns its pid
 *   c_hello_echo(text)         returns 'c_hello says: <text>' (and c_hello_echo(a, b), another function)
 *   c_hello_raise(text)        raises an ERROR with that text (the statement fails, the session goes on)
 *   c_hello_count()            the shared counter (named shared memory "c_hello counter")
 *   c_hello_divide(a, b)       a / b; division by zero is reported with bgw_sql_error (SQLSTATE 22012)
 *
 * Worker c_hello_bump(n) adds n to the shared counter and exits; c_hello_register_late tries a static
 * registration outside preload (refused, as the spec says).
 *
 * Parameters (defined in _PG_init, so only when preloaded): c_hello.naptime (ms, reloadable), c_hello.greeting
 * (text, reloadable), c_hello.verbose (bool, reloadable), c_hello.ratio (real, reloadable), c_hello.mode (enum
 * slow/fast, reloadable), c_hello.workers (integer, restart-only).
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
PGDLLEXPORT void c_hello_params(Datum main_arg);
PGDLLEXPORT void c_hello_bump(Datum main_arg);
PGDLLEXPORT void c_hello_register_late(Datum main_arg);

typedef struct CHelloShared
{
	int64_t counter;
} CHelloShared;

static int c_hello_naptime = 1000;
static char *c_hello_greeting = NULL;
static bool c_hello_verbose = false;
static double c_hello_ratio = 0.5;
static int c_hello_mode = 0;
static int c_hello_workers = 1;

static int c_hello_launch(int nargs, const BgwSqlValue *args, BgwSqlValue *result);
static int c_hello_echo(int nargs, const BgwSqlValue *args, BgwSqlValue *result);
static int c_hello_echo2(int nargs, const BgwSqlValue *args, BgwSqlValue *result);
static int c_hello_raise(int nargs, const BgwSqlValue *args, BgwSqlValue *result);
static int c_hello_count(int nargs, const BgwSqlValue *args, BgwSqlValue *result);
static int c_hello_divide(int nargs, const BgwSqlValue *args, BgwSqlValue *result);

static const struct config_enum_entry mode_options[] = {
	{"slow", 0, false},
	{"fast", 1, false},
	{NULL, 0, false},
};

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

	/* Parameters in every process that loads the module; the rest only while preloaded (as worker_spi). */
	DefineCustomIntVariable("c_hello.naptime", "Nap between ticks.", NULL, &c_hello_naptime, 1000, 1, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("c_hello.greeting", "What to say.", NULL, &c_hello_greeting, "hello", PGC_SIGHUP, 0,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("c_hello.verbose", "Say more.", NULL, &c_hello_verbose, false, PGC_SIGHUP, 0, NULL,
							 NULL, NULL);
	DefineCustomRealVariable("c_hello.ratio", "A fraction.", NULL, &c_hello_ratio, 0.5, 0.0, 1.0, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomEnumVariable("c_hello.mode", "How fast.", NULL, &c_hello_mode, 0, mode_options, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("c_hello.workers", "How many.", NULL, &c_hello_workers, 1, 0, 100, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("c_hello");

	if (!process_shared_preload_libraries_in_progress)
		return;

	fill_worker(&worker, "c_hello static", "c_hello_main", 5, Int32GetDatum(200));
	RegisterBackgroundWorker(&worker);

	bgw_define_sql_function("c_hello_launch", 1, BGW_SQL_INT8, BGW_SQLFN_SUPERUSER, c_hello_launch);
	bgw_define_sql_function("c_hello_echo", 1, BGW_SQL_TEXT, 0, c_hello_echo);
	bgw_define_sql_function("c_hello_echo", 2, BGW_SQL_TEXT, 0, c_hello_echo2);
	bgw_define_sql_function("c_hello_raise", 1, BGW_SQL_TEXT, 0, c_hello_raise);
	bgw_define_sql_function("c_hello_count", 0, BGW_SQL_INT8, 0, c_hello_count);
	bgw_define_sql_function("c_hello_divide", 2, BGW_SQL_INT8, 0, c_hello_divide);
	RequestAddinShmemSpace(sizeof(CHelloShared));

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
	ResetLatch(MyLatch);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR, (errmsg("could not register background process"),
						errhint("You may need to increase max_worker_processes.")));
	/* bgw_notify_pid: the postmaster's SIGUSR1 when the worker starts sets our latch. */
	elog(LOG, "c_hello launcher: start notification %s",
		 (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 20000L, PG_WAIT_EXTENSION) & WL_LATCH_SET)
		 ? "received" : "missing");
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		ereport(ERROR, (errmsg("could not start background process")));
	elog(LOG, "c_hello launcher started worker with PID %d (type %s)", (int) pid, GetBackgroundWorkerTypeByPid(pid));
	ResetLatch(MyLatch);
	TerminateBackgroundWorker(handle);
	/* ... and again when it exits. */
	elog(LOG, "c_hello launcher: exit notification %s",
		 (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 20000L, PG_WAIT_EXTENSION) & WL_LATCH_SET)
		 ? "received" : "missing");
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

static void
log_params(const char *when)
{
	elog(LOG, "c_hello params %s: naptime=%d greeting=%s verbose=%s ratio=%g mode=%s workers=%d", when,
		 c_hello_naptime, c_hello_greeting ? c_hello_greeting : "(null)", c_hello_verbose ? "on" : "off",
		 c_hello_ratio, c_hello_mode ? "fast" : "slow", c_hello_workers);
}

void
c_hello_params(Datum main_arg)
{
	(void) main_arg;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	log_params("at start");
	for (;;)
	{
		WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, 0, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			log_params("after reload");
		}
	}
}

static int
c_hello_launch(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	pid_t pid;
	int naptime = (nargs > 0 && args[0].kind == BGW_SQL_INT8) ? (int) args[0].int8 : 1000;

	fill_worker(&worker, "c_hello launched", "c_hello_main", BGW_NEVER_RESTART, Int32GetDatum(naptime));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR, (errmsg("could not register background process"),
						errhint("You may need to increase max_worker_processes.")));
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		ereport(ERROR, (errmsg("could not start background process")));
	free(handle);
	result->kind = BGW_SQL_INT8;
	result->int8 = pid;
	return 0;
}

static int
c_hello_echo(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	char buf[256];

	if (nargs < 1 || args[0].kind == BGW_SQL_NULL)
		return 0; /* NULL in, NULL out */
	snprintf(buf, sizeof(buf), "c_hello says: %s", args[0].kind == BGW_SQL_TEXT ? args[0].text : "(not text)");
	bgw_sql_result_text(result, buf);
	return 0;
}

static int
c_hello_echo2(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	char buf[256];

	if (nargs < 2 || args[0].kind != BGW_SQL_TEXT || args[1].kind != BGW_SQL_TEXT)
		return 0;
	snprintf(buf, sizeof(buf), "c_hello says twice: %s %s", args[0].text, args[1].text);
	bgw_sql_result_text(result, buf);
	return 0;
}

static int
c_hello_divide(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	if (nargs < 2 || args[0].kind != BGW_SQL_INT8 || args[1].kind != BGW_SQL_INT8)
		return 0;
	if (args[1].int8 == 0)
	{
		bgw_sql_error("22012", "division by zero", "c_hello_divide reports errors by return value.");
		return 1;
	}
	result->kind = BGW_SQL_INT8;
	result->int8 = args[0].int8 / args[1].int8;
	return 0;
}

static int
c_hello_raise(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	(void) result;
	ereport(ERROR, (errmsg("c_hello_raise: %s", nargs > 0 && args[0].text ? args[0].text : "?"),
					errhint("This function always fails.")));
	return 0;
}

static CHelloShared *
shared(void)
{
	bool found;

	return (CHelloShared *) ShmemInitStruct("c_hello counter", sizeof(CHelloShared), &found);
}

void
c_hello_bump(Datum main_arg)
{
	int64_t now;

	BackgroundWorkerUnblockSignals();
	now = __atomic_add_fetch(&shared()->counter, (int64_t) DatumGetInt32(main_arg), __ATOMIC_SEQ_CST);
	elog(LOG, "c_hello_bump: counter is now %lld", (long long) now);
}

static int
c_hello_count(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	(void) nargs;
	(void) args;
	result->kind = BGW_SQL_INT8;
	result->int8 = __atomic_load_n(&shared()->counter, __ATOMIC_SEQ_CST);
	return 0;
}

void
c_hello_register_late(Datum main_arg)
{
	BackgroundWorker worker;

	(void) main_arg;
	BackgroundWorkerUnblockSignals();
	fill_worker(&worker, "c_hello late", "c_hello_main", 5, Int32GetDatum(200));
	RegisterBackgroundWorker(&worker);
}
