/*
 * Lightweight locks for modules (storage/lwlock.h): named tranches in shared memory and AddinShmemInitLock.
 *
 * Compiled into the host by build.rs. A module asks for a tranche (RequestNamedLWLockTranche) while it is
 * preloaded (in _PG_init or its shmem_request_hook); the request is remembered in the postmaster and inherited
 * by every child, and its space is requested from the modules' shared memory. GetNamedLWLockTranche creates or
 * attaches the tranche's array as a named area ("lwlocks:<name>", ShmemInitStruct): zeroed memory is a set of
 * free locks, so whoever attaches first needs to initialize nothing. AddinShmemInitLock is one more such lock,
 * attached by the postmaster when it creates (or, after a crash, re-creates) shared memory, before
 * shmem_startup_hook runs, and inherited by children.
 *
 * The lock word (LWLock.state) and its hand-off protocol:
 * - bit 31 (EXCLUSIVE) is set by the one exclusive holder; bits 0..30 count shared holders. A process takes
 *   the lock with one compare-and-swap from a state that allows it (free for LW_EXCLUSIVE; no EXCLUSIVE bit for
 *   LW_SHARED), so the holder set changes only by CAS and the word always says exactly who may hold it.
 * - An exclusive holder writes its pid into holder_pid after the CAS and clears it before releasing (so a
 *   waiter may read a pid of a holder that just left: it only uses it to detect a dead one, see below).
 * - A process that cannot take the lock increments `waiters`, re-reads the word and sleeps on it with a futex
 *   (FUTEX_WAIT returns at once if the word changed since it was read: no lost wake-up), for at most 100 ms,
 *   then decrements `waiters` and retries. A releaser changes the word first, then wakes every sleeper if
 *   `waiters` is non-zero (sequentially consistent operations on both words: a sleeper that incremented
 *   `waiters` before the release is seen; one that did after re-reads the changed word).
 * - Release-all at exit: proc_exit and the host's own exits of a worker (pg_ipc.c) release what this process
 *   holds, so an exit that is not a crash never leaves a lock held.
 * - A holder that dies without releasing (killed by a signal: the postmaster's crash-and-restart cycle re-creates
 *   shared memory, locks included, as PostgreSQL's does). A waiter that finds the exclusive holder's pid gone
 *   while it waits raises PANIC itself (a crash: the same cycle), never waiting forever.
 *
 * Runs in: any process with shared memory access that calls into a module.
 */
#include "postgres.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#define EXCLUSIVE_BIT 0x80000000U
#define MAX_TRANCHES 64
#define MAX_HELD 200

typedef struct Tranche
{
	char name[NAMEDATALEN];
	int count;
} Tranche;

static Tranche tranches[MAX_TRANCHES];
static int ntranches = 0;

typedef struct Held
{
	LWLock *lock;
	LWLockMode mode;
} Held;

static Held held[MAX_HELD];
static int nheld = 0;

LWLock *BgwAddinShmemInitLock = NULL;

/* Set by the host while a library is preloaded (modules/abi.rs: RequestAddinShmemSpace works then). */
extern bool process_shared_preload_libraries_in_progress;

void
RequestNamedLWLockTranche(const char *tranche_name, int num_lwlocks)
{
	int i;

	if (!process_shared_preload_libraries_in_progress)
		elog(FATAL, "cannot request additional LWLocks outside shmem_request_hook");
	if (num_lwlocks <= 0 || strlen(tranche_name) + strlen("lwlocks:") >= 64)
		elog(ERROR, "invalid LWLock tranche request \"%s\" (%d locks)", tranche_name, num_lwlocks);
	for (i = 0; i < ntranches; i++)
		if (strcmp(tranches[i].name, tranche_name) == 0)
			elog(ERROR, "LWLock tranche \"%s\" requested twice", tranche_name);
	if (ntranches >= MAX_TRANCHES)
		elog(ERROR, "too many LWLock tranches (at most %d)", MAX_TRANCHES);
	RequestAddinShmemSpace(mul_size(sizeof(LWLockPadded), num_lwlocks));
	snprintf(tranches[ntranches].name, NAMEDATALEN, "%s", tranche_name);
	tranches[ntranches].count = num_lwlocks;
	ntranches++;
}

LWLockPadded *
GetNamedLWLockTranche(const char *tranche_name)
{
	char area[64];
	bool found;
	int i;

	for (i = 0; i < ntranches; i++)
	{
		if (strcmp(tranches[i].name, tranche_name) == 0)
		{
			snprintf(area, sizeof(area), "lwlocks:%s", tranche_name);
			return ShmemInitStruct(area, sizeof(LWLockPadded) * tranches[i].count, &found);
		}
	}
	elog(ERROR, "requested tranche is not registered");
	return NULL;
}

/* For the host: request the space of AddinShmemInitLock (while preloading). */
void
bgw_lwlock_request_space(void)
{
	RequestAddinShmemSpace(sizeof(LWLockPadded));
}

/* For the host: attach AddinShmemInitLock after (re-)creating shared memory. */
void
bgw_lwlock_shmem_startup(void)
{
	bool found;

	BgwAddinShmemInitLock = &((LWLockPadded *) ShmemInitStruct("lwlocks:AddinShmemInitLock", sizeof(LWLockPadded),
																&found))->lock;
}

static void
futex_wait(uint32 *word, uint32 seen)
{
	struct timespec timeout = {0, 100 * 1000 * 1000};

	syscall(SYS_futex, word, FUTEX_WAIT, seen, &timeout, NULL, 0);
}

static void
futex_wake_all(uint32 *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static bool
try_take(LWLock *lock, LWLockMode mode)
{
	uint32 old = __atomic_load_n(&lock->state, __ATOMIC_SEQ_CST);

	for (;;)
	{
		uint32 want;

		if (mode == LW_EXCLUSIVE)
		{
			if (old != 0)
				return false;
			want = EXCLUSIVE_BIT;
		}
		else
		{
			if (old & EXCLUSIVE_BIT)
				return false;
			want = old + 1;
		}
		if (__atomic_compare_exchange_n(&lock->state, &old, want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return true;
	}
}

/* The host's count of the locks this process holds or waits for (crate::sys::robust_mutex): the postmaster reads
 * it after a worker it killed died, to tell a clean kill from one that may have left shared state half-written. */
extern void bgw_lock_hold_begins(void);
extern void bgw_lock_hold_ends(void);

static void
remember(LWLock *lock, LWLockMode mode)
{
	if (nheld >= MAX_HELD)
		elog(ERROR, "too many LWLocks taken");
	held[nheld].lock = lock;
	held[nheld].mode = mode;
	nheld++;
	if (mode == LW_EXCLUSIVE)
		__atomic_store_n(&lock->holder_pid, MyProcPid, __ATOMIC_SEQ_CST);
}

static void
check_holder_alive(LWLock *lock)
{
	int pid = __atomic_load_n(&lock->holder_pid, __ATOMIC_SEQ_CST);

	if (pid > 0 && pid != MyProcPid && kill(pid, 0) != 0 && errno == ESRCH &&
		__atomic_load_n(&lock->holder_pid, __ATOMIC_SEQ_CST) == pid)
		ereport(PANIC, (errmsg("LWLock held by process %d, which died without releasing it", pid)));
}

bool
LWLockAcquire(LWLock *lock, LWLockMode mode)
{
	if (mode == LW_WAIT_UNTIL_FREE)
		elog(ERROR, "LW_WAIT_UNTIL_FREE is not supported by LWLockAcquire");
	HOLD_INTERRUPTS();
	bgw_lock_hold_begins();
	while (!try_take(lock, mode))
	{
		uint32 seen;

		__atomic_add_fetch(&lock->waiters, 1, __ATOMIC_SEQ_CST);
		seen = __atomic_load_n(&lock->state, __ATOMIC_SEQ_CST);
		if ((mode == LW_EXCLUSIVE && seen != 0) || (mode == LW_SHARED && (seen & EXCLUSIVE_BIT)))
			futex_wait(&lock->state, seen);
		__atomic_sub_fetch(&lock->waiters, 1, __ATOMIC_SEQ_CST);
		check_holder_alive(lock);
	}
	remember(lock, mode);
	return true;
}

bool
LWLockConditionalAcquire(LWLock *lock, LWLockMode mode)
{
	bgw_lock_hold_begins();
	if (!try_take(lock, mode))
	{
		bgw_lock_hold_ends();
		return false;
	}
	HOLD_INTERRUPTS();
	remember(lock, mode);
	return true;
}

static void
release_word(LWLock *lock, LWLockMode mode)
{
	if (mode == LW_EXCLUSIVE)
	{
		__atomic_store_n(&lock->holder_pid, 0, __ATOMIC_SEQ_CST);
		__atomic_and_fetch(&lock->state, ~EXCLUSIVE_BIT, __ATOMIC_SEQ_CST);
	}
	else
		__atomic_sub_fetch(&lock->state, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&lock->waiters, __ATOMIC_SEQ_CST) != 0)
		futex_wake_all(&lock->state);
	bgw_lock_hold_ends();
}

void
LWLockRelease(LWLock *lock)
{
	int i;

	for (i = nheld - 1; i >= 0; i--)
	{
		if (held[i].lock == lock)
		{
			LWLockMode mode = held[i].mode;

			memmove(&held[i], &held[i + 1], sizeof(Held) * (nheld - i - 1));
			nheld--;
			release_word(lock, mode);
			RESUME_INTERRUPTS();
			return;
		}
	}
	elog(ERROR, "lock is not held");
}

void
LWLockReleaseAll(void)
{
	while (nheld > 0)
	{
		nheld--;
		release_word(held[nheld].lock, held[nheld].mode);
		if (InterruptHoldoffCount > 0)
			RESUME_INTERRUPTS();
	}
}

bool
LWLockHeldByMe(LWLock *lock)
{
	int i;

	for (i = 0; i < nheld; i++)
		if (held[i].lock == lock)
			return true;
	return false;
}

bool
LWLockHeldByMeInMode(LWLock *lock, LWLockMode mode)
{
	int i;

	for (i = 0; i < nheld; i++)
		if (held[i].lock == lock && held[i].mode == mode)
			return true;
	return false;
}
