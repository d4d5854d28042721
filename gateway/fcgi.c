/*
 * fcgi.c - the FastCGI 1.0 responder, our own codec.
 *
 * fcgi2's libfcgi is not used: it aborts the process on some malformed
 * records, has no deadlines or caps, and pins a process to every idle
 * kept-alive connection.  This codec is strict (a peer that breaks the
 * protocol loses its connection, with a log line, and nothing else) and
 * works on a connection's input buffer in place: the buffer holds one
 * whole record, so a record is only looked at once it is complete.
 *
 * A connection goes through three phases per request:
 *   IDLE    waiting for BEGIN_REQUEST (management records answered);
 *   PARAMS  gathering the PARAMS stream until its empty record;
 *   BODY    the handler runs and pulls STDIN through fcgi_read_body.
 * Section numbers below refer to the FastCGI 1.0 specification.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "fcgi.h"
#include "header.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "request.h"
#include "safefmt.h"

enum { PH_IDLE, PH_PARAMS, PH_BODY };

/* A FastCGI responder's head is CGI's: the status is a header. */
#define FCGI_STATUS_PREFIX "Status: "


/* Records built per writev before it is sent; bounds the iovec array. */
#define SEND_BATCH_RECORDS 32

struct rec {
	unsigned type;
	unsigned id;
	const unsigned char *content;
	size_t len;
	size_t pad;
};

static const unsigned char zeros[FCGI_MAX_PADDING];

static size_t pad_for(size_t len)
{
	return (8 - (len & 7)) & 7;
}

/*
 * Look at the record at the front of the buffer without consuming it.
 * Returns 1 when a whole record (header, content, padding) is buffered,
 * 0 when more bytes are needed, -1 on a header that is not FastCGI 1.0.
 */
static int peek_record(const struct conn *c, struct rec *rec)
{
	const unsigned char *h = c->in + c->start;
	size_t avail = c->end - c->start;

	if (avail < FCGI_HEADER_LEN)
		return 0;
	if (h[0] != FCGI_VERSION_1) {
		log_msg(LOG_WARNING, "fastcgi protocol error: record version %u, expected 1; "
			"closing the connection", h[0]);
		return -1;
	}
	rec->type = h[1];
	rec->id = (unsigned)h[2] << 8 | h[3];
	rec->len = (size_t)h[4] << 8 | h[5];
	rec->pad = h[6];
	if (avail < FCGI_HEADER_LEN + rec->len + rec->pad)
		return 0;
	rec->content = h + FCGI_HEADER_LEN;
	return 1;
}

static void consume(struct conn *c, const struct rec *rec)
{
	c->start += FCGI_HEADER_LEN + rec->len + rec->pad;
}

static int write_all(struct conn *c, struct iovec *iov, int n)
{
	const struct sl_config *cfg = c->cfg;

	return io_writev_all(c->fd, iov, n, cfg->limits.write_timeout * 1000);
}

/* Send one record with the given content (section 3.3). */
static int send_record(struct conn *c, unsigned type, unsigned id,
		       const void *content, size_t len)
{
	unsigned char h[FCGI_HEADER_LEN];
	size_t pad = pad_for(len);
	struct iovec iov[3] = {
		{ h, sizeof(h) },
		{ (void *)(uintptr_t)content, len },
		{ (void *)(uintptr_t)zeros, pad },
	};

	fcgi_put_header(h, type, id, len, pad);
	return write_all(c, iov, 3);
}

static int send_end_request(struct conn *c, unsigned id, unsigned status)
{
	unsigned char body[8] = { 0, 0, 0, 0, (unsigned char)status, 0, 0, 0 };

	return send_record(c, FCGI_END_REQUEST, id, body, sizeof(body));
}

/*
 * Decode one name-value pair (section 3.4) from [*p, end).  Each length
 * is one byte below 128, else four bytes with the top bit set.  Every
 * length is checked against what is actually there, in size_t, before it
 * is used.  Returns 1 with the pair, 0 at the end, -1 when malformed.
 */
static int next_pair(const unsigned char **p, const unsigned char *end,
		     const unsigned char **name, size_t *nlen,
		     const unsigned char **value, size_t *vlen)
{
	size_t len[2];

	if (*p == end)
		return 0;
	for (int i = 0; i < 2; i++) {
		if (*p == end)
			return -1;
		if (**p < 0x80) {
			len[i] = *(*p)++;
			continue;
		}
		if (end - *p < 4)
			return -1;
		len[i] = (size_t)((*p)[0] & 0x7f) << 24 | (size_t)(*p)[1] << 16 |
			 (size_t)(*p)[2] << 8 | (*p)[3];
		*p += 4;
	}
	if (len[0] > (size_t)(end - *p) || len[1] > (size_t)(end - *p) - len[0])
		return -1;
	*name = *p;
	*nlen = len[0];
	*value = *p + len[0];
	*vlen = len[1];
	*p += len[0] + len[1];
	return 1;
}

static void put_pair(unsigned char **w, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	*(*w)++ = (unsigned char)nlen;
	*(*w)++ = (unsigned char)vlen;
	memcpy(*w, name, nlen);
	*w += nlen;
	memcpy(*w, value, vlen);
	*w += vlen;
}

/*
 * GET_VALUES (section 4.1): answer with the variables asked for that we
 * know, each once, and nothing else.  We do not multiplex, so
 * FCGI_MPXS_CONNS is 0.
 */
static int answer_get_values(struct conn *c, const struct rec *rec)
{
	static const char *const names[] = { "FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS" };
	const struct sl_config *cfg = c->cfg;
	const unsigned char *p = rec->content, *end = p + rec->len, *name, *value;
	unsigned char out[128], *w = out;
	char vals[3][16];
	int asked[3] = { 0 };
	size_t nlen, vlen;
	int rc;

	while ((rc = next_pair(&p, end, &name, &nlen, &value, &vlen)) == 1)
		for (int i = 0; i < 3; i++)
			if (nlen == strlen(names[i]) && memcmp(name, names[i], nlen) == 0)
				asked[i] = 1;
	if (rc < 0) {
		log_msg(LOG_WARNING, "fastcgi protocol error: malformed GET_VALUES; "
			"closing the connection");
		return -1;
	}
	snprintf(vals[0], sizeof(vals[0]), "%d", cfg->limits.max_conns);
	snprintf(vals[1], sizeof(vals[1]), "%d", cfg->pm.max_children);
	snprintf(vals[2], sizeof(vals[2]), "0");
	for (int i = 0; i < 3; i++)
		if (asked[i])
			put_pair(&w, names[i], vals[i]);
	return send_record(c, FCGI_GET_VALUES_RESULT, 0, out, (size_t)(w - out));
}

static int known_type(unsigned type)
{
	return type >= FCGI_BEGIN_REQUEST && type <= FCGI_UNKNOWN_TYPE;
}

/*
 * A record with requestId 0 belongs to the connection (section 3.3):
 * GET_VALUES is answered, an unknown type gets UNKNOWN_TYPE (section
 * 4.2), and a request record sent with id 0 is a protocol error.
 */
static int management(struct conn *c, const struct rec *rec)
{
	unsigned char body[8] = { (unsigned char)rec->type };

	if (rec->type == FCGI_GET_VALUES)
		return answer_get_values(c, rec);
	if (!known_type(rec->type))
		return send_record(c, FCGI_UNKNOWN_TYPE, 0, body, sizeof(body));
	log_msg(LOG_WARNING, "fastcgi protocol error: record type %u with request id 0; "
		"closing the connection", rec->type);
	return -1;
}

static int protocol_error(const struct rec *rec, const char *what)
{
	log_msg(LOG_WARNING, "fastcgi protocol error: %s (record type %u, request id %u); "
		"closing the connection", what, rec->type, rec->id);
	return -1;
}

/*
 * BEGIN_REQUEST (section 5.1).  Only the RESPONDER role is served; others
 * get END_REQUEST with UNKNOWN_ROLE.  While a request is in progress a
 * second one is refused with CANT_MPX_CONN (section 5.5): we never
 * multiplex, and nginx never asks us to.
 */
static int begin_request(struct conn *c, const struct rec *rec)
{
	unsigned role;

	if (c->st.phase != PH_IDLE) {
		if (rec->id == c->st.req_id)
			return protocol_error(rec, "BEGIN_REQUEST for a request already begun");
		return send_end_request(c, rec->id, FCGI_CANT_MPX_CONN);
	}
	if (rec->len != 8)
		return protocol_error(rec, "BEGIN_REQUEST body is not 8 bytes");
	role = (unsigned)rec->content[0] << 8 | rec->content[1];
	if (role != FCGI_RESPONDER) {
		log_msg(LOG_NOTICE, "fastcgi: refusing role %u (only RESPONDER is served)", role);
		if (!(rec->content[2] & FCGI_KEEP_CONN))
			c->close_after = 1;
		return send_end_request(c, rec->id, FCGI_UNKNOWN_ROLE);
	}
	c->st.phase = PH_PARAMS;
	c->st.req_id = (uint16_t)rec->id;
	c->st.keep = rec->content[2] & FCGI_KEEP_CONN;
	c->st.params_over = 0;
	c->params_len = 0;
	return 0;
}

/* Append PARAMS content, growing the buffer up to limits.max_params_bytes. */
static void gather_params(struct conn *c, const struct rec *rec)
{
	const struct sl_config *cfg = c->cfg;
	size_t need = c->params_len + rec->len;

	if (c->st.params_over)
		return;
	if (need > cfg->limits.max_params_bytes) {
		log_msg(LOG_WARNING, "request parameters exceed limits.max_params_bytes (%zu); "
			"answering 431", cfg->limits.max_params_bytes);
		c->st.params_over = 1;
		return;
	}
	if (need > c->params_cap) {
		size_t cap = c->params_cap ? c->params_cap : 4096;
		unsigned char *p;

		while (cap < need)
			cap *= 2;
		if (cap > cfg->limits.max_params_bytes)
			cap = cfg->limits.max_params_bytes;
		p = realloc(c->params, cap);
		if (!p) {
			log_msg(LOG_ERROR, "out of memory for request parameters; answering 431");
			c->st.params_over = 1;
			return;
		}
		c->params = p;
		c->params_cap = cap;
	}
	memcpy(c->params + c->params_len, rec->content, rec->len);
	c->params_len = need;
}

/*
 * The PARAMS stream has ended: start the request and decode the pairs
 * into it.  A malformed stream becomes a 400, an oversized one a 431;
 * either way the connection is closed after the answer, since its
 * framing can no longer be trusted.
 */
static void decode_params(struct conn *c, struct sl_request *r)
{
	const unsigned char *p = c->params, *end = p + c->params_len, *name, *value;
	size_t nlen, vlen;
	int rc;

	request_begin(r, c);
	if (c->st.params_over) {
		r->early_status = 431;
		c->close_after = 1;
		return;
	}
	while ((rc = next_pair(&p, end, &name, &nlen, &value, &vlen)) == 1)
		if (request_add_param(r, (const char *)name, nlen,
				      (const char *)value, vlen) < 0) {
			c->close_after = 1;
			return;
		}
	if (rc < 0) {
		log_msg(LOG_WARNING, "fastcgi protocol error: malformed name-value pair in PARAMS; "
			"answering 400");
		r->early_status = 400;
		c->close_after = 1;
	}
}

static enum proto_rc fcgi_parse(struct conn *c, struct sl_request *r)
{
	struct rec rec;
	int rc;

	while ((rc = peek_record(c, &rec)) == 1) {
		consume(c, &rec);
		if (rec.id == 0) {
			rc = management(c, &rec);
		} else if (rec.type == FCGI_BEGIN_REQUEST) {
			rc = begin_request(c, &rec);
		} else if (rec.type == FCGI_ABORT_REQUEST) {
			/* An abort for a request we already finished crossed our
			 * END_REQUEST on the wire: nothing to do. */
			if (c->st.phase != PH_PARAMS || rec.id != c->st.req_id)
				continue;
			c->st.phase = PH_IDLE;
			if (!c->st.keep)
				c->close_after = 1;
			rc = send_end_request(c, rec.id, FCGI_REQUEST_COMPLETE);
		} else if (rec.type == FCGI_PARAMS && c->st.phase == PH_PARAMS &&
			   rec.id == c->st.req_id) {
			if (rec.len > 0) {
				gather_params(c, &rec);
				continue;
			}
			decode_params(c, r);
			c->st.phase = PH_BODY;
			c->st.body_left = c->st.pad_left = 0;
			c->st.body_seen = 0;
			return PROTO_REQUEST;
		} else {
			rc = protocol_error(&rec, c->st.phase == PH_PARAMS && rec.id == c->st.req_id
					    ? "record out of order before the end of PARAMS"
					    : "record for a request that is not active");
		}
		if (rc < 0 || c->close_after)
			return PROTO_CLOSE;
	}
	return rc < 0 ? PROTO_CLOSE : PROTO_AGAIN;
}

/* Wait for more input while a handler is reading the body. */
static int refill(struct conn *c)
{
	const struct sl_config *cfg = c->cfg;
	ssize_t n;

	conn_compact(c);
	n = io_read_wait(c->fd, c->in + c->end, CONN_INBUF_SIZE - c->end,
			 io_now_ms() + cfg->limits.read_timeout * 1000LL);
	if (n > 0) {
		c->end += (size_t)n;
		return 0;
	}
	if (n == 0)
		errno = ECONNABORTED;
	if (errno == ETIMEDOUT)
		log_msg(LOG_WARNING, "request body stalled past limits.read_timeout (%ds); "
			"closing the connection", cfg->limits.read_timeout);
	return -1;
}

/* Hand out body bytes from the STDIN record being consumed. */
static size_t take_body(struct conn *c, void *buf, size_t len)
{
	size_t n = c->st.body_left < len ? c->st.body_left : len;

	memcpy(buf, c->in + c->start, n);
	c->start += n;
	c->st.body_left -= n;
	if (c->st.body_left == 0) {
		c->start += c->st.pad_left;
		c->st.pad_left = 0;
	}
	return n;
}

/*
 * Account for a STDIN record's content: the body limit and the announced
 * CONTENT_LENGTH are enforced here, before any byte reaches the handler.
 */
static int accept_stdin(struct conn *c, struct sl_request *r, const struct rec *rec)
{
	const struct sl_config *cfg = c->cfg;

	c->st.body_seen += (long long)rec->len;
	if (c->st.body_seen > cfg->limits.max_body_bytes) {
		log_msg(LOG_WARNING, "request body exceeds limits.max_body_bytes (%lld)",
			cfg->limits.max_body_bytes);
		errno = EFBIG;
		return -1;
	}
	if (r->content_length >= 0 && c->st.body_seen > r->content_length) {
		log_msg(LOG_WARNING, "fastcgi protocol error: more STDIN than CONTENT_LENGTH (%lld)",
			r->content_length);
		errno = EPROTO;
		return -1;
	}
	c->start += FCGI_HEADER_LEN;
	c->st.body_left = rec->len;
	c->st.pad_left = rec->pad;
	return 0;
}

/* One record met while reading the body: 1 body data ready, 0 end, -1 error. */
static int body_record(struct conn *c, struct sl_request *r, const struct rec *rec)
{
	if (rec->type == FCGI_STDIN && rec->id == c->st.req_id) {
		if (rec->len == 0) {
			consume(c, rec);
			if (r->content_length >= 0 && c->st.body_seen < r->content_length) {
				log_msg(LOG_WARNING, "fastcgi protocol error: STDIN ended after "
					"%lld bytes, CONTENT_LENGTH said %lld", c->st.body_seen,
					r->content_length);
				errno = EPROTO;
				return -1;
			}
			return 0;
		}
		return accept_stdin(c, r, rec) < 0 ? -1 : 1;
	}
	consume(c, rec);
	if (rec->id == 0) {
		if (management(c, rec) < 0)
			goto proto;
		return 2;
	}
	if (rec->type == FCGI_ABORT_REQUEST && rec->id == c->st.req_id) {
		r->aborted = 1;
		errno = ECONNABORTED;
		return -1;
	}
	if (rec->type == FCGI_BEGIN_REQUEST && rec->id != c->st.req_id) {
		if (send_end_request(c, rec->id, FCGI_CANT_MPX_CONN) < 0)
			goto proto;
		return 2;
	}
	protocol_error(rec, "unexpected record while reading STDIN");
proto:
	errno = EPROTO;
	return -1;
}

/*
 * The handler's body reads (section 5.3): STDIN content is copied out of
 * the buffer record by record; management records arriving meanwhile are
 * answered; anything that breaks the stream ends the body with an error
 * and marks the connection for closing.
 */
static ssize_t fcgi_read_body(struct conn *c, struct sl_request *r, void *buf, size_t len)
{
	struct rec rec;

	if (r->body_done || len == 0)
		return 0;
	for (;;) {
		int rc;

		if (c->st.body_left > 0)
			return (ssize_t)take_body(c, buf, len);
		rc = peek_record(c, &rec);
		if (rc == 0) {
			if (refill(c) < 0)
				break;
			continue;
		}
		if (rc < 0) {
			errno = EPROTO;
			break;
		}
		rc = body_record(c, r, &rec);
		if (rc == 0) {
			r->body_done = 1;
			return 0;
		}
		if (rc < 0)
			break;
	}
	c->close_after = 1;
	return -1;
}

/*
 * Lay `total` content bytes from `iov` out as STDOUT records of at most
 * 65535 bytes, each padded to 8, and when `last` add the empty STDOUT and
 * END_REQUEST (section 5.3, 5.5).  A small response is one writev.
 */
static int fcgi_send(struct conn *c, struct sl_request *r, struct iovec *iov,
		     int iovcnt, size_t total, int last)
{
	unsigned char hdrs[SEND_BATCH_RECORDS][FCGI_HEADER_LEN];
	unsigned char tail[FCGI_HEADER_LEN * 2 + 8];
	struct iovec out[SEND_BATCH_RECORDS * 3 + 8 + 1];
	size_t off = 0;		/* offset into iov[0] */

	(void)r;
	(void)iovcnt;	/* `total` bounds the walk over iov */
	while (total > 0 || last) {
		int n = 0, recs = 0;

		while (total > 0 && recs < SEND_BATCH_RECORDS &&
		       n < (int)(sizeof(out) / sizeof(out[0])) - 12) {
			size_t len = total < FCGI_MAX_CONTENT ? total : FCGI_MAX_CONTENT;
			size_t left = len, pad = pad_for(len);

			fcgi_put_header(hdrs[recs], FCGI_STDOUT, c->st.req_id, len, pad);
			out[n++] = (struct iovec){ hdrs[recs++], FCGI_HEADER_LEN };
			while (left > 0 && n < (int)(sizeof(out) / sizeof(out[0])) - 3) {
				size_t piece = iov->iov_len - off;

				if (piece > left)
					piece = left;
				out[n++] = (struct iovec){ (char *)iov->iov_base + off, piece };
				off += piece;
				left -= piece;
				if (off == iov->iov_len) {
					iov++;
					off = 0;
				}
			}
			if (left > 0) {
				/* Out of iovec slots mid-record: shorten it. */
				len -= left;
				pad = pad_for(len);
				fcgi_put_header(hdrs[recs - 1], FCGI_STDOUT, c->st.req_id, len, pad);
			}
			if (pad)
				out[n++] = (struct iovec){ (void *)(uintptr_t)zeros, pad };
			total -= len;
		}
		if (total == 0 && last) {
			fcgi_put_header(tail, FCGI_STDOUT, c->st.req_id, 0, 0);
			fcgi_put_header(tail + 8, FCGI_END_REQUEST, c->st.req_id, 8, 0);
			memset(tail + 16, 0, 8);	/* appStatus 0, REQUEST_COMPLETE */
			out[n++] = (struct iovec){ tail, sizeof(tail) };
			last = 0;
			c->st.phase = PH_IDLE;
			if (!c->st.keep)
				c->close_after = 1;
		}
		if (write_all(c, out, n) < 0)
			return -1;
	}
	return 0;
}

/*
 * The whole response as one STDOUT record, the empty STDOUT and
 * END_REQUEST.  Built with the signal-safe appenders only.
 */
static size_t fcgi_emergency(const struct conn *c, unsigned char *buf, size_t cap,
			     int status, const char *reason, const char *type,
			     const char *body, size_t body_len)
{
	char head[256];
	size_t h = header_canned_head(head, sizeof(head), FCGI_STATUS_PREFIX, status, reason,
				      type, body_len), n, pad;

	n = h + body_len;
	pad = pad_for(n);
	if (h == 0 || n > FCGI_MAX_CONTENT ||
	    cap < FCGI_HEADER_LEN * 3 + n + pad + 8)
		return 0;
	fcgi_put_header(buf, FCGI_STDOUT, c->st.req_id, n, pad);
	memcpy(buf + FCGI_HEADER_LEN, head, h);
	memcpy(buf + FCGI_HEADER_LEN + h, body, body_len);
	memset(buf + FCGI_HEADER_LEN + n, 0, pad);
	n += FCGI_HEADER_LEN + pad;
	fcgi_put_header(buf + n, FCGI_STDOUT, c->st.req_id, 0, 0);
	fcgi_put_header(buf + n + 8, FCGI_END_REQUEST, c->st.req_id, 8, 0);
	memset(buf + n + 16, 0, 8);
	return n + 24;
}

static int fcgi_status_line(char *buf, size_t len, int status, const char *reason)
{
	return (int)header_status_line(buf, len, FCGI_STATUS_PREFIX, status, reason);
}

const struct proto proto_fcgi = {
	.name = "fastcgi",
	.parse = fcgi_parse,
	.read_body = fcgi_read_body,
	.send = fcgi_send,
	.status_line = fcgi_status_line,
	.emergency = fcgi_emergency,
};
