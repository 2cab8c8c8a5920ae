/*
 * postmaster/interrupt.h: the standard signal handlers of auxiliary processes and workers.
 */
#ifndef BGW_POSTMASTER_INTERRUPT_H
#define BGW_POSTMASTER_INTERRUPT_H

#include "c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Set by SignalHandlerForConfigReload; the worker clears it and calls ProcessConfigFile(PGC_SIGHUP). */
extern PGDLLIMPORT volatile sig_atomic_t ConfigReloadPending;
/* Set by SignalHandlerForShutdownRequest. */
extern PGDLLIMPORT volatile sig_atomic_t ShutdownRequestPending;

/* Reloads the configuration if asked to, ends the process (proc_exit(0)) if a shutdown was requested. */
extern void HandleMainLoopInterrupts(void);
/* Sets ConfigReloadPending and the latch. */
extern void SignalHandlerForConfigReload(SIGNAL_ARGS);
/* Exits at once (for SIGQUIT); exit code 2, as PostgreSQL's. */
extern void SignalHandlerForCrashExit(SIGNAL_ARGS);
/* Sets ShutdownRequestPending and the latch. */
extern void SignalHandlerForShutdownRequest(SIGNAL_ARGS);

#ifdef __cplusplus
}
#endif

#endif /* BGW_POSTMASTER_INTERRUPT_H */
