/*
 * storage/proc.h: the process's shared entry. bgw does not expose PostgreSQL's PGPROC: MyProc is an opaque
 * pointer, non-NULL in processes attached to shared memory.
 */
#ifndef BGW_STORAGE_PROC_H
#define BGW_STORAGE_PROC_H

#include "storage/latch.h"
#include "storage/lwlock.h"

typedef struct PGPROC PGPROC;
extern PGDLLIMPORT PGPROC *MyProc;

#endif /* BGW_STORAGE_PROC_H */
