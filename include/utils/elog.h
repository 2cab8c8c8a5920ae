/*
 * utils/elog.h: reporting messages and errors, and catching errors (PG_TRY).
 *
 * ereport(level, errcode(...), errmsg(...), errdetail(...), errhint(...)) and elog(level, fmt, ...) as in
 * PostgreSQL 15 (the arguments may also be wrapped in one more pair of parentheses, the older style). The message
 * functions format with printf (so %m is strerror(errno)). Below ERROR a report is logged (at or above
 * log_min_messages) and the caller goes on.
 *
 * ERROR jumps to the innermost PG_TRY (sigsetjmp/siglongjmp, as PostgreSQL's); with none: inside a module's SQL
 * function the statement fails with the error's SQLSTATE and message and the session goes on; in a worker the
 * error is logged and the worker exits with code 1 (PostgreSQL's background workers do the same: their error
 * ends them); in the postmaster while shared_preload_libraries load, start-up stops. FATAL logs and exits with
 * code 1 (exit callbacks run), PANIC aborts (a crash: the postmaster's crash-and-restart cycle). In PG_CATCH,
 * CopyErrorData returns the error (allocated in CurrentMemoryContext), FlushErrorState forgets it,
 * EmitErrorReport logs it, PG_RE_THROW passes it on. Only C frames may lie between a PG_TRY and the ereport that
 * jumps to it (the host's own frames are arranged so).
 *
 * Implemented by the bgw executable (crates/bgw/src/modules/pg_elog.c and modules/abi.rs).
 */
#ifndef BGW_UTILS_ELOG_H
#define BGW_UTILS_ELOG_H

#include "c.h"
#include "utils/errcodes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Message levels (PostgreSQL 15's values). */
#define DEBUG5 10
#define DEBUG4 11
#define DEBUG3 12
#define DEBUG2 13
#define DEBUG1 14
#define LOG 15
#define LOG_SERVER_ONLY 16
#define COMMERROR LOG_SERVER_ONLY
#define INFO 17
#define NOTICE 18
#define WARNING 19
#define ERROR 21
#define FATAL 22
#define PANIC 23

#define TEXTDOMAIN NULL

/* Starts a report; false when it would go nowhere (the caller then skips the message functions). */
extern bool errstart(int elevel, const char *domain);
/* Ends it: logs it and, for ERROR and above, does not return. */
extern void errfinish(const char *filename, int lineno, const char *funcname);

#define ereport_domain(elevel, domain, ...) \
	do { \
		const int elevel_ = (elevel); \
		if (errstart(elevel_, domain)) \
		{ \
			__VA_ARGS__; \
			errfinish(__FILE__, __LINE__, __func__); \
		} \
		if (elevel_ >= ERROR) \
			pg_unreachable(); \
	} while (0)

#define ereport(elevel, ...) ereport_domain(elevel, TEXTDOMAIN, __VA_ARGS__)

#define elog(elevel, ...) ereport(elevel, errmsg_internal(__VA_ARGS__))

extern int errcode(int sqlerrcode);
extern int errcode_for_file_access(void);
extern int errcode_for_socket_access(void);
extern int errmsg(const char *fmt, ...) pg_attribute_printf(1, 2);
extern int errmsg_internal(const char *fmt, ...) pg_attribute_printf(1, 2);
extern int errmsg_plural(const char *fmt_singular, const char *fmt_plural, unsigned long n, ...)
	pg_attribute_printf(1, 4) pg_attribute_printf(2, 4);
extern int errdetail(const char *fmt, ...) pg_attribute_printf(1, 2);
extern int errdetail_internal(const char *fmt, ...) pg_attribute_printf(1, 2);
extern int errdetail_log(const char *fmt, ...) pg_attribute_printf(1, 2);
extern int errdetail_plural(const char *fmt_singular, const char *fmt_plural, unsigned long n, ...)
	pg_attribute_printf(1, 4) pg_attribute_printf(2, 4);
extern int errhint(const char *fmt, ...) pg_attribute_printf(1, 2);
extern int errcontext_msg(const char *fmt, ...) pg_attribute_printf(1, 2);
#define errcontext errcontext_msg
/* Accepted and ignored (bgw does not vary what is shown by destination). */
extern int errhidestmt(bool hide_stmt);
extern int errhidecontext(bool hide_ctx);
extern int errposition(int cursorpos);
extern int geterrcode(void);

/* Context callbacks: each report calls them, innermost first, to add errcontext lines. */
typedef struct ErrorContextCallback
{
	struct ErrorContextCallback *previous;
	void (*callback)(void *arg);
	void *arg;
} ErrorContextCallback;

extern PGDLLIMPORT ErrorContextCallback *error_context_stack;
extern PGDLLIMPORT sigjmp_buf *PG_exception_stack;

#define PG_TRY(...) \
	do { \
		sigjmp_buf *bgw_saved_exception_stack = PG_exception_stack; \
		ErrorContextCallback *bgw_saved_context_stack = error_context_stack; \
		sigjmp_buf bgw_local_sigjmp_buf; \
		bool bgw_do_rethrow = false; \
		if (sigsetjmp(bgw_local_sigjmp_buf, 0) == 0) \
		{ \
			PG_exception_stack = &bgw_local_sigjmp_buf

#define PG_CATCH(...) \
		} \
		else \
		{ \
			PG_exception_stack = bgw_saved_exception_stack; \
			error_context_stack = bgw_saved_context_stack

#define PG_FINALLY(...) \
		} \
		else \
			bgw_do_rethrow = true; \
		{ \
			PG_exception_stack = bgw_saved_exception_stack; \
			error_context_stack = bgw_saved_context_stack

#define PG_END_TRY(...) \
		} \
		if (bgw_do_rethrow) \
			PG_RE_THROW(); \
		PG_exception_stack = bgw_saved_exception_stack; \
		error_context_stack = bgw_saved_context_stack; \
	} while (0)

#define PG_RE_THROW() pg_re_throw()

extern void pg_re_throw(void) pg_attribute_noreturn();

typedef struct ErrorData
{
	int elevel;
	bool output_to_server;
	bool output_to_client;
	bool hide_stmt;
	bool hide_ctx;
	const char *filename;
	int lineno;
	const char *funcname;
	const char *domain;
	const char *context_domain;
	int sqlerrcode;
	char *message;
	char *detail;
	char *detail_log;
	char *hint;
	char *context;
	char *backtrace;
	const char *message_id;
	char *schema_name;
	char *table_name;
	char *column_name;
	char *datatype_name;
	char *constraint_name;
	int cursorpos;
	int internalpos;
	char *internalquery;
	int saved_errno;
	struct MemoryContextData *assoc_context;
} ErrorData;

extern ErrorData *CopyErrorData(void);
extern void FreeErrorData(ErrorData *edata);
extern void FlushErrorState(void);
extern void EmitErrorReport(void);
extern void ReThrowError(ErrorData *edata) pg_attribute_noreturn();
extern void ThrowErrorData(ErrorData *edata);
/* The SQLSTATE text ("22012") of a code made by MAKE_SQLSTATE, in a static buffer. */
extern char *unpack_sql_state(int sql_state);
extern bool message_level_is_interesting(int elevel);
extern bool in_error_recursion_trouble(void);

/* Log lines written with write_stderr go straight to the server's stderr (the log). */
extern void write_stderr(const char *fmt, ...) pg_attribute_printf(1, 2);

#ifdef __cplusplus
}
#endif

#endif /* BGW_UTILS_ELOG_H */
