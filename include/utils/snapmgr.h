/*
 * utils/snapmgr.h: snapshots. Accepted and doing nothing: the database engine's transaction is the snapshot.
 */
#ifndef BGW_UTILS_SNAPMGR_H
#define BGW_UTILS_SNAPMGR_H

#include "c.h"

typedef struct SnapshotData *Snapshot;

extern Snapshot GetTransactionSnapshot(void);
extern void PushActiveSnapshot(Snapshot snapshot);
extern void PopActiveSnapshot(void);

#endif /* BGW_UTILS_SNAPMGR_H */
