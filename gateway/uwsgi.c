/*
 * uwsgi.c - the uwsgi protocol, as nginx's uwsgi_pass speaks it: our own
 * codec, strict.
 *
 * A request is a 4-byte header (modifier1, a 16-bit little-endian size,
 * modifier2), a block of that many bytes of variables (16-bit LE length,
 * name, 16-bit LE length, value, repeated, filling the block exactly),
 * then the body, raw, whose length comes only from CONTENT_LENGTH (one
 * length, one source: request.c parses it strictly).  The response is
 * written raw, an HTTP status line first; nginx opens a connection per
 * uwsgi request, so the connection is closed after each response.
 *
 * Only modifier1 0 (a request with variables) is served.  No variable
 * ever changes routing or configuration: uWSGI's "magic variables"
 * (UWSGI_FILE, UWSGI_SCRIPT, ...) are ordinary parameters here, a known
 * hole closed by not having it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "header.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "request.h"

#define UWSGI_HEADER_LEN 4

enum { PH_IDLE, PH_BODY };

static unsigned le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/*
 * Decode the variables block into the request.  Every size is checked
 * against what is left of the block, and the block must be consumed
 * exactly.  Returns 0, or -1 (logged) when it is malformed.
 */
static int decode_vars(struct sl_request *r, const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len;

	while (p < end) {
		const unsigned char *name, *value;
		size_t nlen, vlen;

		if (end - p < 2 || (nlen = le16(p)) > (size_t)(end - p) - 2)
			goto bad;
		name = p + 2;
		p = name + nlen;
		if (end - p < 2 || (vlen = le16(p)) > (size_t)(end - p) - 2)
			goto bad;
		value = p + 2;
		p = value + vlen;
		if (request_add_param(r, (const char *)name, nlen, (const char *)value, vlen) < 0)
			return -1;
	}
	return 0;
bad:
	log_msg(LOG_WARNING, "uwsgi protocol error: a variable's size runs past the "
		"%zu-byte block; answering 400", len);
	r->early_status = 400;
	return -1;
}

static enum proto_rc uwsgi_parse(struct conn *c, struct sl_request *r)
{
	const unsigned char *h = c->in + c->start;
	size_t avail = c->end - c->start, size;

	if (c->st.phase != PH_IDLE) {
		/* One request per connection: anything after it is an error. */
		log_msg(LOG_WARNING, "uwsgi protocol error: bytes after the request; "
			"closing the connection");
		return PROTO_CLOSE;
	}
	if (avail < UWSGI_HEADER_LEN)
		return PROTO_AGAIN;
	if (h[0] != 0) {
		log_msg(LOG_WARNING, "uwsgi: modifier1 %u is not served (only 0, a request "
			"with variables); closing the connection", h[0]);
		return PROTO_CLOSE;
	}
	size = le16(h + 1);
	if (avail < UWSGI_HEADER_LEN + size)
		return PROTO_AGAIN;
	c->start += UWSGI_HEADER_LEN + size;
	c->st.phase = PH_BODY;
	c->st.body_seen = 0;
	request_begin(r, c);
	if (size > c->cfg->limits.max_params_bytes) {
		log_msg(LOG_WARNING, "request variables exceed limits.max_params_bytes (%zu); "
			"answering 431", c->cfg->limits.max_params_bytes);
		r->early_status = 431;
		return PROTO_REQUEST;
	}
	decode_vars(r, h + UWSGI_HEADER_LEN, size);
	return PROTO_REQUEST;
}

/*
 * The body: exactly CONTENT_LENGTH bytes (none without it), first from
 * what the buffer already holds, then straight from the socket into the
 * handler's buffer, waiting up to the read timeout.
 */
static ssize_t uwsgi_read_body(struct conn *c, struct sl_request *r, void *buf, size_t len)
{
	long long left = r->content_length > 0 ? r->content_length - c->st.body_seen : 0;
	size_t have = c->end - c->start;
	ssize_t n;

	if (left <= 0) {
		r->body_done = 1;
		return 0;
	}
	if ((long long)len > left)
		len = (size_t)left;
	if (have > 0) {
		n = (ssize_t)(have < len ? have : len);
		memcpy(buf, c->in + c->start, (size_t)n);
		c->start += (size_t)n;
	} else {
		n = io_read_wait(c->fd, buf, len,
				 io_now_ms() + c->cfg->limits.read_timeout * 1000LL);
		if (n == 0)
			errno = ECONNABORTED;
		if (n <= 0) {
			if (errno == ETIMEDOUT)
				log_msg(LOG_WARNING, "request body stalled past limits.read_timeout "
					"(%ds); closing the connection", c->cfg->limits.read_timeout);
			return -1;
		}
	}
	c->st.body_seen += n;
	return n;
}

/* The response goes out raw; the connection closes after the last piece. */
static int uwsgi_send(struct conn *c, struct sl_request *r, struct iovec *iov,
		      int iovcnt, size_t total, int last)
{
	(void)r;
	(void)total;
	if (last) {
		/* nginx opens a connection per uwsgi request: this one is done. */
		c->st.phase = PH_IDLE;
		c->close_after = 1;
	}
	return io_writev_all(c->fd, iov, iovcnt, c->cfg->limits.write_timeout * 1000);
}

/* nginx's uwsgi module reads the head as HTTP's. */
#define UWSGI_STATUS_PREFIX "HTTP/1.1 "

static int uwsgi_status_line(char *buf, size_t len, int status, const char *reason)
{
	return (int)header_status_line(buf, len, UWSGI_STATUS_PREFIX, status, reason);
}

/* The whole last-word response, raw.  Signal-safe appenders only. */
static size_t uwsgi_emergency(const struct conn *c, unsigned char *buf, size_t cap,
			      int status, const char *reason, const char *type,
			      const char *body, size_t body_len)
{
	size_t n = header_canned_head((char *)buf, cap, UWSGI_STATUS_PREFIX, status, reason,
				      type, body_len);

	(void)c;
	if (n == 0 || n + body_len + 1 > cap)
		return 0;
	memcpy(buf + n, body, body_len);
	return n + body_len;
}

const struct proto proto_uwsgi = {
	.name = "uwsgi",
	.parse = uwsgi_parse,
	.read_body = uwsgi_read_body,
	.send = uwsgi_send,
	.status_line = uwsgi_status_line,
	.emergency = uwsgi_emergency,
};
