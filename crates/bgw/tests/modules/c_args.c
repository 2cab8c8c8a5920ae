/*
 * Typed arguments through the C ABI (bgw/bgw.h): c_args_launch(name, size) registers c_args_worker with a
 * size-byte argument (bytes i % 251) and returns its handle; the worker checks every byte and logs the result.
 */
#include "bgworker.h"
#include <stdlib.h>
#include <string.h>

void _PG_init(void);
PGDLLEXPORT void c_args_worker(Datum main_arg);

static int
c_args_launch(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle = NULL;
	size_t size = (size_t) args[1].int8;
	unsigned char *arg = malloc(size ? size : 1);
	char text[64];
	bool ok;

	(void) nargs;
	for (size_t i = 0; i < size; i++)
		arg[i] = (unsigned char) (i % 251);
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, MAXPGPATH, "c_args");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "c_args_worker");
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", args[0].text);
	worker.bgw_main_arg = Int64GetDatum((int64) size);
	/* An oversize argument is an ERROR that jumps out of here: the buffer is freed first. */
	if (size > BGW_MAX_ARG_BYTES)
	{
		free(arg);
		arg = NULL;
	}
	ok = bgw_register_dynamic_with_arg(&worker, &handle, arg, size);
	free(arg);
	if (!ok)
	{
		result->kind = BGW_SQL_NULL;
		return 0;
	}
	snprintf(text, sizeof(text), "%d:%llu", handle->slot, (unsigned long long) handle->generation);
	free(handle);
	bgw_sql_result_text(result, text);
	return 0;
}

void
c_args_worker(Datum main_arg)
{
	size_t len = 0;
	unsigned char *arg = bgw_worker_arg(&len);
	size_t expected = (size_t) DatumGetInt64(main_arg);
	size_t bad = 0;

	BackgroundWorkerUnblockSignals();
	for (size_t i = 0; arg != NULL && i < len; i++)
		if (arg[i] != (unsigned char) (i % 251))
			bad++;
	elog(LOG, "c_args_worker: %s, %zu bytes (expected %zu), %zu wrong", arg ? "argument" : "no argument", len,
		 expected, bad);
	free(arg);
}

void
_PG_init(void)
{
	if (process_shared_preload_libraries_in_progress)
		bgw_define_sql_function("c_args_launch", 2, BGW_SQL_TEXT, 0, c_args_launch);
}
