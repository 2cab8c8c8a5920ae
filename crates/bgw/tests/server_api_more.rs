//! The broader server API of issue 16 that background-worker extensions in the wild use beyond worker_spi:
//! PostgreSQL 13+'s `List` (`nodes/pg_list.h`), splitting list-valued strings (`utils/varlena.h`), `port.h`'s
//! string helpers, `MyProc->procLatch` (`storage/proc.h`), configuration values (`GetConfigOption*`), PostgreSQL
//! 17's `WaitEventExtensionNew`, and a PostgreSQL 16-style dynamic launch that connects by database and role OID
//! passed in `bgw_extra`.
//!
//! Each is exercised by a C module of this file's own, written as an extension for PostgreSQL would be and built
//! with `bgw_test_support::build_c_module_from_text` against the include tree; results come back through SQL
//! functions (only their definition uses bgw/bgw.h) and the server log. The expected answers are PostgreSQL's.

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

const MORE_API: &str = r#"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "postgres.h"
#include "bgw/bgw.h"
#include "commands/dbcommands.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

PG_MODULE_MAGIC;

void _PG_init(void);
PGDLLEXPORT void more_latch_main(Datum arg);
PGDLLEXPORT void more_oid_main(Datum arg);

static int more_naptime = 10;
static bool more_flag = false;
static double more_ratio = 0.5;
static char *more_label = NULL;
static int more_level = 1;

static void
assign_level(int newval, void *extra)
{
	elog(LOG, "more_api.level assigned %d", newval);
}

static int
result_text(BgwSqlValue *result, const char *text)
{
	bgw_sql_result_text(result, text);
	return 0;
}

static void
append_ints(StringInfo out, const List *l)
{
	ListCell *lc;

	appendStringInfoChar(out, '[');
	foreach(lc, l)
		appendStringInfo(out, "%s%d", foreach_current_index(lc) > 0 ? "," : "", lfirst_int(lc));
	appendStringInfoChar(out, ']');
}

static void
append_strings(StringInfo out, const List *l)
{
	ListCell *lc;

	foreach(lc, l)
		appendStringInfo(out, "[%s]", (char *) lfirst(lc));
}

/* Lists of ints, oids and pointers, as PostgreSQL's List behaves. */
static int
more_list(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "lists", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	StringInfoData out;
	List *ints = NIL;
	List *ptrs;
	List *copy;
	List *oids;
	List *deep = NIL;
	List *nested;
	ListCell *lc;
	int i;

	MemoryContextSwitchTo(old);
	initStringInfo(&out);
	MemoryContextSwitchTo(cxt);
	for (i = 1; i <= 20; i++)
		ints = lappend_int(ints, i);
	ints = lcons_int(0, ints);
	appendStringInfo(&out, "len=%d nth20=%d first=%d last=%d has7=%d has99=%d cxt=%d,%d nil=%d ",
					 list_length(ints), list_nth_int(ints, 20), linitial_int(ints), llast_int(ints),
					 list_member_int(ints, 7), list_member_int(ints, 99),
					 GetMemoryChunkContext(ints) == cxt, GetMemoryChunkContext(ints->elements) == cxt,
					 list_length(NIL));
	ints = list_delete_first(ints);
	ints = list_delete_last(ints);
	appendStringInfo(&out, "trimmed=%d:%d..%d ", list_length(ints), linitial_int(ints), llast_int(ints));
	foreach(lc, ints)
	{
		if (lfirst_int(lc) % 2 == 0)
			ints = foreach_delete_current(ints, lc);
	}
	append_ints(&out, ints);
	ints = list_truncate(ints, 3);
	append_ints(&out, ints);
	ints = list_delete_int(ints, 3);
	append_ints(&out, ints);
	appendStringInfoChar(&out, ' ');

	ptrs = list_make3("a", "b", "c");
	ptrs = lappend(ptrs, "d");
	ptrs = lcons("z", ptrs);
	ptrs = list_concat(ptrs, list_make2("e", "f"));
	copy = list_copy(ptrs);
	list_free(ptrs);
	append_strings(&out, copy);
	appendStringInfo(&out, " second=%s third=%s nth4=%s ptr=%d,%d ", (char *) lsecond(copy), (char *) lthird(copy),
					 (char *) list_nth(copy, 4), list_member_ptr(copy, linitial(copy)),
					 list_member_ptr(copy, "not in it"));
	copy = list_delete_ptr(copy, linitial(copy));
	copy = list_copy_tail(copy, 3);
	append_strings(&out, copy);

	oids = list_make4_oid(50, 3, 40, 1);
	oids = lappend_oid(oids, 2);
	list_sort(oids, list_oid_cmp);
	appendStringInfo(&out, " oids=");
	foreach(lc, oids)
		appendStringInfo(&out, "%u.", lfirst_oid(lc));
	appendStringInfo(&out, " has40=%d nth1=%u", list_member_oid(oids, 40), list_nth_oid(oids, 1));

	for (i = 0; i < 100; i++)
		deep = lappend(deep, psprintf("s%d", i));
	appendStringInfo(&out, " deep=%d,%s", list_length(deep), (char *) llast(deep));
	list_free_deep(deep);

	nested = list_make2(list_make2_int(1, 2), list_make1_int(3));
	appendStringInfo(&out, " member=%d,%d", list_member(nested, list_make1_int(3)),
					 list_member(nested, list_make2_int(2, 1)));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return result_text(result, out.data);
}

/* more_split(kind, text): kind 0 SplitIdentifierString, 1 SplitGUCList, 2 SplitDirectoriesString, 3 identifiers
 * separated by '.'. "[a][b]" or "invalid". */
static int
more_split(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	char *raw = pstrdup(args[1].text);
	List *items = NIL;
	bool ok;
	StringInfoData out;

	switch ((int) args[0].int8)
	{
		case 0:
			ok = SplitIdentifierString(raw, ',', &items);
			break;
		case 1:
			ok = SplitGUCList(raw, ',', &items);
			break;
		case 2:
			ok = SplitDirectoriesString(raw, ',', &items);
			break;
		default:
			ok = SplitIdentifierString(raw, '.', &items);
			break;
	}
	if (!ok)
		return result_text(result, "invalid");
	initStringInfo(&out);
	append_strings(&out, items);
	appendStringInfo(&out, "%d", list_length(items));
	return result_text(result, out.data);
}

static int
more_strings(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	char path1[] = "/a//b/./c/";
	char path2[] = "rel/x/../d";
	char path3[] = "/..";

	pg_usleep(1000L);
	canonicalize_path(path1);
	canonicalize_path(path2);
	canonicalize_path(path3);
	return result_text(result, psprintf("%d %d %d %d %d %s %s %s", pg_strcasecmp("Hello", "hELLO") == 0,
										pg_strncasecmp("abcX", "ABCy", 3) == 0, pg_strcasecmp("a", "B") < 0,
										pg_strcasecmp("abc", "ab") > 0, pg_toupper('q') == 'Q', path1, path2,
										path3));
}

/* MyProc in a backend: its latch is MyLatch, its ids are the session's. */
static int
more_proc(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	if (MyProc == NULL)
		return result_text(result, "no MyProc");
	return result_text(result, psprintf("latch=%d pid=%d db=%d role=%d", MyLatch == &MyProc->procLatch,
										MyProc->pid == MyProcPid, MyProc->databaseId == MyDatabaseId,
										MyProc->roleId == GetUserId() && OidIsValid(MyProc->roleId)));
}

/* GetConfigOption and GetConfigOptionByName of the parameter named by the argument. */
static int
more_config(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	const char *raw = GetConfigOption(args[0].text, true, false);
	const char *varname = NULL;
	char *shown = GetConfigOptionByName(args[0].text, &varname, true);

	if (nargs > 1 && args[1].int8 == 1)
		(void) GetConfigOption(args[0].text, false, true);
	return result_text(result, psprintf("%s|%s|%s", raw ? raw : "(null)", shown ? shown : "(null)",
										varname ? varname : "(null)"));
}

/* SetConfigOption(name, value) from a superuser context; the value GetConfigOption reads back, and the module's
 * variable. */
static int
more_set(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	SetConfigOption(args[0].text, args[1].kind == BGW_SQL_NULL ? NULL : args[1].text, PGC_SUSET, PGC_S_SESSION);
	return result_text(result, psprintf("%s var=%d", GetConfigOption(args[0].text, false, false), more_level));
}

static int
more_wait_events(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	uint32 a = WaitEventExtensionNew("MoreA");
	uint32 b = WaitEventExtensionNew("MoreB");
	uint32 a2 = WaitEventExtensionNew("MoreA");

	return result_text(result, psprintf("a=0x%08x b=0x%08x same=%d class=%d", a, b, a == a2,
										(a & 0xFF000000U) == PG_WAIT_EXTENSION));
}

/* ---------- a worker waiting on &MyProc->procLatch ---------- */

static volatile sig_atomic_t got_sighup = false;
static volatile sig_atomic_t got_sigterm = false;

static void
more_sighup(SIGNAL_ARGS)
{
	int save_errno = errno;

	got_sighup = true;
	SetLatch(&MyProc->procLatch);
	errno = save_errno;
}

static void
more_sigterm(SIGNAL_ARGS)
{
	int save_errno = errno;

	got_sigterm = true;
	SetLatch(&MyProc->procLatch);
	errno = save_errno;
}

void
more_latch_main(Datum arg)
{
	uint32 event = WaitEventExtensionNew("MoreLatchWait");

	pqsignal(SIGHUP, more_sighup);
	pqsignal(SIGTERM, more_sigterm);
	BackgroundWorkerUnblockSignals();
	elog(LOG, "more_api latch worker: proc=%d latch=%d pid=%d", MyProc != NULL, MyLatch == &MyProc->procLatch,
		 MyProc->pid == MyProcPid);
	for (;;)
	{
		elog(LOG, "more_api latch worker waiting");
		/* no timeout: only a SetLatch wakes it */
		(void) WaitLatch(&MyProc->procLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, event);
		ResetLatch(&MyProc->procLatch);
		if (got_sighup)
		{
			got_sighup = false;
			elog(LOG, "more_api latch worker woken by SIGHUP");
		}
		if (got_sigterm)
		{
			elog(LOG, "more_api latch worker woken by SIGTERM");
			proc_exit(0);
		}
	}
}

/* ---------- PostgreSQL 16-style dynamic launch: OIDs and flags in bgw_extra ---------- */

typedef struct MoreLaunch
{
	Oid dboid;
	Oid roleoid;
	bits32 flags;
	char tag[16];
} MoreLaunch;

void
more_oid_main(Datum arg)
{
	MoreLaunch launch;

	memcpy(&launch, MyBgworkerEntry->bgw_extra, sizeof(launch));
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(launch.dboid, launch.roleoid, launch.flags);
	elog(LOG, "more_api oid worker %s: db=%s role=%s flags=%u proc_db=%d proc_role=%d arg=%d", launch.tag,
		 get_database_name(MyDatabaseId), GetUserNameFromId(GetUserId(), false), launch.flags,
		 MyProc->databaseId == launch.dboid, MyProc->roleId == launch.roleoid, DatumGetInt32(arg));
}

/* more_launch(database, role): the started worker's pid. */
static int
more_launch(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MoreLaunch launch;
	pid_t pid;

	memset(&worker, 0, sizeof(worker));
	memset(&launch, 0, sizeof(launch));
	launch.dboid = get_database_oid(args[0].text, false);
	launch.roleoid = get_role_oid(args[1].text, false);
	launch.flags = BGWORKER_BYPASS_ALLOWCONN;
	snprintf(launch.tag, sizeof(launch.tag), "%s", "by-oid");
	StaticAssertStmt(sizeof(launch) <= BGW_EXTRALEN, "fits in bgw_extra");
	memcpy(worker.bgw_extra, &launch, sizeof(launch));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "more_api");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "more_oid_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "more_api oid worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "more_api");
	worker.bgw_main_arg = Int32GetDatum(42);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return result_text(result, "no slot");
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		return result_text(result, "not started");
	result->kind = BGW_SQL_INT8;
	result->int8 = pid;
	return 0;
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("more_api.naptime", "Seconds.", NULL, &more_naptime, 10, 1, 3600, PGC_SIGHUP,
							GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("more_api.flag", "A flag.", NULL, &more_flag, false, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("more_api.ratio", "A ratio.", NULL, &more_ratio, 0.5, 0.0, 1.0, PGC_SIGHUP, 0, NULL,
							 NULL, NULL);
	DefineCustomStringVariable("more_api.label", "A label.", NULL, &more_label, "plain", PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomIntVariable("more_api.level", "A level.", NULL, &more_level, 1, 0, 10, PGC_SUSET, 0, NULL,
							assign_level, NULL);
	MarkGUCPrefixReserved("more_api");
	bgw_define_sql_function("more_set", 2, BGW_SQL_TEXT, 0, more_set);
	bgw_define_sql_function("more_list", 0, BGW_SQL_TEXT, 0, more_list);
	bgw_define_sql_function("more_split", 2, BGW_SQL_TEXT, 0, more_split);
	bgw_define_sql_function("more_strings", 0, BGW_SQL_TEXT, 0, more_strings);
	bgw_define_sql_function("more_proc", 0, BGW_SQL_TEXT, 0, more_proc);
	bgw_define_sql_function("more_config", 1, BGW_SQL_TEXT, 0, more_config);
	bgw_define_sql_function("more_config_strict", 2, BGW_SQL_TEXT, 0, more_config);
	bgw_define_sql_function("more_wait_events", 0, BGW_SQL_TEXT, 0, more_wait_events);
	bgw_define_sql_function("more_launch", 2, BGW_SQL_INT8, 0, more_launch);
}
"#;

fn more_api_host() -> (tempfile::TempDir, Host) {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "more_api", MORE_API);
    let h = Host::start(
        Setup::new(BGW)
            .library_path(dir.path())
            .conf("shared_preload_libraries", "'more_api'")
            .conf("more_api.flag", "on"),
    );
    (dir, h)
}

#[test]
fn lists_behave_as_postgresqls() {
    let (_dir, h) = more_api_host();
    assert_eq!(
        h.sql("SELECT more_list()"),
        "len=21 nth20=20 first=0 last=20 has7=1 has99=0 cxt=1,1 nil=0 trimmed=19:1..19 \
         [1,3,5,7,9,11,13,15,17,19][1,3,5][1,5] [z][a][b][c][d][e][f] second=a third=b nth4=d ptr=1,0 \
         [d][e][f] oids=1.2.3.40.50. has40=1 nth1=2 deep=100,s99 member=1,0"
    );
}

#[test]
fn strings_split_as_postgresql_splits_them() {
    let (_dir, h) = more_api_host();
    // The cases were checked against PostgreSQL 15 (its search_path goes through SplitIdentifierString:
    // set_config('search_path', ...) and current_schemas(false), or "List syntax is invalid.").
    let split = |kind: i32, s: &str| h.sql(&format!("SELECT more_split({kind}, '{}')", s.replace('\'', "''")));
    // Identifiers: unquoted ones downcased, quoted ones kept (a doubled quote is one), whitespace around items.
    assert_eq!(split(0, r#" Foo , "Bar""Baz" ,baz "#), r#"[foo][Bar"Baz][baz]3"#);
    assert_eq!(split(0, r#""a b",C"#), "[a b][c]2");
    assert_eq!(split(0, r#""""#), "[]1");
    assert_eq!(split(0, ""), "0");
    assert_eq!(split(0, "   "), "0");
    // Refused: an empty unquoted item, whitespace inside one, a trailing separator, an unterminated quote, text
    // after a quoted item.
    for bad in ["a,,b", "a b", "a,", ",a", r#""open"#, r#""x"y"#] {
        assert_eq!(split(0, bad), "invalid", "{bad}");
    }
    // Names are truncated to NAMEDATALEN-1 bytes.
    let long = "A".repeat(70);
    assert_eq!(split(0, &long), format!("[{}]1", "a".repeat(63)));
    assert_eq!(split(3, r#"Sch."Tbl""#), "[sch][Tbl]2");
    // GUC lists: no downcasing.
    assert_eq!(split(1, r#" Foo , "Bar" "#), "[Foo][Bar]2");
    assert_eq!(split(1, "a,,b"), "invalid");
    // Directories: unquoted ones may hold spaces; each is made canonical.
    assert_eq!(split(2, r#"/a//b/./c/ , "/x y/" ,  /my dir/z "#), "[/a/b/c][/x y][/my dir/z]3");
    assert_eq!(split(2, "/a,,/b"), "invalid");
    // port.h: case-insensitive comparison, canonical paths.
    assert_eq!(h.sql("SELECT more_strings()"), "1 1 1 1 1 /a/b/c rel/d /");
}

#[test]
fn my_proc_latch_is_my_latch_and_signal_handlers_wake_it() {
    let (_dir, h) = more_api_host();
    assert_eq!(h.sql("SELECT more_proc()"), "latch=1 pid=1 db=1 role=1");
    let pid = h.launch("more_api", "more_latch_main", 0, r#"{"name": "more latch"}"#);
    h.wait_log("more_api latch worker: proc=1 latch=1 pid=1");
    h.wait_log("more_api latch worker waiting");
    process::signal(pid, libc::SIGHUP);
    h.wait_log("more_api latch worker woken by SIGHUP");
    h.wait_log_count("more_api latch worker waiting", 2);
    process::signal(pid, libc::SIGTERM);
    h.wait_log("more_api latch worker woken by SIGTERM");
    let log = h.wait_log(&format!("(PID {pid}) exited with exit code 0"));
    assert_eq!(log.matches("more_api latch worker woken by SIGHUP").count(), 1, "{log}");
}

#[test]
fn a_dynamic_worker_connects_by_the_oids_in_bgw_extra() {
    let (_dir, h) = more_api_host();
    // The bootstrap superuser is named after the OS user, as initdb names it.
    let user = os_user();
    let pid = h.sql(&format!("SELECT more_launch('postgres', '{user}')"));
    assert!(pid.parse::<i32>().is_ok_and(|p| p > 0), "{pid}");
    h.wait_log(&format!("more_api oid worker by-oid: db=postgres role={user} flags=1 proc_db=1 proc_role=1 arg=42"));
    // An unknown database is PostgreSQL's error, raised in the launching session.
    let mut c = h.client();
    let e = c.simple_query(&format!("SELECT more_launch('no_such_db', '{user}')")).unwrap_err();
    let db = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
    assert_eq!((db.code().code(), db.message()), ("3D000", "database \"no_such_db\" does not exist"));
    let e = c.simple_query("SELECT more_launch('postgres', 'nobody')").unwrap_err();
    let db = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
    assert_eq!((db.code().code(), db.message()), ("42704", "role \"nobody\" does not exist"));
}

#[test]
fn configuration_values_and_custom_wait_events() {
    let (_dir, h) = more_api_host();
    // The raw value (base unit, no unit name), then as SHOW displays it, then the name.
    assert_eq!(h.sql("SELECT more_config('more_api.naptime')"), "10|10s|more_api.naptime");
    assert_eq!(h.sql("SELECT more_config('more_api.flag')"), "on|on|more_api.flag");
    assert_eq!(h.sql("SELECT more_config('more_api.ratio')"), "0.5|0.5|more_api.ratio");
    assert_eq!(h.sql("SELECT more_config('more_api.label')"), "plain|plain|more_api.label");
    assert_eq!(h.sql("SELECT more_config('max_worker_processes')"), "8|8|max_worker_processes");
    assert_eq!(h.sql("SELECT more_config('authentication_timeout')"), "60|1min|authentication_timeout");
    assert_eq!(h.sql("SELECT more_config('no_such.param')"), "(null)|(null)|(null)");
    let mut c = h.client();
    let e = c.simple_query("SELECT more_config_strict('no_such_param', 1)").unwrap_err();
    let db = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
    assert_eq!((db.code().code(), db.message()), ("42704", "unrecognized configuration parameter \"no_such_param\""));
    // SetConfigOption: a module's parameter (its variable written, its assign hook run) and the host's, read
    // back in the same session; PostgreSQL's refusals by context and for a bad value.
    assert_eq!(h.sql("SELECT more_set('more_api.level', '7'); SHOW more_api.level"), "7 var=7\n7");
    h.wait_log("more_api.level assigned 7");
    assert_eq!(h.sql("SELECT more_set('more_api.level', NULL)"), "1 var=1");
    assert_eq!(h.sql("SELECT more_set('statement_timeout', '5s')"), "5000 var=1");
    for (name, value, code, message) in [
        (
            "max_connections",
            "50",
            "55P02",
            "parameter \"max_connections\" cannot be changed without restarting the server",
        ),
        ("authentication_timeout", "5", "55P02", "parameter \"authentication_timeout\" cannot be changed now"),
        ("more_api.level", "abc", "22023", "invalid value for parameter \"more_api.level\": \"abc\""),
        ("no_such_param", "1", "42704", "unrecognized configuration parameter \"no_such_param\""),
    ] {
        let e = c.simple_query(&format!("SELECT more_set('{name}', '{value}')")).unwrap_err();
        let db = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
        assert_eq!((db.code().code(), db.message()), (code, message));
    }
    // PostgreSQL 17's custom wait events: extension class, one id per name.
    assert_eq!(h.sql("SELECT more_wait_events()"), "a=0x07000001 b=0x07000002 same=1 class=1");
}
