/* A module that asks for more shared memory than the host allows: start-up must stop and say so. */
#include "bgworker.h"

void _PG_init(void);

void
_PG_init(void)
{
	RequestAddinShmemSpace((size_t) 1 << 40);
}
