/*
 * commands/async.h: NOTIFY from a worker (it needs a database connection): sent to the database's listening
 * client sessions when the open transaction commits (dropped if it rolls back), or at once outside a
 * transaction. A bad channel or payload is an ERROR. Workers cannot LISTEN.
 */
#ifndef BGW_COMMANDS_ASYNC_H
#define BGW_COMMANDS_ASYNC_H

#include "c.h"

#define NOTIFY_PAYLOAD_MAX_LENGTH 8000

extern void Async_Notify(const char *channel, const char *payload);

#endif /* BGW_COMMANDS_ASYNC_H */
