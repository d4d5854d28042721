/*
 * test_cookie.c - the Set-Cookie value: safe defaults, every attribute,
 * clearing, and the refusal (with where and why) of anything that would
 * break the header or change its meaning.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cookie.h"

static char line[COOKIE_MAX_PAIR + 1024], why[200];

static const char *fmt(const char *name, const char *value, const struct sl_cookie_opts *o)
{
	long n = cookie_format(line, sizeof(line), name, value, o, 0, why, sizeof(why));

	cr_assert_geq(n, 0, "%s=%s refused: %s", name, value, why);
	cr_assert_eq((size_t)n, strlen(line));
	return line;
}

static void refused(const char *name, const char *value, const struct sl_cookie_opts *o,
		    const char *reason)
{
	cr_expect_eq(cookie_format(line, sizeof(line), name, value, o, 0, why, sizeof(why)), -1,
		     "\"%s\"=\"%s\" accepted", name, value);
	cr_expect_not_null(strstr(why, reason), "\"%s\" not in \"%s\"", reason, why);
}

Test(cookie, defaults_are_the_safe_ones)
{
	static const struct sl_cookie_opts zero;

	cr_expect_str_eq(fmt("sid", "abc123", NULL), "sid=abc123; Path=/; HttpOnly; SameSite=Lax");
	cr_expect_str_eq(fmt("sid", "abc123", &zero), "sid=abc123; Path=/; HttpOnly; SameSite=Lax");
	cr_expect_str_eq(fmt("e", "", NULL), "e=; Path=/; HttpOnly; SameSite=Lax");
}

Test(cookie, every_attribute)
{
	struct sl_cookie_opts o = {
		.path = "/app", .domain = "example.org", .max_age = 3600,
		.expires = 784111777, .secure = 1, .script_visible = 1,
		.same_site = SL_SAME_SITE_STRICT,
	};

	cr_expect_str_eq(fmt("pref", "a.b-c_d!", &o),
			 "pref=a.b-c_d!; Path=/app; Domain=example.org; Max-Age=3600; "
			 "Expires=Sun, 06 Nov 1994 08:49:37 GMT; Secure; SameSite=Strict");
	o = (struct sl_cookie_opts){ .secure = 1, .same_site = SL_SAME_SITE_NONE };
	cr_expect_str_eq(fmt("x", "1", &o), "x=1; Path=/; Secure; HttpOnly; SameSite=None");
}

Test(cookie, clearing_expires_now)
{
	struct sl_cookie_opts o = { .path = "/app", .max_age = 99 };

	cr_assert_geq(cookie_format(line, sizeof(line), "sid", NULL, &o, 1, why, sizeof(why)), 0);
	cr_expect_str_eq(line, "sid=; Path=/app; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
			 "HttpOnly; SameSite=Lax");
}

Test(cookie, names_that_break_the_header_are_refused)
{
	static const char *const bad[] = {
		"a;b", "a,b", "a=b", "a b", "a\tb", "a\r\nSet-Cookie: x", "a\nb", "(a)", "a\"",
		"a/b", "a:b", "a\x01", "a\x7f", "\xC3\xA9", NULL
	};

	for (int i = 0; bad[i]; i++)
		refused(bad[i], "v", NULL, "its name holds byte");
	refused("", "v", NULL, "its name is empty");
	refused("a;b", "v", NULL, "at offset 1");
}

Test(cookie, values_that_break_the_header_are_refused)
{
	static const char *const bad[] = {
		"a;b", "a,b", "a b", "\"q\"", "a\\b", "a\r\nX: y", "a\n", "a\x01", "a\x7f",
		"\xC3\xA9", "a\tb", NULL
	};

	for (int i = 0; bad[i]; i++)
		refused("n", bad[i], NULL, "its value holds byte");
	refused("n", "abc;def", NULL, "byte 0x3b at offset 3");
}

Test(cookie, attributes_that_break_the_header_are_refused)
{
	struct sl_cookie_opts o = { .path = "/a;Domain=evil" };

	refused("n", "v", &o, "its path holds byte 0x3b");
	o = (struct sl_cookie_opts){ .path = "/a\r\nX: y" };
	refused("n", "v", &o, "its path holds byte 0x0d");
	o = (struct sl_cookie_opts){ .domain = "a.org; Secure" };
	refused("n", "v", &o, "its domain holds byte 0x3b");
	o = (struct sl_cookie_opts){ .max_age = -1 };
	refused("n", "v", &o, "negative");
	o = (struct sl_cookie_opts){ .same_site = SL_SAME_SITE_NONE };
	refused("n", "v", &o, "SameSite=None without Secure");
	o = (struct sl_cookie_opts){ .same_site = (enum sl_same_site)7 };
	refused("n", "v", &o, "same_site");
}

Test(cookie, overlong_pairs_are_refused)
{
	static char value[COOKIE_MAX_PAIR + 2];

	memset(value, 'v', COOKIE_MAX_PAIR - 1);
	value[COOKIE_MAX_PAIR - 1] = '\0';
	fmt("n", value, NULL);
	value[COOKIE_MAX_PAIR - 1] = 'v';
	refused("n", value, NULL, "longer than 4096 bytes");
}

Test(cookie, http_date)
{
	char d[64];

	cr_expect_eq(cookie_http_date(d, sizeof(d), 0), 29);
	cr_expect_str_eq(d, "Thu, 01 Jan 1970 00:00:00 GMT");
	cookie_http_date(d, sizeof(d), 951782400);
	cr_expect_str_eq(d, "Tue, 29 Feb 2000 00:00:00 GMT");
}
