/*
 * dev_http.c - the development HTTP listener: its loopback-only rule,
 * and the relay from HTTP to the workers, seen with curl and raw sockets
 * through the real sluice, and against a scripted FastCGI peer for what
 * a real worker does not send (a broken stream, a huge head, STDERR).
 *
 * The listener exists only in the dev build; against any other build
 * these tests skip (the symbols are weak, so that the production test
 * binary links without it).  They call dev_http_spawn themselves, as the
 * master does under --dev, and point it at the harness's socket.  The
 * listener's log lines go to a file: log_open in this process before the
 * fork, which the listener inherits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "check.h"
#include "dev/dev_http.h"
#include "harness.h"
#include "log.h"
#include "scenarios.h"

#pragma weak dev_http_check
#pragma weak dev_http_spawn

#define BIG_BYTES	(100LL << 20)
#define RSS_GROWTH_KB	(32 * 1024)	/* a relay that kept the body would grow by 100 MB */
#define FAKE_BIG	70000		/* more than one FastCGI record, more than the head limit */

static struct sluice_proc sp;
static pid_t listener;
static int port;
static char relay_log[256];

/* ---- Setting up ------------------------------------------------------- */

static void need_dev_build(void)
{
	if (strcmp(SLUICE_PROFILE, "dev") != 0 || dev_http_spawn == NULL)
		cr_skip_test("the development listener is only in the dev build "
			     "(make PROFILE=dev); this is %s", BUILD_DIR);
}

/*
 * Start the listener on a free loopback port, relaying to `fcgi_addr`,
 * with its log in a file of its own (outside the folders the tests
 * remove while it runs).  A port taken by a parallel test between its
 * choice and the bind is retried.
 */
static void listen_for(const char *fcgi_addr)
{
	char addr[64], err[512] = "";
	int attempt, fd;

	snprintf(relay_log, sizeof(relay_log), "/tmp/sluice-test-relay-XXXXXX");
	fd = mkstemp(relay_log);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(log_open(relay_log, LOG_INFO), 0, "cannot open %s", relay_log);
	for (attempt = 0; attempt < 3; attempt++) {
		port = harness_free_port();
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		listener = dev_http_spawn(addr, fcgi_addr, err, sizeof(err));
		if (listener > 0)
			return;
	}
	cr_assert_fail("dev_http_spawn(%s): %s", addr, err);
}

static void stop_listener(void)
{
	harness_stop_pid(listener, SIGTERM);
	listener = 0;
	if (relay_log[0] != '\0')
		unlink(relay_log);
	relay_log[0] = '\0';
}

/*
 * sluice with hello at /hello, echo at /echo and the big fixture at
 * /big, `extra` settings, and the listener in front.
 */
static void start_sluice_with(const char *extra)
{
	static const char *const mods[][2] = {
		{ "/hello", "apps/hello.so" },
		{ "/echo", "apps/echo.so" },
		{ "/big", "fixtures/big.so" },
	};
	char conf[8192], path[4096];
	size_t n, i;

	need_dev_build();
	n = (size_t)snprintf(conf, sizeof(conf), "%s\npm = { max_children = 2; };\nmodules = (\n",
			     extra);
	for (i = 0; i < 3; i++) {
		assert_built(path, sizeof(path), mods[i][1]);
		n += (size_t)snprintf(conf + n, sizeof(conf) - n,
				      "  { path = \"%s\"; mount = \"%s\"; }%s\n", path,
				      mods[i][0], i < 2 ? "," : "");
	}
	snprintf(conf + n, sizeof(conf) - n, ");\n");
	cr_assert_eq(harness_sluice_start(&sp, conf), 0, "sluice did not start");
	listen_for(sp.sock);
}

static void start_sluice(void)
{
	start_sluice_with("");
}

/* Bodies above 1000 bytes refused by the workers. */
static void start_sluice_small_bodies(void)
{
	start_sluice_with("limits = { max_body_bytes = 1000; };");
}

static void stop_sluice(void)
{
	stop_listener();
	harness_sluice_stop(&sp);
}

static const char *url(const char *path)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", port, path);
	return buf;
}

static void get(const char *path, const char *const *headers, struct http_reply *r)
{
	cr_assert_eq(http_request("GET", url(path), NULL, 0, headers, r), 0, "GET %s failed", path);
}

/* Wait up to 5 s for `needle` in the listener's log. */
static void assert_logged(const char *needle)
{
	char text[65536];
	int waited;

	for (waited = 0; waited <= 5000; waited += 50) {
		FILE *f = fopen(relay_log, "r");
		size_t n = f != NULL ? fread(text, 1, sizeof(text) - 1, f) : 0;

		if (f != NULL)
			fclose(f);
		text[n] = '\0';
		if (strstr(text, needle) != NULL)
			return;
		harness_sleep_ms(50);
	}
	cr_assert_fail("\"%s\" not in the listener's log:\n%s", needle, text);
}

/*
 * Send `req` as it is and read the answer until the listener closes the
 * connection (the request says Connection: close).  Returns the length.
 */
static size_t raw_exchange(const char *req, char *out, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { 10, 0 };
	size_t len = 0;
	ssize_t n;
	int fd;

	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (len < cap - 1 && (n = read(fd, out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	out[len] = '\0';
	return len;
}

/* ---- The loopback-only rule ------------------------------------------ */

Test(dev_http, check_accepts_loopback)
{
	static const char *const good[] = {
		"127.0.0.1:8081", "127.9.8.7:80", "[::1]:8081", "localhost:8081", "127.0.0.1:65535",
	};
	char err[512];
	size_t i;

	need_dev_build();
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(dev_http_check(good[i], err, sizeof(err)), 0, "%s refused: %s",
			     good[i], err);
	}
}

/* Refused, with one line that says why and names the address. */
static void assert_refused(const char *addr)
{
	char err[512] = "";

	cr_expect_eq(dev_http_check(addr, err, sizeof(err)), -1, "%s accepted", addr);
	cr_expect_not_null(strstr(err, "loopback addresses only"), "%s: err \"%s\"", addr, err);
	cr_expect_not_null(strstr(err, addr), "%s: err \"%s\" does not name it", addr, err);
	cr_expect_null(strchr(err, '\n'), "%s: err is more than one line: \"%s\"", addr, err);
}

Test(dev_http, check_refuses_other_addresses, .timeout = 60)
{
	need_dev_build();
	assert_refused("0.0.0.0:8081");
	assert_refused("[::]:8081");
	assert_refused("10.1.2.3:8081");
	assert_refused("192.168.0.1:8081");
	assert_refused("8.8.8.8:80");
	assert_refused("[::ffff:127.0.0.1]:8081");
	assert_refused("[2001:db8::1]:8081");
	/* A public name: refused whether or not DNS answers here. */
	assert_refused("example.com:80");
}

Test(dev_http, check_refuses_malformed)
{
	need_dev_build();
	assert_refused("127.0.0.1");
	assert_refused("127.0.0.1:");
	assert_refused("127.0.0.1:0");
	assert_refused("127.0.0.1:65536");
	assert_refused("127.0.0.1:80x");
	assert_refused("127.0.0.1: 80");
	assert_refused(":8081");
	assert_refused("[::1:8081");
	assert_refused("::1:8081");
	assert_refused("[]:8081");
}

Test(dev_http, spawn_refuses_non_loopback)
{
	char err[512] = "";

	need_dev_build();
	cr_assert_eq(dev_http_spawn("0.0.0.0:8081", "/nonexistent.sock", err, sizeof(err)), -1);
	assert_has(err, "loopback addresses only");
}

Test(dev_http, spawn_reports_address_in_use)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char addr[64], err[512] = "";
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	need_dev_build();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		  listen(fd, 1) == 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	cr_assert_eq(dev_http_spawn(addr, "/nonexistent.sock", err, sizeof(err)), -1,
		     "the listener started on a port in use");
	assert_has(err, "Address already in use");
	cr_assert_null(strchr(err, '\n'), "err is more than one line: \"%s\"", err);
	close(fd);
}

/* ---- Through the real sluice ----------------------------------------- */

Test(dev_http, hello_through_the_relay, .init = start_sluice, .fini = stop_sluice)
{
	struct http_reply r;

	get("/hello", NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello from sluice!\n");
	cr_assert_null(strcasestr(r.headers, "\nServer:"), "a Server header:\n%s", r.headers);
	http_reply_free(&r);
}

Test(dev_http, echo_shows_the_request_as_sent, .init = start_sluice, .fini = stop_sluice)
{
	static const char *const hdrs[] = { "X-Custom: v1", "Cookie: a=1; b=2", NULL };
	struct http_reply r;
	char want[64];

	get("/echo/a%20b?x=1%202&y=a+b&z=%2B", hdrs, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"method\":\"GET\"");
	assert_has(r.body, "\"path\":\"/echo/a b\"");
	assert_has(r.body, "\"query\":\"x=1%202&y=a+b&z=%2B\"");
	assert_has(r.body, "\"REQUEST_URI\":\"/echo/a%20b?x=1%202&y=a+b&z=%2B\"");
	assert_has(r.body, "\"DOCUMENT_URI\":\"/echo/a b\"");
	assert_has(r.body, "\"SERVER_SOFTWARE\":\"sluice-dev\"");
	assert_has(r.body, "\"GATEWAY_INTERFACE\":\"CGI/1.1\"");
	assert_has(r.body, "\"SERVER_PROTOCOL\":\"HTTP/1.1\"");
	assert_has(r.body, "\"REMOTE_ADDR\":\"127.0.0.1\"");
	snprintf(want, sizeof(want), "\"SERVER_PORT\":\"%d\"", port);
	assert_has(r.body, want);
	assert_has(r.body, "\"x-custom\":\"v1\"");
	assert_has(r.body, "\"cookie\":\"a=1; b=2\"");
	assert_lacks(r.body, "\"CONTENT_LENGTH\"");
	http_reply_free(&r);

	cr_assert_eq(http_request("PUT", url("/echo/put"), "the body", 8,
				  (const char *const[]){ "Content-Type: text/x-test", NULL }, &r), 0);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"method\":\"PUT\"");
	assert_has(r.body, "\"CONTENT_LENGTH\":\"8\"");
	assert_has(r.body, "\"CONTENT_TYPE\":\"text/x-test\"");
	assert_lacks(r.body, "HTTP_CONTENT_TYPE");
	assert_has(r.body, "\"body\":\"the body\"");
	http_reply_free(&r);
}

Test(dev_http, post_of_a_megabyte, .init = start_sluice, .fini = stop_sluice)
{
	size_t len = 1 << 20, i;
	char *body = malloc(len + 1), *expect = malloc(len + 16);
	struct http_reply r;

	cr_assert(body != NULL && expect != NULL);
	for (i = 0; i < len; i++)
		body[i] = (char)('A' + i % 26);
	body[len] = '\0';
	cr_assert_eq(http_request("POST", url("/echo"), body, len, NULL, &r), 0);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"CONTENT_LENGTH\":\"1048576\"");
	snprintf(expect, len + 16, "\"body\":\"%s\"}\n", body);
	cr_assert_geq(r.body_len, strlen(expect));
	cr_assert_str_eq(r.body + r.body_len - strlen(expect), expect,
			 "the body did not come back whole");
	http_reply_free(&r);
	free(body);
	free(expect);
}

/* A chunked upload of 200 KB in uneven pieces. */
Test(dev_http, chunked_upload_arrives_whole_without_length, .init = start_sluice,
     .fini = stop_sluice)
{
	char *got = scenario_echo_chunked(url("/echo"), 200000);

	assert_has(got, "\"transfer-encoding\":\"chunked\"");
	assert_lacks(got, "\"CONTENT_LENGTH\"");
	free(got);
}

/*
 * The workers refuse a body over their limit before reading it and close
 * the connection while the relay is still sending: their 413 must reach
 * the client, not a 502 for the broken send.
 */
Test(dev_http, workers_early_answer_is_relayed, .init = start_sluice_small_bodies,
     .fini = stop_sluice)
{
	size_t len = 4 << 20;
	char *body = malloc(len);
	struct http_reply r;

	cr_assert_not_null(body);
	memset(body, 'x', len);
	cr_assert_eq(http_request("POST", url("/echo"), body, len, NULL, &r), 0);
	cr_assert_eq(r.status, 413, "answered %ld:\n%s", r.status, r.body);
	http_reply_free(&r);
	free(body);
}

/* Each request on a kept-alive connection is relayed on its own. */
Test(dev_http, requests_on_one_connection, .init = start_sluice, .fini = stop_sluice)
{
	char out[16384];

	raw_exchange("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"
		     "GET /echo?n=2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		     out, sizeof(out));
	cr_assert_eq(strncmp(out, "HTTP/1.1 200 ", 13), 0, "answered:\n%s", out);
	assert_has(out, "Hello from sluice!\n");
	assert_has(strstr(out, "Hello from sluice!\n"), "HTTP/1.1 200 ");
	assert_has(out, "\"query\":\"n=2\"");
}

Test(dev_http, not_found_keeps_its_status, .init = start_sluice, .fini = stop_sluice)
{
	struct http_reply r;

	get("/nothing/here", NULL, &r);
	cr_assert_eq(r.status, 404);
	http_reply_free(&r);
}

Test(dev_http, head_has_no_body, .init = start_sluice, .fini = stop_sluice)
{
	static const char head[] = "HEAD /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	static const char getr[] = "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	char out[8192];
	const char *end;
	size_t len;

	len = raw_exchange(head, out, sizeof(out));
	cr_assert_eq(strncmp(out, "HTTP/1.1 200 ", 13), 0, "HEAD answered:\n%s", out);
	end = strstr(out, "\r\n\r\n");
	cr_assert_not_null(end, "no end of head:\n%s", out);
	cr_assert_eq((size_t)(end + 4 - out), len, "bytes after the head of a HEAD:\n%s", out);

	/* The same request as GET has its body after the head. */
	len = raw_exchange(getr, out, sizeof(out));
	end = strstr(out, "\r\n\r\n");
	cr_assert_not_null(end, "no end of head:\n%s", out);
	assert_has(end, "Hello from sluice!\n");
}

Test(dev_http, proxy_and_underscore_headers_do_not_pass, .init = start_sluice,
     .fini = stop_sluice)
{
	static const char *const hdrs[] = {
		"Proxy: http://attacker.example:3128/", "X_Forged: 1", "X-Kept: 2", NULL,
	};
	struct http_reply r;

	get("/echo", hdrs, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"HTTP_X_KEPT\":\"2\"");
	assert_lacks(r.body, "HTTP_PROXY");
	assert_lacks(r.body, "attacker");
	assert_lacks(r.body, "HTTP_X_FORGED");
	http_reply_free(&r);
}

/*
 * A page elsewhere that points a name of its own at 127.0.0.1 (DNS
 * rebinding) sends that name in Host: refused with 421, nothing relayed
 * to the workers.  Loopback names, with or without a port, are served.
 */
Test(dev_http, only_loopback_host_names_are_served, .init = start_sluice, .fini = stop_sluice)
{
	static const char *const evil[] = { "Host: attacker.example", NULL };
	static const char *const evil_port[] = { "Host: rebind.attacker.example:8081", NULL };
	static const char *const lookalike[] = { "Host: 127.0.0.1.attacker.example", NULL };
	static const char *const good[][2] = {
		{ "Host: localhost", NULL }, { "Host: 127.0.0.1:9", NULL },
		{ "Host: [::1]:8081", NULL }, { "Host: app.localhost", NULL },
	};
	const char *const *bad[] = { evil, evil_port, lookalike };
	struct http_reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		get("/hello", bad[i], &r);
		cr_assert_eq(r.status, 421, "%s: %ld\n%s", bad[i][0], r.status, r.body);
		assert_has(r.body, "421 Misdirected Request");
		assert_lacks(r.body, "Hello from sluice");
		http_reply_free(&r);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		get("/hello", good[i], &r);
		cr_assert_eq(r.status, 200, "%s: %ld\n%s", good[i][0], r.status, r.body);
		cr_assert_str_eq(r.body, "Hello from sluice!\n");
		http_reply_free(&r);
	}
}

/*
 * The path the router sees is decoded and normalized as nginx's $uri;
 * curl would normalize dot segments itself, so the requests go raw.
 */
Test(dev_http, path_is_normalized_or_refused, .init = start_sluice, .fini = stop_sluice)
{
	char out[16384];

	raw_exchange("GET /echo/x/../y//z/./%41? HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		     out, sizeof(out));
	cr_assert_eq(strncmp(out, "HTTP/1.1 200 ", 13), 0, "answered:\n%s", out);
	assert_has(out, "\"path\":\"/echo/y/z/A\"");
	assert_has(out, "\"REQUEST_URI\":\"/echo/x/../y//z/./%41?\"");

	raw_exchange("GET /echo/../../etc HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		     out, sizeof(out));
	cr_assert_eq(strncmp(out, "HTTP/1.1 400 ", 13), 0, "answered:\n%s", out);
	raw_exchange("GET /echo/%00 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		     out, sizeof(out));
	cr_assert_eq(strncmp(out, "HTTP/1.1 400 ", 13), 0, "answered:\n%s", out);
	raw_exchange("GET /echo/%zz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		     out, sizeof(out));
	cr_assert_eq(strncmp(out, "HTTP/1.1 400 ", 13), 0, "answered:\n%s", out);
	assert_logged("climbs above the root; answering 400");
}

Test(dev_http, bad_gateway_when_sluice_is_stopped, .init = start_sluice, .fini = stop_sluice)
{
	struct http_reply r;

	get("/hello", NULL, &r);
	cr_assert_eq(r.status, 200);
	http_reply_free(&r);
	harness_sluice_stop(&sp);

	get("/hello", NULL, &r);
	cr_assert_eq(r.status, 502);
	cr_assert_str_eq(r.body, "502 Bad Gateway\n");
	assert_has(r.headers, "Content-Type: text/plain");
	http_reply_free(&r);
	assert_logged("GET /hello: cannot reach the workers at ");
}

/* The listener's VmRSS, sampled every 4 MB of a download: the most seen. */
static void sample_listener(void *arg)
{
	long *max_rss = arg;
	long kb = harness_rss_kb(listener);

	if (kb > *max_rss)
		*max_rss = kb;
}

Test(dev_http, hundred_megabytes_in_bounded_memory, .init = start_sluice,
     .fini = stop_sluice, .timeout = 120)
{
	long max_rss = 0, before;
	struct harness_download d = { .every = 4 << 20, .sample = sample_listener,
				      .arg = &max_rss };
	struct http_reply r;
	char path[64];

	get("/hello", NULL, &r);
	http_reply_free(&r);
	before = harness_rss_kb(listener);
	cr_assert_gt(before, 0);
	snprintf(path, sizeof(path), "/big?n=%lld", BIG_BYTES);
	cr_assert_eq(harness_http_download(url(path), 100L, &d), 0);

	cr_log_info("listener VmRSS %ld kB before, at most %ld kB while streaming 100 MB",
		    before, max_rss);
	cr_assert_eq(d.status, 200);
	cr_assert_eq(d.received, BIG_BYTES, "received %lld bytes", d.received);
	cr_assert_eq(d.bad_at, -1, "byte %lld is wrong", d.bad_at);
	cr_assert_gt(max_rss, 0, "the listener's memory was never sampled");
	cr_assert_lt(max_rss - before, RSS_GROWTH_KB, "the listener grew by %ld kB",
		     max_rss - before);
}

/* ---- Against a scripted FastCGI peer --------------------------------- */

/*
 * The peer: a process on a unix socket that takes one connection at a
 * time, reads a request (BEGIN_REQUEST, PARAMS, STDIN to its empty
 * record), writes what it received to `seen`, then answers as `mode`
 * says.  It shows the relay's wire side exactly, including what no
 * sluice worker sends.
 */
struct fake {
	pid_t pid;
	char dir[64];
	char sock[80];		/* fits sun_path */
	char seen[128];
};

static struct fake fk;

static void put_record(int fd, int type, const void *data, size_t len, size_t pad)
{
	unsigned char h[8] = { 1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8),
			       (unsigned char)len, (unsigned char)pad, 0 };
	static const unsigned char zeros[255];

	/* The relay may close once it has what it needs: later writes just fail. */
	if (write(fd, h, 8) != 8 || (len > 0 && write(fd, data, len) != (ssize_t)len) ||
	    (pad > 0 && write(fd, zeros, pad) != (ssize_t)pad))
		return;
}

static void put_stdout(int fd, const char *text)
{
	put_record(fd, 6, text, strlen(text), (8 - strlen(text) % 8) % 8);
}

static void put_end(int fd)
{
	static const unsigned char end[8] = { 0 };

	put_record(fd, 6, NULL, 0, 0);
	put_record(fd, 3, end, 8, 0);
}

static int read_all(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static size_t nv_len(const unsigned char **p)
{
	size_t n = **p;

	if (n < 128) {
		(*p)++;
		return n;
	}
	n = ((size_t)((*p)[0] & 0x7f) << 24) | ((size_t)(*p)[1] << 16) |
	    ((size_t)(*p)[2] << 8) | (*p)[3];
	*p += 4;
	return n;
}

/* Write the decoded PARAMS to `f`: long values as their length and first byte. */
static void dump_params(FILE *f, const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		size_t nl = nv_len(&p), vl = nv_len(&p);

		if (vl > 200)
			fprintf(f, "%.*s=<%zu bytes of %c>\n", (int)nl, p, vl, p[nl]);
		else
			fprintf(f, "%.*s=%.*s\n", (int)nl, p, (int)vl, p + nl);
		p += nl + vl;
	}
}

/* Read one request and record it in fk.seen; -1 when the relay closed first. */
static int fake_read_request(int fd)
{
	unsigned char h[8], *params = NULL, body[65536];
	size_t plen = 0, maxrec = 0, stdin_bytes = 0, len;
	int records = 0;
	FILE *f;

	for (;;) {
		if (read_all(fd, h, 8) < 0)
			return -1;
		len = (size_t)h[4] << 8 | h[5];
		if (read_all(fd, body, len + h[6]) < 0)
			return -1;
		if (h[1] == 4 && len > 0) {
			params = realloc(params, plen + len);
			memcpy(params + plen, body, len);
			plen += len;
			records++;
			maxrec = len > maxrec ? len : maxrec;
		}
		stdin_bytes += h[1] == 5 ? len : 0;
		if (h[1] == 5 && len == 0)
			break;
	}
	f = fopen(fk.seen, "w");
	fprintf(f, "params records %d, largest %zu\nstdin %zu\n", records, maxrec, stdin_bytes);
	dump_params(f, params, params + plen);
	fclose(f);
	free(params);
	return 0;
}

static void fake_answer(int fd, const char *mode)
{
	static char big[FAKE_BIG + 1];
	static const unsigned char err[] = "a warning from the app\r\nand a second line\n";

	if (strcmp(mode, "ok") == 0) {
		put_record(fd, 7, err, sizeof(err) - 1, 3);
		put_stdout(fd, "Status: 201 Cre");
		put_stdout(fd, "ated\r\nX-Fake: yes\r\nContent-Type: text/x-fake\r");
		put_stdout(fd, "\n\r\nhello ");
		put_stdout(fd, "from the fake");
		put_end(fd);
	} else if (strcmp(mode, "bighead") == 0) {
		memset(big, 'h', FAKE_BIG);
		put_stdout(fd, "Status: 200 OK\r\nX-Long: ");
		put_record(fd, 6, big, 60000, 0);
		put_record(fd, 6, big, FAKE_BIG - 60000, 0);
		put_stdout(fd, "\r\n\r\nbody");
		put_end(fd);
	} else if (strcmp(mode, "partial") == 0) {
		put_stdout(fd, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n");
		put_stdout(fd, "the first part of a body that never ends");
	} else if (strcmp(mode, "nohead") == 0) {
		put_stdout(fd, "Status: 200 OK\r\n");
		put_end(fd);
	}
	/* "close": nothing at all. */
}

static void fake_serve(int lfd, const char *mode)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			continue;
		if (fake_read_request(fd) == 0)
			fake_answer(fd, mode);
		close(fd);
	}
}

static void fake_start(const char *mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char tmpl[] = "/tmp/sluice-test-XXXXXX";
	int fd;

	need_dev_build();
	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(fk.dir, sizeof(fk.dir), "%s", tmpl);
	snprintf(fk.sock, sizeof(fk.sock), "%s/fake.sock", fk.dir);
	snprintf(fk.seen, sizeof(fk.seen), "%s/seen.txt", fk.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fk.sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		  listen(fd, 16) == 0);
	signal(SIGPIPE, SIG_IGN);
	fk.pid = fork();
	cr_assert_geq(fk.pid, 0);
	if (fk.pid == 0)
		fake_serve(fd, mode);
	close(fd);
	listen_for(fk.sock);
}

static void fake_stop(void)
{
	stop_listener();
	harness_stop_pid(fk.pid, SIGTERM);
	fk.pid = 0;
	if (fk.dir[0] == '\0')
		return;
	unlink(fk.sock);
	unlink(fk.seen);
	rmdir(fk.dir);
}

static void fake_ok(void)
{
	fake_start("ok");
}

static void fake_bighead(void)
{
	fake_start("bighead");
}

static void fake_close(void)
{
	fake_start("close");
}

static void fake_partial(void)
{
	fake_start("partial");
}

static void fake_nohead(void)
{
	fake_start("nohead");
}

/* What the peer received for the last request. */
static char *seen(void)
{
	static char text[65536];
	FILE *f = fopen(fk.seen, "r");
	size_t n;

	cr_assert_not_null(f, "the peer received no request");
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

Test(dev_http, relays_status_headers_body_and_stderr, .init = fake_ok, .fini = fake_stop)
{
	struct http_reply r;

	get("/f?q=1", NULL, &r);
	cr_assert_eq(r.status, 201);
	cr_assert_str_eq(r.body, "hello from the fake");
	assert_has(r.headers, "X-Fake: yes\r\n");
	assert_has(r.headers, "Content-Type: text/x-fake\r\n");
	cr_assert_null(strcasestr(r.headers, "\nStatus:"), "Status passed as a header:\n%s",
		       r.headers);
	http_reply_free(&r);
	assert_logged("GET /f?q=1: stderr: a warning from the app\n");
	assert_logged("GET /f?q=1: stderr: and a second line\n");
	assert_has(seen(), "REQUEST_METHOD=GET\n");
	assert_has(seen(), "QUERY_STRING=q=1\n");
	assert_has(seen(), "params records 1,");
	assert_has(seen(), "stdin 0\n");
}

Test(dev_http, params_are_split_into_records, .init = fake_ok, .fini = fake_stop)
{
	static char line[FAKE_BIG + 16];
	const char *hdrs[] = { line, NULL };
	struct http_reply r;
	char want[64];
	int records;
	size_t largest;

	memcpy(line, "X-Big: ", 7);
	memset(line + 7, 'b', FAKE_BIG);
	line[7 + FAKE_BIG] = '\0';
	get("/f", hdrs, &r);
	cr_assert_eq(r.status, 201);
	http_reply_free(&r);
	cr_assert_eq(sscanf(seen(), "params records %d, largest %zu", &records, &largest), 2);
	cr_assert_geq(records, 2, "%d PARAMS record(s) for more than 65535 bytes", records);
	cr_assert_leq(largest, 65535);
	snprintf(want, sizeof(want), "HTTP_X_BIG=<%d bytes of b>\n", FAKE_BIG);
	assert_has(seen(), want);
	assert_has(seen(), "REQUEST_URI=/f\n");
}

Test(dev_http, head_over_64k_is_bad_gateway, .init = fake_bighead, .fini = fake_stop)
{
	struct http_reply r;

	get("/f", NULL, &r);
	cr_assert_eq(r.status, 502);
	cr_assert_str_eq(r.body, "502 Bad Gateway\n");
	http_reply_free(&r);
	assert_logged("GET /f: response head larger than 65536 bytes; answering 502");
}

Test(dev_http, stream_closed_before_head_is_bad_gateway, .init = fake_close, .fini = fake_stop)
{
	struct http_reply r;

	cr_assert_eq(http_request("POST", url("/f"), "abc", 3, NULL, &r), 0);
	cr_assert_eq(r.status, 502);
	cr_assert_str_eq(r.body, "502 Bad Gateway\n");
	http_reply_free(&r);
	assert_logged("POST /f: reading the response: the workers closed the connection; "
		      "answering 502");
	assert_has(seen(), "stdin 3\n");
	assert_has(seen(), "CONTENT_LENGTH=3\n");
}

Test(dev_http, stream_ended_inside_head_is_bad_gateway, .init = fake_nohead, .fini = fake_stop)
{
	struct http_reply r;

	get("/f", NULL, &r);
	cr_assert_eq(r.status, 502);
	http_reply_free(&r);
	assert_logged("GET /f: the response ended before its head did; answering 502");
}

Test(dev_http, stream_broken_inside_body_is_not_taken_for_whole, .init = fake_partial,
     .fini = fake_stop)
{
	struct http_reply r;

	cr_assert_eq(http_request("GET", url("/f"), NULL, 0, NULL, &r), -1,
		     "a cut response reached the client as a whole one");
	http_reply_free(&r);
	assert_logged("GET /f: the response broke off: the workers closed the connection");
}

/* ---- Stopping --------------------------------------------------------- */

Test(dev_http, listener_stops_on_sigterm, .init = fake_ok, .fini = fake_stop)
{
	pid_t pid = listener;
	int status;

	listener = 0;
	status = harness_stop_pid(pid, SIGTERM);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the listener did not exit cleanly on SIGTERM (status %d)", status);
}

Test(dev_http, listener_stops_when_its_master_dies, .init = fake_ok, .fini = fake_stop)
{
	int pfd[2], gone;
	pid_t master, child = 0;

	stop_listener();
	cr_assert_eq(pipe(pfd), 0);
	master = fork();
	cr_assert_geq(master, 0);
	if (master == 0) {
		char addr[64], err[512];

		snprintf(addr, sizeof(addr), "127.0.0.1:%d", harness_free_port());
		child = dev_http_spawn(addr, fk.sock, err, sizeof(err));
		if (write(pfd[1], &child, sizeof(child)) != sizeof(child))
			_exit(1);
		pause();
		_exit(0);
	}
	cr_assert_eq(read(pfd[0], &child, sizeof(child)), (ssize_t)sizeof(child));
	cr_assert_gt(child, 0, "the listener did not start");
	cr_assert(!harness_proc_gone(child));
	kill(master, SIGKILL);
	waitpid(master, NULL, 0);
	gone = harness_wait_gone(child, 5000);
	if (!gone)
		kill(child, SIGKILL);	/* clean up, then fail */
	cr_assert(gone, "the listener outlived its master by 5 s");
}
