/*
 * escape.h - percent-decoding and the output escapers (URL, JSON, HTML).
 *
 * Pure functions on caller buffers: no request, no allocation, no log,
 * so that the unit suites and the fuzz harnesses can drive them alone.
 * text.c gives modules arena and streaming versions of them.
 *
 * The escapers share one shape (an `escaper`): they escape from `src`
 * as much as fits in `room` bytes of `dst`, never splitting one input
 * character's escape, set *used to the input bytes consumed, and return
 * the bytes written (no NUL is added).  ESCAPE_GROWTH is the most any
 * input byte grows, so that room = len * ESCAPE_GROWTH always takes all.
 */
#ifndef SLUICE_ESCAPE_H
#define SLUICE_ESCAPE_H

#include <stddef.h>

/* "\ufffd" for one bad UTF-8 byte, "&quot;" for '"', "%XX" for a byte. */
#define ESCAPE_GROWTH	6

typedef size_t (*escaper)(char *dst, size_t room, const char *src, size_t len,
			  size_t *used);

/*
 * Flags of url_decode.  URL_PLUS is the public SL_URL_PLUS; URL_LENIENT
 * keeps a '%' not followed by two hex digits as it is, which is what the
 * WHATWG urlencoded parser (and every browser-facing framework) does.
 */
#define URL_PLUS	1u
#define URL_LENIENT	2u

/*
 * Percent-decode `len` bytes of `src` into `dst` (which may be `src`:
 * decoding never grows).  Returns the decoded length, or -1 at a bad
 * escape when not URL_LENIENT, with *bad_at (if not NULL) its offset.
 * A %00 decodes to a NUL byte: callers that hand out C strings check.
 */
long url_decode(char *dst, const char *src, size_t len, unsigned flags, size_t *bad_at);

/* Every byte but A-Z a-z 0-9 - . _ ~ as %XX; with URL_PLUS, ' ' as '+'. */
size_t url_encode(char *dst, size_t room, const char *src, size_t len, size_t *used);
size_t url_encode_plus(char *dst, size_t room, const char *src, size_t len, size_t *used);

/*
 * The inside of a JSON string (RFC 8259), without the quotes: '"', '\\'
 * and control characters escaped, and '<', '>', '&', U+2028 and U+2029
 * as \uXXXX so that the result is also safe inside an HTML <script>.
 * Bytes that are not well-formed UTF-8 become U+FFFD: the output is
 * always valid JSON.
 */
size_t json_escape(char *dst, size_t room, const char *src, size_t len, size_t *used);

/* Text for HTML content or a quoted attribute: & < > " ' as entities. */
size_t html_escape(char *dst, size_t room, const char *src, size_t len, size_t *used);

/*
 * The length of the well-formed UTF-8 sequence at `s` (1 to 4 bytes,
 * within `len`), or 0 when it is not one: overlong forms, surrogates and
 * code points past U+10FFFF are not.  *cp gets the code point.
 */
size_t utf8_seq(const unsigned char *s, size_t len, unsigned *cp);

#endif
