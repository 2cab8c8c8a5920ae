//! PostgreSQL extensions built for bgw as PostgreSQL builds them: unmodified sources and Makefiles, PGXS, and
//! bgw's `pg_config` (issue 16).
//!
//! `worker_spi` (PostgreSQL's sample, `../shared/testdata/worker_spi/`) is copied to a temporary directory and
//! built with `make USE_PGXS=1 PG_CONFIG=<a pg_config link to bgw> install` into a temporary installation;
//! nothing of it is changed. Its references to the server must all resolve against the `bgw` executable, and it
//! loads as it is (`tests/worker_spi_run.rs` runs it).
//!
//! The server API that is not SPI is exercised by small C modules of this file's own, built with
//! `bgw_test_support::build_c_module_from_text` against the include tree.

use bgw_test_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn testdata() -> PathBuf {
    let dir = repo_root().join("../shared/testdata/worker_spi");
    assert!(
        dir.join("worker_spi.c").is_file(),
        "the test input {} is missing: the checkout must sit beside ../shared (the project's layout)",
        dir.display()
    );
    dir
}

/// Every file of `dir` with its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

fn pg_config(pg_config: &Path, option: &str) -> String {
    let out = Command::new(pg_config).arg(option).output().unwrap();
    assert!(out.status.success(), "pg_config {option}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// Builds and installs worker_spi from an unmodified copy; the installation and the library's path.
fn build_worker_spi() -> (Installation, PathBuf) {
    let inst = Installation::new(Path::new(BGW));
    let copy = inst.build(&testdata());
    // Nothing of the extension's own files changed (the build only added files).
    let before = contents(&testdata());
    let after: Vec<_> = contents(&copy).into_iter().filter(|(name, _)| before.iter().any(|(b, _)| b == name)).collect();
    assert_eq!(before, after, "the build changed the extension's files");
    let lib = inst.lib_dir().join("worker_spi.so");
    assert!(lib.is_file(), "make install did not install {}", lib.display());
    for f in ["worker_spi.control", "worker_spi--1.0.sql"] {
        assert!(inst.share_dir().join("extension").join(f).is_file(), "{f} not installed");
    }
    (inst, lib)
}

#[test]
fn pg_config_answers_as_postgresqls_for_its_installation() {
    let inst = Installation::new(Path::new(BGW));
    let pg_config = inst.pg_config();
    let root = inst.dir.path().display().to_string();
    assert_eq!(self::pg_config(&pg_config, "--pkglibdir"), format!("{root}/lib/bgw"));
    assert_eq!(self::pg_config(&pg_config, "--sharedir"), format!("{root}/share/bgw"));
    assert_eq!(self::pg_config(&pg_config, "--bindir"), format!("{root}/bin"));
    assert_eq!(self::pg_config(&pg_config, "--libdir"), format!("{root}/lib"));
    let server = PathBuf::from(self::pg_config(&pg_config, "--includedir-server"));
    assert!(server.join("postgres.h").is_file() && server.join("postmaster/bgworker.h").is_file());
    assert!(PathBuf::from(self::pg_config(&pg_config, "--pgxs")).is_file());
    assert!(self::pg_config(&pg_config, "--version").starts_with("PostgreSQL 15."));
    assert_eq!(self::pg_config(&pg_config, "--cflags_sl"), "-fPIC");
    // Several options: one line each, in order; `bgw pg_config` is the same program.
    let out = Command::new(BGW).args(["pg_config", "--cc", "--version"]).output().unwrap();
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("PostgreSQL 15."));
    // No option: every NAME = value; an unknown option is an error, as PostgreSQL's.
    let out = Command::new(&pg_config).output().unwrap();
    assert!(stdout(&out).contains("PKGLIBDIR = ") && stdout(&out).contains("VERSION = PostgreSQL 15."));
    let out = Command::new(&pg_config).arg("--no-such").output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pg_config: invalid argument: --no-such"), "{}", stderr(&out));
}

#[test]
fn worker_spi_builds_unmodified_with_pgxs_and_every_reference_resolves() {
    let (_inst, lib) = build_worker_spi();
    let out = Command::new("nm").args(["-D", "--undefined-only"]).arg(&lib).output().expect("nm is needed");
    let imported: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap().to_string())
        .filter(|s| !s.starts_with("__") && !s.starts_with("_ITM") && !s.starts_with("_Jv"))
        .collect();
    let out = Command::new("nm").args(["-D", "--defined-only", BGW]).output().unwrap();
    let host: std::collections::BTreeSet<String> =
        stdout(&out).lines().filter_map(|l| l.split_whitespace().last()).map(str::to_string).collect();
    // What the C library provides resolves there (nm prints those with a version: "memset@GLIBC_2.2.5").
    let out = Command::new("nm").args(["-D", "--undefined-only"]).arg(&lib).output().unwrap();
    let versioned: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.contains('@'))
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap().to_string())
        .collect();
    let unresolved: Vec<&String> = imported.iter().filter(|s| !host.contains(*s) && !versioned.contains(s)).collect();
    assert!(unresolved.is_empty(), "worker_spi's references bgw does not export (besides libc's): {unresolved:?}");
    for s in ["palloc", "pstrdup", "initStringInfo", "appendStringInfo", "quote_identifier", "errstart", "proc_exit"] {
        assert!(imported.iter().any(|i| i == s) && host.contains(s), "{s}");
    }
}

#[test]
fn worker_spi_loads_as_it_is() {
    let (inst, _lib) = build_worker_spi();
    let h = Host::start(Setup::new(BGW).library_path(&inst.lib_dir()));
    // Registering a worker checks its entry point at once: the library is loaded with RTLD_NOW, so every symbol
    // it references resolves.
    let out = h.psql(r#"SELECT bgw_register('worker_spi', 'worker_spi_main', 1, '{"restart": "never"}')"#);
    assert!(out.is_ok(), "{out:?}");
    assert!(!h.log().contains("undefined symbol"), "{}", h.log());
}

/// The functions and variables the include tree declares, except those marked BGW_NOT_IMPLEMENTED.
fn declared_symbols() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "h") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo_root().join("include"), &mut files);
    let mut names = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Comments out, continuation lines joined, preprocessor lines (macros, extern "C") out.
        let mut code = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("/*") {
            code += &rest[..i];
            rest = &rest[i + rest[i..].find("*/").unwrap() + 2..];
        }
        code += rest;
        let code = code.replace("\\\n", " ");
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.contains("extern \"C\""))
            .collect::<Vec<_>>()
            .join("\n");
        for stmt in code.split(';') {
            let stmt = stmt.trim();
            let Some(decl) = stmt.strip_prefix("extern ") else { continue };
            if decl.contains("BGW_NOT_IMPLEMENTED") {
                continue;
            }
            let head = match decl.find('(') {
                Some(i) if !decl[..i].trim_end().ends_with("pg_attribute_noreturn") => &decl[..i],
                _ => decl.split('[').next().unwrap(),
            };
            let name: String = head.trim_end().chars().rev().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            names.push(name.chars().rev().collect());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn everything_the_include_tree_declares_is_exported_by_bgw() {
    let names = declared_symbols();
    assert!(
        names.len() > 150 && names.iter().any(|n| n == "palloc") && names.iter().any(|n| n == "MyLatch"),
        "{names:?}"
    );
    let out = Command::new("nm").args(["-D", "--defined-only", BGW]).output().expect("nm is needed");
    let host: std::collections::BTreeSet<String> =
        stdout(&out).lines().filter_map(|l| l.split_whitespace().last()).map(str::to_string).collect();
    let missing: Vec<&String> = names.iter().filter(|n| !host.contains(*n)).collect();
    assert!(missing.is_empty(), "declared in include/ without BGW_NOT_IMPLEMENTED but not exported: {missing:?}");
}

/// A module written against the server API as a PostgreSQL extension would be (only the SQL functions are
/// defined through bgw/bgw.h), preloaded by the tests below.
const EXT_API: &str = r#"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "postgres.h"
#include "bgw/bgw.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "commands/dbcommands.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "catalog/pg_type.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

static int ext_even = 2;

static bool
check_even(int *newval, void **extra, GucSource source)
{
	if (*newval == 98)
		*newval = 100; /* a check hook may adjust the value */
	return *newval % 2 == 0;
}

static void
assign_even(int newval, void *extra)
{
	elog(LOG, "ext_api.even assigned %d in %d", newval, MyProcPid);
}

static const char *
show_even(void)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "%d (even)", ext_even);
	return buf;
}

static int
ext_even_value(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	result->kind = BGW_SQL_INT8;
	result->int8 = ext_even;
	return 0;
}

PG_FUNCTION_INFO_V1(ext_v1_add);
PG_FUNCTION_INFO_V1(ext_v1_greet);
PG_FUNCTION_INFO_V1(ext_v1_half);

/* Version-1 functions, as an extension's C file has them. */
Datum
ext_v1_add(PG_FUNCTION_ARGS)
{
	int32 a = PG_GETARG_INT32(0);
	int64 b = PG_GETARG_INT64(1);

	PG_RETURN_INT64(a + b);
}

Datum
ext_v1_greet(PG_FUNCTION_ARGS)
{
	text *t;

	if (PG_ARGISNULL(0))
		PG_RETURN_TEXT_P(cstring_to_text("nobody"));
	t = PG_GETARG_TEXT_PP(0);
	if (VARSIZE_ANY_EXHDR(t) == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("hello %s (%d bytes)", text_to_cstring(t), (int) VARSIZE_ANY_EXHDR(t))));
}

Datum
ext_v1_half(PG_FUNCTION_ARGS)
{
	float8 x = PG_GETARG_FLOAT8(0);

	if (x < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("negative: %g", x)));
	PG_RETURN_FLOAT8(x / 2);
}

void _PG_init(void);
PGDLLEXPORT void ext_worker_main(Datum arg);

typedef struct ExtShared
{
	int64 counter;
} ExtShared;

static ExtShared *ext_shared = NULL;
static shmem_request_hook_type prev_request_hook = NULL;
static shmem_startup_hook_type prev_startup_hook = NULL;

static void
ext_request(void)
{
	if (prev_request_hook)
		prev_request_hook();
	RequestAddinShmemSpace(sizeof(ExtShared));
	RequestNamedLWLockTranche("ext_api", 2);
}

static void
ext_startup(void)
{
	bool found;

	if (prev_startup_hook)
		prev_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ext_shared = ShmemInitStruct("ext_api state", sizeof(ExtShared), &found);
	if (!found)
		ext_shared->counter = 1000;
	LWLockRelease(AddinShmemInitLock);
}

static int
result_text(BgwSqlValue *result, char *text)
{
	bgw_sql_result_text(result, text);
	return 0;
}

/* Memory contexts, palloc and StringInfo. */
static int
ext_memory(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ext", ALLOCSET_DEFAULT_SIZES);
	MemoryContext child = AllocSetContextCreate(cxt, "ext child", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	StringInfoData buf;
	StringInfo other = makeStringInfo();
	char *p = palloc0(100);
	Size before, after, child_before;
	int i;
	bool zeroed = true;

	for (i = 0; i < 100; i++)
		zeroed = zeroed && p[i] == 0;
	p = repalloc(p, 5000);
	(void) MemoryContextAlloc(child, 300);
	before = MemoryContextMemAllocated(cxt, true);
	child_before = MemoryContextMemAllocated(child, false);
	initStringInfo(&buf);
	for (i = 0; i < 1000; i++)
		appendStringInfo(&buf, "%d,", i);
	appendStringInfoChar(other, 'x');
	appendStringInfoString(other, pstrdup("yz"));
	appendStringInfoSpaces(other, 2);
	appendBinaryStringInfo(other, "ab", 2);
	MemoryContextSwitchTo(old);
	MemoryContextReset(child);
	after = MemoryContextMemAllocated(child, false);
	{
		char *out = psprintf("zeroed=%d len=%d tail=%s other=[%s] all>=5300:%d child=%zu->%zu current=%d %s %s %s %s",
							 zeroed, buf.len, buf.data + buf.len - 8, other->data, before >= 5300, child_before, after,
							 CurrentMemoryContext == old, quote_identifier("abc"), quote_identifier("select"),
							 quote_identifier("Mixed\"Case"), quote_literal_cstr("it's"));
		bgw_sql_result_text(result, out);
		pfree(out);
	}
	MemoryContextDelete(cxt);
	return 0;
}

/* PG_TRY, PG_CATCH, PG_FINALLY, CopyErrorData. */
static int finally_ran = 0;

static int
ext_try(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	MemoryContext old = CurrentMemoryContext;
	char *caught = NULL;

	PG_TRY();
	{
		PG_TRY();
		{
			ereport(ERROR, (errcode(ERRCODE_DIVISION_BY_ZERO), errmsg("inner %d", (int) args[0].int8),
							errdetail("the detail"), errhint("the hint")));
		}
		PG_FINALLY();
		{
			finally_ran++;
		}
		PG_END_TRY();
	}
	PG_CATCH();
	{
		ErrorData *e;

		MemoryContextSwitchTo(old);
		e = CopyErrorData();
		FlushErrorState();
		caught = psprintf("%s|%s|%s|%s|finally=%d", unpack_sql_state(e->sqlerrcode), e->message, e->detail,
						  e->hint, finally_ran);
		FreeErrorData(e);
	}
	PG_END_TRY();
	return result_text(result, caught);
}

/* An ERROR that reaches the host: the statement fails with its SQLSTATE. */
static int
ext_raise(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_RESOURCES), errmsg("could not start background process"),
					errhint("More details may be available in the server log.")));
	return 0;
}

/* PG_RE_THROW out of a PG_CATCH reaches the host too. */
static int
ext_rethrow(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	PG_TRY();
	{
		elog(ERROR, "thrown %s", "once");
	}
	PG_CATCH();
	{
		PG_RE_THROW();
	}
	PG_END_TRY();
	return 0;
}

static int
ext_identity(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	char *db = get_database_name(MyDatabaseId);

	return result_text(result, psprintf("%s su=%d dboid=%d roleoid=%d", db, superuser(),
										get_database_oid("postgres", false) == MyDatabaseId,
										get_role_oid(GetUserNameFromId(GetUserId(), false), false) == GetUserId()));
}

static int
ext_missing_db(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	(void) get_database_oid("no_such_db", false);
	return 0;
}

/* The shared counter, under the tranche's first lock. */
static int
ext_bump(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	LWLockPadded *locks = GetNamedLWLockTranche("ext_api");
	int64 v;
	int i;

	for (i = 0; i < args[0].int8; i++)
	{
		LWLockAcquire(&locks[0].lock, LW_EXCLUSIVE);
		v = ++ext_shared->counter;
		LWLockRelease(&locks[0].lock);
	}
	LWLockAcquire(&locks[1].lock, LW_SHARED);
	v = ext_shared->counter;
	LWLockRelease(&locks[1].lock);
	result->kind = BGW_SQL_INT8;
	result->int8 = v;
	return 0;
}

static int
ext_time(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	TimestampTz a = GetCurrentTimestamp();
	TimestampTz b = TimestampTzPlusMilliseconds(a, 1500);
	long secs;
	int usecs;

	TimestampDifference(a, b, &secs, &usecs);
	return result_text(result, psprintf("%ld %d %ld %d %d", secs, usecs, TimestampDifferenceMilliseconds(a, b),
										TimestampDifferenceExceeds(a, b, 1500), TimestampDifferenceExceeds(a, b, 1501)));
}

static void
ext_on_proc_exit(int code, Datum arg)
{
	elog(LOG, "ext_api on_proc_exit %d %d", code, DatumGetInt32(arg));
}

static void
ext_before_shmem_exit(int code, Datum arg)
{
	elog(LOG, "ext_api before_shmem_exit %d %d", code, DatumGetInt32(arg));
}

void
ext_worker_main(Datum arg)
{
	int mode = DatumGetInt32(arg);

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	on_proc_exit(ext_on_proc_exit, Int32GetDatum(7));
	before_shmem_exit(ext_before_shmem_exit, Int32GetDatum(8));
	pgstat_report_appname("ext_api app");
	pgstat_report_activity(STATE_RUNNING, "ext_api is busy");
	if (mode == 1)
		elog(ERROR, "ext_api worker error outside PG_TRY");
	if (mode == 3)
	{
		elog(LOG, "ext_api worker returns");
		return;
	}
	if (mode == 2)
	{
		/* Dies holding a lock without going through proc_exit (as a crash would, but with exit code 0). */
		LWLockAcquire(&GetNamedLWLockTranche("ext_api")[0].lock, LW_EXCLUSIVE);
		elog(LOG, "ext_api worker holds the lock");
		_exit(0);
	}
	while (!ShutdownRequestPending)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	elog(LOG, "ext_api worker shutting down");
	proc_exit(0);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("ext_api.even", "An even number.", NULL, &ext_even, 2, 0, 100, PGC_SIGHUP, 0,
							check_even, assign_even, show_even);
	MarkGUCPrefixReserved("ext_api");
	bgw_define_sql_function("ext_even", 0, BGW_SQL_INT8, 0, ext_even_value);
	prev_request_hook = shmem_request_hook;
	shmem_request_hook = ext_request;
	prev_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ext_startup;
	bgw_define_sql_function("ext_memory", 0, BGW_SQL_TEXT, 0, ext_memory);
	bgw_define_sql_function("ext_try", 1, BGW_SQL_TEXT, 0, ext_try);
	bgw_define_sql_function("ext_raise", 0, BGW_SQL_TEXT, 0, ext_raise);
	bgw_define_sql_function("ext_rethrow", 0, BGW_SQL_TEXT, 0, ext_rethrow);
	bgw_define_sql_function("ext_identity", 0, BGW_SQL_TEXT, 0, ext_identity);
	bgw_define_sql_function("ext_missing_db", 0, BGW_SQL_TEXT, 0, ext_missing_db);
	bgw_define_sql_function("ext_bump", 1, BGW_SQL_INT8, 0, ext_bump);
	bgw_define_sql_function("ext_time", 0, BGW_SQL_TEXT, 0, ext_time);
	{
		Oid add[] = {INT4OID, INT8OID};
		Oid greet[] = {TEXTOID};
		Oid half[] = {FLOAT8OID};

		bgw_define_function_v1("ext_v1_add", 2, add, INT8OID, true, ext_v1_add);
		bgw_define_function_v1("ext_v1_greet", 1, greet, TEXTOID, false, ext_v1_greet);
		bgw_define_function_v1("ext_v1_half", 1, half, FLOAT8OID, true, ext_v1_half);
	}
}
"#;

fn ext_api_host() -> (tempfile::TempDir, Host) {
    ext_api_host_with(|s| s)
}

fn ext_api_host_with(f: impl FnOnce(Setup) -> Setup) -> (tempfile::TempDir, Host) {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "ext_api", EXT_API);
    let h = Host::start(f(Setup::new(BGW).library_path(dir.path()).conf("shared_preload_libraries", "'ext_api'")));
    (dir, h)
}

#[test]
fn memory_contexts_stringinfo_and_quoting_behave_as_postgresqls() {
    let (_dir, h) = ext_api_host();
    let out = h.sql("SELECT ext_memory()");
    assert_eq!(
        out,
        "zeroed=1 len=3890 tail=998,999, other=[xyz  ab] all>=5300:1 child=300->0 current=1 abc \"select\" \
         \"Mixed\"\"Case\" 'it''s'"
    );
    // Timestamps: differences as PostgreSQL computes them.
    assert_eq!(h.sql("SELECT ext_time()"), "1 500000 1500 1 0");
}

#[test]
fn errors_carry_their_sqlstate_and_pg_try_catches_them() {
    let (_dir, h) = ext_api_host();
    // Caught inside the function: the nested PG_FINALLY ran, the error's fields are the ereport's; the session
    // goes on (a second call in it sees the first's FINALLY too).
    assert_eq!(
        h.sql("SELECT ext_try(7); SELECT ext_try(8)"),
        "22012|inner 7|the detail|the hint|finally=1\n22012|inner 8|the detail|the hint|finally=2"
    );
    // Not caught: the statement fails with the SQLSTATE, message and hint; the session goes on.
    let mut c = h.client();
    let e = c.simple_query("SELECT ext_raise()").unwrap_err();
    let db = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
    assert_eq!(db.code().code(), "53000");
    assert_eq!(db.message(), "could not start background process");
    assert_eq!(db.hint(), Some("More details may be available in the server log."));
    let e = c.simple_query("SELECT ext_rethrow()").unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!((db.code().code(), db.message()), ("XX000", "thrown once"));
    let e = c.simple_query("SELECT ext_missing_db()").unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!((db.code().code(), db.message()), ("3D000", "database \"no_such_db\" does not exist"));
    let rows = c.simple_query("SELECT 1").unwrap();
    assert!(!rows.is_empty());
}

#[test]
fn identity_and_shared_memory_with_named_lwlocks() {
    let (_dir, h) = ext_api_host();
    assert_eq!(h.sql("SELECT ext_identity()"), "postgres su=1 dboid=1 roleoid=1");
    // shmem_startup_hook initialized the counter under AddinShmemInitLock; the tranche's locks guard it.
    assert_eq!(h.sql("SELECT ext_bump(5)"), "1005");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let e = h.endpoint();
            std::thread::spawn(move || e.psql("SELECT ext_bump(200)"))
        })
        .collect();
    for t in handles {
        t.join().unwrap().unwrap().unwrap();
    }
    assert_eq!(h.sql("SELECT ext_bump(0)"), "1805");
}

#[test]
fn workers_report_activity_and_run_exit_callbacks_in_order() {
    let (_dir, h) = ext_api_host();
    let pid = h.launch("ext_api", "ext_worker_main", 0, r#"{"name": "ext busy"}"#);
    let row = h
        .wait_sql(&format!("SELECT state, query, application_name FROM pg_stat_activity WHERE pid = {pid}"), |o| {
            o.starts_with("active|")
        });
    assert_eq!(row, "active|ext_api is busy|ext_api app");
    h.sql(&format!("SELECT pg_terminate_backend({pid})"));
    let log = h.wait_log("ext_api on_proc_exit 0 7");
    let shutdown = log.find("ext_api worker shutting down").unwrap();
    let before = log.find("ext_api before_shmem_exit 0 8").unwrap();
    let after = log.find("ext_api on_proc_exit 0 7").unwrap();
    assert!(shutdown < before && before < after, "{log}");
    // An ERROR outside PG_TRY in a worker: logged, exit code 1, the exit callbacks run with code 1.
    // (Registered, not launched: it may be gone before a wait for its start-up would see it running.)
    h.register("ext_api", "ext_worker_main", 1, r#"{"name": "ext failing"}"#);
    h.wait_log("ext_api worker error outside PG_TRY");
    let log = h.wait_log("background worker \"ext failing\" (PID");
    let exit = log.lines().find(|l| l.contains("\"ext failing\" (PID")).unwrap();
    assert!(exit.ends_with("exited with exit code 1"), "{exit}");
    h.wait_log("ext_api on_proc_exit 1 7");
    // An entry point that returns: exit code 0, the exit callbacks run with code 0 (PostgreSQL's proc_exit(0)).
    // (Registered, not launched: it may be gone before a wait for its start-up would see it running.)
    h.register("ext_api", "ext_worker_main", 3, r#"{"name": "ext returning"}"#);
    h.wait_log("background worker \"ext returning\" (PID");
    let log = h.wait_log_count("ext_api on_proc_exit 0 7", 2);
    let exit = log.lines().find(|l| l.contains("\"ext returning\" (PID")).unwrap();
    assert!(exit.ends_with("exited with exit code 0"), "{exit}");
    let returned = log.find("ext_api worker returns").unwrap();
    let before = log[returned..].find("ext_api before_shmem_exit 0 8").map(|i| i + returned);
    let after = log[returned..].find("ext_api on_proc_exit 0 7").map(|i| i + returned);
    assert!(matches!((before, after), (Some(b), Some(a)) if b < a), "{log}");
}

#[test]
fn version_1_functions_get_datums_and_return_them() {
    let (_dir, h) = ext_api_host();
    assert_eq!(h.sql("SELECT ext_v1_add(2, 40)"), "42");
    assert_eq!(
        h.sql("SELECT ext_v1_greet('bob'), ext_v1_greet(NULL), ext_v1_greet('') IS NULL"),
        "hello bob (3 bytes)|nobody|t"
    );
    // Strict: a NULL argument gives NULL without a call.
    assert_eq!(h.sql("SELECT ext_v1_half(5), ext_v1_half(NULL) IS NULL"), "2.5|t");
    let mut c = h.client();
    let e = c.simple_query("SELECT ext_v1_add(3000000000, 1)").unwrap_err();
    let db = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
    assert_eq!((db.code().code(), db.message()), ("22003", "integer out of range"));
    let e = c.simple_query("SELECT ext_v1_half(-1)").unwrap_err();
    let db = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
    assert_eq!((db.code().code(), db.message()), ("22023", "negative: -1"));
}

#[test]
fn check_and_assign_hooks_run_when_a_parameter_changes() {
    let (_dir, h) = ext_api_host_with(|s| s.conf("ext_api.even", "4"));
    h.wait_log(&format!("ext_api.even assigned 4 in {}", h.pid()));
    assert_eq!(h.sql("SELECT ext_even()"), "4");
    // The show hook gives what SHOW, current_setting() and pg_settings display.
    assert_eq!(h.sql("SHOW ext_api.even"), "4 (even)");
    assert_eq!(
        h.sql("SELECT current_setting('ext_api.even'), setting FROM pg_settings WHERE name = 'ext_api.even'"),
        "4 (even)|4 (even)"
    );
    let conf = h.data().join("bgworker.conf");
    let set = |v: &str| {
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(&format!("ext_api.even = {v}\n"));
        std::fs::write(&conf, text).unwrap();
        h.bgw(&["reload"]);
    };
    // Refused by the check hook: a WARNING, and the variable keeps its value.
    set("5");
    h.wait_log("invalid value for parameter \"ext_api.even\": \"5\"");
    assert_eq!(h.sql("SELECT ext_even()"), "4");
    // Adjusted by the check hook, then assigned.
    set("98");
    h.wait_log(&format!("ext_api.even assigned 100 in {}", h.pid()));
    assert_eq!(h.sql("SELECT ext_even()"), "100");
}

#[test]
fn a_module_built_against_postgresqls_own_headers_is_refused_at_load() {
    let dir = module_tempdir();
    let source = dir.path().join("pgmod.c");
    std::fs::write(
        &source,
        "#include \"postgres.h\"\n#include \"fmgr.h\"\nPG_MODULE_MAGIC;\nPGDLLEXPORT void pgmod_main(Datum arg);\n\
         void pgmod_main(Datum arg) { (void) arg; }\n",
    )
    .unwrap();
    let server = pg_config(Path::new("pg_config"), "--includedir-server");
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-I", &server])
        .arg(&source)
        .arg("-o")
        .arg(dir.path().join("pgmod.so"))
        .output()
        .expect("cc");
    assert!(out.status.success(), "{}", stderr(&out));
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    let err = h.psql("SELECT bgw_register('pgmod', 'pgmod_main', 0)").unwrap_err();
    assert!(err.contains("incompatible library") && err.contains("ABI mismatch"), "{err}");
    assert!(err.contains("library has \"PostgreSQL\""), "{err}");
    // The same source built with bgw's tree loads.
    build_c_module(&source, dir.path(), "pgmod");
    h.sql("SELECT bgw_register('pgmod', 'pgmod_main', 0) IS NOT NULL");
}

#[test]
fn a_process_that_dies_holding_an_lwlock_makes_its_waiter_crash_the_host() {
    let (_dir, h) = ext_api_host();
    assert_eq!(h.sql("SELECT ext_bump(1)"), "1001");
    // Registered, not launched: it exits at once, possibly before a wait for its start-up would see it running.
    h.register("ext_api", "ext_worker_main", 2, r#"{"name": "ext holder"}"#);
    h.wait_log("ext_api worker holds the lock");
    h.wait_log("background worker \"ext holder\" (PID");
    // The next taker finds the holder gone: PANIC, and the postmaster's crash-and-restart cycle resets shared
    // memory (the counter starts again from the startup hook's value).
    let _ = h.psql("SELECT ext_bump(1)");
    h.wait_log("which died without releasing it");
    let after = h.wait_sql("SELECT ext_bump(1)", |o| !o.is_empty());
    assert_eq!(after, "1001");
}
