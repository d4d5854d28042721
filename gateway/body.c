/*
 * body.c - the whole request body in per-request memory (sl_read_body).
 *
 * The body is read with the same codec call as sl_read, so the read
 * timeout and the body limit apply unchanged.  A known length is read
 * into one allocation; an unknown one (a chunked upload) into a buffer
 * that doubles, which costs at most twice the body in the arena, freed
 * with the request.
 */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "lazy.h"
#include "request.h"

/* The first buffer for a body of unknown length. */
#define BODY_FIRST_CHUNK 4096

/* Grow `buf` (`len` used) to `want` bytes in the arena; NULL on ENOMEM. */
static char *grow(struct sl_request *r, char *buf, size_t len, size_t want)
{
	char *bigger = arena_alloc(&r->arena, want);

	if (!bigger)
		errno = ENOMEM;
	else if (len)
		memcpy(bigger, buf, len);
	return bigger;
}

int body_collect(struct sl_request *r, body_reader read, size_t cap, size_t limit,
		 char **out, size_t *len)
{
	size_t n = 0;
	char *buf = NULL;
	ssize_t got;

	/* The codec refuses a body past limits.max_body_bytes anyway; the
	 * clamp also keeps limit + 1 from overflowing. */
	if (limit > (unsigned long long)r->cfg->limits.max_body_bytes)
		limit = (size_t)r->cfg->limits.max_body_bytes;
	if (cap > limit + 1)
		cap = limit + 1;
	if (!(buf = grow(r, buf, 0, cap + 1)))
		return -1;
	for (;;) {
		if (n == cap) {
			if (cap > limit)
				break;
			cap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
			if (!(buf = grow(r, buf, n, cap + 1)))
				return -1;
		}
		got = read(r, buf + n, cap - n);
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > limit) {
		errno = EFBIG;
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int body_read_all(struct sl_request *r, size_t limit, char **body, size_t *len)
{
	struct lazy *z = lazy_of(r);

	if (!z) {
		errno = ENOMEM;
		return -1;
	}
	if (z->body_state == 0) {
		if (r->content_length > 0 && (unsigned long long)r->content_length > limit) {
			z->body_state = -1;
			z->body_err = EFBIG;	/* refused before reading any of it */
		} else if (body_collect(r, sl_read, r->content_length >= 0 ?
					(size_t)r->content_length + 1 : BODY_FIRST_CHUNK,
					limit, &z->body, &z->body_len) < 0) {
			z->body_state = -1;
			z->body_err = errno;
		} else {
			z->body_state = 1;
		}
	}
	if (z->body_state < 0) {
		errno = z->body_err;
		return -1;
	}
	*body = z->body;
	*len = z->body_len;
	return 0;
}

const char *sl_read_body(struct sl_request *r, size_t limit, size_t *len)
{
	char *body;
	size_t n;

	if (body_read_all(r, limit, &body, &n) < 0)
		return NULL;
	if (len)
		*len = n;
	return body;
}
