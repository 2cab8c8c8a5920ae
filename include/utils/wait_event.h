/*
 * utils/wait_event.h: wait event classes, for WaitLatch's wait_event_info (accepted; pg_stat_activity shows no
 * wait events in bgw), and PostgreSQL 17's custom wait events of extensions.
 */
#ifndef BGW_UTILS_WAIT_EVENT_H
#define BGW_UTILS_WAIT_EVENT_H

#define PG_WAIT_LWLOCK 0x01000000U
#define PG_WAIT_LOCK 0x03000000U
#define PG_WAIT_BUFFER_PIN 0x04000000U
#define PG_WAIT_ACTIVITY 0x05000000U
#define PG_WAIT_CLIENT 0x06000000U
#define PG_WAIT_EXTENSION 0x07000000U
#define PG_WAIT_IPC 0x08000000U
#define PG_WAIT_TIMEOUT 0x09000000U
#define PG_WAIT_IO 0x0A000000U

#include "c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PostgreSQL 17: the extension class's own event, and the first id WaitEventExtensionNew gives. */
typedef enum
{
	WAIT_EVENT_EXTENSION = PG_WAIT_EXTENSION,
	WAIT_EVENT_EXTENSION_FIRST_USER_DEFINED,
} WaitEventExtension;

/* PostgreSQL 17: a wait event of the extension class named wait_event_name, for WaitLatch's wait_event_info; the
 * same name gives the same event in this process. bgw keeps the names per process (PostgreSQL in shared memory, so
 * two processes may get different ids for one name) and does not show them: pg_stat_activity has no wait events.
 * More than 65,535 names is an ERROR 54000. */
extern uint32 WaitEventExtensionNew(const char *wait_event_name);

#ifdef __cplusplus
}
#endif

#endif /* BGW_UTILS_WAIT_EVENT_H */
