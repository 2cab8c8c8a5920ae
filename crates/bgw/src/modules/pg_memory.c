/*
 * Memory for modules: memory contexts and palloc (utils/palloc.h, utils/memutils.h), StringInfo
 * (lib/stringinfo.h), and the text and quoting helpers of utils/builtins.h.
 *
 * Compiled into the host by build.rs. A context is a node of a tree (parent, first child, siblings) holding a
 * doubly linked list of its chunks. Each chunk is one malloc'ed block: a header (its context, its neighbours,
 * its size) and then the caller's memory; the header's last word is a magic number, so pfree can tell a chunk
 * from memory the host malloc'ed for the module (a worker handle: PostgreSQL code pfrees it) and free that
 * with free(). Resetting a context frees its chunks and deletes its children; deleting it also unlinks and
 * frees it. TopMemoryContext and ErrorContext are static (they exist before main runs); a child process inherits
 * its parent's contexts, as a forked PostgreSQL process does.
 *
 * Out of memory is an ERROR (53200 "out of memory", with a DETAIL naming the request), as in PostgreSQL.
 *
 * Runs in: any process that calls into a module (modules are called from one thread).
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#define CHUNK_MAGIC UINT64_C(0x6267774368756e6b) /* "bgwChunk" */

typedef struct Chunk
{
	MemoryContext context;
	struct Chunk *prev;
	struct Chunk *next;
	Size size;
	uint64 pad;
	uint64 magic; /* last: directly before the caller's memory */
} Chunk;

_Static_assert(sizeof(Chunk) % 16 == 0, "chunk headers keep malloc's alignment");

struct MemoryContextData
{
	const char *name;
	const char *ident;
	MemoryContext parent;
	MemoryContext firstchild;
	MemoryContext prevchild;
	MemoryContext nextchild;
	Chunk *chunks;
	Size allocated;
	MemoryContextCallback *reset_cbs;
	bool is_static;
};

static struct MemoryContextData top_context = {.name = "TopMemoryContext", .is_static = true};
static struct MemoryContextData error_context = {.name = "ErrorContext", .is_static = true};
static struct MemoryContextData transaction_context = {.name = "TopTransactionContext", .is_static = true};

MemoryContext TopMemoryContext = &top_context;
MemoryContext CurrentMemoryContext = &top_context;
MemoryContext ErrorContext = &error_context;
MemoryContext PostmasterContext = NULL;
MemoryContext CacheMemoryContext = &top_context;
MemoryContext MessageContext = NULL;
MemoryContext TopTransactionContext = &transaction_context;
MemoryContext CurTransactionContext = &transaction_context;
MemoryContext PortalContext = NULL;

/* The static contexts hang under TopMemoryContext, linked at start. */
__attribute__((constructor)) static void
link_static_contexts(void)
{
	error_context.parent = &top_context;
	transaction_context.parent = &top_context;
	top_context.firstchild = &error_context;
	error_context.nextchild = &transaction_context;
	transaction_context.prevchild = &error_context;
}

static void
out_of_memory(Size size)
{
	ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
					errdetail("Failed on request of size %zu in memory context \"%s\".", size,
							  CurrentMemoryContext ? CurrentMemoryContext->name : "?")));
}

static void
invalid_size(Size size)
{
	elog(ERROR, "invalid memory alloc request size %zu", size);
}

static Chunk *
chunk_of(void *pointer)
{
	return (Chunk *) ((char *) pointer - sizeof(Chunk));
}

static bool
is_chunk(void *pointer)
{
	return pointer != NULL && chunk_of(pointer)->magic == CHUNK_MAGIC;
}

static void
link_chunk(MemoryContext context, Chunk *c)
{
	c->context = context;
	c->prev = NULL;
	c->next = context->chunks;
	if (context->chunks)
		context->chunks->prev = c;
	context->chunks = c;
	context->allocated += c->size;
}

static void
unlink_chunk(Chunk *c)
{
	MemoryContext context = c->context;

	if (c->prev)
		c->prev->next = c->next;
	else
		context->chunks = c->next;
	if (c->next)
		c->next->prev = c->prev;
	context->allocated -= c->size;
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	Chunk *c;

	if (context == NULL)
		elog(ERROR, "memory allocation in a NULL memory context");
	if ((flags & MCXT_ALLOC_HUGE) ? !AllocHugeSizeIsValid(size) : !AllocSizeIsValid(size))
		invalid_size(size);
	c = (flags & MCXT_ALLOC_ZERO) ? calloc(1, sizeof(Chunk) + size) : malloc(sizeof(Chunk) + size);
	if (c == NULL)
	{
		if (flags & MCXT_ALLOC_NO_OOM)
			return NULL;
		out_of_memory(size);
	}
	c->size = size;
	c->pad = 0;
	c->magic = CHUNK_MAGIC;
	link_chunk(context, c);
	return (char *) c + sizeof(Chunk);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return MemoryContextAllocExtended(context, size, 0);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return MemoryContextAllocExtended(context, size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocZeroAligned(MemoryContext context, Size size)
{
	return MemoryContextAllocExtended(context, size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return MemoryContextAllocExtended(context, size, MCXT_ALLOC_HUGE);
}

void *
palloc(Size size)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size, 0);
}

void *
palloc0(Size size)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size, MCXT_ALLOC_ZERO);
}

void *
palloc_extended(Size size, int flags)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size, flags);
}

void
pfree(void *pointer)
{
	Chunk *c;

	if (pointer == NULL)
		elog(ERROR, "pfree called with a NULL pointer");
	if (!is_chunk(pointer))
	{
		/* Memory the host malloc'ed for the module (see the file comment). */
		free(pointer);
		return;
	}
	c = chunk_of(pointer);
	unlink_chunk(c);
	c->magic = 0;
	free(c);
}

static void *
realloc_chunk(void *pointer, Size size, bool huge)
{
	Chunk *c;
	Chunk *moved;
	MemoryContext context;

	if (huge ? !AllocHugeSizeIsValid(size) : !AllocSizeIsValid(size))
		invalid_size(size);
	if (!is_chunk(pointer))
		elog(ERROR, "repalloc called with a pointer palloc did not return");
	c = chunk_of(pointer);
	context = c->context;
	unlink_chunk(c);
	moved = realloc(c, sizeof(Chunk) + size);
	if (moved == NULL)
	{
		link_chunk(context, c);
		out_of_memory(size);
	}
	moved->size = size;
	link_chunk(context, moved);
	return (char *) moved + sizeof(Chunk);
}

void *
repalloc(void *pointer, Size size)
{
	return realloc_chunk(pointer, size, false);
}

void *
repalloc_huge(void *pointer, Size size)
{
	return realloc_chunk(pointer, size, true);
}

MemoryContext
GetMemoryChunkContext(void *pointer)
{
	return is_chunk(pointer) ? chunk_of(pointer)->context : NULL;
}

bool
MemoryContextContains(MemoryContext context, void *pointer)
{
	return is_chunk(pointer) && chunk_of(pointer)->context == context;
}

/* ---------- the context tree ---------- */

static void
unlink_context(MemoryContext context)
{
	MemoryContext parent = context->parent;

	if (parent == NULL)
		return;
	if (context->prevchild)
		context->prevchild->nextchild = context->nextchild;
	else
		parent->firstchild = context->nextchild;
	if (context->nextchild)
		context->nextchild->prevchild = context->prevchild;
	context->parent = context->prevchild = context->nextchild = NULL;
}

static void
link_context(MemoryContext context, MemoryContext parent)
{
	context->parent = parent;
	context->prevchild = NULL;
	context->nextchild = parent ? parent->firstchild : NULL;
	if (parent)
	{
		if (parent->firstchild)
			parent->firstchild->prevchild = context;
		parent->firstchild = context;
	}
}

MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name, Size minContextSize, Size initBlockSize,
							  Size maxBlockSize)
{
	MemoryContext context;

	(void) minContextSize;
	(void) initBlockSize;
	(void) maxBlockSize;
	context = calloc(1, sizeof(struct MemoryContextData));
	if (context == NULL)
	{
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
						errdetail("Failed while creating memory context \"%s\".", name ? name : "?")));
	}
	context->name = name;
	link_context(context, parent);
	return context;
}

static void
run_reset_callbacks(MemoryContext context)
{
	MemoryContextCallback *cb;

	while ((cb = context->reset_cbs) != NULL)
	{
		context->reset_cbs = cb->next;
		cb->func(cb->arg);
	}
}

void
MemoryContextRegisterResetCallback(MemoryContext context, MemoryContextCallback *cb)
{
	cb->next = context->reset_cbs;
	context->reset_cbs = cb;
}

void
MemoryContextResetOnly(MemoryContext context)
{
	Chunk *c;

	run_reset_callbacks(context);
	while ((c = context->chunks) != NULL)
	{
		context->chunks = c->next;
		c->magic = 0;
		free(c);
	}
	context->allocated = 0;
}

void
MemoryContextDeleteChildren(MemoryContext context)
{
	while (context->firstchild != NULL)
		MemoryContextDelete(context->firstchild);
}

void
MemoryContextResetChildren(MemoryContext context)
{
	MemoryContext child;

	for (child = context->firstchild; child != NULL; child = child->nextchild)
	{
		MemoryContextResetChildren(child);
		MemoryContextResetOnly(child);
	}
}

void
MemoryContextReset(MemoryContext context)
{
	MemoryContextDeleteChildren(context);
	MemoryContextResetOnly(context);
}

void
MemoryContextDelete(MemoryContext context)
{
	if (context == NULL || context == TopMemoryContext)
		elog(ERROR, "cannot delete %s", context == NULL ? "a NULL memory context" : "TopMemoryContext");
	if (context == CurrentMemoryContext)
		CurrentMemoryContext = context->parent ? context->parent : TopMemoryContext;
	MemoryContextReset(context);
	if (context->is_static)
		return; /* the host's own contexts stay (emptied) */
	unlink_context(context);
	free(context);
}

/* ---------- a worker's transaction (called by the host's StartTransactionCommand and friends) ---------- */

static bool in_transaction = false;

/* A transaction began: allocations go to TopTransactionContext (CurTransactionContext is the same), as after
 * PostgreSQL's StartTransactionCommand. */
void
bgw_transaction_memory_begin(void)
{
	if (in_transaction)
		return;
	in_transaction = true;
	CurrentMemoryContext = TopTransactionContext;
}

/* The transaction ended (committed or rolled back): back in TopMemoryContext, and what lived in the
 * transaction's contexts (their chunks and child contexts) is freed, as PostgreSQL does at the end of a
 * transaction. */
void
bgw_transaction_memory_end(void)
{
	if (!in_transaction)
		return;
	in_transaction = false;
	CurrentMemoryContext = TopMemoryContext;
	MemoryContextReset(TopTransactionContext);
}

void
MemoryContextSetParent(MemoryContext context, MemoryContext new_parent)
{
	if (context == new_parent)
		return;
	unlink_context(context);
	link_context(context, new_parent);
}

void
MemoryContextSetIdentifier(MemoryContext context, const char *id)
{
	context->ident = id;
}

MemoryContext
MemoryContextGetParent(MemoryContext context)
{
	return context->parent;
}

bool
MemoryContextIsEmpty(MemoryContext context)
{
	return context->chunks == NULL && context->firstchild == NULL;
}

Size
MemoryContextMemAllocated(MemoryContext context, bool recurse)
{
	Size total = context->allocated;
	MemoryContext child;

	if (recurse)
		for (child = context->firstchild; child != NULL; child = child->nextchild)
			total += MemoryContextMemAllocated(child, true);
	return total;
}

/* ---------- strings ---------- */

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	Size len = strlen(string) + 1;
	char *out = MemoryContextAlloc(context, len);

	memcpy(out, string, len);
	return out;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size len)
{
	char *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

char *
pchomp(const char *in)
{
	size_t n = strlen(in);

	while (n > 0 && in[n - 1] == '\n')
		n--;
	return pnstrdup(in, n);
}

size_t
pvsnprintf(char *buf, size_t len, const char *fmt, va_list args)
{
	int n = vsnprintf(buf, len, fmt, args);

	if (n < 0)
		elog(ERROR, "vsnprintf failed: %m with format string \"%s\"", fmt);
	if ((size_t) n < len)
		return 0;
	if ((size_t) n >= MaxAllocSize)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("out of memory")));
	return (size_t) n + 1;
}

char *
psprintf(const char *fmt, ...)
{
	size_t len = 128;

	for (;;)
	{
		char *buf = palloc(len);
		va_list ap;
		size_t needed;

		va_start(ap, fmt);
		needed = pvsnprintf(buf, len, fmt, ap);
		va_end(ap);
		if (needed == 0)
			return buf;
		pfree(buf);
		len = needed;
	}
}

/* ---------- StringInfo ---------- */

StringInfo
makeStringInfo(void)
{
	StringInfo s = palloc(sizeof(StringInfoData));

	initStringInfo(s);
	return s;
}

void
initStringInfo(StringInfo str)
{
	str->maxlen = 1024;
	str->data = palloc(str->maxlen);
	resetStringInfo(str);
}

void
resetStringInfo(StringInfo str)
{
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	int newlen;

	if (needed < 0 || (Size) needed >= MaxAllocSize - (Size) str->len)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("out of memory"),
						errdetail("Cannot enlarge string buffer containing %d bytes by %d more bytes.", str->len,
								  needed)));
	needed += str->len + 1;
	if (needed <= str->maxlen)
		return;
	newlen = 2 * str->maxlen;
	while (needed > newlen)
		newlen = 2 * newlen;
	if ((Size) newlen > MaxAllocSize)
		newlen = (int) MaxAllocSize;
	str->data = repalloc(str->data, newlen);
	str->maxlen = newlen;
}

int
appendStringInfoVA(StringInfo str, const char *fmt, va_list args)
{
	int avail = str->maxlen - str->len;
	size_t needed;

	if (avail < 16)
		return 32;
	needed = pvsnprintf(str->data + str->len, (size_t) avail, fmt, args);
	if (needed == 0)
	{
		str->len += (int) strlen(str->data + str->len);
		return 0;
	}
	str->data[str->len] = '\0';
	return (int) needed;
}

void
appendStringInfo(StringInfo str, const char *fmt, ...)
{
	int save_errno = errno;

	for (;;)
	{
		va_list ap;
		int needed;

		errno = save_errno;
		va_start(ap, fmt);
		needed = appendStringInfoVA(str, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(str, needed);
	}
}

void
appendBinaryStringInfoNT(StringInfo str, const char *data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
}

void
appendBinaryStringInfo(StringInfo str, const char *data, int datalen)
{
	appendBinaryStringInfoNT(str, data, datalen);
	str->data[str->len] = '\0';
}

void
appendStringInfoString(StringInfo str, const char *s)
{
	appendBinaryStringInfo(str, s, (int) strlen(s));
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	if (str->len + 1 >= str->maxlen)
		enlargeStringInfo(str, 1);
	str->data[str->len] = ch;
	str->len++;
	str->data[str->len] = '\0';
}

void
appendStringInfoSpaces(StringInfo str, int count)
{
	if (count <= 0)
		return;
	enlargeStringInfo(str, count);
	memset(str->data + str->len, ' ', count);
	str->len += count;
	str->data[str->len] = '\0';
}

/* ---------- text ---------- */

text *
cstring_to_text_with_len(const char *s, int len)
{
	text *t = palloc(len + VARHDRSZ);

	SET_VARSIZE(t, len + VARHDRSZ);
	memcpy(VARDATA(t), s, len);
	return t;
}

text *
cstring_to_text(const char *s)
{
	return cstring_to_text_with_len(s, (int) strlen(s));
}

char *
text_to_cstring(const text *t)
{
	int len = VARSIZE_ANY_EXHDR(t);
	char *out = palloc(len + 1);

	memcpy(out, VARDATA_ANY(t), len);
	out[len] = '\0';
	return out;
}

void
text_to_cstring_buffer(const text *src, char *dst, size_t dst_len)
{
	size_t len = VARSIZE_ANY_EXHDR(src);

	if (dst_len == 0)
		return;
	if (len >= dst_len)
		len = dst_len - 1;
	memcpy(dst, VARDATA_ANY(src), len);
	dst[len] = '\0';
}

struct varlena *
pg_detoast_datum_copy(struct varlena *datum)
{
	Size len = VARSIZE_ANY(datum);
	struct varlena *copy = palloc(len);

	memcpy(copy, datum, len);
	return copy;
}

/* ---------- quoting ---------- */

/* PostgreSQL 15's keywords that are not unreserved: an identifier spelled as one of them must be quoted. */
static const char *const quoted_keywords[] = {
	"all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "between",
	"bigint", "binary", "bit", "boolean", "both", "case", "cast", "char", "character", "check", "coalesce",
	"collate", "collation", "column", "concurrently", "constraint", "create", "cross", "current_catalog",
	"current_date", "current_role", "current_schema", "current_time", "current_timestamp", "current_user", "dec",
	"decimal", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "exists", "extract",
	"false", "fetch", "float", "for", "foreign", "freeze", "from", "full", "grant", "greatest", "group", "grouping",
	"having", "ilike", "in", "initially", "inner", "inout", "int", "integer", "intersect", "interval", "into", "is",
	"isnull", "join", "lateral", "leading", "least", "left", "like", "limit", "localtime", "localtimestamp",
	"national", "natural", "nchar", "none", "normalize", "not", "notnull", "null", "nullif", "numeric", "offset",
	"on", "only", "or", "order", "out", "outer", "overlaps", "overlay", "placing", "position", "precision",
	"primary", "real", "references", "returning", "right", "row", "select", "session_user", "setof", "similar",
	"smallint", "some", "substring", "symmetric", "table", "tablesample", "then", "time", "timestamp", "to",
	"trailing", "treat", "trim", "true", "union", "unique", "user", "using", "values", "varchar", "variadic",
	"verbose", "when", "where", "window", "with", "xmlattributes", "xmlconcat", "xmlelement", "xmlexists",
	"xmlforest", "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot", "xmlserialize", "xmltable",
};

static bool
is_quoted_keyword(const char *ident)
{
	size_t i;

	for (i = 0; i < lengthof(quoted_keywords); i++)
		if (strcmp(ident, quoted_keywords[i]) == 0)
			return true;
	return false;
}

const char *
quote_identifier(const char *ident)
{
	const char *p;
	bool safe = (ident[0] >= 'a' && ident[0] <= 'z') || ident[0] == '_';
	int quotes = 0;
	char *out;
	char *o;

	for (p = ident; *p; p++)
	{
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			safe = false;
		if (ch == '"')
			quotes++;
	}
	if (safe && !is_quoted_keyword(ident))
		return ident;
	out = palloc(strlen(ident) + quotes + 3);
	o = out;
	*o++ = '"';
	for (p = ident; *p; p++)
	{
		if (*p == '"')
			*o++ = '"';
		*o++ = *p;
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

char *
quote_qualified_identifier(const char *qualifier, const char *ident)
{
	if (qualifier == NULL)
		return pstrdup(quote_identifier(ident));
	return psprintf("%s.%s", quote_identifier(qualifier), quote_identifier(ident));
}

char *
quote_literal_cstr(const char *rawstr)
{
	size_t len = strlen(rawstr);
	char *out = palloc(len * 2 + 4);
	char *o = out;
	const char *p;

	if (strchr(rawstr, '\\') != NULL)
		*o++ = 'E';
	*o++ = '\'';
	for (p = rawstr; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			*o++ = *p;
		*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}
