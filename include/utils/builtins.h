/*
 * utils/builtins.h: the built-in helpers extensions call: quoting, text conversion.
 */
#ifndef BGW_UTILS_BUILTINS_H
#define BGW_UTILS_BUILTINS_H

#include "fmgr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ident as PostgreSQL quotes it: unchanged if it is a lower-case name that is not a reserved word, else in
 * double quotes with inner quotes doubled. Returns ident itself or a palloc'd string. */
extern const char *quote_identifier(const char *ident);
/* "schema.ident", each part quoted as needed, palloc'd. */
extern char *quote_qualified_identifier(const char *qualifier, const char *ident);
/* A SQL literal ('...' with quotes and backslashes doubled, E'...' if it has a backslash), palloc'd. */
extern char *quote_literal_cstr(const char *rawstr);

extern text *cstring_to_text(const char *s);
extern text *cstring_to_text_with_len(const char *s, int len);
extern char *text_to_cstring(const text *t);
extern void text_to_cstring_buffer(const text *src, char *dst, size_t dst_len);

#define CStringGetTextDatum(s) PointerGetDatum(cstring_to_text(s))
#define TextDatumGetCString(d) text_to_cstring((text *) DatumGetPointer(d))

#ifdef __cplusplus
}
#endif

#endif /* BGW_UTILS_BUILTINS_H */
