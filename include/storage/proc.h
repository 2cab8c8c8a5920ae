/*
 * storage/proc.h: the process's own entry, MyProc.
 *
 * bgw's PGPROC is its own small struct, not PostgreSQL's: it has procLatch (the process's latch: MyLatch is
 * &MyProc->procLatch, so WaitLatch, SetLatch and ResetLatch on either are the same), pid, databaseId and roleId
 * (InvalidOid until a worker connects; a backend's session's). PostgreSQL's other PGPROC fields are absent, so a
 * source that reads one fails to compile naming it. MyProc is NULL in the postmaster (as PostgreSQL's) and set in
 * every child, backends and workers (unlike PostgreSQL's, also in a worker without BGWORKER_SHMEM_ACCESS); it is
 * this process's entry only: bgw has no array of other processes' PGPROCs.
 */
#ifndef BGW_STORAGE_PROC_H
#define BGW_STORAGE_PROC_H

#include "storage/latch.h"
#include "storage/lwlock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct PGPROC
{
	Latch procLatch; /* the process's latch (MyLatch) */
	int pid;         /* the process's pid (MyProcPid) */
	Oid databaseId;  /* the connected database (MyDatabaseId) */
	Oid roleId;      /* the connected role (GetUserId()) */
} PGPROC;

extern PGDLLIMPORT PGPROC *MyProc;

#ifdef __cplusplus
}
#endif

#endif /* BGW_STORAGE_PROC_H */
