/*
 * nodes/pg_list.h: PostgreSQL 13+'s List, an array of cells that grows in place.
 *
 * A List holds pointers (T_List), ints (T_IntList), Oids (T_OidList) or TransactionIds (T_XidList); the empty
 * list is NIL (a NULL pointer). The header and its cell array are palloc'd in CurrentMemoryContext when the list
 * is made; appending may repalloc the cells (in the list's own context), so a ListCell pointer, like
 * PostgreSQL's, is valid only until the list changes. Functions that add cells return the list to use from then
 * on. The implementation is bgw's (crates/bgw/src/modules/pg_list.c).
 *
 * Differences from PostgreSQL: list_member (and the other equal()-based functions) compare nodes with equal(),
 * which bgw implements only for lists (T_List by their elements' equal(), the others by value); on two distinct
 * pointers to anything else it raises ERROR 0A000. Use list_member_ptr for pointer identity.
 */
#ifndef BGW_NODES_PG_LIST_H
#define BGW_NODES_PG_LIST_H

#include "nodes/nodes.h"
#include "postgres_ext.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef union ListCell
{
	void *ptr_value;
	int int_value;
	Oid oid_value;
	TransactionId xid_value;
} ListCell;

typedef struct List
{
	NodeTag type; /* T_List, T_IntList, T_OidList or T_XidList */
	int length;   /* cells in use */
	int max_length; /* cells allocated */
	ListCell *elements; /* the cells: initial_elements, or a separate array once it grew */
	ListCell initial_elements[FLEXIBLE_ARRAY_MEMBER];
} List;

#define NIL ((List *) NULL)

/* The state foreach keeps, named after the loop variable. */
typedef struct ForEachState
{
	const List *l;
	int i;
} ForEachState;

/* ---------- cells and their values ---------- */

#define lfirst(lc) ((lc)->ptr_value)
#define lfirst_int(lc) ((lc)->int_value)
#define lfirst_oid(lc) ((lc)->oid_value)
#define lfirst_xid(lc) ((lc)->xid_value)
#define lfirst_node(type, lc) castNode(type, lfirst(lc))

static inline int
list_length(const List *l)
{
	return l ? l->length : 0;
}

static inline ListCell *
list_head(const List *l)
{
	return l ? &l->elements[0] : NULL;
}

static inline ListCell *
list_tail(const List *l)
{
	return l ? &l->elements[l->length - 1] : NULL;
}

static inline ListCell *
list_second_cell(const List *l)
{
	return (l && l->length >= 2) ? &l->elements[1] : NULL;
}

static inline ListCell *
list_nth_cell(const List *list, int n)
{
	Assert(list != NIL && n >= 0 && n < list->length);
	return &list->elements[n];
}

/* The cell after c in l, or NULL. */
static inline ListCell *
lnext(const List *l, const ListCell *c)
{
	c++;
	return (c < &l->elements[l->length]) ? (ListCell *) c : NULL;
}

static inline int
list_cell_number(const List *l, const ListCell *c)
{
	return (int) (c - l->elements);
}

static inline void *
list_nth(const List *list, int n)
{
	Assert(IsA(list, List));
	return lfirst(list_nth_cell(list, n));
}

static inline int
list_nth_int(const List *list, int n)
{
	Assert(IsA(list, IntList));
	return lfirst_int(list_nth_cell(list, n));
}

static inline Oid
list_nth_oid(const List *list, int n)
{
	Assert(IsA(list, OidList));
	return lfirst_oid(list_nth_cell(list, n));
}

#define list_nth_node(type, list, n) castNode(type, list_nth(list, n))

#define linitial(l) lfirst(list_nth_cell(l, 0))
#define linitial_int(l) lfirst_int(list_nth_cell(l, 0))
#define linitial_oid(l) lfirst_oid(list_nth_cell(l, 0))
#define linitial_node(type, l) castNode(type, linitial(l))
#define lsecond(l) lfirst(list_nth_cell(l, 1))
#define lsecond_int(l) lfirst_int(list_nth_cell(l, 1))
#define lsecond_oid(l) lfirst_oid(list_nth_cell(l, 1))
#define lthird(l) lfirst(list_nth_cell(l, 2))
#define lthird_int(l) lfirst_int(list_nth_cell(l, 2))
#define lthird_oid(l) lfirst_oid(list_nth_cell(l, 2))
#define lfourth(l) lfirst(list_nth_cell(l, 3))
#define lfourth_int(l) lfirst_int(list_nth_cell(l, 3))
#define lfourth_oid(l) lfirst_oid(list_nth_cell(l, 3))
#define llast(l) lfirst(list_last_cell(l))
#define llast_int(l) lfirst_int(list_last_cell(l))
#define llast_oid(l) lfirst_oid(list_last_cell(l))
#define llast_node(type, l) castNode(type, llast(l))

static inline ListCell *
list_last_cell(const List *list)
{
	Assert(list != NIL);
	return &list->elements[list->length - 1];
}

/* ---------- iteration ---------- */

/* for each cell of lst (NIL: none); cell is NULL after the loop ends normally. */
#define foreach(cell, lst) \
	for (ForEachState cell##__state = {(lst), 0}; \
		 (cell##__state.l != NIL && cell##__state.i < cell##__state.l->length) \
			 ? (cell = &cell##__state.l->elements[cell##__state.i], true) \
			 : (cell = NULL, false); \
		 cell##__state.i++)

/* The index of the current cell of a foreach. */
#define foreach_current_index(cell) (cell##__state.i)

/* Deletes the current cell of a foreach over lst and goes on with the next one; gives the list to use. */
#define foreach_delete_current(lst, cell) \
	(cell##__state.i--, (List *) (cell##__state.l = list_delete_cell(lst, cell)))

/* foreach over the cells of lst after initcell. */
#define for_each_from(cell, lst, N) \
	for (ForEachState cell##__state = {(lst), (N)}; \
		 (cell##__state.l != NIL && cell##__state.i < cell##__state.l->length) \
			 ? (cell = &cell##__state.l->elements[cell##__state.i], true) \
			 : (cell = NULL, false); \
		 cell##__state.i++)

/* Two lists in step, until the shorter ends. */
typedef struct ForBothState
{
	const List *l1;
	const List *l2;
	int i;
} ForBothState;

#define forboth(cell1, list1, cell2, list2) \
	for (ForBothState cell1##__state = {(list1), (list2), 0}; \
		 multi_for_advance_cell(cell1, cell1##__state, l1, i), \
		 multi_for_advance_cell(cell2, cell1##__state, l2, i), \
		 (cell1 != NULL && cell2 != NULL); \
		 cell1##__state.i++)

#define multi_for_advance_cell(cell, state, l, i) \
	(cell = (state.l != NIL && state.i < state.l->length) ? &state.l->elements[state.i] : NULL)

/* ---------- making lists ---------- */

#define list_make_ptr_cell(v) ((ListCell) {.ptr_value = (v)})
#define list_make_int_cell(v) ((ListCell) {.int_value = (v)})
#define list_make_oid_cell(v) ((ListCell) {.oid_value = (v)})
#define list_make_xid_cell(v) ((ListCell) {.xid_value = (v)})

extern List *list_make1_impl(NodeTag t, ListCell datum1);
extern List *list_make2_impl(NodeTag t, ListCell datum1, ListCell datum2);
extern List *list_make3_impl(NodeTag t, ListCell datum1, ListCell datum2, ListCell datum3);
extern List *list_make4_impl(NodeTag t, ListCell datum1, ListCell datum2, ListCell datum3, ListCell datum4);

#define list_make1(x1) list_make1_impl(T_List, list_make_ptr_cell(x1))
#define list_make2(x1, x2) list_make2_impl(T_List, list_make_ptr_cell(x1), list_make_ptr_cell(x2))
#define list_make3(x1, x2, x3) \
	list_make3_impl(T_List, list_make_ptr_cell(x1), list_make_ptr_cell(x2), list_make_ptr_cell(x3))
#define list_make4(x1, x2, x3, x4) \
	list_make4_impl(T_List, list_make_ptr_cell(x1), list_make_ptr_cell(x2), list_make_ptr_cell(x3), \
					list_make_ptr_cell(x4))
#define list_make1_int(x1) list_make1_impl(T_IntList, list_make_int_cell(x1))
#define list_make2_int(x1, x2) list_make2_impl(T_IntList, list_make_int_cell(x1), list_make_int_cell(x2))
#define list_make3_int(x1, x2, x3) \
	list_make3_impl(T_IntList, list_make_int_cell(x1), list_make_int_cell(x2), list_make_int_cell(x3))
#define list_make4_int(x1, x2, x3, x4) \
	list_make4_impl(T_IntList, list_make_int_cell(x1), list_make_int_cell(x2), list_make_int_cell(x3), \
					list_make_int_cell(x4))
#define list_make1_oid(x1) list_make1_impl(T_OidList, list_make_oid_cell(x1))
#define list_make2_oid(x1, x2) list_make2_impl(T_OidList, list_make_oid_cell(x1), list_make_oid_cell(x2))
#define list_make3_oid(x1, x2, x3) \
	list_make3_impl(T_OidList, list_make_oid_cell(x1), list_make_oid_cell(x2), list_make_oid_cell(x3))
#define list_make4_oid(x1, x2, x3, x4) \
	list_make4_impl(T_OidList, list_make_oid_cell(x1), list_make_oid_cell(x2), list_make_oid_cell(x3), \
					list_make_oid_cell(x4))

/* ---------- adding ---------- */

extern List *lappend(List *list, void *datum);
extern List *lappend_int(List *list, int datum);
extern List *lappend_oid(List *list, Oid datum);
extern List *lappend_xid(List *list, TransactionId datum);
extern List *lcons(void *datum, List *list);
extern List *lcons_int(int datum, List *list);
extern List *lcons_oid(Oid datum, List *list);
extern List *list_insert_nth(List *list, int pos, void *datum);
extern List *list_insert_nth_int(List *list, int pos, int datum);
extern List *list_insert_nth_oid(List *list, int pos, Oid datum);
/* Appends list2's cells to list1 (list2 is unchanged); returns list1 (a new list if list1 was NIL). */
extern List *list_concat(List *list1, const List *list2);
/* A new list: list1's cells then list2's. */
extern List *list_concat_copy(const List *list1, const List *list2);
extern List *list_append_unique(List *list, void *datum);
extern List *list_append_unique_ptr(List *list, void *datum);
extern List *list_append_unique_int(List *list, int datum);
extern List *list_append_unique_oid(List *list, Oid datum);

/* ---------- membership ---------- */

extern bool list_member(const List *list, const void *datum);
extern bool list_member_ptr(const List *list, const void *datum);
extern bool list_member_int(const List *list, int datum);
extern bool list_member_oid(const List *list, Oid datum);
extern bool list_member_xid(const List *list, TransactionId datum);

/* ---------- removing ---------- */

extern List *list_truncate(List *list, int new_size);
extern List *list_delete_nth_cell(List *list, int n);
extern List *list_delete_cell(List *list, ListCell *cell);
extern List *list_delete(List *list, void *datum);
extern List *list_delete_ptr(List *list, void *datum);
extern List *list_delete_int(List *list, int datum);
extern List *list_delete_oid(List *list, Oid datum);
extern List *list_delete_first(List *list);
extern List *list_delete_last(List *list);
extern List *list_delete_first_n(List *list, int n);

/* ---------- copying, freeing, sorting ---------- */

extern List *list_copy(const List *oldlist);
extern List *list_copy_head(const List *oldlist, int len);
extern List *list_copy_tail(const List *oldlist, int nskip);
extern void list_free(List *list);
/* list_free, after pfree of every element (a pointer list's). */
extern void list_free_deep(List *list);

typedef int (*list_sort_comparator)(const ListCell *a, const ListCell *b);
/* Sorts the cells in place (qsort: not stable). */
extern void list_sort(List *list, list_sort_comparator cmp);
extern int list_int_cmp(const ListCell *p1, const ListCell *p2);
extern int list_oid_cmp(const ListCell *p1, const ListCell *p2);

/* Node equality (nodes/nodes.h's equal in PostgreSQL): bgw compares lists only, see the file comment. */
extern bool equal(const void *a, const void *b);

#ifdef __cplusplus
}
#endif

#endif /* BGW_NODES_PG_LIST_H */
