/*
 * catalog/pg_type.h: type oids (see pg_type_d.h). bgw has no pg_type system cache for C code.
 */
#ifndef BGW_CATALOG_PG_TYPE_H
#define BGW_CATALOG_PG_TYPE_H

#include "postgres.h"
#include "catalog/pg_type_d.h"

#endif /* BGW_CATALOG_PG_TYPE_H */
