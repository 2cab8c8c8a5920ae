/*
 * utils/wait_event.h: wait event classes, for WaitLatch's wait_event_info (accepted; pg_stat_activity shows no
 * wait events in bgw).
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

#endif /* BGW_UTILS_WAIT_EVENT_H */
