/*
 * fcgi_wire.c - sluice's FastCGI responder seen from the web server's
 * side of the socket.
 *
 * A tiny FastCGI client (tests/fcgi_client.c), built byte by byte so
 * that it can also send what no web server would, talks to the real
 * sluice binary over its unix socket.  Every test starts its own sluice
 * with one worker (pm static, max_children 1) serving apps/echo.so,
 * which answers with the request it got as JSON, so what the codec
 * decoded shows in the response.
 *
 * The first half checks the protocol as the FastCGI 1.0 specification
 * describes it: records, streams, keep-conn, management records, roles,
 * aborts and multiplexing refusals.  The second half sends malformed
 * and hostile input; each case may cost its own connection but never
 * the worker: afterwards the same worker pid must answer a fresh
 * request, and the error log must hold one line that says what was
 * wrong.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fcgi_client.h"
#include "harness.h"
#include "table.h"

/* Milliseconds a well-behaved exchange may take on a loaded test box. */
#define REPLY_MS	2000

#define LIMITS_SMALL \
	"limits = { max_params_bytes = 1024; max_params = 8; " \
	"max_body_bytes = 4096; read_timeout = 1; idle_timeout = 1; };"

static struct sluice_proc sp;

/* ---- Requests ---------------------------------------------------------- */

/*
 * What nginx's fastcgi_params send for `method /wire?x=1`, minus the
 * connection details; CONTENT_LENGTH only when `clen` is not NULL.
 * Seven pairs: the small limits below allow eight.
 */
static void std_params(struct fcgi_buf *pb, const char *method, const char *clen)
{
	fcgi_client_params(pb, method, "/wire?x=1", clen);
}

/*
 * A whole request the way nginx sends it (fcgi_client_request), with
 * std_params.  A body makes it a POST with CONTENT_LENGTH.
 */
static void put_request(struct fcgi_buf *b, unsigned id, unsigned flags,
			const char *body, size_t body_len)
{
	struct fcgi_buf pb = { 0 };
	char clen[32];

	snprintf(clen, sizeof(clen), "%zu", body_len);
	std_params(&pb, body ? "POST" : "GET", body ? clen : NULL);
	fcgi_client_request(b, id, flags, &pb, body, body_len);
	fcgi_client_buf_free(&pb);
}

/* ---- The connection ---------------------------------------------------- */

static void conn_open(struct fcgi_conn *c)
{
	cr_assert_eq(fcgi_client_open(c, sp.sock), 0, "connect %s: %s", sp.sock,
		     strerror(errno));
}

static void conn_send_buf(struct fcgi_conn *c, const struct fcgi_buf *b)
{
	cr_assert_eq(fcgi_client_send(c, b->p, b->len), 0,
		     "sluice stopped reading a well-formed request");
}

/* ---- Responses --------------------------------------------------------- */

static const char *end_name(int end)
{
	switch (end) {
	case FC_R_END:		return "END_REQUEST received";
	case FC_R_CLOSED:	return "connection closed before END_REQUEST";
	case FC_R_TORN:		return "connection closed inside a record";
	default:		return "nothing more within the time limit";
	}
}

/* A one-line account of a response, for assertion messages. */
static const char *describe(const struct fcgi_resp *rs)
{
	static char text[512];
	int n = snprintf(text, sizeof(text), "%s; %d STDOUT records (%zu bytes: \"%.*s\"); "
			 "%d other records", end_name(rs->end), rs->nstdout, rs->out.len,
			 (int)(rs->out.len < 120 ? rs->out.len : 120),
			 rs->out.p ? (const char *)rs->out.p : "", rs->nother);

	for (int i = 0; i < rs->nother && i < FC_MAX_OTHER && n < (int)sizeof(text) - 40; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, " [type %u id %u len %zu]",
			      rs->other[i].type, rs->other[i].id, rs->other[i].clen);
	return text;
}

/* The status code of the CGI response head ("Status: NNN ..."), or -1. */
static int resp_code(const struct fcgi_resp *rs)
{
	if (rs->out.len < 11 || memcmp(rs->out.p, "Status: ", 8) != 0)
		return -1;
	for (int i = 8; i < 11; i++)
		if (!isdigit(rs->out.p[i]))
			return -1;
	return (rs->out.p[8] - '0') * 100 + (rs->out.p[9] - '0') * 10 + (rs->out.p[10] - '0');
}

/* 1 if the response's STDOUT content holds `s`. */
static int resp_has(const struct fcgi_resp *rs, const char *s)
{
	return rs->out.len > 0 && memmem(rs->out.p, rs->out.len, s, strlen(s)) != NULL;
}

/*
 * A complete, successful response for `id`: STDOUT that starts with
 * "Status: 200 OK\r\n" and has a blank line after its head, the empty
 * STDOUT, then END_REQUEST (8 bytes, REQUEST_COMPLETE), nothing else.
 */
static void assert_ok(const struct fcgi_resp *rs, unsigned id)
{
	cr_assert_eq(rs->end, FC_R_END, "request %u: %s", id, describe(rs));
	cr_assert_eq(rs->bad_version, 0, "a record with a version byte other than 1");
	cr_assert_eq(rs->end_clen, 8, "END_REQUEST content is %zu bytes, not 8", rs->end_clen);
	cr_assert_eq(rs->proto_status, FC_COMPLETE, "protocolStatus %d: %s",
		     rs->proto_status, describe(rs));
	cr_assert(rs->stdout_ended, "END_REQUEST came without the empty STDOUT: %s",
		  describe(rs));
	cr_assert_eq(rs->stdout_after_end, 0, "STDOUT content after the empty STDOUT");
	cr_assert_eq(rs->nother, 0, "unexpected records: %s", describe(rs));
	cr_assert(rs->out.len >= 16 && memcmp(rs->out.p, "Status: 200 OK\r\n", 16) == 0,
		  "response does not start with \"Status: 200 OK\\r\\n\": %s", describe(rs));
	cr_assert_not_null(memmem(rs->out.p, rs->out.len, "\r\n\r\n", 4),
			   "no blank line after the response head: %s", describe(rs));
}

/*
 * The request was refused: either a complete response with status
 * `code` (and no 2xx), or the connection closed with no response bytes,
 * or with a partial response that carries `code`.
 */
static void assert_refused(const struct fcgi_resp *rs, const char *what, int code)
{
	if (rs->end == FC_R_END) {
		cr_assert_eq(rs->proto_status, FC_COMPLETE, "%s: %s", what, describe(rs));
		cr_assert_eq(resp_code(rs), code, "%s: expected status %d: %s",
			     what, code, describe(rs));
		cr_assert(rs->stdout_ended, "%s: END_REQUEST without the empty STDOUT", what);
		return;
	}
	cr_assert_eq(rs->end, FC_R_CLOSED, "%s: expected %d or a close: %s",
		     what, code, describe(rs));
	if (rs->out.len > 0)
		cr_assert_eq(resp_code(rs), code, "%s: expected %d or a close: %s",
			     what, code, describe(rs));
}

/* After a response without keep-conn the next read returns 0 (EOF). */
static void assert_closed(struct fcgi_conn *c, int ms)
{
	struct fcgi_resp rs;

	fcgi_client_read_response(c, FC_NO_REQUEST, &rs, ms);
	cr_assert_eq(rs.end, FC_R_CLOSED, "connection not closed: %s", describe(&rs));
	cr_assert_eq(rs.nother, 0, "records before the close: %s", describe(&rs));
	fcgi_client_resp_free(&rs);
}

/* Nothing arrives and the connection stays open for `ms`. */
static void assert_open_quiet(struct fcgi_conn *c, int ms)
{
	int k = fcgi_client_fill(c, ms);

	cr_assert_neq(k, 0, "sluice closed a connection it should have kept");
	cr_assert_eq(k, -1, "sluice sent bytes nobody asked for");
}

/* One request on `c`; its response must be a complete 200. */
static void exchange_ok(struct fcgi_conn *c, unsigned id, unsigned flags, const char *body)
{
	struct fcgi_buf b = { 0 };
	struct fcgi_resp rs;

	put_request(&b, id, flags, body, body ? strlen(body) : 0);
	conn_send_buf(c, &b);
	fcgi_client_read_response(c, id, &rs, REPLY_MS);
	assert_ok(&rs, id);
	if (body != NULL) {
		char want[256];

		snprintf(want, sizeof(want), "\"body\":\"%s\"}", body);
		cr_assert(resp_has(&rs, want), "echo lacks %s: %s", want, describe(&rs));
	}
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
}

/* ---- The server under test --------------------------------------------- */

static void start_sluice(const char *app, const char *limits)
{
	char cwd[PATH_MAX], body[2 * PATH_MAX];
	const char *sep = BUILD_DIR[0] == '/' ? "" : "/";

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(body, sizeof(body),
		 "modules = ( { path = \"%s%s%s/apps/%s.so\"; mount = \"/\"; } );\n"
		 "pm = { mode = \"static\"; max_children = 1; };\n%s\n",
		 BUILD_DIR[0] == '/' ? "" : cwd, sep, BUILD_DIR, app, limits);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
}

static void setup_echo(void)
{
	start_sluice("echo", "");
}

static void setup_hello(void)
{
	start_sluice("hello", "");
}

static void setup_small(void)
{
	start_sluice("echo", LIMITS_SMALL);
}

/* A stalled request is cut by read_timeout, an idle connection by idle_timeout. */
static void setup_read_timeout(void)
{
	start_sluice("echo", "limits = { read_timeout = 1; idle_timeout = 5; };");
}

static void setup_idle_timeout(void)
{
	start_sluice("echo", "limits = { read_timeout = 5; idle_timeout = 1; };");
}

static void teardown(void)
{
	harness_sluice_stop(&sp);
}

/* The pool's one worker, waiting up to 3 s for the master to have exactly one. */
static pid_t the_worker(void)
{
	pid_t kids[8];
	long deadline = harness_now_ms() + 3000;
	int n;

	while ((n = harness_children(sp.pid, kids, 8, 0)) != 1 && harness_now_ms() < deadline)
		usleep(20000);
	cr_assert_eq(n, 1, "the sluice master (pid %d) has %d live children, not its one worker",
		     (int)sp.pid, n);
	return kids[0];
}

/* Lines of the error log that contain `needle`. */
static int log_count(const char *needle)
{
	char *log = harness_sluice_log(&sp);
	int n = 0;

	for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n"))
		if (strstr(line, needle) != NULL)
			n++;
	free(log);
	return n;
}

/* Exactly one line of the error log (within 2 s) contains `needle`. */
static void assert_logged_once(const char *needle)
{
	if (harness_log_wait(&sp, needle, REPLY_MS) != 0) {
		char *log = harness_sluice_log(&sp);

		cr_assert_fail("no line with \"%s\" in the error log:\n%s", needle, log);
	}
	cr_assert_eq(log_count(needle), 1, "more than one line with \"%s\" in the error log",
		     needle);
}

/*
 * The worker that was there before the hostile input is still the one
 * serving: a fresh connection gets a complete 200 and the pool's only
 * child is still `worker`.
 */
static void assert_worker_serves(pid_t worker, const char *what)
{
	struct fcgi_conn c;
	pid_t now;

	conn_open(&c);
	exchange_ok(&c, 1, 0, "still here");
	fcgi_client_close(&c);
	now = the_worker();
	cr_assert_eq(now, worker, "after %s, the worker was replaced (pid %d before, %d now)",
		     what, (int)worker, (int)now);
}

/* Survival after `what`, plus the log line: what every malformed case ends with. */
static void assert_survived(pid_t worker, const char *what, const char *needle)
{
	assert_worker_serves(worker, what);
	if (needle != NULL)
		assert_logged_once(needle);
}

/* ---- Well-formed requests ---------------------------------------------- */

Test(fcgi_wire, params_in_one_record, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	struct fcgi_conn c;
	struct fcgi_resp rs;
	struct fcgi_buf b = { 0 };

	conn_open(&c);
	put_request(&b, 1, 0, "ping", 4);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	assert_ok(&rs, 1);
	cr_assert(resp_has(&rs, "\"method\":\"POST\""), "%s", describe(&rs));
	cr_assert(resp_has(&rs, "\"REQUEST_URI\":\"/wire?x=1\""), "%s", describe(&rs));
	cr_assert(resp_has(&rs, "\"body\":\"ping\"}\n"), "%s", describe(&rs));
	assert_closed(&c, REPLY_MS);
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_close(&c);
}

Test(fcgi_wire, hello_answers_200, .init = setup_hello, .fini = teardown, .timeout = 10)
{
	struct fcgi_conn c;
	struct fcgi_resp rs;
	struct fcgi_buf b = { 0 };

	conn_open(&c);
	put_request(&b, 1, 0, NULL, 0);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	assert_ok(&rs, 1);
	cr_assert(resp_has(&rs, "\r\n\r\nHello from sluice!\n"), "%s", describe(&rs));
	assert_closed(&c, REPLY_MS);
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_close(&c);
}

/* `method` with CONTENT_LENGTH `clen` (NULL: none) on a fresh connection. */
static void method_exchange(const char *method, const char *clen, struct fcgi_resp *rs)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;

	std_params(&pb, method, clen);
	fcgi_client_request(&b, 1, 0, &pb, NULL, 0);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, rs, REPLY_MS);
	cr_assert_eq(rs->end, FC_R_END, "%s: %s", method, describe(rs));
	fcgi_client_close(&c);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
}

/* The response head's Content-Length, -1 without one; *body_len: what follows the head. */
static long long head_length(const struct fcgi_resp *rs, size_t *body_len)
{
	const unsigned char *end = memmem(rs->out.p, rs->out.len, "\r\n\r\n", 4);
	const unsigned char *cl;

	cr_assert_not_null(end, "no blank line after the response head: %s", describe(rs));
	*body_len = rs->out.len - (size_t)(end + 4 - rs->out.p);
	cl = memmem(rs->out.p, (size_t)(end + 2 - rs->out.p), "\r\nContent-Length: ", 18);
	return cl ? strtoll((const char *)cl + 18, NULL, 10) : -1;
}

/*
 * RFC 9110 section 9.3.2: HEAD gets the header fields GET would get,
 * Content-Length included, and no content.  `clen` makes the request
 * refused (an error response) rather than served.
 */
static void assert_head_like_get(const char *clen)
{
	struct fcgi_resp get, head;
	size_t get_body, head_body;
	long long get_len, head_len;

	method_exchange("GET", clen, &get);
	method_exchange("HEAD", clen, &head);
	get_len = head_length(&get, &get_body);
	head_len = head_length(&head, &head_body);
	cr_assert_eq(resp_code(&head), resp_code(&get), "HEAD %s, GET %s", describe(&head),
		     describe(&get));
	cr_assert(get_len > 0 && (size_t)get_len == get_body, "GET: %s", describe(&get));
	cr_assert_eq(head_len, get_len, "HEAD says Content-Length %lld, GET %lld: %s",
		     head_len, get_len, describe(&head));
	cr_assert_eq(head_body, 0, "HEAD response with content: %s", describe(&head));
	fcgi_client_resp_free(&get);
	fcgi_client_resp_free(&head);
}

Test(fcgi_wire, head_has_the_length_get_has, .init = setup_hello, .fini = teardown,
     .timeout = 10)
{
	assert_head_like_get(NULL);
}

Test(fcgi_wire, refused_head_has_the_length_get_has, .init = setup_hello, .fini = teardown,
     .timeout = 10)
{
	assert_head_like_get("12abc");
}

/*
 * The PARAMS stream cut into records of `chunk` bytes, so that lengths,
 * names and values are split across records everywhere; a 200-byte value
 * brings in the 4-byte length form.  The body is split the same way.
 */
static void split_request(unsigned chunk)
{
	char longval[201], want[260];
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;

	memset(longval, 'v', 200);
	longval[200] = '\0';
	std_params(&pb, "POST", "11");
	fcgi_client_pair(&pb, "HTTP_X_LONG", longval);
	fcgi_client_begin(&b, 1, FC_RESPONDER, 0);
	fcgi_client_stream(&b, FC_PARAMS, 1, pb.p, pb.len, chunk);
	fcgi_client_stream(&b, FC_STDIN, 1, "hello world", 11, chunk);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	assert_ok(&rs, 1);
	snprintf(want, sizeof(want), "\"HTTP_X_LONG\":\"%s\"", longval);
	cr_assert(resp_has(&rs, want), "the split long pair did not arrive whole: %s",
		  describe(&rs));
	cr_assert(resp_has(&rs, "\"SERVER_PROTOCOL\":\"HTTP/1.1\""), "%s", describe(&rs));
	cr_assert(resp_has(&rs, "\"body\":\"hello world\"}"), "%s", describe(&rs));
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
	fcgi_client_close(&c);
}

Test(fcgi_wire, params_over_many_records, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	split_request(3);
}

Test(fcgi_wire, params_one_byte_per_record, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	split_request(1);
}

Test(fcgi_wire, get_with_empty_stdin, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	struct fcgi_conn c;
	struct fcgi_resp rs;
	struct fcgi_buf b = { 0 };

	conn_open(&c);
	put_request(&b, 1, 0, NULL, 0);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	assert_ok(&rs, 1);
	cr_assert(resp_has(&rs, "\"method\":\"GET\""), "%s", describe(&rs));
	cr_assert(resp_has(&rs, "\"body\":\"\"}"), "%s", describe(&rs));
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_close(&c);
}

/* Section 3.4 lets a sender use the 4-byte form for any length. */
Test(fcgi_wire, long_length_form_for_short_pair, .init = setup_echo, .fini = teardown,
     .timeout = 10)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;

	fcgi_client_len(&pb, strlen("REQUEST_METHOD"), 1);
	fcgi_client_len(&pb, strlen("PUT"), 1);
	fcgi_client_buf_str(&pb, "REQUEST_METHODPUT");
	fcgi_client_pair(&pb, "REQUEST_URI", "/wire");
	fcgi_client_pair(&pb, "DOCUMENT_URI", "/wire");
	fcgi_client_pair(&pb, "SCRIPT_NAME", "/wire");
	fcgi_client_len(&pb, strlen("HTTP_X_SHORT"), 1);
	fcgi_client_len(&pb, 1, 0);
	fcgi_client_buf_str(&pb, "HTTP_X_SHORTs");
	fcgi_client_begin(&b, 1, FC_RESPONDER, 0);
	fcgi_client_stream(&b, FC_PARAMS, 1, pb.p, pb.len, 65535);
	fcgi_client_stream(&b, FC_STDIN, 1, NULL, 0, 1);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	assert_ok(&rs, 1);
	cr_assert(resp_has(&rs, "\"method\":\"PUT\""), "%s", describe(&rs));
	cr_assert(resp_has(&rs, "\"HTTP_X_SHORT\":\"s\""), "%s", describe(&rs));
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
	fcgi_client_close(&c);
}

/*
 * Pairs are made C strings where they arrive (fcgi.c's decode_params):
 * each name moves into its own length bytes and each value ends on the
 * next pair's first length byte.  Every edge of that: empty names and
 * values, 4-byte lengths, one-letter names, a value ending the stream,
 * on one kept connection twice, so that the second request decodes into
 * the buffer the first one's strings were in.
 */
static void put_edge_pairs(struct fcgi_buf *pb, const char *round)
{
	char big[300];

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = round[0];
	fcgi_client_params(pb, "GET", "/wire", NULL);
	fcgi_client_pair(pb, "HTTP_X_EMPTY", "");
	fcgi_client_pair(pb, "", "nameless");
	fcgi_client_pair(pb, "Z", round);
	fcgi_client_len(pb, strlen("HTTP_X_LONG"), 1);
	fcgi_client_len(pb, strlen(round), 1);
	fcgi_client_buf_str(pb, "HTTP_X_LONG");
	fcgi_client_buf_str(pb, round);
	fcgi_client_pair(pb, "HTTP_X_BIG", big);
	/* Names either side of terminate_name's moves (8 to 16, 17 to 32). */
	fcgi_client_pair(pb, "HTTP_X7", round);
	fcgi_client_pair(pb, "HTTP_X_8", round);
	fcgi_client_pair(pb, "HTTP_X_SIXTEEN_1", round);
	fcgi_client_pair(pb, "HTTP_X_SEVENTEEN1", round);
	fcgi_client_pair(pb, "HTTP_X_THIRTY_ONE_BYTES_NAME_31", round);
	fcgi_client_pair(pb, "HTTP_X_THIRTY_TWO_BYTES_NAME__32", round);
	fcgi_client_pair(pb, "HTTP_X_THIRTY_THREE_BYTES_NAME_33", round);
	fcgi_client_pair(pb, "", "");
	fcgi_client_pair(pb, "HTTP_X_LAST", round);
}

static void assert_edge_pairs(const struct fcgi_resp *rs, const char *round)
{
	char want[400];

	assert_ok(rs, 1);
	cr_assert(resp_has(rs, "\"HTTP_X_EMPTY\":\"\","), "%s", describe(rs));
	cr_assert(resp_has(rs, "\"\":\"nameless\""), "%s", describe(rs));
	cr_assert(resp_has(rs, "\"\":\"\""), "%s", describe(rs));
	snprintf(want, sizeof(want), "\"Z\":\"%s\"", round);
	cr_assert(resp_has(rs, want), "%s", describe(rs));
	snprintf(want, sizeof(want), "\"HTTP_X_LONG\":\"%s\"", round);
	cr_assert(resp_has(rs, want), "%s", describe(rs));
	for (size_t i = 0; i < 7; i++) {
		static const char *const names[] = { "HTTP_X7", "HTTP_X_8", "HTTP_X_SIXTEEN_1",
						     "HTTP_X_SEVENTEEN1",
						     "HTTP_X_THIRTY_ONE_BYTES_NAME_31",
						     "HTTP_X_THIRTY_TWO_BYTES_NAME__32",
						     "HTTP_X_THIRTY_THREE_BYTES_NAME_33" };

		snprintf(want, sizeof(want), "\"%s\":\"%s\"", names[i], round);
		cr_assert(resp_has(rs, want), "%s", describe(rs));
	}
	snprintf(want, sizeof(want), "\"HTTP_X_LAST\":\"%s\"}", round);
	cr_assert(resp_has(rs, want), "%s", describe(rs));
	snprintf(want, sizeof(want), "\"HTTP_X_BIG\":\"%c%0298d\"", round[0], 0);
	memset(want + 15, 'b', 298);
	cr_assert(resp_has(rs, want), "%s", describe(rs));
}

Test(fcgi_wire, pairs_decoded_in_place_keep_every_edge, .init = setup_echo,
     .fini = teardown, .timeout = 10)
{
	static const char *const rounds[] = { "first", "2nd" };
	struct fcgi_conn c;

	conn_open(&c);
	for (size_t i = 0; i < 2; i++) {
		struct fcgi_buf b = { 0 }, pb = { 0 };
		struct fcgi_resp rs;

		put_edge_pairs(&pb, rounds[i]);
		fcgi_client_request(&b, 1, FC_KEEP_CONN, &pb, NULL, 0);
		conn_send_buf(&c, &b);
		fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
		assert_edge_pairs(&rs, rounds[i]);
		fcgi_client_resp_free(&rs);
		fcgi_client_buf_free(&b);
		fcgi_client_buf_free(&pb);
	}
	fcgi_client_close(&c);
}

/*
 * A whole response up to 1 KiB leaves as one copied piece (fcgi.c's
 * send_small), a larger one as a vector: responses either side of that
 * size, on one kept connection, each framed whole (records read back where
 * their headers say, padding included) and with
 * every byte of the body in place.
 */
Test(fcgi_wire, responses_either_side_of_one_piece, .init = setup_echo, .fini = teardown,
     .timeout = 20)
{
	struct fcgi_conn c;
	char body[1200], want[1300];

	conn_open(&c);
	for (size_t len = 700; len <= 1100; len += 13) {
		struct fcgi_buf b = { 0 }, pb = { 0 };
		struct fcgi_resp rs;
		char clen[16];

		for (size_t i = 0; i < len; i++)
			body[i] = (char)('a' + (i + len) % 26);
		snprintf(clen, sizeof(clen), "%zu", len);
		fcgi_client_params(&pb, "POST", "/wire", clen);
		fcgi_client_request(&b, 1, FC_KEEP_CONN, &pb, body, len);
		conn_send_buf(&c, &b);
		fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
		assert_ok(&rs, 1);
		snprintf(want, sizeof(want), "\"body\":\"%.*s\"}\n", (int)len, body);
		cr_assert(rs.out.len >= strlen(want) &&
			  memcmp(rs.out.p + rs.out.len - strlen(want), want, strlen(want)) == 0,
			  "a %zu-byte body did not come back whole: %s", len, describe(&rs));
		fcgi_client_resp_free(&rs);
		fcgi_client_buf_free(&b);
		fcgi_client_buf_free(&pb);
	}
	fcgi_client_close(&c);
}

/*
 * A 150 000-byte body (STDIN records of 32 KiB, as nginx sends) comes
 * back in several STDOUT records, in order, all for request 1.
 */
Test(fcgi_wire, large_body_spans_stdout_records, .init = setup_echo, .fini = teardown,
     .timeout = 10)
{
	size_t n = 150000;
	char *body = malloc(n + 1);
	struct fcgi_buf b = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;

	cr_assert_not_null(body);
	for (size_t i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	body[n] = '\0';
	put_request(&b, 1, 0, body, n);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, &rs, 5000);
	assert_ok(&rs, 1);
	cr_assert_geq(rs.nstdout, 3, "150 kB in %d STDOUT records", rs.nstdout);
	cr_assert_not_null(memmem(rs.out.p, rs.out.len, body, n),
			   "the body did not come back whole and in order");
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	free(body);
	fcgi_client_close(&c);
}

/*
 * A body small enough to be gathered before the handler starts, whose
 * STDIN records come in pieces cut inside a header, inside content and
 * inside padding (nginx's 64 KiB body ends one read inside its second
 * record): the handler gets it whole and in order, and the kept
 * connection then serves the next request.
 */
Test(fcgi_wire, gathered_body_in_pieces_arrives_whole, .init = setup_echo, .fini = teardown,
     .timeout = 15)
{
	size_t n = 40000, half = 24000, head, cuts[6];
	char *body = malloc(n), clen[32];
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;
	size_t from = 0;

	cr_assert_not_null(body);
	for (size_t i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	snprintf(clen, sizeof(clen), "%zu", n);
	std_params(&pb, "POST", clen);
	fcgi_client_begin(&b, 1, FC_RESPONDER, FC_KEEP_CONN);
	fcgi_client_stream(&b, FC_PARAMS, 1, pb.p, pb.len, 65535);
	head = b.len;
	fcgi_client_record_pad(&b, FC_STDIN, 1, body, half, 200);
	fcgi_client_record_pad(&b, FC_STDIN, 1, body + half, n - half, 7);
	fcgi_client_record(&b, FC_STDIN, 1, NULL, 0);
	cuts[0] = head + 3;			/* inside the first header */
	cuts[1] = head + 8 + 1000;		/* inside its content */
	cuts[2] = head + 8 + half + 100;	/* inside its padding */
	cuts[3] = head + 8 + half + 200 + 5;	/* inside the second header */
	cuts[4] = b.len - 8 - 4;		/* inside the second's padding */
	cuts[5] = b.len;
	conn_open(&c);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(fcgi_client_send(&c, b.p + from, cuts[i] - from), 0,
			     "sluice stopped reading a well-formed request");
		from = cuts[i];
		usleep(30000);	/* each piece is a read of its own */
	}
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	assert_ok(&rs, 1);
	cr_assert_not_null(memmem(rs.out.p, rs.out.len, body, n),
			   "the body did not come back whole and in order");
	exchange_ok(&c, 2, FC_KEEP_CONN, "next");
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
	free(body);
	fcgi_client_close(&c);
}

/*
 * A body that comes whole with its head (as nginx sends one it holds in
 * memory) is left in the read buffer for the handler.  A handler that
 * never reads it must not leave it to be taken for the next request on
 * a kept connection, nor be reset on a closing one before its answer is
 * read.
 */
static void send_unread_body(struct fcgi_conn *c, unsigned id, unsigned flags, size_t n)
{
	char *body = malloc(n);
	struct fcgi_buf b = { 0 };
	struct fcgi_resp rs;

	cr_assert_not_null(body);
	memset(body, 'x', n);
	put_request(&b, id, flags, body, n);
	conn_send_buf(c, &b);
	fcgi_client_read_response(c, id, &rs, REPLY_MS);
	assert_ok(&rs, id);
	cr_assert(resp_has(&rs, "Hello"), "%s", describe(&rs));
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	free(body);
}

Test(fcgi_wire, unread_body_whole_with_its_head_is_skipped, .init = setup_hello,
     .fini = teardown, .timeout = 10)
{
	struct fcgi_conn c;

	conn_open(&c);
	send_unread_body(&c, 1, FC_KEEP_CONN, 60000);
	exchange_ok(&c, 2, FC_KEEP_CONN, NULL);
	send_unread_body(&c, 3, FC_KEEP_CONN, 100);
	exchange_ok(&c, 4, FC_KEEP_CONN, NULL);
	send_unread_body(&c, 5, 0, 60000);
	assert_closed(&c, REPLY_MS);
	fcgi_client_close(&c);
}

Test(fcgi_wire, keep_conn_serves_requests_in_sequence, .init = setup_echo, .fini = teardown,
     .timeout = 10)
{
	struct fcgi_conn c;

	conn_open(&c);
	exchange_ok(&c, 1, FC_KEEP_CONN, "first");
	exchange_ok(&c, 2, FC_KEEP_CONN, "second");
	exchange_ok(&c, 1, FC_KEEP_CONN, "third");
	assert_open_quiet(&c, 300);
	exchange_ok(&c, 1, 0, "last");
	assert_closed(&c, REPLY_MS);
	fcgi_client_close(&c);
}

Test(fcgi_wire, without_keep_conn_closes_after_end_request, .init = setup_echo,
     .fini = teardown, .timeout = 10)
{
	struct fcgi_conn c;
	struct fcgi_buf b = { 0 };

	conn_open(&c);
	exchange_ok(&c, 1, 0, NULL);
	assert_closed(&c, REPLY_MS);
	/* Bytes after END_REQUEST are not served: the connection is gone. */
	put_request(&b, 2, 0, NULL, 0);
	fcgi_client_send(&c, b.p, b.len);
	assert_closed(&c, 500);
	fcgi_client_buf_free(&b);
	fcgi_client_close(&c);
}

static void request_with_id(unsigned id)
{
	struct fcgi_conn c;

	conn_open(&c);
	exchange_ok(&c, id, 0, "id");
	assert_closed(&c, REPLY_MS);
	fcgi_client_close(&c);
}

Test(fcgi_wire, request_id_7, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	request_with_id(7);
}

Test(fcgi_wire, request_id_65535, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	request_with_id(65535);
}

/* Section 5.1: only the RESPONDER role; others end with UNKNOWN_ROLE at once. */
Test(fcgi_wire, authorizer_role_unknown, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	struct fcgi_conn c;
	struct fcgi_resp rs;
	struct fcgi_buf b = { 0 };

	fcgi_client_begin(&b, 1, FC_AUTHORIZER, 0);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	cr_assert_eq(rs.end, FC_R_END, "%s", describe(&rs));
	cr_assert_eq(rs.end_clen, 8);
	cr_assert_eq(rs.proto_status, FC_UNKNOWN_ROLE, "protocolStatus %d", rs.proto_status);
	cr_assert_eq(rs.nstdout + rs.stdout_ended + rs.nother, 0, "%s", describe(&rs));
	assert_closed(&c, REPLY_MS);
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_close(&c);
}

Test(fcgi_wire, filter_role_unknown_keeps_conn, .init = setup_echo, .fini = teardown,
     .timeout = 10)
{
	struct fcgi_conn c;
	struct fcgi_resp rs;
	struct fcgi_buf b = { 0 };

	fcgi_client_begin(&b, 3, FC_FILTER, FC_KEEP_CONN);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 3, &rs, REPLY_MS);
	cr_assert_eq(rs.end, FC_R_END, "%s", describe(&rs));
	cr_assert_eq(rs.proto_status, FC_UNKNOWN_ROLE, "protocolStatus %d", rs.proto_status);
	cr_assert_eq(rs.nstdout + rs.stdout_ended + rs.nother, 0, "%s", describe(&rs));
	exchange_ok(&c, 4, 0, "after filter");
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_close(&c);
}

/* ---- Management records ------------------------------------------------ */

/* Send GET_VALUES for `names` and return the result's pairs as "NAME=value;...". */
static void get_values(struct fcgi_conn *c, const char *const *names, char *result, size_t len)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_rec *r = malloc(sizeof(*r));
	const unsigned char *p, *end;
	size_t used = 0;

	cr_assert_not_null(r);
	for (; *names != NULL; names++)
		fcgi_client_pair(&pb, *names, "");
	fcgi_client_record(&b, FC_GET_VALUES, 0, pb.p, pb.len);
	conn_send_buf(c, &b);
	cr_assert_eq(fcgi_client_read_record(c, r, REPLY_MS), FC_R_END, "no answer to GET_VALUES");
	cr_assert_eq(r->version, 1);
	cr_assert_eq(r->type, FC_GET_VALUES_RESULT, "record type %u, not GET_VALUES_RESULT",
		     r->type);
	cr_assert_eq(r->id, 0, "GET_VALUES_RESULT with request id %u", r->id);
	result[0] = '\0';
	p = r->c;
	end = r->c + r->clen;
	while (p < end) {
		size_t nlen, vlen;

		cr_assert(*p < 0x80 && p + 1 < end && p[1] < 0x80,
			  "GET_VALUES_RESULT pair lengths not in the 1-byte form");
		nlen = p[0];
		vlen = p[1];
		p += 2;
		cr_assert_leq(nlen + vlen, (size_t)(end - p), "GET_VALUES_RESULT pair overruns");
		used += (size_t)snprintf(result + used, len - used, "%.*s=%.*s;", (int)nlen,
					 (const char *)p, (int)vlen, (const char *)p + nlen);
		cr_assert_lt(used, len);
		p += nlen + vlen;
	}
	free(r);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
}

/* The value of `name` in a get_values result; asserts it appears exactly once. */
static void value_of(const char *result, const char *name, char *value, size_t len)
{
	char key[64];
	const char *hit, *stop;

	snprintf(key, sizeof(key), "%s=", name);
	hit = strstr(result, key);
	cr_assert_not_null(hit, "%s missing from GET_VALUES_RESULT \"%s\"", name, result);
	cr_assert_null(strstr(hit + 1, key), "%s twice in \"%s\"", name, result);
	hit += strlen(key);
	stop = strchr(hit, ';');
	snprintf(value, len, "%.*s", (int)(stop - hit), hit);
}

static void assert_count(const char *result, int want)
{
	int n = 0;

	for (const char *s = result; *s != '\0'; s++)
		n += *s == ';';
	cr_assert_eq(n, want, "%d pairs in GET_VALUES_RESULT \"%s\", expected %d",
		     n, result, want);
}

static void assert_positive_number(const char *what, const char *v)
{
	cr_assert(v[0] >= '1' && v[0] <= '9' && strspn(v, "0123456789") == strlen(v),
		  "%s is \"%s\", not a positive decimal number", what, v);
}

static void check_all_values(struct fcgi_conn *c)
{
	static const char *const names[] = { "FCGI_MAX_CONNS", "FCGI_MAX_REQS",
					     "FCGI_MPXS_CONNS", "FCGI_NO_SUCH_VARIABLE", NULL };
	char result[512], v[64];

	get_values(c, names, result, sizeof(result));
	assert_count(result, 3);
	value_of(result, "FCGI_MPXS_CONNS", v, sizeof(v));
	cr_assert_str_eq(v, "0");
	value_of(result, "FCGI_MAX_CONNS", v, sizeof(v));
	assert_positive_number("FCGI_MAX_CONNS", v);
	value_of(result, "FCGI_MAX_REQS", v, sizeof(v));
	assert_positive_number("FCGI_MAX_REQS", v);
	cr_assert_null(strstr(result, "FCGI_NO_SUCH_VARIABLE"));
}

Test(fcgi_wire, get_values_known_names_only, .init = setup_echo, .fini = teardown,
     .timeout = 10)
{
	struct fcgi_conn c;

	conn_open(&c);
	check_all_values(&c);
	assert_open_quiet(&c, 200);	/* one GET_VALUES_RESULT, nothing after */
	exchange_ok(&c, 1, 0, "after get_values");
	fcgi_client_close(&c);
}

Test(fcgi_wire, get_values_one_name, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	static const char *const names[] = { "FCGI_MPXS_CONNS", NULL };
	char result[512];
	struct fcgi_conn c;

	conn_open(&c);
	get_values(&c, names, result, sizeof(result));
	cr_assert_str_eq(result, "FCGI_MPXS_CONNS=0;");
	assert_open_quiet(&c, 200);
	fcgi_client_close(&c);
}

Test(fcgi_wire, get_values_between_kept_requests, .init = setup_echo, .fini = teardown,
     .timeout = 10)
{
	struct fcgi_conn c;

	conn_open(&c);
	exchange_ok(&c, 1, FC_KEEP_CONN, "one");
	check_all_values(&c);
	exchange_ok(&c, 1, FC_KEEP_CONN, "two");
	check_all_values(&c);
	fcgi_client_close(&c);
}

/* Section 4.2: an unknown management record type gets UNKNOWN_TYPE. */
Test(fcgi_wire, unknown_type_answered, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	static const unsigned char want[8] = { 99, 0, 0, 0, 0, 0, 0, 0 };
	struct fcgi_buf b = { 0 };
	struct fcgi_rec *r = malloc(sizeof(*r));
	struct fcgi_conn c;

	cr_assert_not_null(r);
	fcgi_client_record(&b, 99, 0, "whatever", 8);
	fcgi_client_record(&b, 200, 0, NULL, 0);
	conn_open(&c);
	conn_send_buf(&c, &b);
	cr_assert_eq(fcgi_client_read_record(&c, r, REPLY_MS), FC_R_END,
		     "no answer to record type 99");
	cr_assert_eq(r->type, FC_UNKNOWN_TYPE, "record type %u, not UNKNOWN_TYPE", r->type);
	cr_assert_eq(r->id, 0);
	cr_assert_eq(r->clen, 8, "UNKNOWN_TYPE body of %zu bytes", r->clen);
	cr_assert_arr_eq(r->c, want, 8, "UNKNOWN_TYPE body is not {99, 0 x 7}");
	cr_assert_eq(fcgi_client_read_record(&c, r, REPLY_MS), FC_R_END,
		     "no answer to record type 200");
	cr_assert_eq(r->type, FC_UNKNOWN_TYPE);
	cr_assert_eq(r->clen, 8);
	cr_assert_eq(r->c[0], 200);
	exchange_ok(&c, 1, 0, "still usable");
	free(r);
	fcgi_client_buf_free(&b);
	fcgi_client_close(&c);
}

/* ---- Aborts and multiplexing ------------------------------------------- */

Test(fcgi_wire, abort_during_params, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;
	pid_t worker = the_worker();

	std_params(&pb, "GET", NULL);
	fcgi_client_begin(&b, 5, FC_RESPONDER, 0);
	fcgi_client_record(&b, FC_PARAMS, 5, pb.p, pb.len / 2);
	fcgi_client_record(&b, FC_ABORT, 5, NULL, 0);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 5, &rs, REPLY_MS);
	cr_assert_eq(rs.end, FC_R_END, "no END_REQUEST after ABORT_REQUEST: %s", describe(&rs));
	cr_assert_eq(rs.proto_status, FC_COMPLETE);
	cr_assert_eq(rs.nstdout + rs.nother, 0, "%s", describe(&rs));
	assert_closed(&c, REPLY_MS);
	fcgi_client_close(&c);
	assert_worker_serves(worker, "an abort during PARAMS");
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
}

/* An abort while the handler reads the body still ends the request. */
Test(fcgi_wire, abort_during_body, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;
	pid_t worker = the_worker();

	std_params(&pb, "POST", "100");
	fcgi_client_begin(&b, 2, FC_RESPONDER, 0);
	fcgi_client_stream(&b, FC_PARAMS, 2, pb.p, pb.len, 65535);
	fcgi_client_record(&b, FC_STDIN, 2, "0123456789", 10);
	fcgi_client_record(&b, FC_ABORT, 2, NULL, 0);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 2, &rs, REPLY_MS);
	cr_assert_eq(rs.end, FC_R_END, "no END_REQUEST after ABORT_REQUEST: %s", describe(&rs));
	cr_assert_eq(rs.proto_status, FC_COMPLETE);
	cr_assert(!resp_has(&rs, "Status: 200"), "aborted request answered 200: %s",
		  describe(&rs));
	fcgi_client_close(&c);
	assert_worker_serves(worker, "an abort during the body");
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
}

/* Section 5.5: a second request on a busy connection gets CANT_MPX_CONN. */
Test(fcgi_wire, second_begin_during_params_cant_mpx, .init = setup_echo, .fini = teardown,
     .timeout = 10)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;
	size_t half;

	std_params(&pb, "POST", "4");
	half = pb.len / 2;
	fcgi_client_begin(&b, 1, FC_RESPONDER, 0);
	fcgi_client_record(&b, FC_PARAMS, 1, pb.p, half);
	fcgi_client_begin(&b, 2, FC_RESPONDER, 0);
	fcgi_client_record(&b, FC_PARAMS, 1, pb.p + half, pb.len - half);
	fcgi_client_record(&b, FC_PARAMS, 1, NULL, 0);
	fcgi_client_stream(&b, FC_STDIN, 1, "mpx!", 4, 65535);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	cr_assert_eq(rs.nother, 1, "expected one END_REQUEST for id 2: %s", describe(&rs));
	cr_assert_eq(rs.other[0].type, FC_END);
	cr_assert_eq(rs.other[0].id, 2);
	cr_assert_eq(rs.other[0].clen, 8);
	cr_assert_eq(rs.other[0].c[4], FC_CANT_MPX, "protocolStatus %u for id 2",
		     rs.other[0].c[4]);
	rs.nother = 0;
	assert_ok(&rs, 1);
	cr_assert(resp_has(&rs, "\"body\":\"mpx!\"}"), "%s", describe(&rs));
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
	fcgi_client_close(&c);
}

Test(fcgi_wire, second_begin_during_body_cant_mpx, .init = setup_echo, .fini = teardown,
     .timeout = 10)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;

	std_params(&pb, "POST", "8");
	fcgi_client_begin(&b, 9, FC_RESPONDER, 0);
	fcgi_client_stream(&b, FC_PARAMS, 9, pb.p, pb.len, 65535);
	fcgi_client_record(&b, FC_STDIN, 9, "body", 4);
	fcgi_client_begin(&b, 10, FC_RESPONDER, 0);
	fcgi_client_stream(&b, FC_STDIN, 9, "more", 4, 65535);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 9, &rs, REPLY_MS);
	cr_assert_eq(rs.nother, 1, "expected one END_REQUEST for id 10: %s", describe(&rs));
	cr_assert_eq(rs.other[0].type, FC_END);
	cr_assert_eq(rs.other[0].id, 10);
	cr_assert_eq(rs.other[0].c[4], FC_CANT_MPX);
	rs.nother = 0;
	assert_ok(&rs, 9);
	cr_assert(resp_has(&rs, "\"body\":\"bodymore\"}"), "%s", describe(&rs));
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
	fcgi_client_close(&c);
}

/*
 * A web server that multiplexes anyway (section 3.3): request 2 is
 * begun, refused with CANT_MPX_CONN, and its own records and aborts
 * (for 2, and for 7, never begun) arrive amid request 1's.  They are
 * ignored: request 1 is served whole, and the kept connection then
 * serves request 3.
 */
static void assert_refused_id_ignored(const struct fcgi_buf *b, const char *body)
{
	struct fcgi_conn c;
	struct fcgi_resp rs;
	char want[64];

	conn_open(&c);
	conn_send_buf(&c, b);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	cr_assert_eq(rs.nother, 1, "expected one END_REQUEST for id 2: %s", describe(&rs));
	cr_assert_eq(rs.other[0].type, FC_END, "%s", describe(&rs));
	cr_assert_eq(rs.other[0].id, 2, "%s", describe(&rs));
	cr_assert_eq(rs.other[0].c[4], FC_CANT_MPX, "protocolStatus %u for id 2",
		     rs.other[0].c[4]);
	rs.nother = 0;
	assert_ok(&rs, 1);
	snprintf(want, sizeof(want), "\"body\":\"%s\"}", body);
	cr_assert(resp_has(&rs, want), "echo lacks %s: %s", want, describe(&rs));
	exchange_ok(&c, 3, FC_KEEP_CONN, "later");
	fcgi_client_resp_free(&rs);
	fcgi_client_close(&c);
}

/* Request 2's whole request, as a multiplexing web server sends it. */
static void put_refused_request_2(struct fcgi_buf *b)
{
	struct fcgi_buf pb = { 0 };

	std_params(&pb, "POST", "3");
	fcgi_client_begin(b, 2, FC_RESPONDER, FC_KEEP_CONN);
	fcgi_client_stream(b, FC_PARAMS, 2, pb.p, pb.len, 65535);
	fcgi_client_record(b, FC_STDIN, 2, "two", 3);
	fcgi_client_buf_free(&pb);
}

/* Request 2 and its records arrive while request 1's PARAMS still do. */
Test(fcgi_wire, refused_id_records_ignored_during_params, .init = setup_echo,
     .fini = teardown, .timeout = 15)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	size_t half;

	std_params(&pb, "POST", "3");
	half = pb.len / 2;
	fcgi_client_begin(&b, 1, FC_RESPONDER, FC_KEEP_CONN);
	fcgi_client_record(&b, FC_PARAMS, 1, pb.p, half);
	put_refused_request_2(&b);
	fcgi_client_record(&b, FC_PARAMS, 1, pb.p + half, pb.len - half);
	fcgi_client_record(&b, FC_ABORT, 2, NULL, 0);
	fcgi_client_record(&b, FC_PARAMS, 1, NULL, 0);
	fcgi_client_record(&b, FC_STDIN, 2, NULL, 0);
	fcgi_client_record(&b, FC_ABORT, 7, NULL, 0);
	fcgi_client_stream(&b, FC_STDIN, 1, "one", 3, 65535);
	assert_refused_id_ignored(&b, "one");
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
}

/* Request 2 and its records arrive amid request 1's body. */
static void refused_id_during_body(void)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };

	std_params(&pb, "POST", "7");
	fcgi_client_begin(&b, 1, FC_RESPONDER, FC_KEEP_CONN);
	fcgi_client_stream(&b, FC_PARAMS, 1, pb.p, pb.len, 65535);
	fcgi_client_record(&b, FC_STDIN, 1, "one", 3);
	put_refused_request_2(&b);
	fcgi_client_record(&b, FC_ABORT, 7, NULL, 0);
	fcgi_client_record(&b, FC_STDIN, 1, "+one", 4);
	fcgi_client_record(&b, FC_STDIN, 2, NULL, 0);
	fcgi_client_record(&b, FC_ABORT, 2, NULL, 0);
	fcgi_client_record(&b, FC_STDIN, 1, NULL, 0);
	assert_refused_id_ignored(&b, "one+one");
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
}

/* The body gathered before the handler starts (limits.body_buffer_size). */
Test(fcgi_wire, refused_id_records_ignored_while_gathering, .init = setup_echo,
     .fini = teardown, .timeout = 15)
{
	refused_id_during_body();
}

/* The body streamed to the handler as it reads (fcgi_read_body). */
static void setup_streaming(void)
{
	start_sluice("echo", "limits = { body_buffer_size = 0; };");
}

Test(fcgi_wire, refused_id_records_ignored_while_streaming, .init = setup_streaming,
     .fini = teardown, .timeout = 15)
{
	refused_id_during_body();
}

/* Padding of 255 bytes (the most a header can announce) on every record. */
Test(fcgi_wire, padding_255_accepted, .init = setup_echo, .fini = teardown, .timeout = 10)
{
	unsigned char begin[8] = { 0, FC_RESPONDER, 0, 0, 0, 0, 0, 0 };
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;
	struct fcgi_resp rs;

	std_params(&pb, "POST", "3");
	fcgi_client_record_pad(&b, FC_BEGIN, 1, begin, 8, 255);
	fcgi_client_record_pad(&b, FC_PARAMS, 1, pb.p, pb.len, 255);
	fcgi_client_record_pad(&b, FC_PARAMS, 1, NULL, 0, 255);
	fcgi_client_record_pad(&b, FC_STDIN, 1, "pad", 3, 255);
	fcgi_client_record_pad(&b, FC_STDIN, 1, NULL, 0, 255);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	assert_ok(&rs, 1);
	cr_assert(resp_has(&rs, "\"body\":\"pad\"}"), "%s", describe(&rs));
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
	fcgi_client_close(&c);
}

/* ---- Malformed input: each costs at most its own connection ------------ */

/*
 * Send `b` on a fresh connection and collect what comes back for
 * request `id` until END_REQUEST or the close.
 */
static void send_hostile(const struct fcgi_buf *b, unsigned id, struct fcgi_resp *rs)
{
	struct fcgi_conn c;

	conn_open(&c);
	fcgi_client_send(&c, b->p, b->len);	/* sluice may close before all is sent */
	fcgi_client_read_response(&c, id, rs, REPLY_MS);
	fcgi_client_close(&c);
}

/* What sluice answers to a malformed request, from saying nothing to a whole response. */
enum reply {
	DROPPED,	/* a connection-level error: closed, with nothing sent back */
	IGNORED,	/* a stray record: no reply; closed or left open */
	REFUSED,	/* a response with `status`, or a close (a partial one carries `status`) */
	ANSWERED,	/* a whole response with `status`, without waiting for more input */
	ANSWERED_4XX,	/* a whole response with a 4xx status */
};

/* The outcome a malformed case must have: the reply, and the one log line that says why. */
struct outcome {
	enum reply reply;
	int status;		/* for REFUSED and ANSWERED */
	const char *logged;	/* what the one log line holds */
};

static void assert_reply(const char *what, const struct fcgi_resp *rs, const struct outcome *o)
{
	int code;

	switch (o->reply) {
	case DROPPED:
		cr_assert_eq(rs->end, FC_R_CLOSED, "%s: expected the connection closed: %s",
			     what, describe(rs));
		cr_assert_eq(rs->nother + rs->nstdout, 0, "%s: expected no reply: %s", what,
			     describe(rs));
		break;
	case IGNORED:
		cr_assert(rs->end == FC_R_CLOSED || rs->end == FC_R_TIMEOUT, "%s: %s", what,
			  describe(rs));
		cr_assert_eq(rs->nstdout + rs->stdout_ended + rs->nother, 0,
			     "%s: a reply to a stray record: %s", what, describe(rs));
		break;
	case ANSWERED:
		cr_assert_eq(rs->end, FC_R_END, "%s: %d expected without waiting for more: %s",
			     what, o->status, describe(rs));
		/* fall through */
	case REFUSED:
		cr_assert(!resp_has(rs, "Status: 200"), "%s: served: %s", what, describe(rs));
		assert_refused(rs, what, o->status);
		break;
	case ANSWERED_4XX:
		cr_assert_eq(rs->end, FC_R_END, "%s: %s", what, describe(rs));
		code = resp_code(rs);
		cr_assert(code >= 400 && code <= 499, "%s: status %d: %s", what, code,
			  describe(rs));
		break;
	}
}

/*
 * One malformed case: `b` sent on a fresh connection, replies read for
 * request `id`, then the outcome, the log line and the same worker
 * serving a fresh request.
 */
static void run_malformed(const char *what, const struct fcgi_buf *b, unsigned id,
			  const struct outcome *o)
{
	struct fcgi_resp rs;
	pid_t worker = the_worker();

	send_hostile(b, id, &rs);
	assert_reply(what, &rs, o);
	assert_survived(worker, what, o->logged);
	fcgi_client_resp_free(&rs);
}

/* A request whose PARAMS stream holds `params`, both streams ended properly. */
static void put_params_request(struct fcgi_buf *b, const struct fcgi_buf *params, size_t chunk)
{
	fcgi_client_begin(b, 1, FC_RESPONDER, 0);
	fcgi_client_stream(b, FC_PARAMS, 1, params->p, params->len, chunk);
	fcgi_client_stream(b, FC_STDIN, 1, NULL, 0, 1);
}

/* ---- Malformed records and pairs: one table ---------------------------- */

struct malformed;
typedef void (*malformed_build_fn)(struct fcgi_buf *b, const struct malformed *m);

struct malformed {
	const char *name;
	malformed_build_fn build;
	const char *bytes;	/* the PARAMS content, for the builders that take bytes */
	size_t len;		/* its length */
	unsigned arg;		/* a record type or length, for the builders that take one */
	unsigned id;		/* the request id a reply would carry */
	struct outcome want;
};

/* BEGIN_REQUEST with version byte 2. */
static void build_version_2(struct fcgi_buf *b, const struct malformed *m)
{
	unsigned char body[8] = { 0, FC_RESPONDER, 0, 0, 0, 0, 0, 0 };

	(void)m;
	fcgi_client_header(b, 2, FC_BEGIN, 1, 8, 0);
	fcgi_client_buf_add(b, body, 8);
}

/* A request whose PARAMS content is `m->bytes`, as they are. */
static void build_params(struct fcgi_buf *b, const struct malformed *m)
{
	struct fcgi_buf pb = { 0 };

	fcgi_client_buf_add(&pb, m->bytes, m->len);
	put_params_request(b, &pb, 65535);
	fcgi_client_buf_free(&pb);
}

/* std_params, then `m->bytes`. */
static void build_std_params_and(struct fcgi_buf *b, const struct malformed *m)
{
	struct fcgi_buf pb = { 0 };

	std_params(&pb, "GET", NULL);
	fcgi_client_buf_add(&pb, m->bytes, m->len);
	put_params_request(b, &pb, 65535);
	fcgi_client_buf_free(&pb);
}

/* std_params and a 1500-byte value, in PARAMS records of 512 bytes. */
static void build_big_param(struct fcgi_buf *b, const struct malformed *m)
{
	struct fcgi_buf pb = { 0 };
	char big[1501];

	(void)m;
	memset(big, 'p', 1500);
	big[1500] = '\0';
	std_params(&pb, "GET", NULL);
	fcgi_client_pair(&pb, "HTTP_X_BIG", big);
	put_params_request(b, &pb, 512);
	fcgi_client_buf_free(&pb);
}

/* std_params' seven pairs and five more. */
static void build_many_params(struct fcgi_buf *b, const struct malformed *m)
{
	struct fcgi_buf pb = { 0 };

	(void)m;
	std_params(&pb, "GET", NULL);
	for (int i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "HTTP_X_%d", i);
		fcgi_client_pair(&pb, name, "v");
	}
	put_params_request(b, &pb, 65535);
	fcgi_client_buf_free(&pb);
}

/* No CONTENT_LENGTH (a chunked upload passed through) and 16 KiB of body. */
static void build_undeclared_body(struct fcgi_buf *b, const struct malformed *m)
{
	struct fcgi_buf pb = { 0 };
	char chunk[1024];

	(void)m;
	memset(chunk, 'b', sizeof(chunk));
	std_params(&pb, "POST", NULL);
	fcgi_client_begin(b, 1, FC_RESPONDER, 0);
	fcgi_client_stream(b, FC_PARAMS, 1, pb.p, pb.len, 65535);
	for (int i = 0; i < 16; i++)
		fcgi_client_record(b, FC_STDIN, 1, chunk, sizeof(chunk));
	fcgi_client_record(b, FC_STDIN, 1, NULL, 0);
	fcgi_client_buf_free(&pb);
}

/* STDIN before any BEGIN_REQUEST. */
static void build_stdin_first(struct fcgi_buf *b, const struct malformed *m)
{
	(void)m;
	fcgi_client_record(b, FC_STDIN, 1, "early", 5);
}

/* Request 1 begun, and PARAMS for request 5 as well. */
static void build_params_for_id_5(struct fcgi_buf *b, const struct malformed *m)
{
	struct fcgi_buf pb = { 0 };

	(void)m;
	std_params(&pb, "GET", NULL);
	fcgi_client_begin(b, 1, FC_RESPONDER, 0);
	fcgi_client_record(b, FC_PARAMS, 1, pb.p, pb.len);
	fcgi_client_record(b, FC_PARAMS, 5, pb.p, pb.len);
	fcgi_client_buf_free(&pb);
}

/* A BEGIN_REQUEST body of `m->arg` bytes, then a whole request. */
static void build_begin_of_length(struct fcgi_buf *b, const struct malformed *m)
{
	unsigned char body[16] = { 0, FC_RESPONDER, 0 };
	struct fcgi_buf pb = { 0 };

	std_params(&pb, "GET", NULL);
	fcgi_client_record(b, FC_BEGIN, 1, body, m->arg);
	fcgi_client_stream(b, FC_PARAMS, 1, pb.p, pb.len, 65535);
	fcgi_client_stream(b, FC_STDIN, 1, NULL, 0, 1);
	fcgi_client_buf_free(&pb);
}

/* A record of type `m->arg`, which only an application sends, amid a request. */
static void build_app_record(struct fcgi_buf *b, const struct malformed *m)
{
	unsigned char end_body[8] = { 0 };
	struct fcgi_buf pb = { 0 };

	std_params(&pb, "GET", NULL);
	fcgi_client_begin(b, 1, FC_RESPONDER, 0);
	fcgi_client_record(b, FC_PARAMS, 1, pb.p, pb.len);
	if (m->arg == FC_END)
		fcgi_client_record(b, FC_END, 1, end_body, 8);
	else
		fcgi_client_record(b, m->arg, 1, "Status: 200 OK\r\n\r\n", 18);
	fcgi_client_record(b, FC_PARAMS, 1, NULL, 0);
	fcgi_client_stream(b, FC_STDIN, 1, NULL, 0, 1);
	fcgi_client_buf_free(&pb);
}

/* No parameters at all, so no REQUEST_METHOD. */
static void build_empty_params(struct fcgi_buf *b, const struct malformed *m)
{
	(void)m;
	fcgi_client_begin(b, 1, FC_RESPONDER, 0);
	fcgi_client_record(b, FC_PARAMS, 1, NULL, 0);
	fcgi_client_record(b, FC_STDIN, 1, NULL, 0);
}

/* A string literal and its length, NULs inside included. */
#define BYTES(s)	(s), sizeof(s) - 1

/* REQUEST_METHOD=GET, the well-formed pair before each malformed one. */
#define GET_PAIR	"\x0e\x03" "REQUEST_METHOD" "GET"

#define BAD_PAIR	{ REFUSED, 400, "malformed name-value pair" }
#define NUL_IN_PARAM	{ ANSWERED, 400, "a parameter holds a NUL byte" }

static const struct malformed malformed_cases[] = {
	{ "bad_version_byte", build_version_2, NULL, 0, 0, 1,
	  { DROPPED, 0, "record version 2" } },

	/* PARAMS streams, ended properly, whose pairs overrun them. */
	{ "pair_name_overruns_1byte_length", build_params,	/* 100 bytes, 5 there */
	  BYTES(GET_PAIR "\x64" "\x01" "SHORT"), 0, 1, BAD_PAIR },
	{ "pair_name_overruns_4byte_length", build_params,	/* 300 in 4 bytes */
	  BYTES(GET_PAIR "\x80\x00\x01\x2c" "\x02" "ONLY_A_FEW_BYTES"), 0, 1, BAD_PAIR },
	{ "pair_name_length_0x7fffffff", build_params,
	  BYTES(GET_PAIR "\xff\xff\xff\xff" "\x01" "XY"), 0, 1, BAD_PAIR },
	{ "pair_lengths_overflow_when_added", build_params,	/* sum past 32 bits */
	  BYTES(GET_PAIR "\xff\xff\xff\xff" "\xff\xff\xff\xff" "AB"), 0, 1, BAD_PAIR },
	{ "pair_value_length_wraps", build_params,	/* 4 + 0x7ffffffd = 2^31 + 1 */
	  BYTES(GET_PAIR "\x04" "\xff\xff\xff\xfd" "NAMEvalue"), 0, 1, BAD_PAIR },
	{ "pair_length_truncated", build_params,	/* a 4-byte length cut off */
	  BYTES(GET_PAIR "\x80\x00"), 0, 1, BAD_PAIR },

	/*
	 * A NUL inside a name or value would let two readers see two
	 * different parameters ("CONTENT_LENGTH\0x" is CONTENT_LENGTH
	 * to strcmp): refused with 400, for names and values alike.
	 */
	{ "nul_in_a_parameter_name", build_std_params_and,
	  BYTES("\x10" "\x01" "CONTENT_LENGTH\0x" "5"), 0, 1, NUL_IN_PARAM },
	{ "nul_in_a_parameter_value", build_std_params_and,
	  BYTES("\x0c" "\x03" "HTTP_X_THING" "a\0b"), 0, 1, NUL_IN_PARAM },
	/* NULs in length bytes are fine, and the search goes on past them. */
	{ "nul_in_a_value_after_an_empty_one", build_std_params_and,
	  BYTES("\x0c" "\x00" "HTTP_X_EMPTY" "\x0c" "\x03" "HTTP_X_THING" "a\0b"), 0, 1,
	  NUL_IN_PARAM },
	{ "nul_ending_the_last_value", build_std_params_and,
	  BYTES("\x0c" "\x03" "HTTP_X_THING" "ab\0"), 0, 1, NUL_IN_PARAM },
	{ "nul_starting_a_name_after_4_byte_length", build_std_params_and,
	  BYTES("\x80\x00\x00\x0c" "\x01" "\0TTP_X_THING" "v"), 0, 1, NUL_IN_PARAM },

	{ "params_over_max_params_bytes", build_big_param, NULL, 0, 0, 1,
	  { REFUSED, 431, "exceed limits.max_params_bytes (1024)" } },
	{ "more_than_max_params", build_many_params, NULL, 0, 0, 1,
	  { REFUSED, 431, "more than limits.max_params (8)" } },
	{ "undeclared_body_over_max_body_bytes", build_undeclared_body, NULL, 0, 0, 1,
	  { REFUSED, 413, "request body exceeds limits.max_body_bytes (4096)" } },

	/*
	 * Records for a request id that is not active: section 3.3 has
	 * the application ignore them.  Nothing is answered for that id,
	 * and nothing logged, since a peer could send them without end.
	 */
	{ "stdin_before_begin", build_stdin_first, NULL, 0, 0, 1,
	  { IGNORED, 0, NULL } },
	{ "params_for_inactive_id", build_params_for_id_5, NULL, 0, 0, 5,
	  { IGNORED, 0, NULL } },

	{ "begin_request_7_bytes", build_begin_of_length, NULL, 0, 7, 1,
	  { DROPPED, 0, "BEGIN_REQUEST body is not 8 bytes" } },
	{ "begin_request_9_bytes", build_begin_of_length, NULL, 0, 9, 1,
	  { DROPPED, 0, "BEGIN_REQUEST body is not 8 bytes" } },

	/* Records only an application sends, coming from the web server. */
	{ "client_sends_end_request", build_app_record, NULL, 0, FC_END, 1,
	  { DROPPED, 0, "(record type 3, request id 1)" } },
	{ "client_sends_stdout", build_app_record, NULL, 0, FC_STDOUT, 1,
	  { DROPPED, 0, "(record type 6, request id 1)" } },

	/* No REQUEST_METHOD at all: a client error, not a crash. */
	{ "empty_params_stream", build_empty_params, NULL, 0, 0, 1,
	  { ANSWERED_4XX, 0, "no REQUEST_METHOD" } },
};

TABLE_PARAMETERS(fcgi_wire, malformed, malformed_cases)

ParameterizedTest(size_t *i, fcgi_wire, malformed, .init = setup_small, .fini = teardown,
		  .timeout = 10)
{
	const struct malformed *m = &malformed_cases[*i];
	struct fcgi_buf b = { 0 };

	m->build(&b, m);
	run_malformed(m->name, &b, m->id, &m->want);
	fcgi_client_buf_free(&b);
}

/*
 * BEGIN_REQUEST, an empty PARAMS stream and an empty STDIN on a fresh
 * connection: refused as a client error, without undefined behaviour on
 * the way.  The dev profile's UBSan reports what it finds on the
 * worker's stderr, which the master copies into the error log.  This
 * one (NULL + 0) only clang's UBSan checks, not gcc's: built with
 * CC=clang the dev profile catches it here, and the fcgi fuzzer (clang)
 * replays the same input from its seeds.
 */
Test(fcgi_wire, empty_params_without_undefined_behaviour, .init = setup_echo,
     .fini = teardown, .timeout = 10)
{
	struct fcgi_buf b = { 0 };
	struct fcgi_resp rs;
	pid_t worker = the_worker();

	build_empty_params(&b, NULL);
	send_hostile(&b, 1, &rs);
	assert_reply("empty PARAMS", &rs, &(struct outcome){ ANSWERED_4XX, 0, NULL });
	assert_worker_serves(worker, "an empty PARAMS stream");
	if (harness_log_wait(&sp, "runtime error", 300) == 0) {
		char *log = harness_sluice_log(&sp);

		cr_assert_fail("undefined behaviour reported:\n%s", log);
	}
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
}


/* ---- CONTENT_LENGTH and the body: one table ----------------------------- */

/*
 * CONTENT_LENGTH is parsed strictly (one plain decimal number, once),
 * the body cap is enforced from it before any body is sent, and a body
 * longer or shorter than it is never handed to the app as if it were
 * the body.
 */
struct length_case {
	const char *name;
	const char *clen;	/* CONTENT_LENGTH */
	const char *dup;	/* a second CONTENT_LENGTH, or NULL */
	const char *body;	/* STDIN content, or NULL for no STDIN at all */
	struct outcome want;
};

static const struct length_case length_cases[] = {
	{ "content_length_trailing_garbage", "12abc", NULL, "",
	  { ANSWERED, 400, "malformed CONTENT_LENGTH \"12abc\"" } },
	{ "content_length_negative", "-2", NULL, "",
	  { ANSWERED, 400, "malformed CONTENT_LENGTH \"-2\"" } },
	{ "content_length_leading_space", " 5", NULL, "",
	  { ANSWERED, 400, "malformed CONTENT_LENGTH \" 5\"" } },
	{ "content_length_overflows", "99999999999999999999", NULL, "",
	  { ANSWERED, 400, "malformed CONTENT_LENGTH \"99999999999999999999\"" } },
	{ "content_length_duplicated", "0", "5", "",
	  { ANSWERED, 400, "duplicate CONTENT_LENGTH" } },
	{ "content_length_duplicated_same_value", "0", "0", "",
	  { ANSWERED, 400, "duplicate CONTENT_LENGTH" } },
	{ "declared_body_over_max_body_bytes", "100000", NULL, NULL,
	  { ANSWERED, 413, "CONTENT_LENGTH 100000 exceeds limits.max_body_bytes (4096)" } },
	{ "body_longer_than_content_length", "2", NULL, "pingpong",
	  { REFUSED, 400, "more STDIN than CONTENT_LENGTH (2)" } },
	{ "body_shorter_than_content_length", "10", NULL, "ping",
	  { REFUSED, 400, "CONTENT_LENGTH" } },
};

TABLE_PARAMETERS(fcgi_wire, content_length, length_cases)

ParameterizedTest(size_t *i, fcgi_wire, content_length, .init = setup_small,
		  .fini = teardown, .timeout = 10)
{
	const struct length_case *l = &length_cases[*i];
	struct fcgi_buf b = { 0 }, pb = { 0 };

	std_params(&pb, "POST", l->clen);
	if (l->dup != NULL)
		fcgi_client_pair(&pb, "CONTENT_LENGTH", l->dup);
	fcgi_client_begin(&b, 1, FC_RESPONDER, 0);
	fcgi_client_stream(&b, FC_PARAMS, 1, pb.p, pb.len, 65535);
	if (l->body != NULL)
		fcgi_client_stream(&b, FC_STDIN, 1, l->body, strlen(l->body), 65535);
	run_malformed(l->name, &b, 1, &l->want);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
}

/*
 * CONTENT_LENGTH "-1" (Caddy 2.6, for a chunked upload) means "no length
 * given" over FastCGI, whose empty STDIN ends the body: it is read to
 * that end, under limits.max_body_bytes like any undeclared body.
 */
static void minus_one_length(const char *body, size_t len, struct fcgi_resp *rs)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn c;

	std_params(&pb, "POST", "-1");
	fcgi_client_request(&b, 1, 0, &pb, body, len);
	conn_open(&c);
	conn_send_buf(&c, &b);
	fcgi_client_read_response(&c, 1, rs, REPLY_MS);
	fcgi_client_close(&c);
	fcgi_client_buf_free(&pb);
	fcgi_client_buf_free(&b);
}

Test(fcgi_wire, content_length_minus_one_is_no_length, .init = setup_small, .fini = teardown,
     .timeout = 10)
{
	static char big[5000];
	struct fcgi_resp rs;

	minus_one_length("pingpong", 8, &rs);
	assert_ok(&rs, 1);
	cr_assert(resp_has(&rs, "\"body\":\"pingpong\"}"), "%s", describe(&rs));
	fcgi_client_resp_free(&rs);

	memset(big, 'b', sizeof(big));
	minus_one_length(big, sizeof(big), &rs);
	cr_assert_eq(resp_code(&rs), 413, "%s", describe(&rs));
	fcgi_client_resp_free(&rs);
}

/*
 * A body refused before it is read is still read to its end: the
 * worker answers 413, then drops what the peer goes on sending until it
 * closes.  Were it to close with input unread, the peer's next write
 * would fail (EPIPE) and nginx would answer 502 instead of the 413.
 * The worker is stopped while more than one wake-up's worth of body
 * (16 reads of 16 KiB) is queued for it, and the rest is sent after it
 * has run: so this is tested every time, not when the scheduler happens
 * to let the peer run ahead.
 */
Test(fcgi_wire, refused_body_is_read_to_its_end, .init = setup_small, .fini = teardown,
     .timeout = 15)
{
	enum { BODY = 1 << 20 };
	struct fcgi_buf b = { 0 }, pb = { 0 }, body = { 0 };
	struct fcgi_resp rs;
	struct fcgi_conn c;
	struct pollfd answered;
	pid_t worker = the_worker();
	int sndbuf = BODY;
	size_t queued = 0;
	char *data = malloc(BODY);

	cr_assert_not_null(data);
	memset(data, 'b', BODY);
	std_params(&pb, "POST", "1048576");
	fcgi_client_begin(&b, 1, FC_RESPONDER, 0);
	fcgi_client_stream(&b, FC_PARAMS, 1, pb.p, pb.len, 65535);
	fcgi_client_stream(&body, FC_STDIN, 1, data, BODY, 65535);
	conn_open(&c);
	cr_assert_eq(setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	conn_send_buf(&c, &b);

	/* The 413 is on its way: the worker lingers now. */
	answered = (struct pollfd){ .fd = c.fd, .events = POLLIN };
	cr_assert_eq(poll(&answered, 1, REPLY_MS), 1, "no answer to a declared 1 MB body");
	cr_assert_eq(kill(worker, SIGSTOP), 0);
	while (queued < body.len / 2) {
		ssize_t n = send(c.fd, body.p + queued, body.len / 2 - queued, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		queued += (size_t)n;
	}
	cr_assert_eq(kill(worker, SIGCONT), 0);
	cr_assert_gt(queued, 16 * 16384, "only %zu bytes could be queued", queued);

	cr_assert_eq(fcgi_client_send(&c, body.p + queued, body.len - queued), 0,
		     "the rest of the body could not be sent after %zu bytes: the worker "
		     "closed with input unread", queued);
	fcgi_client_read_response(&c, 1, &rs, REPLY_MS);
	cr_assert_eq(rs.end, FC_R_END, "%s", describe(&rs));
	cr_assert_eq(resp_code(&rs), 413, "%s", describe(&rs));
	fcgi_client_close(&c);
	assert_worker_serves(worker, "a refused body read to its end");
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&body);
	fcgi_client_buf_free(&pb);
	fcgi_client_buf_free(&b);
	free(data);
}

/* ---- Malformed input that needs its own test ---------------------------- */

/* The peer closes after part of the first header, or part of a record's content. */
static void truncated(size_t keep, const char *needle)
{
	struct fcgi_buf b = { 0 };
	struct fcgi_conn c;
	char what[64];
	pid_t worker = the_worker();

	put_request(&b, 1, 0, NULL, 0);
	conn_open(&c);
	cr_assert_eq(fcgi_client_send(&c, b.p, keep), 0);
	fcgi_client_close(&c);
	snprintf(what, sizeof(what), "a close after %zu bytes", keep);
	assert_survived(worker, what, needle);
	fcgi_client_buf_free(&b);
}

Test(fcgi_wire, truncated_header_then_close, .init = setup_small, .fini = teardown,
     .timeout = 10)
{
	truncated(5, "peer closed the connection in the middle of a request");
}

Test(fcgi_wire, truncated_content_then_close, .init = setup_small, .fini = teardown,
     .timeout = 10)
{
	/* BEGIN_REQUEST whole, then the PARAMS header and 10 of its content bytes. */
	truncated(16 + 8 + 10, "peer closed the connection in the middle of a request");
}

Test(fcgi_wire, begin_request_with_id_0, .init = setup_small, .fini = teardown, .timeout = 10)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_resp rs;
	pid_t worker = the_worker();

	std_params(&pb, "GET", NULL);
	fcgi_client_begin(&b, 0, FC_RESPONDER, 0);
	fcgi_client_stream(&b, FC_PARAMS, 0, pb.p, pb.len, 65535);
	fcgi_client_stream(&b, FC_STDIN, 0, NULL, 0, 1);
	send_hostile(&b, 0, &rs);
	cr_assert_eq(rs.end, FC_R_CLOSED, "%s", describe(&rs));
	cr_assert_eq(rs.nstdout + rs.stdout_ended, 0, "request id 0 was served: %s",
		     describe(&rs));
	/* UNKNOWN_TYPE {1} would be a defensible answer; nothing else is. */
	for (int i = 0; i < rs.nother && i < FC_MAX_OTHER; i++)
		cr_assert(rs.other[i].type == FC_UNKNOWN_TYPE && rs.other[i].c[0] == FC_BEGIN,
			  "%s", describe(&rs));
	assert_survived(worker, "a request with id 0", "record type 1 with request id 0");
	fcgi_client_resp_free(&rs);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
}

/* ---- Stalled and idle peers -------------------------------------------- */

/*
 * Half a request, then silence: the connection is cut after about
 * read_timeout (1 s), and meanwhile the worker serves others at once.
 */
Test(fcgi_wire, stalled_params_cut_by_read_timeout, .init = setup_read_timeout,
     .fini = teardown, .timeout = 15)
{
	struct fcgi_buf b = { 0 }, pb = { 0 };
	struct fcgi_conn stalled, other;
	long t0, t1;
	int k;
	pid_t worker = the_worker();

	std_params(&pb, "GET", NULL);
	fcgi_client_begin(&b, 1, FC_RESPONDER, 0);
	fcgi_client_record(&b, FC_PARAMS, 1, pb.p, pb.len / 2);
	conn_open(&stalled);
	conn_send_buf(&stalled, &b);
	t0 = harness_now_ms();

	conn_open(&other);
	exchange_ok(&other, 1, 0, "not pinned");
	t1 = harness_now_ms();
	cr_assert_lt(t1 - t0, 700, "another connection waited %ld ms behind a stalled one",
		     t1 - t0);
	fcgi_client_close(&other);

	while ((k = fcgi_client_fill(&stalled, 100)) == -1 && harness_now_ms() - t0 < 3000)
		;
	t1 = harness_now_ms();
	cr_assert_eq(k, 0, "stalled connection still open after %ld ms (read_timeout 1 s)",
		     t1 - t0);
	cr_assert_eq(stalled.in.len, 0, "bytes sent to a stalled request");
	cr_assert_geq(t1 - t0, 800, "stalled connection closed after only %ld ms", t1 - t0);
	fcgi_client_close(&stalled);
	assert_survived(worker, "a stalled request",
			"request head not received within limits.read_timeout (1s)");
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pb);
}

/* A kept-alive connection with nothing more to do is closed after idle_timeout (1 s). */
Test(fcgi_wire, idle_keepalive_cut_by_idle_timeout, .init = setup_idle_timeout,
     .fini = teardown, .timeout = 15)
{
	struct fcgi_conn c;
	long t0, t1;
	int k;

	conn_open(&c);
	exchange_ok(&c, 1, FC_KEEP_CONN, "then idle");
	t0 = harness_now_ms();
	while ((k = fcgi_client_fill(&c, 100)) == -1 && harness_now_ms() - t0 < 3000)
		;
	t1 = harness_now_ms();
	cr_assert_eq(k, 0, "idle connection still open after %ld ms (idle_timeout 1 s, "
		     "read_timeout 5 s)", t1 - t0);
	cr_assert_geq(t1 - t0, 800, "idle connection closed after only %ld ms", t1 - t0);
	fcgi_client_close(&c);
}

/* ---- Garbage ----------------------------------------------------------- */

static unsigned rnd_state;

static unsigned rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void rnd_bytes(struct fcgi_buf *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fcgi_client_buf_byte(b, rnd());
}

/*
 * PARAMS-like content: some pairs that sluice looks at, with odd values,
 * and some whose lengths (either form) rarely match the data.
 */
static void rnd_pairs(struct fcgi_buf *b)
{
	static const char *const names[] = { "REQUEST_METHOD", "CONTENT_LENGTH",
					      "DOCUMENT_URI", "SCRIPT_NAME", "REQUEST_URI",
					      "QUERY_STRING", "PATH_INFO", "HTTP_HOST" };
	static const char *const values[] = { "GET", "POST", "HEAD", "/", "/a/../b", "//",
					       "12", "-1", "", "%00", "99999999999999999999" };
	int npairs = (int)(rnd() % 6);

	for (int i = 0; i < npairs; i++) {
		switch (rnd() % 4) {
		case 0:
		case 1:
			fcgi_client_pair(b, names[rnd() % 8], values[rnd() % 11]);
			break;
		case 2:
			fcgi_client_len(b, rnd() % 4 ? rnd() % 128 : rnd() & 0x7fffffff, rnd() % 2);
			fcgi_client_len(b, rnd() % 4 ? rnd() % 128 : rnd() & 0x7fffffff, rnd() % 2);
			rnd_bytes(b, rnd() % 48);
			break;
		default:
			rnd_bytes(b, rnd() % 16);
		}
	}
}

/* One random record: mostly plausible types and ids, sometimes not. */
static void rnd_record(struct fcgi_buf *b, unsigned id)
{
	static const unsigned types[] = { FC_BEGIN, FC_ABORT, FC_END, FC_PARAMS, FC_PARAMS,
					  FC_PARAMS, FC_STDIN, FC_STDIN, FC_STDOUT, FC_DATA,
					  FC_GET_VALUES, FC_UNKNOWN_TYPE };
	unsigned type = rnd() % 8 == 0 ? rnd() % 256 : types[rnd() % 12];
	unsigned version = rnd() % 25 == 0 ? rnd() % 256 : 1;
	size_t plen = rnd() % 5 == 0 ? rnd() % 256 : 0;
	struct fcgi_buf content = { 0 };

	if (rnd() % 4 == 0)
		id = rnd() % 8 == 0 ? rnd() % 65536 : rnd() % 3;
	if (type == FC_GET_VALUES)
		id = 0;
	if (type == FC_PARAMS || type == FC_GET_VALUES)
		rnd_pairs(&content);
	else if (type == FC_BEGIN)
		rnd_bytes(&content, rnd() % 8 ? 8 : rnd() % 16);
	else if (rnd() % 3 != 0)
		rnd_bytes(&content, rnd() % 300);
	if (rnd() % 30 == 0) {
		rnd_bytes(b, 1 + rnd() % 20);	/* not even a record */
	} else {
		fcgi_client_header(b, version, type, id, content.len, plen);
		fcgi_client_buf_add(b, content.p, content.len);
		rnd_bytes(b, plen);
	}
	fcgi_client_buf_free(&content);
}

/*
 * One connection's worth of garbage, `n` records.  Half the episodes
 * start like a real request (BEGIN_REQUEST, id 1, then mostly PARAMS)
 * so that the garbage reaches the PARAMS decoder and the request checks
 * behind it; half of those end their PARAMS stream.
 */
static void rnd_episode(struct fcgi_buf *b, int n)
{
	int real = rnd() % 2;

	if (real)
		fcgi_client_begin(b, 1, FC_RESPONDER, rnd() % 2);
	for (int i = 0; i < n; i++) {
		struct fcgi_buf pairs = { 0 };

		if (!real || rnd() % 4 == 0) {
			rnd_record(b, real ? 1 : rnd() % 3);
			continue;
		}
		rnd_pairs(&pairs);
		fcgi_client_record(b, FC_PARAMS, 1, pairs.p, pairs.len);
		fcgi_client_buf_free(&pairs);
	}
	if (real && rnd() % 2 == 0) {
		fcgi_client_record(b, FC_PARAMS, 1, NULL, 0);
		if (rnd() % 2)
			rnd_record(b, 1);
		fcgi_client_record(b, FC_STDIN, 1, NULL, 0);
	}
}

/*
 * 200 seeded random records over about 70 connections: whatever each
 * connection gets (an answer, a 4xx, a close), the worker is the same
 * process afterwards and serves a normal request.
 */
Test(fcgi_wire, random_records_never_crash_the_worker, .init = setup_small, .fini = teardown,
     .timeout = 30)
{
	pid_t worker = the_worker();
	int sent = 0;

	rnd_state = 20261129;
	while (sent < 200) {
		struct fcgi_buf b = { 0 };
		int n = 1 + (int)(rnd() % 5);
		struct fcgi_conn c;

		rnd_episode(&b, n);
		sent += n;
		conn_open(&c);
		fcgi_client_send(&c, b.p, b.len);
		fcgi_client_fill(&c, 10);
		fcgi_client_close(&c);
		fcgi_client_buf_free(&b);
	}
	assert_worker_serves(worker, "random records");
}
