/*
 * access/xact.h: transactions of a connected worker (SPI runs in them).
 *
 * StartTransactionCommand begins one, CommitTransactionCommand commits it (a failed commit is an ERROR),
 * AbortCurrentTransaction rolls it back; outside a transaction each SPI statement commits by itself. See
 * executor/spi.h for the engine's locking and error rules.
 */
#ifndef BGW_ACCESS_XACT_H
#define BGW_ACCESS_XACT_H

#include "postgres.h"
#include "datatype/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

extern void StartTransactionCommand(void);
extern void CommitTransactionCommand(void);
extern void AbortCurrentTransaction(void);
/* Accepted; does nothing (bgw's statements take their start time themselves). */
extern void SetCurrentStatementStartTimestamp(void);

#ifdef __cplusplus
}
#endif

#endif /* BGW_ACCESS_XACT_H */
