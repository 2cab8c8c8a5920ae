/*
 * datatype/timestamp.h: timestamps as PostgreSQL counts them, microseconds since 2000-01-01 00:00:00 UTC.
 */
#ifndef BGW_DATATYPE_TIMESTAMP_H
#define BGW_DATATYPE_TIMESTAMP_H

#include "c.h"

typedef int64 Timestamp;
typedef int64 TimestampTz;
typedef int64 TimeOffset;
typedef int64 pg_time_t;

#define USECS_PER_DAY INT64CONST(86400000000)
#define USECS_PER_HOUR INT64CONST(3600000000)
#define USECS_PER_MINUTE INT64CONST(60000000)
#define USECS_PER_SEC INT64CONST(1000000)
#define SECS_PER_DAY 86400
#define SECS_PER_HOUR 3600
#define SECS_PER_MINUTE 60
#define MINS_PER_HOUR 60
#define HOURS_PER_DAY 24
#define POSTGRES_EPOCH_JDATE 2451545
#define UNIX_EPOCH_JDATE 2440588
#define DT_NOBEGIN PG_INT64_MIN
#define DT_NOEND PG_INT64_MAX

#endif /* BGW_DATATYPE_TIMESTAMP_H */
