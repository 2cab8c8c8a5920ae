/*
 * fmgr.h: SQL functions written in C, version-1 calling convention, and the module magic block.
 *
 * A function is `Datum f(PG_FUNCTION_ARGS)` declared with PG_FUNCTION_INFO_V1(f); it reads its arguments with
 * PG_GETARG_* / PG_ARGISNULL and returns with PG_RETURN_*. bgw calls such a function from SQL once it is
 * registered in a database (CREATE FUNCTION ... LANGUAGE C, with CREATE EXTENSION) or defined by the module
 * (bgw/bgw.h). flinfo, context and resultinfo are NULL when bgw calls (no set-returning functions, no triggers).
 */
#ifndef BGW_FMGR_H
#define BGW_FMGR_H

#include "postgres.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Node *fmNodePtr;
typedef struct FunctionCallInfoBaseData *FunctionCallInfo;
typedef Datum (*PGFunction)(FunctionCallInfo fcinfo);

typedef struct FmgrInfo
{
	PGFunction fn_addr;
	Oid fn_oid;
	short fn_nargs;
	bool fn_strict;
	bool fn_retset;
	unsigned char fn_stats;
	void *fn_extra;
	MemoryContext fn_mcxt;
	fmNodePtr fn_expr;
} FmgrInfo;

typedef struct FunctionCallInfoBaseData
{
	FmgrInfo *flinfo;
	fmNodePtr context;
	fmNodePtr resultinfo;
	Oid fncollation;
	bool isnull;
	short nargs;
	NullableDatum args[FLEXIBLE_ARRAY_MEMBER];
} FunctionCallInfoBaseData;

#define SizeForFunctionCallInfo(nargs) \
	(offsetof(FunctionCallInfoBaseData, args) + sizeof(NullableDatum) * (nargs))

#define PG_FUNCTION_ARGS FunctionCallInfo fcinfo

#define PG_NARGS() (fcinfo->nargs)
#define PG_ARGISNULL(n) (fcinfo->args[n].isnull)
#define PG_GETARG_DATUM(n) (fcinfo->args[n].value)
#define PG_GETARG_INT32(n) DatumGetInt32(PG_GETARG_DATUM(n))
#define PG_GETARG_UINT32(n) DatumGetUInt32(PG_GETARG_DATUM(n))
#define PG_GETARG_INT16(n) DatumGetInt16(PG_GETARG_DATUM(n))
#define PG_GETARG_UINT16(n) DatumGetUInt16(PG_GETARG_DATUM(n))
#define PG_GETARG_CHAR(n) DatumGetChar(PG_GETARG_DATUM(n))
#define PG_GETARG_BOOL(n) DatumGetBool(PG_GETARG_DATUM(n))
#define PG_GETARG_OID(n) DatumGetObjectId(PG_GETARG_DATUM(n))
#define PG_GETARG_POINTER(n) DatumGetPointer(PG_GETARG_DATUM(n))
#define PG_GETARG_CSTRING(n) DatumGetCString(PG_GETARG_DATUM(n))
#define PG_GETARG_NAME(n) DatumGetName(PG_GETARG_DATUM(n))
#define PG_GETARG_FLOAT4(n) DatumGetFloat4(PG_GETARG_DATUM(n))
#define PG_GETARG_FLOAT8(n) DatumGetFloat8(PG_GETARG_DATUM(n))
#define PG_GETARG_INT64(n) DatumGetInt64(PG_GETARG_DATUM(n))
#define PG_DETOAST_DATUM(datum) ((struct varlena *) DatumGetPointer(datum))
#define PG_DETOAST_DATUM_COPY(datum) pg_detoast_datum_copy((struct varlena *) DatumGetPointer(datum))
#define PG_DETOAST_DATUM_PACKED(datum) PG_DETOAST_DATUM(datum)
#define PG_GETARG_RAW_VARLENA_P(n) ((struct varlena *) PG_GETARG_POINTER(n))
#define PG_GETARG_VARLENA_P(n) PG_DETOAST_DATUM(PG_GETARG_DATUM(n))
#define PG_GETARG_VARLENA_PP(n) PG_DETOAST_DATUM(PG_GETARG_DATUM(n))
#define DatumGetByteaPP(X) ((bytea *) PG_DETOAST_DATUM(X))
#define DatumGetByteaP(X) ((bytea *) PG_DETOAST_DATUM(X))
#define DatumGetTextPP(X) ((text *) PG_DETOAST_DATUM(X))
#define DatumGetTextP(X) ((text *) PG_DETOAST_DATUM(X))
#define DatumGetVarCharPP(X) ((VarChar *) PG_DETOAST_DATUM(X))
#define DatumGetBpCharPP(X) ((BpChar *) PG_DETOAST_DATUM(X))
#define PG_GETARG_BYTEA_PP(n) DatumGetByteaPP(PG_GETARG_DATUM(n))
#define PG_GETARG_BYTEA_P(n) DatumGetByteaP(PG_GETARG_DATUM(n))
#define PG_GETARG_TEXT_PP(n) DatumGetTextPP(PG_GETARG_DATUM(n))
#define PG_GETARG_TEXT_P(n) DatumGetTextP(PG_GETARG_DATUM(n))
#define PG_GETARG_VARCHAR_PP(n) DatumGetVarCharPP(PG_GETARG_DATUM(n))
#define PG_GETARG_BPCHAR_PP(n) DatumGetBpCharPP(PG_GETARG_DATUM(n))

#define PG_RETURN_NULL() \
	do { \
		fcinfo->isnull = true; \
		return (Datum) 0; \
	} while (0)
#define PG_RETURN_VOID() return (Datum) 0
#define PG_RETURN_DATUM(x) return (x)
#define PG_RETURN_INT32(x) return Int32GetDatum(x)
#define PG_RETURN_UINT32(x) return UInt32GetDatum(x)
#define PG_RETURN_INT16(x) return Int16GetDatum(x)
#define PG_RETURN_UINT16(x) return UInt16GetDatum(x)
#define PG_RETURN_CHAR(x) return CharGetDatum(x)
#define PG_RETURN_BOOL(x) return BoolGetDatum(x)
#define PG_RETURN_OID(x) return ObjectIdGetDatum(x)
#define PG_RETURN_POINTER(x) return PointerGetDatum(x)
#define PG_RETURN_CSTRING(x) return CStringGetDatum(x)
#define PG_RETURN_NAME(x) return NameGetDatum(x)
#define PG_RETURN_FLOAT4(x) return Float4GetDatum(x)
#define PG_RETURN_FLOAT8(x) return Float8GetDatum(x)
#define PG_RETURN_INT64(x) return Int64GetDatum(x)
#define PG_RETURN_UINT64(x) return UInt64GetDatum(x)
#define PG_RETURN_BYTEA_P(x) PG_RETURN_POINTER(x)
#define PG_RETURN_TEXT_P(x) PG_RETURN_POINTER(x)
#define PG_RETURN_VARCHAR_P(x) PG_RETURN_POINTER(x)
#define PG_RETURN_BPCHAR_P(x) PG_RETURN_POINTER(x)

extern struct varlena *pg_detoast_datum_copy(struct varlena *datum);

/* Version-1 declaration: bgw reads pg_finfo_<name>() to know the calling convention, as PostgreSQL does. */
typedef struct
{
	int api_version;
} Pg_finfo_record;

typedef const Pg_finfo_record *(*PGFInfoFunction)(void);

#define PG_FUNCTION_INFO_V1(funcname) \
	extern PGDLLEXPORT Datum funcname(PG_FUNCTION_ARGS); \
	extern PGDLLEXPORT const Pg_finfo_record *CppConcat(pg_finfo_, funcname)(void); \
	const Pg_finfo_record *CppConcat(pg_finfo_, funcname)(void) \
	{ \
		static const Pg_finfo_record bgw_finfo = {1}; \
		return &bgw_finfo; \
	} \
	extern int bgw_no_such_variable

/*
 * The magic block: a module built against these headers says it was built for bgw's PostgreSQL 15 API. bgw
 * does not require it (modules written for bgw may omit it) but, when present, checks it at load.
 */
typedef struct
{
	int len;
	int version;
	int funcmaxargs;
	int indexmaxkeys;
	int namedatalen;
	int float8byval;
	char abi_extra[32];
} Pg_magic_struct;

typedef const Pg_magic_struct *(*PGModuleMagicFunction)(void);

#define PG_MODULE_MAGIC_DATA \
	{ \
		sizeof(Pg_magic_struct), PG_VERSION_NUM / 100, FUNC_MAX_ARGS, INDEX_MAX_KEYS, NAMEDATALEN, \
			FLOAT8PASSBYVAL, "bgw" \
	}

#define PG_MODULE_MAGIC \
	extern PGDLLEXPORT const Pg_magic_struct *Pg_magic_func(void); \
	const Pg_magic_struct *Pg_magic_func(void) \
	{ \
		static const Pg_magic_struct Pg_magic_data = PG_MODULE_MAGIC_DATA; \
		return &Pg_magic_data; \
	} \
	extern int bgw_no_such_variable

/* Calling other SQL functions directly (DirectFunctionCall) is not supported by bgw yet. */

#ifdef __cplusplus
}
#endif

#endif /* BGW_FMGR_H */
