/*
 * utils/acl.h: roles by name (read from the host's catalog).
 */
#ifndef BGW_UTILS_ACL_H
#define BGW_UTILS_ACL_H

#include "postgres.h"

/* The role's oid; InvalidOid if there is none (missing_ok), else an ERROR 42704. */
extern Oid get_role_oid(const char *rolname, bool missing_ok);

#endif /* BGW_UTILS_ACL_H */
