/*
 * text.c - the escapers of escape.c for modules: into a new string in
 * per-request memory (sl_url_encode, sl_json_escape, sl_html_escape,
 * sl_url_decode), or straight into the response (sl_write_json_string,
 * sl_write_html) through a small buffer, so that escaping a large text
 * costs no memory.
 */
#include <errno.h>
#include <string.h>

#include "escape.h"
#include "request.h"

/* `s` through `esc` into one arena string sized for the worst case. */
static char *escape_to_arena(struct sl_request *r, const char *s, escaper esc)
{
	size_t len = strlen(s), used, n;
	char *out;

	if (len > ((size_t)-1 - 1) / ESCAPE_GROWTH) {
		errno = ENOMEM;
		return NULL;
	}
	out = arena_alloc(&r->arena, len * ESCAPE_GROWTH + 1);
	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	n = esc(out, len * ESCAPE_GROWTH, s, len, &used);
	out[n] = '\0';
	return out;
}

/* `s` through `esc` into the body, one buffer's worth at a time. */
static int escape_to_body(struct sl_request *r, const char *s, escaper esc)
{
	char buf[1024];
	size_t len = strlen(s), used, n;

	while (len > 0) {
		n = esc(buf, sizeof(buf), s, len, &used);
		if (sl_write(r, buf, n) < 0)
			return -1;
		s += used;
		len -= used;
	}
	return 0;
}

char *sl_url_encode(struct sl_request *r, const char *s, unsigned flags)
{
	return escape_to_arena(r, s, flags & SL_URL_PLUS ? url_encode_plus : url_encode);
}

char *sl_json_escape(struct sl_request *r, const char *s)
{
	return escape_to_arena(r, s, json_escape);
}

char *sl_html_escape(struct sl_request *r, const char *s)
{
	return escape_to_arena(r, s, html_escape);
}

int sl_write_json_string(struct sl_request *r, const char *s)
{
	if (sl_write(r, "\"", 1) < 0 || escape_to_body(r, s, json_escape) < 0)
		return -1;
	return sl_write(r, "\"", 1);
}

int sl_write_html(struct sl_request *r, const char *s)
{
	return escape_to_body(r, s, html_escape);
}

char *sl_url_decode(struct sl_request *r, const char *s, unsigned flags)
{
	size_t len = strlen(s);
	char *out = arena_alloc(&r->arena, len + 1);
	long n;

	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	n = url_decode(out, s, len, flags & SL_URL_PLUS ? URL_PLUS : 0, NULL);
	if (n < 0 || memchr(out, '\0', (size_t)n)) {
		errno = EILSEQ;
		return NULL;
	}
	out[n] = '\0';
	return out;
}
