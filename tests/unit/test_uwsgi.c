/*
 * test_uwsgi.c - the uwsgi codec (gateway/uwsgi.c) as nginx's uwsgi_pass
 * meets it: packets are written into one end of a socketpair and the
 * codec is driven through its proto table on the other end, the way the
 * worker loop drives it (conn_fill, then parse; request_run for whole
 * requests).
 *
 * What is checked is what a web server or an operator would see: every
 * variable decoded byte for byte, a packet that is not whole yet waits,
 * a malformed one is refused with the status that says why (400, 431)
 * or closed with a log line, the body is exactly CONTENT_LENGTH bytes,
 * and the response leaves raw, an HTTP status line first.
 *
 * Each test logs to a file in a private folder (Criterion runs every
 * test in its own process, so the log's target starts fresh).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "config.h"
#include "conn.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "request.h"
#include "router.h"

#include "check.h"
#include "table.h"
#include "uwsgi_packet.h"

#define READ_TIMEOUT_S		1	/* limits.read_timeout in these tests */
#define PEER_WAIT_MS		5000	/* bound on waiting for the codec's output */

static char dir[64];
static char logpath[128];
static int sv[2] = { -1, -1 };	/* sv[0]: the codec's end, sv[1]: the web server's */
static struct sl_config cfg;
static struct router router;
static struct sl_request req;
static struct conn *c;

/* ---- Handlers, for the tests that run whole requests -------------------- */

static int h_hello(struct sl_request *r)
{
	return sl_puts(r, "hi\n");
}

/* Reads the body in 3-byte pieces and sends it back. */
static int h_body(struct sl_request *r)
{
	char buf[3], all[256];
	size_t n = 0;
	ssize_t got;

	while ((got = sl_read(r, buf, sizeof(buf))) > 0) {
		if (n + (size_t)got > sizeof(all))
			return -1;
		memcpy(all + n, buf, (size_t)got);
		n += (size_t)got;
	}
	if (got < 0)
		return -1;
	return sl_write(r, all, n);
}

/* ---- Fixture ---------------------------------------------------------- */

static void open_conn(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* Worker sockets are non-blocking; the codec must cope with that. */
	cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	cr_assert_eq(conn_init(), 0);
	c = conn_get(sv[0], &proto_uwsgi, &cfg);
	cr_assert_not_null(c);
}

/* Close the codec's end (as the worker does), keep the peer's for reading. */
static void close_conn(void)
{
	if (c) {
		conn_put(c);
		c = NULL;
		sv[0] = -1;
	}
}

/* A fresh connection, for a test that sends a second packet. */
static void reopen(void)
{
	close_conn();
	close(sv[1]);
	sv[1] = -1;
	open_conn();
}

/* limits.max_params changed: the request sizes its table at init. */
static void set_max_params(int n)
{
	cfg.limits.max_params = n;
	request_free(&req);
	cr_assert_eq(request_init(&req, &cfg, &router), 0);
}

static void setup(void)
{
	char err[256];

	strcpy(dir, "/tmp/sluice-uwsgi-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(logpath, sizeof(logpath), "%s/error.log", dir);
	cr_assert_eq(log_open(logpath, LOG_DEBUG), 0);

	cfg.limits.max_params_bytes = DEFAULT_MAX_PARAMS_BYTES;
	cfg.limits.max_params = DEFAULT_MAX_PARAMS;
	cfg.limits.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
	cfg.limits.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
	cfg.limits.max_request_memory = DEFAULT_MAX_REQUEST_MEMORY;
	cfg.limits.max_conns = DEFAULT_MAX_CONNS;
	cfg.limits.read_timeout = READ_TIMEOUT_S;
	cfg.limits.write_timeout = 2;
	cfg.limits.idle_timeout = DEFAULT_IDLE_TIMEOUT;

	cr_assert_eq(router_add(&router, "GET", "/", "/hello", h_hello, 0, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(router_add(&router, "POST", "/", "/body", h_body, 0, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(request_init(&req, &cfg, &router), 0);
	open_conn();
}

static void teardown(void)
{
	close_conn();
	if (sv[1] >= 0)
		close(sv[1]);
	request_free(&req);
	router_free(&router);
	unlink(logpath);
	rmdir(dir);
}

TestSuite(uwsgi, .init = setup, .fini = teardown, .timeout = 20);

/* ---- Building packets --------------------------------------------------- */

/* ---- Talking to the codec ---------------------------------------------- */

static void peer_send(const void *bytes, size_t n)
{
	const unsigned char *p = bytes;
	ssize_t w;

	while (n > 0) {
		w = write(sv[1], p, n);
		cr_assert_gt(w, 0, "write to the codec's socket: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Read what the socket holds into the connection's buffer, as the worker does. */
static void fill(void)
{
	ssize_t n;

	do
		n = conn_fill(c);
	while (n > 0);
	cr_assert(n < 0 && errno == EAGAIN, "conn_fill: %zd (%s)", n, strerror(errno));
}

static enum proto_rc send_and_parse(const void *bytes, size_t n)
{
	peer_send(bytes, n);
	fill();
	return proto_uwsgi.parse(c, &req);
}

/*
 * Everything the codec wrote until it closed its end, NUL-terminated;
 * the peer waits at most PEER_WAIT_MS.
 */
static size_t peer_read_all(char *buf, size_t cap)
{
	struct pollfd pfd = { .fd = sv[1], .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	for (;;) {
		cr_assert_gt(poll(&pfd, 1, PEER_WAIT_MS), 0, "the codec's end stayed open");
		n = read(sv[1], buf + len, cap - 1 - len);
		cr_assert_geq(n, 0, "read: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		cr_assert_lt(len, cap - 1, "more output than expected");
	}
	buf[len] = '\0';
	return len;
}

static int log_has(const char *needle)
{
	char text[16384];
	FILE *f = fopen(logpath, "r");
	size_t n = 0;

	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return strstr(text, needle) != NULL;
}

#define assert_log(needle) \
	cr_assert(log_has(needle), "the log lacks \"%s\"", (needle))

static void assert_param(size_t i, const void *name, size_t nlen, const void *value,
			 size_t vlen)
{
	const struct param *p;

	cr_assert_lt(i, req.nparams, "only %zu parameters", req.nparams);
	p = &req.params[i];
	cr_assert_eq(p->name_len, nlen, "parameter %zu: name length %zu, sent %zu",
		     i, p->name_len, nlen);
	cr_assert_eq(memcmp(p->name, name, nlen), 0, "parameter %zu: name differs", i);
	cr_assert_eq(p->name[nlen], '\0', "parameter %zu: name not terminated", i);
	cr_assert_eq(p->value_len, vlen, "parameter %zu: value length %zu, sent %zu",
		     i, p->value_len, vlen);
	cr_assert_eq(memcmp(p->value, value, vlen), 0, "parameter %zu: value differs", i);
	cr_assert_eq(p->value[vlen], '\0', "parameter %zu: value not terminated", i);
}

/* ---- Decoding ----------------------------------------------------------- */

Test(uwsgi, decodes_every_variable_exactly)
{
	/* Any byte but NUL (a NUL is refused: see the nul_in_a_variable tests). */
	static const unsigned char binary[] = { 0x01, 0x01, 0xff, '\r', '\n', 0x80, 0x7f };
	static const unsigned char bin_name[] = { 'X', 0x01, 0xfe };
	struct uwsgi_packet p;
	char long_value[700];
	size_t i;

	/* 700 bytes: a length whose high byte is not zero (little-endian). */
	for (i = 0; i < sizeof(long_value); i++)
		long_value[i] = (char)('a' + i % 26);
	uwsgi_packet_begin(&p);
	uwsgi_packet_str(&p, "REQUEST_METHOD", "GET");
	uwsgi_packet_str(&p, "QUERY_STRING", "");
	uwsgi_packet_var(&p, "HTTP_X_BINARY", 13, binary, sizeof(binary));
	uwsgi_packet_var(&p, "HTTP_X_LONG", 11, long_value, sizeof(long_value));
	uwsgi_packet_var(&p, bin_name, sizeof(bin_name), "v", 1);
	uwsgi_packet_var(&p, "", 0, "", 0);
	uwsgi_packet_str(&p, "PATH_INFO", "/a b/%2F");
	assert_uwsgi_end(&p, 0, 0);

	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 0);
	cr_assert_eq(req.nparams, 7);
	assert_param(0, "REQUEST_METHOD", 14, "GET", 3);
	assert_param(1, "QUERY_STRING", 12, "", 0);
	assert_param(2, "HTTP_X_BINARY", 13, binary, sizeof(binary));
	assert_param(3, "HTTP_X_LONG", 11, long_value, sizeof(long_value));
	assert_param(4, bin_name, sizeof(bin_name), "v", 1);
	assert_param(5, "", 0, "", 0);
	assert_param(6, "PATH_INFO", 9, "/a b/%2F", 8);
	/* The whole packet was consumed, nothing more. */
	cr_assert_eq(c->end - c->start, 0);
}

/*
 * A NUL inside a name or value would make the wire name and the C string
 * a module reads differ ("CONTENT_LENGTH\0x" is CONTENT_LENGTH to
 * strcmp): refused with 400.  The block is decoded in place, each string
 * ended over a length byte already read; `empties` empty values first
 * put NUL bytes in the lengths, which are in no string.
 */
/*
 * The block in `p` ends here; the request is refused with `status` and a
 * log line holding `line`, and the `kept` pairs before the fault are kept.
 */
static void assert_refused(struct uwsgi_packet *p, int status, const char *line, size_t kept)
{
	assert_uwsgi_end(p, 0, 0);
	cr_assert_eq(send_and_parse(p->b, p->len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, status);
	assert_log(line);
	cr_assert_eq(req.nparams, kept, "%zu pairs kept, not %zu", req.nparams, kept);
}

static void assert_nul_refused(int empties, const char *name, size_t nlen,
			       const char *value, size_t vlen)
{
	static const char *const empty[] = { "QUERY_STRING", "CONTENT_TYPE" };
	struct uwsgi_packet p;

	uwsgi_packet_begin(&p);
	for (int i = 0; i < empties; i++)
		uwsgi_packet_str(&p, empty[i], "");
	uwsgi_packet_str(&p, "REQUEST_METHOD", "GET");
	uwsgi_packet_var(&p, name, nlen, value, vlen);
	/* The pairs before it are kept whole, as the log and error page see them. */
	assert_refused(&p, 400, "NUL byte", (size_t)empties + 1);
	assert_param((size_t)empties, "REQUEST_METHOD", 14, "GET", 3);
}

Test(uwsgi, nul_in_a_variable_name_is_400)
{
	assert_nul_refused(0, "CONTENT_LENGTH\0x", 16, "5", 1);
}

Test(uwsgi, nul_in_a_variable_value_is_400)
{
	assert_nul_refused(0, "HTTP_X", 6, "a\0b", 3);
}

Test(uwsgi, nul_in_a_value_after_empty_ones_is_400)
{
	assert_nul_refused(2, "HTTP_X", 6, "ab\0", 3);
}

Test(uwsgi, empty_values_and_names_end_where_they_lie)
{
	struct uwsgi_packet p;

	uwsgi_packet_begin(&p);
	uwsgi_packet_str(&p, "QUERY_STRING", "");
	uwsgi_packet_var(&p, "", 0, "x", 1);
	uwsgi_packet_str(&p, "CONTENT_TYPE", "");
	uwsgi_packet_str(&p, "REQUEST_METHOD", "GET");
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 0);
	cr_assert_eq(req.nparams, 4);
	assert_param(0, "QUERY_STRING", 12, "", 0);
	assert_param(1, "", 0, "x", 1);
	assert_param(2, "CONTENT_TYPE", 12, "", 0);
	assert_param(3, "REQUEST_METHOD", 14, "GET", 3);
	cr_assert_str_eq(sl_param(&req, "REQUEST_METHOD"), "GET");
}

Test(uwsgi, largest_block_decodes)
{
	static char value[65535 - 4 - 1];
	struct uwsgi_packet p;

	memset(value, 'v', sizeof(value));
	uwsgi_packet_begin(&p);
	uwsgi_packet_var(&p, "N", 1, value, sizeof(value));
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(p.len, UWSGI_PACKET_HEADER + 65535);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 0);
	cr_assert_eq(req.nparams, 1);
	assert_param(0, "N", 1, value, sizeof(value));
}

Test(uwsgi, empty_block_is_a_request_without_variables)
{
	struct uwsgi_packet p;

	uwsgi_packet_begin(&p);
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 0);
	cr_assert_eq(req.nparams, 0);
}

Test(uwsgi, magic_variables_are_plain_parameters)
{
	struct uwsgi_packet p;

	uwsgi_packet_request(&p, "GET", "/hello", "");
	uwsgi_packet_str(&p, "UWSGI_FILE", "/tmp/evil.so");
	uwsgi_packet_str(&p, "UWSGI_SCRIPT", "evil");
	uwsgi_packet_str(&p, "UWSGI_MODULE", "evil");
	uwsgi_packet_str(&p, "UWSGI_CHDIR", "/");
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 0);
	cr_assert_str_eq(sl_param(&req, "UWSGI_FILE"), "/tmp/evil.so");
	cr_assert_str_eq(sl_param(&req, "UWSGI_CHDIR"), "/");
}

/* ---- Packets that are not whole yet -------------------------------------- */

/* Every prefix of a packet (header cut, sizes cut, names and values cut) waits. */
Test(uwsgi, truncated_packet_waits_until_complete)
{
	struct uwsgi_packet p;
	size_t i;

	uwsgi_packet_begin(&p);
	uwsgi_packet_str(&p, "REQUEST_METHOD", "POST");
	uwsgi_packet_str(&p, "EMPTY", "");
	uwsgi_packet_str(&p, "PATH_INFO", "/x");
	assert_uwsgi_end(&p, 0, 0);
	for (i = 0; i + 1 < p.len; i++)
		cr_assert_eq(send_and_parse(p.b + i, 1), PROTO_AGAIN,
			     "a packet cut after %zu of %zu bytes was not waited for",
			     i + 1, p.len);
	cr_assert_eq(send_and_parse(p.b + i, 1), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 0);
	cr_assert_eq(req.nparams, 3);
	assert_param(0, "REQUEST_METHOD", 14, "POST", 4);
	assert_param(1, "EMPTY", 5, "", 0);
	assert_param(2, "PATH_INFO", 9, "/x", 2);
}

Test(uwsgi, header_alone_waits_for_its_block)
{
	struct uwsgi_packet p;

	uwsgi_packet_request(&p, "GET", "/hello", "");
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, UWSGI_PACKET_HEADER), PROTO_AGAIN);
	cr_assert_eq(send_and_parse(p.b + UWSGI_PACKET_HEADER, 10), PROTO_AGAIN);
	cr_assert_eq(send_and_parse(p.b + UWSGI_PACKET_HEADER + 10,
				    p.len - UWSGI_PACKET_HEADER - 10), PROTO_REQUEST);
	cr_assert_str_eq(sl_param(&req, "PATH_INFO"), "/hello");
}

/* ---- Packets refused ---------------------------------------------------- */

static void assert_modifier_closed(unsigned mod1)
{
	struct uwsgi_packet p;
	char line[64];

	uwsgi_packet_request(&p, "GET", "/hello", "");
	assert_uwsgi_end(&p, mod1, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_CLOSE,
		     "modifier1 %u was not refused", mod1);
	snprintf(line, sizeof(line), "modifier1 %u is not served", mod1);
	assert_log(line);
}

Test(uwsgi, other_modifiers_are_closed_with_a_log_line)
{
	static const unsigned mods[] = { 1, 5, 9, 17, 30, 255 };

	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		assert_modifier_closed(mods[i]);
		reopen();
	}
}

/* modifier1 is refused from the header alone, before the block arrives. */
Test(uwsgi, modifier_refused_from_the_header)
{
	static const unsigned char header[] = { 5, 0x10, 0x00, 0 };

	cr_assert_eq(send_and_parse(header, sizeof(header)), PROTO_CLOSE);
	assert_log("modifier1 5");
}

/* A malformed block is still a request: it is answered 400, not dropped. */
static void assert_400(const struct uwsgi_packet *p, const char *what)
{
	cr_assert_eq(send_and_parse(p->b, p->len), PROTO_REQUEST, "%s", what);
	cr_assert_eq(req.early_status, 400, "%s: early_status %d", what, req.early_status);
	assert_log("runs past");
}

/* A string literal and its length, NULs inside included. */
#define BYTES(s)	(s), sizeof(s) - 1

/* REQUEST_METHOD=GET, a well-formed variable before a malformed one. */
#define METHOD_GET	"\x0e\x00" "REQUEST_METHOD" "\x03\x00" "GET"

/* Blocks whose sizes run past their end, each a packet of its own. */
static const struct bad_block {
	const char *what;
	const char *bytes;
	size_t len;
} bad_blocks[] = {
	/* A 200-byte name, 4 bytes left. */
	{ "name size past the block", BYTES(METHOD_GET "\xc8\x00" "ABCD") },
	/* A 6-byte value, 5 bytes left. */
	{ "value size past the block", BYTES("\x04\x00" "NAME" "\x06\x00" "VALUE") },
	/* The value's size says 1 byte, the block ends right there. */
	{ "value one byte short", BYTES("\x01\x00" "N" "\x01\x00") },
	{ "value size cut", BYTES("\x01\x00" "N" "\x01") },
	{ "one trailing byte", BYTES(METHOD_GET "\x00") },
	{ "a name with no value size", BYTES(METHOD_GET "\x01\x00" "X") },
};

TABLE_PARAMETERS(uwsgi, malformed_block_is_400, bad_blocks)

ParameterizedTest(size_t *i, uwsgi, malformed_block_is_400)
{
	const struct bad_block *k = &bad_blocks[*i];
	struct uwsgi_packet p;

	uwsgi_packet_begin(&p);
	uwsgi_packet_raw(&p, k->bytes, k->len);
	assert_uwsgi_end(&p, 0, 0);
	assert_400(&p, k->what);
	if (k->len >= sizeof(METHOD_GET) - 1 &&
	    memcmp(k->bytes, METHOD_GET, sizeof(METHOD_GET) - 1) == 0) {
		cr_assert_eq(req.nparams, 1, "%s: %zu pairs kept", k->what, req.nparams);
		assert_param(0, "REQUEST_METHOD", 14, "GET", 3);
	} else {
		cr_assert_eq(req.nparams, 0, "%s: %zu pairs kept", k->what, req.nparams);
	}
}

/* A NUL ahead of a size that runs past the block is what is reported. */
Test(uwsgi, nul_before_a_bad_size_is_the_nul)
{
	struct uwsgi_packet p;

	uwsgi_packet_begin(&p);
	uwsgi_packet_raw(&p, BYTES(METHOD_GET "\x01\x00" "X" "\x02\x00" "a\0" "\xc8\x00" "ABCD"));
	assert_refused(&p, 400, "NUL byte", 1);
	assert_param(0, "REQUEST_METHOD", 14, "GET", 3);
}

/* After a refused block the next bytes on the connection are not parsed. */
Test(uwsgi, bad_block_consumes_only_its_packet)
{
	struct uwsgi_packet p;

	uwsgi_packet_begin(&p);
	uwsgi_packet_raw(&p, "\xff\xff", 2);
	assert_uwsgi_end(&p, 0, 0);
	uwsgi_packet_raw(&p, "BODY", 4);
	assert_400(&p, "garbage sizes");
	cr_assert_eq(c->end - c->start, 4, "the codec ate past its packet");
}

Test(uwsgi, block_over_max_params_bytes_is_431)
{
	struct uwsgi_packet p;
	char value[64];

	cfg.limits.max_params_bytes = 64;
	memset(value, 'x', sizeof(value));
	/* Exactly 64 bytes of block: 2 + 1 + 2 + 59. */
	uwsgi_packet_begin(&p);
	uwsgi_packet_var(&p, "N", 1, value, 59);
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 0, "a block at the limit was refused");
	assert_param(0, "N", 1, value, 59);

	reopen();
	uwsgi_packet_begin(&p);
	uwsgi_packet_var(&p, "N", 1, value, 60);
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 431);
	assert_log("limits.max_params_bytes");
	/* The oversized block was skipped as a whole. */
	cr_assert_eq(c->end - c->start, 0);
}

Test(uwsgi, more_than_max_params_is_431)
{
	struct uwsgi_packet p;

	set_max_params(4);
	uwsgi_packet_begin(&p);
	uwsgi_packet_str(&p, "A", "1");
	uwsgi_packet_str(&p, "B", "2");
	uwsgi_packet_str(&p, "C", "3");
	uwsgi_packet_str(&p, "D", "4");
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 0, "max_params variables were refused");
	cr_assert_eq(req.nparams, 4);

	reopen();
	uwsgi_packet_begin(&p);
	uwsgi_packet_str(&p, "A", "1");
	uwsgi_packet_str(&p, "B", "2");
	uwsgi_packet_str(&p, "C", "3");
	uwsgi_packet_str(&p, "D", "4");
	uwsgi_packet_str(&p, "E", "5");
	assert_refused(&p, 431, "limits.max_params", 4);
	assert_param(3, "D", 1, "4", 1);
}

/* A NUL within the first max_params pairs is found before their count is. */
Test(uwsgi, nul_among_too_many_pairs_is_400)
{
	struct uwsgi_packet p;

	set_max_params(2);
	uwsgi_packet_begin(&p);
	uwsgi_packet_str(&p, "A", "1");
	uwsgi_packet_var(&p, "B", 1, "2\0", 2);
	uwsgi_packet_str(&p, "C", "3");
	assert_refused(&p, 400, "NUL byte", 1);
	assert_param(0, "A", 1, "1", 1);
}

/* Anything after the request on the same connection is an error. */
Test(uwsgi, second_packet_on_the_connection_is_closed)
{
	struct uwsgi_packet p;

	uwsgi_packet_request(&p, "GET", "/hello", "");
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_CLOSE);
	assert_log("bytes after the request");
}

/* ---- The body ----------------------------------------------------------- */

/*
 * A request of `length` announced bytes, parsed; request_run takes the
 * length from CONTENT_LENGTH before any body is read, and so do these
 * tests that call read_body themselves.
 */
static void parse_with_body(const char *length, const void *after, size_t after_len)
{
	struct uwsgi_packet p;

	uwsgi_packet_request(&p, "POST", "/body", length);
	assert_uwsgi_end(&p, 0, 0);
	uwsgi_packet_raw(&p, after, after_len);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(req.early_status, 0);
	req.content_length = *length ? atoll(length) : -1;
	/* The worker starts the body's clock when the request goes to its handler. */
	conn_xfer_start(c, c->rx, io_now_ms());
}

Test(uwsgi, body_is_exactly_content_length_from_buffer_and_socket)
{
	char buf[64], rest[16];
	ssize_t n;

	/* 4 bytes arrive with the packet, 6 later, then bytes that are not body. */
	parse_with_body("10", "0123", 4);
	peer_send("456789EXTRA", 11);

	n = proto_uwsgi.read_body(c, &req, buf, sizeof(buf));
	cr_assert_eq(n, 4, "first read gave %zd bytes", n);
	cr_assert_eq(memcmp(buf, "0123", 4), 0);
	n = proto_uwsgi.read_body(c, &req, buf, sizeof(buf));
	cr_assert_eq(n, 6, "second read gave %zd bytes", n);
	cr_assert_eq(memcmp(buf, "456789", 6), 0);
	cr_assert_eq(proto_uwsgi.read_body(c, &req, buf, sizeof(buf)), 0);
	cr_assert(req.body_done);
	cr_assert_eq(proto_uwsgi.read_body(c, &req, buf, sizeof(buf)), 0);

	/* The bytes past the body are still in the socket. */
	n = read(sv[0], rest, sizeof(rest));
	cr_assert_eq(n, 5);
	cr_assert_eq(memcmp(rest, "EXTRA", 5), 0);
}

Test(uwsgi, body_stops_at_content_length_in_the_buffer)
{
	char buf[64];
	size_t total = 0;
	ssize_t n;

	parse_with_body("7", "abcdefgEXTRA", 12);
	while ((n = proto_uwsgi.read_body(c, &req, buf + total, 2)) > 0)
		total += (size_t)n;
	cr_assert_eq(n, 0);
	cr_assert_eq(total, 7);
	cr_assert_eq(memcmp(buf, "abcdefg", 7), 0);
	cr_assert_eq(c->end - c->start, 5);
	cr_assert_eq(memcmp(c->in + c->start, "EXTRA", 5), 0);
}

Test(uwsgi, no_content_length_is_no_body)
{
	char buf[16];

	parse_with_body("", "stray", 5);
	cr_assert_eq(proto_uwsgi.read_body(c, &req, buf, sizeof(buf)), 0);
	cr_assert(req.body_done);
	cr_assert_eq(c->end - c->start, 5, "bytes were taken as a body nobody announced");
}

Test(uwsgi, body_cut_by_the_peer_is_an_error)
{
	char buf[64];

	parse_with_body("10", "0123", 4);
	shutdown(sv[1], SHUT_WR);
	cr_assert_eq(proto_uwsgi.read_body(c, &req, buf, sizeof(buf)), 4);
	errno = 0;
	cr_assert_eq(proto_uwsgi.read_body(c, &req, buf, sizeof(buf)), -1);
	cr_assert_eq(errno, ECONNABORTED, "errno %d (%s)", errno, strerror(errno));
}

Test(uwsgi, stalled_body_times_out)
{
	char buf[64];
	long long start;

	parse_with_body("10", "0123", 4);
	cr_assert_eq(proto_uwsgi.read_body(c, &req, buf, sizeof(buf)), 4);
	start = io_now_ms();
	errno = 0;
	cr_assert_eq(proto_uwsgi.read_body(c, &req, buf, sizeof(buf)), -1);
	cr_assert_eq(errno, ETIMEDOUT, "errno %d (%s)", errno, strerror(errno));
	cr_assert_geq(io_now_ms() - start, READ_TIMEOUT_S * 1000 - 50);
	cr_assert_lt(io_now_ms() - start, READ_TIMEOUT_S * 1000 + 2000);
	assert_log("limits.read_timeout");
}

/* ---- The response ------------------------------------------------------- */

Test(uwsgi, status_line_is_raw_http)
{
	char buf[64];
	int n;

	n = proto_uwsgi.status_line(buf, sizeof(buf), 200, "OK");
	cr_assert_eq(n, 17);
	cr_assert_eq(memcmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	n = proto_uwsgi.status_line(buf, sizeof(buf), 404, "Not Found");
	cr_assert_eq(n, 24);
	cr_assert_eq(memcmp(buf, "HTTP/1.1 404 Not Found\r\n", 24), 0);
}

Test(uwsgi, send_writes_raw_bytes)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
	struct iovec iov[2] = {
		{ (void *)(uintptr_t)head, sizeof(head) - 1 },
		{ (void *)(uintptr_t)"hello", 5 },
	};
	char got[256];
	struct uwsgi_packet p;

	uwsgi_packet_request(&p, "GET", "/hello", "");
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	cr_assert_eq(proto_uwsgi.send(c, &req, iov, 2, sizeof(head) - 1 + 5, 1), 0);
	close_conn();
	peer_read_all(got, sizeof(got));
	cr_assert_str_eq(got, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
}

/* A whole request through request_run: the bytes nginx reads back. */
Test(uwsgi, response_is_raw_http_and_the_connection_closes)
{
	struct uwsgi_packet p;
	char got[1024];

	uwsgi_packet_request(&p, "GET", "/hello", "");
	assert_uwsgi_end(&p, 0, 0);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	request_run(&req);
	cr_assert_eq(proto_uwsgi.finish(c, &req), END_CLOSE, "the connection was not to be closed");
	close_conn();
	peer_read_all(got, sizeof(got));
	cr_assert_str_eq(got, "HTTP/1.1 200 OK\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: 3\r\n\r\nhi\n");
}

Test(uwsgi, handler_reads_exactly_the_body)
{
	struct uwsgi_packet p;
	char got[1024];
	char rest[16];

	/* 5 bytes with the packet, 7 from the socket: the handler's 3-byte
	 * reads end one byte into the last piece, not on its edge. */
	uwsgi_packet_request(&p, "POST", "/body", "12");
	assert_uwsgi_end(&p, 0, 0);
	uwsgi_packet_raw(&p, "hello", 5);
	cr_assert_eq(send_and_parse(p.b, p.len), PROTO_REQUEST);
	peer_send(" worldsEXTRA", 12);
	request_run(&req);
	cr_assert_eq(read(sv[0], rest, sizeof(rest)), 5, "the body read went past its length");
	close_conn();
	peer_read_all(got, sizeof(got));
	cr_assert_str_eq(got, "HTTP/1.1 200 OK\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: 12\r\n\r\nhello worlds");
}

/* The status line of the response to one packet run through request_run. */
static void run_packet(const struct uwsgi_packet *p, char *got, size_t cap)
{
	cr_assert_eq(send_and_parse(p->b, p->len), PROTO_REQUEST);
	request_run(&req);
	close_conn();
	peer_read_all(got, cap);
}

Test(uwsgi, malformed_content_length_is_400)
{
	static const char *const bad[] = {
		"-1", " 5", "5 ", "+5", "99999999999999999999999", "0x5", "5a", "5.0",
		"\t5", "1e3",
	};
	struct uwsgi_packet p;
	char got[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uwsgi_packet_request(&p, "POST", "/body", bad[i]);
		assert_uwsgi_end(&p, 0, 0);
		uwsgi_packet_raw(&p, "hello", 5);
		run_packet(&p, got, sizeof(got));
		cr_assert_eq(strncmp(got, "HTTP/1.1 400 Bad Request\r\n", 26), 0,
			     "CONTENT_LENGTH \"%s\" gave:\n%s", bad[i], got);
		reopen();
	}
	assert_log("malformed CONTENT_LENGTH");
}

Test(uwsgi, duplicate_content_length_is_400)
{
	static const char *const pairs[][2] = { { "5", "5" }, { "5", "0" }, { "", "5" } };
	struct uwsgi_packet p;
	char got[1024];

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		uwsgi_packet_request(&p, "POST", "/body", pairs[i][0]);
		uwsgi_packet_str(&p, "CONTENT_LENGTH", pairs[i][1]);
		assert_uwsgi_end(&p, 0, 0);
		uwsgi_packet_raw(&p, "hello", 5);
		run_packet(&p, got, sizeof(got));
		cr_assert_eq(strncmp(got, "HTTP/1.1 400 Bad Request\r\n", 26), 0,
			     "CONTENT_LENGTH \"%s\" and \"%s\" gave:\n%s",
			     pairs[i][0], pairs[i][1], got);
		reopen();
	}
	assert_log("duplicate CONTENT_LENGTH");
}

Test(uwsgi, content_length_up_to_max_body_bytes)
{
	struct uwsgi_packet p;
	char got[1024];

	cfg.limits.max_body_bytes = 5;
	uwsgi_packet_request(&p, "POST", "/body", "5");
	assert_uwsgi_end(&p, 0, 0);
	uwsgi_packet_raw(&p, "hello", 5);
	run_packet(&p, got, sizeof(got));
	cr_assert_eq(strncmp(got, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", got);

	reopen();
	uwsgi_packet_request(&p, "POST", "/body", "6");
	assert_uwsgi_end(&p, 0, 0);
	uwsgi_packet_raw(&p, "hello!", 6);
	run_packet(&p, got, sizeof(got));
	cr_assert_eq(strncmp(got, "HTTP/1.1 413 ", 13), 0, "%s", got);
}

Test(uwsgi, refused_block_is_answered_raw)
{
	struct uwsgi_packet p;
	char got[1024];

	set_max_params(2);
	uwsgi_packet_request(&p, "GET", "/hello", "");
	assert_uwsgi_end(&p, 0, 0);
	run_packet(&p, got, sizeof(got));
	cr_assert_eq(strncmp(got, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46), 0,
		     "%s", got);

	reopen();
	uwsgi_packet_begin(&p);
	uwsgi_packet_raw(&p, "\x09\x00", 2);
	assert_uwsgi_end(&p, 0, 0);
	run_packet(&p, got, sizeof(got));
	cr_assert_eq(strncmp(got, "HTTP/1.1 400 Bad Request\r\n", 26), 0, "%s", got);
}

Test(uwsgi, magic_variables_route_like_any_request)
{
	struct uwsgi_packet p;
	char plain[1024], magic[1024];

	uwsgi_packet_request(&p, "GET", "/hello", "");
	assert_uwsgi_end(&p, 0, 0);
	run_packet(&p, plain, sizeof(plain));
	reopen();
	uwsgi_packet_request(&p, "GET", "/hello", "");
	uwsgi_packet_str(&p, "UWSGI_FILE", "/tmp/evil.so");
	uwsgi_packet_str(&p, "UWSGI_SCRIPT", "evil");
	uwsgi_packet_str(&p, "UWSGI_MODULE", "evil");
	uwsgi_packet_str(&p, "UWSGI_CHDIR", "/");
	uwsgi_packet_str(&p, "SCRIPT_NAME", "");
	assert_uwsgi_end(&p, 0, 0);
	run_packet(&p, magic, sizeof(magic));
	cr_assert_str_eq(magic, plain);
	cr_assert_eq(strncmp(plain, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", plain);
}

/* ---- The last-word response --------------------------------------------- */

Test(uwsgi, emergency_builds_a_raw_response)
{
	static const char want[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: 5\r\n\r\nbusy\n";
	unsigned char buf[512];
	size_t n;

	n = proto_uwsgi.emergency(c, buf, sizeof(buf), 503, "Service Unavailable",
				  "text/plain", "busy\n", 5);
	cr_assert_eq(n, sizeof(want) - 1, "length %zu", n);
	cr_assert_eq(memcmp(buf, want, n), 0, "%.*s", (int)n, buf);

	/* Room for all of it (the appenders keep a NUL after the head). */
	cr_assert_eq(proto_uwsgi.emergency(c, buf, sizeof(want), 503, "Service Unavailable",
					   "text/plain", "busy\n", 5), sizeof(want) - 1);
	cr_assert_eq(memcmp(buf, want, sizeof(want) - 1), 0);
}

Test(uwsgi, emergency_refuses_a_small_buffer)
{
	unsigned char buf[512];

	for (size_t cap = 0; cap < 60; cap++) {
		cr_assert_eq(proto_uwsgi.emergency(c, buf, cap, 503, "Service Unavailable",
						   "text/plain", "busy\n", 5), 0,
			     "a %zu-byte buffer was filled", cap);
		cr_assert_eq(proto_uwsgi.emergency(c, buf, cap, 503, "Service Unavailable",
						   "text/plain", "", 0), 0,
			     "a %zu-byte buffer was filled with a cut head", cap);
	}
}
