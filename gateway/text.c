/*
 * text.c - the escapers of escape.c for modules: into a new string in
 * per-request memory (sl_url_encode, sl_json_escape, sl_html_escape,
 * sl_url_decode), or straight into the response (sl_write_json_string,
 * sl_write_html) through a small buffer, so that escaping a large text
 * costs no memory; and links under the module's mount (sl_link).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "request.h"

/*
 * `s` through `esc` into one arena string sized for the worst case.  A
 * NULL `s` (what another helper gave when memory was short) is an error
 * here too, never a crash in the module.
 */
static char *escape_to_arena(struct sl_request *r, const char *s, escaper esc)
{
	size_t len, used, n;
	char *out;

	if (!s) {
		errno = EINVAL;
		return NULL;
	}
	len = strlen(s);
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

/* `s` through `esc` into the body, one buffer's worth at a time; NULL as above. */
static int escape_to_body(struct sl_request *r, const char *s, escaper esc)
{
	char buf[1024];
	size_t len, used, n;

	if (!s) {
		errno = EINVAL;
		return -1;
	}
	len = strlen(s);
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
	if (!s) {
		errno = EINVAL;	/* before the opening quote: nothing half-written */
		return -1;
	}
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
	size_t len;
	char *out;
	long n;

	if (!s) {
		errno = EINVAL;
		return NULL;
	}
	len = strlen(s);
	out = arena_alloc(&r->arena, len + 1);
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

/* The mount without its trailing slash, then the formatted path, measured first. */
char *sl_link(struct sl_request *r, const char *fmt, ...)
{
	const char *mount = sl_mount(r);
	size_t mlen = strcmp(mount, "/") == 0 ? 0 : strlen(mount);
	va_list ap;
	char *out;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;	/* errno from vsnprintf (EOVERFLOW) */
	out = arena_alloc(&r->arena, mlen + (size_t)n + 1);
	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(out, mount, mlen);
	va_start(ap, fmt);
	vsnprintf(out + mlen, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return out;
}
