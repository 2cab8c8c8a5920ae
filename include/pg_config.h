/*
 * pg_config.h: what an extension reads about the server it is built for (bgw's answers).
 *
 * bgw implements the server API of PostgreSQL 15 (the subset listed in README.md, "Running a PostgreSQL
 * extension"), so version checks in extension sources see PostgreSQL 15. BGW_VERSION says it is bgw.
 */
#ifndef BGW_PG_CONFIG_H
#define BGW_PG_CONFIG_H

#define PG_MAJORVERSION "15"
#define PG_MAJORVERSION_NUM 15
#define PG_MINORVERSION_NUM 0
#define PG_VERSION "15.0"
#define PG_VERSION_NUM 150000
#define PG_VERSION_STR "PostgreSQL 15.0 (bgw) on x86_64-pc-linux-gnu"
#define BGW_VERSION "bgw 0.1"

#define BLCKSZ 8192
#define NAMEDATALEN 64
#define FUNC_MAX_ARGS 100
#define INDEX_MAX_KEYS 32
#define SIZEOF_DATUM 8
#define SIZEOF_VOID_P 8
#define SIZEOF_LONG 8
#define SIZEOF_SIZE_T 8
#define ALIGNOF_DOUBLE 8
#define ALIGNOF_INT 4
#define ALIGNOF_LONG 8
#define ALIGNOF_SHORT 2
#define MAXIMUM_ALIGNOF 8
#define FLOAT8PASSBYVAL true
#define USE_FLOAT8_BYVAL 1
#define HAVE_LONG_INT_64 1
#define HAVE__BUILTIN_CONSTANT_P 1
#define HAVE__BUILTIN_TYPES_COMPATIBLE_P 1
#define HAVE__BUILTIN_UNREACHABLE 1
#define HAVE__STATIC_ASSERT 1
#define HAVE_STDBOOL_H 1
#define PG_INT64_TYPE long int
#define INT64_MODIFIER "l"
#define MAXPGPATH 1024
#define DEF_PGPORT 5432
#define DEF_PGPORT_STR "5432"

#endif /* BGW_PG_CONFIG_H */
