/*
 * access/xlog.h: recovery state. RecoveryInProgress is true while the host is a standby (standby.signal in the
 * data directory), until `bgw promote`.
 */
#ifndef BGW_ACCESS_XLOG_H
#define BGW_ACCESS_XLOG_H

#include "c.h"

extern bool RecoveryInProgress(void);

#endif /* BGW_ACCESS_XLOG_H */
