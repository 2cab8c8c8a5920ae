/*
 * executor/spi.h: SQL from a connected worker (the Server Programming Interface).
 *
 * PostgreSQL's names and codes. Today results and parameters cross as text (SPI_processed, and the text
 * accessors bgw_spi_* of bgw/bgw.h); the datum-level API (SPI_tuptable, SPI_getbinval, SPI_getvalue, prepared
 * plans, ...) is declared below and marked BGW_NOT_IMPLEMENTED: a source calling it compiles with a warning
 * naming it, and the module then fails to load with the loader naming the missing symbol.
 *
 * The SQL is the connected database's: PostgreSQL's SQL translated for an embedded database, or the server's on
 * a postgresql-engine database. Errors are return codes, never a jump: where PostgreSQL would raise an ERROR (a
 * syntax error, a constraint violation, a write with read_only = true) SPI_execute returns
 * BGW_SPI_ERROR_STATEMENT and bgw_spi_error_message() says why. After such a failure inside a transaction the
 * transaction is failed, as in PostgreSQL: further statements are refused until AbortCurrentTransaction
 * (CommitTransactionCommand then rolls back, with a WARNING). SPI_connect returns SPI_ERROR_CONNECT in a process
 * without a database connection; SPI_execute before SPI_connect returns SPI_ERROR_UNCONNECTED. Transaction
 * statements (BEGIN, COMMIT, ...) given to SPI_execute return SPI_ERROR_TRANSACTION. A source string may hold
 * several statements: they run in order and the last one's result is kept. count limits the rows kept (0: all).
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
extern PGDLLIMPORT int SPI_result BGW_NOT_IMPLEMENTED_VAR;

extern int SPI_connect(void);
extern int SPI_finish(void);
extern int SPI_execute(const char *src, bool read_only, long tcount);
extern int SPI_exec(const char *src, long tcount); /* SPI_execute(src, false, tcount) */

/* ---------- the datum-level API: declared, not implemented yet ---------- */

typedef struct HeapTupleData *HeapTuple;
typedef struct TupleDescData *TupleDesc;
typedef struct _SPI_plan *SPIPlanPtr;

typedef struct SPITupleTable
{
	TupleDesc tupdesc; /* the result's columns */
	HeapTuple *vals;   /* the rows */
	uint64 numvals;    /* how many rows */
	uint64 alloced;
	MemoryContext tuptabcxt;
} SPITupleTable;

extern PGDLLIMPORT SPITupleTable *SPI_tuptable BGW_NOT_IMPLEMENTED_VAR;
extern Datum SPI_getbinval(HeapTuple tuple, TupleDesc tupdesc, int fnumber, bool *isnull) BGW_NOT_IMPLEMENTED;
extern char *SPI_getvalue(HeapTuple tuple, TupleDesc tupdesc, int fnumber) BGW_NOT_IMPLEMENTED;
extern char *SPI_fname(TupleDesc tupdesc, int fnumber) BGW_NOT_IMPLEMENTED;
extern int SPI_fnumber(TupleDesc tupdesc, const char *fname) BGW_NOT_IMPLEMENTED;
extern char *SPI_gettype(TupleDesc tupdesc, int fnumber) BGW_NOT_IMPLEMENTED;
extern Oid SPI_gettypeid(TupleDesc tupdesc, int fnumber) BGW_NOT_IMPLEMENTED;
extern int SPI_execute_with_args(const char *src, int nargs, Oid *argtypes, Datum *Values, const char *Nulls,
								 bool read_only, long tcount) BGW_NOT_IMPLEMENTED;
extern SPIPlanPtr SPI_prepare(const char *src, int nargs, Oid *argtypes) BGW_NOT_IMPLEMENTED;
extern int SPI_execute_plan(SPIPlanPtr plan, Datum *Values, const char *Nulls, bool read_only,
							long tcount) BGW_NOT_IMPLEMENTED;
extern int SPI_keepplan(SPIPlanPtr plan) BGW_NOT_IMPLEMENTED;
extern int SPI_freeplan(SPIPlanPtr plan) BGW_NOT_IMPLEMENTED;
extern void SPI_freetuptable(SPITupleTable *tuptable) BGW_NOT_IMPLEMENTED;
extern void *SPI_palloc(Size size) BGW_NOT_IMPLEMENTED;
extern const char *SPI_result_code_string(int code) BGW_NOT_IMPLEMENTED;

#ifdef __cplusplus
}
#endif

#endif /* BGW_EXECUTOR_SPI_H */
