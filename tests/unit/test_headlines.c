/*
 * test_headlines.c - which response headers replace, which are refused,
 * finding and removing header lines; and the error body's choice of
 * JSON or HTML by Accept.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "headlines.h"
#include "respond.h"

Test(headlines, single_valued_names_replace_and_set_cookie_repeats)
{
	cr_expect(headlines_single("Content-Type"));
	cr_expect(headlines_single("content-type"));
	cr_expect(headlines_single("LOCATION"));
	cr_expect_not(headlines_single("Set-Cookie"));
	cr_expect_not(headlines_single("Vary"));
	cr_expect_not(headlines_single("X-Custom"));
	cr_expect_not(headlines_single("Content-Typo"));
}

Test(headlines, names_sluice_writes_are_reserved)
{
	cr_expect(headlines_reserved("Status"));
	cr_expect(headlines_reserved("status"));
	cr_expect(headlines_reserved("Transfer-Encoding"));
	cr_expect(headlines_reserved("connection"));
	cr_expect_not(headlines_reserved("Statuses"));
	cr_expect_not(headlines_reserved("Content-Type"));
}

Test(headlines, find_and_remove)
{
	char head[] = "Set-Cookie: a=1\r\nContent-Type: text/html\r\nX-Content-Type: no\r\n"
		      "Set-Cookie: b=2\r\n";
	size_t len = strlen(head), ll = 0;
	long at;

	at = headlines_find(head, len, "content-type", &ll);
	cr_assert_eq(at, 17);
	cr_expect_eq(ll, strlen("Content-Type: text/html\r\n"));
	cr_expect_eq(headlines_find(head, len, "Content", &ll), -1, "a prefix is not a name");
	cr_expect_eq(headlines_find(head, len, "Type", &ll), -1);
	len = headlines_remove(head, len, "Set-Cookie");
	head[len] = '\0';
	cr_expect_str_eq(head, "Content-Type: text/html\r\nX-Content-Type: no\r\n");
	len = headlines_remove(head, len, "Content-Type");
	head[len] = '\0';
	cr_expect_str_eq(head, "X-Content-Type: no\r\n");
	cr_expect_eq(headlines_remove(head, 0, "X"), 0);
}

Test(headlines, error_body_follows_accept)
{
	cr_expect_not(respond_wants_json(NULL));
	cr_expect_not(respond_wants_json(""));
	cr_expect_not(respond_wants_json("*/*"));
	cr_expect(respond_wants_json("application/json"));
	cr_expect(respond_wants_json("Application/JSON; charset=utf-8"));
	cr_expect(respond_wants_json("application/problem+json"));
	cr_expect(respond_wants_json("application/json, */*;q=0.1"));
	cr_expect_not(respond_wants_json("text/html,application/xhtml+xml,*/*;q=0.8"));
	cr_expect_not(respond_wants_json("text/html, application/json"), "a tie goes to HTML");
	cr_expect(respond_wants_json("text/html;q=0.5, application/json"));
	cr_expect_not(respond_wants_json("application/json;q=0.4, text/html;q=0.9"));
	cr_expect_not(respond_wants_json("application/json;q=0"));
	cr_expect_not(respond_wants_json("application/jsonx"));
}
