/*
 * storage/lwlock.h: lightweight locks in shared memory.
 *
 * A module asks for a tranche of named locks in its shmem_request_hook (RequestNamedLWLockTranche) and gets
 * them, in any process, with GetNamedLWLockTranche. AddinShmemInitLock serializes modules' shared memory
 * initialization. LW_SHARED holders exclude LW_EXCLUSIVE ones. As in PostgreSQL, a process that dies holding
 * one is a crash: the postmaster runs its crash-and-restart cycle (shared memory, locks included, is rebuilt);
 * proc_exit and an ERROR that ends a worker release them (an ERROR caught by PG_TRY does not: release them in
 * PG_CATCH or call LWLockReleaseAll).
 */
#ifndef BGW_STORAGE_LWLOCK_H
#define BGW_STORAGE_LWLOCK_H

#include "c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct LWLock
{
	uint16 tranche;
	uint32 state; /* bgw: the lock word, changed with atomic operations */
	uint32 waiters;
	int holder_pid; /* bgw: the exclusive holder (0: none), for crash detection */
} LWLock;

typedef union LWLockPadded
{
	LWLock lock;
	char pad[128];
} LWLockPadded;

typedef enum LWLockMode
{
	LW_EXCLUSIVE,
	LW_SHARED,
	LW_WAIT_UNTIL_FREE,
} LWLockMode;

extern bool LWLockAcquire(LWLock *lock, LWLockMode mode);
extern bool LWLockConditionalAcquire(LWLock *lock, LWLockMode mode);
extern void LWLockRelease(LWLock *lock);
extern void LWLockReleaseAll(void);
extern bool LWLockHeldByMe(LWLock *lock);
extern bool LWLockHeldByMeInMode(LWLock *lock, LWLockMode mode);

extern void RequestNamedLWLockTranche(const char *tranche_name, int num_lwlocks);
extern LWLockPadded *GetNamedLWLockTranche(const char *tranche_name);

extern PGDLLIMPORT LWLock *BgwAddinShmemInitLock;
#define AddinShmemInitLock BgwAddinShmemInitLock

#ifdef __cplusplus
}
#endif

#endif /* BGW_STORAGE_LWLOCK_H */
