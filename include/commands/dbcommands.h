/*
 * commands/dbcommands.h: databases by name and oid (read from the host's catalog).
 */
#ifndef BGW_COMMANDS_DBCOMMANDS_H
#define BGW_COMMANDS_DBCOMMANDS_H

#include "postgres.h"

/* The database's oid; InvalidOid if there is none (missing_ok), else an ERROR 3D000. */
extern Oid get_database_oid(const char *dbname, bool missing_ok);
/* The database's name, palloc'd; NULL if there is none with that oid. */
extern char *get_database_name(Oid dbid);

#endif /* BGW_COMMANDS_DBCOMMANDS_H */
