/*
 * escape.c - percent-decoding and the output escapers.
 *
 * Every function here works on the caller's buffers and never fails on
 * odd input: hostile bytes are escaped or replaced, not trusted.  The
 * escapers stop before an escape that would not fit, so one loop in
 * text.c can stream any length through a small buffer.
 */
#include <string.h>

#include "escape.h"

static const char hex[] = "0123456789ABCDEF";

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long url_decode(char *dst, const char *src, size_t len, unsigned flags, size_t *bad_at)
{
	size_t i = 0, n = 0;

	while (i < len) {
		unsigned char c = (unsigned char)src[i];
		int hi, lo;

		if (c == '%') {
			hi = i + 2 < len ? hexval((unsigned char)src[i + 1]) : -1;
			lo = hi >= 0 ? hexval((unsigned char)src[i + 2]) : -1;
			if (lo >= 0) {
				dst[n++] = (char)(hi << 4 | lo);
				i += 3;
				continue;
			}
			if (!(flags & URL_LENIENT)) {
				if (bad_at)
					*bad_at = i;
				return -1;
			}
		}
		dst[n++] = (c == '+' && (flags & URL_PLUS)) ? ' ' : (char)c;
		i++;
	}
	return (long)n;
}

static int unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static size_t encode(char *dst, size_t room, const char *src, size_t len, size_t *used,
		     int plus)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (unreserved(c) || (plus && c == ' ')) {
			if (n + 1 > room)
				break;
			dst[n++] = c == ' ' ? '+' : (char)c;
		} else {
			if (n + 3 > room)
				break;
			dst[n++] = '%';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 15];
		}
	}
	*used = i;
	return n;
}

size_t url_encode(char *dst, size_t room, const char *src, size_t len, size_t *used)
{
	return encode(dst, room, src, len, used, 0);
}

size_t url_encode_plus(char *dst, size_t room, const char *src, size_t len, size_t *used)
{
	return encode(dst, room, src, len, used, 1);
}

/* RFC 3629 section 4: the well-formed byte sequences. */
size_t utf8_seq(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0], min, v;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, v = c & 0x1F, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, v = c & 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, v = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/* "\u00XX" style escape of code point `cp` (< 0x10000) into dst. */
static size_t json_u(char *dst, unsigned cp)
{
	dst[0] = '\\';
	dst[1] = 'u';
	dst[2] = hex[cp >> 12 & 15];
	dst[3] = hex[cp >> 8 & 15];
	dst[4] = hex[cp >> 4 & 15];
	dst[5] = hex[cp & 15];
	return 6;
}

/* The short escape RFC 8259 section 7 gives `c`, or 0 when it has none. */
static char json_short(unsigned c)
{
	switch (c) {
	case '"':  return '"';
	case '\\': return '\\';
	case '\b': return 'b';
	case '\f': return 'f';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\t': return 't';
	default:   return 0;
	}
}

/* The JSON text for one character: its bytes `s` (`n` of them) or an escape. */
static size_t json_char(char *out, const char *s, size_t n, unsigned cp)
{
	char e;

	if (n == 0)
		return json_u(out, 0xFFFD);
	if ((e = json_short(cp)) != 0) {
		out[0] = '\\';
		out[1] = e;
		return 2;
	}
	if (cp < 0x20 || cp == 0x7F || cp == '<' || cp == '>' || cp == '&' ||
	    cp == 0x2028 || cp == 0x2029)
		return json_u(out, cp);
	memcpy(out, s, n);
	return n;
}

size_t json_escape(char *dst, size_t room, const char *src, size_t len, size_t *used)
{
	size_t i = 0, n = 0;

	while (i < len) {
		char tmp[ESCAPE_GROWTH];
		unsigned cp = 0;
		size_t in = utf8_seq((const unsigned char *)src + i, len - i, &cp);
		size_t out = json_char(tmp, src + i, in, cp);

		if (n + out > room)
			break;
		memcpy(dst + n, tmp, out);
		n += out;
		i += in ? in : 1;
	}
	*used = i;
	return n;
}

size_t html_escape(char *dst, size_t room, const char *src, size_t len, size_t *used)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		const char *e;
		size_t el;

		switch (src[i]) {
		case '&':  e = "&amp;";  break;
		case '<':  e = "&lt;";   break;
		case '>':  e = "&gt;";   break;
		case '"':  e = "&quot;"; break;
		case '\'': e = "&#39;";  break;
		default:   e = NULL;     break;
		}
		el = e ? strlen(e) : 1;
		if (n + el > room)
			break;
		if (e)
			memcpy(dst + n, e, el);
		else
			dst[n] = src[i];
		n += el;
	}
	*used = i;
	return n;
}
