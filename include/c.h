/*
 * c.h: the base every server header stands on: fixed-width integer names, bool, Size, the attribute and
 * assertion macros, alignment, varlena, NameData. Included first (through postgres.h) by every extension source.
 *
 * Written for bgw with PostgreSQL's names and meanings so that extension sources compile unchanged. Assert() is
 * compiled out unless USE_ASSERT_CHECKING is defined, as in a PostgreSQL build without --enable-cassert.
 */
#ifndef BGW_C_H
#define BGW_C_H

#include "pg_config.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <inttypes.h>
#include <unistd.h>

#include "postgres_ext.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------- attributes ---------- */

#define PGDLLIMPORT
#define PGDLLEXPORT __attribute__((visibility("default")))
#define pg_attribute_unused() __attribute__((unused))
#define pg_attribute_noreturn() __attribute__((noreturn))
#define pg_attribute_printf(f, a) __attribute__((format(printf, f, a)))
#define pg_attribute_always_inline __attribute__((always_inline)) inline
#define pg_noinline __attribute__((noinline))
#define pg_attribute_aligned(a) __attribute__((aligned(a)))
#define pg_attribute_packed() __attribute__((packed))
#define pg_unreachable() __builtin_unreachable()
#define likely(x) __builtin_expect((x) != 0, 1)
#define unlikely(x) __builtin_expect((x) != 0, 0)
#define pg_nodiscard __attribute__((warn_unused_result))
/* bgw: a declaration of something bgw does not implement yet. Calling it warns at build time; a module that
 * references it fails to load, with the loader naming the symbol. */
#define BGW_NOT_IMPLEMENTED __attribute__((warning("not implemented by bgw yet: a module calling this will not load")))
#define BGW_NOT_IMPLEMENTED_VAR __attribute__((deprecated("not implemented by bgw yet: a module using this will not load")))

#define CppAsString(identifier) #identifier
#define CppAsString2(x) CppAsString(x)
#define CppConcat(x, y) x##y
#define FLEXIBLE_ARRAY_MEMBER /* empty */
#define SIGNAL_ARGS int postgres_signal_arg

/* ---------- integer types ---------- */

typedef int8_t int8;
typedef int16_t int16;
typedef int32_t int32;
typedef int64_t int64;
typedef uint8_t uint8;
typedef uint16_t uint16;
typedef uint32_t uint32;
typedef uint64_t uint64;
typedef __int128 int128;
typedef unsigned __int128 uint128;
typedef uint8 bits8;
typedef uint16 bits16;
typedef uint32 bits32;
typedef float float4;
typedef double float8;
typedef size_t Size;
typedef unsigned int Index;
typedef signed int Offset;
typedef char *Pointer;
typedef uint32 TransactionId;
typedef uint32 LocalTransactionId;
typedef uint32 SubTransactionId;
typedef uint32 MultiXactId;
typedef uint32 CommandId;
typedef Oid regproc;
typedef regproc RegProcedure;

#define INT64CONST(x) INT64_C(x)
#define UINT64CONST(x) UINT64_C(x)
#define INT64_FORMAT "%" PRId64
#define UINT64_FORMAT "%" PRIu64

#define PG_INT8_MIN INT8_MIN
#define PG_INT8_MAX INT8_MAX
#define PG_UINT8_MAX UINT8_MAX
#define PG_INT16_MIN INT16_MIN
#define PG_INT16_MAX INT16_MAX
#define PG_UINT16_MAX UINT16_MAX
#define PG_INT32_MIN INT32_MIN
#define PG_INT32_MAX INT32_MAX
#define PG_UINT32_MAX UINT32_MAX
#define PG_INT64_MIN INT64_MIN
#define PG_INT64_MAX INT64_MAX
#define PG_UINT64_MAX UINT64_MAX

/* ---------- small helpers ---------- */

#define lengthof(array) (sizeof(array) / sizeof((array)[0]))
#define Max(x, y) ((x) > (y) ? (x) : (y))
#define Min(x, y) ((x) < (y) ? (x) : (y))
#define Abs(x) ((x) >= 0 ? (x) : -(x))
#define PointerIsValid(pointer) ((const void *) (pointer) != NULL)
#define OidIsValid(objectId) ((bool) ((objectId) != InvalidOid))
#define BoolIsValid(boolean) ((boolean) == false || (boolean) == true)

#define TYPEALIGN(ALIGNVAL, LEN) (((uintptr_t) (LEN) + ((ALIGNVAL) -1)) & ~((uintptr_t) ((ALIGNVAL) -1)))
#define SHORTALIGN(LEN) TYPEALIGN(ALIGNOF_SHORT, (LEN))
#define INTALIGN(LEN) TYPEALIGN(ALIGNOF_INT, (LEN))
#define LONGALIGN(LEN) TYPEALIGN(ALIGNOF_LONG, (LEN))
#define DOUBLEALIGN(LEN) TYPEALIGN(ALIGNOF_DOUBLE, (LEN))
#define MAXALIGN(LEN) TYPEALIGN(MAXIMUM_ALIGNOF, (LEN))
#define BUFFERALIGN(LEN) TYPEALIGN(64, (LEN))
#define CACHELINEALIGN(LEN) TYPEALIGN(64, (LEN))

#define StaticAssertStmt(condition, errmessage) \
	do { \
		_Static_assert(condition, errmessage); \
	} while (0)
#define StaticAssertExpr(condition, errmessage) ((void) ({ StaticAssertStmt(condition, errmessage); true; }))
#define StaticAssertDecl(condition, errmessage) _Static_assert(condition, errmessage)

#ifdef USE_ASSERT_CHECKING
#define Assert(condition) \
	do { \
		if (!(condition)) \
			ExceptionalCondition(#condition, "FailedAssertion", __FILE__, __LINE__); \
	} while (0)
#define AssertMacro(condition) ((void) ((condition) || (ExceptionalCondition(#condition, "FailedAssertion", __FILE__, __LINE__), 0)))
#else
#define Assert(condition) ((void) true)
#define AssertMacro(condition) ((void) true)
#endif
#define AssertArg(condition) Assert(condition)
#define AssertState(condition) Assert(condition)
#define AssertPointerAlignment(ptr, bndr) ((void) true)

/* Reports a failed assertion and aborts (a crash of the process, as in PostgreSQL). */
extern void ExceptionalCondition(const char *conditionName, const char *errorType, const char *fileName,
								 int lineNumber) pg_attribute_noreturn();

/* ---------- variable-length values (text, bytea) ---------- */

/*
 * A varlena is a 4-byte length word (the total length, header included, shifted left by two bits on a
 * little-endian machine) followed by the data. bgw makes only this plain form: never the 1-byte short form,
 * never compressed or out-of-line values, so VARSIZE_ANY and friends read the same word.
 */
struct varlena
{
	char vl_len_[4];
	char vl_dat[FLEXIBLE_ARRAY_MEMBER];
};

#define VARHDRSZ ((int32) sizeof(int32))

typedef struct varlena bytea;
typedef struct varlena text;
typedef struct varlena BpChar;
typedef struct varlena VarChar;

typedef struct nameData
{
	char data[NAMEDATALEN];
} NameData;
typedef NameData *Name;

#define NameStr(name) ((name).data)

/* ---------- signals (port.h in PostgreSQL) ---------- */

typedef void (*pqsigfunc)(int signo);
/* Installs func for signo with SA_RESTART; returns the previous handler. */
extern pqsigfunc pqsignal(int signo, pqsigfunc func);

#ifdef __cplusplus
}
#endif

#include "port.h"

#endif /* BGW_C_H */
