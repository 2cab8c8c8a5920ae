//! `bgw-abi` against the server include tree (`include/`, gathered by `include/bgworker.h`): the C compiler's
//! view of every shared struct, type and constant must be the Rust one.
//!
//! The tree has two kinds of headers. Those that declare what crosses between C and Rust (the worker API,
//! latches, parameters, SPI, activity, bgw's own additions: [`ABI_HEADERS`]) are scanned for completeness as
//! below. The others declare what C alone implements or uses (memory contexts, StringInfo, error recovery, varlena
//! and Datum macros: the host's C part, `crates/bgw/src/modules/*.c`) and are listed with the reason. Every header
//! of the tree must be one or the other, must be included by `bgworker.h`, and must compile on its own.
//!
//! The test writes a C program that includes the header and prints `sizeof`, `_Alignof` and, for each field,
//! `offsetof` and `sizeof` of every struct in [`STRUCTS`], size and signedness of every type in [`TYPES`], and the
//! value of every constant in [`CONSTANTS`]; it compiles the program with the system's C compiler (`$CC`, else
//! `cc`), runs it, and compares each line with the Rust definition. A compiler that is missing or fails is a
//! failure, not a skip.
//!
//! The tables must be complete in both directions, which the test checks by scanning the sources:
//! - every object-like `#define` with a value, every enum member, every struct (and each of its fields) and every
//!   `typedef` of the header is checked here or named in an exemption list with the reason;
//! - every `pub const`, `pub struct` and `pub type` of `bgw-abi` is checked here or named in an exemption list
//!   (a rule the header states only in prose, an opaque type).
//!
//! So a constant added on one side only, a changed value, a field of another type or in another place, all fail.

use bgw_abi::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_int, c_long};
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A constant: its name (the same on both sides) and its Rust value.
type Constant = (&'static str, i128);

macro_rules! constants {
    ($($name:ident),* $(,)?) => { &[$((stringify!($name), $name as i128)),*] };
}

/// Every constant the header and `bgw-abi` both define.
const CONSTANTS: &[Constant] = constants![
    // types
    MAXPGPATH,
    InvalidOid,
    // worker
    BGWORKER_SHMEM_ACCESS,
    BGWORKER_BACKEND_DATABASE_CONNECTION,
    BGWORKER_CLASS_PARALLEL,
    BGWORKER_INTERRUPTIBLE,
    BGWORKER_BIND_REGISTRANT,
    BGWORKER_DIE_AT_INTERRUPTS,
    BgWorkerStart_PostmasterStart,
    BgWorkerStart_ConsistentState,
    BgWorkerStart_RecoveryFinished,
    BGW_DEFAULT_RESTART_INTERVAL,
    BGW_NEVER_RESTART,
    BGW_MAXLEN,
    BGW_EXTRALEN,
    BGWH_STARTED,
    BGWH_NOT_YET_STARTED,
    BGWH_STOPPED,
    BGWH_POSTMASTER_DIED,
    BGWORKER_BYPASS_ALLOWCONN,
    BGWORKER_BYPASS_ROLELOGINCHECK,
    // exit reasons (bgw/bgw.h)
    BGW_EXIT_NONE,
    BGW_EXIT_CODE,
    BGW_EXIT_SIGNAL,
    BGW_EXIT_TERMINATED,
    BGW_EXIT_CRASH_CYCLE,
    BGW_EXIT_FORK_FAILED,
    BGW_EXIT_START_TIMEOUT,
    BGW_EXIT_GAVE_UP,
    BGW_EXIT_SHUTDOWN,
    BGW_EXIT_STALE_HANDLE,
    // latch
    WL_LATCH_SET,
    WL_SOCKET_READABLE,
    WL_SOCKET_WRITEABLE,
    WL_TIMEOUT,
    WL_POSTMASTER_DEATH,
    WL_EXIT_ON_PM_DEATH,
    PG_WAIT_EXTENSION,
    PG_WAIT_LWLOCK,
    PG_WAIT_LOCK,
    PG_WAIT_BUFFER_PIN,
    PG_WAIT_ACTIVITY,
    PG_WAIT_CLIENT,
    PG_WAIT_IPC,
    PG_WAIT_TIMEOUT,
    PG_WAIT_IO,
    PGINVALID_SOCKET,
    // guc
    PGC_INTERNAL,
    PGC_POSTMASTER,
    PGC_SIGHUP,
    PGC_SU_BACKEND,
    PGC_BACKEND,
    PGC_SUSET,
    PGC_USERSET,
    GUC_UNIT_KB,
    GUC_UNIT_BYTE,
    GUC_UNIT_MS,
    GUC_UNIT_S,
    GUC_UNIT_MIN,
    GUC_SUPERUSER_ONLY,
    GUC_UNIT_MEMORY,
    GUC_UNIT_TIME,
    GUC_UNIT,
    GUC_UNIT_BLOCKS,
    GUC_UNIT_XBLOCKS,
    GUC_UNIT_MB,
    GUC_LIST_INPUT,
    GUC_LIST_QUOTE,
    GUC_NO_SHOW_ALL,
    GUC_NO_RESET_ALL,
    GUC_REPORT,
    GUC_NOT_IN_SAMPLE,
    GUC_DISALLOW_IN_FILE,
    GUC_CUSTOM_PLACEHOLDER,
    GUC_IS_NAME,
    GUC_NOT_WHILE_SEC_REST,
    GUC_DISALLOW_IN_AUTO_FILE,
    GUC_EXPLAIN,
    GUC_RUNTIME_COMPUTED,
    PGC_S_DEFAULT,
    PGC_S_DYNAMIC_DEFAULT,
    PGC_S_ENV_VAR,
    PGC_S_FILE,
    PGC_S_ARGV,
    PGC_S_GLOBAL,
    PGC_S_DATABASE,
    PGC_S_USER,
    PGC_S_DATABASE_USER,
    PGC_S_CLIENT,
    PGC_S_OVERRIDE,
    PGC_S_INTERACTIVE,
    PGC_S_TEST,
    PGC_S_SESSION,
    // pgstat
    STATE_UNDEFINED,
    STATE_IDLE,
    STATE_RUNNING,
    STATE_IDLEINTRANSACTION,
    STATE_FASTPATH,
    STATE_IDLEINTRANSACTION_ABORTED,
    STATE_DISABLED,
    // sqlfn
    BGW_SQL_NULL,
    BGW_SQL_INT8,
    BGW_SQL_FLOAT8,
    BGW_SQL_TEXT,
    BGW_SQL_BOOL,
    BGW_SQLFN_SUPERUSER,
    // spi
    SPI_ERROR_CONNECT,
    SPI_ERROR_COPY,
    SPI_ERROR_OPUNKNOWN,
    SPI_ERROR_UNCONNECTED,
    SPI_ERROR_ARGUMENT,
    SPI_ERROR_PARAM,
    SPI_ERROR_TRANSACTION,
    SPI_ERROR_NOATTRIBUTE,
    SPI_ERROR_NOOUTFUNC,
    SPI_ERROR_TYPUNKNOWN,
    SPI_ERROR_REL_DUPLICATE,
    SPI_ERROR_REL_NOT_FOUND,
    BGW_SPI_ERROR_STATEMENT,
    SPI_OK_CONNECT,
    SPI_OK_FINISH,
    SPI_OK_UTILITY,
    SPI_OK_SELECT,
    SPI_OK_INSERT,
    SPI_OK_DELETE,
    SPI_OK_UPDATE,
    SPI_OK_INSERT_RETURNING,
    SPI_OK_DELETE_RETURNING,
    SPI_OK_UPDATE_RETURNING,
    SPI_OK_FETCH,
    SPI_OK_SELINTO,
    SPI_OK_CURSOR,
    SPI_OK_REWRITTEN,
    SPI_OK_REL_REGISTER,
    SPI_OK_REL_UNREGISTER,
    SPI_OK_TD_REGISTER,
    SPI_OK_MERGE,
    // elog
    DEBUG5,
    DEBUG4,
    DEBUG3,
    DEBUG2,
    DEBUG1,
    LOG,
    LOG_SERVER_ONLY,
    COMMERROR,
    INFO,
    NOTICE,
    WARNING,
    ERROR,
    FATAL,
    PANIC,
    BGW_MESSAGE_MAX,
    // typed arguments (bgw/bgw.h)
    BGW_MAX_ARG_BYTES,
];

/// Constants of `bgw-abi` the header does not define, and why.
const RUST_ONLY_CONSTANTS: &[(&str, &str)] = &[
    ("BGW_MAX_RESTART_INTERVAL", "the spec's bound on bgw_restart_time; the header does not state it"),
    ("BGW_SQLFN_MAX_ARGS", "the host's bound on a SQL function's arguments; the header does not state it"),
];

/// Object-like macros of the header that are not values, and why.
const HEADER_ONLY_DEFINES: &[(&str, &str)] = &[
    ("OID_MAX", "UINT_MAX: no Rust counterpart needed (u32::MAX)"),
    ("GUC_QUALIFIER_SEPARATOR", "a character ('.'): the host's parameter names spell it"),
    ("WAIT_EVENT_EXTENSION", "PG_WAIT_EXTENSION (checked), PostgreSQL 17's name for the extension class's event"),
    ("WAIT_EVENT_EXTENSION_FIRST_USER_DEFINED", "the first id WaitEventExtensionNew gives; C alone reads it"),
];

/// The headers of the tree that declare what crosses between C and Rust: scanned for completeness.
const ABI_HEADERS: &[&str] = &[
    "postgres_ext.h",
    "postmaster/bgworker.h",
    "storage/latch.h",
    "utils/wait_event.h",
    "utils/guc.h",
    "utils/snapmgr.h",
    "executor/spi.h",
    "pgstat.h",
    "bgw/bgw.h",
];

/// The other headers of the tree, and why nothing in them needs a Rust definition.
const C_ONLY_HEADERS: &[(&str, &str)] = &[
    ("bgworker.h", "includes the tree, declares nothing itself"),
    ("c.h", "C's base types and macros; the integer types that cross are checked through TYPES"),
    ("pg_config.h", "build facts (versions, sizes) for C sources; MAXPGPATH is checked through CONSTANTS"),
    ("postgres.h", "Datum conversions and varlena macros, C only (Datum itself is checked through TYPES)"),
    ("fmgr.h", "the version-1 calling convention: C structs the host's C part fills (modules/pg_fmgr.c)"),
    ("miscadmin.h", "globals and functions whose C types are checked where they are defined (int, bool, Oid)"),
    ("datatype/timestamp.h", "int64 timestamps and constants for C code"),
    ("utils/timestamp.h", "functions on int64 timestamps"),
    ("utils/date.h", "the date and time datums (int32 and int64) for C code"),
    ("utils/elog.h", "levels checked through CONSTANTS; reports and PG_TRY are the host's C part (pg_elog.c)"),
    ("utils/errcodes.h", "SQLSTATE constants packed by MAKE_SQLSTATE; the C part unpacks them to text"),
    ("utils/palloc.h", "memory contexts: the host's C part (pg_memory.c)"),
    ("utils/memutils.h", "memory contexts: the host's C part (pg_memory.c)"),
    ("lib/stringinfo.h", "StringInfo: the host's C part (pg_memory.c)"),
    ("utils/builtins.h", "text and quoting helpers: the host's C part (pg_memory.c)"),
    ("storage/ipc.h", "exit callbacks: function pointers and Datums, no shared struct"),
    ("storage/lwlock.h", "LWLocks live in shared memory and are used by C only (pg_lwlock.c)"),
    ("storage/proc.h", "bgw's own PGPROC, filled by the host's C part (pg_misc.c): procLatch, pid, database, role"),
    ("port.h", "string comparison and sleep helpers: the host's C part (pg_varlena.c)"),
    ("nodes/nodes.h", "NodeTag and Node for C code; the host's C part alone makes nodes (pg_list.c)"),
    ("nodes/pg_list.h", "List: the host's C part (pg_list.c)"),
    ("utils/varlena.h", "splitting strings into Lists: the host's C part (pg_varlena.c)"),
    ("storage/procsignal.h", "one signal handler"),
    ("storage/shmem.h", "functions on sizes and names"),
    ("postmaster/interrupt.h", "sig_atomic_t flags (checked through TYPES) and signal handlers"),
    ("access/xact.h", "functions without arguments"),
    ("access/xlog.h", "one function"),
    ("commands/async.h", "one function; NOTIFY_PAYLOAD_MAX_LENGTH is PostgreSQL's limit, enforced by the host"),
    ("commands/dbcommands.h", "functions on names and oids"),
    ("utils/acl.h", "a function on names and oids"),
    ("tcop/utility.h", "includes postgres.h only"),
    ("catalog/pg_type.h", "includes pg_type_d.h"),
    ("catalog/pg_type_d.h", "type oids for C code; the host's own type oids are PgType's (crate::sql::types)"),
    ("tcop/tcopprot.h", "one signal handler"),
];

/// A struct: its C spelling, its Rust layout, and each field's name, Rust offset and Rust size.
struct Struct {
    c_name: &'static str,
    size: usize,
    align: usize,
    fields: Vec<(&'static str, usize, usize)>,
}

/// The size of a field, through a function that names it (`|s: &T| &s.field`).
fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

macro_rules! layout {
    ($c_name:literal, $t:ty, [$($field:ident),* $(,)?]) => {
        Struct {
            c_name: $c_name,
            size: size_of::<$t>(),
            align: align_of::<$t>(),
            fields: vec![$((stringify!($field), offset_of!($t, $field), field_size(|s: &$t| &s.$field))),*],
        }
    };
}

/// Every struct with a body in the header (named by its tag), field by field.
fn structs() -> Vec<Struct> {
    vec![
        layout!(
            "struct BackgroundWorker",
            BackgroundWorker,
            [
                bgw_name,
                bgw_type,
                bgw_flags,
                bgw_start_time,
                bgw_restart_time,
                bgw_library_name,
                bgw_function_name,
                bgw_main_arg,
                bgw_extra,
                bgw_notify_pid,
            ]
        ),
        layout!("struct BackgroundWorkerHandle", BackgroundWorkerHandle, [slot, generation]),
        layout!("struct config_enum_entry", config_enum_entry, [name, val, hidden]),
        layout!("struct BgwSqlValue", BgwSqlValue, [kind, int8, float8, text]),
        layout!("struct BgwExitInfo", BgwExitInfo, [reason, detail, ended_at_us, starts]),
    ]
}

/// A type: its C name, Rust size and alignment, and (for integers) whether it is signed.
struct Type {
    c_name: &'static str,
    size: usize,
    align: usize,
    signed: Option<bool>,
}

macro_rules! int_type {
    ($c_name:literal, $t:ty) => {
        Type { c_name: $c_name, size: size_of::<$t>(), align: align_of::<$t>(), signed: Some(<$t>::MIN != 0) }
    };
}

/// A C enum type: C leaves its signedness to the compiler (gcc makes these `unsigned int`; their constants are
/// `int`), so only size and alignment are compared. Rust uses `c_int` for them, as for the constants.
macro_rules! enum_type {
    ($c_name:literal, $t:ty) => {
        Type { c_name: $c_name, size: size_of::<$t>(), align: align_of::<$t>(), signed: None }
    };
}

macro_rules! pointer_type {
    ($c_name:literal, $t:ty) => {
        Type { c_name: $c_name, size: size_of::<$t>(), align: align_of::<$t>(), signed: None }
    };
}

/// Every type the header names and Rust uses for it. C's `int`, `long`, `bool` and `double` are checked
/// too: the Rust side writes them as `c_int`, `c_long`, `bool`, `f64`. Signedness is compared for integers only
/// (`signed: None` for the rest).
fn types() -> Vec<Type> {
    vec![
        int_type!("Datum", Datum),
        int_type!("Oid", Oid),
        int_type!("uint32", u32),
        int_type!("int32", i32),
        int_type!("pid_t", pid_t),
        int_type!("sig_atomic_t", sig_atomic_t),
        enum_type!("BgWorkerStartTime", BgWorkerStartTime),
        enum_type!("BgwHandleStatus", BgwHandleStatus),
        enum_type!("GucContext", GucContext),
        int_type!("int", c_int),
        int_type!("long", c_long),
        pointer_type!("bool", bool),
        pointer_type!("double", f64),
        pointer_type!("bgworker_main_type", Option<bgworker_main_type>),
        pointer_type!("bgw_sql_function", Option<bgw_sql_function>),
        enum_type!("GucSource", GucSource),
        enum_type!("BackendState", BackendState),
        int_type!("pgsocket", pgsocket),
        pointer_type!("GucShowHook", GucShowHook),
        pointer_type!("Snapshot", Snapshot),
    ]
}

/// Typedefs of the scanned headers not in [`types`], and why.
const HEADER_ONLY_TYPEDEFS: &[(&str, &str)] = &[
    ("GucBoolCheckHook", "hooks reach the host as GucHook (an untyped pointer); C calls them"),
    ("GucIntCheckHook", "hooks reach the host as GucHook"),
    ("GucRealCheckHook", "hooks reach the host as GucHook"),
    ("GucStringCheckHook", "hooks reach the host as GucHook"),
    ("GucEnumCheckHook", "hooks reach the host as GucHook"),
    ("GucBoolAssignHook", "hooks reach the host as GucHook"),
    ("GucIntAssignHook", "hooks reach the host as GucHook"),
    ("GucRealAssignHook", "hooks reach the host as GucHook"),
    ("GucStringAssignHook", "hooks reach the host as GucHook"),
    ("GucEnumAssignHook", "hooks reach the host as GucHook"),
    ("PGFunction", "a version-1 function: the host passes it to C (sqlfn_trap.c) as an untyped pointer"),
    ("HeapTuple", "the datum-level SPI: made and read in C (pg_spi.c), opaque to modules"),
    ("TupleDesc", "the datum-level SPI: made in C (pg_spi.c)"),
    ("TupleDescData", "the datum-level SPI: made in C (pg_spi.c)"),
    ("FormData_pg_attribute", "the datum-level SPI: made in C (pg_spi.c)"),
    ("Form_pg_attribute", "the datum-level SPI: made in C (pg_spi.c)"),
    ("SPIPlanPtr", "the datum-level SPI: made and read in C (pg_spi.c), opaque to modules"),
    ("SPITupleTable", "the datum-level SPI: made in C (pg_spi.c)"),
    ("Portal", "SPI cursors: declared, not implemented (BGW_NOT_IMPLEMENTED)"),
    ("BackgroundWorker", "a struct: checked field by field"),
    ("BackgroundWorkerHandle", "a struct: checked field by field"),
    ("BgwSqlValue", "a struct: checked field by field"),
    ("BgwExitInfo", "a struct: checked field by field"),
    ("Latch", "a struct with a placeholder body (HEADER_ONLY_STRUCTS); only pointers to it cross (bgw_abi::Latch)"),
    ("WaitEventExtension", "PostgreSQL 17's enum of extension wait events; ids cross as uint32 (checked)"),
    ("pqsigfunc", "host and SDK pass handlers as libc's sighandler_t, which also holds SIG_IGN and SIG_DFL"),
];

/// Structs with a body in the scanned headers that do not cross yet, and why.
const HEADER_ONLY_STRUCTS: &[(&str, &str)] = &[
    ("SPITupleTable", "the datum-level SPI: made in C (pg_spi.c), never crosses to Rust"),
    ("TupleDescData", "the datum-level SPI: made in C (pg_spi.c), never crosses to Rust"),
    ("FormData_pg_attribute", "the datum-level SPI: made in C (pg_spi.c), never crosses to Rust"),
    ("Latch", "a placeholder body that gives PGPROC's procLatch an address; only pointers cross (see RUST_OPAQUE)"),
];

/// Types of `bgw-abi` the header does not name, and why.
const RUST_ONLY_TYPES: &[(&str, &str)] = &[("GucHook", "how the host receives any of the typed Guc*Hook pointers")];

/// Types of `bgw-abi` that the header declares without a body (only pointers to them cross).
const OPAQUE: &[&str] = &["SnapshotData"];

/// Types opaque in `bgw-abi` that the header gives a body the host never reads, and why.
const RUST_OPAQUE: &[(&str, &str)] = &[(
    "Latch",
    "the host keeps the latch's state; C's body only lets storage/proc.h embed procLatch in PGPROC (MyLatch is \
     &MyProc->procLatch), and the functions take pointers",
)];

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

/// The C program: prints one line per check.
fn c_program() -> String {
    let mut c = String::from("#include \"bgworker.h\"\n#include <stdio.h>\n\nint\nmain(void)\n{\n");
    for (name, _) in CONSTANTS {
        c += &format!("\tprintf(\"const|{name}|%lld\\n\", (long long) ({name}));\n");
    }
    for s in structs() {
        let t = s.c_name;
        c += &format!("\tprintf(\"struct|{t}|%zu %zu\\n\", sizeof({t}), _Alignof({t}));\n");
        for (f, _, _) in &s.fields {
            c += &format!("\tprintf(\"field|{t}.{f}|%zu %zu\\n\", offsetof({t}, {f}), sizeof((({t} *) 0)->{f}));\n");
        }
    }
    for ty in types() {
        let t = ty.c_name;
        c += &format!("\tprintf(\"type|{t}|%zu %zu %d\\n\", sizeof({t}), _Alignof({t}), ");
        c += &match ty.signed {
            Some(_) => format!("(int) (({t}) -1 < ({t}) 0));\n"),
            None => "-1);\n".to_string(),
        };
    }
    c += "\treturn 0;\n}\n";
    c
}

/// Compiles and runs the C program; its output lines as key -> value.
fn c_answers() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bgw-abi-header");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&source, c_program()).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-Wall", "-Werror", "-I"])
        .arg(repo_file("include"))
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("could not run the C compiler {cc:?}: {e}"));
    assert!(out.status.success(), "{cc} failed on {}:\n{}", source.display(), String::from_utf8_lossy(&out.stderr));
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "{} failed", exe.display());
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, '|');
            let (kind, key, value) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            (format!("{kind} {key}"), value.to_string())
        })
        .collect()
}

#[test]
fn rust_definitions_match_the_header() {
    let c = c_answers();
    let mut wrong = Vec::new();
    let mut check = |key: String, rust: String| match c.get(&key) {
        Some(v) if *v == rust => {}
        Some(v) => wrong.push(format!("{key}: C says {v}, Rust says {rust}")),
        None => wrong.push(format!("{key}: the C program printed nothing")),
    };
    for (name, value) in CONSTANTS {
        check(format!("const {name}"), value.to_string());
    }
    for s in structs() {
        check(format!("struct {}", s.c_name), format!("{} {}", s.size, s.align));
        for (f, offset, size) in &s.fields {
            check(format!("field {}.{f}", s.c_name), format!("{offset} {size}"));
        }
    }
    for t in types() {
        let signed = t.signed.map_or(-1, i32::from);
        check(format!("type {}", t.c_name), format!("{} {} {signed}", t.size, t.align));
    }
    let expected = CONSTANTS.len() + structs().iter().map(|s| 1 + s.fields.len()).sum::<usize>() + types().len();
    assert_eq!(c.len(), expected, "the C program printed other lines than asked");
    assert!(wrong.is_empty(), "bgw-abi and include/bgworker.h differ:\n{}", wrong.join("\n"));
}

/// Every header of the tree, as paths relative to `include/`.
fn tree_headers() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "h") {
                out.push(path.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let base = repo_file("include");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort();
    out
}

/// The scanned headers, concatenated, with their comments removed.
fn header_code() -> String {
    ABI_HEADERS
        .iter()
        .map(|h| strip_comments(&std::fs::read_to_string(repo_file(&format!("include/{h}"))).unwrap()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out += &rest[..i];
        let end = rest[i..].find("*/").expect("an unterminated comment") + i + 2;
        rest = &rest[end..];
    }
    out += rest;
    out
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The identifier that ends `s` (after trimming), if any.
fn last_ident(s: &str) -> &str {
    let s = s.trim_end();
    let start = s.bytes().rposition(|b| !is_ident_byte(b)).map_or(0, |i| i + 1);
    &s[start..]
}

/// The text between the `{` at `open` and its matching `}`, and the index after that `}`.
fn braced(code: &str, open: usize) -> (&str, usize) {
    let mut depth = 0;
    for (i, b) in code.bytes().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return (&code[open + 1..i], i + 1);
                }
            }
            _ => {}
        }
    }
    panic!("an unbalanced brace in the header");
}

/// Positions where the word `word` starts in `code`.
fn word_positions<'a>(code: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    code.match_indices(word).map(|(i, _)| i).filter(move |&i| {
        let before = i == 0 || !is_ident_byte(code.as_bytes()[i - 1]);
        let after = code.as_bytes().get(i + word.len()).is_none_or(|&b| !is_ident_byte(b));
        before && after
    })
}

/// What the header declares, as the completeness checks need it.
#[derive(Default)]
struct Header {
    /// Object-like macros with a value.
    defines: BTreeSet<String>,
    enum_members: BTreeSet<String>,
    /// Struct tags with a body, with their fields.
    structs: BTreeMap<String, BTreeSet<String>>,
    /// Struct tags declared without a body.
    opaque: BTreeSet<String>,
    typedefs: BTreeSet<String>,
}

fn scan_header() -> Header {
    let code = header_code();
    let mut h = Header::default();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let Some(def) = line.trim_start().strip_prefix("#define ") else { continue };
        let def = def.trim_start();
        let end = def.bytes().position(|b| !is_ident_byte(b)).unwrap_or(def.len());
        let (name, rest) = def.split_at(end);
        if rest.trim().is_empty() || name.starts_with("BGW_") && name.ends_with("_H") {
            // An include guard or an empty attribute macro (PGDLLIMPORT): no value to check.
            continue;
        }
        if rest.starts_with('(') {
            // Function-like: skip it with its continuation lines.
            let mut l = line;
            while l.trim_end().ends_with('\\') {
                l = lines.next().unwrap_or("");
            }
            continue;
        }
        h.defines.insert(name.to_string());
    }
    for at in word_positions(&code, "enum") {
        let open = at + code[at..].find(['{', ';']).unwrap();
        if code.as_bytes()[open] == b'{' {
            let (body, _) = braced(&code, open);
            for member in body.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                h.enum_members.insert(member.split('=').next().unwrap().trim().to_string());
            }
        }
    }
    for at in word_positions(&code, "struct") {
        let after = &code[at + "struct".len()..];
        let tag = after.trim_start();
        let tag = &tag[..tag.bytes().position(|b| !is_ident_byte(b)).unwrap_or(tag.len())];
        let next = after.trim_start()[tag.len()..].trim_start();
        if next.starts_with('{') {
            let open = code.len() - next.len();
            let (body, _) = braced(&code, open);
            let fields = body
                .split(';')
                .map(|d| d.split('[').next().unwrap())
                .filter(|d| !d.trim().is_empty())
                .map(|d| last_ident(d).to_string())
                .collect();
            h.structs.insert(tag.to_string(), fields);
        } else if !tag.is_empty() {
            h.opaque.insert(tag.to_string());
        }
    }
    // A tag used (as `struct tag *`) before its definition is not opaque.
    h.opaque.retain(|tag| !h.structs.contains_key(tag));
    for at in word_positions(&code, "typedef") {
        // The declaration runs to the first `;` outside braces.
        let mut depth = 0;
        let mut end = at;
        let mut close = None;
        for (i, b) in code.bytes().enumerate().skip(at) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    close = Some(i);
                }
                b';' if depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let decl = &code[at..end];
        let name = if let Some(c) = close {
            last_ident(&code[c + 1..end])
        } else if let Some(p) = decl.find("(*") {
            let rest = &decl[p + 2..];
            &rest[..rest.find(')').unwrap()]
        } else {
            last_ident(decl)
        };
        h.typedefs.insert(name.to_string());
    }
    h
}

/// The `pub const`, `pub struct` and `pub type` names of `bgw-abi`'s sources.
fn rust_items() -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut consts, mut structs, mut types) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().map(str::trim_start) {
            for (prefix, set) in [("pub const ", &mut consts), ("pub struct ", &mut structs), ("pub type ", &mut types)]
            {
                if let Some(rest) = line.strip_prefix(prefix).filter(|r| !r.starts_with("fn ")) {
                    let end = rest.bytes().position(|b| !is_ident_byte(b)).unwrap_or(rest.len());
                    set.insert(rest[..end].to_string());
                }
            }
        }
    }
    (consts, structs, types)
}

#[test]
fn every_header_definition_is_checked() {
    let h = scan_header();
    let checked: BTreeSet<&str> = CONSTANTS.iter().map(|(n, _)| *n).collect();
    let mut missing = Vec::new();
    for name in h.defines.iter().chain(&h.enum_members) {
        let exempt = HEADER_ONLY_DEFINES.iter().any(|(n, _)| n == name);
        if !checked.contains(name.as_str()) && !exempt {
            missing.push(format!("constant {name}"));
        }
    }
    let structs = structs();
    for (tag, fields) in &h.structs {
        if HEADER_ONLY_STRUCTS.iter().any(|(n, _)| n == tag) {
            continue;
        }
        match structs.iter().find(|s| s.c_name == format!("struct {tag}")) {
            None => missing.push(format!("struct {tag}")),
            Some(s) => {
                let rust: BTreeSet<String> = s.fields.iter().map(|(f, _, _)| f.to_string()).collect();
                if &rust != fields {
                    missing.push(format!("struct {tag}: the header has fields {fields:?}, the test {rust:?}"));
                }
            }
        }
    }
    let types = types();
    for name in &h.typedefs {
        let known = types.iter().any(|t| t.c_name == name) || HEADER_ONLY_TYPEDEFS.iter().any(|(n, _)| n == name);
        if !known {
            missing.push(format!("typedef {name}"));
        }
    }
    for name in OPAQUE {
        if !h.opaque.contains(*name) {
            missing.push(format!("{name} is opaque in Rust but not declared without a body in the header"));
        }
    }
    assert!(missing.is_empty(), "declared in include/bgworker.h but not checked by this test:\n{}", missing.join("\n"));
}

#[test]
fn every_rust_definition_is_checked() {
    let (consts, structs, types) = rust_items();
    let mut missing = Vec::new();
    for name in &consts {
        let checked = CONSTANTS.iter().any(|(n, _)| n == name);
        let exempt = RUST_ONLY_CONSTANTS.iter().any(|(n, _)| n == name);
        if !checked && !exempt {
            missing.push(format!("pub const {name}"));
        }
        if checked && exempt {
            missing.push(format!("pub const {name} is both checked and exempt"));
        }
    }
    let checked_structs = self::structs();
    for name in &structs {
        let checked = checked_structs.iter().any(|s| s.c_name == format!("struct {name}"));
        if !checked && !OPAQUE.contains(&name.as_str()) && !RUST_OPAQUE.iter().any(|(n, _)| n == name) {
            missing.push(format!("pub struct {name}"));
        }
    }
    let checked_types = self::types();
    for name in &types {
        if !checked_types.iter().any(|t| t.c_name == name) && !RUST_ONLY_TYPES.iter().any(|(n, _)| n == name) {
            missing.push(format!("pub type {name}"));
        }
    }
    // The scan itself must see the definitions (a broken scan would pass vacuously).
    assert!(consts.len() >= CONSTANTS.len() && structs.len() >= 4 && types.len() >= 5);
    assert!(missing.is_empty(), "defined in bgw-abi but not checked against the header:\n{}", missing.join("\n"));
}

#[test]
fn the_header_scan_sees_the_header() {
    // Guards against a scan that finds nothing and so passes vacuously.
    let h = scan_header();
    assert!(h.defines.contains("BGW_MAXLEN") && h.defines.contains("SPI_OK_SELECT") && h.defines.len() > 60);
    assert!(h.enum_members.contains("BGWH_POSTMASTER_DIED") && h.enum_members.contains("PGC_USERSET"));
    assert_eq!(h.structs["BackgroundWorker"].len(), 10);
    assert!(h.typedefs.contains("bgw_sql_function") && h.typedefs.contains("BgwHandleStatus"));
    assert!(h.structs.contains_key("Latch") && h.opaque.contains("SnapshotData"));
}

#[test]
fn every_header_of_the_tree_is_classified_included_and_self_contained() {
    let headers = tree_headers();
    assert!(headers.len() >= 30, "the tree scan found only {headers:?}");
    let mut wrong = Vec::new();
    for h in &headers {
        let abi = ABI_HEADERS.contains(&h.as_str());
        let c_only = C_ONLY_HEADERS.iter().any(|(n, _)| n == h);
        if abi == c_only {
            wrong.push(format!("{h}: must be in exactly one of ABI_HEADERS and C_ONLY_HEADERS"));
        }
    }
    for listed in ABI_HEADERS.iter().copied().chain(C_ONLY_HEADERS.iter().map(|(n, _)| *n)) {
        if !headers.iter().any(|h| h == listed) {
            wrong.push(format!("{listed}: listed but not in the tree"));
        }
    }
    // bgworker.h includes every header (each one's include guard is defined after it), and each header compiles
    // on its own (it includes what it uses).
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bgw-abi-tree");
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = String::from("#include \"bgworker.h\"\n");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let compile = |source: &Path| {
        Command::new(&cc)
            .args(["-std=gnu11", "-Wall", "-Werror", "-fsyntax-only", "-I"])
            .arg(repo_file("include"))
            .arg(source)
            .output()
            .unwrap_or_else(|e| panic!("could not run the C compiler {cc:?}: {e}"))
    };
    for (i, h) in headers.iter().enumerate() {
        let text = std::fs::read_to_string(repo_file(&format!("include/{h}"))).unwrap();
        let guard = text
            .lines()
            .find_map(|l| l.strip_prefix("#ifndef "))
            .unwrap_or_else(|| panic!("{h} has no include guard"))
            .trim()
            .to_string();
        all += &format!("#ifndef {guard}\n#error \"bgworker.h does not include {h}\"\n#endif\n");
        let alone = dir.join(format!("alone{i}.c"));
        std::fs::write(&alone, format!("#include \"{h}\"\n")).unwrap();
        let out = compile(&alone);
        if !out.status.success() {
            wrong.push(format!("{h} does not compile on its own:\n{}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    let source = dir.join("all.c");
    std::fs::write(&source, all).unwrap();
    let out = compile(&source);
    if !out.status.success() {
        wrong.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
