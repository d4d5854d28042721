/*
 * kv.c - the name=value parsers behind sl_query_*, sl_form_* and
 * sl_cookie.
 *
 * Both formats are one walk: split the input at a separator, split each
 * piece at its first '=', copy name and value into one arena buffer
 * through a format's copy function (percent-decoding, or trimming and
 * unquoting).  The buffer is sized once from the input: a decoded or
 * trimmed piece is never longer than the raw one, plus two NULs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"
#include "kv.h"

/* Copy `len` raw bytes of a name (or a value) into `dst`; the length written. */
typedef size_t (*kv_copy)(char *dst, const char *src, size_t len, int value);

static size_t count_pieces(const char *s, size_t len, char sep)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (s[i] != sep && (i == 0 || s[i - 1] == sep))
			n++;
	return n;
}

/*
 * Decode one piece into `buf` as "name\0value\0".  Returns where the
 * next pair goes: past it when kept, `buf` again when dropped.
 */
static char *add_pair(struct kv_list *out, char *buf, const char *p, size_t len,
		      kv_copy copy)
{
	const char *eq = memchr(p, '=', len);
	struct kv *kv = &out->items[out->n];
	char *value;

	if (!eq) {
		out->dropped++;
		return buf;
	}
	kv->name = buf;
	kv->name_len = copy(buf, p, (size_t)(eq - p), 0);
	buf[kv->name_len] = '\0';
	value = buf + kv->name_len + 1;
	kv->value = value;
	kv->value_len = copy(value, eq + 1, len - (size_t)(eq - p) - 1, 1);
	value[kv->value_len] = '\0';
	/* C strings to modules: a NUL inside would let two readers of the
	 * same pair see different things. */
	if (kv->name_len == 0 || memchr(kv->name, '\0', kv->name_len) ||
	    memchr(value, '\0', kv->value_len)) {
		out->dropped++;
		return buf;
	}
	out->n++;
	return value + kv->value_len + 1;
}

static int parse(struct arena *a, const char *s, size_t len, char sep, kv_copy copy,
		 struct kv_list *out)
{
	size_t pieces = count_pieces(s, len, sep);
	const char *p = s, *end = s + len;
	char *buf;

	memset(out, 0, sizeof(*out));
	if (pieces > KV_MAX_PAIRS) {
		errno = E2BIG;
		return -1;
	}
	if (pieces == 0)
		return 0;
	out->items = arena_alloc(a, pieces * sizeof(*out->items));
	buf = arena_alloc(a, len + 2 * pieces);
	if (!out->items || !buf) {
		out->items = NULL;
		errno = ENOMEM;
		return -1;
	}
	while (p < end) {
		const char *stop = memchr(p, sep, (size_t)(end - p));

		if (!stop)
			stop = end;
		if (stop > p)
			buf = add_pair(out, buf, p, (size_t)(stop - p), copy);
		p = stop + 1;
	}
	return 0;
}

static size_t form_copy(char *dst, const char *src, size_t len, int value)
{
	(void)value;
	return (size_t)url_decode(dst, src, len, URL_PLUS | URL_LENIENT, NULL);
}

int kv_parse_urlencoded(struct arena *a, const char *s, size_t len, struct kv_list *out)
{
	return parse(a, s, len, '&', form_copy, out);
}

static int ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Only a value may be quoted (RFC 6265 section 4.1.1's cookie-value). */
static size_t cookie_copy(char *dst, const char *src, size_t len, int value)
{
	while (len > 0 && ows(src[0]))
		src++, len--;
	while (len > 0 && ows(src[len - 1]))
		len--;
	if (value && len >= 2 && src[0] == '"' && src[len - 1] == '"')
		src++, len -= 2;
	memcpy(dst, src, len);
	return len;
}

int kv_parse_cookies(struct arena *a, const char *s, size_t len, struct kv_list *out)
{
	return parse(a, s, len, ';', cookie_copy, out);
}

static const char form_type[] = "application/x-www-form-urlencoded";

/*
 * 1 if Content-Type `t` is the urlencoded form type, case-insensitive,
 * alone or followed by parameters (RFC 9110 section 8.3.1).
 */
int kv_form_type_ok(const char *t)
{
	size_t n = sizeof(form_type) - 1;

	while (*t == ' ' || *t == '\t')
		t++;
	if (strncasecmp(t, form_type, n) != 0)
		return 0;
	t += n;
	while (*t == ' ' || *t == '\t')
		t++;
	return *t == '\0' || *t == ';';
}

const struct kv *kv_find(const struct kv_list *l, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].name_len == len && memcmp(l->items[i].name, name, len) == 0)
			return &l->items[i];
	return NULL;
}

int kv_to_ll(const char *s, long long *out)
{
	char *end;
	long long v;

	/* strtoll alone would take leading spaces and a "0x"-free junk tail. */
	if (!((s[0] >= '0' && s[0] <= '9') ||
	      ((s[0] == '-' || s[0] == '+') && s[1] >= '0' && s[1] <= '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return -1;
	*out = v;
	return 0;
}
