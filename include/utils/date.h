/*
 * utils/date.h: the date type as a datum (DateADT: days since 2000-01-01, by value) and the time type
 * (TimeADT: microseconds since midnight), as SPI_getbinval gives a date and SPI_execute_with_args takes one.
 */
#ifndef BGW_UTILS_DATE_H
#define BGW_UTILS_DATE_H

#include "postgres.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int32 DateADT;
typedef int64 TimeADT;

#define DatumGetDateADT(X) ((DateADT) DatumGetInt32(X))
#define DateADTGetDatum(X) Int32GetDatum(X)
#define DatumGetTimeADT(X) ((TimeADT) DatumGetInt64(X))
#define TimeADTGetDatum(X) Int64GetDatum(X)

#ifdef __cplusplus
}
#endif

#endif /* BGW_UTILS_DATE_H */
