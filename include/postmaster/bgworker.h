/*
 * postmaster/bgworker.h: the background worker API.
 *
 * PostgreSQL's names, constants, struct layout and semantics. A worker's entry point is `void main(Datum arg)`,
 * found by (bgw_library_name, bgw_function_name). Exported by the running bgw executable (modules/abi.rs); the
 * Rust side of the ABI (crates/bgw-abi) has the same layout, which its tests check field by field.
 */
#ifndef BGW_POSTMASTER_BGWORKER_H
#define BGW_POSTMASTER_BGWORKER_H

#include "postgres.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BGWORKER_SHMEM_ACCESS 0x0001
#define BGWORKER_BACKEND_DATABASE_CONNECTION 0x0002
#define BGWORKER_CLASS_PARALLEL 0x0010
/* PostgreSQL 19: DROP DATABASE terminates the worker instead of waiting for it (needs the two flags above). */
#define BGWORKER_INTERRUPTIBLE 0x0004
/* bgw, beyond PostgreSQL: a dynamic worker terminated when the process that registered it exits. */
#define BGWORKER_BIND_REGISTRANT 0x1000
/* bgw, PostgreSQL 19's die(): SIGTERM sets ProcDiePending; the worker ends at its next CHECK_FOR_INTERRUPTS(). */
#define BGWORKER_DIE_AT_INTERRUPTS 0x2000

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
/* Register a worker from a backend or a worker; the handle is malloc'ed (free it with free() or pfree()). */
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
 * database as one role: by name (dbname NULL or "": no database, the catalog only; username NULL: the bootstrap
 * superuser made by initdb) or by oid (InvalidOid, 0, means the same). The checks are a client's: the role must
 * exist and may log in (unless BGWORKER_BYPASS_ROLELOGINCHECK), the database must exist and accept connections
 * (unless BGWORKER_BYPASS_ALLOWCONN). Every failure is FATAL: logged with PostgreSQL's message, exit code 1, the
 * restart rules apply. So is calling these without the registration flag, or a second time. On success
 * pg_stat_activity shows the worker's datname and usename, and SPI (executor/spi.h) runs on the connection.
 */
extern void BackgroundWorkerInitializeConnection(const char *dbname, const char *username, uint32 flags);
extern void BackgroundWorkerInitializeConnectionByOid(Oid dboid, Oid useroid, uint32 flags);
#define BGWORKER_BYPASS_ALLOWCONN 0x0001
#define BGWORKER_BYPASS_ROLELOGINCHECK 0x0002

extern void BackgroundWorkerBlockSignals(void);
extern void BackgroundWorkerUnblockSignals(void);

#ifdef __cplusplus
}
#endif

#endif /* BGW_POSTMASTER_BGWORKER_H */
