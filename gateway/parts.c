/*
 * parts.c - sl_multipart_*: a multipart/form-data body read part by
 * part through the request's body, and its text fields for sl_form_*.
 *
 * The parser (multipart.c) lives in the arena, made on first use, so a
 * request that never asks pays nothing and one that does costs the same
 * 16 KiB whatever it uploads.  Its first failure is logged here, once,
 * at info: it is the client's body that was wrong (or gone), and the
 * handler hears of it through the return codes.
 */
#include <errno.h>
#include <string.h>

#include "lazy.h"
#include "log.h"
#include "multipart.h"
#include "request.h"

_Static_assert(SL_MULTIPART_MAX_PARTS == MULTIPART_MAX_PARTS, "one limit, two names");
_Static_assert(SL_MULTIPART_MAX_HEADER_BYTES == MULTIPART_MAX_HEADER, "one limit, two names");

/* sl_multipart_text's first buffer: most fields are a word or a line. */
#define TEXT_FIRST_CHUNK 256

#define STR_(x) #x
#define STR(x) STR_(x)

static ssize_t body_read(void *arg, void *buf, size_t len)
{
	return sl_read(arg, buf, len);
}

static const char *why(int err)
{
	switch (err) {
	case EMEDIUMTYPE:
		return "its Content-Type is not multipart/form-data";
	case EBADMSG:
		return "it is not well-formed multipart/form-data";
	case E2BIG:
		return "it has more than " STR(SL_MULTIPART_MAX_PARTS) " parts";
	case EMSGSIZE:
		return "a part's headers are longer than " STR(SL_MULTIPART_MAX_HEADER_BYTES) " bytes";
	default:
		return strerror(err);
	}
}

/*
 * After a call on `m` that returned -1: log the failure if it is new
 * (`was` tells whether `m` had failed before the call); errno kept.
 */
static void note_failure(struct sl_request *r, int was)
{
	int err = errno;

	if (!was)
		log_msg(LOG_INFO, "request %s: the multipart body was not read: %s", r->id,
			why(err));
	errno = err;
}

/*
 * The request's parser, made on first use; NULL (ENOMEM) if it cannot
 * be.  A bad Content-Type fails the parser, logged here, and every call
 * then reports it.
 */
static struct multipart *parser_of(struct sl_request *r)
{
	struct lazy *z = lazy_of(r);
	const char *type;

	if (z && !z->multipart && (z->multipart = arena_alloc(&r->arena, sizeof(*z->multipart)))) {
		type = sl_header(r, "Content-Type");
		if (multipart_init(z->multipart, type ? type : "", &r->arena, body_read, r) < 0)
			note_failure(r, 0);
	}
	if (!z || !z->multipart) {
		errno = ENOMEM;
		return NULL;
	}
	return z->multipart;
}

enum sl_part_status sl_multipart_next(struct sl_request *r, struct sl_part *part)
{
	struct multipart *m = parser_of(r);
	struct multipart_part p;
	int was, rc;

	if (!m)
		return SL_PART_ERROR;
	was = m->state == MP_FAILED;
	rc = multipart_next(m, &p);
	if (rc < 0) {
		note_failure(r, was);
		return multipart_refused(errno) ? SL_PART_BAD : SL_PART_ERROR;
	}
	if (rc == 0)
		return SL_PART_END;
	part->name = p.name;
	part->filename = p.filename;
	part->content_type = p.type;
	return SL_PART_NEXT;
}

/* multipart_read on the request's parser, which the caller made. */
static ssize_t part_read(struct sl_request *r, void *buf, size_t len)
{
	return multipart_read(r->lazy->multipart, buf, len);
}

ssize_t sl_multipart_read(struct sl_request *r, void *buf, size_t len)
{
	struct multipart *m = parser_of(r);
	ssize_t n;
	int was;

	if (!m)
		return -1;
	was = m->state == MP_FAILED;
	n = part_read(r, buf, len);
	if (n < 0)
		note_failure(r, was);
	return n;
}

/* The rest of the current part, as sl_multipart_text, without a log line. */
static int part_text(struct sl_request *r, size_t limit, char **text, size_t *len)
{
	size_t first = limit < TEXT_FIRST_CHUNK ? limit + 1 : TEXT_FIRST_CHUNK;

	return body_collect(r, part_read, first, limit, text, len);
}

const char *sl_multipart_text(struct sl_request *r, size_t limit, size_t *len)
{
	struct multipart *m = parser_of(r);
	char *text;
	size_t n;
	int was;

	if (!m)
		return NULL;
	was = m->state == MP_FAILED;
	if (part_text(r, limit, &text, &n) < 0) {
		if (errno != EFBIG)
			note_failure(r, was);
		return NULL;
	}
	if (len)
		*len = n;
	return text;
}

/* Append a field to `out`, whose items array holds *cap, doubling it. */
static int add_field(struct arena *a, struct kv_list *out, size_t *cap, const char *name,
		     const char *value, size_t len)
{
	struct kv *items;

	if (out->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		if (!(items = arena_alloc(a, *cap * sizeof(*items)))) {
			errno = ENOMEM;
			return -1;
		}
		if (out->n)
			memcpy(items, out->items, out->n * sizeof(*items));
		out->items = items;
	}
	out->items[out->n++] = (struct kv){ name, value, strlen(name), len };
	return 0;
}

/*
 * Every part without a filename becomes a field, values within
 * SL_FORM_MAX_BYTES in all (EFBIG past it); file parts are skipped
 * unread.  An empty name or a NUL in the value drops the field, as for
 * an urlencoded form.  The parser's errors are lazy.c's to log.
 */
int parts_form_load(struct sl_request *r, struct kv_list *out)
{
	struct multipart *m = parser_of(r);
	size_t budget = SL_FORM_MAX_BYTES, cap = 0, len;
	struct multipart_part p;
	char *value;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!m)
		return -1;
	while ((rc = multipart_next(m, &p)) > 0) {
		if (p.filename)
			continue;
		if (part_text(r, budget, &value, &len) < 0)
			return -1;
		budget -= len;
		if (!p.name[0] || memchr(value, '\0', len))
			out->dropped++;
		else if (add_field(&r->arena, out, &cap, p.name, value, len) < 0)
			return -1;
	}
	return rc;
}
