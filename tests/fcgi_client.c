/*
 * fcgi_client.c - the raw FastCGI client the integration suites share:
 * records built byte by byte, a non-blocking connection, and a reader
 * that takes records one at a time against a deadline.
 *
 * The reader keeps what the peer delivered in the connection's buffer
 * and parses from an offset, so a record split across reads, or a
 * peer that closes in the middle of one, is seen as such (FC_R_TORN)
 * rather than mistaken for the end of the stream.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fcgi_client.h"
#include "harness.h"

#define SEND_TIMEOUT_MS	5000	/* a peer that reads nothing for this long is stuck */

/* ---- Byte buffers ------------------------------------------------------ */

void fcgi_client_buf_add(struct fcgi_buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

void fcgi_client_buf_byte(struct fcgi_buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	fcgi_client_buf_add(b, &c, 1);
}

void fcgi_client_buf_str(struct fcgi_buf *b, const char *s)
{
	fcgi_client_buf_add(b, s, strlen(s));
}

void fcgi_client_buf_free(struct fcgi_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- Building records -------------------------------------------------- */

void fcgi_client_header(struct fcgi_buf *b, unsigned version, unsigned type,
			unsigned id, size_t clen, size_t plen)
{
	unsigned char h[8] = {
		(unsigned char)version, (unsigned char)type,
		(unsigned char)(id >> 8), (unsigned char)id,
		(unsigned char)(clen >> 8), (unsigned char)clen,
		(unsigned char)plen, 0,
	};

	fcgi_client_buf_add(b, h, sizeof(h));
}

void fcgi_client_record_pad(struct fcgi_buf *b, unsigned type, unsigned id,
			    const void *content, size_t clen, size_t plen)
{
	fcgi_client_header(b, 1, type, id, clen, plen);
	fcgi_client_buf_add(b, content, clen);
	for (size_t i = 0; i < plen; i++)
		fcgi_client_buf_byte(b, 0xa5);
}

void fcgi_client_record(struct fcgi_buf *b, unsigned type, unsigned id,
			const void *content, size_t clen)
{
	fcgi_client_record_pad(b, type, id, content, clen, (8 - clen % 8) % 8);
}

void fcgi_client_begin(struct fcgi_buf *b, unsigned id, unsigned role, unsigned flags)
{
	unsigned char body[8] = { (unsigned char)(role >> 8), (unsigned char)role,
				  (unsigned char)flags, 0, 0, 0, 0, 0 };

	fcgi_client_record(b, FC_BEGIN, id, body, sizeof(body));
}

/* The 4-byte form sets the top bit and carries 31 bits (section 3.4). */
void fcgi_client_len(struct fcgi_buf *b, size_t n, int long_form)
{
	if (n < 128 && !long_form) {
		fcgi_client_buf_byte(b, (unsigned)n);
		return;
	}
	fcgi_client_buf_byte(b, 0x80 | (unsigned)(n >> 24 & 0x7f));
	fcgi_client_buf_byte(b, (unsigned)(n >> 16));
	fcgi_client_buf_byte(b, (unsigned)(n >> 8));
	fcgi_client_buf_byte(b, (unsigned)n);
}

void fcgi_client_pair(struct fcgi_buf *b, const char *name, const char *value)
{
	fcgi_client_len(b, strlen(name), 0);
	fcgi_client_len(b, strlen(value), 0);
	fcgi_client_buf_str(b, name);
	fcgi_client_buf_str(b, value);
}

void fcgi_client_stream(struct fcgi_buf *b, unsigned type, unsigned id,
			const void *data, size_t len, size_t chunk)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n = len < chunk ? len : chunk;

		fcgi_client_record(b, type, id, p, n);
		p += n;
		len -= n;
	}
	fcgi_client_record(b, type, id, NULL, 0);
}

void fcgi_client_params(struct fcgi_buf *pb, const char *method, const char *uri,
			const char *clen)
{
	const char *q = strchr(uri, '?');
	char path[1024];

	snprintf(path, sizeof(path), "%.*s", q ? (int)(q - uri) : (int)strlen(uri), uri);
	fcgi_client_pair(pb, "REQUEST_METHOD", method);
	fcgi_client_pair(pb, "REQUEST_URI", uri);
	fcgi_client_pair(pb, "DOCUMENT_URI", path);
	fcgi_client_pair(pb, "SCRIPT_NAME", path);
	fcgi_client_pair(pb, "QUERY_STRING", q ? q + 1 : "");
	fcgi_client_pair(pb, "SERVER_PROTOCOL", "HTTP/1.1");
	if (clen != NULL)
		fcgi_client_pair(pb, "CONTENT_LENGTH", clen);
}

void fcgi_client_request(struct fcgi_buf *b, unsigned id, unsigned flags,
			 const struct fcgi_buf *params, const void *body, size_t body_len)
{
	fcgi_client_begin(b, id, FC_RESPONDER, flags);
	fcgi_client_stream(b, FC_PARAMS, id, params->p, params->len, 65535);
	fcgi_client_stream(b, FC_STDIN, id, body, body_len, 32768);
}

/* ---- The connection ---------------------------------------------------- */

int fcgi_client_open(struct fcgi_conn *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = harness_connect_unix(path);
	if (c->fd < 0)
		return -1;
	return fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

int fcgi_client_open_tcp(struct fcgi_conn *c, const char *from, int port)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (inet_pton(AF_INET, from, &src.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		return -1;
	return fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

void fcgi_client_close(struct fcgi_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	fcgi_client_buf_free(&c->in);
}

/* Whatever one read brings; a reset counts as the peer closing. */
static void read_some(struct fcgi_conn *c)
{
	unsigned char tmp[65536];
	ssize_t n = read(c->fd, tmp, sizeof(tmp));

	if (n > 0)
		fcgi_client_buf_add(&c->in, tmp, (size_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		c->closed = 1;
}

int fcgi_client_fill(struct fcgi_conn *c, int ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	size_t before = c->in.len;
	long deadline = harness_now_ms() + ms;

	while (!c->closed && c->in.len == before) {
		long left = deadline - harness_now_ms();
		int k = poll(&pfd, 1, left > 0 ? (int)left : 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		read_some(c);
	}
	return c->in.len > before ? 1 : 0;
}

int fcgi_client_send(struct fcgi_conn *c, const void *data, size_t n)
{
	const unsigned char *p = data;
	long deadline = harness_now_ms() + SEND_TIMEOUT_MS;

	while (n > 0) {
		struct pollfd pfd = { .fd = c->fd,
				      .events = POLLOUT | (c->closed ? 0 : POLLIN) };
		long left = deadline - harness_now_ms();
		ssize_t w;

		if (left <= 0 || poll(&pfd, 1, (int)left) < 0)
			return -1;
		if (pfd.revents & POLLIN)
			read_some(c);
		if (!(pfd.revents & (POLLOUT | POLLERR | POLLHUP)))
			continue;
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 1 when `n` unparsed bytes are there, 0 when the peer closed first, -1 on timeout. */
static int need(struct fcgi_conn *c, size_t n, long deadline)
{
	while (c->in.len - c->off < n) {
		long left = deadline - harness_now_ms();
		int k = fcgi_client_fill(c, left > 0 ? (int)left : 0);

		if (k <= 0)
			return k;
	}
	return 1;
}

/* ---- Reading records --------------------------------------------------- */

int fcgi_client_read_record(struct fcgi_conn *c, struct fcgi_rec *r, int ms)
{
	long deadline = harness_now_ms() + ms;
	const unsigned char *h;
	int k = need(c, 8, deadline);

	if (k == 0)
		return c->in.len == c->off ? FC_R_CLOSED : FC_R_TORN;
	if (k < 0)
		return FC_R_TIMEOUT;
	h = c->in.p + c->off;
	r->version = h[0];
	r->type = h[1];
	r->id = (unsigned)h[2] << 8 | h[3];
	r->clen = (size_t)h[4] << 8 | h[5];
	r->plen = h[6];
	k = need(c, 8 + r->clen + r->plen, deadline);
	if (k <= 0)
		return k == 0 ? FC_R_TORN : FC_R_TIMEOUT;
	memcpy(r->c, c->in.p + c->off + 8, r->clen);
	c->off += 8 + r->clen + r->plen;
	if (c->off == c->in.len)
		c->off = c->in.len = 0;
	return FC_R_END;
}

static void note_other(struct fcgi_resp *rs, const struct fcgi_rec *r)
{
	if (rs->nother < FC_MAX_OTHER) {
		rs->other[rs->nother].type = r->type;
		rs->other[rs->nother].id = r->id;
		rs->other[rs->nother].clen = r->clen;
		memcpy(rs->other[rs->nother].c, r->c, r->clen < 8 ? r->clen : 8);
	}
	rs->nother++;
}

/* END_REQUEST's body: appStatus (4 bytes, big-endian), then protocolStatus. */
static void note_end(struct fcgi_resp *rs, const struct fcgi_rec *r)
{
	rs->end = FC_R_END;
	rs->end_clen = r->clen;
	if (r->clen >= 5) {
		rs->app_status = (unsigned)r->c[0] << 24 | (unsigned)r->c[1] << 16 |
				 (unsigned)r->c[2] << 8 | r->c[3];
		rs->proto_status = r->c[4];
	}
}

static void note_stdout(struct fcgi_resp *rs, const struct fcgi_rec *r)
{
	if (rs->stdout_ended)
		rs->stdout_after_end = 1;
	if (r->clen == 0)
		rs->stdout_ended = 1;
	else
		rs->nstdout++;
	fcgi_client_buf_add(&rs->out, r->c, r->clen);
}

void fcgi_client_read_response(struct fcgi_conn *c, unsigned id, struct fcgi_resp *rs,
			       int ms)
{
	struct fcgi_rec *r = malloc(sizeof(*r));
	long deadline = harness_now_ms() + ms;

	if (r == NULL)
		abort();
	memset(rs, 0, sizeof(*rs));
	for (;;) {
		long left = deadline - harness_now_ms();
		int k = fcgi_client_read_record(c, r, left > 0 ? (int)left : 0);

		if (k != FC_R_END) {
			rs->end = k;
			break;
		}
		if (r->version != 1)
			rs->bad_version++;
		if (r->id == id && r->type == FC_STDOUT) {
			note_stdout(rs, r);
		} else if (r->id == id && r->type == FC_STDERR) {
			rs->nstderr++;
		} else if (r->id == id && r->type == FC_END) {
			note_end(rs, r);
			break;
		} else {
			note_other(rs, r);
		}
	}
	free(r);
}

void fcgi_client_resp_free(struct fcgi_resp *rs)
{
	fcgi_client_buf_free(&rs->out);
}
