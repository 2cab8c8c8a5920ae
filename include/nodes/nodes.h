/*
 * nodes/nodes.h: the tag every node begins with.
 *
 * bgw has no parser, planner or executor, so it has none of PostgreSQL's parse or plan nodes: only the list
 * tags (nodes/pg_list.h) and the value-node tags are defined. NodeTag, Node, nodeTag, IsA and castNode have
 * PostgreSQL's meaning; the enum's numeric values are bgw's own (compare tags by name, never by number).
 */
#ifndef BGW_NODES_NODES_H
#define BGW_NODES_NODES_H

#include "c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum NodeTag
{
	T_Invalid = 0,
	T_List,
	T_IntList,
	T_OidList,
	T_XidList,
} NodeTag;

/* The first field of every node. */
typedef struct Node
{
	NodeTag type;
} Node;

#define nodeTag(nodeptr) (((const Node *) (nodeptr))->type)
#define IsA(nodeptr, _type_) (nodeTag(nodeptr) == T_##_type_)
#define castNode(_type_, nodeptr) ((_type_ *) (nodeptr))

#ifdef __cplusplus
}
#endif

#endif /* BGW_NODES_NODES_H */
