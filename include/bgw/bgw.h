/*
 * bgw/bgw.h: what bgw offers beyond PostgreSQL's server API: SQL functions defined by a module, SPI results as
 * text, the latch of another process, typed arguments of registrations, and logging without formatting (for
 * callers that are not C, such as the Rust SDK).
 */
#ifndef BGW_BGW_BGW_H
#define BGW_BGW_BGW_H

#include "postgres.h"
#include "fmgr.h"
#include "postmaster/bgworker.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------- SQL functions for backends ---------- */

/*
 * A module defines SQL functions in _PG_init; every client session can call them. Arguments arrive as
 * BgwSqlValues (SQL NULL is BGW_SQL_NULL); fill in *result (use bgw_sql_result_text for text) and return 0.
 * ereport(ERROR) inside the function fails the statement with that SQLSTATE and message and the session goes
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

/*
 * A SQL function with PostgreSQL's version-1 calling convention (fmgr.h: PG_FUNCTION_INFO_V1, PG_GETARG_*,
 * PG_RETURN_*): name(argtypes) returns rettype, the types given by oid (catalog/pg_type_d.h): BOOLOID, INT2OID,
 * INT4OID, INT8OID, OIDOID, FLOAT4OID, FLOAT8OID, TEXTOID, VARCHAROID (a text argument arrives as a text
 * varlena, a text result is read from one). A strict function is not called when an argument is NULL (its result
 * is NULL), as CREATE FUNCTION ... STRICT; a non-strict one reads PG_ARGISNULL. Each call runs in a fresh memory
 * context, deleted after it (what it pallocs there is freed), and in the error trap (ereport(ERROR) fails the
 * statement with its SQLSTATE). The result column's type is the nearest of bgw's module-function types:
 * int8 for the integer types and oid, float8 for the float types, bool, text.
 */
extern void bgw_define_function_v1(const char *name, int nargs, const Oid *argtypes, Oid rettype, bool strict,
								   PGFunction fn);

/* ---------- SPI with return codes, results as text ---------- */

/* bgw's SPI calls never raise: where PostgreSQL's SPI_execute raises an ERROR (executor/spi.h) they return
 * BGW_SPI_ERROR_STATEMENT, and bgw_spi_error_message() / bgw_spi_error_sqlstate() say why. Inside a transaction
 * the transaction is then failed (AbortCurrentTransaction; CommitTransactionCommand rolls it back). */
#define BGW_SPI_ERROR_STATEMENT (-100) /* bgw: the statement failed; see bgw_spi_error_message() */

/* SPI_execute, returning every failure as a code. */
extern int bgw_spi_execute(const char *src, bool read_only, long count);
/* values[i] is $(i+1) as text; a NULL entry is SQL NULL. */
extern int bgw_spi_execute_params(const char *src, int nparams, const char *const *values, bool read_only,
								  long count);
/* The last result: columns numbered from 1, rows from 0; a value is NULL for SQL NULL. Every pointer returned is
 * the host's and stays valid until the next SPI call. */
extern int bgw_spi_nfields(void);
extern const char *bgw_spi_fname(int col);
extern const char *bgw_spi_getvalue(uint64_t row, int col);
extern const char *bgw_spi_error_message(void);
/* The SQLSTATE of the last SPI error ("00000" after a success). */
extern const char *bgw_spi_error_sqlstate(void);

/* ---------- supervision beyond PostgreSQL ---------- */

/*
 * Readiness: a worker reports that it is ready (its state in bgw_workers becomes "ready"); a registrant waits for
 * it. WaitForBackgroundWorkerReady returns BGWH_STARTED once the worker is ready (*pidp set), BGWH_NOT_YET_STARTED
 * if it is not ready when timeout_ms passes (-1: wait as long as it takes), BGWH_STOPPED if it stopped first,
 * BGWH_POSTMASTER_DIED.
 */
extern void BackgroundWorkerReportReady(void);
extern BgwHandleStatus WaitForBackgroundWorkerReady(BackgroundWorkerHandle *handle, pid_t *pidp, int timeout_ms);

/*
 * Queued registration: as RegisterDynamicBackgroundWorker, but when no slot is free waits up to timeout_ms (-1: as
 * long as it takes) for one, first come first served among the waiting registrations; false if none came in time
 * (or a shutdown began). A cancel or termination request ends the wait with its ERROR; a wait that ends without a
 * slot leaves the queue (nothing is started for it later).
 */
extern bool RegisterDynamicBackgroundWorkerWait(BackgroundWorker *worker, BackgroundWorkerHandle **handle,
												int timeout_ms);

/* TerminateBackgroundWorker, then SIGKILL if the worker still runs grace_ms later (see README: which kill is a
 * crash). */
extern void TerminateBackgroundWorkerWithGrace(BackgroundWorkerHandle *handle, int grace_ms);

/* Lets a worker its restart policy gave up on run again; false for a stale handle. */
extern bool ResetBackgroundWorker(BackgroundWorkerHandle *handle);

/* Why the registration's last run ended. */
#define BGW_EXIT_NONE 0         /* it has not ended a run */
#define BGW_EXIT_CODE 1         /* exited by itself; detail: the exit code */
#define BGW_EXIT_SIGNAL 2       /* a signal from outside; detail: the signal number */
#define BGW_EXIT_TERMINATED 3   /* on request; detail: exit code, -signal, or INT_MIN when no process ran */
#define BGW_EXIT_CRASH_CYCLE 4  /* ended by a crash cycle */
#define BGW_EXIT_FORK_FAILED 5  /* could not be forked; detail: errno */
#define BGW_EXIT_START_TIMEOUT 6 /* not ready within its start timeout */
#define BGW_EXIT_GAVE_UP 7      /* its restart policy gave up */
#define BGW_EXIT_SHUTDOWN 8     /* ended by the host's shutdown */
#define BGW_EXIT_STALE_HANDLE 9 /* the slot holds a later registration that ended too: unknown */

typedef struct BgwExitInfo
{
	int reason;          /* BGW_EXIT_* */
	int detail;
	int64_t ended_at_us; /* when the run ended, microseconds since the Unix epoch; 0: it has not */
	uint32_t starts;     /* how many times it was started */
} BgwExitInfo;

/* Fills *info; false if the record could not be read (being rewritten over and over: try again). */
extern bool GetBackgroundWorkerExitReason(BackgroundWorkerHandle *handle, BgwExitInfo *info);

/* ---------- latches of other processes ---------- */

/* Sets the latch of another process of the host. */
extern bool bgw_set_latch_pid(pid_t pid);

/* ---------- logging without formatting ---------- */

#define BGW_MESSAGE_MAX 1024

/* elog(elevel, "%s", message). */
extern void bgw_elog(int elevel, const char *message);
/* ereport in steps: bgw_errstart, then any of bgw_errmsg / bgw_errdetail / bgw_errhint, then bgw_errfinish. */
extern void bgw_errstart(int elevel);
extern int bgw_errmsg(const char *message);
extern int bgw_errdetail(const char *detail);
extern int bgw_errhint(const char *hint);
extern void bgw_errfinish(void);

/* ---------- typed arguments of registrations ---------- */

/* The most bytes an argument may hold (more than bgw_extra's BGW_EXTRALEN). */
#define BGW_MAX_ARG_BYTES 8192

/*
 * RegisterDynamicBackgroundWorker with an argument: len bytes at arg go with the registration, in shared memory,
 * for its worker to read with bgw_worker_arg; they are freed with the slot. An argument longer than
 * BGW_MAX_ARG_BYTES is an ERROR (54000) and takes no slot (its bytes are not read), a NULL arg with a non-zero
 * len an ERROR (22004). Returns false when no slot is free.
 */
extern bool bgw_register_dynamic_with_arg(BackgroundWorker *worker, BackgroundWorkerHandle **handle,
										  const void *arg, size_t len);

/*
 * In a worker with shared-memory access: a malloc'ed copy of its registration's argument (free it), its length in
 * *len; NULL and *len = 0 when it has none. ERROR (55000) in any other process.
 */
extern void *bgw_worker_arg(size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* BGW_BGW_BGW_H */
