/*
 * c_pg_engine: test workers for SPI on a postgresql-engine database (crates/bgw/tests/pg_engine.rs).
 *
 * The registration's extra data is the database name. Every worker logs what it sees as
 * "c_pg_engine <name>: ...".
 *
 * Statements go through bgw's return-code API (bgw_spi_execute, bgw_spi_execute_params): what is checked here is
 * the code and text of each failure, which PostgreSQL's SPI_execute would raise as an ERROR instead.
 */
#include "bgworker.h"

#include <string.h>
#include <time.h>

static char dbname[BGW_EXTRALEN + 1];

static const char *
or_null(const char *s)
{
	return s != NULL ? s : "(null)";
}

static void
connect_to_extra(void)
{
	memcpy(dbname, MyBgworkerEntry->bgw_extra, BGW_EXTRALEN);
	dbname[BGW_EXTRALEN] = '\0';
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
}

static void
nap(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * The SPI workload on the server: a table, rows inserted with parameters (text in, the server's types), read
 * back as text, an error with the server's words, a failed transaction rolled back, and three notifications
 * (Async_Notify, NOTIFY and pg_notify through SPI) sent at commit.
 */
void c_pg_engine_main(Datum arg);
void
c_pg_engine_main(Datum arg)
{
	const char *who = MyBgworkerEntry->bgw_name;
	const char *values[3];
	int ret;
	uint64_t i;

	(void) arg;
	connect_to_extra();
	StartTransactionCommand();
	SPI_connect();
	ret = bgw_spi_execute("CREATE TABLE IF NOT EXISTS pge_t (id serial PRIMARY KEY, who text, n numeric(10,2), at date)",
						  false, 0);
	elog(LOG, "c_pg_engine %s: create returned %d", who, ret);
	values[0] = who;
	values[1] = "2.345";
	values[2] = NULL;
	ret = bgw_spi_execute_params("INSERT INTO pge_t (who, n, at) VALUES ($1, $2, '2024-02-29'), ($1, $3, NULL)", 3,
								 values, false, 0);
	elog(LOG, "c_pg_engine %s: insert returned %d, processed %llu", who, ret, (unsigned long long) SPI_processed);
	ret = bgw_spi_execute_params("SELECT id, who, n, at FROM pge_t WHERE who = $1 ORDER BY id", 1, values, true, 0);
	elog(LOG, "c_pg_engine %s: select returned %d, processed %llu, columns %d (%s, %s, %s, %s)", who, ret,
		 (unsigned long long) SPI_processed, bgw_spi_nfields(), or_null(bgw_spi_fname(1)), or_null(bgw_spi_fname(2)),
		 or_null(bgw_spi_fname(3)), or_null(bgw_spi_fname(4)));
	for (i = 0; i < SPI_processed; i++)
		elog(LOG, "c_pg_engine %s: row %llu: %s|%s|%s", who, (unsigned long long) i, or_null(bgw_spi_getvalue(i, 2)),
			 or_null(bgw_spi_getvalue(i, 3)), or_null(bgw_spi_getvalue(i, 4)));
	ret = bgw_spi_execute("SELECT version()", true, 0);
	elog(LOG, "c_pg_engine %s: version returned %d: %s", who, ret, or_null(bgw_spi_getvalue(0, 1)));
	Async_Notify("pge_channel", "from Async_Notify");
	ret = bgw_spi_execute("NOTIFY pge_channel, 'from NOTIFY'", false, 0);
	elog(LOG, "c_pg_engine %s: notify returned %d", who, ret);
	values[0] = "pge_channel";
	values[1] = "from pg_notify";
	ret = bgw_spi_execute_params("SELECT pg_notify($1, $2)", 2, values, false, 0);
	elog(LOG, "c_pg_engine %s: pg_notify returned %d", who, ret);
	SPI_finish();
	CommitTransactionCommand();

	/* Outside a transaction: refusals that fail nothing. */
	SPI_connect();
	ret = bgw_spi_execute("INSERT INTO pge_t (who) VALUES ('read only')", true, 0);
	elog(LOG, "c_pg_engine %s: read-only insert returned %d: %s", who, ret, or_null(bgw_spi_error_message()));
	ret = bgw_spi_execute("LISTEN pge_channel", false, 0);
	elog(LOG, "c_pg_engine %s: listen returned %d: %s", who, ret, or_null(bgw_spi_error_message()));
	SPI_finish();

	/* A failed statement fails the server's transaction: the next is refused, the commit rolls back. */
	StartTransactionCommand();
	SPI_connect();
	ret = bgw_spi_execute("INSERT INTO pge_t (who) VALUES ('rolled back')", false, 0);
	elog(LOG, "c_pg_engine %s: insert in the failing transaction returned %d", who, ret);
	ret = bgw_spi_execute("SELECT 1/0", false, 0);
	elog(LOG, "c_pg_engine %s: division returned %d: %s", who, ret, or_null(bgw_spi_error_message()));
	ret = bgw_spi_execute("SELECT 1", false, 0);
	elog(LOG, "c_pg_engine %s: after the error returned %d: %s", who, ret, or_null(bgw_spi_error_message()));
	SPI_finish();
	AbortCurrentTransaction();
	elog(LOG, "c_pg_engine %s: done", who);
	for (;;)
		nap(1000);
}

/*
 * Opens a transaction, inserts a row ('held by <name>') and keeps the transaction open, running SELECT 1 in it
 * every 50 ms. A statement that fails is logged with its message; the worker then ends with FATAL (exit code 1).
 */
void c_pg_engine_hold(Datum arg);
void
c_pg_engine_hold(Datum arg)
{
	const char *who = MyBgworkerEntry->bgw_name;
	const char *values[1];
	int ret;

	(void) arg;
	connect_to_extra();
	SPI_connect();
	ret = bgw_spi_execute("CREATE TABLE IF NOT EXISTS pge_held (who text)", false, 0);
	StartTransactionCommand();
	values[0] = who;
	ret = bgw_spi_execute_params("INSERT INTO pge_held VALUES ('held by ' || $1)", 1, values, false, 0);
	elog(LOG, "c_pg_engine %s: holding (insert returned %d)", who, ret);
	for (;;)
	{
		nap(50);
		ret = bgw_spi_execute("SELECT 1", true, 0);
		if (ret != SPI_OK_SELECT)
		{
			elog(LOG, "c_pg_engine %s: statement failed (%d): %s", who, ret, or_null(bgw_spi_error_message()));
			AbortCurrentTransaction();
			elog(FATAL, "c_pg_engine %s: lost the server, exiting", who);
		}
	}
}

/* SELECT 1 through SPI, arg times; logs the whole run's elapsed microseconds (the benchmark of BENCHMARKS.md). */
void c_pg_engine_bench(Datum arg);
void
c_pg_engine_bench(Datum arg)
{
	const char *who = MyBgworkerEntry->bgw_name;
	int n = DatumGetInt32(arg);
	int i;
	struct timespec t0, t1;

	connect_to_extra();
	SPI_connect();
	(void) bgw_spi_execute("SELECT 1", true, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		if (bgw_spi_execute("SELECT 1", true, 0) != SPI_OK_SELECT)
			elog(FATAL, "c_pg_engine %s: SELECT 1 failed: %s", who, or_null(bgw_spi_error_message()));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	SPI_finish();
	elog(LOG, "c_pg_engine %s: bench %d statements in %lld us", who, n,
		 (long long) ((t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000));
	for (;;)
		nap(1000);
}

/* Runs SELECT pg_sleep(600) through SPI on the server; logs how it ended, then ends if it was terminated. */
void c_pg_engine_sleep(Datum arg);
void
c_pg_engine_sleep(Datum arg)
{
	const char *who = MyBgworkerEntry->bgw_name;
	int ret;

	(void) arg;
	connect_to_extra();
	SPI_connect();
	elog(LOG, "c_pg_engine %s: sleeping", who);
	ret = bgw_spi_execute("SELECT pg_sleep(600)", true, 0);
	elog(LOG, "c_pg_engine %s: sleep returned %d: %s", who, ret, or_null(bgw_spi_error_message()));
	CHECK_FOR_INTERRUPTS();
	for (;;)
		nap(1000);
}
