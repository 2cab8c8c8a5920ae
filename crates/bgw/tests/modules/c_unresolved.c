/* A module that needs a host function that does not exist: loading it (RTLD_NOW) must fail with dlerror's text. */
#include "bgworker.h"

extern void bgw_no_such_function(void);
PGDLLEXPORT void c_unresolved_main(Datum arg);

void
c_unresolved_main(Datum arg)
{
	(void) arg;
	bgw_no_such_function();
}
