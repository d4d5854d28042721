/*
 * test_kv.c - the urlencoded and Cookie parsers: decoding, '+', bad %
 * escapes, empty names and pieces, repeated keys, NUL bytes, huge
 * inputs, the field limit, and strict integers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

static struct arena a;

static void setup(void)
{
	cr_assert_eq(arena_init(&a, 4096, 0), 0);
}

static void teardown(void)
{
	arena_free(&a);
}

TestSuite(kv, .init = setup, .fini = teardown);

static struct kv_list form(const char *s)
{
	struct kv_list l;

	cr_assert_eq(kv_parse_urlencoded(&a, s, strlen(s), &l), 0, "\"%s\" refused", s);
	return l;
}

static void expect_pair(const struct kv_list *l, size_t i, const char *name, const char *value)
{
	cr_assert_lt(i, l->n, "pair %zu missing (%zu pairs)", i, l->n);
	cr_expect_str_eq(l->items[i].name, name, "pair %zu", i);
	cr_expect_str_eq(l->items[i].value, value, "pair %zu", i);
	cr_expect_eq(l->items[i].name_len, strlen(name));
	cr_expect_eq(l->items[i].value_len, strlen(value));
}

Test(kv, decodes_percent_and_plus)
{
	struct kv_list l = form("q=a+b%20c%2B&n%61me=%E2%82%AC&x=1%3D2%26y");

	cr_assert_eq(l.n, 3);
	expect_pair(&l, 0, "q", "a b c+");
	expect_pair(&l, 1, "name", "\xE2\x82\xAC");
	expect_pair(&l, 2, "x", "1=2&y");
}

Test(kv, bad_escapes_stay_as_they_are)
{
	struct kv_list l = form("a=%&b=%4&c=%zz&d=%4g&e=100%&f=%%41");

	cr_assert_eq(l.n, 6);
	expect_pair(&l, 0, "a", "%");
	expect_pair(&l, 1, "b", "%4");
	expect_pair(&l, 2, "c", "%zz");
	expect_pair(&l, 3, "d", "%4g");
	expect_pair(&l, 4, "e", "100%");
	expect_pair(&l, 5, "f", "%A");
}

Test(kv, empty_pieces_names_and_values)
{
	struct kv_list l = form("&&a=&=x&b=1&&=&c&");

	cr_assert_eq(l.n, 2, "%zu pairs", l.n);
	expect_pair(&l, 0, "a", "");
	expect_pair(&l, 1, "b", "1");
	cr_expect_eq(l.dropped, 3, "\"=x\", \"=\" and \"c\" dropped, not %zu", l.dropped);
	l = form("");
	cr_expect_eq(l.n, 0);
	l = form("&&&");
	cr_expect_eq(l.n, 0);
	cr_expect_eq(l.dropped, 0);
}

Test(kv, value_keeps_later_equals_signs)
{
	struct kv_list l = form("k==v=w");

	expect_pair(&l, 0, "k", "=v=w");
}

Test(kv, repeated_keys_are_all_kept_and_the_first_is_found)
{
	struct kv_list l = form("tag=a&tag=b&Tag=c&tag=d");
	const struct kv *kv;

	cr_assert_eq(l.n, 4);
	kv = kv_find(&l, "tag");
	cr_assert_not_null(kv);
	cr_expect_str_eq(kv->value, "a");
	cr_expect_str_eq(kv_find(&l, "Tag")->value, "c", "names are case-sensitive");
	cr_expect_null(kv_find(&l, "TAG"));
	cr_expect_null(kv_find(&l, "ta"));
	expect_pair(&l, 3, "tag", "d");
}

Test(kv, nul_bytes_drop_the_pair)
{
	static const char raw[] = "a=1&b=x%00y&c%00=2&d=3";
	struct kv_list l = form(raw);

	cr_assert_eq(l.n, 2);
	expect_pair(&l, 0, "a", "1");
	expect_pair(&l, 1, "d", "3");
	cr_expect_eq(l.dropped, 2);
}

Test(kv, a_raw_nul_inside_the_input_is_not_an_end)
{
	static const char raw[] = "a=1\0&b=2";
	struct kv_list l;

	cr_assert_eq(kv_parse_urlencoded(&a, raw, sizeof(raw) - 1, &l), 0);
	cr_assert_eq(l.n, 1, "the pair holding the NUL is dropped");
	expect_pair(&l, 0, "b", "2");
}

Test(kv, the_field_limit_refuses_the_whole_list)
{
	size_t n = KV_MAX_PAIRS + 1, len = n * 4;
	char *s = malloc(len + 1);
	struct kv_list l;

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * 4, "a=1&", 4);
	s[len] = '\0';
	cr_expect_eq(kv_parse_urlencoded(&a, s, len, &l), -1);
	cr_expect_eq(errno, E2BIG);
	cr_expect_eq(l.n, 0);
	/* Exactly the limit is fine. */
	cr_expect_eq(kv_parse_urlencoded(&a, s, len - 4, &l), 0);
	cr_expect_eq(l.n, KV_MAX_PAIRS);
	free(s);
}

Test(kv, a_huge_value_comes_back_whole)
{
	size_t big = 4u << 20;
	char *s = malloc(big + 3);
	struct kv_list l;

	cr_assert_not_null(s);
	memcpy(s, "v=", 2);
	memset(s + 2, '+', big);
	s[big + 2] = '\0';
	cr_assert_eq(kv_parse_urlencoded(&a, s, big + 2, &l), 0);
	cr_assert_eq(l.n, 1);
	cr_expect_eq(l.items[0].value_len, big);
	cr_expect_eq(l.items[0].value[0], ' ');
	cr_expect_eq(l.items[0].value[big - 1], ' ');
	cr_expect_eq(l.items[0].value[big], '\0');
	free(s);
}

Test(kv, out_of_memory_is_enomem)
{
	struct arena small;
	struct kv_list l;
	char s[70000];

	cr_assert_eq(arena_init(&small, 1024, 4096), 0);
	memset(s, 'x', sizeof(s));
	s[0] = 'k';
	s[1] = '=';
	cr_expect_eq(kv_parse_urlencoded(&small, s, sizeof(s), &l), -1);
	cr_expect_eq(errno, ENOMEM);
	arena_free(&small);
}

/* ---- Cookies ------------------------------------------------------------- */

static struct kv_list cookies(const char *s)
{
	struct kv_list l;

	cr_assert_eq(kv_parse_cookies(&a, s, strlen(s), &l), 0, "\"%s\" refused", s);
	return l;
}

Test(kv, cookies_split_trim_and_unquote)
{
	struct kv_list l = cookies(" sid=abc ;theme=\"dark\";\tx = 1 ;empty=;q=\"\"");

	cr_assert_eq(l.n, 5);
	expect_pair(&l, 0, "sid", "abc");
	expect_pair(&l, 1, "theme", "dark");
	expect_pair(&l, 2, "x", "1");
	expect_pair(&l, 3, "empty", "");
	expect_pair(&l, 4, "q", "");
}

Test(kv, cookies_are_not_decoded_and_keep_equals)
{
	struct kv_list l = cookies("a=%41+b; tok=abc==");

	expect_pair(&l, 0, "a", "%41+b");
	expect_pair(&l, 1, "tok", "abc==");
}

Test(kv, cookies_without_name_or_equals_are_dropped)
{
	struct kv_list l = cookies(";;=x; lonely; ;a=1;  =  ;\"");

	cr_assert_eq(l.n, 1);
	expect_pair(&l, 0, "a", "1");
	cr_expect_eq(l.dropped, 5, "%zu dropped", l.dropped);
}

Test(kv, only_values_are_unquoted)
{
	struct kv_list l = cookies("\"S  \" =1; v=\" x \"");

	cr_assert_eq(l.n, 2);
	expect_pair(&l, 0, "\"S  \"", "1");
	expect_pair(&l, 1, "v", " x ");
}

Test(kv, first_cookie_of_a_name_wins)
{
	struct kv_list l = cookies("sid=path-specific; sid=site-wide");

	cr_expect_str_eq(kv_find(&l, "sid")->value, "path-specific");
	cr_expect_eq(l.n, 2);
}

Test(kv, an_overlong_cookie_comes_back_whole_and_many_are_refused)
{
	size_t big = 64 * 1024, n = KV_MAX_PAIRS + 1;
	char *s = malloc(n * 5 + big + 8);
	struct kv_list l;

	cr_assert_not_null(s);
	memcpy(s, "big=", 4);
	memset(s + 4, 'z', big);
	s[big + 4] = '\0';
	l = cookies(s);
	cr_assert_eq(l.n, 1);
	cr_expect_eq(l.items[0].value_len, big);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * 5, "c=1; ", 5);
	cr_expect_eq(kv_parse_cookies(&a, s, n * 5, &l), -1);
	cr_expect_eq(errno, E2BIG);
	free(s);
}

/* ---- Integers and the form type ------------------------------------------ */

Test(kv, integers_are_strict)
{
	static const char *const bad[] = {
		"", " 1", "1 ", "+", "-", "1a", "0x10", "1.5", "9223372036854775808",
		"-9223372036854775809", "--1", "1e3", NULL
	};
	long long v;

	cr_expect_eq(kv_to_ll("20", &v), 0);
	cr_expect_eq(v, 20);
	cr_expect_eq(kv_to_ll("-7", &v), 0);
	cr_expect_eq(v, -7);
	cr_expect_eq(kv_to_ll("+007", &v), 0);
	cr_expect_eq(v, 7);
	cr_expect_eq(kv_to_ll("9223372036854775807", &v), 0);
	cr_expect_eq(v, 9223372036854775807LL);
	for (int i = 0; bad[i]; i++)
		cr_expect_eq(kv_to_ll(bad[i], &v), -1, "\"%s\" accepted", bad[i]);
}

Test(kv, form_type)
{
	cr_expect(kv_form_type_ok("application/x-www-form-urlencoded"));
	cr_expect(kv_form_type_ok("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
	cr_expect(kv_form_type_ok("application/x-www-form-urlencoded ;charset=utf-8"));
	cr_expect_not(kv_form_type_ok("application/x-www-form-urlencodedx"));
	cr_expect_not(kv_form_type_ok("multipart/form-data; boundary=x"));
	cr_expect_not(kv_form_type_ok("application/json"));
	cr_expect_not(kv_form_type_ok(""));
}
