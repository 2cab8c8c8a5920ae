/*
 * bgworker.h: the whole C API of the bgw host for loadable modules, in one include.
 *
 * The declarations live in the server include tree beside this file, laid out as PostgreSQL's includedir-server
 * (postgres.h, fmgr.h, postmaster/bgworker.h, utils/elog.h, ...), so that extension sources written for
 * PostgreSQL compile unchanged (`pg_config --includedir-server` names this directory); bgw's own additions are in
 * bgw/bgw.h. A module written for bgw may include just this file.
 *
 * A module is a shared library the host loads by name (through dynamic_library_path, or at start through
 * shared_preload_libraries, which also runs its _PG_init). Its workers' entry points have the signature
 * `void main(Datum arg)`. Everything declared in the tree is exported by the running `bgw` executable, except
 * what is marked BGW_NOT_IMPLEMENTED: build a module with `cc -shared -fPIC -I include mymodule.c -o
 * mymodule.so` (or with PGXS and bgw's pg_config) and do not link it against anything of the host; its
 * references resolve when the host loads it (RTLD_NOW: a missing one fails the load, naming it).
 */
#ifndef BGW_BGWORKER_H
#define BGW_BGWORKER_H

#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "bgw/bgw.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodes.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "port.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procsignal.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

#endif /* BGW_BGWORKER_H */
