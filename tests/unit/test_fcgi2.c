/*
 * test_fcgi2.c - sluice-fcgi (gateway/fcgi2/) from the program's side:
 * requests built byte by byte with the raw client, sent on a real unix
 * socket, taken by FCGX_Accept_r in the test's own process, and the
 * records that come back read and checked.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <criterion/criterion.h>

#include "fcgi2/fcgiapp.h"
#include "fcgi_client.h"
#include "harness.h"

static char dir[128], path[192];
static int lfd = -1;

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	cr_assert_eq(harness_make_dir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/app.sock", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		  listen(lfd, 8) == 0);
}

static void teardown(void)
{
	close(lfd);
	harness_remove_dir(dir);
}

TestSuite(fcgi2, .init = setup, .fini = teardown, .timeout = 30);

/* Connect and send a request for `uri` with `body`, as nginx would. */
static void send_request(struct fcgi_conn *c, const char *method, const char *uri,
			 const char *body, unsigned flags)
{
	struct fcgi_buf req = { 0 }, params = { 0 };
	char clen[32];

	snprintf(clen, sizeof(clen), "%zu", body ? strlen(body) : (size_t)0);
	cr_assert_eq(fcgi_client_open(c, path), 0);
	fcgi_client_params(&params, method, uri, body ? clen : NULL);
	fcgi_client_request(&req, 1, flags, &params, body, body ? strlen(body) : 0);
	cr_assert_eq(fcgi_client_send(c, req.p, req.len), 0);
	fcgi_client_buf_free(&req);
	fcgi_client_buf_free(&params);
}

Test(fcgi2, params_streams_and_exit_status)
{
	struct fcgi_conn c = { .fd = -1 };
	struct fcgi_resp rs;
	FCGX_Request rq;
	char line[64], rest[64];
	int n;

	send_request(&c, "POST", "/echo?x=1", "first line\nsecond", 0);
	cr_assert_eq(FCGX_InitRequest(&rq, lfd, 0), 0);
	cr_assert_eq(FCGX_Accept_r(&rq), 0);
	cr_expect_str_eq(FCGX_GetParam("REQUEST_METHOD", rq.envp), "POST");
	cr_expect_str_eq(FCGX_GetParam("QUERY_STRING", rq.envp), "x=1");
	cr_expect_null(FCGX_GetParam("QUERY", rq.envp), "a prefix of a name is not the name");
	cr_expect_eq(rq.role, 1);
	cr_expect_str_eq(FCGX_GetLine(line, sizeof(line), rq.in), "first line\n");
	cr_expect_eq(FCGX_GetChar(rq.in), 's');
	cr_expect_eq(FCGX_UnGetChar('s', rq.in), 's');
	n = FCGX_GetStr(rest, sizeof(rest), rq.in);
	cr_expect_eq(n, 6);
	cr_expect_eq(memcmp(rest, "second", 6), 0);
	cr_expect_eq(FCGX_HasSeenEOF(rq.in), EOF);
	cr_expect_eq(FCGX_GetChar(rq.in), EOF);
	FCGX_FPrintF(rq.out, "Status: 200 OK\r\n\r\n%s %d", "n", n);
	FCGX_PutS("warned\n", rq.err);
	FCGX_SetExitStatus(3, rq.out);
	FCGX_Finish_r(&rq);
	fcgi_client_read_response(&c, 1, &rs, 5000);
	cr_expect_eq(rs.end, FC_R_END);
	cr_expect_eq(rs.app_status, 3u);
	cr_expect_eq(rs.nstderr, 2, "STDERR: its content and the empty record that ends it");
	cr_expect(rs.stdout_ended, "no empty STDOUT record");
	cr_expect(rs.out.len == 21 && memcmp(rs.out.p, "Status: 200 OK\r\n\r\nn 6", 21) == 0,
		  "stdout: %.*s", (int)rs.out.len, rs.out.p);
	fcgi_client_resp_free(&rs);
	fcgi_client_close(&c);
}

/* A refused request never reaches the program, which gets the next connection's. */
Test(fcgi2, oversized_and_malformed_params_are_answered_by_the_library)
{
	struct fcgi_conn big = { .fd = -1 }, bad = { .fd = -1 }, good = { .fd = -1 };
	struct fcgi_buf b = { 0 }, pairs = { 0 };
	struct fcgi_resp rs;
	FCGX_Request rq;
	char *value = malloc(70000);

	cr_assert_not_null(value);
	memset(value, 'v', 69999);
	value[69999] = '\0';
	fcgi_client_begin(&b, 1, FC_RESPONDER, 0);
	fcgi_client_pair(&pairs, "HTTP_X_BIG", value);
	for (size_t off = 0; off < pairs.len; off += 60000)
		fcgi_client_record(&b, FC_PARAMS, 1, pairs.p + off,
				   pairs.len - off < 60000 ? pairs.len - off : 60000);
	fcgi_client_record(&b, FC_PARAMS, 1, NULL, 0);
	fcgi_client_record(&b, FC_STDIN, 1, NULL, 0);
	cr_assert_eq(fcgi_client_open(&big, path), 0);
	cr_assert_eq(fcgi_client_send(&big, b.p, b.len), 0);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pairs);

	fcgi_client_begin(&b, 1, FC_RESPONDER, 0);
	fcgi_client_len(&pairs, 200, 1);
	fcgi_client_len(&pairs, 1, 0);
	fcgi_client_buf_str(&pairs, "short");
	fcgi_client_record(&b, FC_PARAMS, 1, pairs.p, pairs.len);
	fcgi_client_record(&b, FC_PARAMS, 1, NULL, 0);
	cr_assert_eq(fcgi_client_open(&bad, path), 0);
	cr_assert_eq(fcgi_client_send(&bad, b.p, b.len), 0);

	send_request(&good, "GET", "/fine", NULL, 0);
	cr_assert_eq(FCGX_InitRequest(&rq, lfd, 0), 0);
	cr_assert_eq(FCGX_Accept_r(&rq), 0);
	cr_expect_str_eq(FCGX_GetParam("DOCUMENT_URI", rq.envp), "/fine");

	fcgi_client_read_response(&big, 1, &rs, 5000);
	cr_expect(rs.end == FC_R_END && rs.out.len > 12 && memcmp(rs.out.p, "Status: 431", 11) == 0,
		  "the oversized request got no 431");
	fcgi_client_resp_free(&rs);
	fcgi_client_read_response(&bad, 1, &rs, 5000);
	cr_expect(rs.end == FC_R_END && rs.out.len > 12 && memcmp(rs.out.p, "Status: 400", 11) == 0,
		  "the malformed request got no 400");
	fcgi_client_resp_free(&rs);
	FCGX_Finish_r(&rq);
	fcgi_client_buf_free(&b);
	fcgi_client_buf_free(&pairs);
	fcgi_client_close(&big);
	fcgi_client_close(&bad);
	fcgi_client_close(&good);
	free(value);
}

/* A writer's records: at most 65535 bytes of content each, then the empty one. */
Test(fcgi2, writer_splits_records_and_ends_the_stream)
{
	struct fcgi_conn c = { .fd = -1 };
	struct fcgi_rec *r = malloc(sizeof(*r));
	FCGX_Stream *w;
	char *data = malloc(100000);
	int sv[2];
	size_t total = 0, records = 0;

	cr_assert(r && data);
	memset(data, 'd', 100000);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	w = FCGX_CreateWriter(sv[0], 5, 0, 6);
	cr_assert_not_null(w);
	c.fd = sv[1];
	cr_expect_eq(FCGX_PutStr(data, 100000, w), 100000);
	cr_expect_eq(FCGX_FClose(w), 0);
	for (;;) {
		cr_assert_eq(fcgi_client_read_record(&c, r, 5000), FC_R_END);
		cr_expect_eq(r->type, 6u);
		cr_expect_eq(r->id, 5u);
		cr_expect_eq(r->plen, (8 - (r->clen & 7)) & 7, "padding to a multiple of 8");
		if (r->clen == 0)
			break;
		total += r->clen;
		records++;
	}
	cr_expect_eq(total, 100000u);
	cr_expect_geq(records, 2u);
	FCGX_FreeStream(&w);
	cr_expect_null(w);
	close(sv[0]);
	fcgi_client_close(&c);
	free(data);
	free(r);
}

/* Stream calls on what is not there fail cleanly: no crash, no write. */
Test(fcgi2, misuse_fails_cleanly)
{
	FCGX_Request rq;
	char buf[8];

	cr_expect_eq(FCGX_GetChar(NULL), EOF);
	cr_expect_eq(FCGX_PutS("x", NULL), -1);
	cr_expect_null(FCGX_GetParam("A", NULL));
	cr_assert_eq(FCGX_InitRequest(&rq, lfd, 0), 0);
	FCGX_Finish_r(&rq);
	cr_expect_eq(FCGX_GetStr(buf, sizeof(buf), rq.in), 0);
	cr_expect_eq(FCGX_Detach(&rq), -1, "no connection to detach");
	FCGX_ShutdownPending();
	cr_expect_eq(FCGX_Accept_r(&rq), -1, "a pending shutdown must end the loop");
}
