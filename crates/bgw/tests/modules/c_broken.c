/* A module whose _PG_init raises an error: start-up must stop and name it. */
#include "bgworker.h"

void _PG_init(void);

void
_PG_init(void)
{
	ereport(ERROR, (errmsg("c_broken refuses to load"), errhint("This module is broken on purpose.")));
}
