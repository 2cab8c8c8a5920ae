/*
 * tcop/tcopprot.h: the standard SIGTERM handler of backends and workers.
 */
#ifndef BGW_TCOP_TCOPPROT_H
#define BGW_TCOP_TCOPPROT_H

#include "c.h"
#include "utils/guc.h"

/* Asks the process to end at its next CHECK_FOR_INTERRUPTS() (sets ProcDiePending, InterruptPending and the
 * latch). The worker then ends with FATAL "terminating background worker ... due to administrator command". */
extern void die(SIGNAL_ARGS);

#endif /* BGW_TCOP_TCOPPROT_H */
