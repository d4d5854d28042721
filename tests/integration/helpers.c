/*
 * helpers.c - the request helpers through the real nginx: a module
 * written with them (fixtures/notes.c) takes query fields, a form POST,
 * sets and reads a cookie, redirects, answers errors by Accept, and the
 * header rules hold on the wire (one Content-Type, no Status from a
 * module, a bare 204).
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "modules_conf.h"

static struct sluice_proc sp;
static struct nginx_proc np;

static void setup(void)
{
	static const char *const mods[] = { "notes /", NULL };
	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
	cr_assert_eq(modules_conf_start(&sp, NULL, "pm = { max_children = 1; };\n", mods), 0);
	cr_assert_eq(harness_nginx_start(&np, sp.sock, HARNESS_KEEPALIVE_LOCATION), 0);
}

static void teardown(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
}

TestSuite(helpers, .init = setup, .fini = teardown);

static void req(const char *method, const char *path, const char *body,
		const char *const *headers, struct http_reply *r)
{
	char url[512];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", np.port, path);
	cr_assert_eq(http_request(method, url, body, body ? strlen(body) : 0, headers, r), 0,
		     "%s %s: no answer", method, path);
}

static int count_lines(const char *headers, const char *prefix)
{
	int n = 0;

	for (const char *p = headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "")
		n += strncasecmp(p, prefix, strlen(prefix)) == 0;
	return n;
}

static const char *const form_type[] = {
	"Content-Type: application/x-www-form-urlencoded", NULL
};

Test(helpers, query_fields_decoded_with_typed_defaults)
{
	struct http_reply r;

	req("GET", "/notes?limit=5&q=a+b%26%22c%3C&q=second&junk=%zz", NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	assert_has(r.body, "\"q\":\"a b\\u0026\\\"c\\u003C\"");
	assert_has(r.body, "\"limit\":5,\"fields\":4,");
	http_reply_free(&r);
	req("GET", "/notes?limit=12abc", NULL, NULL, &r);
	assert_has(r.body, "{\"q\":null,\"limit\":20,");
	http_reply_free(&r);
	expect_sluice_clean(&sp);
}

Test(helpers, form_post_sets_a_cookie_and_redirects_then_the_cookie_reads_back)
{
	struct http_reply r;
	const char *const with_cookie[] = { "Cookie: other=1; last=%3Cb%3Ehi%20%26%20bye", NULL };

	req("POST", "/notes", "title=%3Cb%3Ehi+%26+bye&x=1", form_type, &r);
	cr_assert_eq(r.status, 303, "%s", r.body);
	cr_expect(harness_has_header_line(r.headers, "Location: /notes"), "%s", r.headers);
	cr_expect(harness_has_header_line(r.headers, "Set-Cookie: last=%3Cb%3Ehi%20%26%20bye; "
					  "Path=/; HttpOnly; SameSite=Lax"), "%s", r.headers);
	http_reply_free(&r);
	req("GET", "/notes", NULL, NULL, &r);
	assert_has(r.body, "\"notes\":[\"\\u003Cb\\u003Ehi \\u0026 bye\"]");
	http_reply_free(&r);
	req("GET", "/last", NULL, with_cookie, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "<p>&lt;b&gt;hi &amp; bye</p>");
	http_reply_free(&r);
	expect_sluice_clean(&sp);
	expect_nginx_clean(&np);
}

Test(helpers, a_form_of_another_type_and_an_empty_title_get_errors)
{
	const char *const json[] = { "Content-Type: application/json", "Accept: application/json",
				     NULL };
	struct http_reply r;

	req("POST", "/notes", "{\"title\":\"x\"}", json, &r);
	cr_expect_eq(r.status, 400, "%s", r.body);
	assert_has(r.body, "{\"status\":400,\"error\":\"Bad Request\",\"request_id\":\"");
	http_reply_free(&r);
	/* Not a form is an answer to the module's question, not a fault to log. */
	cr_expect_neq(harness_log_wait(&sp, "the form body was not parsed", 300), 0,
		      "a JSON body was logged as a form that failed");
	req("POST", "/notes", "title=", form_type, &r);
	cr_expect_eq(r.status, 422, "%s", r.body);
	http_reply_free(&r);
}

Test(helpers, whole_body_with_a_limit_and_413)
{
	struct http_reply r;

	req("POST", "/raw", "sixteen bytes!!!", NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(r.body, "16 bytes: sixteen bytes!!!\n");
	http_reply_free(&r);
	req("POST", "/raw", "seventeen bytes!!", NULL, &r);
	cr_expect_eq(r.status, 413, "%s", r.body);
	assert_has(r.body, "<h1>413 ");
	http_reply_free(&r);
	/* The connection nginx keeps is still good after the unread rest. */
	req("GET", "/notes", NULL, NULL, &r);
	cr_expect_eq(r.status, 200);
	http_reply_free(&r);
}

Test(helpers, error_response_follows_accept_and_carries_the_request_id)
{
	const char *const html[] = { "Accept: text/html,*/*;q=0.8", "X-Request-Id: err-id-1", NULL };
	const char *const json[] = { "Accept: application/json", "X-Request-Id: err-id-2", NULL };
	struct http_reply r;

	req("GET", "/missing", NULL, html, &r);
	cr_assert_eq(r.status, 404);
	cr_expect(harness_has_header_line(r.headers, "Content-Type: text/html"), "%s", r.headers);
	assert_has(r.body, "<h1>404 Not Found</h1>");
	assert_lacks(r.body, "partial body");
	http_reply_free(&r);
	req("GET", "/missing", NULL, json, &r);
	cr_assert_eq(r.status, 404);
	cr_expect(harness_has_header_line(r.headers, "Content-Type: application/json"), "%s",
		  r.headers);
	assert_has(r.body, "{\"status\":404,\"error\":\"Not Found\",\"request_id\":\"");
	http_reply_free(&r);
}

Test(helpers, one_content_type_no_module_status_and_many_cookies)
{
	struct http_reply r;

	req("GET", "/headers", NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "a module's Status line reached nginx: %s", r.headers);
	cr_expect_eq(count_lines(r.headers, "Content-Type:"), 1, "%s", r.headers);
	cr_expect(harness_has_header_line(r.headers, "Content-Type: application/x-notes"), "%s",
		  r.headers);
	cr_expect_eq(count_lines(r.headers, "Set-Cookie:"), 2, "%s", r.headers);
	cr_expect(harness_has_header_line(r.headers, "Set-Cookie: b=2; Path=/; Max-Age=60; Secure; "
					  "HttpOnly; SameSite=Lax"), "%s", r.headers);
	assert_has(r.body, "status rc=-1 einval=1");
	http_reply_free(&r);
	cr_expect_eq(harness_log_wait(&sp, "refused response header Status", 3000), 0);
}

Test(helpers, a_204_leaves_bare)
{
	struct http_reply r;

	req("GET", "/empty", NULL, NULL, &r);
	cr_assert_eq(r.status, 204);
	cr_expect_eq(count_lines(r.headers, "Content-Type:"), 0, "%s", r.headers);
	cr_expect_eq(r.body_len, 0, "%s", r.body);
	http_reply_free(&r);
}

Test(helpers, a_cookie_that_would_break_the_header_is_refused_and_logged)
{
	struct http_reply r;

	req("GET", "/badcookie", NULL, NULL, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "rc=-1 einval=1");
	cr_expect_eq(count_lines(r.headers, "Set-Cookie:"), 0, "%s", r.headers);
	http_reply_free(&r);
	cr_expect_eq(harness_log_wait(&sp, "refused to set a cookie: its value holds byte 0x3b "
				      "at offset 1", 3000), 0);
}
