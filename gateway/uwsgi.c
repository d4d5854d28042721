/*
 * uwsgi.c - the uwsgi protocol, as nginx's uwsgi_pass speaks it: our own
 * codec, strict.
 *
 * A request is a 4-byte header (modifier1, a 16-bit little-endian size,
 * modifier2), a block of that many bytes of variables (16-bit LE length,
 * name, 16-bit LE length, value, repeated, filling the block exactly),
 * then the body, raw, whose length comes only from CONTENT_LENGTH (one
 * length, one source: request.c's strict parser reads it for both).  A
 * body up to limits.body_buffer_size is received whole before the
 * handler starts (one that came with the head stays in the read buffer);
 * a bigger one streams under limits.min_rate.  The response is
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
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "header.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "request.h"

#define UWSGI_HEADER_LEN 4

enum { PH_IDLE, PH_BODY, PH_RUN, PH_DONE };

/* The codec's state, in the connection's pstate. */
struct uwsgi_state {
	int phase;
	long long length;	/* CONTENT_LENGTH as announced; -1: none or malformed */
	long long body_seen;	/* body bytes handed to the handler */
	int vars_over;		/* the variables block is past limits.max_params_bytes */
};

_Static_assert(sizeof(struct uwsgi_state) <= PROTO_STATE_SIZE, "uwsgi_state fits pstate");

static struct uwsgi_state *st(struct conn *c)
{
	return (struct uwsgi_state *)(void *)c->pstate;
}

static const struct uwsgi_state *cst(const struct conn *c)
{
	return (const struct uwsgi_state *)(const void *)c->pstate;
}

static unsigned le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/*
 * The pairs decoded from `first` on lie in block[0, upto), their length
 * bytes marked: end their strings with NULs, and keep those that lie
 * before the first NUL byte of block[0, upto), if there is one.  Returns
 * 1 if there is (a name or a value holds it), else 0.
 */
static int end_strings(struct sl_request *r, unsigned char *block, size_t first, size_t upto)
{
	const unsigned char *zero = memchr(block, '\0', upto);
	size_t stop = zero ? (size_t)(zero - block) : upto, i;

	for (i = first; i < r->nparams; i++) {
		const struct param *q = &r->params[i];
		size_t name = (size_t)((const unsigned char *)q->name - block);
		size_t value = (size_t)((const unsigned char *)q->value - block);

		if (value + q->value_len > stop)
			break;
		block[name + q->name_len] = '\0';
		block[value + q->value_len] = '\0';
	}
	r->nparams = i;
	return zero != NULL;
}

/*
 * Decode the variables block into the request, in place.  Every size is
 * checked against what is left of the block, which must be consumed
 * exactly; each length byte is marked once read, so that one scan of the
 * whole block (end_strings) finds a NUL only inside a name or a value:
 * uwsgi's 16-bit lengths hold a NUL in nearly every pair, and a scan per
 * string costs more than the strings.  Each name then ends with a NUL
 * over the first byte of its value's length, and each value over the
 * first length byte of the next name (the last one in the byte past the
 * block, conn_params_room).  The strings stay in the block, which the
 * request then holds.  Returns 0, or -1 (logged) when it is refused: the
 * pairs before the fault are kept, as the log and error page see them.
 */
static int decode_vars(struct sl_request *r, unsigned char *block, size_t len)
{
	unsigned char *p = block, *end = block + len;
	size_t first = r->nparams;

	while (p < end) {
		unsigned char *name, *value;
		size_t nlen, vlen;
		struct param *slot;

		/* Both lengths and the name within the block, then the value. */
		if (end - p < 4)
			goto bad;
		nlen = le16(p);
		name = p + 2;
		if (nlen > (size_t)(end - name) - 2)
			goto bad;
		vlen = le16(name + nlen);
		value = name + nlen + 2;
		if (vlen > (size_t)(end - value))
			goto bad;
		if (!(slot = request_param_slot(r))) {
			if (end_strings(r, block, first, (size_t)(p - block)))
				return request_param_nul(r);
			return request_params_full(r);
		}
		*slot = (struct param){ (const char *)name, (const char *)value, nlen, vlen };
		memset(p, 0xff, 2);
		memset(name + nlen, 0xff, 2);
		p = value + vlen;
	}
	return end_strings(r, block, first, len) ? request_param_nul(r) : 0;
bad:
	if (end_strings(r, block, first, (size_t)(p - block)))
		return request_param_nul(r);
	log_msg(LOG_WARNING, "uwsgi protocol error: a variable's size runs past the "
		"%zu-byte block; answering 400", len);
	r->early_status = 400;
	return -1;
}

/*
 * CONTENT_LENGTH from the variables block, parsed as request.c will parse
 * it, so that the body the codec gathers is the body the request has.
 * The first one found decides, as for FastCGI (worth_gathering): the
 * walk ends there, and a repeated one is refused by request.c anyway.  A
 * malformed one, or a malformed block before it, gathers nothing.
 */
static long long announced_length(const unsigned char *p, size_t len)
{
	static const char name[] = "CONTENT_LENGTH";
	const unsigned char *end = p + len;
	long long v = -1;

	while (end - p >= 2) {
		size_t nlen = le16(p), vlen;
		const unsigned char *n = p + 2;

		if (nlen > (size_t)(end - n) || end - (n + nlen) < 2)
			return -1;
		vlen = le16(n + nlen);
		if (vlen > (size_t)(end - (n + nlen + 2)))
			return -1;
		if (nlen == sizeof(name) - 1 && memcmp(n, name, nlen) == 0)
			return request_parse_length((const char *)n + nlen + 2, vlen, &v) < 0 ? -1 : v;
		p = n + nlen + 2 + vlen;
	}
	return v;
}

/*
 * The head is in: keep its variables block with the connection, and
 * gather the body.  The block is decoded into the request only when the
 * request is about to run (start_request): while this body arrives, the
 * worker may serve other connections' requests in the one request
 * structure it has.
 */
static enum proto_rc head_done(struct conn *c, const unsigned char *vars, size_t size)
{
	struct uwsgi_state *s = st(c);

	s->length = announced_length(vars, size);
	s->body_seen = 0;
	s->vars_over = size > c->cfg->limits.max_params_bytes;
	c->body_len = c->body_off = 0;
	c->params_len = 0;
	if (!s->vars_over && size > 0) {
		if (conn_params_room(c, size, c->cfg->limits.max_params_bytes) < 0) {
			s->vars_over = 1;	/* out of memory: refused like an oversized block */
		} else {
			memcpy(c->params, vars, size);
			c->params_len = size;
		}
	}
	c->start += UWSGI_HEADER_LEN + size;
	s->phase = PH_BODY;
	return PROTO_AGAIN;
}

/* The request runs now: decode its variables into `r`, which holds the block. */
static enum proto_rc start_request(struct conn *c, struct sl_request *r)
{
	struct uwsgi_state *s = st(c);

	request_begin(r, c);
	if (s->vars_over) {
		log_msg(LOG_WARNING, "request variables exceed limits.max_params_bytes (%zu); "
			"answering 431", c->cfg->limits.max_params_bytes);
		r->early_status = 431;
	} else if (c->params_len > 0) {	/* an empty block left params NULL */
		decode_vars(r, c->params, c->params_len);
		request_note_params(r, 0);
	}
	conn_hold_params(c);
	s->phase = PH_RUN;
	return PROTO_REQUEST;
}

/*
 * A body of up to limits.body_buffer_size is gathered before the handler
 * starts; a bigger one streams, and one over limits.max_body_bytes is
 * refused with 413 unread.  One already whole in the buffer stays there.
 */
static int gathered_enough(struct conn *c)
{
	const struct uwsgi_state *s = cst(c);
	long long want = s->length > 0 ? s->length : 0;
	size_t have = c->end - c->start;

	if (want > (long long)c->cfg->limits.body_buffer_size ||
	    want > c->cfg->limits.max_body_bytes)
		want = 0;
	if (c->body_len == 0 && (long long)have >= want)
		return 1;
	if ((long long)c->body_len < want && have > 0) {
		size_t n = (size_t)(want - (long long)c->body_len);

		if (n > have)
			n = have;
		if (conn_append(&c->body, &c->body_len, &c->body_cap, c->in + c->start, n,
				c->cfg->limits.body_buffer_size) < 0)
			return 1;	/* out of memory: stream it instead */
		c->start += n;
	}
	return (long long)c->body_len >= want;
}

/*
 * The request is decoded into `r` as soon as its head is in (uwsgi has no
 * records to interleave), then the body is gathered; PROTO_REQUEST once
 * it is whole or big enough to stream.
 */
static enum proto_rc uwsgi_parse(struct conn *c, struct sl_request *r)
{
	struct uwsgi_state *s = st(c);
	const unsigned char *h = c->in + c->start;
	size_t avail = c->end - c->start, size;

	if (s->phase == PH_BODY)
		return gathered_enough(c) ? start_request(c, r) : PROTO_AGAIN;
	if (s->phase != PH_IDLE) {
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
	if (avail < UWSGI_HEADER_LEN + size) {
		conn_reserve(c, UWSGI_HEADER_LEN + size);
		return PROTO_AGAIN;
	}
	head_done(c, h + UWSGI_HEADER_LEN, size);
	return uwsgi_parse(c, r);
}

static enum proto_phase uwsgi_phase(const struct conn *c)
{
	int ph = cst(c)->phase;

	if (ph == PH_BODY)
		return PHASE_BODY;
	return ph == PH_IDLE && c->start == c->end ? PHASE_IDLE : PHASE_HEAD;
}

/*
 * The body: exactly CONTENT_LENGTH bytes (none without it), first the
 * gathered ones, then what the buffer holds, then straight from the
 * socket into the handler's buffer under limits.min_rate.
 */
static ssize_t uwsgi_read_body(struct conn *c, struct sl_request *r, void *buf, size_t len)
{
	struct uwsgi_state *s = st(c);
	long long left = r->content_length > 0 ? r->content_length - s->body_seen : 0;
	size_t have = c->end - c->start;
	ssize_t n;

	if (left <= 0) {
		r->body_done = 1;
		return 0;
	}
	if ((long long)len > left)
		len = (size_t)left;
	if (c->body_off < c->body_len) {
		n = (ssize_t)(c->body_len - c->body_off < len ? c->body_len - c->body_off : len);
		memcpy(buf, c->body + c->body_off, (size_t)n);
		c->body_off += (size_t)n;
	} else if (have > 0) {
		n = (ssize_t)(have < len ? have : len);
		memcpy(buf, c->in + c->start, (size_t)n);
		c->start += (size_t)n;
	} else {
		long long deadline = conn_xfer_deadline(c, c->rx, c->cfg->limits.read_timeout);

		n = io_read_wait(c->fd, buf, len, deadline);
		if (n == 0)
			errno = ECONNABORTED;
		if (n <= 0) {
			if (errno == ETIMEDOUT)
				log_msg(LOG_WARNING, "request body slower than limits.min_rate "
					"(%lld bytes/s after limits.read_timeout %ds); closing the "
					"connection", c->cfg->limits.min_rate, c->cfg->limits.read_timeout);
			return -1;
		}
		c->rx += n;
	}
	s->body_seen += n;
	return n;
}

/* The response goes out raw. */
static int uwsgi_send(struct conn *c, struct sl_request *r, struct iovec *iov,
		      int iovcnt, size_t total, int last)
{
	(void)r;
	(void)total;
	if (last)
		st(c)->phase = PH_DONE;
	return conn_send(c, iov, iovcnt, !last);
}

/* nginx opens a connection per uwsgi request: this one is done. */
static enum proto_end uwsgi_finish(struct conn *c, const struct sl_request *r)
{
	const struct uwsgi_state *s = cst(c);
	size_t held = c->end - c->start + c->body_len - c->body_off;

	/* Nothing of the body still in the socket: no need to linger. */
	return r->body_done || r->client_gone || s->length <= 0 ||
	       (long long)held >= s->length - s->body_seen ? END_CLOSE : END_LINGER;
}

static int uwsgi_reusable(const struct conn *c, const struct sl_request *r)
{
	(void)c;
	(void)r;
	return 0;
}

/* nginx's uwsgi module reads the head as HTTP's. */
#define UWSGI_STATUS_PREFIX "HTTP/1.1 "

static int uwsgi_status_line(char *buf, size_t len, int status, const char *reason)
{
	return (int)header_status_line_kept(buf, len, UWSGI_STATUS_PREFIX, status, reason);
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
	.phase = uwsgi_phase,
	.read_body = uwsgi_read_body,
	.send = uwsgi_send,
	.finish = uwsgi_finish,
	.reusable = uwsgi_reusable,
	.status_line = uwsgi_status_line,
	.emergency = uwsgi_emergency,
};
