/*
 * pgstat.h: what pg_stat_activity shows about this process.
 *
 * pgstat_report_activity sets the process's state and query (the query is kept when the state is not
 * STATE_RUNNING and cmd_str is NULL, as in PostgreSQL); pgstat_report_appname its application_name.
 * Statistics counters are not kept: pgstat_report_stat is accepted and returns 0.
 */
#ifndef BGW_PGSTAT_H
#define BGW_PGSTAT_H

#include "postgres.h"
#include "utils/wait_event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum BackendState
{
	STATE_UNDEFINED,
	STATE_IDLE,
	STATE_RUNNING,
	STATE_IDLEINTRANSACTION,
	STATE_FASTPATH,
	STATE_IDLEINTRANSACTION_ABORTED,
	STATE_DISABLED,
} BackendState;

extern void pgstat_report_activity(BackendState state, const char *cmd_str);
extern void pgstat_report_appname(const char *appname);
extern long pgstat_report_stat(bool force);

#ifdef __cplusplus
}
#endif

#endif /* BGW_PGSTAT_H */
