/*
 * postgres_ext.h: the object identifier type, shared by clients and the server.
 */
#ifndef BGW_POSTGRES_EXT_H
#define BGW_POSTGRES_EXT_H

typedef unsigned int Oid;

#define InvalidOid ((Oid) 0)
#define OID_MAX UINT_MAX

#endif /* BGW_POSTGRES_EXT_H */
