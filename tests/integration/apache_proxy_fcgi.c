/*
 * apache_proxy_fcgi.c - the real Apache in front of the real sluice,
 * through mod_proxy_fcgi, over a unix socket and over TCP.
 *
 * The ProxyPass lines are conf/apache/sluice-proxy-fcgi.conf's: the file
 * is pasted into the harness's Apache config with only the socket path
 * and the port changed, and, for the variants, the unix socket line
 * commented out and the variant's line uncommented.
 *
 * What Apache 2.4 sends: SCRIPT_NAME is the whole path the client asked
 * for, decoded and normalized ("/app/echo/some/path"), with no PATH_INFO
 * and no DOCUMENT_URI; REQUEST_URI is the raw target with its query.
 * sluice routes on SCRIPT_NAME, so the modules are mounted under /app.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "check.h"
#include "harness.h"
#include "scenarios.h"

#define EXAMPLE		"conf/apache/sluice-proxy-fcgi.conf"
#define EXAMPLE_SOCK	"/run/sluice/sluice.sock"
#define EXAMPLE_TCP	"127.0.0.1:9000"
/* The example's variants, each a commented line that replaces the unix one. */
#define LINE_TCP	"#ProxyPass \"/app/\" \"fcgi://127.0.0.1:9000/\""
#define LINE_REUSE	"#ProxyPass \"/app/\" \"unix:/run/sluice/sluice.sock|" \
			"fcgi://localhost/\" enablereuse=on ttl=50"

static struct sluice_proc sp;
static struct apache_proc ap;

static void stop_all(void)
{
	harness_apache_stop(&ap);
	harness_sluice_stop(&sp);
}

/* ---- Setting up ------------------------------------------------------- */

/* The sample modules under the example's prefix, and a pool of two. */
static const char *modules_conf(void)
{
	static char conf[3 * PATH_MAX + 256];
	char hello[PATH_MAX], echo[PATH_MAX], routes[PATH_MAX];

	assert_built(hello, sizeof(hello), "apps/hello.so");
	assert_built(echo, sizeof(echo), "apps/echo.so");
	assert_built(routes, sizeof(routes), "apps/routes.so");
	snprintf(conf, sizeof(conf),
		 "pm = { max_children = 2; };\n"
		 "modules = (\n"
		 "  { path = \"%s\"; mount = \"/app/hello\"; },\n"
		 "  { path = \"%s\"; mount = \"/app/echo\"; },\n"
		 "  { path = \"%s\"; mount = \"/app/demo\"; }\n"
		 ");\n", hello, echo, routes);
	return conf;
}

static char *read_example(void)
{
	FILE *f = fopen(EXAMPLE, "r");
	char *text = calloc(1, 16384);
	size_t len;

	cr_assert_not_null(f, "cannot open %s", EXAMPLE);
	cr_assert_not_null(text);
	len = fread(text, 1, 16383, f);
	fclose(f);
	cr_assert_lt(len, 16383, "%s is unexpectedly large", EXAMPLE);
	return text;
}

/*
 * Put the variant `line` (a commented ProxyPass line of the example) in
 * place of the active ProxyPass line: that one gets a '#', this one
 * loses its own.
 */
static char *choose_variant(char *text, const char *line)
{
	char from[512], to[512];

	text = example_replace(text, "\nProxyPass ", "\n#ProxyPass ", EXAMPLE);
	snprintf(from, sizeof(from), "\n%s\n", line);
	snprintf(to, sizeof(to), "\n%s\n", line + 1);
	return example_replace(text, from, to, EXAMPLE);
}

/*
 * sluice with the sample modules, then Apache with the example, or with
 * its `variant` line in place of the unix socket one.  The TCP variant
 * gets a sluice listening on a free loopback port as well, and the
 * example's port replaced by it.
 */
static void start(const char *variant)
{
	char listener[80], address[64];
	char *conf;
	int rc;

	address[0] = '\0';
	if (variant != NULL && strcmp(variant, LINE_TCP) == 0) {
		snprintf(address, sizeof(address), "127.0.0.1:%d", harness_free_port());
		snprintf(listener, sizeof(listener), "\"%s\"", address);
		rc = harness_sluice_start_listeners(&sp, listener, modules_conf());
	} else {
		rc = harness_sluice_start(&sp, modules_conf());
	}
	cr_assert_eq(rc, 0, "sluice did not start");
	/* Apache's children (www-data when the tests run as root) must reach
	 * the socket, mode 0666, inside the private folder. */
	cr_assert_eq(chmod(sp.dir, 0711), 0);
	cr_assert_eq(harness_apache_prepare(&ap), 0, "no folder for Apache");
	conf = read_example();
	if (variant != NULL)
		conf = choose_variant(conf, variant);
	conf = example_replace(conf, EXAMPLE_SOCK, sp.sock, EXAMPLE);
	if (address[0] != '\0')
		conf = example_replace(conf, EXAMPLE_TCP, address, EXAMPLE);
	rc = harness_apache_start(&ap, conf);
	free(conf);
	cr_assert_eq(rc, 0, "Apache did not start");
}

static void start_unix(void)
{
	start(NULL);
}

static void start_tcp(void)
{
	start(LINE_TCP);
}

static void start_reuse(void)
{
	start(LINE_REUSE);
}

/* ---- Requests --------------------------------------------------------- */

static const char *url(const char *path)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", ap.port, path);
	return buf;
}

/* A request; a 5xx is Apache's or sluice's failure, explained in their logs. */
static void request(const char *method, const char *path, const char *body,
		    size_t body_len, const char *const *headers, struct http_reply *r)
{
	char *log;

	cr_assert_eq(http_request(method, url(path), body, body_len, headers, r), 0,
		     "%s %s: no HTTP response", method, path);
	if (r->status < 500)
		return;
	log = harness_apache_log(&ap);
	cr_log_warn("%s %s: %ld; Apache's log:\n%s", method, path, r->status, log);
	free(log);
	log = harness_sluice_log(&sp);
	cr_log_warn("sluice's log:\n%s", log);
	free(log);
}

/*
 * Neither sluice nor Apache logged an error: a response can look whole
 * to the client while mod_proxy_fcgi logs a broken backend connection.
 */
static void assert_no_log_errors(void)
{
	expect_sluice_clean(&sp);
	expect_apache_clean(&ap);
}

/* mod_proxy_fcgi serves the modules under the example's /app/. */
static const struct scenario_front front = { request, "/app" };

/* ---- Over the unix socket -------------------------------------------- */

Test(apache_proxy_fcgi, hello, .init = start_unix, .fini = stop_all)
{
	scenario_hello(&front, "/hello");
	assert_no_log_errors();
}

Test(apache_proxy_fcgi, echo_reflects_the_request, .init = start_unix, .fini = stop_all)
{
	static const char *const cgi[] = { "\"SCRIPT_NAME\":\"/app/echo/some/path\"", NULL };

	scenario_echo_reflects(&front, cgi);
	assert_no_log_errors();
}

/* Apache decodes the path and merges slashes; sluice routes on the result. */
Test(apache_proxy_fcgi, echo_routes_on_the_decoded_path, .init = start_unix,
     .fini = stop_all)
{
	scenario_echo_decoded_path(&front, "//app//echo/a%20b/?q=%20");
}

Test(apache_proxy_fcgi, echo_request_bodies, .init = start_unix, .fini = stop_all)
{
	scenario_echo_request_bodies(&front);
	assert_no_log_errors();
}

Test(apache_proxy_fcgi, routes_capture_and_answer, .init = start_unix, .fini = stop_all)
{
	scenario_routes_capture(&front);
	assert_no_log_errors();
}

/*
 * A path under the prefix that no module takes is sluice's 404 (with
 * its request id), a method no route takes its 405; several times over,
 * between ordinary requests, because an answer sent before the request
 * has fully arrived is a race that single requests rarely lose.  A path
 * outside the prefix never reaches sluice.
 */
static void assert_router_answers(int tries)
{
	struct http_reply r;
	int i;

	for (i = 0; i < tries; i++) {
		request("GET", "/app/nowhere", NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 404, "GET /app/nowhere, try %d: %ld", i + 1, r.status);
		assert_has(r.body, "request id");
		http_reply_free(&r);

		request("PUT", "/app/demo/users/1", "x", 1, NULL, &r);
		cr_assert_eq(r.status, 405, "PUT /app/demo/users/1, try %d: %ld", i + 1,
			     r.status);
		cr_assert(harness_has_header_line(r.headers, "Allow: "), "headers:\n%s", r.headers);
		http_reply_free(&r);

		request("GET", "/app/demo/users/3", NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 200, "GET /app/demo/users/3, try %d: %ld", i + 1,
			     r.status);
		cr_assert_str_eq(r.body, "user 3: carol\n", "try %d", i + 1);
		http_reply_free(&r);
	}
}

Test(apache_proxy_fcgi, unknown_paths_are_404_and_405, .init = start_unix,
     .fini = stop_all)
{
	struct http_reply r;

	assert_router_answers(50);
	request("GET", "/elsewhere", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 404);
	cr_assert_null(strstr(r.body, "request id"), "sluice answered outside /app/:\n%s",
		       r.body);
	http_reply_free(&r);
	assert_no_log_errors();
}

/*
 * Without enablereuse, Apache closes its connection to sluice after each
 * response: once the requests are answered, only the listener is left.
 */
Test(apache_proxy_fcgi, connections_closed_without_enablereuse, .init = start_unix,
     .fini = stop_all)
{
	struct http_reply r;
	int i, waited, open = 0;

	for (i = 0; i < 5; i++) {
		request("GET", "/app/demo/users/1", NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 200);
		http_reply_free(&r);
	}
	for (waited = 0; waited < 2000; waited += 50) {
		open = harness_sockets_on(sp.sock);
		if (open == 1)
			break;
		usleep(50000);
	}
	cr_assert_eq(open, 1, "%d connections to sluice left open", open - 1);
	assert_no_log_errors();
}

/* ---- The variants ---------------------------------------------------- */

Test(apache_proxy_fcgi, tcp_variant_serves, .init = start_tcp, .fini = stop_all)
{
	struct http_reply r;

	request("GET", "/app/hello", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello from sluice!\n");
	http_reply_free(&r);

	request("POST", "/app/echo/over/tcp?x=1", "tcp body", 8, NULL, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"path\":\"/app/echo/over/tcp\"");
	assert_has(r.body, "\"query\":\"x=1\"");
	assert_has(r.body, "\"body\":\"tcp body\"}");
	http_reply_free(&r);

	/* The unix socket line is commented out: nothing came that way. */
	cr_assert_eq(harness_sockets_on(sp.sock), 1, "a connection reached the unix socket");
	assert_no_log_errors();
}

/*
 * With enablereuse=on, Apache's one child (the harness runs one) sends
 * request after request on one connection, which stays open.
 */
Test(apache_proxy_fcgi, enablereuse_variant_keeps_one_connection, .init = start_reuse,
     .fini = stop_all)
{
	struct http_reply r;
	int i, open;

	for (i = 0; i < 20; i++) {
		request("GET", i % 2 ? "/app/demo/users/3" : "/app/hello", NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 200, "request %d: %ld", i, r.status);
		http_reply_free(&r);
	}
	open = harness_sockets_on(sp.sock) - 1;
	cr_assert_eq(open, 1, "%d connections to sluice open after 20 requests "
		     "one after the other: expected one, reused", open);
	assert_no_log_errors();
}

/* On a reused connection, each answer still goes to its own request. */
Test(apache_proxy_fcgi, enablereuse_variant_answers_in_order, .init = start_reuse,
     .fini = stop_all)
{
	assert_router_answers(50);
	assert_no_log_errors();
}
