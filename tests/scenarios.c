/*
 * scenarios.c - the sample-app scenarios the front-end suites share
 * (see scenarios.h).  Each one is the run of requests and assertions
 * that stood, word for word, in more than one suite; what differed
 * between the copies (the request function, the prefix, a target, the
 * CGI variables a front sends) is a parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "check.h"
#include "load.h"
#include "scenarios.h"

/* `rel` under the front's prefix, in `out`. */
static const char *at(const struct scenario_front *f, const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s%s", f->prefix, rel);
	return out;
}

void scenario_hello(const struct scenario_front *f, const char *path)
{
	struct http_reply r;
	char p[512];

	f->request("GET", at(f, path, p, sizeof(p)), NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello from sluice!\n");
	cr_assert(harness_has_header_line(r.headers, "Content-Type: text/plain"),
		  "headers:\n%s", r.headers);
	http_reply_free(&r);
}

void scenario_echo_reflects(const struct scenario_front *f, const char *const *cgi)
{
	static const char *const hdrs[] = { "X-Custom-Thing: value one", NULL };
	struct http_reply r;
	char p[512], needle[640];

	f->request("GET", at(f, "/echo/some/path?a=1&b=two", p, sizeof(p)), NULL, 0, hdrs, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(harness_has_header_line(r.headers, "Content-Type: application/json"),
		  "headers:\n%s", r.headers);
	assert_has(r.body, "\"method\":\"GET\"");
	snprintf(needle, sizeof(needle), "\"path\":\"%s/echo/some/path\"", f->prefix);
	assert_has(r.body, needle);
	assert_has(r.body, "\"query\":\"a=1&b=two\"");
	assert_has(r.body, "\"x-custom-thing\":\"value one\"");
	for (; *cgi != NULL; cgi++)
		assert_has(r.body, *cgi);
	snprintf(needle, sizeof(needle), "\"REQUEST_URI\":\"%s\"", p);
	assert_has(r.body, needle);
	assert_has(r.body, "\"body\":\"\"}\n");
	http_reply_free(&r);
}

void scenario_echo_decoded_path(const struct scenario_front *f, const char *target)
{
	struct http_reply r;
	char needle[640];

	f->request("GET", target, NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	snprintf(needle, sizeof(needle), "\"path\":\"%s/echo/a b/\"", f->prefix);
	assert_has(r.body, needle);
	assert_has(r.body, "\"query\":\"q=%20\"");
	http_reply_free(&r);
}

void scenario_echo_request_bodies(const struct scenario_front *f)
{
	static const char *const hdrs[] = { "Content-Type: text/x-odd", NULL };
	static const char odd[] = "q\"b\\s\nn\rr\tt\001c caf\xc3\xa9";
	size_t len = 1 << 20;
	char *big = malloc(len);
	struct http_reply r;
	char p[512];
	size_t i;

	f->request("PUT", at(f, "/echo/put", p, sizeof(p)), odd, sizeof(odd) - 1, hdrs, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"method\":\"PUT\"");
	assert_has(r.body, "\"content-type\":\"text/x-odd\"");
	assert_has(r.body, "\"body\":\"q\\\"b\\\\s\\nn\\rr\\tt\\u0001c caf\xc3\xa9\"}");
	http_reply_free(&r);

	cr_assert_not_null(big);
	for (i = 0; i < len; i++)
		big[i] = (char)('a' + (i * 7) % 26);
	f->request("POST", at(f, "/echo/post", p, sizeof(p)), big, len, NULL, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"method\":\"POST\"");
	assert_has(r.body, "\"content-length\":\"1048576\"");
	cr_assert_gt(r.body_len, len + 11);
	cr_assert_eq(memcmp(r.body + r.body_len - len - 3, big, len), 0,
		     "the 1 MB body did not come back whole");
	cr_assert_str_eq(r.body + r.body_len - 3, "\"}\n");
	http_reply_free(&r);
	free(big);
}

void scenario_echo_escapes_json(const struct scenario_front *f)
{
	static const char *const hdrs[] = { "Content-Type: text/x-odd", NULL };
	static const char body[] = "q\"b\\s\nn\rr\tt\001c\x7f caf\xc3\xa9";
	struct http_reply r;
	char p[512], length[64];

	f->request("PUT", at(f, "/echo", p, sizeof(p)), body, sizeof(body) - 1, hdrs, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"method\":\"PUT\"");
	assert_has(r.body, "\"content-type\":\"text/x-odd\"");
	snprintf(length, sizeof(length), "\"content-length\":\"%zu\"", sizeof(body) - 1);
	assert_has(r.body, length);
	assert_has(r.body, "\"body\":\"q\\\"b\\\\s\\nn\\rr\\tt\\u0001c\x7f caf\xc3\xa9\"}");
	http_reply_free(&r);
}

void scenario_echo_one_megabyte(const struct scenario_front *f)
{
	size_t len = 1 << 20;
	char *body = malloc(len);
	char *expect = malloc(len + 32);
	struct http_reply r;
	char p[512];
	size_t i;

	cr_assert(body != NULL && expect != NULL);
	for (i = 0; i < len; i++)
		body[i] = (char)('a' + (i * 7) % 26);
	f->request("POST", at(f, "/echo", p, sizeof(p)), body, len, NULL, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"content-length\":\"1048576\"");
	memcpy(expect, "\"body\":\"", 8);
	memcpy(expect + 8, body, len);
	memcpy(expect + 8 + len, "\"}\n", 4);
	cr_assert_gt(r.body_len, len);
	cr_assert_str_eq(r.body + r.body_len - (len + 11), expect,
			 "the body did not come back whole");
	free(body);
	free(expect);
	http_reply_free(&r);
}

char *scenario_echo_chunked(const char *url, size_t total)
{
	char *got, *expect = malloc(total + 1);
	const char *b;
	long status;

	cr_assert_not_null(expect);
	cr_assert_eq(harness_http_chunked_post(url, total, &status, &got), 0);
	cr_assert_eq(status, 200);
	cr_assert_not_null(got);
	for (size_t i = 0; i < total; i++)
		expect[i] = (char)('A' + i % 26);
	expect[total] = '\0';
	b = strstr(got, "\"body\":\"");
	cr_assert_not_null(b, "no body in %.500s", got);
	b += strlen("\"body\":\"");
	cr_assert_eq(strlen(b), total + 3, "body length %zu, sent %zu",
		     strlen(b) >= 3 ? strlen(b) - 3 : 0, total);
	cr_assert_eq(strncmp(b, expect, total), 0, "the chunked body came back altered");
	free(expect);
	return got;
}

void scenario_routes_find_users(const struct scenario_front *f)
{
	struct http_reply r;
	char p[512];

	f->request("GET", at(f, "/demo/users/2", p, sizeof(p)), NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "user 2: bob\n");
	http_reply_free(&r);

	f->request("GET", at(f, "/demo/users/42", p, sizeof(p)), NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "no user 42\n");
	http_reply_free(&r);
}

void scenario_routes_capture(const struct scenario_front *f)
{
	struct http_reply r;
	char p[512];

	scenario_routes_find_users(f);

	f->request("POST", at(f, "/demo/users", p, sizeof(p)), "dave", 4, NULL, &r);
	cr_assert_eq(r.status, 201);
	cr_assert_str_eq(r.body, "created user 4: dave\n");
	cr_assert(harness_has_header_line(r.headers, "Location: /demo/users/4"),
		  "headers:\n%s", r.headers);
	http_reply_free(&r);

	f->request("GET", at(f, "/demo/files/a/b/c.txt", p, sizeof(p)), NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "file: a/b/c.txt\n");
	http_reply_free(&r);
}

void scenario_routes_unknown_paths(const struct scenario_front *f, const char *const *paths)
{
	struct http_reply r;
	int i;

	for (i = 0; paths[i] != NULL; i++) {
		f->request("GET", paths[i], NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 404, "GET %s: %ld", paths[i], r.status);
		assert_has(r.body, "request id");
		http_reply_free(&r);
	}
}

void scenario_concurrent_bodies(const char *url)
{
	struct load_opts o = { .url = url, .method = "POST", .body_len = 65536, .clients = 8,
			       .duration_ms = 60000, .max_requests = 160, .timeout_ms = 20000 };
	struct load l;

	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
	cr_assert_eq(load_start(&l, &o), 0);
	load_wait(&l);
	cr_assert_eq(l.n, 160, "%ld of 160 requests were sent", l.n);
	cr_assert_eq(load_failed(&l), 0, "%ld of 160 POSTs of 64 KB failed", load_failed(&l));
	cr_assert_eq(load_answered_since(&l, 0, "{\"method\":\"POST\""), 160,
		     "not every POST was answered by echo as a POST");
	load_free(&l);
}
