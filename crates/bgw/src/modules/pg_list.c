/*
 * PostgreSQL 13+'s List (nodes/pg_list.h): a header and an array of cells, palloc'd in CurrentMemoryContext
 * when a list is made and grown in the list's own context.
 *
 * Invariants: a List is never empty (the empty list is NIL); 0 < length <= max_length; elements points at
 * initial_elements (allocated with the header) until the list outgrows them, then at a separate chunk in the
 * same memory context. Deleting cells never shrinks the allocation.
 *
 * Compiled into the host by build.rs. Runs in: any process that calls into a module.
 */
#include "postgres.h"

#include <stdlib.h>

#include "nodes/pg_list.h"
#include "utils/memutils.h"

#define LIST_HEADER_OVERHEAD ((int) ((offsetof(List, initial_elements) - 1) / sizeof(ListCell) + 1))
#define LIST_MAX_LENGTH ((int) ((Size) 0x3fffffff / sizeof(ListCell)))

static pg_attribute_unused() bool
is_pointer_list(const List *l)
{
	return l == NIL || l->type == T_List;
}

/* A new list of type t with room for at least min_size cells and length min_size. */
static List *
new_list(NodeTag type, int min_size)
{
	int max_size = 8;
	List *list;

	while (max_size < min_size + LIST_HEADER_OVERHEAD)
		max_size *= 2;
	max_size -= LIST_HEADER_OVERHEAD;
	list = (List *) palloc(offsetof(List, initial_elements) + max_size * sizeof(ListCell));
	list->type = type;
	list->length = min_size;
	list->max_length = max_size;
	list->elements = list->initial_elements;
	return list;
}

/* Makes room for at least min_size cells. */
static void
enlarge_list(List *list, int min_size)
{
	int new_max_len;

	if (min_size > LIST_MAX_LENGTH)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("list too long")));
	new_max_len = 16;
	while (new_max_len < min_size)
		new_max_len *= 2;
	if (list->elements == list->initial_elements)
	{
		list->elements = (ListCell *) MemoryContextAlloc(GetMemoryChunkContext(list), new_max_len * sizeof(ListCell));
		memcpy(list->elements, list->initial_elements, list->length * sizeof(ListCell));
	}
	else
		list->elements = (ListCell *) repalloc(list->elements, new_max_len * sizeof(ListCell));
	list->max_length = new_max_len;
}

List *
list_make1_impl(NodeTag t, ListCell datum1)
{
	List *list = new_list(t, 1);

	list->elements[0] = datum1;
	return list;
}

List *
list_make2_impl(NodeTag t, ListCell datum1, ListCell datum2)
{
	List *list = new_list(t, 2);

	list->elements[0] = datum1;
	list->elements[1] = datum2;
	return list;
}

List *
list_make3_impl(NodeTag t, ListCell datum1, ListCell datum2, ListCell datum3)
{
	List *list = new_list(t, 3);

	list->elements[0] = datum1;
	list->elements[1] = datum2;
	list->elements[2] = datum3;
	return list;
}

List *
list_make4_impl(NodeTag t, ListCell datum1, ListCell datum2, ListCell datum3, ListCell datum4)
{
	List *list = new_list(t, 4);

	list->elements[0] = datum1;
	list->elements[1] = datum2;
	list->elements[2] = datum3;
	list->elements[3] = datum4;
	return list;
}

/* A new cell at the end of list (made of type t if NIL); returns the list. */
static List *
append_cell(List *list, NodeTag t, ListCell **cell)
{
	if (list == NIL)
		list = new_list(t, 1);
	else
	{
		Assert(list->type == t);
		if (list->length >= list->max_length)
			enlarge_list(list, list->length + 1);
		list->length++;
	}
	*cell = &list->elements[list->length - 1];
	return list;
}

/* A new cell at position pos (0..length), the later ones moved up. */
static List *
insert_cell(List *list, NodeTag t, int pos, ListCell **cell)
{
	if (pos < 0 || pos > list_length(list))
		elog(ERROR, "list position %d out of range", pos);
	if (list == NIL)
		list = new_list(t, 1);
	else
	{
		if (list->length >= list->max_length)
			enlarge_list(list, list->length + 1);
		memmove(&list->elements[pos + 1], &list->elements[pos], (list->length - pos) * sizeof(ListCell));
		list->length++;
	}
	*cell = &list->elements[pos];
	return list;
}

List *
lappend(List *list, void *datum)
{
	ListCell *c;

	list = append_cell(list, T_List, &c);
	c->ptr_value = datum;
	return list;
}

List *
lappend_int(List *list, int datum)
{
	ListCell *c;

	list = append_cell(list, T_IntList, &c);
	c->int_value = datum;
	return list;
}

List *
lappend_oid(List *list, Oid datum)
{
	ListCell *c;

	list = append_cell(list, T_OidList, &c);
	c->oid_value = datum;
	return list;
}

List *
lappend_xid(List *list, TransactionId datum)
{
	ListCell *c;

	list = append_cell(list, T_XidList, &c);
	c->xid_value = datum;
	return list;
}

List *
list_insert_nth(List *list, int pos, void *datum)
{
	ListCell *c;

	list = insert_cell(list, T_List, pos, &c);
	c->ptr_value = datum;
	return list;
}

List *
list_insert_nth_int(List *list, int pos, int datum)
{
	ListCell *c;

	list = insert_cell(list, T_IntList, pos, &c);
	c->int_value = datum;
	return list;
}

List *
list_insert_nth_oid(List *list, int pos, Oid datum)
{
	ListCell *c;

	list = insert_cell(list, T_OidList, pos, &c);
	c->oid_value = datum;
	return list;
}

List *
lcons(void *datum, List *list)
{
	return list_insert_nth(list, 0, datum);
}

List *
lcons_int(int datum, List *list)
{
	return list_insert_nth_int(list, 0, datum);
}

List *
lcons_oid(Oid datum, List *list)
{
	return list_insert_nth_oid(list, 0, datum);
}

List *
list_concat(List *list1, const List *list2)
{
	int new_len;

	if (list1 == NIL)
		return list_copy(list2);
	if (list2 == NIL)
		return list1;
	Assert(list1->type == list2->type);
	new_len = list1->length + list2->length;
	if (new_len > list1->max_length)
		enlarge_list(list1, new_len);
	/* memcpy is right even when list2 is list1: the source cells are not overwritten */
	memcpy(&list1->elements[list1->length], &list2->elements[0], list2->length * sizeof(ListCell));
	list1->length = new_len;
	return list1;
}

List *
list_concat_copy(const List *list1, const List *list2)
{
	List *result;

	if (list1 == NIL)
		return list_copy(list2);
	if (list2 == NIL)
		return list_copy(list1);
	result = new_list(list1->type, list1->length + list2->length);
	memcpy(result->elements, list1->elements, list1->length * sizeof(ListCell));
	memcpy(result->elements + list1->length, list2->elements, list2->length * sizeof(ListCell));
	return result;
}

/* ---------- equality and membership ---------- */

bool
equal(const void *a, const void *b)
{
	const List *la = a;
	const List *lb = b;
	int i;

	if (a == b)
		return true;
	if (a == NULL || b == NULL)
		return false;
	if (nodeTag(a) != nodeTag(b))
		return false;
	switch (nodeTag(a))
	{
		case T_List:
		case T_IntList:
		case T_OidList:
		case T_XidList:
			if (la->length != lb->length)
				return false;
			for (i = 0; i < la->length; i++)
			{
				const ListCell *x = &la->elements[i];
				const ListCell *y = &lb->elements[i];

				if (la->type == T_List ? !equal(x->ptr_value, y->ptr_value)
					: la->type == T_IntList ? x->int_value != y->int_value
					: la->type == T_OidList ? x->oid_value != y->oid_value
											: x->xid_value != y->xid_value)
					return false;
			}
			return true;
		default:
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							errmsg("equal() of node type %d is not supported by bgw (only lists are nodes)",
								   (int) nodeTag(a))));
			return false;
	}
}

bool
list_member(const List *list, const void *datum)
{
	ListCell *c;

	Assert(is_pointer_list(list));
	foreach(c, list)
		if (equal(lfirst(c), datum))
			return true;
	return false;
}

bool
list_member_ptr(const List *list, const void *datum)
{
	ListCell *c;

	Assert(is_pointer_list(list));
	foreach(c, list)
		if (lfirst(c) == datum)
			return true;
	return false;
}

bool
list_member_int(const List *list, int datum)
{
	ListCell *c;

	foreach(c, list)
		if (lfirst_int(c) == datum)
			return true;
	return false;
}

bool
list_member_oid(const List *list, Oid datum)
{
	ListCell *c;

	foreach(c, list)
		if (lfirst_oid(c) == datum)
			return true;
	return false;
}

bool
list_member_xid(const List *list, TransactionId datum)
{
	ListCell *c;

	foreach(c, list)
		if (lfirst_xid(c) == datum)
			return true;
	return false;
}

List *
list_append_unique(List *list, void *datum)
{
	return list_member(list, datum) ? list : lappend(list, datum);
}

List *
list_append_unique_ptr(List *list, void *datum)
{
	return list_member_ptr(list, datum) ? list : lappend(list, datum);
}

List *
list_append_unique_int(List *list, int datum)
{
	return list_member_int(list, datum) ? list : lappend_int(list, datum);
}

List *
list_append_unique_oid(List *list, Oid datum)
{
	return list_member_oid(list, datum) ? list : lappend_oid(list, datum);
}

/* ---------- removing ---------- */

List *
list_truncate(List *list, int new_size)
{
	if (new_size <= 0)
		return NIL;
	if (list != NIL && new_size < list->length)
		list->length = new_size;
	return list;
}

List *
list_delete_nth_cell(List *list, int n)
{
	Assert(list != NIL && n >= 0 && n < list->length);
	if (list->length == 1)
	{
		list_free(list);
		return NIL;
	}
	memmove(&list->elements[n], &list->elements[n + 1], (list->length - 1 - n) * sizeof(ListCell));
	list->length--;
	return list;
}

List *
list_delete_cell(List *list, ListCell *cell)
{
	return list_delete_nth_cell(list, (int) (cell - list->elements));
}

List *
list_delete(List *list, void *datum)
{
	ListCell *c;

	foreach(c, list)
		if (equal(lfirst(c), datum))
			return list_delete_cell(list, c);
	return list;
}

List *
list_delete_ptr(List *list, void *datum)
{
	ListCell *c;

	foreach(c, list)
		if (lfirst(c) == datum)
			return list_delete_cell(list, c);
	return list;
}

List *
list_delete_int(List *list, int datum)
{
	ListCell *c;

	foreach(c, list)
		if (lfirst_int(c) == datum)
			return list_delete_cell(list, c);
	return list;
}

List *
list_delete_oid(List *list, Oid datum)
{
	ListCell *c;

	foreach(c, list)
		if (lfirst_oid(c) == datum)
			return list_delete_cell(list, c);
	return list;
}

List *
list_delete_first(List *list)
{
	return list == NIL ? NIL : list_delete_nth_cell(list, 0);
}

List *
list_delete_last(List *list)
{
	if (list == NIL)
		return NIL;
	if (list->length == 1)
	{
		list_free(list);
		return NIL;
	}
	list->length--;
	return list;
}

List *
list_delete_first_n(List *list, int n)
{
	if (n <= 0)
		return list;
	if (list == NIL || n >= list->length)
	{
		list_free(list);
		return NIL;
	}
	memmove(&list->elements[0], &list->elements[n], (list->length - n) * sizeof(ListCell));
	list->length -= n;
	return list;
}

/* ---------- copying, freeing, sorting ---------- */

List *
list_copy(const List *oldlist)
{
	List *newlist;

	if (oldlist == NIL)
		return NIL;
	newlist = new_list(oldlist->type, oldlist->length);
	memcpy(newlist->elements, oldlist->elements, newlist->length * sizeof(ListCell));
	return newlist;
}

List *
list_copy_head(const List *oldlist, int len)
{
	List *newlist;

	if (oldlist == NIL || len <= 0)
		return NIL;
	if (len > oldlist->length)
		len = oldlist->length;
	newlist = new_list(oldlist->type, len);
	memcpy(newlist->elements, oldlist->elements, len * sizeof(ListCell));
	return newlist;
}

List *
list_copy_tail(const List *oldlist, int nskip)
{
	List *newlist;

	if (nskip < 0)
		nskip = 0;
	if (oldlist == NIL || nskip >= oldlist->length)
		return NIL;
	newlist = new_list(oldlist->type, oldlist->length - nskip);
	memcpy(newlist->elements, &oldlist->elements[nskip], newlist->length * sizeof(ListCell));
	return newlist;
}

static void
list_free_private(List *list, bool deep)
{
	int i;

	if (list == NIL)
		return;
	if (deep)
		for (i = 0; i < list->length; i++)
			if (list->elements[i].ptr_value != NULL)
				pfree(list->elements[i].ptr_value);
	if (list->elements != list->initial_elements)
		pfree(list->elements);
	pfree(list);
}

void
list_free(List *list)
{
	list_free_private(list, false);
}

void
list_free_deep(List *list)
{
	Assert(is_pointer_list(list));
	list_free_private(list, true);
}

void
list_sort(List *list, list_sort_comparator cmp)
{
	if (list_length(list) > 1)
		qsort(list->elements, list->length, sizeof(ListCell), (int (*)(const void *, const void *)) cmp);
}

int
list_int_cmp(const ListCell *p1, const ListCell *p2)
{
	int v1 = lfirst_int(p1);
	int v2 = lfirst_int(p2);

	return (v1 > v2) - (v1 < v2);
}

int
list_oid_cmp(const ListCell *p1, const ListCell *p2)
{
	Oid v1 = lfirst_oid(p1);
	Oid v2 = lfirst_oid(p2);

	return (v1 > v2) - (v1 < v2);
}
