/*
 * storage/latch.h: waiting on the process latch.
 *
 * Every process has one latch, MyLatch, which is &MyProc->procLatch (storage/proc.h); SetLatch from a signal
 * handler or another process (bgw_set_latch_pid in bgw/bgw.h) wakes a WaitLatch. Whatever Latch is passed, the
 * functions act on this process's latch: bgw does not share Latch objects between processes, and a Latch's state
 * is kept by the host, not in the struct (so a source reading PostgreSQL's is_set or owner_pid fails to compile
 * naming the field; InitLatch and OwnLatch are not provided).
 */
#ifndef BGW_STORAGE_LATCH_H
#define BGW_STORAGE_LATCH_H

#include "c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The host keeps the latch's state; the struct only gives the latch an address (in PGPROC). */
typedef struct Latch
{
	int bgw_reserved;
} Latch;

#define WL_LATCH_SET (1 << 0)
#define WL_SOCKET_READABLE (1 << 1)
#define WL_SOCKET_WRITEABLE (1 << 2)
#define WL_TIMEOUT (1 << 3)
#define WL_POSTMASTER_DEATH (1 << 4)
#define WL_EXIT_ON_PM_DEATH (1 << 5)

typedef int pgsocket;
#define PGINVALID_SOCKET (-1)

/* Waits until one of wakeEvents happens (timeout in ms, with WL_TIMEOUT); returns the WL_* bits that did. With
 * WL_EXIT_ON_PM_DEATH the process exits (code 1) when the postmaster dies. */
extern int WaitLatch(Latch *latch, int wakeEvents, long timeout, uint32 wait_event_info);
/* WaitLatch that also wakes when sock is readable / writeable (WL_SOCKET_*; the result says which). */
extern int WaitLatchOrSocket(Latch *latch, int wakeEvents, pgsocket sock, long timeout, uint32 wait_event_info);
extern void SetLatch(Latch *latch);
extern void ResetLatch(Latch *latch);

#ifdef __cplusplus
}
#endif

#endif /* BGW_STORAGE_LATCH_H */
