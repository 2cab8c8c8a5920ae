/*
 * miscadmin.h: who and where this process is (pid, database, role), interrupts, and preload state.
 */
#ifndef BGW_MISCADMIN_H
#define BGW_MISCADMIN_H

#include "postgres.h"
#include "datatype/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

extern PGDLLIMPORT int MyProcPid;
extern PGDLLIMPORT pg_time_t MyStartTime;
extern PGDLLIMPORT TimestampTz MyStartTimestamp;
extern PGDLLIMPORT struct Latch *MyLatch;
extern PGDLLIMPORT bool IsUnderPostmaster;
extern PGDLLIMPORT bool IsPostmasterEnvironment;
extern PGDLLIMPORT char *DataDir;
extern PGDLLIMPORT char my_exec_path[];
extern PGDLLIMPORT char pkglib_path[];
/* The connected database (InvalidOid until a worker connects; the session's database in a backend). */
extern PGDLLIMPORT Oid MyDatabaseId;

/* True while the _PG_init of a library in shared_preload_libraries runs (in the postmaster, at start). */
extern PGDLLIMPORT bool process_shared_preload_libraries_in_progress;
/* True once every preloaded library's _PG_init has run. */
extern PGDLLIMPORT bool process_shared_preload_libraries_done;

/* Called by the postmaster after every preloaded library's _PG_init, before shared memory is created: modules
 * request their shared memory and named LWLock tranches here (PostgreSQL 15). */
typedef void (*shmem_request_hook_type)(void);
extern PGDLLIMPORT shmem_request_hook_type shmem_request_hook;

/* ---------- interrupts ---------- */

extern PGDLLIMPORT volatile sig_atomic_t InterruptPending;
extern PGDLLIMPORT volatile sig_atomic_t QueryCancelPending;
extern PGDLLIMPORT volatile sig_atomic_t ProcDiePending;
extern PGDLLIMPORT volatile uint32 InterruptHoldoffCount;
extern PGDLLIMPORT volatile uint32 CritSectionCount;

/* Acts on pending interrupts: a die() request ends the process with FATAL "terminating background worker ...
 * due to administrator command" (in a backend: "terminating connection due to administrator command"). */
extern void ProcessInterrupts(void);

#define INTERRUPTS_PENDING_CONDITION() (unlikely(InterruptPending))
#define CHECK_FOR_INTERRUPTS() \
	do { \
		if (INTERRUPTS_PENDING_CONDITION() && InterruptHoldoffCount == 0 && CritSectionCount == 0) \
			ProcessInterrupts(); \
	} while (0)
#define HOLD_INTERRUPTS() (InterruptHoldoffCount++)
#define RESUME_INTERRUPTS() (InterruptHoldoffCount--)
#define START_CRIT_SECTION() (CritSectionCount++)
#define END_CRIT_SECTION() (CritSectionCount--)

/* ---------- identity ---------- */

/* The role this process runs as: the session's role, or the role a worker connected with (InvalidOid before). */
extern Oid GetUserId(void);
extern Oid GetSessionUserId(void);
extern Oid GetAuthenticatedUserId(void);
/* Whether the current role is a superuser. */
extern bool superuser(void);
extern bool superuser_arg(Oid roleid);
/* The role's name, palloc'd; an ERROR if there is none with that oid (unless noerr: NULL). */
extern char *GetUserNameFromId(Oid roleid, bool noerr);

#ifdef __cplusplus
}
#endif

#endif /* BGW_MISCADMIN_H */
