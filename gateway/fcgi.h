/*
 * fcgi.h - FastCGI 1.0 wire facts, shared by the responder (fcgi.c) and
 * the development listener's client (dev_relay.c), so that the protocol's
 * numbers and its record header are written down once.  Section numbers
 * refer to the FastCGI 1.0 specification.
 */
#ifndef SLUICE_FCGI_H
#define SLUICE_FCGI_H

#include <stddef.h>

#include "defaults.h"

#define FCGI_VERSION_1 1

/* Record types (section 8). */
enum {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_ABORT_REQUEST = 2,
	FCGI_END_REQUEST = 3,
	FCGI_PARAMS = 4,
	FCGI_STDIN = 5,
	FCGI_STDOUT = 6,
	FCGI_STDERR = 7,
	FCGI_DATA = 8,
	FCGI_GET_VALUES = 9,
	FCGI_GET_VALUES_RESULT = 10,
	FCGI_UNKNOWN_TYPE = 11,
};

/* Roles, the BEGIN_REQUEST flag, END_REQUEST's protocol status (section 8). */
enum { FCGI_RESPONDER = 1, FCGI_AUTHORIZER = 2, FCGI_FILTER = 3 };
enum { FCGI_KEEP_CONN = 1 };
enum { FCGI_REQUEST_COMPLETE = 0, FCGI_CANT_MPX_CONN = 1, FCGI_OVERLOADED = 2,
       FCGI_UNKNOWN_ROLE = 3 };

/* Write a record header (section 3.3) into `h` (FCGI_HEADER_LEN bytes). */
static inline void fcgi_put_header(unsigned char *h, unsigned type, unsigned id,
				   size_t len, size_t pad)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = (unsigned char)pad;
	h[7] = 0;
}

/*
 * Write a name-value pair's length `n` (section 3.4: one byte below 128,
 * else four with the high bit set) into `out` (4 bytes of room); returns
 * how many bytes it took.
 */
static inline size_t fcgi_put_len(unsigned char *out, size_t n)
{
	if (n < 128) {
		out[0] = (unsigned char)n;
		return 1;
	}
	out[0] = (unsigned char)(n >> 24 | 0x80);
	out[1] = (unsigned char)(n >> 16);
	out[2] = (unsigned char)(n >> 8);
	out[3] = (unsigned char)n;
	return 4;
}

/*
 * One length of a name-value pair (section 3.4) at *p: one byte below
 * 128, else four bytes with the top bit set.  0, or -1 when it runs past
 * `end`.
 */
static inline int pair_length(const unsigned char **pp, const unsigned char *end, size_t *len)
{
	const unsigned char *p = *pp;

	if (p == end)
		return -1;
	if (*p < 0x80) {
		*len = *p;
		*pp = p + 1;
		return 0;
	}
	if (end - p < 4)
		return -1;
	*len = (size_t)(p[0] & 0x7f) << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	*pp = p + 4;
	return 0;
}

/*
 * Decode one name-value pair (section 3.4) from [*p, end).  Every length
 * is checked against what is actually there, in size_t, before it is
 * used.  Returns 1 with the pair, 0 at the end, -1 when malformed.  Run
 * for every parameter of every request, so it is kept free of arrays
 * and of stores through `p` until the pair is whole.  Shared with the
 * fcgi2 library (gateway/fcgi2/), so that both read pairs the same way.
 */
static inline int next_pair(const unsigned char **pp, const unsigned char *end,
			    const unsigned char **name, size_t *nlen,
			    const unsigned char **value, size_t *vlen)
{
	const unsigned char *p = *pp;
	size_t n, v;

	if (p == end)
		return 0;
	if (pair_length(&p, end, &n) < 0 || pair_length(&p, end, &v) < 0 ||
	    n > (size_t)(end - p) || v > (size_t)(end - p) - n)
		return -1;
	*name = p;
	*nlen = n;
	*value = p + n;
	*vlen = v;
	*pp = p + n + v;
	return 1;
}

#endif
