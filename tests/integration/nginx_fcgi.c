/*
 * nginx_fcgi.c - the real nginx in front of the real sluice, over
 * FastCGI on a unix socket, with the sample modules and the fixtures.
 *
 * The main location is the one users copy: the `location /` block of
 * conf/nginx/sluice.conf, pasted into the harness's server block (whose
 * `upstream sluice` keeps idle connections like the example's).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "check.h"
#include "harness.h"
#include "scenarios.h"

#define SNIPPET "conf/nginx/sluice.conf"
#define PARAMS "/etc/nginx/fastcgi_params"

static struct sluice_proc sp;
static struct nginx_proc np;

static void stop_all(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
}

/* ---- Setting up ------------------------------------------------------- */

/*
 * A `modules` list from "MOUNT=REL_PATH" entries, e.g.
 * "/=apps/hello.so", followed by a pool of two workers.
 */
static char *modules_conf(const char *const *mods)
{
	static char conf[4096];
	char path[4096];
	char mount[64];
	const char *eq;
	size_t n;

	n = (size_t)snprintf(conf, sizeof(conf),
			     "pm = { max_children = 2; };\nmodules = (\n");
	for (; *mods != NULL; mods++) {
		eq = strchr(*mods, '=');
		snprintf(mount, sizeof(mount), "%.*s", (int)(eq - *mods), *mods);
		assert_built(path, sizeof(path), eq + 1);
		n += (size_t)snprintf(conf + n, sizeof(conf) - n,
				      "  { path = \"%s\"; mount = \"%s\"; }%s\n",
				      path, mount, mods[1] != NULL ? "," : "");
	}
	snprintf(conf + n, sizeof(conf) - n, ");\n");
	return conf;
}

/*
 * The `location / { ... }` block of the shipped nginx snippet, with its
 * `include fastcgi_params` made absolute (the harness's nginx has its own
 * prefix, where that file does not exist).
 */
static char *snippet_location(void)
{
	static char out[8192];
	char text[8192];
	FILE *f = fopen(SNIPPET, "r");
	size_t len;
	char *start, *p;
	int depth = 0;

	cr_assert_not_null(f, "cannot open %s", SNIPPET);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	start = strstr(text, "location / {");
	cr_assert_not_null(start, "%s has no `location / {`", SNIPPET);
	for (p = start; *p != '\0'; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			break;
	}
	cr_assert_eq(*p, '}', "%s: unbalanced location block", SNIPPET);
	p[1] = '\0';
	p = strstr(start, "include fastcgi_params;");
	cr_assert_not_null(p, "%s: the location does not include fastcgi_params", SNIPPET);
	snprintf(out, sizeof(out), "%.*sinclude " PARAMS ";%s", (int)(p - start), start,
		 p + strlen("include fastcgi_params;"));
	return out;
}

/*
 * Extra locations next to the shipped one: an unbuffered request body
 * for /echo/unbuffered (a chunked upload then reaches sluice as it
 * arrives, without a length), and an unbuffered response for /big, so
 * that nginx reads the 100 MB only as fast as the client takes them and
 * the worker streams for the whole download.
 */
static const char extra_locations[] =
	"location = /echo/unbuffered {\n"
	"  include " PARAMS ";\n"
	"  fastcgi_pass sluice;\n"
	"  fastcgi_keep_conn on;\n"
	"  fastcgi_request_buffering off;\n"
	"}\n"
	"location /big {\n"
	"  include " PARAMS ";\n"
	"  fastcgi_pass sluice;\n"
	"  fastcgi_keep_conn on;\n"
	"  fastcgi_buffering off;\n"
	"}\n";

static void start_with(const char *const *mods)
{
	char locations[16384];

	cr_assert_eq(harness_sluice_start(&sp, modules_conf(mods)), 0,
		     "sluice did not start");
	snprintf(locations, sizeof(locations), "%s\n%s", snippet_location(),
		 extra_locations);
	cr_assert_eq(harness_nginx_start(&np, sp.sock, locations), 0,
		     "nginx did not start");
}

/* The sample apps and every fixture that serves, hello catching the rest. */
static void start_all(void)
{
	static const char *const mods[] = {
		"/=apps/hello.so", "/echo=apps/echo.so", "/demo=apps/routes.so",
		"/headers=fixtures/headers.so", "/big=fixtures/big.so",
		"/fail=fixtures/fail.so", NULL
	};

	start_with(mods);
}

/* routes alone, so that paths it does not know reach no catch-all. */
static void start_routes(void)
{
	static const char *const mods[] = { "/demo=apps/routes.so", NULL };

	start_with(mods);
}

/* ---- Requests --------------------------------------------------------- */

static const char *url(const char *path)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", np.port, path);
	return buf;
}

static void request(const char *method, const char *path, const char *body,
		    size_t body_len, const char *const *headers, struct http_reply *r)
{
	cr_assert_eq(http_request(method, url(path), body, body_len, headers, r), 0,
		     "%s %s: no HTTP response", method, path);
}

/* nginx serves the modules at their own mounts. */
static const struct scenario_front front = { request, "" };

/*
 * Neither sluice nor nginx logged an error: a response can look whole
 * to the client while nginx logs "upstream prematurely closed" or sluice
 * a failed write.
 */
static void assert_no_log_errors(void)
{
	expect_sluice_clean(&sp);
	expect_nginx_clean(&np);
}

/* ---- hello ------------------------------------------------------------ */

Test(nginx_fcgi, hello_at_root, .init = start_all, .fini = stop_all)
{
	scenario_hello(&front, "/");
}

Test(nginx_fcgi, hello_under_its_mount, .init = start_all, .fini = stop_all)
{
	struct http_reply r;

	request("POST", "/some/where/else?x=1", "ignored", 7, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello from sluice!\n");
	http_reply_free(&r);
}

/* ---- echo ------------------------------------------------------------- */

Test(nginx_fcgi, echo_reflects_the_request, .init = start_all, .fini = stop_all)
{
	static const char *const hdrs[] = { "X-Custom-Thing: value one", NULL };
	struct http_reply r;
	const char *id;

	request("GET", "/echo/some/path?a=1&b=two", NULL, 0, hdrs, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(harness_has_header_line(r.headers, "Content-Type: application/json"),
		  "headers:\n%s", r.headers);
	cr_assert_eq(r.body[0], '{');
	assert_has(r.body, "\"method\":\"GET\"");
	assert_has(r.body, "\"path\":\"/echo/some/path\"");
	assert_has(r.body, "\"query\":\"a=1&b=two\"");
	assert_has(r.body, "\"x-custom-thing\":\"value one\"");
	assert_has(r.body, "\"REQUEST_METHOD\":\"GET\"");
	assert_has(r.body, "\"QUERY_STRING\":\"a=1&b=two\"");
	assert_has(r.body, "\"HTTP_X_CUSTOM_THING\":\"value one\"");
	assert_has(r.body, "\"body\":\"\"}\n");
	id = strstr(r.body, "\"request_id\":\"");
	cr_assert_not_null(id);
	cr_assert_neq(id[strlen("\"request_id\":\"")], '"', "empty request id");
	http_reply_free(&r);
}

Test(nginx_fcgi, echo_escapes_the_body_as_json, .init = start_all, .fini = stop_all)
{
	scenario_echo_escapes_json(&front);
}

Test(nginx_fcgi, echo_one_megabyte_body, .init = start_all, .fini = stop_all)
{
	scenario_echo_one_megabyte(&front);
}

Test(nginx_fcgi, concurrent_bodies_each_to_its_request, .init = start_all, .fini = stop_all,
     .timeout = 120)
{
	scenario_concurrent_bodies(url("/echo"));
}

/* A chunked upload of 200 KB in uneven pieces. */
Test(nginx_fcgi, echo_chunked_body_unbuffered, .init = start_all, .fini = stop_all)
{
	char *got = scenario_echo_chunked(url("/echo/unbuffered"), 200000);

	cr_assert_null(strstr(got, "\"content-length\":"),
		       "a chunked upload was announced with a length");
	free(got);
}

/* ---- routes ----------------------------------------------------------- */

Test(nginx_fcgi, routes_capture_segments_and_tails, .init = start_routes, .fini = stop_all)
{
	struct http_reply r;

	request("GET", "/demo/users", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "1 alice\n2 bob\n3 carol\n");
	http_reply_free(&r);

	scenario_routes_find_users(&front);

	request("DELETE", "/demo/users/3", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "deleted user 3\n");
	http_reply_free(&r);

	request("POST", "/demo/users", "dave", 4, NULL, &r);
	cr_assert_eq(r.status, 201);
	cr_assert_str_eq(r.body, "created user 4: dave\n");
	cr_assert(harness_has_header_line(r.headers, "Location: /demo/users/4"),
		  "headers:\n%s", r.headers);
	http_reply_free(&r);

	request("GET", "/demo/files/a/b/c.txt", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(strncmp(r.body, "file: ", 6), 0, "body: %s", r.body);
	assert_has(r.body, "a/b/c.txt\n");
	http_reply_free(&r);
}

Test(nginx_fcgi, routes_unknown_path_is_404, .init = start_routes, .fini = stop_all)
{
	static const char *const paths[] = {
		"/demo/nope", "/demo/users/2/extra", "/", "/elsewhere", NULL
	};

	scenario_routes_unknown_paths(&front, paths);
}

Test(nginx_fcgi, routes_other_method_is_405_with_allow, .init = start_routes,
     .fini = stop_all)
{
	struct http_reply r;

	request("PUT", "/demo/users/1", "x", 1, NULL, &r);
	cr_assert_eq(r.status, 405);
	cr_assert(harness_has_header_line(r.headers, "Allow: "), "headers:\n%s", r.headers);
	assert_has(r.headers, "GET");
	assert_has(r.headers, "DELETE");
	cr_assert_null(strstr(r.headers, "POST"), "headers:\n%s", r.headers);
	http_reply_free(&r);

	request("DELETE", "/demo/users", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 405);
	cr_assert(harness_has_header_line(r.headers, "Allow: GET, POST") ||
		  harness_has_header_line(r.headers, "Allow: POST, GET"),
		  "headers:\n%s", r.headers);
	http_reply_free(&r);
}

/* ---- keep-alive ------------------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

Test(nginx_fcgi, keepalive_reuses_connections, .init = start_all, .fini = stop_all)
{
	CURL *c = curl_easy_init();
	long status, connects, total_connects = 0;
	char path[64];
	int i;
	int open;

	cr_assert_not_null(c);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/demo/users/%d", 1 + i % 3);
		curl_easy_setopt(c, CURLOPT_URL, url(path));
		cr_assert_eq(curl_easy_perform(c), CURLE_OK, "request %d failed", i);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		cr_assert_eq(status, 200, "request %d: status %ld", i, status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		total_connects += connects;
	}
	curl_easy_cleanup(c);
	cr_expect_eq(total_connects, 1, "curl opened %ld connections to nginx",
		     total_connects);

	/*
	 * One nginx worker sending one request at a time needs one upstream
	 * connection, which stays open between requests.  A sluice that
	 * closed it after each response would leave only the listener.
	 */
	open = harness_sockets_on(sp.sock);
	cr_assert_geq(open, 2, "no kept-alive connection to sluice is open");
	cr_assert_leq(open, 3, "%d sockets on sluice's path: connections not reused",
		      open);
	assert_no_log_errors();
}

/* ---- response headers ------------------------------------------------- */

Test(nginx_fcgi, invalid_headers_refused_and_never_sent, .init = start_all,
     .fini = stop_all)
{
	static const char *const refused[] = {
		"space-name", "colon-name", "empty-name", "cr-value", "lf-value",
		"crlf-value", NULL
	};
	static const char *const never[] = {
		"X Bad", "X-Bad", "X-Cr", "X-Lf", "X-Crlf", "X-Injected", "Injected",
		NULL
	};
	struct http_reply r;
	char line[64];
	int i;

	request("GET", "/headers", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	for (i = 0; refused[i] != NULL; i++) {
		snprintf(line, sizeof(line), "%s rc=-1 errno=EINVAL\n", refused[i]);
		assert_has(r.body, line);
	}
	assert_has(r.body, "valid rc=0 errno=0\n");
	cr_assert(harness_has_header_line(r.headers, "X-Test: ok"), "headers:\n%s", r.headers);
	for (i = 0; never[i] != NULL; i++)
		cr_assert_null(strcasestr(r.headers, never[i]), "%s was sent:\n%s",
			       never[i], r.headers);
	http_reply_free(&r);
}

/* ---- a 100 MB response in bounded memory ------------------------------- */

#define BIG_BYTES	(100LL << 20)
#define RSS_LIMIT_KB	(32 * 1024)
#define SAMPLE_EVERY	(4 << 20)

#define MAX_KIDS	16

/* The largest VmRSS among the workers seen while a download streams. */
struct rss_watch {
	long max_rss;
	int samples;		/* samples that found a worker */
};

/* One sample: the largest VmRSS among the children (workers) of sluice. */
static void sample_workers(void *arg)
{
	struct rss_watch *w = arg;
	pid_t kids[MAX_KIDS];
	int n = harness_children(sp.pid, kids, MAX_KIDS, 1);
	long kb, max = -1;

	for (int i = 0; i < n; i++) {
		kb = harness_rss_kb(kids[i]);
		if (kb > max)
			max = kb;
	}
	if (max > 0) {
		w->samples++;
		if (max > w->max_rss)
			w->max_rss = max;
	}
}

Test(nginx_fcgi, hundred_megabytes_in_bounded_memory, .init = start_all,
     .fini = stop_all, .timeout = 120)
{
	struct rss_watch w = { 0, 0 };
	struct harness_download d = { .every = SAMPLE_EVERY, .sample = sample_workers,
				      .arg = &w };
	char path[64];

	snprintf(path, sizeof(path), "/big?n=%lld", BIG_BYTES);
	cr_assert_eq(harness_http_download(url(path), 90L, &d), 0);

	cr_log_info("largest worker VmRSS while streaming: %ld kB (%d samples)",
		    w.max_rss, w.samples);
	cr_assert_eq(d.status, 200);
	cr_assert_eq(d.received, BIG_BYTES, "received %lld bytes", d.received);
	cr_assert_eq(d.bad_at, -1, "byte %lld is wrong", d.bad_at);
	cr_assert_geq(w.samples, 10, "only %d memory samples taken", w.samples);
	cr_assert_lt(w.max_rss, RSS_LIMIT_KB, "a worker reached %ld kB", w.max_rss);
	assert_no_log_errors();
}

/* ---- a failing handler ----------------------------------------------- */

Test(nginx_fcgi, failing_handler_gives_500_with_request_id, .init = start_all,
     .fini = stop_all)
{
	struct http_reply r;
	const char *p;
	char id[64];
	size_t n = 0;

	request("GET", "/fail", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 500);
	cr_assert_null(strstr(r.body, "PARTIAL"), "the partial output leaked:\n%s", r.body);
	p = strcasestr(r.body, "request id");
	cr_assert_not_null(p, "no request id in the 500 body:\n%s", r.body);
	p += strlen("request id");
	while (*p != '\0' && !isalnum((unsigned char)*p))
		p++;
	while (isalnum((unsigned char)p[n]) && n < sizeof(id) - 1)
		n++;
	memcpy(id, p, n);
	id[n] = '\0';
	cr_assert_geq(n, 8, "request id \"%s\" is too short to be unique", id);
	cr_assert_eq(harness_log_wait(&sp, id, 3000), 0,
		     "request id %s is not in sluice's log", id);
	http_reply_free(&r);
}
