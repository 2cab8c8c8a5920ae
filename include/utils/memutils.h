/*
 * utils/memutils.h: the memory context tree.
 *
 * TopMemoryContext lives as long as the process; every other context is a child of another and is freed with
 * it. AllocSetContextCreate makes a context (the size arguments are accepted for compatibility: bgw allocates
 * each chunk with malloc). MemoryContextReset frees everything allocated in a context and deletes its children;
 * MemoryContextDelete also removes the context itself. Reset callbacks run before a reset or delete.
 *
 * As in PostgreSQL, StartTransactionCommand makes TopTransactionContext (CurTransactionContext is the same
 * context) the current one, and the end of the transaction (CommitTransactionCommand, AbortCurrentTransaction)
 * switches back to TopMemoryContext and frees what was allocated in it; ErrorContext holds the copy of an error
 * being handled.
 */
#ifndef BGW_UTILS_MEMUTILS_H
#define BGW_UTILS_MEMUTILS_H

#include "utils/palloc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MaxAllocSize ((Size) 0x3fffffff)
#define MaxAllocHugeSize (SIZE_MAX / 2)
#define AllocSizeIsValid(size) ((Size) (size) <= MaxAllocSize)
#define AllocHugeSizeIsValid(size) ((Size) (size) <= MaxAllocHugeSize)

extern PGDLLIMPORT MemoryContext TopMemoryContext;
extern PGDLLIMPORT MemoryContext ErrorContext;
extern PGDLLIMPORT MemoryContext PostmasterContext;
extern PGDLLIMPORT MemoryContext CacheMemoryContext;
extern PGDLLIMPORT MemoryContext MessageContext;
extern PGDLLIMPORT MemoryContext TopTransactionContext;
extern PGDLLIMPORT MemoryContext CurTransactionContext;
extern PGDLLIMPORT MemoryContext PortalContext;

extern void MemoryContextReset(MemoryContext context);
extern void MemoryContextResetOnly(MemoryContext context);
extern void MemoryContextResetChildren(MemoryContext context);
extern void MemoryContextDelete(MemoryContext context);
extern void MemoryContextDeleteChildren(MemoryContext context);
extern void MemoryContextSetParent(MemoryContext context, MemoryContext new_parent);
extern void MemoryContextSetIdentifier(MemoryContext context, const char *id);
extern MemoryContext GetMemoryChunkContext(void *pointer);
extern MemoryContext MemoryContextGetParent(MemoryContext context);
extern bool MemoryContextIsEmpty(MemoryContext context);
/* Bytes allocated in context (and its children if recurse) and not freed. */
extern Size MemoryContextMemAllocated(MemoryContext context, bool recurse);
extern bool MemoryContextContains(MemoryContext context, void *pointer);

extern MemoryContext AllocSetContextCreateInternal(MemoryContext parent, const char *name, Size minContextSize,
												   Size initBlockSize, Size maxBlockSize);
#define AllocSetContextCreate AllocSetContextCreateInternal

#define ALLOCSET_DEFAULT_MINSIZE 0
#define ALLOCSET_DEFAULT_INITSIZE (8 * 1024)
#define ALLOCSET_DEFAULT_MAXSIZE (8 * 1024 * 1024)
#define ALLOCSET_DEFAULT_SIZES ALLOCSET_DEFAULT_MINSIZE, ALLOCSET_DEFAULT_INITSIZE, ALLOCSET_DEFAULT_MAXSIZE
#define ALLOCSET_SMALL_MINSIZE 0
#define ALLOCSET_SMALL_INITSIZE (1 * 1024)
#define ALLOCSET_SMALL_MAXSIZE (8 * 1024)
#define ALLOCSET_SMALL_SIZES ALLOCSET_SMALL_MINSIZE, ALLOCSET_SMALL_INITSIZE, ALLOCSET_SMALL_MAXSIZE
#define ALLOCSET_START_SMALL_SIZES ALLOCSET_SMALL_MINSIZE, ALLOCSET_SMALL_INITSIZE, ALLOCSET_DEFAULT_MAXSIZE

#ifdef __cplusplus
}
#endif

#endif /* BGW_UTILS_MEMUTILS_H */
