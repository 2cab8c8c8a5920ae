/*
 * lib/stringinfo.h: growable strings in palloc'd memory.
 *
 * data is always NUL-terminated; len is its length, maxlen the allocated size. The buffer belongs to the memory
 * context that was current when initStringInfo / makeStringInfo ran. Growing past 1 GB is an ERROR.
 */
#ifndef BGW_LIB_STRINGINFO_H
#define BGW_LIB_STRINGINFO_H

#include "postgres.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct StringInfoData
{
	char *data;
	int len;
	int maxlen;
	int cursor;
} StringInfoData;

typedef StringInfoData *StringInfo;

extern StringInfo makeStringInfo(void);
extern void initStringInfo(StringInfo str);
extern void resetStringInfo(StringInfo str);
extern void appendStringInfo(StringInfo str, const char *fmt, ...) pg_attribute_printf(2, 3);
/* Appends if the result fits; else returns the space needed (enlarge and call again with a fresh va_list). */
extern int appendStringInfoVA(StringInfo str, const char *fmt, va_list args) pg_attribute_printf(2, 0);
extern void appendStringInfoString(StringInfo str, const char *s);
extern void appendStringInfoChar(StringInfo str, char ch);
extern void appendStringInfoSpaces(StringInfo str, int count);
extern void appendBinaryStringInfo(StringInfo str, const char *data, int datalen);
extern void appendBinaryStringInfoNT(StringInfo str, const char *data, int datalen);
extern void enlargeStringInfo(StringInfo str, int needed);

#define appendStringInfoCharMacro(str, ch) \
	(((str)->len + 1 >= (str)->maxlen) ? appendStringInfoChar(str, ch) \
									   : (void) ((str)->data[(str)->len] = (ch), (str)->data[++(str)->len] = '\0'))

#ifdef __cplusplus
}
#endif

#endif /* BGW_LIB_STRINGINFO_H */
