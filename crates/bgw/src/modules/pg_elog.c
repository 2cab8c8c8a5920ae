/*
 * Error reports and error recovery for modules: ereport/elog, PG_TRY, the error data (utils/elog.h).
 *
 * Compiled into the host by build.rs. The jump of an ERROR to the innermost PG_TRY (PG_exception_stack) is made
 * here, in C, so that it only ever crosses C frames: the module's, and this file's. The host's trap around a
 * module's SQL function or _PG_init (sqlfn_trap.c) is such a PG_TRY. Everything that is not a jump goes to the
 * Rust side through three functions (modules/abi.rs): bgw_report_elevel_enabled (is the level logged?),
 * bgw_report_finish (log the report and, for ERROR without a handler, FATAL and PANIC, end the process as its
 * level says) and bgw_report_log (only log it, for EmitErrorReport).
 *
 * Invariants: one error is "current" between an ERROR's jump and FlushErrorState (PostgreSQL's errordata stack,
 * here a small array: reports made while one is being built, e.g. by a context callback, nest up to
 * ERRORDATA_STACK_SIZE deep). Strings of an ErrorData being built are malloc'ed and owned by the slot;
 * CopyErrorData returns palloc'ed copies.
 *
 * Runs in: any process that calls into a module (single-threaded C: the host calls modules from one thread).
 */
#define _GNU_SOURCE
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/memutils.h"

#define ERRORDATA_STACK_SIZE 5

sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;

static ErrorData errordata[ERRORDATA_STACK_SIZE];
static int errordata_depth = -1;
static int recursion_depth = 0;

/* The Rust side (modules/abi.rs). */
extern bool bgw_report_elevel_enabled(int elevel);
extern void bgw_report_finish(int elevel, const char *sqlstate, const char *message, const char *detail,
							  const char *hint, const char *context);
extern void bgw_report_log(int elevel, const char *sqlstate, const char *message, const char *detail,
						   const char *hint, const char *context);

static void
free_strings(ErrorData *e)
{
	free(e->message);
	free(e->detail);
	free(e->detail_log);
	free(e->hint);
	free(e->context);
	memset(e, 0, sizeof(*e));
}

static ErrorData *
current(void)
{
	if (errordata_depth < 0)
		return NULL;
	return &errordata[errordata_depth];
}

bool
message_level_is_interesting(int elevel)
{
	return elevel >= ERROR || bgw_report_elevel_enabled(elevel);
}

bool
in_error_recursion_trouble(void)
{
	return recursion_depth > 2;
}

bool
errstart(int elevel, const char *domain)
{
	ErrorData *e;

	(void) domain;
	if (elevel < ERROR && !bgw_report_elevel_enabled(elevel))
		return false;
	if (errordata_depth + 1 >= ERRORDATA_STACK_SIZE)
	{
		/* Reports nested too deep: a broken context callback. PostgreSQL PANICs here too. */
		errordata_depth = -1;
		bgw_report_finish(PANIC, "XX000", "ERRORDATA_STACK_SIZE exceeded", NULL, NULL, NULL);
		abort();
	}
	e = &errordata[++errordata_depth];
	memset(e, 0, sizeof(*e));
	e->elevel = elevel;
	e->output_to_server = true;
	e->saved_errno = errno;
	e->assoc_context = ErrorContext;
	if (elevel >= ERROR)
		e->sqlerrcode = ERRCODE_INTERNAL_ERROR;
	else if (elevel == WARNING)
		e->sqlerrcode = ERRCODE_WARNING;
	else
		e->sqlerrcode = ERRCODE_SUCCESSFUL_COMPLETION;
	recursion_depth++;
	return true;
}

/* Formats fmt with the report's saved errno in place (so %m names the error of the failed call). */
static char *
format_with_errno(ErrorData *e, const char *fmt, va_list ap)
{
	char *out = NULL;
	int saved = errno;

	errno = e->saved_errno;
	if (vasprintf(&out, fmt, ap) < 0)
		out = NULL;
	errno = saved;
	return out;
}

#define SET_FIELD(field) \
	do { \
		ErrorData *e = current(); \
		va_list ap; \
		if (e == NULL) \
			return 0; \
		va_start(ap, fmt); \
		free(e->field); \
		e->field = format_with_errno(e, fmt, ap); \
		va_end(ap); \
	} while (0)

int
errmsg(const char *fmt, ...)
{
	SET_FIELD(message);
	return 0;
}

int
errmsg_internal(const char *fmt, ...)
{
	SET_FIELD(message);
	return 0;
}

int
errdetail(const char *fmt, ...)
{
	SET_FIELD(detail);
	return 0;
}

int
errdetail_internal(const char *fmt, ...)
{
	SET_FIELD(detail);
	return 0;
}

int
errdetail_log(const char *fmt, ...)
{
	SET_FIELD(detail_log);
	return 0;
}

int
errhint(const char *fmt, ...)
{
	SET_FIELD(hint);
	return 0;
}

#define SET_PLURAL(field) \
	do { \
		ErrorData *e = current(); \
		va_list ap; \
		if (e == NULL) \
			return 0; \
		va_start(ap, n); \
		free(e->field); \
		e->field = format_with_errno(e, n == 1 ? fmt_singular : fmt_plural, ap); \
		va_end(ap); \
	} while (0)

int
errmsg_plural(const char *fmt_singular, const char *fmt_plural, unsigned long n, ...)
{
	SET_PLURAL(message);
	return 0;
}

int
errdetail_plural(const char *fmt_singular, const char *fmt_plural, unsigned long n, ...)
{
	SET_PLURAL(detail);
	return 0;
}

/* A context line; several are joined with newlines, innermost first. */
int
errcontext_msg(const char *fmt, ...)
{
	ErrorData *e = current();
	va_list ap;
	char *line;

	if (e == NULL)
		return 0;
	va_start(ap, fmt);
	line = format_with_errno(e, fmt, ap);
	va_end(ap);
	if (line == NULL)
		return 0;
	if (e->context == NULL)
		e->context = line;
	else
	{
		char *joined = NULL;

		if (asprintf(&joined, "%s\n%s", e->context, line) >= 0)
		{
			free(e->context);
			e->context = joined;
		}
		free(line);
	}
	return 0;
}

int
errcode(int sqlerrcode)
{
	ErrorData *e = current();

	if (e != NULL)
		e->sqlerrcode = sqlerrcode;
	return 0;
}

/* PostgreSQL's mapping of the saved errno to a SQLSTATE, for file and socket errors. */
static int
code_for_errno(int err)
{
	switch (err)
	{
		case EPERM:
		case EACCES:
#ifdef EROFS
		case EROFS:
#endif
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case ENOENT:
			return ERRCODE_UNDEFINED_FILE;
		case EEXIST:
			return ERRCODE_DUPLICATE_FILE;
		case ENOTDIR:
		case EISDIR:
		case ENOTEMPTY:
			return ERRCODE_WRONG_OBJECT_TYPE;
		case ENOSPC:
			return ERRCODE_DISK_FULL;
		case ENFILE:
		case EMFILE:
			return ERRCODE_INSUFFICIENT_RESOURCES;
		case EPIPE:
		case ECONNRESET:
		case ECONNABORTED:
		case EHOSTUNREACH:
		case ENETDOWN:
		case ENETRESET:
		case ENETUNREACH:
		case ETIMEDOUT:
			return ERRCODE_CONNECTION_FAILURE;
		default:
			return ERRCODE_INTERNAL_ERROR;
	}
}

int
errcode_for_file_access(void)
{
	ErrorData *e = current();

	if (e != NULL)
		e->sqlerrcode = code_for_errno(e->saved_errno);
	return 0;
}

int
errcode_for_socket_access(void)
{
	ErrorData *e = current();

	if (e != NULL)
		e->sqlerrcode = code_for_errno(e->saved_errno) == ERRCODE_CONNECTION_FAILURE ? ERRCODE_CONNECTION_FAILURE
																					 : ERRCODE_INTERNAL_ERROR;
	return 0;
}

int
errhidestmt(bool hide_stmt)
{
	ErrorData *e = current();

	if (e != NULL)
		e->hide_stmt = hide_stmt;
	return 0;
}

int
errhidecontext(bool hide_ctx)
{
	ErrorData *e = current();

	if (e != NULL)
		e->hide_ctx = hide_ctx;
	return 0;
}

int
errposition(int cursorpos)
{
	ErrorData *e = current();

	if (e != NULL)
		e->cursorpos = cursorpos;
	return 0;
}

int
geterrcode(void)
{
	ErrorData *e = current();

	return e == NULL ? 0 : e->sqlerrcode;
}

char *
unpack_sql_state(int sql_state)
{
	static char buf[12];
	int i;

	for (i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(sql_state);
		sql_state >>= 6;
	}
	buf[i] = '\0';
	return buf;
}

/* Hands the current report to the Rust side: logged (and, at its level, the process ends), then popped. */
static void
emit_and_pop(void)
{
	ErrorData *e = current();
	char state[6];

	if (e == NULL)
		return;
	memcpy(state, unpack_sql_state(e->sqlerrcode), 6);
	bgw_report_finish(e->elevel, state, e->message ? e->message : "", e->detail ? e->detail : e->detail_log,
					  e->hint, e->hide_ctx ? NULL : e->context);
	free_strings(e);
	errordata_depth--;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	ErrorData *e = current();
	ErrorContextCallback *cb;

	if (e == NULL)
		return;
	e->filename = filename;
	e->lineno = lineno;
	e->funcname = funcname;
	/* Context callbacks add their lines; they run with the report still current. */
	for (cb = error_context_stack; cb != NULL; cb = cb->previous)
		cb->callback(cb->arg);
	recursion_depth--;
	if (e->elevel == ERROR && PG_exception_stack != NULL)
	{
		/* Caught: the error stays current for PG_CATCH (CopyErrorData, FlushErrorState, PG_RE_THROW). */
		recursion_depth = 0;
		siglongjmp(*PG_exception_stack, 1);
	}
	emit_and_pop();
}

void
pg_re_throw(void)
{
	ErrorData *e = current();

	if (PG_exception_stack != NULL)
		siglongjmp(*PG_exception_stack, 1);
	/* No handler left: the error reaches the top level, which logs it and ends the process. */
	if (e == NULL)
		bgw_report_finish(FATAL, "XX000", "pg_re_throw tried to return", NULL, NULL, NULL);
	emit_and_pop();
	abort();
}

static char *
pstrdup_or_null(const char *s)
{
	return s == NULL ? NULL : pstrdup(s);
}

ErrorData *
CopyErrorData(void)
{
	ErrorData *e = current();
	ErrorData *copy;

	if (e == NULL)
	{
		/* As PostgreSQL's assertion: there is no current error outside PG_CATCH. */
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("CopyErrorData called with no current error")));
	}
	copy = palloc(sizeof(ErrorData));
	memcpy(copy, e, sizeof(ErrorData));
	copy->message = pstrdup_or_null(e->message);
	copy->detail = pstrdup_or_null(e->detail);
	copy->detail_log = pstrdup_or_null(e->detail_log);
	copy->hint = pstrdup_or_null(e->hint);
	copy->context = pstrdup_or_null(e->context);
	copy->assoc_context = CurrentMemoryContext;
	return copy;
}

void
FreeErrorData(ErrorData *edata)
{
	if (edata == NULL)
		return;
	if (edata->message)
		pfree(edata->message);
	if (edata->detail)
		pfree(edata->detail);
	if (edata->detail_log)
		pfree(edata->detail_log);
	if (edata->hint)
		pfree(edata->hint);
	if (edata->context)
		pfree(edata->context);
	pfree(edata);
}

void
FlushErrorState(void)
{
	while (errordata_depth >= 0)
	{
		free_strings(&errordata[errordata_depth]);
		errordata_depth--;
	}
	recursion_depth = 0;
	MemoryContextReset(ErrorContext);
}

/* Logs the current error (as an ERROR caught and reported, without ending the process). */
void
EmitErrorReport(void)
{
	ErrorData *e = current();
	char state[6];

	if (e == NULL)
		return;
	memcpy(state, unpack_sql_state(e->sqlerrcode), 6);
	bgw_report_log(e->elevel, state, e->message ? e->message : "", e->detail, e->hint,
					  e->hide_ctx ? NULL : e->context);
}

static char *
strdup_or_null(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

/* Makes edata the current error again and throws it (or reports it, below ERROR). */
void
ThrowErrorData(ErrorData *edata)
{
	ErrorData *e;

	if (!errstart(edata->elevel, edata->domain))
		return;
	e = current();
	e->sqlerrcode = edata->sqlerrcode;
	e->message = strdup_or_null(edata->message);
	e->detail = strdup_or_null(edata->detail);
	e->detail_log = strdup_or_null(edata->detail_log);
	e->hint = strdup_or_null(edata->hint);
	e->context = strdup_or_null(edata->context);
	e->cursorpos = edata->cursorpos;
	errfinish(edata->filename, edata->lineno, edata->funcname);
}

void
ReThrowError(ErrorData *edata)
{
	ErrorData copy = *edata;

	copy.elevel = ERROR;
	ThrowErrorData(&copy);
	abort();
}

/* ---------- for the Rust side ---------- */

/* Makes an error raised by the host (not through ereport) the current one; the caller then calls errfinish,
 * which jumps to the innermost handler. Called only when PG_exception_stack is set. */
void
bgw_prepare_error(const char *sqlstate, const char *message, const char *detail, const char *hint)
{
	ErrorData *e;

	errstart(ERROR, NULL);
	e = current();
	if (sqlstate != NULL && strlen(sqlstate) == 5)
		e->sqlerrcode = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4]);
	e->message = strdup_or_null(message);
	e->detail = strdup_or_null(detail);
	e->hint = strdup_or_null(hint);
}

/* Whether a handler (a module's PG_TRY or the host's trap) would catch an ERROR now. */
int
bgw_error_handler_active(void)
{
	return PG_exception_stack != NULL;
}

/* The current error's fields for the host's trap, which reports it to the client (pointers valid until
 * FlushErrorState). Returns false when there is none. */
bool
bgw_current_error(const char **sqlstate, const char **message, const char **detail, const char **hint,
				  const char **context)
{
	static char state[6];
	ErrorData *e = current();

	if (e == NULL)
		return false;
	memcpy(state, unpack_sql_state(e->sqlerrcode), 6);
	*sqlstate = state;
	*message = e->message ? e->message : "";
	*detail = e->detail;
	*hint = e->hint;
	*context = e->hide_ctx ? NULL : e->context;
	return true;
}

/* ---------- assertions and stderr ---------- */

void
ExceptionalCondition(const char *conditionName, const char *errorType, const char *fileName, int lineNumber)
{
	fprintf(stderr, "TRAP: %s(\"%s\", File: \"%s\", Line: %d, PID: %d)\n", errorType ? errorType : "?",
			conditionName ? conditionName : "?", fileName ? fileName : "?", lineNumber, (int) getpid());
	fflush(stderr);
	abort();
}

void
write_stderr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}
