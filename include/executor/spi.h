/*
 * executor/spi.h: SQL from a connected worker (the Server Programming Interface), with PostgreSQL's names,
 * types and semantics.
 *
 * The SQL is the connected database's: SQLite's on an embedded database, the server's on a postgresql-engine
 * database. As in PostgreSQL, SPI_execute, SPI_exec, SPI_execute_with_args and SPI_execute_plan RAISE an ERROR
 * for a statement that fails (a syntax error, a constraint violation, a write with read_only = true, a statement
 * in a failed transaction, a missing parameter: SQLSTATE 42P02), with the statement's SQLSTATE and message: catch
 * it with PG_TRY (then AbortCurrentTransaction: the transaction is failed), or the background worker ends with
 * exit code 1 after logging it. They return SPI_ERROR_UNCONNECTED before SPI_connect, SPI_ERROR_ARGUMENT for a
 * NULL command or a negative count, SPI_ERROR_PARAM for missing argument arrays and SPI_ERROR_TRANSACTION for
 * transaction statements (BEGIN, COMMIT, ...). bgw's own bgw_spi_execute / bgw_spi_execute_params (bgw/bgw.h)
 * return every failure as a code instead. A source string may hold several statements: they run in order and the
 * last one's result is kept; tcount limits the rows kept (0: all).
 *
 * Results: SPI_processed, and for a statement that returns rows SPI_tuptable (else NULL): tupdesc (natts and
 * the attributes' attname, atttypid, attlen, attbyval), vals (numvals rows) for SPI_getbinval, SPI_getvalue, ...
 * Datums of bool, int2, int4, int8, float4, float8, oid, "char", date, time, timestamp, timestamptz (by value,
 * PostgreSQL's representation), text, varchar, bpchar, bytea (varlena) and name (NameData); SPI_getbinval of any other type
 * (numeric, json, arrays, interval, ...) raises ERROR 0A000 naming it: read it with SPI_getvalue (text in
 * PostgreSQL's output format). Arguments of SPI_execute_with_args / SPI_execute_plan take the same types. On an
 * embedded database a column's type is its declared type, or for an expression the storage class of its first
 * non-NULL value (integer int8, real float8, text text, blob bytea).
 *
 * Memory as in PostgreSQL: SPI_connect makes a context current that SPI_finish deletes (palloc'd results such as
 * SPI_getvalue's live there; SPI_palloc allocates in the context current before SPI_connect); each SPI_tuptable
 * lives until SPI_freetuptable or SPI_finish. A connection made inside a transaction ends with it (a WARNING if
 * it was left open at commit); one made outside a transaction (bgw allows it) lives on until SPI_finish.
 * SPI_prepare checks every statement at once (a syntax error or a missing table raises its ERROR there, as
 * PostgreSQL's parse analysis does) and keeps the text and argument types; SPI_execute_plan runs it as
 * SPI_execute_with_args does. SPI_keepplan keeps a plan past SPI_finish. Not implemented: cursors,
 * SPI_execute_plan_with_paramlist.
 */
#ifndef BGW_EXECUTOR_SPI_H
#define BGW_EXECUTOR_SPI_H

#include "postgres.h"
#include "access/xact.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPI_ERROR_CONNECT (-1)
#define SPI_ERROR_COPY (-2)
#define SPI_ERROR_OPUNKNOWN (-3)
#define SPI_ERROR_UNCONNECTED (-4)
#define SPI_ERROR_ARGUMENT (-6)
#define SPI_ERROR_PARAM (-7)
#define SPI_ERROR_TRANSACTION (-8)
#define SPI_ERROR_NOATTRIBUTE (-9)
#define SPI_ERROR_NOOUTFUNC (-10)
#define SPI_ERROR_TYPUNKNOWN (-11)
#define SPI_ERROR_REL_DUPLICATE (-12)
#define SPI_ERROR_REL_NOT_FOUND (-13)

#define SPI_OK_CONNECT 1
#define SPI_OK_FINISH 2
#define SPI_OK_FETCH 3
#define SPI_OK_UTILITY 4
#define SPI_OK_SELECT 5
#define SPI_OK_SELINTO 6
#define SPI_OK_INSERT 7
#define SPI_OK_DELETE 8
#define SPI_OK_UPDATE 9
#define SPI_OK_CURSOR 10
#define SPI_OK_INSERT_RETURNING 11
#define SPI_OK_DELETE_RETURNING 12
#define SPI_OK_UPDATE_RETURNING 13
#define SPI_OK_REWRITTEN 14
#define SPI_OK_REL_REGISTER 15
#define SPI_OK_REL_UNREGISTER 16
#define SPI_OK_TD_REGISTER 17
#define SPI_OK_MERGE 18

/* Rows returned (SELECT, ... RETURNING) or affected (INSERT, UPDATE, DELETE) by the last statement. */
extern PGDLLIMPORT uint64 SPI_processed;
/* Set by the calls that return a pointer or an OID (SPI_fname, SPI_getbinval, ...): 0 or SPI_ERROR_NOATTRIBUTE. */
extern PGDLLIMPORT int SPI_result;

extern int SPI_connect(void);
extern int SPI_finish(void);
extern int SPI_execute(const char *src, bool read_only, long tcount);
extern int SPI_exec(const char *src, long tcount); /* SPI_execute(src, false, tcount) */

/* A result's columns: PostgreSQL's attribute fields that extensions read (not its full catalog row). */
typedef struct FormData_pg_attribute
{
	Oid attrelid;
	NameData attname;
	Oid atttypid;
	int16 attlen;
	int16 attnum;
	int32 atttypmod;
	bool attbyval;
	char attalign;
	bool attnotnull;
	bool attisdropped;
} FormData_pg_attribute;
typedef FormData_pg_attribute *Form_pg_attribute;

typedef struct TupleDescData
{
	int natts;
	Oid tdtypeid;
	int32 tdtypmod;
	int tdrefcount;
	void *constr;
	FormData_pg_attribute attrs[FLEXIBLE_ARRAY_MEMBER];
} TupleDescData;
typedef struct TupleDescData *TupleDesc;
#define TupleDescAttr(tupdesc, i) (&(tupdesc)->attrs[(i)])

/* A row of a result: opaque (read it with SPI_getbinval / SPI_getvalue). */
typedef struct HeapTupleData *HeapTuple;
typedef struct _SPI_plan *SPIPlanPtr;

typedef struct SPITupleTable
{
	TupleDesc tupdesc; /* the result's columns */
	HeapTuple *vals;   /* the rows */
	uint64 numvals;    /* how many rows */
	uint64 alloced;
	MemoryContext tuptabcxt;
} SPITupleTable;

extern PGDLLIMPORT SPITupleTable *SPI_tuptable;
extern Datum SPI_getbinval(HeapTuple tuple, TupleDesc tupdesc, int fnumber, bool *isnull);
extern char *SPI_getvalue(HeapTuple tuple, TupleDesc tupdesc, int fnumber);
extern char *SPI_fname(TupleDesc tupdesc, int fnumber);
extern int SPI_fnumber(TupleDesc tupdesc, const char *fname);
extern char *SPI_gettype(TupleDesc tupdesc, int fnumber);
extern Oid SPI_gettypeid(TupleDesc tupdesc, int fnumber);
extern int SPI_execute_with_args(const char *src, int nargs, Oid *argtypes, Datum *Values, const char *Nulls,
								 bool read_only, long tcount);
extern SPIPlanPtr SPI_prepare(const char *src, int nargs, Oid *argtypes);
extern int SPI_execute_plan(SPIPlanPtr plan, Datum *Values, const char *Nulls, bool read_only, long tcount);
extern int SPI_execp(SPIPlanPtr plan, Datum *Values, const char *Nulls, long tcount);
extern int SPI_keepplan(SPIPlanPtr plan);
extern SPIPlanPtr SPI_saveplan(SPIPlanPtr plan);
extern int SPI_freeplan(SPIPlanPtr plan);
extern int SPI_getargcount(SPIPlanPtr plan);
extern Oid SPI_getargtypeid(SPIPlanPtr plan, int argIndex);
extern void SPI_freetuptable(SPITupleTable *tuptable);
extern void *SPI_palloc(Size size);
extern void *SPI_repalloc(void *pointer, Size size);
extern void SPI_pfree(void *pointer);
extern const char *SPI_result_code_string(int code);

/* Cursors: declared, not implemented (a module calling them compiles with a warning and fails to load). */
typedef struct PortalData *Portal;
extern Portal SPI_cursor_open(const char *name, SPIPlanPtr plan, Datum *Values, const char *Nulls,
							  bool read_only) BGW_NOT_IMPLEMENTED;
extern Portal SPI_cursor_find(const char *name) BGW_NOT_IMPLEMENTED;
extern void SPI_cursor_fetch(Portal portal, bool forward, long count) BGW_NOT_IMPLEMENTED;
extern void SPI_cursor_move(Portal portal, bool forward, long count) BGW_NOT_IMPLEMENTED;
extern void SPI_cursor_close(Portal portal) BGW_NOT_IMPLEMENTED;

#ifdef __cplusplus
}
#endif

#endif /* BGW_EXECUTOR_SPI_H */
