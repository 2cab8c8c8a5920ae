/*
 * Splitting list-valued strings (utils/varlena.h), case-insensitive comparison, pg_usleep and
 * canonicalize_path (port.h).
 *
 * The split functions share one scanner (split_list) that follows PostgreSQL's rules, described in
 * utils/varlena.h; the three differ in what they do with an unquoted item and with each finished name.
 *
 * Compiled into the host by build.rs. Runs in: any process that calls into a module.
 */
#include "postgres.h"

#include <ctype.h>
#include <time.h>

#include "nodes/pg_list.h"
#include "utils/varlena.h"

/* The lexer's whitespace. */
static bool
is_scanner_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f';
}

/* The byte length of at most max bytes of s that ends at a UTF-8 character boundary. */
static int
clip_utf8(const char *s, int len, int max)
{
	if (len <= max)
		return len;
	while (max > 0 && (((unsigned char) s[max]) & 0xC0) == 0x80)
		max--;
	return max;
}

typedef enum SplitKind
{
	SPLIT_IDENTIFIERS,
	SPLIT_DIRECTORIES,
	SPLIT_GUC_LIST,
} SplitKind;

static bool
split_list(char *rawstring, char separator, List **namelist, SplitKind kind)
{
	char *nextp = rawstring;

	*namelist = NIL;
	while (is_scanner_space(*nextp))
		nextp++;
	if (*nextp == '\0')
		return true;

	for (;;)
	{
		char *curname;
		char *endp;
		bool last;

		if (*nextp == '"')
		{
			/* quoted: up to the closing quote, a doubled quote standing for one */
			curname = nextp + 1;
			for (;;)
			{
				endp = strchr(nextp + 1, '"');
				if (endp == NULL)
					return false;
				if (endp[1] != '"')
					break;
				memmove(endp, endp + 1, strlen(endp));
				nextp = endp;
			}
			nextp = endp + 1;
		}
		else if (kind == SPLIT_DIRECTORIES)
		{
			/* unquoted directory: up to the separator, its trailing whitespace left out */
			curname = nextp;
			endp = nextp;
			while (*nextp && *nextp != separator)
			{
				if (!is_scanner_space(*nextp))
					endp = nextp + 1;
				nextp++;
			}
			if (curname == endp)
				return false;
		}
		else
		{
			/* unquoted name: up to the separator or whitespace */
			curname = nextp;
			while (*nextp && *nextp != separator && !is_scanner_space(*nextp))
				nextp++;
			endp = nextp;
			if (curname == endp)
				return false;
			if (kind == SPLIT_IDENTIFIERS)
			{
				char *p;

				for (p = curname; p < endp; p++)
					if (*p >= 'A' && *p <= 'Z')
						*p += 'a' - 'A';
			}
		}

		while (is_scanner_space(*nextp))
			nextp++;
		if (*nextp == separator)
		{
			nextp++;
			while (is_scanner_space(*nextp))
				nextp++;
			last = false;
		}
		else if (*nextp == '\0')
			last = true;
		else
			return false;

		*endp = '\0';
		if (kind == SPLIT_IDENTIFIERS)
			curname[clip_utf8(curname, (int) strlen(curname), NAMEDATALEN - 1)] = '\0';
		if (kind == SPLIT_DIRECTORIES)
		{
			if (strlen(curname) >= MAXPGPATH)
				curname[MAXPGPATH - 1] = '\0';
			curname = pstrdup(curname);
			canonicalize_path(curname);
		}
		*namelist = lappend(*namelist, curname);
		if (last)
			return true;
	}
}

bool
SplitIdentifierString(char *rawstring, char separator, List **namelist)
{
	return split_list(rawstring, separator, namelist, SPLIT_IDENTIFIERS);
}

bool
SplitDirectoriesString(char *rawstring, char separator, List **namelist)
{
	return split_list(rawstring, separator, namelist, SPLIT_DIRECTORIES);
}

bool
SplitGUCList(char *rawstring, char separator, List **namelist)
{
	return split_list(rawstring, separator, namelist, SPLIT_GUC_LIST);
}

/* ---------- port.h ---------- */

unsigned char
pg_ascii_toupper(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') ? ch - ('a' - 'A') : ch;
}

unsigned char
pg_ascii_tolower(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch;
}

unsigned char
pg_toupper(unsigned char ch)
{
	if (ch >= 'a' && ch <= 'z')
		return ch - ('a' - 'A');
	if (ch >= 0x80 && islower(ch))
		return (unsigned char) toupper(ch);
	return ch;
}

unsigned char
pg_tolower(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch + ('a' - 'A');
	if (ch >= 0x80 && isupper(ch))
		return (unsigned char) tolower(ch);
	return ch;
}

int
pg_strncasecmp(const char *s1, const char *s2, size_t n)
{
	while (n-- > 0)
	{
		unsigned char ch1 = pg_tolower((unsigned char) *s1++);
		unsigned char ch2 = pg_tolower((unsigned char) *s2++);

		if (ch1 != ch2)
			return (int) ch1 - (int) ch2;
		if (ch1 == 0)
			break;
	}
	return 0;
}

int
pg_strcasecmp(const char *s1, const char *s2)
{
	return pg_strncasecmp(s1, s2, (size_t) -1);
}

void
pg_usleep(long microsec)
{
	struct timespec delay;

	if (microsec <= 0)
		return;
	delay.tv_sec = microsec / 1000000L;
	delay.tv_nsec = (microsec % 1000000L) * 1000;
	(void) nanosleep(&delay, NULL);
}

void
canonicalize_path(char *path)
{
	bool absolute = path[0] == '/';
	char *out = path;
	char *comp[MAXPGPATH / 2 + 1];
	int lens[MAXPGPATH / 2 + 1];
	int depth = 0;
	int i;
	char *p;
	char *copy;

	if (*path == '\0')
		return;
	copy = pstrdup(path);
	p = copy;
	while (*p)
	{
		char *start;
		int len;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && *p != '/')
			p++;
		len = (int) (p - start);
		if (len == 1 && start[0] == '.')
			continue;
		if (len == 2 && start[0] == '.' && start[1] == '.')
		{
			if (depth > 0 && !(lens[depth - 1] == 2 && strncmp(comp[depth - 1], "..", 2) == 0))
			{
				depth--;
				continue;
			}
			if (absolute)
				continue; /* "/.." is "/" */
		}
		if (depth >= (int) lengthof(comp))
			break; /* longer than MAXPGPATH: the rest is dropped */
		comp[depth] = start;
		lens[depth] = len;
		depth++;
	}
	if (absolute)
		*out++ = '/';
	for (i = 0; i < depth; i++)
	{
		if (i > 0)
			*out++ = '/';
		memcpy(out, comp[i], lens[i]);
		out += lens[i];
	}
	if (out == path)
		*out++ = '.';
	*out = '\0';
	pfree(copy);
}
