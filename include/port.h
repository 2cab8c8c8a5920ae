/*
 * port.h: portable string and sleep helpers (included by c.h, as PostgreSQL's c.h includes it).
 *
 * Implemented in crates/bgw/src/modules/pg_varlena.c.
 */
#ifndef BGW_PORT_H
#define BGW_PORT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Case-insensitive comparisons as PostgreSQL's: ASCII letters fold; a byte with the high bit set folds only if
 * the C library's isupper says so (single-byte locales). */
extern int pg_strcasecmp(const char *s1, const char *s2);
extern int pg_strncasecmp(const char *s1, const char *s2, size_t n);
extern unsigned char pg_toupper(unsigned char ch);
extern unsigned char pg_tolower(unsigned char ch);
extern unsigned char pg_ascii_toupper(unsigned char ch);
extern unsigned char pg_ascii_tolower(unsigned char ch);

/* Sleeps microsec microseconds (nanosleep, once): as PostgreSQL's, a signal may end it early, and it does not
 * wake on the latch or check for interrupts (use WaitLatch with WL_TIMEOUT in a loop that must stay responsive). */
extern void pg_usleep(long microsec);

/* Makes path canonical in place: '\\' is kept, repeated '/' collapse, "." components go, ".." removes the
 * component before it where there is one, and a trailing '/' goes (except the root's). */
extern void canonicalize_path(char *path);

#ifdef __cplusplus
}
#endif

#endif /* BGW_PORT_H */
