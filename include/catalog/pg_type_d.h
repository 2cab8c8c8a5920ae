/*
 * catalog/pg_type_d.h: the oids of the built-in types extensions name (the same numbers as PostgreSQL's).
 */
#ifndef BGW_CATALOG_PG_TYPE_D_H
#define BGW_CATALOG_PG_TYPE_D_H

#define BOOLOID 16
#define BYTEAOID 17
#define CHAROID 18
#define NAMEOID 19
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23
#define TEXTOID 25
#define OIDOID 26
#define JSONOID 114
#define FLOAT4OID 700
#define FLOAT8OID 701
#define UNKNOWNOID 705
#define BPCHAROID 1042
#define VARCHAROID 1043
#define DATEOID 1082
#define TIMEOID 1083
#define TIMESTAMPOID 1114
#define TIMESTAMPTZOID 1184
#define INTERVALOID 1186
#define NUMERICOID 1700
#define UUIDOID 2950
#define JSONBOID 3802
#define VOIDOID 2278
#define RECORDOID 2249
#define CSTRINGOID 2275

#endif /* BGW_CATALOG_PG_TYPE_D_H */
