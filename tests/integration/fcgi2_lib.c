/*
 * fcgi2_lib.c - sluice-fcgi against libfcgi: the same fcgi2 programs
 * (tests/fcgi2/), built once against Debian's libfcgi and once against
 * sluice-fcgi, started the way spawn-fcgi starts them (a listening unix
 * socket on fd 0).
 *
 *  - Through the real nginx, both builds give byte-identical responses:
 *    GET, POST bodies of 0 B to 10 MB, many parameters, stderr output.
 *  - The exit status reaches END_REQUEST in both.
 *  - Input that kills a libfcgi program (PARAMS lengths 0x7ffffffe and
 *    0x40000000, a GET_VALUES repeating FCGI_MAX_CONNS 3000 times) is
 *    shown to kill the libfcgi build, and the sluice-fcgi build answers
 *    or closes that connection and serves the next one.
 *  - A kept-alive idle connection does not pin a sluice-fcgi process.
 *  - Without a socket on fd 0 the program runs once as CGI.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "fcgi_client.h"
#include "harness.h"
#include "load.h"

#define WAIT_MS 10000

/* A program serving a unix socket of its own, as spawn-fcgi starts it. */
struct prog {
	pid_t pid;
	char sock[192];
	char log[192];
	int lfd;
};

static char dir[128];

static void child_fd0(void *arg)
{
	dup2(*(int *)arg, 0);
}

static void idle_env(void *arg)
{
	child_fd0(arg);
	setenv("SLUICE_FCGI_IDLE_TIMEOUT_MS", "300", 1);
}

/*
 * Start BUILD_DIR/fcgi2/NAME on dir/NAME.sock; `in_child` puts the socket
 * on fd 0.  `arg`, when not NULL, is the program's one argument (fcgx_app's
 * thread count).
 */
static void prog_start_arg(struct prog *p, const char *name, void (*in_child)(void *),
			   const char *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[256], argbuf[16];
	char *argv[] = { path, arg ? argbuf : NULL, NULL };

	snprintf(argbuf, sizeof(argbuf), "%s", arg ? arg : "");
	snprintf(path, sizeof(path), "%s/fcgi2/%s", BUILD_DIR, name);
	cr_assert_eq(access(path, X_OK), 0, "%s is not built (make tests)", path);
	snprintf(p->sock, sizeof(p->sock), "%s/%s.sock", dir, name);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", dir, name);
	cr_assert_lt(strlen(p->sock), sizeof(sa.sun_path), "%s is too long", p->sock);
	memcpy(sa.sun_path, p->sock, strlen(p->sock) + 1);
	unlink(p->sock);
	p->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(p->lfd >= 0 && bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		  listen(p->lfd, 64) == 0, "cannot listen on %s: %s", p->sock, strerror(errno));
	chmod(p->sock, 0666);
	p->pid = harness_spawn(argv, p->log, in_child ? in_child : child_fd0, &p->lfd);
	cr_assert_gt(p->pid, 0, "cannot start %s", path);
	close(p->lfd);
}

static void prog_start(struct prog *p, const char *name, void (*in_child)(void *))
{
	prog_start_arg(p, name, in_child, NULL);
}

static void prog_stop(struct prog *p)
{
	if (p->pid > 0)
		harness_stop_pid(p->pid, SIGKILL);
	p->pid = 0;
}

static void setup(void)
{
	cr_assert_eq(harness_make_dir(dir, sizeof(dir)), 0);
	chmod(dir, 0755);
}

static void teardown(void)
{
	harness_remove_dir(dir);
}

/* ---- Byte-identical through nginx --------------------------------------- */

static struct prog lib, ours;
static struct nginx_proc np;

#define LOCATIONS \
	"client_max_body_size 20m;\n" \
	"location /l/ { include /etc/nginx/fastcgi_params; fastcgi_pass unix:%s; }\n" \
	"location /s/ { include /etc/nginx/fastcgi_params; fastcgi_pass sluice;\n" \
	"  fastcgi_keep_conn on; }\n"

static void start_pair(const char *name, const char *arg)
{
	char prog[64], locs[1024];

	setup();
	snprintf(prog, sizeof(prog), "%s-libfcgi", name);
	prog_start_arg(&lib, prog, NULL, arg);
	snprintf(prog, sizeof(prog), "%s-sluice", name);
	prog_start_arg(&ours, prog, NULL, arg);
	snprintf(locs, sizeof(locs), LOCATIONS, lib.sock);
	cr_assert_eq(harness_nginx_start(&np, ours.sock, locs), 0, "nginx did not start");
}

static void stop_pair(void)
{
	harness_nginx_stop(&np);
	prog_stop(&lib);
	prog_stop(&ours);
	teardown();
}

/* `method` `uri` to both programs through nginx: the replies must be the same bytes. */
static void same(const char *method, const char *uri, const char *body, size_t len,
		 const char *const *headers, long want_status)
{
	struct http_reply a, b;
	char url[512];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/l%s", np.port, uri);
	cr_assert_eq(http_request(method, url, body, len, headers, &a), 0, "%s %s: no reply", method, url);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/s%s", np.port, uri);
	cr_assert_eq(http_request(method, url, body, len, headers, &b), 0, "%s %s: no reply", method, url);
	cr_expect_eq(a.status, want_status, "%s %s: libfcgi answered %ld", method, uri, a.status);
	cr_expect_eq(b.status, a.status, "%s %s: status %ld, libfcgi's %ld", method, uri,
		     b.status, a.status);
	cr_expect_eq(b.body_len, a.body_len, "%s %s: %zu bytes, libfcgi's %zu", method, uri,
		     b.body_len, a.body_len);
	cr_expect(a.body_len == b.body_len && memcmp(a.body, b.body, a.body_len) == 0,
		  "%s %s: the bodies differ:\n%.300s\n----\n%.300s", method, uri, a.body, b.body);
	cr_expect_eq(harness_has_header_line(b.headers, "Content-Type: text/plain"),
		     harness_has_header_line(a.headers, "Content-Type: text/plain"));
	http_reply_free(&a);
	http_reply_free(&b);
}

static void same_set(void)
{
	static const size_t sizes[] = { 0, 1, 4095, 65536, 1000000, 10u << 20 };
	const char *hdrs[80];
	char names[64][48];
	char *body;
	size_t i;

	same("GET", "/echo?a=1&b=two", NULL, 0, NULL, 200);
	same("GET", "/env?names=REQUEST_METHOD,QUERY_STRING,NOPE", NULL, 0, NULL, 200);
	same("GET", "/stderr?n=5", NULL, 0, NULL, 200);
	same("GET", "/exit?code=7", NULL, 0, NULL, 200);
	same("GET", "/big?n=1000000", NULL, 0, NULL, 200);
	same("GET", "/nothing-here", NULL, 0, NULL, 404);
	for (i = 0; i < 64; i++) {
		snprintf(names[i], sizeof(names[i]), "X-Param-%02zu: value %zu", i, i * 7);
		hdrs[i] = names[i];
	}
	hdrs[64] = NULL;
	same("GET", "/echo", NULL, 0, hdrs, 200);
	body = malloc(10u << 20);
	cr_assert_not_null(body);
	for (i = 0; i < (10u << 20); i++)
		body[i] = (char)(i % 61 == 60 ? '\n' : 'a' + i % 26);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		same("POST", "/echo", body, sizes[i], NULL, 200);
	same("POST", "/lines", body, 5000, NULL, 200);
	free(body);
}

Test(fcgi2_lib, stdio_same_bytes_through_nginx, .init = NULL, .timeout = 120)
{
	start_pair("stdio_app", NULL);
	same_set();
	stop_pair();
}

Test(fcgi2_lib, fcgx_same_bytes_through_nginx, .timeout = 120)
{
	start_pair("fcgx_app", NULL);
	same_set();
	stop_pair();
}

/*
 * fcgi2's threaded.c shape: 4 threads, each its own request, one accept
 * lock.  Besides the same bytes, 8 requests of 300 ms through nginx's
 * kept-alive upstream, 4 at a time, must run 4 at a time (one after
 * another they take 2.4 s): no thread waits on a kept connection while
 * holding the lock.
 */
Test(fcgi2_lib, threaded_same_bytes_through_nginx, .timeout = 120)
{
	struct load l;
	struct load_opts o = { .method = "GET", .clients = 4, .duration_ms = 10000,
			       .max_requests = 8, .timeout_ms = 10000 };
	char url[256], summary[512];
	long long t0;

	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
	start_pair("fcgx_app", "4");
	same_set();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/s/sleep?ms=300", np.port);
	o.url = url;
	t0 = harness_now_us();
	cr_assert_eq(load_start(&l, &o), 0);
	load_wait(&l);
	cr_expect_eq(l.n, 8, "%ld requests ran, not 8", l.n);
	cr_expect_eq(load_failed(&l), 0, "%s", load_summary(&l, summary, sizeof(summary)));
	cr_expect_lt(harness_now_us() - t0, 1800000, "8 requests of 300 ms took %lld ms on 4 threads",
		     (harness_now_us() - t0) / 1000);
	load_free(&l);
	stop_pair();
}

/* ---- Raw FastCGI ------------------------------------------------------- */

/* GET `uri` on a new connection with `flags`: what came back. */
static void raw_get(struct fcgi_conn *c, const char *sock, const char *uri, unsigned flags,
		    struct fcgi_resp *rs)
{
	struct fcgi_buf req = { 0 }, params = { 0 };

	if (c->fd <= 0)
		cr_assert_eq(fcgi_client_open(c, sock), 0, "cannot connect to %s", sock);
	fcgi_client_params(&params, "GET", uri, NULL);
	fcgi_client_request(&req, 1, flags, &params, NULL, 0);
	cr_assert_eq(fcgi_client_send(c, req.p, req.len), 0);
	fcgi_client_read_response(c, 1, rs, WAIT_MS);
	fcgi_client_buf_free(&req);
	fcgi_client_buf_free(&params);
}

static int says(const struct fcgi_resp *rs, const char *text)
{
	return rs->out.len > 0 && memmem(rs->out.p, rs->out.len, text, strlen(text)) != NULL;
}

Test(fcgi2_lib, exit_status_reaches_end_request)
{
	static const char *const names[] = { "stdio_app-libfcgi", "stdio_app-sluice",
					     "fcgx_app-libfcgi", "fcgx_app-sluice" };

	setup();
	for (size_t i = 0; i < 4; i++) {
		struct prog p;
		struct fcgi_conn c = { .fd = -1 };
		struct fcgi_resp rs;

		prog_start(&p, names[i], NULL);
		cr_assert_eq(harness_wait_socket(p.pid, p.sock), 0);
		raw_get(&c, p.sock, "/exit?code=7", 0, &rs);
		cr_expect_eq(rs.end, FC_R_END, "%s: no END_REQUEST (%d); its log: %s", names[i],
			     rs.end, harness_read_file(p.log));
		cr_expect_eq(rs.app_status, 7u, "%s: appStatus %u, not 7", names[i], rs.app_status);
		fcgi_client_resp_free(&rs);
		fcgi_client_close(&c);
		prog_stop(&p);
	}
	teardown();
}

/*
 * The three inputs that kill libfcgi 2.4.2 (Debian 12's 2.4.2-2+deb12u1):
 * a pair whose two lengths add up past INT_MAX (its Malloc asserts), and
 * a GET_VALUES repeating a name 3000 times before a request (its answer
 * overruns a stack buffer: SIGSEGV).
 */
static void bad_params(struct fcgi_buf *b, size_t name_len, size_t value_len)
{
	struct fcgi_buf pairs = { 0 };

	fcgi_client_begin(b, 1, FC_RESPONDER, 0);
	fcgi_client_len(&pairs, name_len, 1);
	fcgi_client_len(&pairs, value_len, value_len >= 128);
	fcgi_client_buf_str(&pairs, "REQUEST_METHODGET");
	fcgi_client_record(b, FC_PARAMS, 1, pairs.p, pairs.len);
	fcgi_client_record(b, FC_PARAMS, 1, NULL, 0);
	fcgi_client_record(b, FC_STDIN, 1, NULL, 0);
	fcgi_client_buf_free(&pairs);
}

static void bad_get_values(struct fcgi_buf *b)
{
	struct fcgi_buf pairs = { 0 };

	for (int i = 0; i < 3000; i++)
		fcgi_client_pair(&pairs, "FCGI_MAX_CONNS", "");
	fcgi_client_record(b, FC_GET_VALUES, 0, pairs.p, pairs.len);
	fcgi_client_begin(b, 1, FC_RESPONDER, 0);
	fcgi_client_record(b, FC_PARAMS, 1, NULL, 0);
	fcgi_client_record(b, FC_STDIN, 1, NULL, 0);
	fcgi_client_buf_free(&pairs);
}

static void bad_input(int which, struct fcgi_buf *b)
{
	if (which == 0)
		bad_params(b, 0x7ffffffe, 1);
	else if (which == 1)
		bad_params(b, 0x40000000, 0x40000000);
	else
		bad_get_values(b);
}

static const char *const bad_names[] = { "PARAMS lengths 0x7ffffffe and 1",
					 "PARAMS lengths 0x40000000 and 0x40000000",
					 "GET_VALUES x3000" };

/* Send bad input `which` to `p`; how its connection ended. */
static int send_bad(struct prog *p, int which, struct fcgi_resp *rs)
{
	struct fcgi_conn c = { .fd = -1 };
	struct fcgi_buf b = { 0 };

	cr_assert_eq(fcgi_client_open(&c, p->sock), 0);
	bad_input(which, &b);
	fcgi_client_send(&c, b.p, b.len);
	fcgi_client_read_response(&c, 1, rs, 3000);
	fcgi_client_buf_free(&b);
	fcgi_client_close(&c);
	return rs->end;
}

Test(fcgi2_lib, malformed_input_kills_libfcgi, .timeout = 60)
{
	setup();
	for (int which = 0; which < 3; which++) {
		struct prog p;
		struct fcgi_resp rs;
		int st;

		prog_start(&p, "fcgx_app-libfcgi", NULL);
		cr_assert_eq(harness_wait_socket(p.pid, p.sock), 0);
		send_bad(&p, which, &rs);
		fcgi_client_resp_free(&rs);
		st = harness_wait_exit(p.pid, 3000);
		cr_expect_neq(st, -1, "%s: the libfcgi build survived it (the test cannot fail)",
			      bad_names[which]);
		if (st != -1)
			p.pid = 0;
		prog_stop(&p);
	}
	teardown();
}

Test(fcgi2_lib, malformed_input_never_kills_ours, .timeout = 60)
{
	static const char *const names[] = { "fcgx_app-sluice", "stdio_app-sluice" };

	setup();
	for (int n = 0; n < 2; n++) {
		struct prog p;

		prog_start(&p, names[n], NULL);
		cr_assert_eq(harness_wait_socket(p.pid, p.sock), 0);
		for (int which = 0; which < 3; which++) {
			struct fcgi_conn c = { .fd = -1 };
			struct fcgi_resp rs;
			int end = send_bad(&p, which, &rs);

			cr_expect(end == FC_R_END || end == FC_R_CLOSED,
				  "%s, %s: neither answered nor closed (%d)", names[n],
				  bad_names[which], end);
			if (which < 2)
				cr_expect(says(&rs, "Status: 400"), "%s, %s: no 400", names[n],
					  bad_names[which]);
			else
				cr_expect(rs.nother == 1 && rs.other[0].type == FC_GET_VALUES_RESULT &&
					  rs.other[0].clen == 17 && says(&rs, "Status: 404"),
					  "%s: not one GET_VALUES_RESULT of one pair, then the "
					  "request's 404", names[n]);
			fcgi_client_resp_free(&rs);
			cr_expect_eq(harness_proc_gone(p.pid), 0, "%s died on %s", names[n],
				     bad_names[which]);
			raw_get(&c, p.sock, "/env?names=REQUEST_METHOD", 0, &rs);
			cr_expect(rs.end == FC_R_END && says(&rs, "REQUEST_METHOD=GET"),
				  "%s: the next request after %s was not served", names[n],
				  bad_names[which]);
			fcgi_client_resp_free(&rs);
			fcgi_client_close(&c);
		}
		prog_stop(&p);
	}
	teardown();
}

/*
 * One process, one idle kept-alive connection: a second connection is
 * still served at once by sluice-fcgi (libfcgi would wait for the first
 * to close), and the idle one is closed after its deadline.
 */
Test(fcgi2_lib, keep_alive_does_not_pin, .timeout = 60)
{
	struct fcgi_conn a = { .fd = -1 }, b = { .fd = -1 };
	struct fcgi_resp rs;
	struct prog p;
	long t0;

	setup();
	prog_start(&p, "fcgx_app-sluice", NULL);
	cr_assert_eq(harness_wait_socket(p.pid, p.sock), 0);
	raw_get(&a, p.sock, "/pid", FC_KEEP_CONN, &rs);
	cr_assert_eq(rs.end, FC_R_END);
	fcgi_client_resp_free(&rs);
	t0 = harness_now_ms();
	raw_get(&b, p.sock, "/pid", 0, &rs);
	cr_expect_eq(rs.end, FC_R_END, "a second connection was not served while one idles");
	cr_expect_lt(harness_now_ms() - t0, 2000, "the second connection waited %ld ms",
		     harness_now_ms() - t0);
	fcgi_client_resp_free(&rs);
	cr_expect_eq(fcgi_client_fill(&a, 2000), 0, "the idle kept connection was not closed");
	fcgi_client_close(&a);
	fcgi_client_close(&b);
	prog_stop(&p);
	teardown();
}

Test(fcgi2_lib, idle_kept_connection_closed_after_deadline, .timeout = 60)
{
	struct fcgi_conn a = { .fd = -1 };
	struct fcgi_resp rs;
	struct prog p;
	long t0;

	setup();
	prog_start(&p, "fcgx_app-sluice", idle_env);
	cr_assert_eq(harness_wait_socket(p.pid, p.sock), 0);
	raw_get(&a, p.sock, "/sleep?ms=600", FC_KEEP_CONN, &rs);
	cr_expect_eq(rs.end, FC_R_END, "a request longer than the idle deadline was cut");
	fcgi_client_resp_free(&rs);
	raw_get(&a, p.sock, "/pid", FC_KEEP_CONN, &rs);
	cr_expect_eq(rs.end, FC_R_END, "the kept connection did not carry a second request");
	fcgi_client_resp_free(&rs);
	t0 = harness_now_ms();
	cr_expect_eq(fcgi_client_fill(&a, 3000), 0, "the idle connection stayed open");
	cr_expect_lt(harness_now_ms() - t0, 1500);
	fcgi_client_close(&a);
	prog_stop(&p);
	teardown();
}

/* ---- CGI fallback -------------------------------------------------------- */

static char *run_cgi(const char *name)
{
	char cmd[1024], out[256];

	snprintf(out, sizeof(out), "%s/%s.cgi", dir, name);
	snprintf(cmd, sizeof(cmd),
		 "printf 'line one\\nline two\\n' | env -i REQUEST_METHOD=POST CONTENT_LENGTH=18 "
		 "QUERY_STRING=q=1 SCRIPT_NAME=/cgi/echo HTTP_X_TEST=yes %s/fcgi2/%s >%s 2>&1",
		 BUILD_DIR, name, out);
	cr_assert_eq(system(cmd), 0, "%s as CGI did not exit 0", name);
	return harness_read_file(out);
}

Test(fcgi2_lib, cgi_fallback_runs_once)
{
	char *a, *b;

	setup();
	a = run_cgi("stdio_app-libfcgi");
	b = run_cgi("stdio_app-sluice");
	cr_expect(strstr(b, "HTTP_X_TEST=yes\n") && strstr(b, "line one\nline two\n") &&
		  strstr(b, "body 18 bytes"), "CGI output: %s", b);
	cr_expect_str_eq(b, a, "CGI output differs from libfcgi's");
	free(a);
	free(b);
	teardown();
}
