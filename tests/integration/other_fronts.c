/*
 * other_fronts.c - the real HAProxy, lighttpd and Caddy in front of the
 * real sluice, each over FastCGI on sluice's unix socket, each with the
 * example users copy: conf/haproxy/sluice.cfg, conf/lighttpd/sluice.conf
 * and conf/caddy/Caddyfile, with only the socket path and the port
 * changed, and the lines a private instance needs (its own port, logs
 * and folders) put before them.
 *
 * The three are test dependencies (DEPS_TEST): a front that is not
 * installed fails its tests, it does not skip them.
 *
 * What each sends, as seen by echo (Debian 12's versions):
 *
 * - HAProxy 2.6: SCRIPT_NAME is the whole path, no PATH_INFO, no
 *   DOCUMENT_URI; CONTENT_LENGTH always (0 without a body); FCGI_KEEP_CONN
 *   with `option keep-conn`, so one connection serves request after
 *   request; FCGI_GET_VALUES only with `option get-values`.  A chunked
 *   request body larger than its buffer (tune.bufsize, 16 KiB) is refused
 *   by HAProxy itself with 400 (log flags "PH"), before sluice sees it:
 *   its FastCGI multiplexer must know CONTENT_LENGTH up front.
 * - lighttpd 1.4.69: SCRIPT_NAME is the first segment and PATH_INFO the
 *   rest ("/echo" + "/x"); the whole body is buffered first and always
 *   sent with CONTENT_LENGTH, chunked uploads included; no keep-conn: a
 *   connection per request.
 * - Caddy 2.6.2: SCRIPT_NAME and DOCUMENT_URI empty, the path in
 *   PATH_INFO; a connection per request; the CGI `Status:` line is passed
 *   on to the client as a response header as well as used as the status.
 *   A chunked upload reaches sluice with CONTENT_LENGTH "-1": over
 *   FastCGI, whose empty STDIN record ends the body, sluice takes that
 *   as "no length given" and reads the body to its end.
 */
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "check.h"
#include "harness.h"
#include "scenarios.h"

#define EXAMPLE_SOCK	"/run/sluice/sluice.sock"
#define EXAMPLE_ADDR	"127.0.0.1:8080"
#define MAX_BODY	(2 * 1024 * 1024)	/* limits.max_body_bytes below */

struct front {
	const char *name;
	const char *bin;
	const char *example;
	pid_t pid;
	int port;
	char dir[128];		/* private folder: config, logs */
	char conf[192];
	char log[192];		/* everything the front wrote */
	int keeps_conns;	/* sends FCGI_KEEP_CONN and reuses connections */
};

static struct sluice_proc sp;
static struct front fr;

static void stop_all(void)
{
	if (fr.pid > 0)
		harness_stop_pid(fr.pid, SIGTERM);
	fr.pid = 0;
	if (fr.dir[0] != '\0')
		harness_remove_dir(fr.dir);
	fr.dir[0] = '\0';
	harness_sluice_stop(&sp);
}

/* ---- Setting up ------------------------------------------------------- */

/* hello, echo and big at their own mounts, a pool of two, a 2 MiB body cap. */
static const char *modules_conf(void)
{
	static char conf[3 * PATH_MAX + 256];
	char hello[PATH_MAX], echo[PATH_MAX], big[PATH_MAX];

	assert_built(hello, sizeof(hello), "apps/hello.so");
	assert_built(echo, sizeof(echo), "apps/echo.so");
	assert_built(big, sizeof(big), "fixtures/big.so");
	snprintf(conf, sizeof(conf),
		 "pm = { max_children = 2; };\n"
		 "limits = { max_body_bytes = \"2M\"; };\n"
		 "modules = (\n"
		 "  { path = \"%s\"; mount = \"/hello\"; },\n"
		 "  { path = \"%s\"; mount = \"/echo\"; },\n"
		 "  { path = \"%s\"; mount = \"/big\"; }\n"
		 ");\n", hello, echo, big);
	return conf;
}

static void save_conf(const char *text)
{
	FILE *f = fopen(fr.conf, "w");

	cr_assert_not_null(f, "cannot write %s", fr.conf);
	cr_assert(fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", fr.conf);
}

/*
 * The front's example with the socket and the listening address made
 * private, after `preamble` (the private instance's own settings).
 */
static void write_conf(const char *preamble)
{
	char addr[64], *text = harness_read_file(fr.example), *all;

	cr_assert_neq(text[0], '\0', "cannot read %s", fr.example);
	text = example_replace(text, EXAMPLE_SOCK, sp.sock, fr.example);
	if (strstr(text, EXAMPLE_ADDR) != NULL) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", fr.port);
		text = example_replace(text, EXAMPLE_ADDR, addr, fr.example);
	}
	all = malloc(strlen(preamble) + strlen(text) + 1);
	cr_assert_not_null(all);
	strcpy(all, preamble);
	strcat(all, text);
	save_conf(all);
	free(all);
	free(text);
}

/* Replace `from` by `to` in the written config; the example must have it. */
static void edit_conf(const char *from, const char *to)
{
	char *text = harness_read_file(fr.conf);

	text = example_replace(text, from, to, fr.example);
	save_conf(text);
	free(text);
}

/* Caddy keeps its state under $HOME and the XDG folders: the private one. */
static void private_home(void *arg)
{
	const char *dir = arg;

	setenv("HOME", dir, 1);
	setenv("XDG_DATA_HOME", dir, 1);
	setenv("XDG_CONFIG_HOME", dir, 1);
}

/*
 * Start fr.bin with `args` (up to 7) then fr.conf, its output in fr.log,
 * and wait for its port.
 */
static void run_front(const char *const *args, void (*in_child)(void *))
{
	char *argv[10];
	char *log;
	int n = 0;

	argv[n++] = (char *)(uintptr_t)fr.bin;
	for (; *args != NULL && n < 8; args++)
		argv[n++] = (char *)(uintptr_t)*args;
	argv[n++] = fr.conf;
	argv[n] = NULL;
	fr.pid = harness_spawn(argv, fr.log, in_child, fr.dir);
	cr_assert_gt(fr.pid, 0, "cannot start %s", fr.name);
	if (harness_wait_port(fr.pid, fr.port) == 0)
		return;
	log = harness_read_file(fr.log);
	cr_assert_fail("%s did not listen on port %d; its output:\n%s", fr.name, fr.port, log);
}

/* sluice, then the private folder, port and config of front `name`. */
static void prepare(const char *name, const char *bin, const char *example)
{
	memset(&fr, 0, sizeof(fr));
	fr.name = name;
	fr.bin = bin;
	fr.example = example;
	cr_assert_eq(access(bin, X_OK), 0, "%s is not installed (%s): it is a test dependency, "
		     "`make deps-test` installs it", name, bin);
	cr_assert_eq(harness_sluice_start(&sp, modules_conf()), 0, "sluice did not start");
	cr_assert_eq(harness_make_dir(fr.dir, sizeof(fr.dir)), 0);
	fr.port = harness_free_port();
	cr_assert_gt(fr.port, 0);
	snprintf(fr.log, sizeof(fr.log), "%s/front.log", fr.dir);
}

/*
 * HAProxy in the foreground (-db), logging each request with its
 * termination flags to its output ("log stderr" in a global section
 * before the example's sections), with the example's commented lines
 * `uncomment` (NULL-terminated, or NULL) made active.
 */
static void haproxy_with(const char *const *uncomment)
{
	static const char *const args[] = { "-db", "-f", NULL };
	char line[128];

	prepare("HAProxy", "/usr/sbin/haproxy", "conf/haproxy/sluice.cfg");
	snprintf(fr.conf, sizeof(fr.conf), "%s/haproxy.cfg", fr.dir);
	write_conf("global\n"
		   "\tlog stderr format raw local0 info\n"
		   "\n");
	edit_conf("\ndefaults\n", "\ndefaults\n\tlog global\n\toption httplog\n");
	for (; uncomment != NULL && *uncomment != NULL; uncomment++) {
		snprintf(line, sizeof(line), "#%s\n", *uncomment);
		edit_conf(line, line + 1);
	}
	fr.keeps_conns = 1;
	run_front(args, NULL);
}

static void start_haproxy(void)
{
	haproxy_with(NULL);
}

/* The example's multiplexing variant: mpxs-conns allowed, 10 per connection. */
static void start_haproxy_mpxs(void)
{
	static const char *const lines[] = { "option mpxs-conns", "option max-reqs 10", NULL };

	haproxy_with(lines);
}

/* lighttpd in the foreground (-D) with its own port, root and logs. */
static void start_lighttpd(void)
{
	static const char *const args[] = { "-D", "-f", NULL };
	char preamble[1024];

	prepare("lighttpd", "/usr/sbin/lighttpd", "conf/lighttpd/sluice.conf");
	snprintf(fr.conf, sizeof(fr.conf), "%s/lighttpd.conf", fr.dir);
	snprintf(preamble, sizeof(preamble),
		 "server.document-root = \"%s\"\n"
		 "server.bind = \"127.0.0.1\"\n"
		 "server.port = %d\n"
		 "server.errorlog = \"%s\"\n"
		 "server.upload-dirs = ( \"%s\" )\n"
		 "\n", fr.dir, fr.port, fr.log, fr.dir);
	write_conf(preamble);
	run_front(args, NULL);
}

/* Caddy with its admin endpoint off (it would take port 2019). */
static void start_caddy(void)
{
	static const char *const args[] = { "run", "--adapter", "caddyfile", "--config", NULL };

	prepare("Caddy", "/usr/bin/caddy", "conf/caddy/Caddyfile");
	snprintf(fr.conf, sizeof(fr.conf), "%s/Caddyfile", fr.dir);
	write_conf("{\n"
		   "\tadmin off\n"
		   "}\n"
		   "\n");
	run_front(args, private_home);
}

/* ---- Requests --------------------------------------------------------- */

static const char *url(const char *path)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", fr.port, path);
	return buf;
}

/* A request; a 5xx is explained by the two logs, printed with it. */
static void request(const char *method, const char *path, const char *body,
		    size_t body_len, const char *const *headers, struct http_reply *r)
{
	char *flog, *slog;

	cr_assert_eq(http_request(method, url(path), body, body_len, headers, r), 0,
		     "%s: %s %s: no HTTP response", fr.name, method, path);
	if (r->status < 500)
		return;
	flog = harness_read_file(fr.log);
	slog = harness_sluice_log(&sp);
	cr_log_warn("%s: %s %s: %ld; its log:\n%s\nsluice's log:\n%s", fr.name, method, path,
		    r->status, flog, slog);
	free(flog);
	free(slog);
}

static const struct scenario_front front = { request, "" };

/*
 * Neither sluice nor the front logged a problem.  sluice's warnings count
 * too: on these requests it has nothing to warn about.  The fronts mark
 * theirs differently: HAProxy "[ALERT]"/"[WARNING]" and non-"----"
 * termination flags, lighttpd the file of its FastCGI backend code,
 * Caddy a JSON level.
 */
static void assert_logs_clean(void)
{
	static const char *const sluice_bad[] = { "[error]", "[warning]", NULL };
	static const char *const front_bad[] = {
		"[ALERT]", "[WARNING]", " PH-", " SH-", " SD-", " CD-",	/* HAProxy */
		"gw_backend.c", "mod_fastcgi.c",			/* lighttpd */
		"\"level\":\"error\"",					/* Caddy */
		NULL
	};
	char *log = harness_sluice_log(&sp);

	expect_log_clean("sluice", log, sluice_bad);
	free(log);
	log = harness_read_file(fr.log);
	expect_log_clean(fr.name, log, front_bad);
	free(log);
}

/* ---- What every front must pass ---------------------------------------- */

static void check_hello(void)
{
	scenario_hello(&front, "/hello");
	assert_logs_clean();
}

/* A small POST and one of 1 MB come back whole, with their length. */
static void check_post_bodies(void)
{
	struct http_reply r;

	request("POST", "/echo/small?x=1", "small body", 10, NULL, &r);
	cr_assert_eq(r.status, 200, "%s: %ld\n%s", fr.name, r.status, r.body);
	cr_assert(harness_has_header_line(r.headers, "Content-Type: application/json"),
		  "headers:\n%s", r.headers);
	assert_has(r.body, "\"method\":\"POST\"");
	assert_has(r.body, "\"path\":\"/echo/small\"");
	assert_has(r.body, "\"query\":\"x=1\"");
	assert_has(r.body, "\"CONTENT_LENGTH\":\"10\"");
	assert_has(r.body, "\"body\":\"small body\"}\n");
	http_reply_free(&r);
	scenario_echo_one_megabyte(&front);
	assert_logs_clean();
}

/* 5 MB from big, every byte in its place. */
static void check_large_response(void)
{
	struct harness_download d = { 0 };

	cr_assert_eq(harness_http_download(url("/big?n=5000000"), 60, &d), 0,
		     "%s: the download failed after %lld bytes", fr.name, d.received);
	cr_assert_eq(d.status, 200);
	cr_assert_eq(d.received, 5000000, "%s: %lld bytes", fr.name, d.received);
	cr_assert_eq(d.bad_at, -1, "%s: byte %lld is wrong", fr.name, d.bad_at);
	assert_logs_clean();
}

/* 60 request headers of some length all reach the module. */
static void check_many_headers(void)
{
	static char lines[60][80];
	const char *hdrs[61];
	char want[96];
	struct http_reply r;
	int i;

	for (i = 0; i < 60; i++) {
		snprintf(lines[i], sizeof(lines[i]), "X-Many-%02d: value %02d "
			 "abcdefghijklmnopqrstuvwxyz0123456789", i, i);
		hdrs[i] = lines[i];
	}
	hdrs[60] = NULL;
	request("GET", "/echo/headers", NULL, 0, hdrs, &r);
	cr_assert_eq(r.status, 200, "%s: %ld", fr.name, r.status);
	for (i = 0; i < 60; i++) {
		snprintf(want, sizeof(want), "\"x-many-%02d\":\"value %02d abcdefghij", i, i);
		assert_has(r.body, want);
	}
	http_reply_free(&r);
	assert_logs_clean();
}

/*
 * After requests one after the other, the connections the front left
 * open to sluice: one, reused, when it keeps them (HAProxy), none once
 * it has closed them (lighttpd, Caddy: a connection per request).
 */
static void assert_backend_conns(void)
{
	int want = fr.keeps_conns ? 1 : 0, open = -1, waited;

	for (waited = 0; waited < 3000; waited += 50) {
		open = harness_sockets_on(sp.sock) - 1;
		if (open == want)
			break;
		harness_sleep_ms(50);
	}
	cr_assert_eq(open, want, "%s: %d connections left open to sluice, expected %d",
		     fr.name, open, want);
}

/*
 * 20 requests one after the other on one curl handle: one connection
 * from the client, 20 right answers (each GET alternates with a POST so
 * that a body left on the front's connection to sluice would show).
 */
static void check_keepalive(void)
{
	CURL *h = curl_easy_init();
	long connects = 0, n, status;
	char *body;
	int i;

	cr_assert_not_null(h);
	for (i = 0; i < 20; i++) {
		body = NULL;
		curl_easy_setopt(h, CURLOPT_URL, url(i % 2 ? "/echo/ka" : "/hello"));
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, harness_http_append);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
		if (i % 2)
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, "ka-body");
		else
			curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		cr_assert_eq(curl_easy_perform(h), CURLE_OK, "%s: request %d failed", fr.name, i);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &n);
		connects += n;
		cr_assert_eq(status, 200, "%s: request %d: %ld", fr.name, i, status);
		cr_assert_not_null(body);
		if (i % 2)
			assert_has(body, "\"body\":\"ka-body\"}");
		else
			cr_assert_str_eq(body, "Hello from sluice!\n");
		free(body);
	}
	curl_easy_cleanup(h);
	cr_assert_eq(connects, 1, "%s: %ld connections for 20 kept-alive requests",
		     fr.name, connects);
	assert_backend_conns();
	assert_logs_clean();
}

/*
 * A body over limits.max_body_bytes is sluice's 413, passed on by the
 * front (not turned into a 502 because sluice answered before reading
 * it all), and the next request still works.
 */
static void check_over_limit(void)
{
	size_t len = MAX_BODY + 100000;
	char *body = malloc(len);
	struct http_reply r;
	char *log;

	cr_assert_not_null(body);
	memset(body, 'z', len);
	request("POST", "/echo/too-big", body, len, NULL, &r);
	free(body);
	cr_assert_eq(r.status, 413, "%s: %ld\n%s", fr.name, r.status, r.body);
	assert_has(r.body, "413");
	http_reply_free(&r);
	log = harness_sluice_log(&sp);
	assert_has(log, "exceeds limits.max_body_bytes");
	free(log);
	scenario_hello(&front, "/hello");
}

/* A path no module takes is sluice's own 404, with its request id. */
static void check_not_found(void)
{
	struct http_reply r;

	request("GET", "/nowhere/at/all", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 404, "%s: %ld", fr.name, r.status);
	assert_has(r.body, "request id");
	http_reply_free(&r);
	scenario_hello(&front, "/hello");
}

/* The same Tests for each front, each starting its own pair. */
#define FRONT_TESTS(front_name) \
	Test(other_fronts, front_name##_hello, .init = start_##front_name, \
	     .fini = stop_all, .timeout = 60) { check_hello(); } \
	Test(other_fronts, front_name##_post_bodies, .init = start_##front_name, \
	     .fini = stop_all, .timeout = 60) { check_post_bodies(); } \
	Test(other_fronts, front_name##_large_response, .init = start_##front_name, \
	     .fini = stop_all, .timeout = 60) { check_large_response(); } \
	Test(other_fronts, front_name##_many_headers, .init = start_##front_name, \
	     .fini = stop_all, .timeout = 60) { check_many_headers(); } \
	Test(other_fronts, front_name##_keepalive, .init = start_##front_name, \
	     .fini = stop_all, .timeout = 60) { check_keepalive(); } \
	Test(other_fronts, front_name##_body_over_limit_is_413, .init = start_##front_name, \
	     .fini = stop_all, .timeout = 60) { check_over_limit(); } \
	Test(other_fronts, front_name##_app_404, .init = start_##front_name, \
	     .fini = stop_all, .timeout = 60) { check_not_found(); }

FRONT_TESTS(haproxy)
FRONT_TESTS(lighttpd)
FRONT_TESTS(caddy)

/* ---- What differs from front to front ---------------------------------- */

/*
 * With multiplexing allowed in HAProxy, sluice's FCGI_GET_VALUES_RESULT
 * (FCGI_MPXS_CONNS 0) keeps it to one request per connection: 160 POSTs,
 * 8 at a time, each get their own body back.
 */
Test(other_fronts, haproxy_mpxs_variant_concurrent_bodies, .init = start_haproxy_mpxs,
     .fini = stop_all, .timeout = 120)
{
	scenario_concurrent_bodies(url("/echo"));
	assert_logs_clean();
}

/* lighttpd buffers a chunked upload and sends it with its length. */
Test(other_fronts, lighttpd_chunked_upload_arrives_with_its_length, .init = start_lighttpd,
     .fini = stop_all, .timeout = 60)
{
	char *got = scenario_echo_chunked(url("/echo/chunked"), 200000);

	assert_has(got, "\"CONTENT_LENGTH\":\"200000\"");
	free(got);
	assert_logs_clean();
}

/* Wait up to `ms` for `needle` in the front's log: 0 once it is there. */
static int front_log_wait(const char *needle, int ms)
{
	char *log;
	int found, waited = 0;

	for (;;) {
		log = harness_read_file(fr.log);
		found = strstr(log, needle) != NULL;
		free(log);
		if (found || waited >= ms)
			return found ? 0 : -1;
		harness_sleep_ms(50);
		waited += 50;
	}
}

/*
 * HAProxy 2.6 refuses, itself, a chunked upload that does not fit its
 * buffer: its FastCGI side must send CONTENT_LENGTH before the body.
 * It answers 400 and closes, often while curl is still sending, so the
 * client may see the 400 or only the closed connection, and HAProxy logs
 * the 400 with the flags "PH" (usually) or "CR" ("<BADREQ>", when the
 * refusal won the race with the upload).  Either way the request never
 * reaches sluice (README, "HAProxy").
 */
Test(other_fronts, haproxy_refuses_a_large_chunked_upload_itself, .init = start_haproxy,
     .fini = stop_all, .timeout = 60)
{
	long status = 0;
	char *got = NULL, *log;
	int rc;

	rc = harness_http_chunked_post(url("/echo/chunked"), 200000, &status, &got);
	cr_assert(rc == -1 || status == 400, "HAProxy answered %ld: %s", status, got ? got : "");
	free(got);
	cr_assert_eq(front_log_wait(" 400 ", 5000), 0, "HAProxy did not log its 400");
	log = harness_sluice_log(&sp);
	assert_lacks(log, "/echo/chunked");
	assert_lacks(log, "[warning]");
	free(log);
	scenario_hello(&front, "/hello");
}

/*
 * Caddy 2.6 forwards a chunked upload with CONTENT_LENGTH "-1": the body
 * is read to the FastCGI end of stream, whole (README, "Caddy").
 */
Test(other_fronts, caddy_chunked_upload_is_read_to_its_end, .init = start_caddy,
     .fini = stop_all, .timeout = 60)
{
	char *got = scenario_echo_chunked(url("/echo/chunked"), 200000);

	assert_has(got, "\"CONTENT_LENGTH\":\"-1\"");
	free(got);
	assert_logs_clean();
}

/* Caddy passes sluice's CGI Status line on to the client as a header. */
Test(other_fronts, caddy_passes_the_status_line_on, .init = start_caddy, .fini = stop_all,
     .timeout = 60)
{
	struct http_reply r;

	request("GET", "/nowhere", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 404);
	cr_assert(harness_has_header_line(r.headers, "Status: 404"), "headers:\n%s", r.headers);
	http_reply_free(&r);
}

/* Writes until `limit` bytes have come, then makes curl give up. */
static size_t take_until(char *ptr, size_t size, size_t nmemb, void *arg)
{
	long long *left = arg;

	(void)ptr;
	*left -= (long long)(size * nmemb);
	return *left > 0 ? size * nmemb : 0;
}

/*
 * A client that leaves in the middle of a 100 MB response: HAProxy
 * closes its connection to sluice at once ("CD" in its log), the write
 * fails and the handler stops.  That is the client's doing, logged at
 * info, not a module error; the next requests are served.
 */
Test(other_fronts, haproxy_client_leaving_mid_response_is_no_error, .init = start_haproxy,
     .fini = stop_all, .timeout = 60)
{
	CURL *h = curl_easy_init();
	long long left = 1 << 20;
	char *log;

	cr_assert_not_null(h);
	curl_easy_setopt(h, CURLOPT_URL, url("/big?n=100000000"));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, take_until);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &left);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	cr_assert_eq(curl_easy_perform(h), CURLE_WRITE_ERROR);
	curl_easy_cleanup(h);
	cr_assert_eq(harness_log_wait(&sp, "the client went away", 20000), 0,
		     "the handler's end after the client left was not logged");
	log = harness_sluice_log(&sp);
	assert_lacks(log, "[error]");
	free(log);
	scenario_hello(&front, "/hello");
}
