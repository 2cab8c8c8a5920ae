/*
 * utils/palloc.h: memory allocation in memory contexts.
 *
 * palloc and friends allocate in CurrentMemoryContext; pfree frees one chunk; resetting or deleting a context
 * (utils/memutils.h) frees everything allocated in it and in its children at once. Running out of memory is an
 * ERROR (SQLSTATE 53200, "out of memory"), as in PostgreSQL. Implemented by the bgw executable
 * (crates/bgw/src/modules/pg_memory.c). pfree also accepts the handle RegisterDynamicBackgroundWorker stores,
 * which bgw allocates with malloc (free() it, or pfree() it as PostgreSQL code does).
 */
#ifndef BGW_UTILS_PALLOC_H
#define BGW_UTILS_PALLOC_H

#include "c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct MemoryContextData *MemoryContext;

typedef void (*MemoryContextCallbackFunction)(void *arg);

typedef struct MemoryContextCallback
{
	MemoryContextCallbackFunction func;
	void *arg;
	struct MemoryContextCallback *next;
} MemoryContextCallback;

extern PGDLLIMPORT MemoryContext CurrentMemoryContext;

#define MCXT_ALLOC_HUGE 0x01
#define MCXT_ALLOC_NO_OOM 0x02
#define MCXT_ALLOC_ZERO 0x04

extern void *MemoryContextAlloc(MemoryContext context, Size size);
extern void *MemoryContextAllocZero(MemoryContext context, Size size);
extern void *MemoryContextAllocZeroAligned(MemoryContext context, Size size);
extern void *MemoryContextAllocExtended(MemoryContext context, Size size, int flags);
extern void *MemoryContextAllocHuge(MemoryContext context, Size size);
extern void *palloc(Size size);
extern void *palloc0(Size size);
extern void *palloc_extended(Size size, int flags);
extern pg_nodiscard void *repalloc(void *pointer, Size size);
extern pg_nodiscard void *repalloc_huge(void *pointer, Size size);
extern void pfree(void *pointer);
extern void MemoryContextRegisterResetCallback(MemoryContext context, MemoryContextCallback *cb);

#define palloc_object(type) ((type *) palloc(sizeof(type)))
#define palloc0_object(type) ((type *) palloc0(sizeof(type)))
#define palloc_array(type, count) ((type *) palloc(sizeof(type) * (count)))
#define palloc0_array(type, count) ((type *) palloc0(sizeof(type) * (count)))

/* Makes context current and returns the previous one. */
static inline MemoryContext
MemoryContextSwitchTo(MemoryContext context)
{
	MemoryContext old = CurrentMemoryContext;

	CurrentMemoryContext = context;
	return old;
}

extern char *MemoryContextStrdup(MemoryContext context, const char *string);
extern char *pstrdup(const char *in);
extern char *pnstrdup(const char *in, Size len);
extern char *pchomp(const char *in);
extern char *psprintf(const char *fmt, ...) pg_attribute_printf(1, 2);
/* Formats into buf of len bytes; returns 0 when it fitted, else the size needed (try again with that). */
extern size_t pvsnprintf(char *buf, size_t len, const char *fmt, va_list args) pg_attribute_printf(3, 0);

#ifdef __cplusplus
}
#endif

#endif /* BGW_UTILS_PALLOC_H */
