/*
 * dev_mode.c - what development mode shows, and what production shows
 * instead.
 *
 * The same crash, timeout, failing handler and unknown path are asked of
 * sluice without --dev (the production binary, and the dev binary, which
 * must then behave exactly like it): each error page is a status, a
 * generic message and a request id, and the detail is in the error log
 * under that id.  With --dev (dev binary only) the same requests get
 * pages that explain the error, in text for curl and in HTML for a
 * browser.  Then the /_sluice/ debug endpoints, auto-reload of a module
 * rebuilt while sluice runs, the loopback-only rule of --http, and the
 * production binary's refusal of --dev.
 *
 * Production pages are read straight from sluice's socket with the raw
 * FastCGI client (tests/fcgi_client.c), so that nothing a web server adds
 * (nginx's Server header) hides what sluice itself sends.  Development
 * pages come through the --http listener with libcurl, as a developer
 * sees them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "check.h"
#include "fcgi_client.h"
#include "harness.h"

#define SOCKET_TIMEOUT_MS	10000	/* a timed-out request takes ~1 s; this bounds a hang */
#define RELOAD_MS		3000	/* a rebuilt module serves within this */
#define EXIT_MS			3000	/* a refused command line exits within this */
#define READY_MS		5000

/* Sent with every request: a header value that must be escaped in HTML. */
#define PROBE_HEADER		"X-Probe: <script>probe</script>"
#define PROBE_PARAM		"HTTP_X_PROBE=<script>probe</script>"
#define PROBE_ESCAPED		"&lt;script&gt;probe&lt;/script&gt;"

static struct sluice_proc sp;
static int port;		/* the --http listener's, in dev-mode tests */
static char moddir[128];	/* auto-reload: where the module is built */

/* ---- Small helpers ---------------------------------------------------- */

/* "prod" or "dev": the last part of BUILD_DIR (BUILDROOT/PROFILE). */
static const char *profile(void)
{
	const char *slash = strrchr(BUILD_DIR, '/');

	return slash ? slash + 1 : BUILD_DIR;
}

static int dev_build(void)
{
	return strcmp(profile(), "dev") == 0;
}

static void need_dev_build(void)
{
	if (!dev_build())
		cr_skip_test("development mode is only in the dev build (make PROFILE=dev); "
			     "this is %s", BUILD_DIR);
}

/* The first match of the extended regex `pattern` in `text`, group 1 copied to `group`. */
static int regex_find(const char *text, const char *pattern, char *group, size_t cap)
{
	regmatch_t m[2];
	regex_t re;
	int rc;

	cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED), 0, "bad regex %s", pattern);
	rc = regexec(&re, text, 2, m, 0);
	regfree(&re);
	if (rc != 0)
		return -1;
	if (group != NULL && m[1].rm_so >= 0) {
		size_t n = (size_t)(m[1].rm_eo - m[1].rm_so);

		cr_assert_lt(n, cap);
		memcpy(group, text + m[1].rm_so, n);
		group[n] = '\0';
	}
	return 0;
}

/* The body of a `modules = (...)` setting: NULL-terminated { mount, BUILD_DIR path } pairs. */
static void modules_conf(char *out, size_t cap, const char *const mods[][2])
{
	char path[4096];
	size_t n = (size_t)snprintf(out, cap, "modules = (\n");

	for (int i = 0; mods[i][0] != NULL; i++) {
		assert_built(path, sizeof(path), mods[i][1]);
		n += (size_t)snprintf(out + n, cap - n, "  { path = \"%s\"; mount = \"%s\"; }%s\n",
				      path, mods[i][0], mods[i + 1][0] != NULL ? "," : "");
		cr_assert_lt(n, cap);
	}
	snprintf(out + n, cap - n, ");\n");
}

/* The crash, hang and fail fixtures, one request timeout of a second, two workers. */
static void errors_conf(char *out, size_t cap)
{
	static const char *const mods[][2] = {
		{ "/c", "fixtures/crash.so" },
		{ "/h", "fixtures/hang.so" },
		{ "/fail", "fixtures/fail.so" },
		{ "/hello", "apps/hello.so" },
		{ "/refs", "fixtures/refs.so" },
		{ NULL, NULL },
	};
	size_t n = (size_t)snprintf(out, cap, "request_terminate_timeout = 1;\n"
				    "pm = { max_children = 2; };\n");

	modules_conf(out + n, cap - n, mods);
}

/* ---- Running a command ------------------------------------------------ */

struct run {
	int status;		/* wait status; -1 when it had to be killed */
	char out[16384];	/* stdout, NUL-terminated */
	char err[4096];		/* stderr, NUL-terminated */
};

static void drain(int *fd, char *buf, size_t cap, size_t *len)
{
	ssize_t n;

	if (*fd < 0)
		return;
	while ((n = read(*fd, buf + *len, cap - 1 - *len)) > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
	if (n == 0 || (n < 0 && errno != EAGAIN) || *len == cap - 1) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * Run `argv` (argv[0] a path, or a name looked up in PATH) with stdin on
 * /dev/null, collecting stdout and stderr, for at most `timeout_ms`:
 * past that its process group is killed and the status is -1.
 */
static void run_for(char *const argv[], int timeout_ms, struct run *r)
{
	int out[2], err[2], fds[2];
	size_t olen = 0, elen = 0;
	long long start = harness_now_ms();
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	fds[0] = out[0];
	fds[1] = err[0];
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	while (harness_now_ms() - start < timeout_ms) {
		struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };

		if (r->status == -1 && waitpid(pid, &r->status, WNOHANG) != pid)
			r->status = -1;
		if (r->status != -1 && fds[0] < 0 && fds[1] < 0)
			break;
		poll(p, 2, 20);
		drain(&fds[0], r->out, sizeof(r->out), &olen);
		drain(&fds[1], r->err, sizeof(r->err), &elen);
	}
	if (r->status == -1 || fds[0] >= 0 || fds[1] >= 0) {
		kill(-pid, SIGKILL);
		if (r->status == -1)
			waitpid(pid, NULL, 0);
		r->status = -1;
	}
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

/* Exactly one line: text ending in the only newline it has. */
static void assert_one_line(const char *text)
{
	const char *nl = strchr(text, '\n');

	cr_assert(nl != NULL && nl[1] == '\0', "not exactly one line:\n%s", text);
}

/*
 * A folder with a valid config (hello mounted at /, its socket and log
 * inside), for command lines that must be refused before anything starts.
 */
struct cli {
	char dir[64], conf[96], sock[96], log[96];
};

static void cli_setup(struct cli *c)
{
	static const char *const mods[][2] = { { "/", "apps/hello.so" }, { NULL, NULL } };
	char tmpl[] = "/tmp/sluice-test-XXXXXX", body[8192];
	FILE *f;

	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(c->dir, sizeof(c->dir), "%s", tmpl);
	snprintf(c->conf, sizeof(c->conf), "%s/sluice.conf", c->dir);
	snprintf(c->sock, sizeof(c->sock), "%s/sluice.sock", c->dir);
	snprintf(c->log, sizeof(c->log), "%s/error.log", c->dir);
	modules_conf(body, sizeof(body), mods);
	f = fopen(c->conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "listen = { address = \"%s\"; };\nerror_log = \"%s\";\n%s", c->sock, c->log,
		body);
	cr_assert_eq(fclose(f), 0);
}

static void cli_cleanup(struct cli *c)
{
	unlink(c->conf);
	unlink(c->sock);
	unlink(c->log);
	rmdir(c->dir);
}

/* Nothing started: no socket, no error log. */
static void assert_nothing_started(const struct cli *c)
{
	cr_assert_neq(access(c->sock, F_OK), 0, "%s was created", c->sock);
	cr_assert_neq(access(c->log, F_OK), 0, "%s was created", c->log);
}

/* ---- A FastCGI client ------------------------------------------------- */

/*
 * What sluice answered one request, read to the end of the connection
 * (the request does not ask to keep it).
 */
struct fcgi_reply {
	char out[65536];	/* STDOUT up to the first END_REQUEST, NUL-terminated */
	char head[8192];	/* the CGI head, without the blank line */
	const char *body;	/* into out */
	int status;		/* from the Status line; 200 when there is none */
	int ends;		/* END_REQUEST records on the connection */
	size_t after;		/* bytes that came after the first END_REQUEST */
};

/*
 * Read the records of one response to the end of the connection: STDOUT
 * until the first END_REQUEST into `r->out`, every END_REQUEST counted,
 * and the bytes of whatever came after the first one.
 */
static void read_records(struct fcgi_conn *c, struct fcgi_reply *r)
{
	struct fcgi_rec *rec = malloc(sizeof(*rec));
	long deadline = harness_now_ms() + SOCKET_TIMEOUT_MS;
	size_t at = 0, out_len = 0;
	int k;

	cr_assert_not_null(rec);
	while ((k = fcgi_client_read_record(c, rec, (int)(deadline - harness_now_ms()))) ==
	       FC_R_END) {
		size_t size = 8 + rec->clen + rec->plen;

		if (r->ends > 0)
			r->after += size;
		if (r->ends == 0 && rec->type == FC_STDOUT) {
			cr_assert_lt(out_len + rec->clen, sizeof(r->out));
			memcpy(r->out + out_len, rec->c, rec->clen);
			out_len += rec->clen;
		}
		if (rec->type == FC_END)
			r->ends++;
		at += size;
	}
	cr_assert_neq(k, FC_R_TIMEOUT, "reading the response: %s", strerror(ETIMEDOUT));
	cr_assert(k != FC_R_TORN || c->in.len - c->off < 8, "a record cut short at byte %zu", at);
	if (k == FC_R_TORN && r->ends > 0)
		r->after += c->in.len - c->off;
	r->out[out_len] = '\0';
	free(rec);
}

static void split_head(struct fcgi_reply *r)
{
	const char *end = strstr(r->out, "\r\n\r\n");

	cr_assert_not_null(end, "no CGI head in:\n%s", r->out);
	cr_assert_lt((size_t)(end - r->out) + 2, sizeof(r->head));
	memcpy(r->head, r->out, (size_t)(end - r->out) + 2);
	r->head[end - r->out + 2] = '\0';
	r->body = end + 4;
	r->status = strncmp(r->head, "Status: ", 8) == 0 ? atoi(r->head + 8) : 200;
}

/*
 * GET `uri` from the sluice at `sock` as nginx would ask (method, URIs,
 * query), with `extra` parameters ("NAME=value", NULL-terminated).
 */
static void fcgi_get(const char *sock, const char *uri, const char *const *extra,
		     struct fcgi_reply *r)
{
	struct fcgi_buf params = { 0 }, req = { 0 };
	struct fcgi_conn c;
	char name[256];

	memset(r, 0, sizeof(*r));
	fcgi_client_params(&params, "GET", uri, NULL);
	fcgi_client_pair(&params, "GATEWAY_INTERFACE", "CGI/1.1");
	for (; extra != NULL && *extra != NULL; extra++) {
		const char *eq = strchr(*extra, '=');

		snprintf(name, sizeof(name), "%.*s", (int)(eq - *extra), *extra);
		fcgi_client_pair(&params, name, eq + 1);
	}
	fcgi_client_request(&req, 1, 0, &params, NULL, 0);
	cr_assert_eq(fcgi_client_open(&c, sock), 0, "connect %s", sock);
	cr_assert_eq(fcgi_client_send(&c, req.p, req.len), 0);
	read_records(&c, r);
	fcgi_client_close(&c);
	fcgi_client_buf_free(&params);
	fcgi_client_buf_free(&req);
	cr_assert_geq(r->ends, 1, "no END_REQUEST for %s; STDOUT was:\n%s", uri, r->out);
	split_head(r);
}

/* ---- Production pages ------------------------------------------------- */

static void start_errors(void)
{
	char conf[8192];

	errors_conf(conf, sizeof(conf));
	cr_assert_eq(harness_sluice_start(&sp, conf), 0, "sluice did not start");
}

/* An app mounted at /_sluice: then those are its paths, like any other. */
static void start_app_at_sluice_prefix(void)
{
	static const char *const mods[][2] = { { "/_sluice", "apps/hello.so" }, { NULL, NULL } };
	char conf[8192];

	modules_conf(conf, sizeof(conf), mods);
	cr_assert_eq(harness_sluice_start(&sp, conf), 0, "sluice did not start");
}

static void stop_sluice(void)
{
	harness_sluice_stop(&sp);
}

/* No header names the server or its version. */
static void assert_head_anonymous(const char *head)
{
	static const char *const names[] = { "Server:", "X-Powered-By:", "X-Sluice", "Via:" };
	const char *line = head;

	while (*line != '\0') {
		const char *end = strstr(line, "\r\n");
		char text[1024];

		cr_assert_not_null(end, "a head line without CRLF:\n%s", head);
		snprintf(text, sizeof(text), "%.*s", (int)(end - line), line);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			cr_assert_neq(strncasecmp(text, names[i], strlen(names[i])), 0,
				      "a header announces the server: %s", text);
		cr_assert_null(strcasestr(text, "sluice"), "a header names sluice: %s", text);
		cr_assert_null(strstr(text, SLUICE_VERSION), "a header carries the version: %s",
			       text);
		line = end + 2;
	}
	assert_has(head, "Content-Type: text/plain");
}

/*
 * The terse page: exactly "<status> <reason>\nrequest id: <16 hex>\n",
 * and nothing that tells about the server, the app or the failure.  The
 * id is copied to `id`.
 */
static void assert_terse(const struct fcgi_reply *r, int status, const char *reason, char *id)
{
	static const char *const secrets[] = {
		"SIGSEGV", "signal", "backtrace", "Backtrace", "crash", "segv", "hang", "fail",
		"module", "route", "request_terminate", "errno", "/tmp", ".so", ".c", "sluice",
		SLUICE_VERSION, "PARTIAL-OUTPUT", "probe", "<", "development",
	};
	char pattern[128];

	cr_assert_eq(r->status, status, "status %d, not %d:\n%s", r->status, status, r->out);
	snprintf(pattern, sizeof(pattern), "^%d %s\nrequest id: ([0-9a-f]{16})\n$", status,
		 reason);
	cr_assert_eq(regex_find(r->body, pattern, id, 17), 0,
		     "the body is not the terse page \"%d %s\\nrequest id: <16 hex>\\n\":\n%s",
		     status, reason, r->body);
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		assert_lacks(r->body, secrets[i]);
	assert_head_anonymous(r->head);
}

/*
 * The error log has a line with request `id` and every one of `needles`
 * (NULL-terminated): the detail the page left out is there, under the
 * id the client was given.
 */
static void assert_logged_under(const char *id, const char *const *needles)
{
	char *log, *copy, *line, *save = NULL;
	int found = 0;

	harness_log_wait(&sp, id, 3000);
	log = harness_sluice_log(&sp);
	copy = strdup(log);
	cr_assert_not_null(copy);
	for (line = strtok_r(copy, "\n", &save); line != NULL && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *const *n = needles;

		if (strstr(line, id) == NULL)
			continue;
		while (*n != NULL && strstr(line, *n) != NULL)
			n++;
		found = *n == NULL;
	}
	cr_assert(found, "no log line with request %s and all of its detail (first: %s):\n%s",
		  id, needles[0], log);
	free(copy);
	free(log);
}

/* Sent with every production request: none of it may come back. */
static const char *const probe[] = { PROBE_PARAM, NULL };

Test(dev_mode, prod_crash_page_is_terse, .init = start_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct fcgi_reply r;
	char id[17];
	char *log;

	fcgi_get(sp.sock, "/c/segv?who=tester", probe, &r);
	assert_terse(&r, 502, "Bad Gateway", id);
	assert_logged_under(id, (const char *const[]){ "SIGSEGV", "route GET /c/segv",
		"of module crash", "backtrace: crash_fixture_store_null", NULL });
	/* Without --dev nothing of development mode runs, in either binary. */
	log = harness_sluice_log(&sp);
	assert_lacks(log, "development mode");
	assert_lacks(log, "dev:");
	free(log);
}

Test(dev_mode, prod_timeout_page_is_terse, .init = start_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct fcgi_reply r;
	char id[17];

	fcgi_get(sp.sock, "/h/hang", probe, &r);
	assert_terse(&r, 504, "Gateway Timeout", id);
	assert_logged_under(id, (const char *const[]){ "request_terminate_timeout",
		"route GET /h/hang", "of module hang", "backtrace: hang_fixture_spin", NULL });
}

Test(dev_mode, prod_failing_handler_page_is_terse, .init = start_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct fcgi_reply r;
	char id[17];

	fcgi_get(sp.sock, "/fail", probe, &r);
	assert_terse(&r, 500, "Internal Server Error", id);
	assert_logged_under(id, (const char *const[]){ "handler failed", "/fail/*",
		"of module fail", NULL });
}

Test(dev_mode, prod_not_found_page_is_terse, .init = start_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct fcgi_reply r;
	char id[17];

	fcgi_get(sp.sock, "/nope/x.c?path=/tmp/a.so", probe, &r);
	assert_terse(&r, 404, "Not Found", id);
}

/*
 * An error page is one response on the wire: one END_REQUEST and nothing
 * after it, as for a page that went well (FastCGI 1.0 section 5.5).
 */
Test(dev_mode, error_page_ends_the_request_once, .init = start_errors, .fini = stop_sluice,
     .timeout = 30)
{
	static const char *const uris[] = { "/c/ok", "/nope", "/fail" };
	struct fcgi_reply r;

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		fcgi_get(sp.sock, uris[i], NULL, &r);
		cr_expect_eq(r.ends, 1, "GET %s (status %d): %d END_REQUEST records", uris[i],
			     r.status, r.ends);
		cr_expect_eq(r.after, 0, "GET %s (status %d): %zu bytes after END_REQUEST",
			     uris[i], r.status, r.after);
	}
}

static const char *const debug_paths[] = {
	"/_sluice", "/_sluice/", "/_sluice/config", "/_sluice/workers", "/_sluice/modules",
	"/_sluice/echo?x=1",
};

Test(dev_mode, prod_sluice_prefix_is_an_ordinary_404, .init = start_errors,
     .fini = stop_sluice, .timeout = 30)
{
	struct fcgi_reply r;
	char id[17];

	for (size_t i = 0; i < sizeof(debug_paths) / sizeof(debug_paths[0]); i++) {
		fcgi_get(sp.sock, debug_paths[i], NULL, &r);
		assert_lacks(r.body, "_sluice");
		assert_lacks(r.body, "config");
		assert_terse(&r, 404, "Not Found", id);
	}
}

Test(dev_mode, prod_sluice_prefix_belongs_to_an_app_that_routes_it,
     .init = start_app_at_sluice_prefix, .fini = stop_sluice, .timeout = 30)
{
	struct fcgi_reply r;

	for (size_t i = 0; i < sizeof(debug_paths) / sizeof(debug_paths[0]); i++) {
		fcgi_get(sp.sock, debug_paths[i], NULL, &r);
		cr_assert_eq(r.status, 200, "GET %s: %d", debug_paths[i], r.status);
		cr_assert_str_eq(r.body, "Hello from sluice!\n", "GET %s", debug_paths[i]);
	}
}

/* ---- Development pages ------------------------------------------------ */

/*
 * The dev build under --dev with its HTTP listener on a free loopback
 * port, serving `conf`.  A port taken between its choice and the bind
 * makes sluice exit: another is tried.
 */
static void start_dev_with(const char *conf)
{
	char addr[64];

	need_dev_build();
	for (int attempt = 0; attempt < 3; attempt++) {
		const char *const args[] = { "--dev", "--http", addr, NULL };

		port = harness_free_port();
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		if (harness_sluice_start_args(&sp, conf, args) == 0 &&
		    harness_wait_port(sp.pid, port) == 0)
			return;
		harness_sluice_stop(&sp);
	}
	cr_assert_fail("sluice --dev --http did not start");
}

static void start_dev_errors(void)
{
	char conf[8192];

	need_dev_build();
	errors_conf(conf, sizeof(conf));
	start_dev_with(conf);
}

static const char *url(const char *path)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", port, path);
	return buf;
}

/* GET `path` with the probe header, as a browser (`html`) or as curl. */
static void dev_get(const char *path, int html, struct http_reply *r)
{
	const char *const hdrs[] = { PROBE_HEADER, html ? "Accept: text/html,*/*;q=0.8" : NULL,
				     NULL };

	cr_assert_eq(http_request("GET", url(path), NULL, 0, hdrs, r), 0, "GET %s failed", path);
}

/*
 * What every verbose error page has: its status as title, the request's
 * parameters (the query "who=tester") and headers (the probe), a request
 * id, and the form the client asked for: HTML with the probe escaped, or
 * plain text without markup.
 */
static void assert_verbose(const struct http_reply *r, int status, const char *reason, int html)
{
	char title[128];

	cr_assert_eq(r->status, status, "status %ld, not %d:\n%s", r->status, status, r->body);
	assert_has(r->body, "who=tester");
	assert_has(r->body, "QUERY_STRING");
	assert_has(r->body, "REQUEST_METHOD");
	assert_has(r->body, "HTTP_X_PROBE");
	cr_assert_eq(regex_find(r->body, "[^0-9a-f]([0-9a-f]{16})[^0-9a-f]", NULL, 0), 0,
		     "no request id in:\n%s", r->body);
	if (html) {
		assert_has(r->headers, "Content-Type: text/html");
		cr_assert_eq(strncmp(r->body, "<!doctype html>", 15), 0, "not HTML:\n%.300s",
			     r->body);
		snprintf(title, sizeof(title), "<h1>%d %s</h1>", status, reason);
		assert_has(r->body, title);
		assert_has(r->body, PROBE_ESCAPED);
		assert_lacks(r->body, "<script>");
		assert_has(r->body, "</html>");
	} else {
		assert_has(r->headers, "Content-Type: text/plain");
		snprintf(title, sizeof(title), "%d %s\n", status, reason);
		cr_assert_eq(strncmp(r->body, title, strlen(title)), 0,
			     "does not begin with \"%s\":\n%.300s", title, r->body);
		assert_has(r->body, "<script>probe</script>");
		assert_lacks(r->body, "<!doctype");
		assert_lacks(r->body, "<html");
		assert_lacks(r->body, "<h1>");
		assert_lacks(r->body, "&lt;");
	}
}

Test(dev_mode, dev_crash_page_explains, .init = start_dev_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct http_reply r;

	for (int html = 0; html <= 1; html++) {
		dev_get("/c/segv?who=tester", html, &r);
		assert_verbose(&r, 502, "Bad Gateway", html);
		assert_has(r.body, "SIGSEGV");
		assert_has(r.body, "/c/segv");
		assert_has(r.body, "module crash");
		assert_has(r.body, "Backtrace");
		assert_has(r.body, "crash_fixture_store_null");
		assert_has(r.body, "crash_fixture_walk");
		assert_has(r.body, "crash.so");
		/* The frames carry file:line, from the fixture's DWARF. */
		cr_assert_eq(regex_find(r.body, "crash_fixture_store_null\\+0x[0-9a-f]+ at "
					"[^ ]*crash\\.c:[0-9]+ \\(crash\\.so\\)", NULL, 0), 0,
			     "no file:line in:\n%s", r.body);
		http_reply_free(&r);
	}
}

Test(dev_mode, dev_timeout_page_explains, .init = start_dev_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct http_reply r;

	for (int html = 0; html <= 1; html++) {
		dev_get("/h/hang?who=tester", html, &r);
		assert_verbose(&r, 504, "Gateway Timeout", html);
		assert_has(r.body, "request_terminate_timeout");
		assert_has(r.body, "/h/hang");
		assert_has(r.body, "module hang");
		assert_has(r.body, "Backtrace");
		assert_has(r.body, "hang_fixture_spin");
		http_reply_free(&r);
	}
}

Test(dev_mode, dev_failing_handler_page_explains, .init = start_dev_errors,
     .fini = stop_sluice, .timeout = 30)
{
	struct http_reply r;

	for (int html = 0; html <= 1; html++) {
		dev_get("/fail?who=tester", html, &r);
		assert_verbose(&r, 500, "Internal Server Error", html);
		assert_has(r.body, "returned -1");
		assert_has(r.body, "no backtrace");
		assert_has(r.body, "/fail");
		assert_has(r.body, "module fail");
		assert_lacks(r.body, "Backtrace");
		assert_lacks(r.body, "PARTIAL-OUTPUT-MUST-NOT-LEAK");
		http_reply_free(&r);
	}
}

/*
 * A piece written by reference that changes before it leaves is logged
 * with its request; pieces kept as promised are not.
 */
Test(dev_mode, dev_logs_a_broken_sl_write_ref, .init = start_dev_errors, .fini = stop_sluice,
     .timeout = 30)
{
	static const char line[] = "changed before they were sent";
	struct http_reply r;
	char *log;

	dev_get("/refs/mixed", 0, &r);
	cr_assert_eq(r.status, 200);
	http_reply_free(&r);
	dev_get("/refs/stack", 0, &r);
	cr_assert_eq(r.status, 200);
	http_reply_free(&r);
	cr_assert_eq(harness_log_wait(&sp, line, 3000), 0, "no error for a changed piece");
	log = harness_read_file(sp.log);
	cr_assert_not_null(log);
	assert_has(log, "8192 bytes written with sl_write_ref");
	cr_assert_null(strstr(strstr(log, line) + 1, line), "more than one piece logged:\n%s", log);
	free(log);
}

Test(dev_mode, dev_not_found_page_explains, .init = start_dev_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct http_reply r;

	for (int html = 0; html <= 1; html++) {
		dev_get("/nope?who=tester", html, &r);
		assert_verbose(&r, 404, "Not Found", html);
		assert_has(r.body, "no route matches GET /nope");
		assert_has(r.body, "(none matched)");
		assert_lacks(r.body, "Backtrace");
		http_reply_free(&r);
	}
}

/* ---- Debug endpoints -------------------------------------------------- */

Test(dev_mode, debug_index_lists_the_endpoints, .init = start_dev_errors, .fini = stop_sluice,
     .timeout = 30)
{
	static const char *const links[] = {
		"/_sluice/config", "/_sluice/workers", "/_sluice/modules", "/_sluice/echo",
	};
	struct http_reply r;
	char a[128];

	dev_get("/_sluice/", 0, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.headers, "Content-Type: text/plain");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		assert_has(r.body, links[i]);
	assert_lacks(r.body, "Last reload failed");
	http_reply_free(&r);

	dev_get("/_sluice/", 1, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.headers, "Content-Type: text/html");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(a, sizeof(a), "<a href=\"%s\">", links[i]);
		assert_has(r.body, a);
	}
	http_reply_free(&r);
}

Test(dev_mode, debug_config_shows_file_and_pm, .init = start_dev_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct http_reply r;
	char crash[4096];

	dev_get("/_sluice/config", 0, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, sp.conf);
	assert_has(r.body, sp.sock);
	assert_has(r.body, "max_children = 2");
	assert_has(r.body, "request_terminate_timeout = 1");
	assert_built(crash, sizeof(crash), "fixtures/crash.so");
	assert_has(r.body, crash);
	http_reply_free(&r);
}

/*
 * The page shows the whole effective config, from the table of keys: the
 * keys the file leaves out too, with their defaults, and each module
 * with its mount.
 */
Test(dev_mode, debug_config_shows_every_key, .init = start_dev_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct http_reply r;

	dev_get("/_sluice/config", 0, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\npm.mode = \"static\"");
	assert_has(r.body, "\npm.max_spawn_rate = 32");
	assert_has(r.body, "\npm.min_recycle_interval = \"1000ms\"");
	assert_has(r.body, "\nlimits.min_rate = 500");
	assert_has(r.body, "\nlimits.body_buffer_size = 65536");
	assert_has(r.body, "\nlimits.max_temp_file_size = 1073741824");
	assert_has(r.body, "\nlisten.protocol = \"fastcgi\"");
	assert_has(r.body, "\nclear_env = true");
	assert_has(r.body, "\nrlimit_files = (the master's)");
	assert_has(r.body, "\nrequest_id.header = \"X-Request-Id\"");
	assert_has(r.body, "\nseccomp = false");
	assert_has(r.body, "mount = \"/c\"");
	http_reply_free(&r);
}

/* The debug pages are under /_sluice exactly: /_sluiceconfig is a module's path. */
Test(dev_mode, debug_pages_only_under_their_exact_prefix, .init = start_dev_errors,
     .fini = stop_sluice, .timeout = 30)
{
	struct http_reply r;

	dev_get("/_sluiceconfig", 0, &r);
	cr_assert_neq(r.status, 200, "/_sluiceconfig: %ld\n%s", r.status, r.body);
	assert_lacks(r.body, "max_children");
	http_reply_free(&r);
	dev_get("/_sluice/config", 0, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "max_children = 2");
	http_reply_free(&r);
}

/*
 * The endpoints only read: whatever method and body, /_sluice/config
 * answers the same page (or refuses the method) and the config it shows
 * is unchanged afterwards.
 */
Test(dev_mode, debug_endpoints_only_read, .init = start_dev_errors, .fini = stop_sluice,
     .timeout = 30)
{
	static const char *const methods[] = { "POST", "PUT", "DELETE", "PATCH" };
	static const char body[] = "pm.max_children=9&max_children=9&code=system(\"touch x\")";
	struct http_reply before, r;

	dev_get("/_sluice/config", 0, &before);
	cr_assert_eq(before.status, 200);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		cr_assert_eq(http_request(methods[i], url("/_sluice/config"), body,
					  sizeof(body) - 1, NULL, &r), 0);
		cr_assert(r.status == 200 || r.status == 405, "%s: status %ld", methods[i],
			  r.status);
		if (r.status == 200)
			cr_assert_str_eq(r.body, before.body, "%s changed the page", methods[i]);
		http_reply_free(&r);
	}
	dev_get("/_sluice/config", 0, &r);
	cr_assert_str_eq(r.body, before.body, "the config changed");
	assert_has(r.body, "max_children = 2");
	http_reply_free(&r);
	http_reply_free(&before);
}

/* The pid the master logged for its HTTP listener. */
static pid_t listener_pid(void)
{
	char *log;
	const char *p;
	pid_t pid;

	harness_log_wait(&sp, "HTTP listener on ", READY_MS);
	log = harness_sluice_log(&sp);
	p = strstr(log, "HTTP listener on ");
	cr_assert_not_null(p, "no listener line in the log:\n%s", log);
	p = strstr(p, "(pid ");
	cr_assert_not_null(p);
	pid = (pid_t)atoi(p + 5);
	free(log);
	return pid;
}

Test(dev_mode, debug_workers_are_the_masters_children, .init = start_dev_errors,
     .fini = stop_sluice, .timeout = 30)
{
	pid_t kids[16], shown[16], listener = listener_pid();
	int nkids = 0, nshown = 0;
	long long start = harness_now_ms();
	struct http_reply r;
	const char *p;

	/* Two workers and the listener. */
	while ((nkids = harness_children(sp.pid, kids, 16, 1)) != 3 &&
	       harness_now_ms() - start < READY_MS)
		harness_sleep_ms(50);
	cr_assert_eq(nkids, 3, "the master has %d children, not 2 workers and the listener", nkids);
	cr_assert(harness_has_pid(kids, nkids, listener),
		  "the listener %d is not the master's child", (int)listener);
	dev_get("/_sluice/workers", 0, &r);
	cr_assert_eq(r.status, 200);
	for (p = strstr(r.body, "pid "); p != NULL && nshown < 16; p = strstr(p + 4, "pid "))
		shown[nshown++] = (pid_t)atoi(p + 4);
	cr_assert_eq(nshown, 2, "%d workers listed:\n%s", nshown, r.body);
	for (int i = 0; i < nshown; i++)
		cr_assert(shown[i] != listener && harness_has_pid(kids, nkids, shown[i]),
			  "listed pid %d is not one of the master's workers:\n%s", (int)shown[i],
			  r.body);
	http_reply_free(&r);
}

/* The line of `text` that has `needle` has `also`. */
static void assert_same_line(const char *text, const char *needle, const char *also)
{
	const char *p = strstr(text, needle), *start, *end;

	cr_assert_not_null(p, "\"%s\" not in:\n%s", needle, text);
	for (start = p; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(p, '\n');
	end = end ? end : p + strlen(p);
	cr_assert_not_null(memmem(start, (size_t)(end - start), also, strlen(also)),
			   "\"%s\" is not on the line of \"%s\":\n%s", also, needle, text);
}

Test(dev_mode, debug_modules_lists_routes_and_modules, .init = start_dev_errors,
     .fini = stop_sluice, .timeout = 30)
{
	struct http_reply r;

	dev_get("/_sluice/modules", 0, &r);
	cr_assert_eq(r.status, 200);
	assert_same_line(r.body, "/c/segv ", "crash");
	assert_same_line(r.body, "/c/ok ", "crash");
	assert_same_line(r.body, "/h/hang ", "hang");
	assert_same_line(r.body, "/fail/* ", "fail");
	assert_same_line(r.body, "/hello/* ", "hello");
	http_reply_free(&r);
}

Test(dev_mode, debug_echo_shows_the_request_as_parsed, .init = start_dev_errors,
     .fini = stop_sluice, .timeout = 30)
{
	static const char *const hdrs[] = { "X-Custom-Probe: echo-me", NULL };
	char body[1234];
	struct http_reply r;

	cr_assert_eq(http_request("GET", url("/_sluice/echo?alpha=1&beta=two"), NULL, 0, hdrs,
				  &r), 0);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "alpha=1&beta=two");
	assert_same_line(r.body, "HTTP_X_CUSTOM_PROBE", "echo-me");
	assert_same_line(r.body, "REQUEST_METHOD", "GET");
	assert_has(r.body, "/_sluice/echo");
	assert_has(r.body, "0 bytes");
	http_reply_free(&r);

	memset(body, 'b', sizeof(body));
	cr_assert_eq(http_request("POST", url("/_sluice/echo"), body, sizeof(body), hdrs, &r), 0);
	cr_assert_eq(r.status, 200);
	assert_same_line(r.body, "REQUEST_METHOD", "POST");
	assert_same_line(r.body, "CONTENT_LENGTH", "1234");
	assert_has(r.body, "1234 bytes");
	assert_lacks(r.body, "bbbbbbbb");
	http_reply_free(&r);
}

static void start_dev_without_http(void)
{
	const char *const args[] = { "--dev", NULL };
	char conf[8192];

	need_dev_build();
	errors_conf(conf, sizeof(conf));
	cr_assert_eq(harness_sluice_start_args(&sp, conf, args), 0, "sluice --dev did not start");
}

/* Through FastCGI too: --dev without --http has the endpoints. */
Test(dev_mode, dev_without_http_serves_debug_endpoints, .init = start_dev_without_http,
     .fini = stop_sluice, .timeout = 30)
{
	struct fcgi_reply r;

	fcgi_get(sp.sock, "/_sluice/", NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.out);
	assert_has(r.body, "/_sluice/config");
	fcgi_get(sp.sock, "/nope", NULL, &r);
	cr_assert_eq(r.status, 404, "%s", r.out);
	assert_has(r.body, "no route matches GET /nope");
}

/* ---- Auto-reload ------------------------------------------------------ */

/* The handler that answers the version a module was built as (-DVER=...). */
#define VERSION_HANDLER \
	"static int version(struct sl_request *req)\n" \
	"{\n" \
	"\treturn sl_puts(req, VER \"\\n\");\n" \
	"}\n"

static const char ver_source[] =
	"#include <sluice.h>\n"
	"\n"
	VERSION_HANDLER
	"\n"
	"static const struct sl_route routes[] = { { \"GET\", \"/ver\", version }, { 0, 0, 0 } };\n"
	"\n"
	"SLUICE_MODULE = { .abi = SLUICE_ABI_VERSION, .name = \"ver\", .routes = routes };\n";

/*
 * Build moddir/ver.c, answering `ver`, into `out`, as a developer would,
 * with `debug` adding -g and AddressSanitizer as a dev build's module has.
 */
static void compile_with(const char *ver, const char *out, int debug)
{
	char src[192], def[64], inc[4096];
	char *argv[] = { (char *)(uintptr_t)"cc", (char *)(uintptr_t)"-shared",
			 (char *)(uintptr_t)"-fPIC", (char *)(uintptr_t)"-I", inc, def,
			 (char *)(uintptr_t)"-o", (char *)(uintptr_t)out, src,
			 (char *)(uintptr_t)"-g", (char *)(uintptr_t)"-fsanitize=address", NULL };
	struct run r;

	if (!debug)
		argv[9] = NULL;
	cr_assert_not_null(realpath("include", inc));
	snprintf(src, sizeof(src), "%s/ver.c", moddir);
	snprintf(def, sizeof(def), "-DVER=\"%s\"", ver);
	run_for(argv, 30000, &r);
	cr_assert(r.status != -1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		  "cc failed:\n%s", r.err);
}

static void compile_ver(const char *ver, const char *out)
{
	compile_with(ver, out, 0);
}

static void mod_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", moddir, name);
}

/*
 * `source` built as `ver` into moddir/ver.so, a private folder, and
 * served under --dev by `workers` workers.
 */
static void start_module(const char *source, const char *ver, int debug, int workers)
{
	char path[256], conf[1024];
	char tmpl[] = "/tmp/sluice-test-XXXXXX";
	FILE *f;

	need_dev_build();
	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(moddir, sizeof(moddir), "%s", tmpl);
	mod_path(path, sizeof(path), "ver.c");
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(source, f);
	cr_assert_eq(fclose(f), 0);
	mod_path(path, sizeof(path), "ver.so");
	compile_with(ver, path, debug);
	snprintf(conf, sizeof(conf), "pm = { max_children = %d; };\n"
		 "modules = ( { path = \"%s\"; mount = \"/\"; } );\n", workers, path);
	start_dev_with(conf);
}

/* The module built as "v1" into a private folder, served under --dev. */
static void start_reload(void)
{
	start_module(ver_source, "v1", 0, 2);
}

static void stop_reload(void)
{
	static const char *const files[] = { "ver.c", "ver.so", "ver.so.new", "new/ver.so", "new" };
	char path[256];

	harness_sluice_stop(&sp);
	if (moddir[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		mod_path(path, sizeof(path), files[i]);
		if (unlink(path) < 0)
			rmdir(path);
	}
	rmdir(moddir);
	moddir[0] = '\0';
}

static void assert_answers(const char *path, const char *want)
{
	struct http_reply r;

	dev_get(path, 0, &r);
	cr_assert_eq(r.status, 200, "GET %s: %ld\n%s", path, r.status, r.body);
	cr_assert_str_eq(r.body, want, "GET %s", path);
	http_reply_free(&r);
}

/*
 * Ask until the answer is `want`, for up to RELOAD_MS.  Meanwhile every
 * answer is the old module's (`was`) or the new one's: a reload loses no
 * request.
 */
static void assert_becomes(const char *path, const char *was, const char *want)
{
	struct http_reply r;
	long long start = harness_now_ms();
	char last[256] = "";

	while (harness_now_ms() - start < RELOAD_MS) {
		int sent = http_request("GET", url(path), NULL, 0, NULL, &r) == 0;
		int old = sent && r.status == 200 && strcmp(r.body, was) == 0;
		int new = sent && r.status == 200 && strcmp(r.body, want) == 0;

		snprintf(last, sizeof(last), "%ld %s", r.status, r.body);
		http_reply_free(&r);
		cr_assert(sent, "GET %s failed during the reload", path);
		cr_assert(old || new, "GET %s during the reload answered %s", path, last);
		if (new)
			return;
		harness_sleep_ms(20);
	}
	cr_assert_fail("GET %s did not answer %s within %d ms; last: %s", path, want, RELOAD_MS,
		       last);
}

/* Overwrite `path` in place, as cp does: same file, truncated and written. */
static void write_in_place(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(close(fd), 0);
}

static void copy_in_place(const char *from, const char *to)
{
	static char buf[1 << 20];
	int fd = open(from, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	cr_assert(n > 0 && n < (ssize_t)sizeof(buf));
	write_in_place(to, buf, (size_t)n);
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/*
 * The workers a reload replaced have left, each with status 0: a
 * rebuilt module must not make the old workers crash on their way out.
 */
static void assert_old_workers_left_cleanly(void)
{
	static char log[65536];
	long long start = harness_now_ms();
	int stopping = 0, gone = 0;

	do {
		char *text;

		harness_sleep_ms(50);
		text = harness_sluice_log(&sp);
		snprintf(log, sizeof(log), "%s", text);
		free(text);
		stopping = count(log, "stopping (reloaded)");
		gone = count(log, ") exited with status ") + count(log, ") killed by signal ");
	} while ((stopping == 0 || gone < stopping) && harness_now_ms() - start < EXIT_MS);
	cr_assert_gt(stopping, 0, "no worker was replaced:\n%s", log);
	cr_assert_geq(gone, stopping, "the replaced workers did not leave:\n%s", log);
	assert_lacks(log, "killed by signal");
}

Test(dev_mode, reload_after_rename_and_survive_garbage, .init = start_reload,
     .fini = stop_reload, .timeout = 40)
{
	static const char garbage[] = "this is not a shared object\n";
	char so[256], tmp[256];
	struct http_reply r;

	mod_path(so, sizeof(so), "ver.so");
	mod_path(tmp, sizeof(tmp), "ver.so.new");
	assert_answers("/ver", "v1\n");

	/* Rebuilt under another name in the same folder, renamed over. */
	compile_ver("v2", tmp);
	cr_assert_eq(rename(tmp, so), 0);
	assert_becomes("/ver", "v1\n", "v2\n");
	cr_assert_eq(harness_log_wait(&sp, "module file ver.so changed", RELOAD_MS), 0,
		     "no \"changed\" line in the log");
	assert_old_workers_left_cleanly();

	/* A file that does not load: the old module serves on, and says why. */
	write_in_place(so, garbage, strlen(garbage));
	cr_assert_eq(harness_log_wait(&sp, "reload failed", RELOAD_MS), 0,
		     "no \"reload failed\" line in the log");
	for (int i = 0; i < 5; i++)
		assert_answers("/ver", "v2\n");
	dev_get("/_sluice/", 0, &r);
	assert_has(r.body, "Last reload failed");
	assert_same_line(r.body, "ver.so", "cannot load");
	http_reply_free(&r);
	dev_get("/nope?who=tester", 1, &r);
	cr_assert_eq(r.status, 404);
	assert_has(r.body, "Last reload failed");
	assert_has(r.body, "cannot load");
	http_reply_free(&r);

	/* Fixed: served, and the failure is no longer reported. */
	compile_ver("v3", tmp);
	cr_assert_eq(rename(tmp, so), 0);
	assert_becomes("/ver", "v2\n", "v3\n");
	dev_get("/_sluice/", 0, &r);
	assert_lacks(r.body, "Last reload failed");
	http_reply_free(&r);
}

Test(dev_mode, reload_after_writing_in_place, .init = start_reload, .fini = stop_reload,
     .timeout = 40)
{
	char so[256], dir[256], built[256];

	mod_path(so, sizeof(so), "ver.so");
	mod_path(dir, sizeof(dir), "new");
	mod_path(built, sizeof(built), "new/ver.so");
	assert_answers("/ver", "v1\n");
	cr_assert_eq(mkdir(dir, 0700), 0);
	compile_ver("v2", built);
	copy_in_place(built, so);
	assert_becomes("/ver", "v1\n", "v2\n");
	cr_assert_eq(harness_log_wait(&sp, "module file ver.so changed", RELOAD_MS), 0,
		     "no \"changed\" line in the log");
	assert_old_workers_left_cleanly();
	assert_answers("/ver", "v2\n");
}

/* ---- The command line ------------------------------------------------- */

/* ---- Dev mode tells the truth ----------------------------------------- */

/*
 * A module whose init fails when built as "broken", as one given a wrong
 * database path does, and whose handlers overflow a heap buffer and keep
 * a pointer to request memory across requests.
 */
static const char truth_source[] =
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <sluice.h>\n"
	"\n"
	"static char *kept;\n"
	"\n"
	"static int notes_init(struct sl_context *ctx)\n"
	"{\n"
	"\t(void)ctx;\n"
	"\tif (strcmp(VER, \"broken\") != 0)\n"
	"\t\treturn 0;\n"
	"\tsl_log(NULL, SL_LOG_ERROR, \"cannot open database /nonexistent/notes.db\");\n"
	"\treturn -2;\n"
	"}\n"
	"\n"
	VERSION_HANDLER
	"\n"
	"static int overflow(struct sl_request *req)\n"
	"{\n"
	"\tchar *volatile p = malloc(16);\n"
	"\n"
	"\tp[16] = 'x';\n"
	"\tfree(p);\n"
	"\treturn sl_puts(req, \"not reached\\n\");\n"
	"}\n"
	"\n"
	"static int keep(struct sl_request *req)\n"
	"{\n"
	"\tsl_alloc(req, 8192); /* past what the next request's own parsing takes */\n"
	"\tkept = sl_alloc(req, 64);\n"
	"\tstrcpy(kept, \"from the first request\");\n"
	"\treturn sl_puts(req, \"kept\\n\");\n"
	"}\n"
	"\n"
	"static int reuse(struct sl_request *req)\n"
	"{\n"
	"\treturn sl_puts(req, kept);\n"
	"}\n"
	"\n"
	"static const struct sl_route routes[] = {\n"
	"\t{ \"GET\", \"/ver\", version }, { \"GET\", \"/overflow\", overflow },\n"
	"\t{ \"GET\", \"/keep\", keep }, { \"GET\", \"/reuse\", reuse }, { 0, 0, 0 } };\n"
	"\n"
	"SLUICE_MODULE = { .abi = SLUICE_ABI_VERSION, .name = \"notes\", .init = notes_init,\n"
	"\t\t  .routes = routes };\n";

static void start_broken(void)
{
	start_module(truth_source, "broken", 0, 1);
}

/* One worker, so that a pointer kept by one request meets the next. */
static void start_truth(void)
{
	start_module(truth_source, "v1", 1, 1);
}

static void get_timed(const char *path, const char *accept, struct http_reply *r,
		      long long *ms)
{
	const char *const hdrs[] = { accept, NULL };
	long long start = harness_now_ms();

	cr_assert_eq(http_request("GET", url(path), NULL, 0, hdrs, r), 0, "GET %s failed", path);
	*ms = harness_now_ms() - start;
}

Test(dev_mode, failed_init_says_why_at_once, .init = start_broken, .fini = stop_reload,
     .timeout = 60)
{
	static const char *const paths[] = { "/ver", "/nothing/here", "/_sluice/",
					     "/_sluice/workers" };
	struct http_reply r;
	long long ms;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int json = strncmp(paths[i], "/_sluice/", 9) == 0;

		get_timed(paths[i], "Accept: text/html", &r, &ms);
		cr_assert_eq(r.status, 500, "GET %s: %ld\n%s", paths[i], r.status, r.body);
		cr_assert_lt(ms, 2000, "GET %s took %lld ms", paths[i], ms);
		assert_has(r.body, "cannot open database /nonexistent/notes.db");
		if (json) {
			assert_has(r.headers, "Content-Type: application/json");
			assert_has(r.body, "\"module\": \"notes\"");
			assert_has(r.body, "\"returned\": -2");
		} else {
			assert_has(r.headers, "Content-Type: text/html");
			assert_has(r.body, "module notes: init failed (it returned -2)");
		}
		http_reply_free(&r);
	}
}

Test(dev_mode, failed_init_page_goes_when_the_module_is_fixed, .init = start_broken,
     .fini = stop_reload, .timeout = 60)
{
	char path[256], fresh[256];
	struct http_reply r;
	long long start;

	mod_path(fresh, sizeof(fresh), "ver.so.new");
	mod_path(path, sizeof(path), "ver.so");
	compile_with("v2", fresh, 0);
	cr_assert_eq(rename(fresh, path), 0);
	for (start = harness_now_ms(); harness_now_ms() - start < RELOAD_MS;
	     harness_sleep_ms(50)) {
		cr_assert_eq(http_request("GET", url("/ver"), NULL, 0, NULL, &r), 0);
		if (r.status == 200) {
			cr_assert_str_eq(r.body, "v2\n");
			http_reply_free(&r);
			return;
		}
		cr_assert_eq(r.status, 500, "while reloading: %ld\n%s", r.status, r.body);
		http_reply_free(&r);
	}
	cr_assert_fail("the fixed module did not serve within %d ms", RELOAD_MS);
}

/* The 16 hex digits of the request id on a dev page. */
static void page_request_id(const char *body, char *id)
{
	cr_assert_eq(regex_find(body, "request id = ([0-9a-f]{16})", id, 17), 0,
		     "no request id in:\n%s", body);
}

/*
 * GET `path` ends in AddressSanitizer's report of `kind`: on the page of
 * that request, whose id the log line with the report's summary carries.
 */
static void assert_sanitized(const char *path, const char *kind, struct http_reply *r)
{
	char summary[128], id[17];
	const char *const needles[] = { summary, NULL };

	snprintf(summary, sizeof(summary), "SUMMARY: AddressSanitizer: %s", kind);
	dev_get(path, 0, r);
	cr_assert_eq(r->status, 502, "GET %s: %ld\n%s", path, r->status, r->body);
	assert_has(r->body, kind);
	assert_has(r->body, path);
	page_request_id(r->body, id);
	assert_logged_under(id, needles);
}

Test(dev_mode, sanitizer_report_on_the_page_and_in_the_log, .init = start_truth,
     .fini = stop_reload, .timeout = 60)
{
	struct http_reply r;

	assert_sanitized("/overflow", "heap-buffer-overflow", &r);
	assert_has(r.body, "WRITE of size 1");
	assert_has(r.body, "ver.c:");
	http_reply_free(&r);
	assert_answers("/ver", "v1\n");
}

Test(dev_mode, kept_request_memory_is_use_after_poison, .init = start_truth,
     .fini = stop_reload, .timeout = 60)
{
	struct http_reply r;

	assert_answers("/keep", "kept\n");
	assert_sanitized("/reuse", "use-after-poison", &r);
	assert_lacks(r.body, "from the first request");
	http_reply_free(&r);
}

/* ---- UndefinedBehaviorSanitizer ----------------------------------------- */

/* The ub fixture (a signed overflow at GET /ub/overflow) and hello. */
static void ub_conf(char *out, size_t cap)
{
	static const char *const mods[][2] = {
		{ "/ub", "fixtures/ub.so" },
		{ "/hello", "apps/hello.so" },
		{ NULL, NULL },
	};

	modules_conf(out, cap, mods);
}

static void start_ub(void)
{
	char conf[8192];

	ub_conf(conf, sizeof(conf));
	cr_assert_eq(harness_sluice_start(&sp, conf), 0, "sluice did not start");
}

static void start_dev_ub(void)
{
	char conf[8192];

	need_dev_build();
	ub_conf(conf, sizeof(conf));
	start_dev_with(conf);
}

#define UB_SUMMARY	"SUMMARY: UndefinedBehaviorSanitizer: signed-integer-overflow"
#define UB_WHERE	"tests/fixtures/ub.c:([0-9]+):[0-9]+"

/*
 * The dev build halts on undefined behaviour as it does on a memory
 * error: the page of the request shows UndefinedBehaviorSanitizer's
 * report, with the file and line of the overflow, the log has its summary
 * under the page's request id, and the pool serves on.
 */
Test(dev_mode, ubsan_report_on_the_page_and_in_the_log, .init = start_dev_ub,
     .fini = stop_sluice, .timeout = 60)
{
	const char *const needles[] = { UB_SUMMARY, "tests/fixtures/ub.c:",
					"route GET /ub/overflow of module ub", NULL };
	struct http_reply r;
	char id[17], line[16];

	for (int html = 0; html <= 1; html++) {
		dev_get("/ub/overflow?who=tester", html, &r);
		assert_verbose(&r, 502, "Bad Gateway", html);
		assert_has(r.body, "runtime error: signed integer overflow: 2147483647 + 1");
		assert_has(r.body, UB_SUMMARY);
		cr_assert_eq(regex_find(r.body, UB_WHERE, line, sizeof(line)), 0,
			     "no file:line of the overflow on the page:\n%s", r.body);
		cr_assert_gt(atoi(line), 0);
		assert_has(r.body, "/ub/overflow");
		assert_lacks(r.body, "sum ");
		if (!html) {
			page_request_id(r.body, id);
			assert_logged_under(id, needles);
		}
		http_reply_free(&r);
	}
	dev_get("/hello", 0, &r);
	cr_assert_eq(r.status, 200, "after the report: %ld\n%s", r.status, r.body);
	http_reply_free(&r);
}

/*
 * Without --dev: the dev binary halts all the same, with the terse page
 * and the summary in the log only; the production binary, which has no
 * sanitizer, computes the overflow silently.  Neither leaks a word of it.
 */
Test(dev_mode, prod_ubsan_leaks_nothing, .init = start_ub, .fini = stop_sluice,
     .timeout = 30)
{
	struct fcgi_reply r;
	char id[17];
	char *log;

	fcgi_get(sp.sock, "/ub/overflow?who=tester", probe, &r);
	if (dev_build()) {
		assert_terse(&r, 502, "Bad Gateway", id);
		assert_logged_under(id, (const char *const[]){ UB_SUMMARY, "tests/fixtures/ub.c:",
			"route GET /ub/overflow of module ub", NULL });
	} else {
		cr_assert_eq(r.status, 200, "status %d:\n%s", r.status, r.out);
		assert_has(r.body, "sum ");
	}
	assert_lacks(r.body, "Sanitizer");
	assert_lacks(r.body, "runtime error");
	assert_lacks(r.body, "ub.c");
	log = harness_sluice_log(&sp);
	assert_lacks(log, "development mode");
	free(log);
	fcgi_get(sp.sock, "/ub/ok", probe, &r);
	cr_assert_eq(r.status, 200, "after the overflow: %d\n%s", r.status, r.out);
}

static char *bin(void)
{
	static char path[] = BUILD_DIR "/sluice";

	return path;
}

Test(dev_mode, http_listener_refuses_non_loopback, .timeout = 30)
{
	static const char *const hosts[] = { "0.0.0.0", "10.1.2.3", "[::]" };
	struct cli c;
	struct run r;

	need_dev_build();
	cli_setup(&c);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		int p = harness_free_port();
		char addr[64];
		char *argv[] = { bin(), (char *)(uintptr_t)"--dev", (char *)(uintptr_t)"--http",
				 addr, (char *)(uintptr_t)"-c", c.conf, NULL };

		snprintf(addr, sizeof(addr), "%s:%d", hosts[i], p);
		run_for(argv, EXIT_MS, &r);
		cr_assert(r.status != -1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0,
			  "--http %s was not refused at once (status %d):\n%s", addr, r.status,
			  r.err);
		assert_one_line(r.err);
		assert_has(r.err, "loopback");
		assert_has(r.err, addr);
		cr_assert_neq(harness_probe_port(p), 0, "something listens on %d", p);
		assert_nothing_started(&c);
	}
	cli_cleanup(&c);
}

Test(dev_mode, http_listener_serves_on_loopback, .init = start_dev_errors, .fini = stop_sluice,
     .timeout = 30)
{
	struct http_reply r;

	dev_get("/hello", 0, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello from sluice!\n");
	http_reply_free(&r);
}

/* In both builds: --http alone is refused, and nothing starts. */
Test(dev_mode, http_needs_dev, .timeout = 30)
{
	char addr[64];
	struct cli c;
	struct run r;
	char *argv[] = { bin(), (char *)(uintptr_t)"--http", addr, (char *)(uintptr_t)"-c", NULL,
			 NULL };

	cli_setup(&c);
	argv[4] = c.conf;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", harness_free_port());
	run_for(argv, EXIT_MS, &r);
	cr_assert(r.status != -1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2,
		  "--http without --dev: status %d:\n%s", r.status, r.err);
	assert_one_line(r.err);
	assert_has(r.err, "--http");
	assert_has(r.err, "--dev");
	assert_nothing_started(&c);
	cli_cleanup(&c);
}

Test(dev_mode, production_binary_refuses_dev, .timeout = 30)
{
	char addr[64];
	struct cli c;
	struct run r;
	char *plain[] = { bin(), (char *)(uintptr_t)"--dev", (char *)(uintptr_t)"-c", NULL, NULL };
	char *http[] = { bin(), (char *)(uintptr_t)"--dev", (char *)(uintptr_t)"--http", addr,
			 (char *)(uintptr_t)"-c", NULL, NULL };
	char **argvs[] = { plain, http };

	if (dev_build())
		cr_skip_test("the dev build has a development mode");
	cli_setup(&c);
	plain[3] = c.conf;
	http[5] = c.conf;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", harness_free_port());
	for (size_t i = 0; i < 2; i++) {
		run_for(argvs[i], EXIT_MS, &r);
		cr_assert(r.status != -1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2,
			  "--dev: status %d, not 2:\n%s", r.status, r.err);
		assert_one_line(r.err);
		assert_has(r.err, "no development mode");
		assert_has(r.err, "make PROFILE=dev");
		cr_assert_str_eq(r.out, "");
		assert_nothing_started(&c);
	}
	cli_cleanup(&c);
}

Test(dev_mode, version_names_the_profile, .timeout = 30)
{
	char *argv[] = { bin(), (char *)(uintptr_t)"--version", NULL };
	char want[128];
	struct run r;

	run_for(argv, EXIT_MS, &r);
	cr_assert(r.status != -1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	snprintf(want, sizeof(want), "sluice %s (%s profile)\n", SLUICE_VERSION, profile());
	cr_assert_str_eq(r.out, want);
	cr_assert_str_eq(r.err, "");
}

/* readelf, without running the binary, tells its profile. */
Test(dev_mode, profile_note_is_readable_without_running, .timeout = 30)
{
	char *argv[] = { (char *)(uintptr_t)"readelf", (char *)(uintptr_t)"-n", bin(), NULL };
	const char *mine = dev_build() ? "64 65 76 00" : "70 72 6f 64 00";
	const char *other = dev_build() ? "70 72 6f 64" : "64 65 76";
	const char *note, *data;
	char line[256];
	struct run r;

	run_for(argv, EXIT_MS, &r);
	cr_assert(r.status != -1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		  "readelf failed:\n%s", r.err);
	note = strstr(r.out, ".note.sluice.profile");
	cr_assert_not_null(note, "no profile note:\n%s", r.out);
	assert_has(note, "sluice");
	data = strstr(note, "description data: ");
	cr_assert_not_null(data, "the note has no data:\n%s", note);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(data, "\n"), data);
	assert_has(line, mine);
	assert_lacks(line, other);
}
