/*
 * utils/timestamp.h: the current time and differences between timestamps.
 */
#ifndef BGW_UTILS_TIMESTAMP_H
#define BGW_UTILS_TIMESTAMP_H

#include "postgres.h"
#include "datatype/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DatumGetTimestamp(X) ((Timestamp) DatumGetInt64(X))
#define DatumGetTimestampTz(X) ((TimestampTz) DatumGetInt64(X))
#define TimestampGetDatum(X) Int64GetDatum(X)
#define TimestampTzGetDatum(X) Int64GetDatum(X)
#define TimestampTzPlusMilliseconds(tz, ms) ((tz) + ((ms) * (int64) 1000))

/* The wall-clock time now. */
extern TimestampTz GetCurrentTimestamp(void);
/* stop_time - start_time as seconds and microseconds (both 0 if negative). */
extern void TimestampDifference(TimestampTz start_time, TimestampTz stop_time, long *secs, int *microsecs);
/* stop_time - start_time in milliseconds, rounded up, 0 if negative, at most INT_MAX. */
extern long TimestampDifferenceMilliseconds(TimestampTz start_time, TimestampTz stop_time);
/* Whether stop_time - start_time >= msec milliseconds. */
extern bool TimestampDifferenceExceeds(TimestampTz start_time, TimestampTz stop_time, int msec);
extern TimestampTz time_t_to_timestamptz(pg_time_t tm);
extern pg_time_t timestamptz_to_time_t(TimestampTz t);
/* The timestamp as text ("2026-12-07 17:31:17.123456+00"), in a static buffer. */
extern const char *timestamptz_to_str(TimestampTz t);
/* When the postmaster started. */
extern PGDLLIMPORT TimestampTz PgStartTime;

#ifdef __cplusplus
}
#endif

#endif /* BGW_UTILS_TIMESTAMP_H */
