//! Extensions as PostgreSQL installs them (issue 16): `CREATE EXTENSION` on an embedded database runs the
//! extension's script from the share directory, its `CREATE FUNCTION ... LANGUAGE C` registers version-1 C
//! functions in the database (every session, across restarts), `DROP EXTENSION` removes them, `\dx` and `\df`
//! list them, and messages a C function raises reach the client.
//!
//! The test's own extension (`bgw_ext_test`: a control file, an install script with PostgreSQL's `\echo ...
//! \quit` guard, an update script, a C source with `PG_MODULE_MAGIC` and `PG_FUNCTION_INFO_V1` functions, one of
//! which registers a dynamic worker of its library and returns its pid as `worker_spi_launch` does) is built with
//! its PGXS Makefile and bgw's `pg_config` into a temporary installation, as tests/extensions.rs builds
//! PostgreSQL's `worker_spi`; the host finds the control files through `extension_control_path` and the library
//! through `dynamic_library_path`.

use bgw_test_support::*;
use std::path::Path;
use std::sync::{Arc, Mutex};

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

const MAKEFILE: &str = r#"MODULES = bgw_ext_test
EXTENSION = bgw_ext_test bgw_ext_dep bgw_ext_bad
DATA = bgw_ext_test--1.0.sql bgw_ext_test--1.0--1.1.sql bgw_ext_dep--1.0.sql bgw_ext_bad--1.0.sql
PGFILEDESC = "bgw_ext_test - CREATE EXTENSION test"

PG_CONFIG = pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
"#;

const CONTROL: &str = "# bgw_ext_test extension
comment = 'bgw extension test'
default_version = '1.1'
module_pathname = '$libdir/bgw_ext_test'
relocatable = true
";

const SCRIPT_1_0: &str = r#"/* bgw_ext_test--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION bgw_ext_test" to load this file. \quit

CREATE FUNCTION ext_add(integer, integer)
RETURNS integer STRICT
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE FUNCTION ext_greet(name text) RETURNS text STRICT AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE;

CREATE FUNCTION ext_launch(pg_catalog.int4)
RETURNS pg_catalog.int4 STRICT
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE TABLE @extschema@.ext_log (id serial PRIMARY KEY, note text);
"#;

const SCRIPT_1_1: &str = r#"/* bgw_ext_test--1.0--1.1.sql */
\echo Use "ALTER EXTENSION bgw_ext_test UPDATE TO '1.1'" to load this file. \quit
CREATE FUNCTION ext_notice(int4) RETURNS int4 AS 'MODULE_PATHNAME', 'ext_notice' LANGUAGE C;
CREATE FUNCTION ext_fail() RETURNS int4 AS 'MODULE_PATHNAME' LANGUAGE C;
"#;

const DEP_CONTROL: &str = "comment = 'needs bgw_ext_test'
default_version = '1.0'
requires = 'bgw_ext_test'
relocatable = false
schema = public
";

const DEP_SCRIPT: &str = "\\echo Use \"CREATE EXTENSION bgw_ext_dep\" to load this file. \\quit
CREATE TABLE dep_items (a int4);
CREATE VIEW dep_view AS SELECT a FROM dep_items;
";

const BAD_CONTROL: &str = "comment = 'its script has a statement the dialect refuses'
default_version = '1.0'
module_pathname = '$libdir/bgw_ext_test'
";

const BAD_SCRIPT: &str = "CREATE FUNCTION bad_add(int4, int4) RETURNS int4 AS 'MODULE_PATHNAME', 'ext_add' LANGUAGE C;
CREATE TABLE bad_table (a int4);
CREATE TYPE bad_type AS ENUM ('x', 'y');
";

const SOURCE: &str = r#"
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(ext_add);
PG_FUNCTION_INFO_V1(ext_greet);
PG_FUNCTION_INFO_V1(ext_launch);
PG_FUNCTION_INFO_V1(ext_notice);
PG_FUNCTION_INFO_V1(ext_fail);

PGDLLEXPORT void ext_worker_main(Datum main_arg);

Datum
ext_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_INT32(0) + PG_GETARG_INT32(1));
}

Datum
ext_greet(PG_FUNCTION_ARGS)
{
	char	   *who = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_TEXT_P(cstring_to_text(psprintf("hello, %s", who)));
}

Datum
ext_notice(PG_FUNCTION_ARGS)
{
	int32		n = PG_GETARG_INT32(0);

	ereport(NOTICE,
			(errcode(ERRCODE_WARNING_DEPRECATED_FEATURE),
			 errmsg("ext notice %d", n),
			 errdetail("the detail"),
			 errhint("the hint")));
	ereport(INFO, (errmsg("ext info %d", n)));
	elog(WARNING, "ext warning %d", n);
	elog(DEBUG1, "ext debug %d", n);
	PG_RETURN_INT32(n);
}

Datum
ext_fail(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_DIVISION_BY_ZERO),
			 errmsg("ext failed on purpose"),
			 errdetail("the detail"),
			 errhint("the hint")));
	PG_RETURN_NULL();
}

void
ext_worker_main(Datum main_arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	elog(LOG, "ext worker %d started", DatumGetInt32(main_arg));
	while (!ShutdownRequestPending)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}

/* As worker_spi_launch: registers a dynamic worker of this library and returns its pid once it started. */
Datum
ext_launch(PG_FUNCTION_ARGS)
{
	int32		i = PG_GETARG_INT32(0);
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	pid_t		pid;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	sprintf(worker.bgw_library_name, "bgw_ext_test");
	sprintf(worker.bgw_function_name, "ext_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ext worker %d", i);
	snprintf(worker.bgw_type, BGW_MAXLEN, "ext_worker");
	worker.bgw_main_arg = Int32GetDatum(i);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		PG_RETURN_NULL();

	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status == BGWH_STOPPED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start background process"),
				 errhint("More details may be available in the server log.")));
	if (status == BGWH_POSTMASTER_DIED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("cannot start background processes without postmaster"),
				 errhint("Kill all remaining database processes and restart the database.")));
	Assert(status == BGWH_STARTED);

	PG_RETURN_INT32(pid);
}
"#;

/// The test extension, built and installed into a fresh installation.
fn build_test_extension() -> Installation {
    let inst = Installation::new(Path::new(BGW));
    let src = inst.dir.path().join("src/bgw_ext_test");
    std::fs::create_dir_all(&src).unwrap();
    for (name, text) in [
        ("Makefile", MAKEFILE),
        ("bgw_ext_test.control", CONTROL),
        ("bgw_ext_test--1.0.sql", SCRIPT_1_0),
        ("bgw_ext_test--1.0--1.1.sql", SCRIPT_1_1),
        ("bgw_ext_dep.control", DEP_CONTROL),
        ("bgw_ext_dep--1.0.sql", DEP_SCRIPT),
        ("bgw_ext_bad.control", BAD_CONTROL),
        ("bgw_ext_bad--1.0.sql", BAD_SCRIPT),
        ("bgw_ext_test.c", SOURCE),
    ] {
        std::fs::write(src.join(name), text).unwrap();
    }
    inst.make_install(&src);
    assert!(inst.lib_dir().join("bgw_ext_test.so").is_file());
    assert!(inst.share_dir().join("extension/bgw_ext_test.control").is_file());
    inst
}

/// A host that finds the installation's extensions and libraries.
fn setup(inst: &Installation) -> Setup {
    Setup::new(BGW)
        .library_path(&inst.lib_dir())
        .conf("extension_control_path", &format!("'{}:$system'", inst.share_dir().display()))
}

fn code_of(err: &str) -> &str {
    err.split("ERROR:").nth(1).map(|r| r.trim_start()).and_then(|r| r.get(..5)).unwrap_or("")
}

#[test]
fn create_extension_registers_c_functions_for_every_session_until_dropped() {
    let inst = build_test_extension();
    let mut h = Host::start(setup(&inst));
    // A session open before the extension exists learns of its functions.
    let mut early = h.client();
    assert_eq!(h.sql("CREATE EXTENSION bgw_ext_test"), "CREATE EXTENSION");
    assert_eq!(h.sql("SELECT ext_add(2, 3)"), "5");
    assert_eq!(h.sql("SELECT ext_greet('bgw')"), "hello, bgw");
    assert_eq!(h.sql("SELECT ext_add(NULL, 1) IS NULL"), "t");
    // Described with the declared result type (int4), as PostgreSQL's.
    let prepared = early.prepare("SELECT ext_add(20, 22)").unwrap();
    assert_eq!(prepared.columns()[0].type_(), &postgres::types::Type::INT4);
    let row = early.query_one("SELECT ext_add(20, 22)", &[]).unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    // The update script ran too (default_version 1.1 through 1.0 and 1.0--1.1), and the script's table exists.
    assert_eq!(h.sql("SELECT ext_notice(1)"), "1");
    assert_eq!(h.sql("INSERT INTO ext_log (note) VALUES ('x') RETURNING id"), "1\nINSERT 0 1");

    // The C function registers a dynamic worker of its own library and returns its pid, as worker_spi_launch.
    let pid: i32 = h.sql("SELECT ext_launch(7)").parse().unwrap();
    assert!(pid > 0);
    assert_eq!(h.sql(&format!("SELECT bgw_type_by_pid({pid})")), "ext_worker");
    h.wait_log("ext worker 7 started");

    // \dx and \df list them, with PostgreSQL's columns.
    let dx = h.sql("\\dx");
    assert!(dx.contains("bgw_ext_test|1.1|public|bgw extension test"), "{dx}");
    // \dx+ lists its members (pg_depend's `e` rows, pg_describe_object), as PostgreSQL's.
    let members = h.sql("\\dx+ bgw_ext_test");
    assert_eq!(
        members,
        "function ext_add(integer,integer)\nfunction ext_fail()\nfunction ext_greet(text)\n\
         function ext_launch(integer)\nfunction ext_notice(integer)\nsequence ext_log_id_seq\ntable ext_log"
    );
    let df = h.sql("\\df ext_add");
    assert_eq!(df, "public|ext_add|integer|integer, integer|func");
    let proc = h.sql(
        "SELECT l.lanname, p.proisstrict, p.provolatile, p.prosrc, p.probin FROM pg_proc p \
         JOIN pg_language l ON l.oid = p.prolang WHERE p.proname = 'ext_greet'",
    );
    assert_eq!(proc, "c|t|i|ext_greet|$libdir/bgw_ext_test");
    let available = h.sql(
        "SELECT name, default_version, installed_version, comment FROM pg_available_extensions WHERE name = 'bgw_ext_test'",
    );
    assert_eq!(available, "bgw_ext_test|1.1|1.1|bgw extension test");
    let versions =
        h.sql("SELECT version, installed FROM pg_available_extension_versions WHERE name = 'bgw_ext_test' ORDER BY 1");
    assert_eq!(versions, "1.0|f");

    // Errors as PostgreSQL's.
    let err = h.psql("CREATE EXTENSION bgw_ext_test").unwrap_err();
    assert!(err.contains("42710: extension \"bgw_ext_test\" already exists"), "{err}");
    let out = h.sql("CREATE EXTENSION IF NOT EXISTS bgw_ext_test");
    assert_eq!(out, "CREATE EXTENSION");
    let err = h.psql("DROP FUNCTION ext_add(int4, int4)").unwrap_err();
    assert!(
        err.contains(
            "2BP01: cannot drop function ext_add(integer, integer) because extension bgw_ext_test requires it"
        ),
        "{err}"
    );

    // A restart keeps the catalog.
    h.stop(SIGINT);
    h.launch_postmaster(&[]);
    h.wait_ready();
    assert_eq!(h.sql("SELECT ext_add(2, 2)"), "4");

    // DROP EXTENSION removes its functions and the table its script created, in this session and the others.
    let mut early = h.client();
    assert_eq!(early.query_one("SELECT ext_add(1, 1)", &[]).unwrap().get::<_, i32>(0), 2);
    assert_eq!(h.sql("DROP EXTENSION bgw_ext_test"), "DROP EXTENSION");
    let err = h.psql("SELECT ext_add(1, 1)").unwrap_err();
    assert!(err.contains("42883"), "{err}");
    let err = early.query_one("SELECT ext_add(1, 1)", &[]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42883"), "{err}");
    let err = h.psql("SELECT * FROM ext_log").unwrap_err();
    assert!(err.contains("42P01"), "{err}");
    assert_eq!(h.sql("\\dx"), "");
    let err = h.psql("DROP EXTENSION bgw_ext_test").unwrap_err();
    assert!(err.contains("42704: extension \"bgw_ext_test\" does not exist"), "{err}");
    assert_eq!(h.sql("DROP EXTENSION IF EXISTS bgw_ext_test"), "DROP EXTENSION");
    h.stop(SIGINT);
}

#[test]
fn create_extension_errors_are_postgresqls() {
    let inst = build_test_extension();
    let h = Host::start(setup(&inst).tcp());
    let err = h.psql("CREATE EXTENSION no_such_extension").unwrap_err();
    assert!(err.contains("0A000: extension \"no_such_extension\" is not available"), "{err}");
    assert!(err.contains("Could not open extension control file"), "{err}");
    assert!(err.contains("The extension must first be installed on the system where PostgreSQL is running."), "{err}");
    let err = h.psql("CREATE EXTENSION bgw_ext_test VERSION '9.9'").unwrap_err();
    assert!(
        err.contains(
            "22023: extension \"bgw_ext_test\" has no installation script nor update path for version \"9.9\""
        ),
        "{err}"
    );
    // Version 1.0 alone: the update's functions are not there.
    assert_eq!(h.sql("CREATE EXTENSION bgw_ext_test VERSION '1.0'"), "CREATE EXTENSION");
    assert_eq!(h.sql("SELECT extversion FROM pg_extension WHERE extname = 'bgw_ext_test'"), "1.0");
    assert!(h.psql("SELECT ext_fail()").unwrap_err().contains("42883"));
    assert_eq!(h.sql("DROP EXTENSION bgw_ext_test"), "DROP EXTENSION");

    // requires: refused without CASCADE, installed with it; dropping the required one needs CASCADE.
    let err = h.psql("CREATE EXTENSION bgw_ext_dep").unwrap_err();
    assert!(err.contains("42704: required extension \"bgw_ext_test\" is not installed"), "{err}");
    assert_eq!(h.sql("CREATE EXTENSION bgw_ext_dep CASCADE"), "CREATE EXTENSION");
    assert_eq!(h.sql("SELECT extname FROM pg_extension ORDER BY 1"), "bgw_ext_dep\nbgw_ext_test");
    assert_eq!(h.sql("SELECT count(*) FROM dep_view"), "0");
    let err = h.psql("DROP EXTENSION bgw_ext_test").unwrap_err();
    assert!(err.contains("2BP01: cannot drop extension bgw_ext_test because other objects depend on it"), "{err}");
    assert_eq!(h.sql("DROP EXTENSION bgw_ext_test CASCADE"), "DROP EXTENSION");
    assert_eq!(h.sql("SELECT count(*) FROM pg_extension"), "0");
    assert!(h.psql("SELECT * FROM dep_items").unwrap_err().contains("42P01"));

    // A script statement the dialect refuses fails CREATE EXTENSION with its error; nothing of it remains.
    let err = h.psql("CREATE EXTENSION bgw_ext_bad").unwrap_err();
    assert!(code_of(&err) == "0A000", "{err}");
    assert!(h.psql("SELECT bad_add(1, 2)").unwrap_err().contains("42883"));
    assert!(h.psql("SELECT * FROM bad_table").unwrap_err().contains("42P01"));
    assert_eq!(h.sql("SELECT count(*) FROM pg_extension"), "0");
    // In a transaction block, the failure fails the block.
    let err = h.psql("BEGIN; CREATE EXTENSION bgw_ext_bad; COMMIT;").unwrap_err();
    assert!(code_of(&err) == "0A000", "{err}");

    // A CREATE EXTENSION rolled back leaves nothing, in the session that made it too.
    let mut c = h.client();
    c.batch_execute("BEGIN; CREATE EXTENSION bgw_ext_test; SELECT ext_add(1, 2); ROLLBACK").unwrap();
    let err = c.query_one("SELECT ext_add(1, 2)", &[]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42883"), "{err}");
    assert_eq!(c.query_one("SELECT count(*) FROM pg_extension", &[]).unwrap().get::<_, i64>(0), 0);

    // ALTER EXTENSION is refused.
    let err = h.psql("ALTER EXTENSION bgw_ext_test UPDATE").unwrap_err();
    assert!(err.contains("0A000"), "{err}");

    // CREATE FUNCTION ... LANGUAGE C directly, by a superuser; the checks of load_external_function.
    let lib = inst.lib_dir().join("bgw_ext_test");
    let lib = lib.display();
    assert_eq!(
        h.sql(&format!("CREATE FUNCTION my_add(int4, int4) RETURNS int4 STRICT AS '{lib}', 'ext_add' LANGUAGE C")),
        "CREATE FUNCTION"
    );
    assert_eq!(h.sql("SELECT my_add(40, 2)"), "42");
    let err = h
        .psql(&format!("CREATE FUNCTION my_add(int4, int4) RETURNS int4 AS '{lib}', 'ext_add' LANGUAGE C"))
        .unwrap_err();
    assert!(err.contains("42723: function \"my_add\" already exists with same argument types"), "{err}");
    assert_eq!(
        h.sql("CREATE OR REPLACE FUNCTION my_add(int4, int4) RETURNS int4 AS 'bgw_ext_test', 'ext_add' LANGUAGE C"),
        "CREATE FUNCTION"
    );
    let err = h.psql("CREATE FUNCTION nolib(int4) RETURNS int4 AS 'no_such_library' LANGUAGE C").unwrap_err();
    assert!(err.contains("58P01: could not access file \"no_such_library\": No such file or directory"), "{err}");
    let err =
        h.psql("CREATE FUNCTION nosym(int4) RETURNS int4 AS 'bgw_ext_test', 'no_such_symbol' LANGUAGE C").unwrap_err();
    assert!(err.contains("42883: could not find function \"no_such_symbol\" in file"), "{err}");
    let err = h
        .psql("CREATE FUNCTION noinfo(int4) RETURNS void AS 'bgw_ext_test', 'ext_worker_main' LANGUAGE C")
        .unwrap_err();
    assert!(err.contains("42P13: could not find function information for function \"ext_worker_main\""), "{err}");
    let err = h.psql("CREATE FUNCTION d(date) RETURNS int4 AS 'bgw_ext_test', 'ext_add' LANGUAGE C").unwrap_err();
    assert!(err.contains("0A000: C functions taking type date are not supported"), "{err}");
    assert_eq!(h.sql("DROP FUNCTION my_add(integer, integer)"), "DROP FUNCTION");
    let err = h.psql("DROP FUNCTION my_add(integer, integer)").unwrap_err();
    assert!(err.contains("42883: function my_add(integer, integer) does not exist"), "{err}");
    let err = h.psql("DROP FUNCTION my_add").unwrap_err();
    assert!(err.contains("42883: could not find a function named \"my_add\""), "{err}");

    // Not a superuser: CREATE EXTENSION of an untrusted extension and LANGUAGE C are refused.
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'pw'");
    let mut bob = tcp_client(h.port, "bob", "pw").unwrap();
    let err = bob.batch_execute("CREATE EXTENSION bgw_ext_test").unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!((db.code().code(), db.message()), ("42501", "permission denied to create extension \"bgw_ext_test\""));
    assert_eq!(db.hint(), Some("Must be superuser to create this extension."));
    let err =
        bob.batch_execute("CREATE FUNCTION f(int4) RETURNS int4 AS 'bgw_ext_test', 'ext_add' LANGUAGE C").unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!((db.code().code(), db.message()), ("42501", "permission denied for language c"));
}

/// A notice as the client got it: severity, SQLSTATE, message, detail, hint.
type Notice = (String, String, String, Option<String>, Option<String>);

#[test]
fn messages_of_c_functions_reach_the_client() {
    let inst = build_test_extension();
    let h = Host::start(setup(&inst));
    let notices: Arc<Mutex<Vec<Notice>>> = Arc::default();
    let seen = notices.clone();
    let mut config = h.client_config(&os_user(), "postgres");
    config.notice_callback(move |n| {
        seen.lock().unwrap().push((
            n.severity().to_string(),
            n.code().code().to_string(),
            n.message().to_string(),
            n.detail().map(str::to_string),
            n.hint().map(str::to_string),
        ))
    });
    let mut client = config.connect(postgres::NoTls).unwrap();
    // Over the extended protocol too (Parse, Bind, Execute).
    assert_eq!(client.execute("CREATE EXTENSION bgw_ext_test", &[]).unwrap(), 0);
    assert_eq!(client.query_one("SELECT ext_notice(4)", &[]).unwrap().get::<_, i32>(0), 4);
    let got = std::mem::take(&mut *notices.lock().unwrap());
    assert_eq!(
        got,
        vec![
            (
                "NOTICE".into(),
                "01P01".into(),
                "ext notice 4".into(),
                Some("the detail".into()),
                Some("the hint".into())
            ),
            ("INFO".into(), "00000".into(), "ext info 4".into(), None, None),
            ("WARNING".into(), "01000".into(), "ext warning 4".into(), None, None),
        ]
    );
    // client_min_messages: NOTICE held back, INFO always sent, as PostgreSQL.
    client.batch_execute("SET client_min_messages = warning").unwrap();
    client.query_one("SELECT ext_notice(5)", &[]).unwrap();
    let got: Vec<String> = notices.lock().unwrap().drain(..).map(|n| n.2).collect();
    assert_eq!(got, vec!["ext info 5".to_string(), "ext warning 5".to_string()]);
    // The server log has them at its own level (log_min_messages = debug1 in tests).
    h.wait_log("ext notice 4");
    // An ERROR fails the statement with its fields; the session goes on.
    let err = client.query_one("SELECT ext_fail()", &[]).unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!((db.code().code(), db.message()), ("22012", "ext failed on purpose"));
    assert_eq!((db.detail(), db.hint()), (Some("the detail"), Some("the hint")));
    assert_eq!(client.query_one("SELECT ext_add(1, 2)", &[]).unwrap().get::<_, i32>(0), 3);
}

/// PostgreSQL's worker_spi, built unchanged: CREATE EXTENSION runs its script, whose CREATE FUNCTION loads the
/// library and registers `worker_spi_launch` (tests/worker_spi_run.rs runs the worker it launches).
#[test]
fn create_extension_worker_spi_registers_its_function() {
    let inst = Installation::new(Path::new(BGW));
    inst.build(&repo_root().join("../shared/testdata/worker_spi"));
    let h = Host::start(setup(&inst));
    assert_eq!(h.psql("CREATE EXTENSION worker_spi").unwrap(), "CREATE EXTENSION");
    assert_eq!(
        h.sql("SELECT proname, prorettype::regtype, pronargs FROM pg_proc WHERE proname = 'worker_spi_launch'"),
        "worker_spi_launch|integer|1"
    );
    assert_eq!(h.sql("SELECT extname, extversion FROM pg_extension"), "worker_spi|1.0");
}
