//! SPI with datums and PostgreSQL's error semantics (issue 16): a C worker of this file's own (built against the
//! include tree) runs the same SQL on an embedded database and on a postgresql-engine database (the harness's
//! PostgreSQL 15): values of every by-value type and text, varchar, name, bytea and NULL go in through
//! `SPI_execute_with_args` and come back through `SPI_tuptable` / `SPI_getbinval` equal, `SPI_getvalue` prints
//! PostgreSQL's output, the column calls (`SPI_fname`, `SPI_fnumber`, `SPI_gettype`, `SPI_gettypeid`), plans,
//! `SPI_palloc`, `SPI_freetuptable`, result codes; a type without datums raises 0A000; a failing `SPI_execute`
//! raises its ERROR, caught by `PG_TRY` with its SQLSTATE, the transaction then failed (25P02) until
//! `AbortCurrentTransaction`; uncaught, it ends the worker with exit code 1 and the log shows it. Every host and
//! server is stopped when its test ends, also when it fails.

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// The worker: `sd_main` runs the whole check list and logs "sd: <check>" lines; `sd_uncaught_main` runs a
/// failing statement without a handler. The registration's extra data is the database name.
const MODULE: &str = r#"
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include <string.h>

PG_MODULE_MAGIC;

void sd_main(Datum arg);
void sd_uncaught_main(Datum arg);

#define NCOLS 14
static const char *names[NCOLS] = {"b", "i2", "i4", "i8", "f4", "f8", "o", "d", "ts", "tz", "tx", "vc", "nm", "by"};
static Oid types[NCOLS] = {BOOLOID, INT2OID, INT4OID, INT8OID, FLOAT4OID, FLOAT8OID, OIDOID, DATEOID,
						   TIMESTAMPOID, TIMESTAMPTZOID, TEXTOID, VARCHAROID, NAMEOID, BYTEAOID};

static void
connect_to_extra(void)
{
	char db[BGW_EXTRALEN + 1];

	memcpy(db, MyBgworkerEntry->bgw_extra, BGW_EXTRALEN);
	db[BGW_EXTRALEN] = '\0';
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(db, NULL, 0);
}

static void
values_of(Datum *v)
{
	static NameData name;
	static char bytes[4 + 3];

	memset(&name, 0, sizeof(name));
	strcpy(NameStr(name), "a name");
	SET_VARSIZE(bytes, 7);
	bytes[4] = 0;
	bytes[5] = (char) 0xff;
	bytes[6] = 0x10;
	v[0] = BoolGetDatum(true);
	v[1] = Int16GetDatum(-7);
	v[2] = Int32GetDatum(2147483647);
	v[3] = Int64GetDatum(INT64CONST(-9007199254740993));
	v[4] = Float4GetDatum(1.5f);
	v[5] = Float8GetDatum(0.1);
	v[6] = ObjectIdGetDatum(4294967295u);
	v[7] = Int32GetDatum(8825); /* 2024-02-29 */
	v[8] = Int64GetDatum(INT64CONST(762525296789000)); /* 2024-02-29 12:34:56.789 */
	v[9] = Int64GetDatum(INT64CONST(762525296789000));
	v[10] = CStringGetTextDatum("h\xc3\xa9llo 'q'");
	v[11] = CStringGetTextDatum("abc");
	v[12] = NameGetDatum(&name);
	v[13] = PointerGetDatum(bytes);
}

static bool
same(int i, Datum a, Datum b)
{
	switch (types[i])
	{
		case BOOLOID: return DatumGetBool(a) == DatumGetBool(b);
		case INT2OID: return DatumGetInt16(a) == DatumGetInt16(b);
		case INT4OID: case DATEOID: return DatumGetInt32(a) == DatumGetInt32(b);
		case INT8OID: case TIMESTAMPOID: case TIMESTAMPTZOID: return DatumGetInt64(a) == DatumGetInt64(b);
		case FLOAT4OID: return DatumGetFloat4(a) == DatumGetFloat4(b);
		case FLOAT8OID: return DatumGetFloat8(a) == DatumGetFloat8(b);
		case OIDOID: return DatumGetObjectId(a) == DatumGetObjectId(b);
		case NAMEOID: return strcmp(NameStr(*DatumGetName(a)), NameStr(*DatumGetName(b))) == 0;
		default:
			return VARSIZE_ANY_EXHDR(DatumGetPointer(a)) == VARSIZE_ANY_EXHDR(DatumGetPointer(b)) &&
				   memcmp(VARDATA_ANY(DatumGetPointer(a)), VARDATA_ANY(DatumGetPointer(b)),
						  VARSIZE_ANY_EXHDR(DatumGetPointer(a))) == 0;
	}
}

/* Runs f inside PG_TRY and logs the ERROR it raises: "sd: <what> raised <sqlstate>: <message>". */
static void
expect_error(const char *what, void (*f)(void))
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		f();
		elog(LOG, "sd: %s raised nothing", what);
	}
	PG_CATCH();
	{
		ErrorData *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		elog(LOG, "sd: %s raised %s: %s", what, unpack_sql_state(e->sqlerrcode), e->message);
		FreeErrorData(e);
	}
	PG_END_TRY();
}

static void
getbinval_numeric(void)
{
	bool isnull;

	SPI_execute("SELECT n FROM sd_t WHERE n IS NOT NULL", true, 0);
	elog(LOG, "sd: numeric text %s type %s", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
		 SPI_gettype(SPI_tuptable->tupdesc, 1));
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
}

static void
numeric_argument(void)
{
	Oid t = NUMERICOID;
	Datum v = (Datum) 0;

	SPI_execute_with_args("SELECT $1", 1, &t, &v, NULL, true, 0);
}

static void
duplicate(void)
{
	SPI_execute("INSERT INTO sd_u VALUES (1)", false, 0);
}

static void
in_failed_transaction(void)
{
	SPI_execute("SELECT 1", true, 0);
}

static void
prepare_missing_table(void)
{
	Oid t = INT4OID;

	(void) SPI_prepare("SELECT a FROM sd_nowhere WHERE a = $1", 1, &t);
}

static void
missing_parameter(void)
{
	SPI_execute("SELECT $1", true, 0);
}

void
sd_main(Datum arg)
{
	Datum v[NCOLS];
	char nulls[NCOLS];
	int ret;
	char *kept;
	SPITupleTable *first;
	SPIPlanPtr plan;
	Oid i2 = INT2OID;
	Datum minus7 = Int16GetDatum(-7);
	StringInfoData sql;

	(void) arg;
	connect_to_extra();
	values_of(v);

	/* A transaction's memory: TopTransactionContext is current inside it and freed at its end, as in PostgreSQL;
	 * SPI_connect's context is current while connected. */
	StartTransactionCommand();
	{
		bool in_top = CurrentMemoryContext == TopTransactionContext;
		bool in_proc;
		bool back;

		(void) palloc(100);
		SPI_connect();
		in_proc = CurrentMemoryContext != TopTransactionContext;
		SPI_finish();
		back = CurrentMemoryContext == TopTransactionContext;
		CommitTransactionCommand();
		elog(LOG, "sd: transaction memory %d %d %d %d %d", in_top, in_proc, back,
			 CurrentMemoryContext == TopMemoryContext, MemoryContextMemAllocated(TopTransactionContext, true) == 0);
	}

	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_execute("DROP TABLE IF EXISTS sd_t", false, 0);
	SPI_execute("DROP TABLE IF EXISTS sd_u", false, 0);
	ret = SPI_execute("CREATE TABLE sd_t (b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, o oid, d date, "
					  "ts timestamp, tz timestamptz, tx text, vc varchar(10), nm name, by bytea, n numeric)",
					  false, 0);
	SPI_execute("CREATE TABLE sd_u (a int4 UNIQUE)", false, 0);
	elog(LOG, "sd: create %s", SPI_result_code_string(ret));
	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO sd_t (b, i2, i4, i8, f4, f8, o, d, ts, tz, tx, vc, nm, by) VALUES ($1");
	for (int i = 2; i <= NCOLS; i++)
		appendStringInfo(&sql, ", $%d", i);
	appendStringInfoString(&sql, ")");
	ret = SPI_execute_with_args(sql.data, NCOLS, types, v, NULL, false, 0);
	elog(LOG, "sd: insert %s processed %llu tuptable %s", SPI_result_code_string(ret),
		 (unsigned long long) SPI_processed, SPI_tuptable == NULL ? "NULL" : "set");
	memset(nulls, 'n', sizeof(nulls));
	ret = SPI_execute_with_args(sql.data, NCOLS, types, v, nulls, false, 0);
	elog(LOG, "sd: insert nulls %s", SPI_result_code_string(ret));
	SPI_execute("INSERT INTO sd_t (i2, n) VALUES (1, 1.25)", false, 0);

	ret = SPI_execute("SELECT b, i2, i4, i8, f4, f8, o, d, ts, tz, tx, vc, nm, by FROM sd_t WHERE i2 IS NOT NULL "
					  "ORDER BY i2", true, 0);
	elog(LOG, "sd: select %s processed %llu numvals %llu natts %d", SPI_result_code_string(ret),
		 (unsigned long long) SPI_processed, (unsigned long long) SPI_tuptable->numvals,
		 SPI_tuptable->tupdesc->natts);
	first = SPI_tuptable;
	for (int i = 0; i < NCOLS; i++)
	{
		TupleDesc d = SPI_tuptable->tupdesc;
		HeapTuple row = SPI_tuptable->vals[0];
		bool isnull;
		Datum got = SPI_getbinval(row, d, i + 1, &isnull);

		elog(LOG, "sd: col %s fname %s fnumber %d type %s typeid %u attname %s same %s null %s text %s",
			 names[i], SPI_fname(d, i + 1), SPI_fnumber(d, names[i]), SPI_gettype(d, i + 1), SPI_gettypeid(d, i + 1),
			 NameStr(TupleDescAttr(d, i)->attname), !isnull && same(i, got, v[i]) ? "yes" : "NO",
			 isnull ? "yes" : "no", SPI_getvalue(row, d, i + 1));
	}
	/* The NULL row: every value NULL. */
	ret = SPI_execute("SELECT b, i2, i4, i8, f4, f8, o, d, ts, tz, tx, vc, nm, by FROM sd_t WHERE i2 IS NULL", true, 0);
	{
		int nnull = 0;

		for (int i = 0; i < NCOLS; i++)
		{
			bool isnull;

			(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);
			if (isnull && SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1) == NULL)
				nnull++;
		}
		elog(LOG, "sd: null row %d of %d NULL", nnull, NCOLS);
	}
	/* The first table lives on until SPI_finish. */
	elog(LOG, "sd: first table still %s", SPI_getvalue(first->vals[0], first->tupdesc, 3));
	{
		bool isnull;

		(void) SPI_getbinval(first->vals[0], first->tupdesc, 99, &isnull);
		elog(LOG, "sd: column 99 result %s null %s fnumber %d", SPI_result_code_string(SPI_result),
			 isnull ? "yes" : "no", SPI_fnumber(first->tupdesc, "nope"));
	}
	SPI_freetuptable(first);

	ret = SPI_execute("SELECT count(*) AS n FROM sd_t", true, 0);
	{
		bool isnull;

		elog(LOG, "sd: count %lld typeid %u", (long long) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
			 SPI_tuptable->tupdesc, 1, &isnull)), SPI_gettypeid(SPI_tuptable->tupdesc, 1));
	}
	ret = SPI_execute("UPDATE sd_t SET i4 = i4 - 1 WHERE i2 = -7 RETURNING i4", false, 0);
	{
		bool isnull;

		elog(LOG, "sd: update %s %d", SPI_result_code_string(ret),
			 DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
	}
	SPI_freetuptable(SPI_tuptable);
	elog(LOG, "sd: freed tuptable %s", SPI_tuptable == NULL ? "NULL" : "set");

	plan = SPI_prepare("SELECT i4 FROM sd_t WHERE i2 = $1", 1, &i2);
	SPI_keepplan(plan);
	ret = SPI_execute_plan(plan, &minus7, NULL, true, 0);
	{
		bool isnull;

		elog(LOG, "sd: plan %s %d args %d", SPI_result_code_string(ret),
			 DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
			 SPI_getargcount(plan));
	}
	kept = SPI_palloc(16);
	strcpy(kept, "kept");
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	elog(LOG, "sd: after finish %s", kept);

	/* Every ERROR fails its transaction: each in its own, aborted after. */
	{
		static const char *what[] = {"getbinval numeric", "numeric argument", "missing parameter",
									 "prepare missing table"};
		void (*f[])(void) = {getbinval_numeric, numeric_argument, missing_parameter, prepare_missing_table};

		for (int i = 0; i < 4; i++)
		{
			StartTransactionCommand();
			SPI_connect();
			expect_error(what[i], f[i]);
			expect_error("after it", in_failed_transaction);
			AbortCurrentTransaction();
		}
	}

	/* A failing statement raises; the transaction is then failed until AbortCurrentTransaction. */
	StartTransactionCommand();
	SPI_connect();
	SPI_execute("INSERT INTO sd_u VALUES (1)", false, 0);
	expect_error("duplicate", duplicate);
	expect_error("in failed transaction", in_failed_transaction);
	AbortCurrentTransaction();
	StartTransactionCommand();
	SPI_connect();
	SPI_execute("SELECT count(*) FROM sd_u", true, 0);
	elog(LOG, "sd: after abort %s rows in sd_u", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_freeplan(plan);
	SPI_finish();
	CommitTransactionCommand();
	elog(LOG, "sd: done");
}

void
sd_uncaught_main(Datum arg)
{
	(void) arg;
	connect_to_extra();
	StartTransactionCommand();
	SPI_connect();
	SPI_execute("INSERT INTO sd_nowhere VALUES (1)", false, 0);
	elog(LOG, "sd: not reached");
}
"#;

/// A directory holding `spi_datums.so`.
fn module_dir() -> tempfile::TempDir {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "spi_datums", MODULE);
    dir
}

fn options(name: &str, db: &str) -> String {
    format!(r#"{{"name": "{name}", "extra": "{db}", "flags": ["shmem", "database"], "restart": "never"}}"#)
}

/// The lines every engine must log, in order of the checks.
fn check_common(log: &str) {
    let has = |text: &str| assert!(log.contains(&format!("sd: {text}")), "missing \"sd: {text}\"\nlog:\n{log}");
    has("transaction memory 1 1 1 1 1");
    has("create SPI_OK_UTILITY");
    has("insert SPI_OK_INSERT processed 1 tuptable NULL");
    has("insert nulls SPI_OK_INSERT");
    has("select SPI_OK_SELECT processed 2 numvals 2 natts 14");
    let col = |name: &str, n: usize, ty: &str, oid: u32, text: &str| {
        has(&format!(
            "col {name} fname {name} fnumber {n} type {ty} typeid {oid} attname {name} same yes null no text {text}"
        ))
    };
    col("b", 1, "bool", 16, "t");
    col("i2", 2, "int2", 21, "-7");
    col("i4", 3, "int4", 23, "2147483647");
    col("i8", 4, "int8", 20, "-9007199254740993");
    col("f4", 5, "float4", 700, "1.5");
    col("f8", 6, "float8", 701, "0.1");
    col("o", 7, "oid", 26, "4294967295");
    col("d", 8, "date", 1082, "2024-02-29");
    col("ts", 9, "timestamp", 1114, "2024-02-29 12:34:56.789");
    col("tz", 10, "timestamptz", 1184, "2024-02-29 12:34:56.789+00");
    col("tx", 11, "text", 25, "héllo 'q'");
    col("vc", 12, "varchar", 1043, "abc");
    col("nm", 13, "name", 19, "a name");
    col("by", 14, "bytea", 17, "\\x00ff10");
    has("null row 14 of 14 NULL");
    has("first table still 2147483647");
    has("column 99 result SPI_ERROR_NOATTRIBUTE null yes fnumber -9");
    has("count 3 typeid 20");
    has("update SPI_OK_UPDATE_RETURNING 2147483646");
    has("freed tuptable NULL");
    has("plan SPI_OK_SELECT 2147483646 args 1");
    has("numeric text 1.25 type numeric");
    has("getbinval numeric raised 0A000: SPI_getbinval cannot return a value of type numeric as a datum in bgw");
    has("numeric argument raised 0A000: an SPI argument of type numeric is not supported");
    has("missing parameter raised 42P02: there is no parameter $1");
    has("prepare missing table raised 42P01: ");
    assert_eq!(
        log.matches("sd: after it raised 25P02: current transaction is aborted").count(),
        4,
        "every ERROR fails its transaction\n{log}"
    );
    has("after finish kept");
    has("duplicate raised 23505: ");
    has("in failed transaction raised 25P02: current transaction is aborted, commands ignored until end of transaction block");
    has("after abort 0 rows in sd_u");
    assert!(!log.contains("raised nothing"), "{log}");
}

/// The uncaught ERROR ends the worker with exit code 1, logged.
fn check_uncaught(h: &Host, missing_table: &str) {
    // Registered, not launched: it ends at once, possibly before a wait for its start-up would see it running.
    h.register("spi_datums", "sd_uncaught_main", 0, &options("sdu", "sdb"));
    let log = h.wait_log("background worker \"sdu\" (PID");
    let exit = log.lines().find(|l| l.contains("background worker \"sdu\" (PID")).unwrap();
    assert!(exit.ends_with("exited with exit code 1"), "{exit}");
    assert!(log.contains(&format!("ERROR:  {missing_table}")), "{log}");
    assert!(!log.contains("sd: not reached"), "{log}");
}

#[test]
fn datums_and_errors_on_an_embedded_database() {
    let dir = module_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    h.sql("CREATE DATABASE sdb");
    h.launch("spi_datums", "sd_main", 0, &options("sd", "sdb"));
    let log = h.wait_log("sd: done");
    check_common(&log);
    // The module has a magic block: its SPI speaks PostgreSQL's SQL there too, with PostgreSQL's errors.
    assert!(
        log.contains("sd: duplicate raised 23505: duplicate key value violates unique constraint \"sd_u_a_key\""),
        "{log}"
    );
    check_uncaught(&h, "relation \"sd_nowhere\" does not exist");
}

#[test]
fn datums_and_errors_on_a_postgresql_engine_database() {
    let pg = Postgres::start();
    let dir = module_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    let path = h.data().join("pgpass");
    std::fs::write(&path, format!("127.0.0.1:{}:postgres:{TEST_USER}:{TEST_PASSWORD}\n", pg.port)).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    h.sql(&format!(
        "CREATE DATABASE sdb WITH ENGINE = postgresql \
         CONNECTION = 'host=127.0.0.1 port={} dbname=postgres user={TEST_USER}'",
        pg.port
    ));
    h.launch("spi_datums", "sd_main", 0, &options("sd", "sdb"));
    let log = h.wait_log("sd: done");
    check_common(&log);
    assert!(
        log.contains("sd: duplicate raised 23505: duplicate key value violates unique constraint \"sd_u_a_key\""),
        "{log}"
    );
    check_uncaught(&h, "relation \"sd_nowhere\" does not exist");
}
