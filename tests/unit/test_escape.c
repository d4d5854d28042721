/*
 * test_escape.c - percent-decoding (strict and lenient), URL encoding,
 * JSON and HTML escaping, UTF-8 checks, and that every escaper stops at
 * an escape's boundary when its buffer is short.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "escape.h"

/* `s` through `esc` with all the room it may need, NUL-terminated in `out`. */
static const char *run(escaper esc, const char *s, size_t len, char *out, size_t size)
{
	size_t used, n;

	cr_assert_leq(len * ESCAPE_GROWTH, size - 1);
	n = esc(out, size - 1, s, len, &used);
	cr_expect_eq(used, len, "not all input consumed");
	out[n] = '\0';
	return out;
}

#define ESC(esc, lit, buf) run(esc, lit, sizeof(lit) - 1, buf, sizeof(buf))

Test(escape, strict_decode_reports_the_bad_escape)
{
	static const char *const bad[] = { "%", "a%", "%4", "%zz", "%4g", "ab%g1", NULL };
	static const size_t at[] = { 0, 1, 0, 0, 0, 2 };
	char out[32];
	size_t where;

	for (int i = 0; bad[i]; i++) {
		where = 99;
		cr_expect_eq(url_decode(out, bad[i], strlen(bad[i]), 0, &where), -1,
			     "\"%s\" accepted", bad[i]);
		cr_expect_eq(where, at[i], "\"%s\": offset %zu", bad[i], where);
	}
	cr_expect_eq(url_decode(out, "a%41%62+c", 9, 0, NULL), 5);
	cr_expect_eq(memcmp(out, "aAb+c", 5), 0, "'+' is literal without URL_PLUS");
	cr_expect_eq(url_decode(out, "a+b", 3, URL_PLUS, NULL), 3);
	cr_expect_eq(memcmp(out, "a b", 3), 0);
	cr_expect_eq(url_decode(out, "%00", 3, 0, NULL), 1, "%%00 decodes to one NUL");
	cr_expect_eq(out[0], '\0');
}

Test(escape, decode_in_place)
{
	char s[] = "%41%42c%2b";

	cr_assert_eq(url_decode(s, s, strlen(s), 0, NULL), 4);
	cr_expect_eq(memcmp(s, "ABc+", 4), 0);
}

Test(escape, url_encode)
{
	char out[128];

	cr_expect_str_eq(ESC(url_encode, "a b/c?d=e&f~g-h_i.j", out),
			 "a%20b%2Fc%3Fd%3De%26f~g-h_i.j");
	cr_expect_str_eq(ESC(url_encode_plus, "a b+c", out), "a+b%2Bc");
	cr_expect_str_eq(ESC(url_encode, "\xE2\x82\xAC\x01\x7F\xFF", out),
			 "%E2%82%AC%01%7F%FF");
}

Test(escape, url_round_trip_of_every_byte)
{
	char raw[256], enc[256 * 3 + 1], dec[256];
	size_t used, n;

	for (int i = 0; i < 256; i++)
		raw[i] = (char)i;
	n = url_encode_plus(enc, sizeof(enc), raw, sizeof(raw), &used);
	cr_assert_eq(used, sizeof(raw));
	cr_assert_eq(url_decode(dec, enc, n, URL_PLUS, NULL), 256);
	cr_expect_eq(memcmp(raw, dec, 256), 0);
}

Test(escape, json)
{
	char out[256];

	cr_expect_str_eq(ESC(json_escape, "say \"hi\"\\\n\t\r\b\f", out),
			 "say \\\"hi\\\"\\\\\\n\\t\\r\\b\\f");
	cr_expect_str_eq(ESC(json_escape, "\x01\x1f\x7f", out), "\\u0001\\u001F\\u007F");
	cr_expect_str_eq(ESC(json_escape, "</script><!--&", out),
			 "\\u003C/script\\u003E\\u003C!--\\u0026");
	cr_expect_str_eq(ESC(json_escape, "\xE2\x80\xA8\xE2\x80\xA9", out), "\\u2028\\u2029");
	cr_expect_str_eq(ESC(json_escape, "\xC3\xA9\xF0\x9F\x98\x80", out),
			 "\xC3\xA9\xF0\x9F\x98\x80", "valid UTF-8 passes through");
}

Test(escape, json_replaces_bad_utf8)
{
	char out[256];

	/* A lone continuation, an overlong '/', a surrogate, past U+10FFFF,
	 * a truncated sequence at the end. */
	cr_expect_str_eq(ESC(json_escape, "a\x80" "b\xC0\xAF" "c\xED\xA0\x80" "d\xF4\x90\x80\x80"
			     "e\xE2\x82", out),
			 "a\\uFFFDb\\uFFFD\\uFFFDc\\uFFFD\\uFFFD\\uFFFDd\\uFFFD\\uFFFD\\uFFFD"
			 "\\uFFFDe\\uFFFD\\uFFFD");
}

Test(escape, json_nul_inside_input)
{
	static const char raw[] = "a\0b";
	char out[64];

	cr_expect_str_eq(run(json_escape, raw, 3, out, sizeof(out)), "a\\u0000b");
}

Test(escape, html)
{
	char out[256];

	cr_expect_str_eq(ESC(html_escape, "<a href=\"x\" title='y'>&amp;</a>", out),
			 "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
	cr_expect_str_eq(ESC(html_escape, "plain \xC3\xA9", out), "plain \xC3\xA9");
}

Test(escape, a_short_buffer_never_splits_an_escape)
{
	escaper all[] = { url_encode, url_encode_plus, json_escape, html_escape };
	static const char in[] = "<\"\xE2\x82\xAC\x01 &'>";
	char whole[128], piece[128];

	for (size_t e = 0; e < sizeof(all) / sizeof(all[0]); e++) {
		size_t used, n, total = ESC(all[e], in, whole) ? strlen(whole) : 0;

		for (size_t room = 0; room < total; room++) {
			n = all[e](piece, room, in, sizeof(in) - 1, &used);
			cr_assert_leq(n, room, "escaper %zu wrote past its room %zu", e, room);
			cr_assert_lt(used, sizeof(in) - 1);
			cr_assert_eq(memcmp(piece, whole, n), 0,
				     "escaper %zu, room %zu: not a prefix of the whole", e, room);
		}
	}
}

Test(escape, utf8_sequences)
{
	unsigned cp;

	cr_expect_eq(utf8_seq((const unsigned char *)"A", 1, &cp), 1);
	cr_expect_eq(utf8_seq((const unsigned char *)"\xF4\x8F\xBF\xBF", 4, &cp), 4);
	cr_expect_eq(cp, 0x10FFFF);
	cr_expect_eq(utf8_seq((const unsigned char *)"\xE0\x80\x80", 3, &cp), 0, "overlong");
	cr_expect_eq(utf8_seq((const unsigned char *)"\xF8\x88\x80\x80", 4, &cp), 0);
	cr_expect_eq(utf8_seq((const unsigned char *)"\xC3", 1, &cp), 0, "truncated");
}
