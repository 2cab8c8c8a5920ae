/*
 * bgworker.h: the C API of the bgw host for loadable modules.
 *
 * A module is a shared library the host loads by name (through dynamic_library_path, or at start through
 * shared_preload_libraries, which also runs its _PG_init). Its workers' entry points have the signature
 * `void main(Datum arg)`. Everything declared here is exported by the running `bgw` executable: build a module
 * with `cc -shared -fPIC -I include mymodule.c -o mymodule.so` and do not link it against anything of the host;
 * its references resolve when the host loads it.
 *
 * The background worker API keeps PostgreSQL's names, constants, struct layout and semantics (bgworker.h of
 * PostgreSQL), so that a worker written for PostgreSQL compiles with few changes. Beside it are the helpers a
 * worker needs (latches, signals, logging), also under PostgreSQL's names.
 *
 * Errors: ereport(ERROR) and ereport(FATAL) log the message and end the worker with exit code 1; PANIC aborts.
 * There is no longjmp-based error recovery (PG_TRY) in this version.
 */
#ifndef BGW_BGWORKER_H
#define BGW_BGWORKER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------- basic types ---------- */

typedef uintptr_t Datum;
typedef unsigned int Oid;
typedef uint32_t uint32;
typedef int32_t int32;

#define Int32GetDatum(X) ((Datum) (int32) (X))
#define DatumGetInt32(X) ((int32) (X))
#define UInt32GetDatum(X) ((Datum) (uint32) (X))
#define DatumGetUInt32(X) ((uint32) (X))
#define ObjectIdGetDatum(X) ((Datum) (X))
#define DatumGetObjectId(X) ((Oid) (X))
#define PointerGetDatum(X) ((Datum) (X))

#define PGDLLEXPORT __attribute__((visibility("default")))
#define PGDLLIMPORT
/* Modules need no magic block with bgw; the macro is accepted so PostgreSQL sources compile unchanged. */
#define PG_MODULE_MAGIC extern int bgw_no_module_magic_needed
#define MAXPGPATH 1024

/* ---------- the background worker API (PostgreSQL's bgworker.h) ---------- */

#define BGWORKER_SHMEM_ACCESS 0x0001
#define BGWORKER_BACKEND_DATABASE_CONNECTION 0x0002
#define BGWORKER_CLASS_PARALLEL 0x0010

typedef void (*bgworker_main_type)(Datum main_arg);

typedef enum
{
	BgWorkerStart_PostmasterStart,
	BgWorkerStart_ConsistentState,
	BgWorkerStart_RecoveryFinished,
} BgWorkerStartTime;

#define BGW_DEFAULT_RESTART_INTERVAL 60
#define BGW_NEVER_RESTART -1
#define BGW_MAXLEN 96
#define BGW_EXTRALEN 128

typedef struct BackgroundWorker
{
	char bgw_name[BGW_MAXLEN];
	char bgw_type[BGW_MAXLEN];
	int bgw_flags;
	BgWorkerStartTime bgw_start_time;
	int bgw_restart_time; /* in seconds, or BGW_NEVER_RESTART */
	char bgw_library_name[MAXPGPATH];
	char bgw_function_name[BGW_MAXLEN];
	Datum bgw_main_arg;
	char bgw_extra[BGW_EXTRALEN];
	pid_t bgw_notify_pid; /* SIGUSR1 this backend on start/stop */
} BackgroundWorker;

/* The Rust side (crates/bgw-abi) has the same layout, which its tests check field by field; these catch a
 * mismatch at compile time. */
_Static_assert(sizeof(BackgroundWorker) == 1472, "BackgroundWorker layout differs from the host's");
_Static_assert(offsetof(BackgroundWorker, bgw_main_arg) == 1328, "BackgroundWorker layout differs from the host's");

typedef enum BgwHandleStatus
{
	BGWH_STARTED,         /* worker is running */
	BGWH_NOT_YET_STARTED, /* worker hasn't been started yet */
	BGWH_STOPPED,         /* worker has exited */
	BGWH_POSTMASTER_DIED, /* postmaster died; worker status unclear */
} BgwHandleStatus;

/* Opaque in PostgreSQL; bgw fixes its layout, so a handle can be rebuilt from its (slot, generation) in any
 * process (its text form is "slot:generation"). */
typedef struct BackgroundWorkerHandle
{
	int slot;
	uint64_t generation;
} BackgroundWorkerHandle;

/* Register a worker from a module's _PG_init while it is loaded through shared_preload_libraries (elsewhere the
 * call is refused, with a LOG line in the postmaster). A module's _PG_init runs in every process that loads it,
 * so guard preload-only work with process_shared_preload_libraries_in_progress, as PostgreSQL modules do. */
extern void RegisterBackgroundWorker(BackgroundWorker *worker);
/* Register a worker from a backend or a worker; the handle is malloc'ed (free it with free()). */
extern bool RegisterDynamicBackgroundWorker(BackgroundWorker *worker, BackgroundWorkerHandle **handle);
extern BgwHandleStatus GetBackgroundWorkerPid(BackgroundWorkerHandle *handle, pid_t *pidp);
extern BgwHandleStatus WaitForBackgroundWorkerStartup(BackgroundWorkerHandle *handle, pid_t *pidp);
extern BgwHandleStatus WaitForBackgroundWorkerShutdown(BackgroundWorkerHandle *handle);
extern const char *GetBackgroundWorkerTypeByPid(pid_t pid);
extern void TerminateBackgroundWorker(BackgroundWorkerHandle *handle);

/* Valid in a running worker. */
extern PGDLLIMPORT BackgroundWorker *MyBgworkerEntry;

/*
 * Database connections. A worker registered with BGWORKER_BACKEND_DATABASE_CONNECTION may connect once, to one
 * database (a SQLite file of the data directory) as one role: by name (dbname NULL or "": no database, the catalog
 * only; username NULL: the bootstrap superuser made by initdb) or by oid (InvalidOid, 0, means the same). The
 * checks are a client's: the role must exist and may log in (unless BGWORKER_BYPASS_ROLELOGINCHECK), the database
 * must exist and accept connections (unless BGWORKER_BYPASS_ALLOWCONN). Every failure is FATAL: logged with
 * PostgreSQL's message, exit code 1, the restart rules apply. So is calling these without the registration flag,
 * or a second time. On success pg_stat_activity shows the worker's datname and usename, and SPI (below) runs on
 * the connection.
 */
extern void BackgroundWorkerInitializeConnection(const char *dbname, const char *username, uint32 flags);
extern void BackgroundWorkerInitializeConnectionByOid(Oid dboid, Oid useroid, uint32 flags);
#define InvalidOid ((Oid) 0)
#define BGWORKER_BYPASS_ALLOWCONN 0x0001
#define BGWORKER_BYPASS_ROLELOGINCHECK 0x0002

extern void BackgroundWorkerBlockSignals(void);
extern void BackgroundWorkerUnblockSignals(void);

/* ---------- process, latches, postmaster ---------- */

extern PGDLLIMPORT int MyProcPid;
/* True while the _PG_init of a library in shared_preload_libraries runs (in the postmaster, at start). */
extern PGDLLIMPORT bool process_shared_preload_libraries_in_progress;

typedef struct Latch Latch;
extern PGDLLIMPORT Latch *MyLatch;

#define WL_LATCH_SET (1 << 0)
#define WL_SOCKET_READABLE (1 << 1)
#define WL_SOCKET_WRITEABLE (1 << 2)
#define WL_TIMEOUT (1 << 3)
#define WL_POSTMASTER_DEATH (1 << 4)
#define WL_EXIT_ON_PM_DEATH (1 << 5)
#define PG_WAIT_EXTENSION 0x07000000U

/* Waits on the latch (only MyLatch can be named); timeout in ms applies with WL_TIMEOUT. Returns WL_* bits. */
extern int WaitLatch(Latch *latch, int wakeEvents, long timeout, uint32 wait_event_info);
extern void SetLatch(Latch *latch);
extern void ResetLatch(Latch *latch);
/* Sets the latch of another process of the host. */
extern bool bgw_set_latch_pid(pid_t pid);
extern bool PostmasterIsAlive(void);

/* ---------- signals and interrupts ---------- */

typedef void (*pqsigfunc)(int signo);
extern pqsigfunc pqsignal(int signo, pqsigfunc func);
extern void SignalHandlerForConfigReload(int signo);
extern void SignalHandlerForShutdownRequest(int signo);
extern void die(int signo);
extern PGDLLIMPORT volatile sig_atomic_t ConfigReloadPending;
extern PGDLLIMPORT volatile sig_atomic_t ShutdownRequestPending;
extern PGDLLIMPORT volatile sig_atomic_t InterruptPending;
extern PGDLLIMPORT volatile sig_atomic_t ProcDiePending;
extern void ProcessInterrupts(void);
#define CHECK_FOR_INTERRUPTS() \
	do { \
		if (InterruptPending) \
			ProcessInterrupts(); \
	} while (0)

extern void ProcessConfigFile(int context); /* takes a GucContext, PGC_SIGHUP in workers */

/* ---------- custom parameters (PostgreSQL's DefineCustom*Variable) ---------- */

/*
 * The host stores each value in the variable whose address you pass, on definition and after every reload.
 * Names should be qualified ("module.name"); a value given in bgworker.conf or with -c before the module was
 * loaded applies when it is defined. Check, assign and show hooks are not supported: pass NULL. A bad value
 * while the host starts stops start-up; later it is a WARNING and the default stays.
 */
typedef enum
{
	PGC_INTERNAL,
	PGC_POSTMASTER, /* restart-only */
	PGC_SIGHUP,     /* reloadable */
	PGC_SU_BACKEND,
	PGC_BACKEND,
	PGC_SUSET,
	PGC_USERSET,
} GucContext;

#define GUC_UNIT_KB 0x1000
#define GUC_UNIT_BYTE 0x8000
#define GUC_UNIT_MS 0x10000
#define GUC_UNIT_S 0x20000
#define GUC_UNIT_MIN 0x30000
/* flags: the value may be examined (current_setting, SHOW) only by superusers; others get 42501 */
#define GUC_SUPERUSER_ONLY 0x0100

struct config_enum_entry
{
	const char *name;
	int val;
	bool hidden;
};

typedef void *GucCheckHook;
typedef void *GucAssignHook;
typedef void *GucShowHook;

extern void DefineCustomBoolVariable(const char *name, const char *short_desc, const char *long_desc,
									 bool *valueAddr, bool bootValue, GucContext context, int flags,
									 GucCheckHook check_hook, GucAssignHook assign_hook, GucShowHook show_hook);
extern void DefineCustomIntVariable(const char *name, const char *short_desc, const char *long_desc,
									int *valueAddr, int bootValue, int minValue, int maxValue, GucContext context,
									int flags, GucCheckHook check_hook, GucAssignHook assign_hook,
									GucShowHook show_hook);
extern void DefineCustomRealVariable(const char *name, const char *short_desc, const char *long_desc,
									 double *valueAddr, double bootValue, double minValue, double maxValue,
									 GucContext context, int flags, GucCheckHook check_hook,
									 GucAssignHook assign_hook, GucShowHook show_hook);
extern void DefineCustomStringVariable(const char *name, const char *short_desc, const char *long_desc,
									   char **valueAddr, const char *bootValue, GucContext context, int flags,
									   GucCheckHook check_hook, GucAssignHook assign_hook, GucShowHook show_hook);
extern void DefineCustomEnumVariable(const char *name, const char *short_desc, const char *long_desc,
									 int *valueAddr, int bootValue, const struct config_enum_entry *options,
									 GucContext context, int flags, GucCheckHook check_hook,
									 GucAssignHook assign_hook, GucShowHook show_hook);
extern void MarkGUCPrefixReserved(const char *className);

/* ---------- named shared memory ---------- */

/*
 * In _PG_init (preloaded modules only), request space; then in any process with shared memory access, create or
 * attach a named area: the first caller gets zeroed memory and *found = false, later callers the same address and
 * *found = true. The memory is the module's to synchronize (C11 atomics or __atomic builtins work). All modules
 * together may request at most 1 GiB; after a crash-and-restart cycle the areas start zeroed again.
 */
extern void RequestAddinShmemSpace(size_t size);
extern void *ShmemInitStruct(const char *name, size_t size, bool *foundPtr);

/* ---------- SQL functions for backends ---------- */

/*
 * A module defines SQL functions in _PG_init; every client session can call them. Arguments arrive as
 * BgwSqlValues (SQL NULL is BGW_SQL_NULL); fill in *result (use bgw_sql_result_text for text) and return 0.
 * ereport(ERROR) inside the function fails the statement with that message (SQLSTATE XX000) and the session goes
 * on, as in PostgreSQL. BGW_SQLFN_SUPERUSER marks functions only superusers may call (anyone else gets
 * "permission denied for function", SQLSTATE 42501, and the function does not run).
 */
#define BGW_SQL_NULL 0
#define BGW_SQL_INT8 1
#define BGW_SQL_FLOAT8 2
#define BGW_SQL_TEXT 3
#define BGW_SQL_BOOL 4
#define BGW_SQLFN_SUPERUSER 0x1

typedef struct BgwSqlValue
{
	int kind;         /* BGW_SQL_* */
	int64_t int8;     /* INT8 and BOOL (0/1); also set for FLOAT8 arguments, truncated */
	double float8;    /* FLOAT8; also set for INT8 arguments */
	const char *text; /* TEXT: NUL-terminated, the host's (arguments) */
} BgwSqlValue;

typedef int (*bgw_sql_function)(int nargs, const BgwSqlValue *args, BgwSqlValue *result);
extern void bgw_define_sql_function(const char *name, int nargs, int result_type, int flags, bgw_sql_function fn);
/* Sets a text result; the host copies it. */
extern void bgw_sql_result_text(BgwSqlValue *result, const char *text);
/* Reports an error without jumping (for callers that must not longjmp, such as Rust): call it, then return a
 * non-zero value from the function. sqlstate is five characters (NULL: XX000); hint may be NULL. */
extern void bgw_sql_error(const char *sqlstate, const char *message, const char *hint);

/* ---------- SPI: SQL in a connected worker ---------- */

/*
 * PostgreSQL's SPI names and codes where they exist; results and parameters are text. SQL is SQLite's dialect,
 * parameters are written $1, $2, ... A source string may hold several statements: they run in order and the last
 * one's result is kept.
 *
 * Errors are return codes, never a jump: where PostgreSQL would raise an ERROR (a syntax error, a constraint
 * violation, a write with read_only = true) SPI_execute returns BGW_SPI_ERROR_STATEMENT, and
 * bgw_spi_error_message() says why. After such a failure inside a transaction the transaction is failed, as in
 * PostgreSQL: further statements are refused until AbortCurrentTransaction (CommitTransactionCommand then rolls
 * back, with a WARNING). SPI_connect returns SPI_ERROR_CONNECT in a process without a database connection (not
 * connected, or connected to no database); SPI_execute before SPI_connect returns SPI_ERROR_UNCONNECTED.
 *
 * Transactions: StartTransactionCommand begins one (BEGIN IMMEDIATE: it takes the database's write lock at once,
 * waiting up to 60 s for another writer, as every writer of the host does), CommitTransactionCommand commits it (a
 * failed commit is an ERROR: the worker ends with exit code 1), AbortCurrentTransaction rolls it back. Outside a
 * transaction each statement commits by itself. Transaction statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...)
 * given to SPI_execute return SPI_ERROR_TRANSACTION.
 *
 * SetCurrentStatementStartTimestamp, GetTransactionSnapshot, PushActiveSnapshot and PopActiveSnapshot are accepted
 * and do nothing (SQLite's transaction is the snapshot), so that worker code written for PostgreSQL compiles.
 *
 * Results: SPI_processed is the number of rows returned (SELECT, ... RETURNING) or affected (INSERT, UPDATE,
 * DELETE); bgw_spi_nfields, bgw_spi_fname(col) and bgw_spi_getvalue(row, col) read the last result, with columns
 * numbered from 1 (as SPI_fname and SPI_getvalue) and rows from 0; a value is NULL for SQL NULL. count limits the
 * rows kept (0: all). Every pointer returned is the host's and stays valid until the next SPI call.
 */
#define SPI_ERROR_CONNECT (-1)
#define SPI_ERROR_COPY (-2)
#define SPI_ERROR_OPUNKNOWN (-3)
#define SPI_ERROR_UNCONNECTED (-4)
#define SPI_ERROR_ARGUMENT (-6)
#define SPI_ERROR_PARAM (-7)
#define SPI_ERROR_TRANSACTION (-8)
#define BGW_SPI_ERROR_STATEMENT (-100) /* bgw: the statement failed; see bgw_spi_error_message() */

#define SPI_OK_CONNECT 1
#define SPI_OK_FINISH 2
#define SPI_OK_UTILITY 4
#define SPI_OK_SELECT 5
#define SPI_OK_INSERT 7
#define SPI_OK_DELETE 8
#define SPI_OK_UPDATE 9
#define SPI_OK_INSERT_RETURNING 11
#define SPI_OK_DELETE_RETURNING 12
#define SPI_OK_UPDATE_RETURNING 13

extern PGDLLIMPORT uint64_t SPI_processed;
extern int SPI_connect(void);
extern int SPI_finish(void);
extern int SPI_execute(const char *src, bool read_only, long count);
extern int SPI_exec(const char *src, long count); /* SPI_execute(src, false, count) */
/* values[i] is $(i+1) as text; a NULL entry is SQL NULL. */
extern int bgw_spi_execute_params(const char *src, int nparams, const char *const *values, bool read_only,
								  long count);
extern int bgw_spi_nfields(void);
extern const char *bgw_spi_fname(int col);
extern const char *bgw_spi_getvalue(uint64_t row, int col);
extern const char *bgw_spi_error_message(void);

extern void StartTransactionCommand(void);
extern void CommitTransactionCommand(void);
extern void AbortCurrentTransaction(void);

/*
 * NOTIFY from a worker (it needs a database connection): sent to the database's listening client sessions when the
 * open transaction commits (dropped if it rolls back), or at once outside a transaction. NOTIFY and pg_notify()
 * through SPI do the same. A bad channel or payload is an ERROR. Workers cannot LISTEN: SPI refuses it.
 */
extern void Async_Notify(const char *channel, const char *payload);

typedef struct SnapshotData *Snapshot;
extern void SetCurrentStatementStartTimestamp(void);
extern Snapshot GetTransactionSnapshot(void);
extern void PushActiveSnapshot(Snapshot snapshot);
extern void PopActiveSnapshot(void);

/* ---------- logging (PostgreSQL 15's levels) ---------- */

#define DEBUG5 10
#define DEBUG4 11
#define DEBUG3 12
#define DEBUG2 13
#define DEBUG1 14
#define LOG 15
#define LOG_SERVER_ONLY 16
#define COMMERROR LOG_SERVER_ONLY
#define INFO 17
#define NOTICE 18
#define WARNING 19
#define ERROR 21
#define FATAL 22
#define PANIC 23

extern void bgw_elog(int elevel, const char *message);
extern void bgw_errstart(int elevel);
extern int bgw_errmsg(const char *message);
extern int bgw_errdetail(const char *detail);
extern int bgw_errhint(const char *hint);
extern void bgw_errfinish(void);

#define BGW_MESSAGE_MAX 1024

static inline void
elog(int elevel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void
elog(int elevel, const char *fmt, ...)
{
	char buf[BGW_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	bgw_elog(elevel, buf);
}

#define BGW_FORMAT_AND_CALL(target, fmt) \
	char buf[BGW_MESSAGE_MAX]; \
	va_list ap; \
	va_start(ap, fmt); \
	vsnprintf(buf, sizeof(buf), fmt, ap); \
	va_end(ap); \
	return target(buf)

static inline int errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int errmsg(const char *fmt, ...) { BGW_FORMAT_AND_CALL(bgw_errmsg, fmt); }
static inline int errdetail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int errdetail(const char *fmt, ...) { BGW_FORMAT_AND_CALL(bgw_errdetail, fmt); }
static inline int errhint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int errhint(const char *fmt, ...) { BGW_FORMAT_AND_CALL(bgw_errhint, fmt); }
/* SQLSTATEs are accepted for compatibility; the server log does not show them. */
static inline int errcode(int sqlerrcode) { (void) sqlerrcode; return 0; }

/* ereport(elevel, (errmsg(...), errdetail(...), errhint(...))) as in PostgreSQL. */
#define ereport(elevel, ...) \
	do { \
		bgw_errstart(elevel); \
		(void) (__VA_ARGS__); \
		bgw_errfinish(); \
	} while (0)

#ifdef __cplusplus
}
#endif

#endif /* BGW_BGWORKER_H */
