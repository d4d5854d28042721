/*
 * nginx_uwsgi.c - the real nginx in front of the real sluice over uwsgi
 * (`uwsgi_pass` with Debian's uwsgi_params), next to a second nginx that
 * reaches the same sluice over FastCGI: one sluice, two listeners
 *
 *	listen = ( { address = "DIR/sluice.sock"; ... },
 *		   { address = "DIR/uwsgi.sock"; protocol = "uwsgi"; ... } );
 *
 * and the same requests through both fronts give the same handler-level
 * results.  A raw client on the uwsgi socket sends what nginx never
 * would: malformed lengths, other modifiers, uWSGI's "magic variables",
 * truncated packets.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "check.h"
#include "harness.h"
#include "scenarios.h"
#include "uwsgi_packet.h"

#define UWSGI_PARAMS	"/etc/nginx/uwsgi_params"
#define FCGI_PARAMS	"/etc/nginx/fastcgi_params"
#define WAIT_MS		5000	/* bound on every wait for sluice */

static struct sluice_proc sp;
static struct nginx_proc nu;	/* nginx -> uwsgi */
static struct nginx_proc nf;	/* nginx -> FastCGI, the reference */
static char usock[256];		/* sluice's uwsgi socket */

static void stop_all(void)
{
	harness_nginx_stop(&nu);
	harness_nginx_stop(&nf);
	harness_sluice_stop(&sp);
}

/* ---- Setting up ------------------------------------------------------- */

/* The second listener, in the harness's private folder (relative paths are). */
static const char uwsgi_listener[] =
	"{ address = \"unix:uwsgi.sock\"; protocol = \"uwsgi\"; mode = \"0666\"; }";

/*
 * What a user writes to put sluice behind uwsgi_pass: the `location /`
 * block of the shipped example, with its params include made absolute
 * (the harness's nginx has its own prefix) and its socket the test's.
 */
#define SNIPPET "conf/nginx/sluice-uwsgi.conf"
#define SNIPPET_SOCK "unix:/run/sluice/uwsgi.sock;"

static const char *uwsgi_location(void)
{
	static char out[8192];
	char text[8192], *start, *end, *inc, *sock;
	FILE *f = fopen(SNIPPET, "r");
	size_t len;

	cr_assert_not_null(f, "cannot open %s", SNIPPET);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	start = strstr(text, "location / {");
	cr_assert_not_null(start, "%s has no `location / {`", SNIPPET);
	end = strchr(start, '}');
	cr_assert_not_null(end, "%s: the location block is not closed", SNIPPET);
	end[1] = '\0';
	inc = strstr(start, "include uwsgi_params;");
	sock = strstr(start, SNIPPET_SOCK);
	cr_assert(inc && sock && inc < sock, "%s: expected `include uwsgi_params;` then `uwsgi_pass %s`",
		  SNIPPET, SNIPPET_SOCK);
	*inc = '\0';
	*sock = '\0';
	snprintf(out, sizeof(out), "%sinclude " UWSGI_PARAMS ";%s%s%s", start,
		 inc + strlen("include uwsgi_params;"), "unix:%SOCK%;", sock + strlen(SNIPPET_SOCK));
	return out;
}

static const char fcgi_location[] =
	"location / {\n"
	"  include " FCGI_PARAMS ";\n"
	"  fastcgi_pass unix:%SOCK%;\n"
	"}\n";

/*
 * The sample apps and the fixtures that serve, under `workers` workers,
 * with `extra` settings.
 */
static char *modules_conf(int workers, const char *extra)
{
	static const char *const mods[] = {
		"/hello=apps/hello.so", "/echo=apps/echo.so", "/demo=apps/routes.so",
		"/who=fixtures/whoami.so", "/big=fixtures/big.so", "/fail=fixtures/fail.so",
		NULL
	};
	static char conf[8192];
	char path[4096], mount[64];
	const char *const *m;
	const char *eq;
	size_t n;

	n = (size_t)snprintf(conf, sizeof(conf),
			     "%s\npm = { max_children = %d; };\nmodules = (\n", extra, workers);
	for (m = mods; *m != NULL; m++) {
		eq = strchr(*m, '=');
		snprintf(mount, sizeof(mount), "%.*s", (int)(eq - *m), *m);
		assert_built(path, sizeof(path), eq + 1);
		n += (size_t)snprintf(conf + n, sizeof(conf) - n,
				      "  { path = \"%s\"; mount = \"%s\"; }%s\n",
				      path, mount, m[1] != NULL ? "," : "");
	}
	snprintf(conf + n, sizeof(conf) - n, ");\n");
	return conf;
}

static void start_with(int workers, const char *extra)
{
	cr_assert_eq(harness_sluice_start_listeners(&sp, uwsgi_listener,
						    modules_conf(workers, extra)), 0,
		     "sluice did not start");
	snprintf(usock, sizeof(usock), "%s/uwsgi.sock", sp.dir);
	cr_assert_eq(harness_wait_socket(sp.pid, usock), 0, "sluice does not accept on %s", usock);
	cr_assert_eq(harness_nginx_start(&nu, usock, uwsgi_location()), 0,
		     "nginx (uwsgi_pass) did not start");
	cr_assert_eq(harness_nginx_start(&nf, sp.sock, fcgi_location), 0,
		     "nginx (fastcgi_pass) did not start");
}

static void start_two(void)
{
	start_with(2, "");
}

/* One worker: whatever serves a request is that worker. */
static void start_one(void)
{
	start_with(1, "");
}

static void start_small_bodies(void)
{
	start_with(2, "limits = { max_body_bytes = \"64K\"; };");
}

/* ---- Requests through nginx -------------------------------------------- */

static const char *url(const struct nginx_proc *np, const char *path)
{
	static char buf[2][512];
	static int which;

	which ^= 1;
	snprintf(buf[which], sizeof(buf[which]), "http://127.0.0.1:%d%s", np->port, path);
	return buf[which];
}

static void request(const struct nginx_proc *np, const char *method, const char *path,
		    const char *body, size_t body_len, const char *const *headers,
		    struct http_reply *r)
{
	cr_assert_eq(http_request(method, url(np, path), body, body_len, headers, r), 0,
		     "%s %s (%s): no HTTP response", method, path,
		     np == &nu ? "uwsgi" : "fastcgi");
}

/* The value of header `name` in a raw header block, malloc'ed; NULL if absent. */
static char *header_value(const char *headers, const char *name)
{
	size_t nlen = strlen(name), vlen;
	const char *p = headers, *v;

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			v = p + nlen + 1;
			while (*v == ' ')
				v++;
			vlen = strcspn(v, "\r\n");
			return strndup(v, vlen);
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static void assert_same_header(const struct http_reply *u, const struct http_reply *f,
			       const char *name, const char *what)
{
	char *hu = header_value(u->headers, name), *hf = header_value(f->headers, name);

	cr_assert((hu == NULL) == (hf == NULL) && (hu == NULL || strcmp(hu, hf) == 0),
		  "%s: %s is \"%s\" over uwsgi, \"%s\" over FastCGI", what, name,
		  hu ? hu : "(none)", hf ? hf : "(none)");
	free(hu);
	free(hf);
}

/* `body` with the value after "request id: " (unique per request) blanked. */
static char *without_id(const char *body)
{
	char *copy = strdup(body), *p;

	cr_assert_not_null(copy);
	p = strstr(copy, "request id: ");
	if (p != NULL)
		for (p += strlen("request id: "); isalnum((unsigned char)*p); p++)
			*p = '#';
	return copy;
}

/*
 * The same request through both fronts: the same status, body (request
 * ids aside) and handler-set headers.  The uwsgi reply is left in `out`.
 */
static void same_over_both(const char *method, const char *path, const char *body,
			   size_t body_len, const char *const *headers,
			   struct http_reply *out)
{
	struct http_reply f;
	char what[256], *bu, *bf;

	snprintf(what, sizeof(what), "%s %s", method, path);
	request(&nu, method, path, body, body_len, headers, out);
	request(&nf, method, path, body, body_len, headers, &f);
	cr_assert_eq(out->status, f.status, "%s: %ld over uwsgi, %ld over FastCGI", what,
		     out->status, f.status);
	bu = without_id(out->body);
	bf = without_id(f.body);
	cr_assert_str_eq(bu, bf, "%s: the bodies differ", what);
	free(bu);
	free(bf);
	assert_same_header(out, &f, "Content-Type", what);
	assert_same_header(out, &f, "Allow", what);
	assert_same_header(out, &f, "Location", what);
	http_reply_free(&f);
}

/* The shared scenarios over uwsgi alone, and over both fronts compared. */
static void over_uwsgi(const char *method, const char *path, const char *body,
		       size_t body_len, const char *const *headers, struct http_reply *r)
{
	request(&nu, method, path, body, body_len, headers, r);
}

static const struct scenario_front uwsgi_front = { over_uwsgi, "" };
static const struct scenario_front both_fronts = { same_over_both, "" };

/* Neither sluice nor either nginx logged an error. */
static void assert_no_log_errors(void)
{
	expect_sluice_clean(&sp);
	expect_nginx_clean(&nu);
	expect_nginx_clean(&nf);
}

/* ---- A raw uwsgi client ------------------------------------------------- */

static void send_all(int fd, const void *bytes, size_t n)
{
	const char *p = bytes;
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		cr_assert_gt(w, 0, "send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/*
 * Read until sluice closes the connection (end of stream, or a reset
 * when it closed with request bytes unread); the reply, NUL-terminated.
 * Fails the test if the connection is still open after WAIT_MS.
 */
static size_t read_until_closed(int fd, char *buf, size_t cap)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	for (;;) {
		cr_assert_gt(poll(&pfd, 1, WAIT_MS), 0,
			     "sluice kept the uwsgi connection open; so far:\n%.*s",
			     (int)len, buf);
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		cr_assert_gt(n, 0, "recv: %s", strerror(errno));
		len += (size_t)n;
		cr_assert_lt(len, cap - 1, "reply larger than expected");
	}
	buf[len] = '\0';
	return len;
}

/* One raw exchange on the uwsgi socket: send `bytes`, read until closed. */
static size_t exchange(const void *bytes, size_t n, char *reply, size_t cap)
{
	int fd = harness_connect_unix(usock);
	size_t len;

	cr_assert_geq(fd, 0, "cannot connect to %s", usock);
	send_all(fd, bytes, n);
	len = read_until_closed(fd, reply, cap);
	close(fd);
	return len;
}

/* The body of a raw HTTP reply (after the blank line), or "". */
static const char *raw_body(const char *reply)
{
	const char *p = strstr(reply, "\r\n\r\n");

	return p ? p + 4 : "";
}

/* GET /who over raw uwsgi: the pid of the worker that served it. */
static long raw_who(void)
{
	struct uwsgi_packet p;
	char reply[4096];
	long pid = 0;

	uwsgi_packet_request(&p, "GET", "/who", NULL);
	assert_uwsgi_end(&p, 0, 0);
	exchange(p.b, p.len, reply, sizeof(reply));
	cr_assert_eq(strncmp(reply, "HTTP/1.1 200 OK\r\n", 17), 0, "reply:\n%s", reply);
	cr_assert_eq(sscanf(raw_body(reply), "pid %ld", &pid), 1, "reply:\n%s", reply);
	return pid;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- Listeners --------------------------------------------------------- */

Test(nginx_uwsgi, each_listener_logged_with_its_protocol, .init = start_two,
     .fini = stop_all)
{
	char line[512];

	snprintf(line, sizeof(line), "listening on %s (uwsgi)", usock);
	cr_assert_eq(harness_log_wait(&sp, line, WAIT_MS), 0, "no \"%s\" in the log", line);
	snprintf(line, sizeof(line), "listening on %s (fastcgi)", sp.sock);
	cr_assert_eq(harness_log_wait(&sp, line, WAIT_MS), 0, "no \"%s\" in the log", line);
}

/* ---- hello ------------------------------------------------------------- */

Test(nginx_uwsgi, hello_as_over_fastcgi, .init = start_two, .fini = stop_all)
{
	struct http_reply r;

	same_over_both("GET", "/hello", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello from sluice!\n");
	assert_has(r.headers, "Content-Type: text/plain");
	http_reply_free(&r);

	same_over_both("POST", "/hello/some/where/else?x=1", "ignored", 7, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello from sluice!\n");
	http_reply_free(&r);
	assert_no_log_errors();
}

/*
 * POST 1 MB to `path` six times, alternately over uwsgi and FastCGI:
 * each answer has `status`, and `body` unless it is NULL.
 */
static void megabyte_rounds(const char *path, long status, const char *body)
{
	size_t len = 1 << 20;
	char *data = malloc(len);
	struct http_reply r;

	cr_assert_not_null(data);
	memset(data, 'b', len);
	for (int i = 0; i < 6; i++) {
		const struct nginx_proc *np = i % 2 ? &nf : &nu;

		request(np, "POST", path, data, len, NULL, &r);
		cr_assert_eq(r.status, status, "round %d over %s: status %ld", i,
			     np == &nu ? "uwsgi" : "FastCGI", r.status);
		if (body != NULL)
			cr_assert_str_eq(r.body, body);
		http_reply_free(&r);
	}
	free(data);
}

/*
 * hello reads no body; sluice answers and closes.  nginx must get the
 * answer, not a reset while it still sends or reads (a 502, or an error
 * in its log), over uwsgi as over FastCGI.  A few rounds, since whether
 * the reset overtakes the answer is a matter of timing.
 */
Test(nginx_uwsgi, unread_megabyte_body_still_answered, .init = start_two,
     .fini = stop_all)
{
	megabyte_rounds("/hello", 200, "Hello from sluice!\n");
	assert_no_log_errors();
}

/*
 * A body over limits.max_body_bytes is refused before it is read: nginx
 * must pass the 413 on, over uwsgi as over FastCGI.
 */
Test(nginx_uwsgi, body_over_the_limit_is_413, .init = start_small_bodies,
     .fini = stop_all)
{
	megabyte_rounds("/echo", 413, NULL);
	cr_assert_eq(harness_log_wait(&sp, "exceeds limits.max_body_bytes", WAIT_MS), 0);
}

/* ---- echo -------------------------------------------------------------- */

/* The JSON string value of "key" in echo's reply, malloc'ed. */
static char *json_field(const char *body, const char *key)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(body, pat);
	cr_assert_not_null(p, "no %s in %.500s", key, body);
	p += strlen(pat);
	for (e = p; *e != '\0' && *e != '"'; e++)
		if (*e == '\\' && e[1] != '\0')
			e++;
	return strndup(p, (size_t)(e - p));
}

Test(nginx_uwsgi, echo_reflects_the_request, .init = start_two, .fini = stop_all)
{
	static const char *const hdrs[] = { "X-Custom-Thing: value one", NULL };
	static const char *const same[] = { "method", "path", "query", "x-custom-thing",
					    "body", NULL };
	struct http_reply r, f;
	char *vu, *vf;

	request(&nu, "GET", "/echo/some/path?a=1&b=two", NULL, 0, hdrs, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.headers, "Content-Type: application/json");
	assert_has(r.body, "\"method\":\"GET\"");
	assert_has(r.body, "\"path\":\"/echo/some/path\"");
	assert_has(r.body, "\"query\":\"a=1&b=two\"");
	assert_has(r.body, "\"x-custom-thing\":\"value one\"");
	assert_has(r.body, "\"REQUEST_METHOD\":\"GET\"");
	assert_has(r.body, "\"QUERY_STRING\":\"a=1&b=two\"");
	assert_has(r.body, "\"HTTP_X_CUSTOM_THING\":\"value one\"");
	assert_has(r.body, "\"PATH_INFO\":\"/echo/some/path\"");
	assert_has(r.body, "\"body\":\"\"}\n");

	request(&nf, "GET", "/echo/some/path?a=1&b=two", NULL, 0, hdrs, &f);
	for (int i = 0; same[i] != NULL; i++) {
		vu = json_field(r.body, same[i]);
		vf = json_field(f.body, same[i]);
		cr_assert_str_eq(vu, vf, "%s differs between uwsgi and FastCGI", same[i]);
		free(vu);
		free(vf);
	}
	http_reply_free(&r);
	http_reply_free(&f);
}

Test(nginx_uwsgi, echo_escapes_the_body_as_json, .init = start_two, .fini = stop_all)
{
	scenario_echo_escapes_json(&uwsgi_front);
}

Test(nginx_uwsgi, echo_one_megabyte_body, .init = start_two, .fini = stop_all)
{
	scenario_echo_one_megabyte(&uwsgi_front);
	assert_no_log_errors();
}

/*
 * Bodies that arrive while the worker serves other connections: their
 * variables were once decoded into the worker's one request at once, so
 * that another request's overwrote them (the body was then read from the
 * wrong connection, which nginx saw close early).
 */
Test(nginx_uwsgi, concurrent_bodies_each_to_its_request, .init = start_two, .fini = stop_all,
     .timeout = 120)
{
	scenario_concurrent_bodies(url(&nu, "/echo"));
	assert_no_log_errors();
}

/*
 * A chunked upload of 200 KB in uneven pieces: nginx buffers it and
 * gives uwsgi its length.
 */
Test(nginx_uwsgi, echo_chunked_body, .init = start_two, .fini = stop_all)
{
	char *got = scenario_echo_chunked(url(&nu, "/echo"), 200000);

	assert_has(got, "\"CONTENT_LENGTH\":\"200000\"");
	free(got);
}

/* ---- routes, 404, 405, HEAD -------------------------------------------- */

Test(nginx_uwsgi, routes_as_over_fastcgi, .init = start_two, .fini = stop_all)
{
	struct http_reply r;

	same_over_both("GET", "/demo/users", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "1 alice\n2 bob\n3 carol\n");
	http_reply_free(&r);

	scenario_routes_find_users(&both_fronts);

	same_over_both("GET", "/demo/files/a/b/c.txt", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "a/b/c.txt\n");
	http_reply_free(&r);

	/* The same state behind both fronts: the pool's, not the protocol's. */
	request(&nu, "POST", "/demo/users", "dave", 4, NULL, &r);
	cr_assert_eq(r.status, 201);
	cr_assert_eq(strncmp(r.body, "created user ", 13), 0, "%s", r.body);
	assert_has(r.headers, "Location: /demo/users/");
	http_reply_free(&r);
	assert_no_log_errors();
}

Test(nginx_uwsgi, unknown_path_is_404, .init = start_two, .fini = stop_all)
{
	static const char *const paths[] = {
		"/demo/nope", "/demo/users/2/extra", "/", "/elsewhere", NULL
	};

	scenario_routes_unknown_paths(&both_fronts, paths);
}

Test(nginx_uwsgi, other_method_is_405_with_allow, .init = start_two, .fini = stop_all)
{
	struct http_reply r;

	same_over_both("PUT", "/demo/users/1", "x", 1, NULL, &r);
	cr_assert_eq(r.status, 405);
	assert_has(r.headers, "Allow: ");
	assert_has(r.headers, "GET");
	assert_has(r.headers, "DELETE");
	cr_assert_null(strstr(r.headers, "POST"), "headers:\n%s", r.headers);
	http_reply_free(&r);

	same_over_both("DELETE", "/demo/users", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 405);
	http_reply_free(&r);
}

Test(nginx_uwsgi, head_is_get_without_a_body, .init = start_two, .fini = stop_all)
{
	struct http_reply get, head;
	char *tg, *th;

	request(&nu, "GET", "/demo/users", NULL, 0, NULL, &get);
	same_over_both("HEAD", "/demo/users", NULL, 0, NULL, &head);
	cr_assert_eq(head.status, 200);
	cr_assert_eq(head.body_len, 0);
	tg = header_value(get.headers, "Content-Type");
	th = header_value(head.headers, "Content-Type");
	cr_assert(tg && th && strcmp(tg, th) == 0, "Content-Type: GET %s, HEAD %s", tg, th);
	free(tg);
	free(th);
	http_reply_free(&get);
	http_reply_free(&head);

	same_over_both("HEAD", "/demo/nope", NULL, 0, NULL, &head);
	cr_assert_eq(head.status, 404);
	cr_assert_eq(head.body_len, 0);
	http_reply_free(&head);
}

Test(nginx_uwsgi, failing_handler_is_500_without_its_output, .init = start_two,
     .fini = stop_all)
{
	struct http_reply r;

	same_over_both("GET", "/fail", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 500);
	cr_assert_null(strstr(r.body, "PARTIAL"), "the partial output leaked:\n%s", r.body);
	assert_has(r.body, "request id");
	http_reply_free(&r);
}

/*
 * A response streamed in pieces, without a length: uwsgi ends it by
 * closing.  Copied (sl_write) and by reference (sl_write_ref).
 */
Test(nginx_uwsgi, ten_megabytes_streamed, .init = start_two, .fini = stop_all)
{
	static const char *const paths[] = { "/big?n=10485760", "/big?n=10485760&ref=1" };
	const long long total = 10LL << 20;

	for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
		struct http_reply r;
		long long bad = -1;

		request(&nu, "GET", paths[k], NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 200, "%s", paths[k]);
		cr_assert_eq((long long)r.body_len, total, "%s: received %zu bytes", paths[k],
			     r.body_len);
		for (long long i = 0; i < total && bad < 0; i++)
			if (r.body[i] != (char)('a' + (i % 65536) % 26))
				bad = i;
		cr_assert_eq(bad, -1, "%s: byte %lld is wrong", paths[k], bad);
		http_reply_free(&r);
	}
	assert_no_log_errors();
}

/* ---- Raw packets nginx would not send ------------------------------------ */

Test(nginx_uwsgi, malformed_content_length_is_400, .init = start_two, .fini = stop_all)
{
	static const char *const bad[] = {
		"-1", " 5", "5 ", "+5", "99999999999999999999999", "0x5", "5\t",
	};
	struct uwsgi_packet p;
	char reply[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uwsgi_packet_request(&p, "POST", "/echo", NULL);
		uwsgi_packet_str(&p, "CONTENT_LENGTH", bad[i]);
		assert_uwsgi_end(&p, 0, 0);
		uwsgi_packet_raw(&p, "hello", 5);
		exchange(p.b, p.len, reply, sizeof(reply));
		cr_assert_eq(strncmp(reply, "HTTP/1.1 400 Bad Request\r\n", 26), 0,
			     "CONTENT_LENGTH \"%s\" gave:\n%s", bad[i], reply);
		cr_assert_null(strstr(reply, "\"method\""), "the handler ran:\n%s", reply);
	}
	cr_assert_eq(harness_log_wait(&sp, "malformed CONTENT_LENGTH", WAIT_MS), 0);
}

Test(nginx_uwsgi, duplicate_content_length_is_400, .init = start_two, .fini = stop_all)
{
	static const char *const pairs[][2] = { { "5", "5" }, { "5", "3" }, { "0", "5" } };
	struct uwsgi_packet p;
	char reply[4096];

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		uwsgi_packet_request(&p, "POST", "/echo", NULL);
		uwsgi_packet_str(&p, "CONTENT_LENGTH", pairs[i][0]);
		uwsgi_packet_str(&p, "CONTENT_LENGTH", pairs[i][1]);
		assert_uwsgi_end(&p, 0, 0);
		uwsgi_packet_raw(&p, "hello", 5);
		exchange(p.b, p.len, reply, sizeof(reply));
		cr_assert_eq(strncmp(reply, "HTTP/1.1 400 Bad Request\r\n", 26), 0,
			     "CONTENT_LENGTH \"%s\" then \"%s\" gave:\n%s",
			     pairs[i][0], pairs[i][1], reply);
	}
	cr_assert_eq(harness_log_wait(&sp, "duplicate CONTENT_LENGTH", WAIT_MS), 0);
}

/* The same length, well formed, is served: the 400s above are about the form. */
Test(nginx_uwsgi, wellformed_content_length_is_the_body, .init = start_two,
     .fini = stop_all)
{
	struct uwsgi_packet p;
	char reply[8192];

	uwsgi_packet_request(&p, "POST", "/echo", NULL);
	uwsgi_packet_str(&p, "CONTENT_LENGTH", "5");
	assert_uwsgi_end(&p, 0, 0);
	uwsgi_packet_raw(&p, "helloNOT-BODY", 13);
	exchange(p.b, p.len, reply, sizeof(reply));
	cr_assert_eq(strncmp(reply, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", reply);
	assert_has(reply, "\"body\":\"hello\"}");
}

Test(nginx_uwsgi, other_modifier_closed_with_a_log_line, .init = start_one,
     .fini = stop_all)
{
	struct uwsgi_packet p;
	char reply[4096];
	long before = raw_who();

	uwsgi_packet_request(&p, "GET", "/who", NULL);
	assert_uwsgi_end(&p, 5, 0);
	cr_assert_eq(exchange(p.b, p.len, reply, sizeof(reply)), 0,
		     "modifier1 5 was answered:\n%s", reply);
	cr_assert_eq(harness_log_wait(&sp, "modifier1 5 is not served", WAIT_MS), 0,
		     "no log line for modifier1 5");
	cr_assert_eq(raw_who(), before, "the worker was replaced");
}

/*
 * uWSGI loads and runs code named by UWSGI_FILE, UWSGI_SCRIPT, ... in a
 * request.  Here they are parameters like any other: the request goes
 * to the same route and gets the same bytes, and nothing is loaded (the
 * file named is a fixture whose init crashes a worker).
 */
/* Remove the X-Request-Id line of a raw response: every request has its own id. */
static void drop_request_id(char *resp)
{
	char *line = strstr(resp, "\r\nX-Request-Id: "), *end;

	if (!line || !(end = strstr(line + 2, "\r\n")))
		return;
	memmove(line, end, strlen(end) + 1);
}

Test(nginx_uwsgi, magic_variables_change_nothing, .init = start_one, .fini = stop_all)
{
	struct uwsgi_packet p;
	char plain[4096], magic[4096], evil[4096], *log;
	int loaded;

	assert_built(evil, sizeof(evil), "fixtures/init_crash.so");
	uwsgi_packet_request(&p, "GET", "/demo/users/2", NULL);
	assert_uwsgi_end(&p, 0, 0);
	exchange(p.b, p.len, plain, sizeof(plain));
	log = harness_sluice_log(&sp);
	loaded = count(log, " loaded from ");
	free(log);

	uwsgi_packet_request(&p, "GET", "/demo/users/2", NULL);
	uwsgi_packet_str(&p, "UWSGI_FILE", evil);
	uwsgi_packet_str(&p, "UWSGI_SCRIPT", "init_crash");
	uwsgi_packet_str(&p, "UWSGI_MODULE", "init_crash");
	uwsgi_packet_str(&p, "UWSGI_CHDIR", "/tmp");
	uwsgi_packet_str(&p, "UWSGI_APPID", "evil");
	uwsgi_packet_str(&p, "UWSGI_SETENV", "LD_PRELOAD=/nonexistent.so");
	assert_uwsgi_end(&p, 0, 0);
	exchange(p.b, p.len, magic, sizeof(magic));

	cr_assert_eq(strncmp(plain, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", plain);
	cr_assert_str_eq(raw_body(plain), "user 2: bob\n");
	drop_request_id(plain);
	drop_request_id(magic);
	cr_assert_str_eq(magic, plain, "the magic variables changed the response");
	/* And the worker is still the one that served before, still serving. */
	cr_assert_str_eq(raw_body(magic), "user 2: bob\n");
	log = harness_sluice_log(&sp);
	cr_assert_eq(count(log, " loaded from "), loaded, "a module was loaded:\n%s", log);
	cr_assert_null(strstr(log, "init_crash"), "the log names the file:\n%s", log);
	cr_assert_null(strstr(log, "exited"), "a worker exited:\n%s", log);
	free(log);
}

/* A packet cut short, then the peer gone: that connection, no more. */
Test(nginx_uwsgi, truncated_packet_costs_only_its_connection, .init = start_one,
     .fini = stop_all)
{
	static const size_t cuts[] = { 2, 4, 20 };
	struct uwsgi_packet p;
	long before = raw_who();
	char *log;
	int fd;

	uwsgi_packet_request(&p, "GET", "/who", NULL);
	assert_uwsgi_end(&p, 0, 0);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		fd = harness_connect_unix(usock);
		cr_assert_geq(fd, 0);
		send_all(fd, p.b, cuts[i]);
		harness_sleep_ms(50);
		close(fd);
		cr_assert_eq(raw_who(), before, "after a packet cut at %zu bytes, another "
			     "worker answered", cuts[i]);
	}
	log = harness_sluice_log(&sp);
	cr_assert_null(strstr(log, "exited"), "a worker exited:\n%s", log);
	cr_assert_null(strstr(log, "[error]"), "an error was logged:\n%s", log);
	free(log);
}

/* ---- One request per connection ----------------------------------------- */

Test(nginx_uwsgi, connection_closed_after_each_response, .init = start_two,
     .fini = stop_all)
{
	struct uwsgi_packet p;
	unsigned char two[2 * sizeof(p.b)];
	char reply[8192];
	struct http_reply r;
	int open = 0;

	/* Two requests on one connection: one answer, then the close. */
	uwsgi_packet_request(&p, "GET", "/demo/users/1", NULL);
	assert_uwsgi_end(&p, 0, 0);
	memcpy(two, p.b, p.len);
	memcpy(two + p.len, p.b, p.len);
	exchange(two, 2 * p.len, reply, sizeof(reply));
	cr_assert_eq(count(reply, "HTTP/1.1 "), 1, "replies:\n%s", reply);
	cr_assert_str_eq(raw_body(reply), "user 1: alice\n");

	/* Through nginx: no connection outlives its request. */
	for (int i = 0; i < 20; i++) {
		request(&nu, "GET", "/demo/users/3", NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 200);
		http_reply_free(&r);
	}
	for (int waited = 0; waited < WAIT_MS; waited += 20) {
		open = harness_sockets_on(usock);
		if (open == 1)
			break;
		harness_sleep_ms(20);
	}
	cr_assert_eq(open, 1, "%d sockets on the uwsgi path: connections kept", open);
	assert_no_log_errors();
}

/* ---- Both listeners, the same workers ----------------------------------- */

/*
 * One worker holds a uwsgi request that is still arriving while it
 * serves both fronts; then the held request completes, on the same pid.
 */
Test(nginx_uwsgi, one_worker_serves_both_protocols_at_once, .init = start_one,
     .fini = stop_all)
{
	struct uwsgi_packet p;
	struct http_reply ru, rf;
	char reply[4096];
	long pid_u, pid_f, pid_held;
	int fd;

	uwsgi_packet_request(&p, "GET", "/who", NULL);
	assert_uwsgi_end(&p, 0, 0);
	fd = harness_connect_unix(usock);
	cr_assert_geq(fd, 0);
	send_all(fd, p.b, 10);

	request(&nu, "GET", "/who", NULL, 0, NULL, &ru);
	request(&nf, "GET", "/who", NULL, 0, NULL, &rf);
	cr_assert_eq(ru.status, 200);
	cr_assert_eq(rf.status, 200);
	cr_assert_eq(sscanf(ru.body, "pid %ld", &pid_u), 1);
	cr_assert_eq(sscanf(rf.body, "pid %ld", &pid_f), 1);
	cr_assert_eq(pid_u, pid_f, "uwsgi served by %ld, FastCGI by %ld", pid_u, pid_f);

	send_all(fd, p.b + 10, p.len - 10);
	read_until_closed(fd, reply, sizeof(reply));
	close(fd);
	cr_assert_eq(sscanf(raw_body(reply), "pid %ld", &pid_held), 1, "%s", reply);
	cr_assert_eq(pid_held, pid_u);
	http_reply_free(&ru);
	http_reply_free(&rf);
}

#define LOAD_EACH	40	/* requests per front */

struct load {
	CURL *easy;
	char *body;
	int uwsgi;
};

/* 80 requests at once, half through each front, to a pool of two. */
Test(nginx_uwsgi, both_fronts_served_by_the_same_pool, .init = start_two,
     .fini = stop_all)
{
	struct load l[2 * LOAD_EACH];
	long pids[2][2 * LOAD_EACH], status, pid;
	int npids[2] = { 0, 0 }, running = 1, shared = 0;
	CURLM *m = curl_multi_init();

	cr_assert_not_null(m);
	for (int i = 0; i < 2 * LOAD_EACH; i++) {
		l[i].uwsgi = i % 2;
		l[i].body = NULL;
		l[i].easy = curl_easy_init();
		cr_assert_not_null(l[i].easy);
		curl_easy_setopt(l[i].easy, CURLOPT_URL, url(l[i].uwsgi ? &nu : &nf, "/who"));
		curl_easy_setopt(l[i].easy, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(l[i].easy, CURLOPT_TIMEOUT, 10L);
		curl_easy_setopt(l[i].easy, CURLOPT_WRITEFUNCTION, harness_http_append);
		curl_easy_setopt(l[i].easy, CURLOPT_WRITEDATA, &l[i].body);
		curl_multi_add_handle(m, l[i].easy);
	}
	while (running) {
		cr_assert_eq(curl_multi_perform(m, &running), CURLM_OK);
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	for (int i = 0; i < 2 * LOAD_EACH; i++) {
		curl_easy_getinfo(l[i].easy, CURLINFO_RESPONSE_CODE, &status);
		cr_assert_eq(status, 200, "request %d (%s): %ld", i,
			     l[i].uwsgi ? "uwsgi" : "fastcgi", status);
		cr_assert(l[i].body && sscanf(l[i].body, "pid %ld", &pid) == 1);
		pids[l[i].uwsgi][npids[l[i].uwsgi]++] = pid;
		curl_multi_remove_handle(m, l[i].easy);
		curl_easy_cleanup(l[i].easy);
		free(l[i].body);
	}
	curl_multi_cleanup(m);
	for (int i = 0; i < npids[1] && !shared; i++)
		for (int j = 0; j < npids[0] && !shared; j++)
			shared = pids[1][i] == pids[0][j];
	cr_assert(shared, "no worker served both protocols");
	assert_no_log_errors();
}
