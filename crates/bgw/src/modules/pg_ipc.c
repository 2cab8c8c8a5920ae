/*
 * Process exit for modules (storage/ipc.h): proc_exit and the three lists of exit callbacks, and the hooks
 * PostgreSQL calls around shared memory (shmem_request_hook, shmem_startup_hook), whose variables modules set.
 *
 * Compiled into the host by build.rs. proc_exit(code) runs before_shmem_exit callbacks, then on_shmem_exit ones,
 * then on_proc_exit ones, each list newest first; a callback that raises an ERROR or calls proc_exit again does
 * not run twice (each is removed before it runs). The host calls bgw_run_exit_callbacks on its own way out of a
 * worker (an ERROR without a handler, FATAL, a return from the entry point), so modules see the same order.
 *
 * Runs in: any process that calls into a module.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"

#define MAX_EXIT_CALLBACKS 20

typedef struct ExitCallback
{
	pg_on_exit_callback function;
	Datum arg;
} ExitCallback;

typedef struct ExitList
{
	ExitCallback items[MAX_EXIT_CALLBACKS];
	int count;
	const char *what;
} ExitList;

static ExitList before_shmem = {.what = "before_shmem_exit"};
static ExitList on_shmem = {.what = "on_shmem_exit"};
static ExitList on_proc = {.what = "on_proc_exit"};

bool proc_exit_inprogress = false;
bool shmem_exit_inprogress = false;
shmem_startup_hook_type shmem_startup_hook = NULL;
shmem_request_hook_type shmem_request_hook = NULL;

/* The Rust side: ends the process with code (crate::process::exit). */
extern void bgw_process_exit(int code) pg_attribute_noreturn();

static void
add(ExitList *list, pg_on_exit_callback function, Datum arg)
{
	if (list->count >= MAX_EXIT_CALLBACKS)
		ereport(FATAL, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg_internal("out of %s slots", list->what)));
	list->items[list->count].function = function;
	list->items[list->count].arg = arg;
	list->count++;
}

void
on_proc_exit(pg_on_exit_callback function, Datum arg)
{
	add(&on_proc, function, arg);
}

void
on_shmem_exit(pg_on_exit_callback function, Datum arg)
{
	add(&on_shmem, function, arg);
}

void
before_shmem_exit(pg_on_exit_callback function, Datum arg)
{
	add(&before_shmem, function, arg);
}

/* Removes the newest before_shmem_exit entry if it is (function, arg), as PostgreSQL does. */
void
cancel_before_shmem_exit(pg_on_exit_callback function, Datum arg)
{
	if (before_shmem.count > 0 && before_shmem.items[before_shmem.count - 1].function == function &&
		before_shmem.items[before_shmem.count - 1].arg == arg)
		before_shmem.count--;
	else
		elog(ERROR, "before_shmem_exit callback (%p,0x%llx) is not the latest entry", (void *) function,
			 (unsigned long long) arg);
}

static void
run(ExitList *list, int code)
{
	while (list->count > 0)
	{
		ExitCallback cb = list->items[--list->count];

		cb.function(code, cb.arg);
	}
}

void
bgw_run_exit_callbacks(int code)
{
	proc_exit_inprogress = true;
	shmem_exit_inprogress = true;
	/* An ERROR in a callback must not jump into code that is gone: it ends the process (see pg_elog.c). */
	PG_exception_stack = NULL;
	error_context_stack = NULL;
	/* Locks first, as PostgreSQL's abort does: no exit that is not a crash leaves one held (pg_lwlock.c). */
	LWLockReleaseAll();
	run(&before_shmem, code);
	run(&on_shmem, code);
	shmem_exit_inprogress = false;
	run(&on_proc, code);
}

void
proc_exit(int code)
{
	bgw_run_exit_callbacks(code);
	bgw_process_exit(code);
}

/* ---------- interrupt holdoff (miscadmin.h) ---------- */

/* CHECK_FOR_INTERRUPTS does nothing while either count is non-zero (HOLD_INTERRUPTS, START_CRIT_SECTION). */
volatile uint32 InterruptHoldoffCount = 0;
volatile uint32 CritSectionCount = 0;
/* Set by a cancel request; bgw's workers are not cancelled (pg_cancel_backend of a worker does nothing). */
volatile sig_atomic_t QueryCancelPending = 0;
