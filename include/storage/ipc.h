/*
 * storage/ipc.h: process exit and its callbacks, and the shared memory start-up hook.
 *
 * proc_exit(code) runs the before_shmem_exit callbacks, then the on_shmem_exit ones, then the on_proc_exit ones,
 * each list last-registered first, then ends the process with code (PostgreSQL's order). A worker's exit code
 * keeps bgw's meaning: 0 = done, not restarted; 1 = restarted after bgw_restart_time; anything else = a crash.
 */
#ifndef BGW_STORAGE_IPC_H
#define BGW_STORAGE_IPC_H

#include "postgres.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*pg_on_exit_callback)(int code, Datum arg);
typedef void (*shmem_startup_hook_type)(void);

extern PGDLLIMPORT bool proc_exit_inprogress;
extern PGDLLIMPORT bool shmem_exit_inprogress;

extern void proc_exit(int code) pg_attribute_noreturn();
extern void on_proc_exit(pg_on_exit_callback function, Datum arg);
extern void on_shmem_exit(pg_on_exit_callback function, Datum arg);
extern void before_shmem_exit(pg_on_exit_callback function, Datum arg);
extern void cancel_before_shmem_exit(pg_on_exit_callback function, Datum arg);

/* Called in every process that attaches the host's shared memory, after it is mapped (in the postmaster after
 * creating it, in a crash-and-restart cycle after re-creating it): modules create their ShmemInitStruct areas
 * and LWLocks here. */
extern PGDLLIMPORT shmem_startup_hook_type shmem_startup_hook;

#ifdef __cplusplus
}
#endif

#endif /* BGW_STORAGE_IPC_H */
