/*
 * The error trap around a module's SQL function or _PG_init (compiled into the host by build.rs).
 *
 * ereport(ERROR) inside a SQL function must fail the statement and let the session go on, as in PostgreSQL. The
 * host calls the module's function through bgw_sqlfn_trap_call, which is a PG_TRY in all but name: it sets
 * PG_exception_stack (utils/elog.h) to its own jump point, so an ERROR raised by the module (pg_elog.c's
 * errfinish) or by the host on its behalf (bgw_throw_error) jumps back here, and the current error is then read
 * with bgw_current_error and flushed. A module's own PG_TRY inside the function nests inside this one. The Rust
 * frames between the module and a throw by the host hold nothing that needs dropping at that moment (the host
 * moves the error out of them first), as Rust requires of frames a longjmp skips.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/memutils.h"

typedef struct BgwSqlValue BgwSqlValue;
typedef int (*bgw_sql_function)(int nargs, const BgwSqlValue *args, BgwSqlValue *result);

int
bgw_sqlfn_trap_call(bgw_sql_function fn, int nargs, const BgwSqlValue *args, BgwSqlValue *result, int *raised)
{
	sigjmp_buf here;
	sigjmp_buf *saved = PG_exception_stack;
	ErrorContextCallback *saved_context = error_context_stack;
	int rc = 0;

	*raised = 0;
	if (sigsetjmp(here, 1) != 0)
	{
		PG_exception_stack = saved;
		error_context_stack = saved_context;
		*raised = 1;
		return -1;
	}
	PG_exception_stack = &here;
	rc = fn(nargs, args, result);
	PG_exception_stack = saved;
	error_context_stack = saved_context;
	return rc;
}

/* The same trap around a call with the version-1 convention (fmgr.h): builds the call's FunctionCallInfo in
 * the current memory context from nargs values and null flags, calls fn, and reports whether the result is NULL. */
Datum
bgw_trap_call_v1(PGFunction fn, int nargs, const Datum *values, const bool *nulls, bool *isnull, int *raised)
{
	sigjmp_buf here;
	sigjmp_buf *saved = PG_exception_stack;
	ErrorContextCallback *saved_context = error_context_stack;
	FunctionCallInfo fcinfo = palloc0(SizeForFunctionCallInfo(nargs));
	Datum rc;
	int i;

	fcinfo->nargs = (short) nargs;
	for (i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = values[i];
		fcinfo->args[i].isnull = nulls[i];
	}
	*raised = 0;
	*isnull = false;
	if (sigsetjmp(here, 1) != 0)
	{
		PG_exception_stack = saved;
		error_context_stack = saved_context;
		*raised = 1;
		return 0;
	}
	PG_exception_stack = &here;
	rc = fn(fcinfo);
	PG_exception_stack = saved;
	error_context_stack = saved_context;
	*isnull = fcinfo->isnull;
	return rc;
}

/* A fresh memory context for one call into a module, made current; *old receives the previous one. */
MemoryContext
bgw_begin_call(MemoryContext *old)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ExprContext", ALLOCSET_DEFAULT_SIZES);

	*old = MemoryContextSwitchTo(cxt);
	return cxt;
}

/* Ends a call: the previous context is current again and the call's context is deleted. */
void
bgw_end_call(MemoryContext cxt, MemoryContext old)
{
	CurrentMemoryContext = old;
	MemoryContextDelete(cxt);
}

/* The same trap around a call without arguments (a library's _PG_init loaded outside preload). */
int
bgw_trap_call_void(void (*fn)(void))
{
	sigjmp_buf here;
	sigjmp_buf *saved = PG_exception_stack;
	ErrorContextCallback *saved_context = error_context_stack;

	if (sigsetjmp(here, 1) != 0)
	{
		PG_exception_stack = saved;
		error_context_stack = saved_context;
		return 1;
	}
	PG_exception_stack = &here;
	fn();
	PG_exception_stack = saved;
	error_context_stack = saved_context;
	return 0;
}
