/*
 * spi_bench: the SPI round trip, one C source for two hosts (BENCHMARKS.md, "SPI round trip by engine").
 *
 * A background worker connects to the database its extra data names, then in one transaction runs
 * `SELECT 1` through SPI_execute (read only) SPI_BENCH_ROUNDS times n times, timing every call, and logs each
 * round's median, 90th percentile and minimum in nanoseconds:
 *   spi_bench <database>: round R n=N median_ns=M p90_ns=P min_ns=L
 * then returns (exit code 0).
 *
 * Built with PGXS for PostgreSQL 15 (SPI_BENCH_FOR_POSTGRES, see Makefile): loaded through
 * shared_preload_libraries, _PG_init registers one static worker on database `postgres` that runs once
 * (spi_bench.n statements a round). Built with `cc -shared -fPIC -I include` against bgw's include/bgworker.h:
 * launched with bgw_launch('spi_bench', 'spi_bench_main', n, '{"extra": "<database>", ...}').
 */
#ifdef SPI_BENCH_FOR_POSTGRES
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#else
#include "bgworker.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <time.h>

PG_MODULE_MAGIC;

#define SPI_BENCH_ROUNDS 5
#define SPI_BENCH_WARMUP 200

void _PG_init(void);
PGDLLEXPORT void spi_bench_main(Datum main_arg);

static int spi_bench_n = 2000;

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
compare_ll(const void *a, const void *b)
{
	long long x = *(const long long *) a;
	long long y = *(const long long *) b;

	return (x > y) - (x < y);
}

static void
select_one(void)
{
	int ret = SPI_execute("SELECT 1", true, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "spi_bench: SELECT 1 returned %d", ret);
}

void
spi_bench_main(Datum main_arg)
{
	char db[BGW_EXTRALEN + 1];
	int n = DatumGetInt32(main_arg);
	long long *samples;
	int round;
	int i;

	if (n <= 0)
		n = spi_bench_n;
	memcpy(db, MyBgworkerEntry->bgw_extra, BGW_EXTRALEN);
	db[BGW_EXTRALEN] = '\0';
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(db, NULL, 0);
	samples = malloc(sizeof(long long) * (size_t) n);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	for (i = 0; i < SPI_BENCH_WARMUP; i++)
		select_one();
	for (round = 1; round <= SPI_BENCH_ROUNDS; round++)
	{
		for (i = 0; i < n; i++)
		{
			long long t0 = now_ns();

			select_one();
			samples[i] = now_ns() - t0;
		}
		qsort(samples, (size_t) n, sizeof(long long), compare_ll);
		elog(LOG, "spi_bench %s: round %d n=%d median_ns=%lld p90_ns=%lld min_ns=%lld", db, round, n,
			 samples[n / 2], samples[(n * 9) / 10], samples[0]);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	free(samples);
}

void
_PG_init(void)
{
#ifdef SPI_BENCH_FOR_POSTGRES
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("spi_bench.n", "SELECT 1 statements a round.", NULL, &spi_bench_n, 2000, 1, 100000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "spi_bench");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "spi_bench_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "spi_bench");
	snprintf(worker.bgw_type, BGW_MAXLEN, "spi_bench");
	snprintf(worker.bgw_extra, BGW_EXTRALEN, "postgres");
	worker.bgw_main_arg = Int32GetDatum(0);
	RegisterBackgroundWorker(&worker);
#endif
}
