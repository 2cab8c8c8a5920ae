/*
 * storage/shmem.h: named shared memory for modules.
 *
 * In _PG_init or the shmem_request_hook (preloaded modules only), request space with RequestAddinShmemSpace;
 * then, in shmem_startup_hook or in any process with shared memory access, create or attach a named area with
 * ShmemInitStruct: the first caller gets zeroed memory and *foundPtr = false, later callers the same address and
 * *foundPtr = true. All modules together may request at most 1 GiB; after a crash-and-restart cycle the areas
 * start zeroed again.
 */
#ifndef BGW_STORAGE_SHMEM_H
#define BGW_STORAGE_SHMEM_H

#include "c.h"

#ifdef __cplusplus
extern "C" {
#endif

extern void RequestAddinShmemSpace(Size size);
extern void *ShmemInitStruct(const char *name, Size size, bool *foundPtr);
/* a + b and a * b, an ERROR on overflow ("requested shared memory size overflows size_t"). */
extern Size add_size(Size s1, Size s2);
extern Size mul_size(Size s1, Size s2);

#ifdef __cplusplus
}
#endif

#endif /* BGW_STORAGE_SHMEM_H */
