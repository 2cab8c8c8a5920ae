/*
 * utils/varlena.h: splitting list-valued strings (parameter values such as search_path or a module's list of
 * databases) into Lists.
 *
 * Implemented in crates/bgw/src/modules/pg_varlena.c with PostgreSQL's rules: items are separated by separator
 * with any whitespace (space, tab, newline, carriage return, form feed) around them; an item may be double-quoted
 * ("" inside stands for one "); an empty unquoted item, an unterminated quote or text after a quoted item is
 * invalid (false is returned; the list may hold the items before the error). An empty or all-blank string is
 * the empty list (NIL, true).
 */
#ifndef BGW_UTILS_VARLENA_H
#define BGW_UTILS_VARLENA_H

#include "nodes/pg_list.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Identifiers: unquoted ones are downcased (ASCII letters; the server encoding is UTF-8) and may not contain
 * whitespace; each name is truncated to NAMEDATALEN-1 bytes (at a character boundary), silently. rawstring is
 * modified in place and the list's elements point into it (list_free the list, not its elements). */
extern bool SplitIdentifierString(char *rawstring, char separator, List **namelist);
/* Directory names: unquoted ones may contain inner whitespace and keep their case; each is cut at MAXPGPATH-1
 * bytes, copied (palloc) and made canonical (canonicalize_path): list_free_deep the list. */
extern bool SplitDirectoriesString(char *rawstring, char separator, List **namelist);
/* Items of a GUC_LIST_QUOTE parameter: as SplitIdentifierString, without downcasing or truncating. */
extern bool SplitGUCList(char *rawstring, char separator, List **namelist);

#ifdef __cplusplus
}
#endif

#endif /* BGW_UTILS_VARLENA_H */
