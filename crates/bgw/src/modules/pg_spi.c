/*
 * SPI with PostgreSQL's names and semantics (executor/spi.h): connections and their memory, statements that
 * RAISE an ERROR when they fail, SPI_tuptable with datums, prepared plans.
 *
 * Compiled into the host by build.rs. The statements run on the Rust side (modules/spi_abi.rs, bgw_spi_x_*),
 * which returns a code and never jumps; an ERROR is raised here, in C, so that its jump to the module's PG_TRY
 * (or to the end of the worker, when there is none) crosses only C frames.
 *
 * Every ERROR raised here fails the open transaction first (as any ERROR does in PostgreSQL): after a PG_CATCH,
 * further statements are refused with 25P02 until AbortCurrentTransaction.
 *
 * Memory: every SPI_connect pushes a frame with its own context ("SPI Proc"), current until SPI_finish pops the
 * frame, restores the context current before and deletes the frame's context. Each result with rows becomes
 * an SPITupleTable in a child context of the frame's ("SPI TupTable"): a HeapTuple is a row of cells (the
 * datum, whether it is NULL, its text in PostgreSQL's output format, or why it has no datum), copied from the
 * Rust side at once. A frame opened inside a transaction ends with the transaction (bgw_spi_at_transaction_end),
 * as PostgreSQL's AtEOXact_SPI ends it.
 *
 * Runs in: a background worker (in other processes SPI_connect returns SPI_ERROR_CONNECT).
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/memutils.h"

#define BGW_SPI_ERROR_STATEMENT (-100)

/* The Rust side (modules/spi_abi.rs); the structs match its #[repr(C)] ones. */
typedef struct BgwSpiArg
{
	Oid typid;
	bool isnull;
	int64 word;
	const char *data;
	size_t len;
} BgwSpiArg;

typedef struct BgwSpiCell
{
	int kind; /* 0 NULL, 1 by value, 2 by reference, 3 a type without datums, 4 invalid */
	int64 word;
	const char *data;
	size_t len;
	const char *text;
	const char *sqlstate; /* 5 characters, not NUL-terminated */
	const char *message;
} BgwSpiCell;

extern int bgw_spi_x_connect(bool *in_transaction);
extern int bgw_spi_x_finish(void);
extern int bgw_spi_x_execute(const char *src, int nargs, const BgwSpiArg *args, bool with_args, bool read_only,
							 long count);
extern int bgw_spi_x_prepare(const char *src);
extern void bgw_spi_x_error(const char **sqlstate, const char **message);
extern bool bgw_spi_x_shape(int *ncols, uint64 *nrows);
extern bool bgw_spi_x_column(int col, const char **name, Oid *typid, int16 *typlen, bool *byval);
extern bool bgw_spi_x_cell(uint64 row, int col, BgwSpiCell *cell);
extern bool bgw_spi_x_type_name(Oid typid, bool sql, char *buf, size_t len);
extern void bgw_spi_x_fail_transaction(void);

SPITupleTable *SPI_tuptable = NULL;
int SPI_result = 0;

/* A value of a row. */
typedef struct SpiValue
{
	Datum value;
	bool isnull;
	char kind; /* as BgwSpiCell's */
	char *text;
	char sqlstate[6];
	char *message;
} SpiValue;

struct HeapTupleData
{
	int natts;
	SpiValue values[FLEXIBLE_ARRAY_MEMBER];
};

struct _SPI_plan
{
	char *src;
	int nargs;
	Oid *argtypes;
	MemoryContext context; /* the plan's own, a child of the frame's until SPI_keepplan */
};

typedef struct SpiFrame
{
	MemoryContext proc;	 /* "SPI Proc": current while connected */
	MemoryContext saved; /* current before SPI_connect */
	bool in_transaction; /* connected inside a transaction: ends with it */
} SpiFrame;

static SpiFrame *frames = NULL;
static int nframes = 0;
static int frames_alloced = 0;

/* ---------- connections ---------- */

int
SPI_connect(void)
{
	bool in_transaction = false;
	int rc = bgw_spi_x_connect(&in_transaction);
	SpiFrame *f;

	SPI_tuptable = NULL;
	SPI_result = 0;
	if (rc != SPI_OK_CONNECT)
		return rc;
	if (nframes == frames_alloced)
	{
		int n = frames_alloced ? frames_alloced * 2 : 4;
		SpiFrame *grown = realloc(frames, sizeof(SpiFrame) * n);

		if (grown == NULL)
		{
			bgw_spi_x_finish();
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		}
		frames = grown;
		frames_alloced = n;
	}
	f = &frames[nframes++];
	f->saved = CurrentMemoryContext;
	f->in_transaction = in_transaction;
	f->proc = AllocSetContextCreate(TopMemoryContext, "SPI Proc", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(f->proc);
	return rc;
}

/* Pops the innermost frame: its context is deleted, the one current before SPI_connect is current again. */
static void
pop_frame(void)
{
	SpiFrame *f = &frames[--nframes];

	MemoryContextSwitchTo(f->saved);
	MemoryContextDelete(f->proc);
}

int
SPI_finish(void)
{
	int rc = bgw_spi_x_finish();

	SPI_tuptable = NULL;
	if (rc == SPI_OK_FINISH && nframes > 0)
		pop_frame();
	return rc;
}

/* The end of a transaction (called by the host's CommitTransactionCommand and AbortCurrentTransaction, before
 * the transaction's memory is freed): the connections made inside it end, as PostgreSQL's AtEOXact_SPI ends
 * them; a commit with one still open warns, as PostgreSQL does. */
void
bgw_spi_at_transaction_end(bool commit)
{
	bool left = false;

	while (nframes > 0 && frames[nframes - 1].in_transaction)
	{
		bgw_spi_x_finish();
		pop_frame();
		left = true;
	}
	if (left)
		SPI_tuptable = NULL;
	if (left && commit)
		ereport(WARNING, (errcode(ERRCODE_WARNING), errmsg("transaction left non-empty SPI stack"),
						  errhint("Check for missing \"SPI_finish\" calls.")));
}

/* ---------- statements ---------- */

static void
raise_statement_error(void)
{
	const char *sqlstate = NULL;
	const char *message = NULL;
	int code = ERRCODE_INTERNAL_ERROR;

	bgw_spi_x_error(&sqlstate, &message);
	bgw_spi_x_fail_transaction();
	if (sqlstate != NULL && strlen(sqlstate) == 5)
		code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4]);
	ereport(ERROR, (errcode(code), errmsg_internal("%s", message ? message : "SPI statement failed")));
}

/* The result of the last statement as an SPITupleTable, or NULL if it returned no rows. */
static SPITupleTable *
build_tuptable(void)
{
	int ncols = 0;
	uint64 nrows = 0;
	MemoryContext parent = nframes > 0 ? frames[nframes - 1].proc : CurrentMemoryContext;
	MemoryContext cxt;
	MemoryContext old;
	SPITupleTable *t;
	TupleDesc d;

	if (!bgw_spi_x_shape(&ncols, &nrows))
		return NULL;
	cxt = AllocSetContextCreate(parent, "SPI TupTable", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	t = palloc0(sizeof(SPITupleTable));
	t->tuptabcxt = cxt;
	d = palloc0(offsetof(TupleDescData, attrs) + sizeof(FormData_pg_attribute) * (ncols > 0 ? ncols : 1));
	d->natts = ncols;
	d->tdtypeid = RECORDOID;
	d->tdtypmod = -1;
	for (int i = 0; i < ncols; i++)
	{
		Form_pg_attribute a = TupleDescAttr(d, i);
		const char *name = "";

		bgw_spi_x_column(i, &name, &a->atttypid, &a->attlen, &a->attbyval);
		strncpy(NameStr(a->attname), name, NAMEDATALEN - 1);
		a->attnum = (int16) (i + 1);
		a->atttypmod = -1;
		a->attalign = a->attbyval ? 'd' : 'i';
	}
	t->tupdesc = d;
	t->vals = palloc(sizeof(HeapTuple) * (nrows > 0 ? nrows : 1));
	t->numvals = nrows;
	t->alloced = nrows;
	for (uint64 r = 0; r < nrows; r++)
	{
		HeapTuple tup = palloc0(offsetof(struct HeapTupleData, values) + sizeof(SpiValue) * (ncols > 0 ? ncols : 1));

		tup->natts = ncols;
		for (int i = 0; i < ncols; i++)
		{
			SpiValue *v = &tup->values[i];
			BgwSpiCell c;

			memset(&c, 0, sizeof(c));
			bgw_spi_x_cell(r, i, &c);
			v->kind = (char) c.kind;
			v->isnull = c.kind == 0;
			if (c.text != NULL)
				v->text = pstrdup(c.text);
			if (c.kind == 1)
				v->value = (Datum) c.word;
			else if (c.kind == 2)
			{
				char *p = palloc(c.len > 0 ? c.len : 1);

				memcpy(p, c.data, c.len);
				v->value = PointerGetDatum(p);
			}
			else if (c.kind == 4)
			{
				memcpy(v->sqlstate, c.sqlstate, 5);
				v->message = pstrdup(c.message ? c.message : "invalid value");
			}
		}
		t->vals[r] = tup;
	}
	MemoryContextSwitchTo(old);
	return t;
}

/* Whether a datum of type typid is a varlena (text, varchar, bpchar, bytea) or a NameData. */
static bool
is_varlena(Oid typid)
{
	return typid == TEXTOID || typid == 1043 || typid == 1042 || typid == 17;
}

static int
execute(const char *src, int nargs, const Oid *argtypes, const Datum *values, const char *nulls, bool with_args,
		bool read_only, long tcount)
{
	BgwSpiArg *args = NULL;
	int rc;

	SPI_tuptable = NULL;
	SPI_result = 0;
	if (with_args && nargs > 0)
	{
		args = palloc0(sizeof(BgwSpiArg) * nargs);
		for (int i = 0; i < nargs; i++)
		{
			args[i].typid = argtypes[i];
			args[i].isnull = nulls != NULL && nulls[i] == 'n';
			if (args[i].isnull)
				continue;
			if (is_varlena(argtypes[i]))
			{
				const struct varlena *v = (const struct varlena *) DatumGetPointer(values[i]);

				args[i].data = v ? VARDATA_ANY(v) : NULL;
				args[i].len = v ? VARSIZE_ANY_EXHDR(v) : 0;
			}
			else if (argtypes[i] == 19) /* name */
			{
				const char *n = DatumGetCString(values[i]);

				args[i].data = n;
				args[i].len = n ? strnlen(n, NAMEDATALEN) : 0;
			}
			else
				args[i].word = (int64) values[i];
		}
	}
	rc = bgw_spi_x_execute(src, with_args ? nargs : 0, args, with_args, read_only, tcount);
	if (args != NULL)
		pfree(args);
	if (rc == BGW_SPI_ERROR_STATEMENT || rc == SPI_ERROR_PARAM)
		raise_statement_error();
	if (rc >= 0)
		SPI_tuptable = build_tuptable();
	return rc;
}

int
SPI_execute(const char *src, bool read_only, long tcount)
{
	return execute(src, 0, NULL, NULL, NULL, false, read_only, tcount);
}

int
SPI_exec(const char *src, long tcount)
{
	return execute(src, 0, NULL, NULL, NULL, false, false, tcount);
}

int
SPI_execute_with_args(const char *src, int nargs, Oid *argtypes, Datum *Values, const char *Nulls, bool read_only,
					  long tcount)
{
	if (src == NULL || nargs < 0 || tcount < 0)
		return SPI_ERROR_ARGUMENT;
	if (nargs > 0 && (argtypes == NULL || Values == NULL))
		return SPI_ERROR_PARAM;
	return execute(src, nargs, argtypes, Values, Nulls, true, read_only, tcount);
}

/* ---------- plans ---------- */

SPIPlanPtr
SPI_prepare(const char *src, int nargs, Oid *argtypes)
{
	MemoryContext cxt;
	MemoryContext old;
	SPIPlanPtr plan;
	int rc;

	SPI_result = 0;
	if (src == NULL || nargs < 0 || (nargs > 0 && argtypes == NULL))
	{
		SPI_result = SPI_ERROR_ARGUMENT;
		return NULL;
	}
	if (nframes == 0)
	{
		SPI_result = SPI_ERROR_UNCONNECTED;
		return NULL;
	}
	rc = bgw_spi_x_prepare(src);
	if (rc == BGW_SPI_ERROR_STATEMENT || rc == SPI_ERROR_PARAM)
		raise_statement_error();
	if (rc < 0)
	{
		SPI_result = rc;
		return NULL;
	}
	cxt = AllocSetContextCreate(frames[nframes - 1].proc, "SPI Plan", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	plan = palloc0(sizeof(struct _SPI_plan));
	plan->src = pstrdup(src);
	plan->nargs = nargs;
	plan->argtypes = palloc(sizeof(Oid) * (nargs > 0 ? nargs : 1));
	if (nargs > 0)
		memcpy(plan->argtypes, argtypes, sizeof(Oid) * nargs);
	plan->context = cxt;
	MemoryContextSwitchTo(old);
	return plan;
}

int
SPI_execute_plan(SPIPlanPtr plan, Datum *Values, const char *Nulls, bool read_only, long tcount)
{
	if (plan == NULL || tcount < 0)
		return SPI_ERROR_ARGUMENT;
	if (plan->nargs > 0 && Values == NULL)
		return SPI_ERROR_PARAM;
	return execute(plan->src, plan->nargs, plan->argtypes, Values, Nulls, true, read_only, tcount);
}

int
SPI_execp(SPIPlanPtr plan, Datum *Values, const char *Nulls, long tcount)
{
	return SPI_execute_plan(plan, Values, Nulls, false, tcount);
}

int
SPI_keepplan(SPIPlanPtr plan)
{
	if (plan == NULL)
		return SPI_ERROR_ARGUMENT;
	MemoryContextSetParent(plan->context, CacheMemoryContext);
	return 0;
}

SPIPlanPtr
SPI_saveplan(SPIPlanPtr plan)
{
	SPIPlanPtr copy;

	if (plan == NULL)
	{
		SPI_result = SPI_ERROR_ARGUMENT;
		return NULL;
	}
	copy = SPI_prepare(plan->src, plan->nargs, plan->argtypes);
	if (copy != NULL)
		SPI_keepplan(copy);
	return copy;
}

int
SPI_freeplan(SPIPlanPtr plan)
{
	if (plan == NULL)
		return SPI_ERROR_ARGUMENT;
	MemoryContextDelete(plan->context);
	return 0;
}

int
SPI_getargcount(SPIPlanPtr plan)
{
	if (plan == NULL)
	{
		SPI_result = SPI_ERROR_ARGUMENT;
		return -1;
	}
	return plan->nargs;
}

Oid
SPI_getargtypeid(SPIPlanPtr plan, int argIndex)
{
	if (plan == NULL || argIndex < 0 || argIndex >= plan->nargs)
	{
		SPI_result = SPI_ERROR_ARGUMENT;
		return InvalidOid;
	}
	return plan->argtypes[argIndex];
}

/* ---------- results ---------- */

static bool
valid_column(TupleDesc tupdesc, int fnumber)
{
	if (tupdesc == NULL || fnumber <= 0 || fnumber > tupdesc->natts)
	{
		SPI_result = SPI_ERROR_NOATTRIBUTE;
		return false;
	}
	return true;
}

Datum
SPI_getbinval(HeapTuple tuple, TupleDesc tupdesc, int fnumber, bool *isnull)
{
	SpiValue *v;

	SPI_result = 0;
	if (tuple == NULL || !valid_column(tupdesc, fnumber) || fnumber > tuple->natts)
	{
		SPI_result = SPI_ERROR_NOATTRIBUTE;
		*isnull = true;
		return (Datum) 0;
	}
	v = &tuple->values[fnumber - 1];
	*isnull = v->isnull;
	if (v->kind == 3)
	{
		char name[NAMEDATALEN];
		Oid typid = TupleDescAttr(tupdesc, fnumber - 1)->atttypid;

		if (!bgw_spi_x_type_name(typid, true, name, sizeof(name)))
			snprintf(name, sizeof(name), "with OID %u", typid);
		bgw_spi_x_fail_transaction();
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("SPI_getbinval cannot return a value of type %s as a datum in bgw", name),
						errdetail("Column \"%s\" is of type %s.", NameStr(TupleDescAttr(tupdesc, fnumber - 1)->attname),
								  name),
						errhint("Use SPI_getvalue to read the value as text.")));
	}
	if (v->kind == 4)
	{
		bgw_spi_x_fail_transaction();
		ereport(ERROR, (errcode(MAKE_SQLSTATE(v->sqlstate[0], v->sqlstate[1], v->sqlstate[2], v->sqlstate[3],
											  v->sqlstate[4])),
						errmsg_internal("%s", v->message)));
	}
	return v->isnull ? (Datum) 0 : v->value;
}

char *
SPI_getvalue(HeapTuple tuple, TupleDesc tupdesc, int fnumber)
{
	SpiValue *v;

	SPI_result = 0;
	if (tuple == NULL || !valid_column(tupdesc, fnumber) || fnumber > tuple->natts)
	{
		SPI_result = SPI_ERROR_NOATTRIBUTE;
		return NULL;
	}
	v = &tuple->values[fnumber - 1];
	if (v->isnull || v->text == NULL)
		return NULL;
	return pstrdup(v->text);
}

char *
SPI_fname(TupleDesc tupdesc, int fnumber)
{
	SPI_result = 0;
	if (!valid_column(tupdesc, fnumber))
		return NULL;
	return pstrdup(NameStr(TupleDescAttr(tupdesc, fnumber - 1)->attname));
}

int
SPI_fnumber(TupleDesc tupdesc, const char *fname)
{
	if (tupdesc != NULL && fname != NULL)
	{
		for (int i = 0; i < tupdesc->natts; i++)
		{
			if (strcmp(NameStr(TupleDescAttr(tupdesc, i)->attname), fname) == 0)
				return i + 1;
		}
	}
	return SPI_ERROR_NOATTRIBUTE;
}

char *
SPI_gettype(TupleDesc tupdesc, int fnumber)
{
	char name[NAMEDATALEN];

	SPI_result = 0;
	if (!valid_column(tupdesc, fnumber))
		return NULL;
	if (!bgw_spi_x_type_name(TupleDescAttr(tupdesc, fnumber - 1)->atttypid, false, name, sizeof(name)))
	{
		SPI_result = SPI_ERROR_TYPUNKNOWN;
		return NULL;
	}
	return pstrdup(name);
}

Oid
SPI_gettypeid(TupleDesc tupdesc, int fnumber)
{
	SPI_result = 0;
	if (!valid_column(tupdesc, fnumber))
		return InvalidOid;
	return TupleDescAttr(tupdesc, fnumber - 1)->atttypid;
}

void
SPI_freetuptable(SPITupleTable *tuptable)
{
	if (tuptable == NULL)
		return;
	if (tuptable == SPI_tuptable)
		SPI_tuptable = NULL;
	MemoryContextDelete(tuptable->tuptabcxt);
}

/* ---------- memory ---------- */

void *
SPI_palloc(Size size)
{
	if (nframes == 0)
		elog(ERROR, "SPI_palloc called while not connected to SPI");
	return MemoryContextAlloc(frames[nframes - 1].saved, size);
}

void *
SPI_repalloc(void *pointer, Size size)
{
	return repalloc(pointer, size);
}

void
SPI_pfree(void *pointer)
{
	pfree(pointer);
}

/* ---------- codes ---------- */

const char *
SPI_result_code_string(int code)
{
	static char buf[64];

	switch (code)
	{
		case SPI_ERROR_CONNECT: return "SPI_ERROR_CONNECT";
		case SPI_ERROR_COPY: return "SPI_ERROR_COPY";
		case SPI_ERROR_OPUNKNOWN: return "SPI_ERROR_OPUNKNOWN";
		case SPI_ERROR_UNCONNECTED: return "SPI_ERROR_UNCONNECTED";
		case SPI_ERROR_ARGUMENT: return "SPI_ERROR_ARGUMENT";
		case SPI_ERROR_PARAM: return "SPI_ERROR_PARAM";
		case SPI_ERROR_TRANSACTION: return "SPI_ERROR_TRANSACTION";
		case SPI_ERROR_NOATTRIBUTE: return "SPI_ERROR_NOATTRIBUTE";
		case SPI_ERROR_NOOUTFUNC: return "SPI_ERROR_NOOUTFUNC";
		case SPI_ERROR_TYPUNKNOWN: return "SPI_ERROR_TYPUNKNOWN";
		case SPI_ERROR_REL_DUPLICATE: return "SPI_ERROR_REL_DUPLICATE";
		case SPI_ERROR_REL_NOT_FOUND: return "SPI_ERROR_REL_NOT_FOUND";
		case SPI_OK_CONNECT: return "SPI_OK_CONNECT";
		case SPI_OK_FINISH: return "SPI_OK_FINISH";
		case SPI_OK_FETCH: return "SPI_OK_FETCH";
		case SPI_OK_UTILITY: return "SPI_OK_UTILITY";
		case SPI_OK_SELECT: return "SPI_OK_SELECT";
		case SPI_OK_SELINTO: return "SPI_OK_SELINTO";
		case SPI_OK_INSERT: return "SPI_OK_INSERT";
		case SPI_OK_DELETE: return "SPI_OK_DELETE";
		case SPI_OK_UPDATE: return "SPI_OK_UPDATE";
		case SPI_OK_CURSOR: return "SPI_OK_CURSOR";
		case SPI_OK_INSERT_RETURNING: return "SPI_OK_INSERT_RETURNING";
		case SPI_OK_DELETE_RETURNING: return "SPI_OK_DELETE_RETURNING";
		case SPI_OK_UPDATE_RETURNING: return "SPI_OK_UPDATE_RETURNING";
		case SPI_OK_REWRITTEN: return "SPI_OK_REWRITTEN";
		case SPI_OK_REL_REGISTER: return "SPI_OK_REL_REGISTER";
		case SPI_OK_REL_UNREGISTER: return "SPI_OK_REL_UNREGISTER";
		case SPI_OK_TD_REGISTER: return "SPI_OK_TD_REGISTER";
		case SPI_OK_MERGE: return "SPI_OK_MERGE";
		case BGW_SPI_ERROR_STATEMENT: return "BGW_SPI_ERROR_STATEMENT";
	}
	snprintf(buf, sizeof(buf), "Unrecognized SPI code %d", code);
	return buf;
}
