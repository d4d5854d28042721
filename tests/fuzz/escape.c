/*
 * escape.c - fuzz the percent-decoder and the output escapers
 * (gateway/escape.c).
 *
 * Input: byte 0 chooses the room each escaper call gets (as a stream
 * writer with a small buffer would), the rest is the text.  Whatever the
 * text: escaping in pieces gives the bytes escaping in one go gives (no
 * escape is ever split), URL encoding decodes strictly back to the
 * text, JSON output is a valid JSON string's inside in well-formed UTF-8
 * with nothing an HTML <script> would act on, and HTML output has no
 * markup character left bare.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* `len` bytes of `src` escaped by `esc` with `room` bytes a call; its length. */
static size_t escape_all(escaper esc, char *dst, size_t room, const char *src, size_t len)
{
	size_t n = 0, used;

	while (len > 0) {
		size_t w = esc(dst + n, room, src, len, &used);

		if (w > room || used > len)
			abort();
		if (used == 0) {
			/* Only a room smaller than one character's escape may take nothing. */
			if (room >= ESCAPE_GROWTH)
				abort();
			return (size_t)-1;
		}
		n += w;
		src += used;
		len -= used;
	}
	return n;
}

static void check_url(escaper esc, unsigned flags, const char *src, size_t len, char *out,
		      char *back, size_t room)
{
	size_t n = escape_all(esc, out, room, src, len);

	if (n == (size_t)-1)
		return;
	for (size_t i = 0; i < n; i++)
		if (strchr("%+-._~", out[i]) == NULL && !((out[i] | 0x20) >= 'a' &&
		    (out[i] | 0x20) <= 'z') && !(out[i] >= '0' && out[i] <= '9'))
			abort();
	if (url_decode(back, out, n, flags, NULL) != (long)len || memcmp(back, src, len) != 0)
		abort();
}

static void check_decode(const char *src, size_t len, char *a, char *b)
{
	size_t bad = (size_t)-1;
	long strict = url_decode(a, src, len, URL_PLUS, &bad);
	long lenient = url_decode(b, src, len, URL_PLUS | URL_LENIENT, NULL);

	if (lenient < 0 || (size_t)lenient > len || (strict < 0 && bad >= len))
		abort();
	if (strict >= 0 && (strict != lenient || memcmp(a, b, (size_t)strict) != 0))
		abort();
}

/* A valid JSON string inside, in well-formed UTF-8, safe in <script>. */
static void check_json(const char *s, size_t n)
{
	size_t i = 0, k;
	unsigned cp;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == '"' || c == '<' || c == '>' || c == '&')
			abort();
		if (c == '\\') {
			if (i + 1 >= n || !strchr("\"\\/bfnrtu", s[i + 1]))
				abort();
			if (s[i + 1] == 'u' && (i + 6 > n || strspn(s + i + 2, "0123456789abcdefABCDEF") < 4))
				abort();
			i += s[i + 1] == 'u' ? 6 : 2;
			continue;
		}
		k = utf8_seq((const unsigned char *)s + i, n - i, &cp);
		if (k == 0 || cp == 0x2028 || cp == 0x2029 || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			abort();
		i += k;
	}
}

static void check_html(const char *s, size_t n)
{
	static const char *const ents[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", NULL };

	for (size_t i = 0; i < n; i++) {
		if (strchr("<>\"'", s[i]) && s[i] != '\0')
			abort();
		if (s[i] == '&') {
			int ok = 0;

			for (int e = 0; ents[e] && !ok; e++)
				ok = n - i >= strlen(ents[e]) && memcmp(s + i, ents[e], strlen(ents[e])) == 0;
			if (!ok)
				abort();
		}
	}
}

/* Escaped with `room` a call, the same bytes as with room for all. */
static size_t check_pieces(escaper esc, const char *src, size_t len, size_t room,
			   char *a, char *b)
{
	size_t whole = escape_all(esc, a, len * ESCAPE_GROWTH + 1, src, len);
	size_t cut = escape_all(esc, b, room, src, len);

	if (cut != (size_t)-1 && (cut != whole || memcmp(a, b, whole) != 0))
		abort();
	return whole;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *src = (const char *)data + 1;
	size_t len, room, cap;
	char *a, *b;

	if (size < 1)
		return 0;
	len = size - 1;
	room = (size_t)data[0] % 32 + 1;
	cap = len * ESCAPE_GROWTH + 1;
	a = malloc(cap);
	b = malloc(cap);
	if (!a || !b)
		abort();
	check_url(url_encode, 0, src, len, a, b, room);
	check_url(url_encode_plus, URL_PLUS, src, len, a, b, room);
	check_decode(src, len, a, b);
	check_json(a, check_pieces(json_escape, src, len, room, a, b));
	check_html(a, check_pieces(html_escape, src, len, room, a, b));
	free(a);
	free(b);
	return 0;
}
