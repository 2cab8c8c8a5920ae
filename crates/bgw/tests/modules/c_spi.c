/*
 * c_spi: test workers for database connections and SPI (crates/bgw/tests/worker_db.rs).
 *
 * The registration's extra data names the target, "database;user" (c_spi_main) or "dboid;useroid"
 * (c_spi_by_oid); an empty part means NULL (InvalidOid). The main argument is the connection flags.
 *
 * Statements go through bgw's return-code API (bgw_spi_execute, bgw_spi_execute_params): what is checked here is
 * the code and text of each failure, which PostgreSQL's SPI_execute would raise as an ERROR instead.
 */
#include "bgworker.h"

#include <stdlib.h>
#include <string.h>

static char extra_a[BGW_EXTRALEN + 1];
static char extra_b[BGW_EXTRALEN + 1];

/* Splits bgw_extra at ';' into extra_a and extra_b. */
static void
split_extra(void)
{
	char buf[BGW_EXTRALEN + 1];
	char *semi;

	memcpy(buf, MyBgworkerEntry->bgw_extra, BGW_EXTRALEN);
	buf[BGW_EXTRALEN] = '\0';
	semi = strchr(buf, ';');
	if (semi != NULL)
		*semi++ = '\0';
	snprintf(extra_a, sizeof(extra_a), "%s", buf);
	snprintf(extra_b, sizeof(extra_b), "%s", semi != NULL ? semi : "");
}

static const char *
or_null(const char *s)
{
	return s != NULL ? s : "(null)";
}

static void
wait_for_termination(void)
{
	BackgroundWorkerUnblockSignals();
	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* The workload: a table, rows inserted with parameters, read back, all in one transaction, worker_spi style. */
static void
workload(void)
{
	const char *who = MyBgworkerEntry->bgw_name;
	const char *values[3];
	int ret;
	uint64_t i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	ret = SPI_connect();
	if (ret != SPI_OK_CONNECT)
	{
		elog(LOG, "c_spi %s: SPI_connect returned %d: %s", who, ret, or_null(bgw_spi_error_message()));
		CommitTransactionCommand();
		return;
	}
	PushActiveSnapshot(GetTransactionSnapshot());
	ret = bgw_spi_execute("CREATE TABLE IF NOT EXISTS spi_t (id INTEGER PRIMARY KEY, who TEXT, note TEXT)", false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "c_spi %s: CREATE TABLE returned %d: %s", who, ret, or_null(bgw_spi_error_message()));
	values[0] = who;
	values[1] = "hello";
	values[2] = NULL;
	ret = bgw_spi_execute_params("INSERT INTO spi_t (who, note) VALUES ($1, $2), ($1, $3)", 3, values, false, 0);
	elog(LOG, "c_spi %s: insert returned %d, processed %llu", who, ret, (unsigned long long) SPI_processed);
	ret = bgw_spi_execute_params("SELECT who, note FROM spi_t WHERE who = $1 ORDER BY id", 1, values, true, 0);
	elog(LOG, "c_spi %s: select returned %d, processed %llu, columns %d (%s, %s)", who, ret,
		 (unsigned long long) SPI_processed, bgw_spi_nfields(), or_null(bgw_spi_fname(1)), or_null(bgw_spi_fname(2)));
	for (i = 0; i < SPI_processed; i++)
		elog(LOG, "c_spi %s: row %llu: %s|%s", who, (unsigned long long) i, or_null(bgw_spi_getvalue(i, 1)),
			 or_null(bgw_spi_getvalue(i, 2)));
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	elog(LOG, "c_spi %s: done", who);
}

void c_spi_main(Datum arg);
void
c_spi_main(Datum arg)
{
	split_extra();
	BackgroundWorkerInitializeConnection(extra_a[0] ? extra_a : NULL, extra_b[0] ? extra_b : NULL,
										 (uint32) DatumGetInt32(arg));
	workload();
	wait_for_termination();
}

void c_spi_by_oid(Datum arg);
void
c_spi_by_oid(Datum arg)
{
	split_extra();
	BackgroundWorkerInitializeConnectionByOid((Oid) strtoul(extra_a, NULL, 10), (Oid) strtoul(extra_b, NULL, 10),
											  (uint32) DatumGetInt32(arg));
	workload();
	wait_for_termination();
}

void c_spi_twice(Datum arg);
void
c_spi_twice(Datum arg)
{
	(void) arg;
	BackgroundWorkerInitializeConnection("postgres", NULL, 0);
	elog(LOG, "c_spi twice: connected once");
	BackgroundWorkerInitializeConnectionByOid(5, 10, 0);
	elog(LOG, "c_spi twice: connected twice (wrong)");
}

void c_spi_noflag(Datum arg);
void
c_spi_noflag(Datum arg)
{
	(void) arg;
	elog(LOG, "c_spi noflag: SPI_connect returned %d", SPI_connect());
	BackgroundWorkerInitializeConnection("postgres", NULL, 0);
	elog(LOG, "c_spi noflag: connected (wrong)");
}

/* Each error path of SPI, logged as "c_spi errors: <what>=<code> <message>". */
static void
report(const char *what, int ret)
{
	elog(LOG, "c_spi errors: %s=%d %s", what, ret, or_null(bgw_spi_error_message()));
}

void c_spi_errors(Datum arg);
void
c_spi_errors(Datum arg)
{
	const char *one[1] = {"1"};

	(void) arg;
	report("before connection", SPI_connect());
	BackgroundWorkerInitializeConnection("postgres", NULL, 0);
	report("unconnected", bgw_spi_execute("SELECT 1", true, 0));
	report("connect", SPI_connect());
	report("begin", bgw_spi_execute("BEGIN", false, 0));
	report("commit", bgw_spi_execute("SELECT 1; COMMIT", false, 0));
	report("null", bgw_spi_execute(NULL, false, 0));
	report("negative count", bgw_spi_execute("SELECT 1", false, -1));
	report("syntax", bgw_spi_execute("SELEC 1", false, 0));
	report("missing param", bgw_spi_execute_params("SELECT $1, $2", 1, one, true, 0));
	report("null values", bgw_spi_execute_params("SELECT $1", 1, NULL, true, 0));
	bgw_spi_execute("CREATE TABLE IF NOT EXISTS spi_e (a INTEGER UNIQUE)", false, 0);
	report("read only", bgw_spi_execute("INSERT INTO spi_e VALUES (1)", true, 0));
	report("limited", bgw_spi_execute("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3", true, 2));
	elog(LOG, "c_spi errors: limited processed %llu", (unsigned long long) SPI_processed);
	/* A failed statement fails the transaction; committing it rolls back. */
	StartTransactionCommand();
	report("insert", bgw_spi_execute("INSERT INTO spi_e VALUES (1)", false, 0));
	report("duplicate", bgw_spi_execute("INSERT INTO spi_e VALUES (1)", false, 0));
	report("in failed transaction", bgw_spi_execute("SELECT 1", true, 0));
	CommitTransactionCommand();
	report("after rollback", bgw_spi_execute("SELECT count(*) FROM spi_e", true, 0));
	elog(LOG, "c_spi errors: rows after rollback %s", or_null(bgw_spi_getvalue(0, 1)));
	/* Abort, then commit for real. */
	StartTransactionCommand();
	bgw_spi_execute("INSERT INTO spi_e VALUES (2)", false, 0);
	AbortCurrentTransaction();
	StartTransactionCommand();
	bgw_spi_execute("INSERT INTO spi_e VALUES (3)", false, 0);
	CommitTransactionCommand();
	bgw_spi_execute("SELECT group_concat(a) FROM spi_e", true, 0);
	elog(LOG, "c_spi errors: rows at the end %s", or_null(bgw_spi_getvalue(0, 1)));
	report("finish", SPI_finish());
	report("finish again", SPI_finish());
	elog(LOG, "c_spi errors: done");
}

/* main_arg inserts into table "interleave", each in its own transaction. */
void c_spi_writer(Datum arg);
void
c_spi_writer(Datum arg)
{
	int n = DatumGetInt32(arg);
	int i;
	int ret;

	BackgroundWorkerInitializeConnection("postgres", NULL, 0);
	SPI_connect();
	for (i = 0; i < n; i++)
	{
		StartTransactionCommand();
		ret = bgw_spi_execute("INSERT INTO interleave (src) VALUES ('worker')", false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "c_spi writer: insert %d returned %d: %s", i, ret, or_null(bgw_spi_error_message()));
		CommitTransactionCommand();
	}
	SPI_finish();
	elog(LOG, "c_spi writer: done %d", n);
}

/*
 * NOTIFY from a worker: refused LISTEN, then NOTIFY, pg_notify and Async_Notify in a committed transaction, the
 * same in a rolled-back one, a NOTIFY on its own, and last a bad channel, which is an ERROR.
 */
void c_spi_notify(Datum arg);
void
c_spi_notify(Datum arg)
{
	int ret;

	(void) arg;
	BackgroundWorkerInitializeConnection("postgres", NULL, 0);
	SPI_connect();
	ret = bgw_spi_execute("LISTEN workers", false, 0);
	elog(LOG, "c_spi notify: listen=%d %s", ret, or_null(bgw_spi_error_message()));
	StartTransactionCommand();
	bgw_spi_execute("NOTIFY workers, 'in a transaction'", false, 0);
	bgw_spi_execute("SELECT pg_notify('workers', 'by function')", false, 0);
	Async_Notify("workers", "direct");
	CommitTransactionCommand();
	StartTransactionCommand();
	bgw_spi_execute("NOTIFY workers, 'rolled back'", false, 0);
	Async_Notify("workers", "rolled back too");
	AbortCurrentTransaction();
	bgw_spi_execute("NOTIFY workers, 'on its own'", false, 0);
	SPI_finish();
	elog(LOG, "c_spi notify: sent");
	Async_Notify("", "x");
	elog(LOG, "c_spi notify: an empty channel was accepted (wrong)");
}

/*
 * NOTIFY from a worker when the queue has no room: an SPI statement outside a transaction that writes and
 * notifies fails (its row rolled back), then a transaction's CommitTransactionCommand raises the ERROR.
 */
void c_spi_notify_full(Datum arg);
void
c_spi_notify_full(Datum arg)
{
	int ret;

	(void) arg;
	BackgroundWorkerInitializeConnection("postgres", NULL, 0);
	SPI_connect();
	ret = bgw_spi_execute("INSERT INTO spi_full SELECT 2 WHERE pg_notify('workers', 'own') IS NULL", false, 0);
	elog(LOG, "c_spi notify_full: insert=%d %s", ret, or_null(bgw_spi_error_message()));
	StartTransactionCommand();
	bgw_spi_execute("INSERT INTO spi_full VALUES (1)", false, 0);
	bgw_spi_execute("NOTIFY workers, 'no room'", false, 0);
	elog(LOG, "c_spi notify_full: committing");
	CommitTransactionCommand();
	elog(LOG, "c_spi notify_full: committed (wrong)");
}
