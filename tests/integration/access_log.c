/*
 * access_log.c - the access log and request ids, as an operator sees
 * them through the real nginx: the lines in the file, the response
 * headers and error pages, the error log.
 *
 * Every test starts the real sluice (its access log in its private
 * folder) and the real nginx in front, with kept-alive upstream
 * connections as users deploy it.
 */
#include <ctype.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "fcgi_client.h"
#include "harness.h"
#include "load.h"
#include "logscan.h"
#include "modules_conf.h"

#define PARAMS	"/etc/nginx/fastcgi_params"

static struct sluice_proc sp;
static struct nginx_proc np;

static void setup(void)
{
	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
}

static void teardown(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
}

static const char plain_locations[] = HARNESS_KEEPALIVE_LOCATION;

/* nginx makes the id and passes it as the README says. */
static const char id_locations[] =
	"location / {\n"
	"  include " PARAMS ";\n"
	"  fastcgi_param HTTP_X_REQUEST_ID $request_id;\n"
	"  fastcgi_pass sluice;\n"
	"  fastcgi_keep_conn on;\n"
	"}\n";

/*
 * sluice with whoami at /, routes at /demo and fail at /fail, `settings`
 * after them, and nginx in front with `locations`.
 */
static void start(const char *settings, const char *locations)
{
	char whoami[PATH_MAX], routes[PATH_MAX], fail[PATH_MAX], body[16384];

	cr_assert_not_null(realpath(BUILD_DIR "/fixtures/whoami.so", whoami));
	cr_assert_not_null(realpath(BUILD_DIR "/apps/routes.so", routes));
	cr_assert_not_null(realpath(BUILD_DIR "/fixtures/fail.so", fail));
	snprintf(body, sizeof(body),
		 "modules = (\n"
		 "  { path = \"%s\"; mount = \"/\"; },\n"
		 "  { path = \"%s\"; mount = \"/demo\"; },\n"
		 "  { path = \"%s\"; mount = \"/fail\"; }\n"
		 ");\n%s\n", whoami, routes, fail, settings);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
	cr_assert_eq(harness_nginx_start(&np, sp.sock, locations), 0, "nginx did not start");
}

static const char *url(const char *path)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", np.port, path);
	return buf;
}

static char *access_text(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/access.log", sp.dir);
	return harness_read_file(path);
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* Wait up to `ms` for the access log to hold `n` lines; the count it has. */
static int wait_lines(int n, long ms)
{
	long until = harness_now_ms() + ms;
	int have;

	for (;;) {
		char *text = access_text();

		have = count_lines(text);
		free(text);
		if (have >= n || harness_now_ms() >= until)
			return have;
		harness_sleep_ms(20);
	}
}

/* The value of response header `name` in a raw header block, malloc'ed; NULL if none. */
static char *header_value(const char *headers, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = headers; p && *p; ) {
		const char *end = strstr(p, "\r\n");

		if (!end)
			break;
		if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
			const char *v = p + len + 1;

			while (*v == ' ')
				v++;
			return strndup(v, (size_t)(end - v));
		}
		p = end + 2;
	}
	return NULL;
}

/* ---- The access log --------------------------------------------------- */

Test(access_log, is_off_by_default, .init = setup, .fini = teardown)
{
	struct http_reply r;
	char path[256];

	start("", plain_locations);
	cr_assert_eq(http_request("GET", url("/"), NULL, 0, NULL, &r), 0);
	cr_assert_eq(r.status, 200);
	http_reply_free(&r);
	snprintf(path, sizeof(path), "%s/access.log", sp.dir);
	cr_assert_neq(access(path, F_OK), 0, "an access log was written though none was asked");
}

/*
 * Under load with 4 workers, every request served is one whole line:
 * as many lines as responses, each in the default format.
 */
Test(access_log, one_whole_line_per_request_under_load_with_4_workers, .init = setup,
     .fini = teardown, .timeout = 60)
{
	struct load_opts o = { .method = "GET", .clients = 16, .duration_ms = 3000,
			       .max_requests = 200000, .timeout_ms = 5000 };
	struct load l;
	regex_t re;
	char *text, *line, *save, summary[512];
	long served;
	int lines, bad = 0;

	start("access_log = \"access.log\";\npm = { max_children = 4; };", plain_locations);
	o.url = url("/whoami?x=1");
	cr_assert_eq(load_start(&l, &o), 0);
	load_wait(&l);
	served = load_with_status(&l, 200);
	cr_log_info("%s", load_summary(&l, summary, sizeof(summary)));
	cr_assert_eq(load_failed(&l), 0, "%s", summary);
	cr_assert_gt(served, 1000, "too few requests to mean anything: %s", summary);
	lines = wait_lines((int)served, 3000);
	cr_assert_eq(lines, served, "%d access log lines for %ld requests served", lines, served);

	/* 127.0.0.1 - - [04/Dec/2026:07:29:17 +0000] "GET /whoami?x=1" 200 9 0.123 3f2a... */
	cr_assert_eq(regcomp(&re, "^127\\.0\\.0\\.1 - - \\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:"
			     "[0-9:]{8} [-+][0-9]{4}\\] \"GET /whoami\\?x=1\" 200 [0-9]+ "
			     "[0-9]+\\.[0-9]{3} [0-9a-f]{16}$", REG_EXTENDED | REG_NOSUB), 0);
	text = access_text();
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (regexec(&re, line, 0, NULL, 0) != 0 && bad++ == 0)
			cr_log_error("a line out of format: \"%s\"", line);
	cr_expect_eq(bad, 0, "%d of %d lines are torn or out of format", bad, lines);
	regfree(&re);
	free(text);
	load_free(&l);
}

/*
 * Lines wait in the worker's buffer until it has nothing to do.  Ten
 * requests pipelined on one connection with a 3 s sleep behind them:
 * the worker answers the ten and enters the sleep without waiting for
 * work in between, so their lines are still waiting when it is killed
 * with SIGKILL.  The master writes them: all ten are in the log.
 */
Test(access_log, lines_of_a_killed_worker_are_not_lost, .init = setup, .fini = teardown,
     .timeout = 20)
{
	static const char *const mods[] = { "whoami /", "hang /h", NULL };
	struct fcgi_buf params = { 0 }, sleep_params = { 0 }, req = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;
	pid_t w[8];
	int n, lines;

	cr_assert_eq(modules_conf_start(&sp, NULL, "access_log = \"access.log\";\n"
					"pm = { mode = \"static\"; max_children = 1; };", mods), 0);
	for (long until = harness_now_ms() + 3000;
	     (n = logscan_workers(&sp, w, 8)) < 1 && harness_now_ms() < until;)
		harness_sleep_ms(10);
	cr_assert_eq(n, 1, "no worker");
	cr_assert_eq(fcgi_client_open(&c, sp.sock), 0);
	fcgi_client_params(&params, "GET", "/pid", NULL);
	fcgi_client_params(&sleep_params, "GET", "/h/sleep?ms=3000", NULL);
	for (int i = 0; i < 10; i++)
		fcgi_client_request(&req, 1, FC_KEEP_CONN, &params, NULL, 0);
	fcgi_client_request(&req, 1, FC_KEEP_CONN, &sleep_params, NULL, 0);
	cr_assert_eq(fcgi_client_send(&c, req.p, req.len), 0);
	for (int i = 0; i < 10; i++) {
		fcgi_client_read_response(&c, 1, &rs, 5000);
		cr_assert_eq(rs.end, FC_R_END, "response %d did not come", i);
		fcgi_client_resp_free(&rs);
	}
	harness_sleep_ms(300);	/* in the sleep now */
	cr_assert_eq(kill(w[0], SIGKILL), 0);
	lines = wait_lines(10, 3000);
	fcgi_client_close(&c);
	fcgi_client_buf_free(&params);
	fcgi_client_buf_free(&sleep_params);
	fcgi_client_buf_free(&req);
	cr_assert_eq(lines, 10, "%d of the 10 lines of a worker killed with SIGKILL are in "
		     "the access log", lines);
}

Test(access_log, every_field_of_the_format, .init = setup, .fini = teardown)
{
	struct http_reply r;
	const char *const headers[] = { "User-Agent: probe \"7\"", "X-Request-Id: field-test-1",
					NULL };
	char *text, expect[512];

	start("access_log = \"access.log\";\n"
	      "access_format = \"%R|%m|%r|%Q|%q|%s|%b|%l|%I|%f|%n|%{SERVER_PROTOCOL}e|%{User-Agent}i|"
	      "%{X-None}i|%%|%{us}d|%{ms}C|%M|%p|%T\";", plain_locations);
	cr_assert_eq(http_request("GET", url("/demo/users/2?full=1"), NULL, 0, headers, &r), 0);
	cr_assert_eq(r.status, 200, "body: %s", r.body);
	cr_assert_eq(wait_lines(1, 2000), 1);
	text = access_text();
	snprintf(expect, sizeof(expect), "127.0.0.1|GET|/demo/users/2|?|full=1|200|%zu|-|"
		 "field-test-1|/demo/users/:id|routes|HTTP/1.1|probe \\x227\\x22|-|%%|",
		 r.body_len);
	cr_assert_eq(strncmp(text, expect, strlen(expect)), 0,
		     "line\n  %s\ndoes not start with\n  %s", text, expect);
	{
		long long us, kib;
		int cpu_ms, cpu_frac, pid;
		char iso[64];

		cr_assert_eq(sscanf(text + strlen(expect), "%lld|%d.%d|%lld|%d|%63s", &us, &cpu_ms,
				    &cpu_frac, &kib, &pid, iso), 6, "the tail of: %s", text);
		cr_expect(us >= 0 && us < 2000000, "duration %lld us", us);
		cr_expect(kib > 100, "peak memory %lld KiB", kib);
		cr_expect(pid > 1 && pid != sp.pid, "pid %d is not a worker's", pid);
		cr_expect(strlen(iso) == 24 && iso[10] == 'T', "ISO time \"%s\"", iso);
	}
	free(text);
	http_reply_free(&r);
}

Test(access_log, a_bad_format_is_refused_at_start_with_its_line, .init = setup,
     .fini = teardown)
{
	char body[8192], whoami[PATH_MAX], *log;
	int rc;

	cr_assert_not_null(realpath(BUILD_DIR "/fixtures/whoami.so", whoami));
	snprintf(body, sizeof(body), "modules = ( { path = \"%s\"; } );\n"
		 "access_log = \"access.log\";\naccess_format = \"%%m %%z\";\n", whoami);
	rc = harness_sluice_start(&sp, body);
	cr_assert_neq(rc, 0, "sluice started with access_format \"%%m %%z\"");
	log = harness_sluice_log(&sp);
	free(log);
	/* The message went to stderr; `sluice -t` shows the same line. */
	{
		char cmd[512], out[1024] = "";
		FILE *p;

		snprintf(cmd, sizeof(cmd), "%s/sluice -t -c %s 2>&1", BUILD_DIR, sp.conf);
		p = popen(cmd, "r");
		cr_assert_not_null(p);
		cr_assert_gt(fread(out, 1, sizeof(out) - 1, p), 0);
		pclose(p);
		cr_assert_not_null(strstr(out, "sluice.conf:"), "%s", out);
		cr_assert_not_null(strstr(out, "access_format: unknown field \"%z\""), "%s", out);
	}
}

/* ---- Request ids ------------------------------------------------------ */

/*
 * nginx's $request_id, passed with fastcgi_param as the README says, is
 * the id of the request everywhere: the response header, the error page,
 * the error log's line and the access log.
 */
Test(request_id, nginx_request_id_is_in_header_error_page_error_log_and_access_log,
     .init = setup, .fini = teardown)
{
	struct http_reply r;
	char *id, *text, *line;

	start("access_log = \"access.log\";", id_locations);
	cr_assert_eq(http_request("GET", url("/fail"), NULL, 0, NULL, &r), 0);
	cr_assert_eq(r.status, 500);
	id = header_value(r.headers, "X-Request-Id");
	cr_assert_not_null(id, "no X-Request-Id header in:\n%s", r.headers);
	cr_assert_eq(strlen(id), 32, "\"%s\" is not nginx's $request_id", id);
	for (const char *p = id; *p; p++)
		cr_assert(isxdigit((unsigned char)*p), "\"%s\" is not nginx's $request_id", id);
	cr_expect_not_null(strstr(r.body, id), "the error page does not name %s:\n%s", id, r.body);
	line = logscan_wait(&sp, id, "handler failed", 2000);
	cr_expect_not_null(line, "no error log line names request %s:\n%s", id,
			   logscan_tail(&sp, 2000));
	free(line);
	cr_assert_eq(wait_lines(1, 2000), 1);
	text = access_text();
	cr_expect_not_null(strstr(text, id), "the access log does not name %s:\n%s", id, text);
	free(text);
	free(id);
	http_reply_free(&r);
}

/* Without fastcgi_param, a client's own X-Request-Id arrives as HTTP_X_REQUEST_ID. */
Test(request_id, a_valid_incoming_id_is_kept_and_a_bad_one_replaced, .init = setup,
     .fini = teardown)
{
	const char *const good[] = { "X-Request-Id: 7d5e1c4a-0b7e-4a51-9c2e-3f1d2c3b4a59", NULL };
	const char *const bad[] = { "X-Request-Id: has spaces; and more", NULL };
	char longest[128], longh[160];
	const char *const toolong[] = { longh, NULL };
	struct http_reply r;
	char *id;

	start("", plain_locations);
	cr_assert_eq(http_request("GET", url("/"), NULL, 0, good, &r), 0);
	id = header_value(r.headers, "X-Request-Id");
	cr_assert_not_null(id);
	cr_expect_str_eq(id, "7d5e1c4a-0b7e-4a51-9c2e-3f1d2c3b4a59");
	free(id);
	http_reply_free(&r);

	cr_assert_eq(http_request("GET", url("/"), NULL, 0, bad, &r), 0);
	cr_assert_eq(r.status, 200);
	id = header_value(r.headers, "X-Request-Id");
	cr_assert_not_null(id);
	cr_expect_eq(strlen(id), 16, "a bad id was not replaced by ours: \"%s\"", id);
	free(id);
	http_reply_free(&r);

	memset(longest, 'a', 65);
	longest[65] = '\0';
	snprintf(longh, sizeof(longh), "X-Request-Id: %s", longest);
	cr_assert_eq(http_request("GET", url("/"), NULL, 0, toolong, &r), 0);
	id = header_value(r.headers, "X-Request-Id");
	cr_assert_not_null(id);
	cr_expect_eq(strlen(id), 16, "a 65-character id was not replaced: \"%s\"", id);
	free(id);
	http_reply_free(&r);
	cr_expect_not_null(logscan_wait(&sp, "is not a usable request id", NULL, 2000));
}

Test(request_id, the_header_can_be_renamed_or_turned_off, .init = setup, .fini = teardown)
{
	struct http_reply r;
	char *id;

	start("request_id = { header = \"X-Trace\"; param = \"HTTP_X_TRACE_IN\"; };",
	      plain_locations);
	{
		const char *const h[] = { "X-Trace-In: abc.123", "X-Request-Id: ignored", NULL };

		cr_assert_eq(http_request("GET", url("/"), NULL, 0, h, &r), 0);
	}
	id = header_value(r.headers, "X-Trace");
	cr_assert_not_null(id, "headers:\n%s", r.headers);
	cr_expect_str_eq(id, "abc.123");
	cr_expect_null(header_value(r.headers, "X-Request-Id"));
	free(id);
	http_reply_free(&r);
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);

	start("request_id = { header = false; };", plain_locations);
	cr_assert_eq(http_request("GET", url("/"), NULL, 0, NULL, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_expect_null(header_value(r.headers, "X-Request-Id"), "headers:\n%s", r.headers);
	http_reply_free(&r);
}
