/*
 * storage/procsignal.h: SIGUSR1 multiplexing. procsignal_sigusr1_handler is the handler PostgreSQL's processes
 * install for SIGUSR1; in bgw it sets the latch (bgw's own SIGUSR1 uses, such as worker state notifications to
 * the registering backend, need nothing more from a module).
 */
#ifndef BGW_STORAGE_PROCSIGNAL_H
#define BGW_STORAGE_PROCSIGNAL_H

#include "c.h"

extern void procsignal_sigusr1_handler(SIGNAL_ARGS);

#endif /* BGW_STORAGE_PROCSIGNAL_H */
