/*
 * The error trap around a module's SQL function (compiled into the host by build.rs).
 *
 * ereport(ERROR) inside a SQL function must fail the statement and let the session go on, as in PostgreSQL. C has
 * no exceptions, so the host calls the module's function through bgw_sqlfn_trap_call, which sets a jump point;
 * when the function raises an ERROR, the host records the error and calls bgw_sqlfn_trap_throw, which jumps back
 * here. The Rust frames between the module and the throw hold nothing that needs dropping at that moment (the
 * host moves the error out of them first), as Rust requires of frames a longjmp skips.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

typedef struct BgwSqlValue BgwSqlValue;
typedef int (*bgw_sql_function)(int nargs, const BgwSqlValue *args, BgwSqlValue *result);

static sigjmp_buf *current_trap = NULL;

int
bgw_sqlfn_trap_call(bgw_sql_function fn, int nargs, const BgwSqlValue *args, BgwSqlValue *result, int *raised)
{
	sigjmp_buf here;
	sigjmp_buf *saved = current_trap;
	int rc = 0;

	*raised = 0;
	if (sigsetjmp(here, 1) != 0)
	{
		current_trap = saved;
		*raised = 1;
		return -1;
	}
	current_trap = &here;
	rc = fn(nargs, args, result);
	current_trap = saved;
	return rc;
}

int
bgw_sqlfn_trap_active(void)
{
	return current_trap != NULL;
}

void
bgw_sqlfn_trap_throw(void)
{
	if (current_trap != NULL)
		siglongjmp(*current_trap, 1);
}

/* The same trap around a call without arguments (a library's _PG_init loaded outside preload). */
int
bgw_trap_call_void(void (*fn)(void))
{
	sigjmp_buf here;
	sigjmp_buf *saved = current_trap;

	if (sigsetjmp(here, 1) != 0)
	{
		current_trap = saved;
		return 1;
	}
	current_trap = &here;
	fn();
	current_trap = saved;
	return 0;
}
