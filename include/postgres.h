/*
 * postgres.h: the first include of every extension source. Datum and its conversions, varlena access, and
 * (through utils/elog.h and utils/palloc.h) error reporting and memory allocation.
 *
 * A Datum is a machine word holding a value of any SQL type: by value for types of at most 8 bytes (int2, int4,
 * int8, float4, float8, bool, oid), else a pointer to the value (text, bytea, ...), as on a 64-bit PostgreSQL.
 */
#ifndef BGW_POSTGRES_H
#define BGW_POSTGRES_H

#include "c.h"
#include "utils/elog.h"
#include "utils/palloc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uintptr_t Datum;
typedef Datum *DatumPtr;

typedef struct NullableDatum
{
	Datum value;
	bool isnull;
} NullableDatum;



#define DatumGetBool(X) ((bool) ((X) != 0))
#define BoolGetDatum(X) ((Datum) ((X) ? 1 : 0))
#define DatumGetChar(X) ((char) (X))
#define CharGetDatum(X) ((Datum) (X))
#define Int8GetDatum(X) ((Datum) (X))
#define DatumGetUInt8(X) ((uint8) (X))
#define UInt8GetDatum(X) ((Datum) (X))
#define DatumGetInt16(X) ((int16) (X))
#define Int16GetDatum(X) ((Datum) (X))
#define DatumGetUInt16(X) ((uint16) (X))
#define UInt16GetDatum(X) ((Datum) (X))
#define DatumGetInt32(X) ((int32) (X))
#define Int32GetDatum(X) ((Datum) (int32) (X))
#define DatumGetUInt32(X) ((uint32) (X))
#define UInt32GetDatum(X) ((Datum) (uint32) (X))
#define DatumGetInt64(X) ((int64) (X))
#define Int64GetDatum(X) ((Datum) (int64) (X))
#define Int64GetDatumFast(X) Int64GetDatum(X)
#define DatumGetUInt64(X) ((uint64) (X))
#define UInt64GetDatum(X) ((Datum) (uint64) (X))
#define DatumGetObjectId(X) ((Oid) (X))
#define ObjectIdGetDatum(X) ((Datum) (X))
#define DatumGetTransactionId(X) ((TransactionId) (X))
#define TransactionIdGetDatum(X) ((Datum) (X))
#define DatumGetPointer(X) ((Pointer) (X))
#define PointerGetDatum(X) ((Datum) (X))
#define DatumGetCString(X) ((char *) DatumGetPointer(X))
#define CStringGetDatum(X) PointerGetDatum(X)
#define DatumGetName(X) ((Name) DatumGetPointer(X))
#define NameGetDatum(X) CStringGetDatum(NameStr(*(X)))

static inline float4
DatumGetFloat4(Datum X)
{
	union { int32 value; float4 retval; } myunion;
	myunion.value = DatumGetInt32(X);
	return myunion.retval;
}

static inline Datum
Float4GetDatum(float4 X)
{
	union { float4 value; int32 retval; } myunion;
	myunion.value = X;
	return Int32GetDatum(myunion.retval);
}

static inline float8
DatumGetFloat8(Datum X)
{
	union { int64 value; float8 retval; } myunion;
	myunion.value = DatumGetInt64(X);
	return myunion.retval;
}

static inline Datum
Float8GetDatum(float8 X)
{
	union { float8 value; int64 retval; } myunion;
	myunion.value = X;
	return Int64GetDatum(myunion.retval);
}

#define Float8GetDatumFast(X) Float8GetDatum(X)
#define Float4GetDatumFast(X) Float4GetDatum(X)

/* ---------- varlena access (bgw makes only 4-byte headers: see c.h) ---------- */

#define VARSIZE_4B(PTR) ((*(const uint32 *) (PTR) >> 2) & 0x3FFFFFFF)
#define SET_VARSIZE(PTR, len) (*(uint32 *) (PTR) = (((uint32) (len)) << 2))
#define VARSIZE(PTR) VARSIZE_4B(PTR)
#define VARDATA(PTR) (((struct varlena *) (PTR))->vl_dat)
#define VARSIZE_ANY(PTR) VARSIZE_4B(PTR)
#define VARSIZE_ANY_EXHDR(PTR) (VARSIZE_4B(PTR) - VARHDRSZ)
#define VARDATA_ANY(PTR) VARDATA(PTR)
#define VARATT_IS_EXTENDED(PTR) false
#define VARATT_IS_SHORT(PTR) false

#ifdef __cplusplus
}
#endif

#endif /* BGW_POSTGRES_H */
