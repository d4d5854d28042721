/*
 * fcgi.c - the FastCGI 1.0 responder, our own codec.
 *
 * fcgi2's libfcgi is not used: it aborts the process on some malformed
 * records, has no deadlines or caps, and pins a process to every idle
 * kept-alive connection.  This codec is strict (a peer that breaks the
 * protocol loses its connection, with a log line, and nothing else) and
 * works on a connection's input buffer in place: the buffer holds at
 * least one whole record, so a record is only looked at once it is
 * complete (the body gathered before the handler starts is the
 * exception: its records are taken as they arrive, see gather_stdin).
 *
 * A connection goes through four phases per request:
 *   IDLE    waiting for BEGIN_REQUEST (management records answered);
 *   PARAMS  gathering the PARAMS stream until its empty record;
 *   STDIN   gathering the body, up to limits.body_buffer_size, before
 *           the handler starts: a slow body holds memory, not a worker
 *           (one that came whole with the head stays where it is);
 *   RUN     the handler runs and pulls the body through fcgi_read_body,
 *           the gathered bytes first, then what is left from the socket.
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

enum { PH_IDLE, PH_PARAMS, PH_STDIN, PH_RUN };

/* The codec's state, in the connection's pstate. */
struct fcgi_state {
	int phase;
	uint16_t req_id;
	unsigned keep : 1;
	unsigned params_over : 1;	/* the cap was hit: gathering stopped */
	unsigned stdin_end : 1;		/* the empty STDIN record has been read */
	unsigned broken : 1;		/* the stream can no longer be trusted */
	size_t body_left;		/* content bytes left in the current STDIN record, */
	size_t pad_left;		/* and padding after it (gathered or streamed) */
	long long body_seen;		/* body bytes handed to the handler */
};

_Static_assert(sizeof(struct fcgi_state) <= PROTO_STATE_SIZE, "fcgi_state fits pstate");

static struct fcgi_state *st(struct conn *c)
{
	return (struct fcgi_state *)(void *)c->pstate;
}

static const struct fcgi_state *cst(const struct conn *c)
{
	return (const struct fcgi_state *)(const void *)c->pstate;
}

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
 * Look at the header of the record at the front of the buffer without
 * consuming it.  Returns 1 when the header is buffered (its content may
 * not be yet), 0 when more bytes are needed, -1 on a header that is not
 * FastCGI 1.0.
 */
static int peek_header(const struct conn *c, struct rec *rec)
{
	const unsigned char *h = c->in + c->start;

	if (c->end - c->start < FCGI_HEADER_LEN)
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
	rec->content = h + FCGI_HEADER_LEN;
	return 1;
}

/* As peek_header, but 1 only once the whole record (content, padding) is buffered. */
static int peek_record(const struct conn *c, struct rec *rec)
{
	int rc = peek_header(c, rec);

	if (rc == 1 && c->end - c->start < FCGI_HEADER_LEN + rec->len + rec->pad)
		return 0;
	return rc;
}

static void consume(struct conn *c, const struct rec *rec)
{
	c->start += FCGI_HEADER_LEN + rec->len + rec->pad;
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
	return conn_send(c, iov, 3, 0);
}

static int send_end_request(struct conn *c, unsigned id, unsigned status)
{
	unsigned char body[8] = { 0, 0, 0, 0, (unsigned char)status, 0, 0, 0 };

	return send_record(c, FCGI_END_REQUEST, id, body, sizeof(body));
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

	struct fcgi_state *s = st(c);

	if (s->phase != PH_IDLE) {
		if (rec->id == s->req_id)
			return protocol_error(rec, "BEGIN_REQUEST for a request already begun");
		return send_end_request(c, rec->id, FCGI_CANT_MPX_CONN);
	}
	if (rec->len != 8)
		return protocol_error(rec, "BEGIN_REQUEST body is not 8 bytes");
	role = (unsigned)rec->content[0] << 8 | rec->content[1];
	if (role != FCGI_RESPONDER) {
		log_msg(LOG_NOTICE, "fastcgi: refusing role %u (only RESPONDER is served)", role);
		if (!(rec->content[2] & FCGI_KEEP_CONN))
			s->broken = 1;	/* answered; the peer closes or we do */
		return send_end_request(c, rec->id, FCGI_UNKNOWN_ROLE);
	}
	s->phase = PH_PARAMS;
	s->req_id = (uint16_t)rec->id;
	s->keep = rec->content[2] & FCGI_KEEP_CONN;
	s->params_over = 0;
	s->stdin_end = 0;
	c->params_len = 0;
	return 0;
}

/* Append PARAMS content, growing the buffer up to limits.max_params_bytes. */
static void gather_params(struct conn *c, const struct rec *rec)
{
	const struct sl_config *cfg = c->cfg;
	size_t need = c->params_len + rec->len;

	if (st(c)->params_over)
		return;
	if (need > cfg->limits.max_params_bytes) {
		log_msg(LOG_WARNING, "request parameters exceed limits.max_params_bytes (%zu); "
			"answering 431", cfg->limits.max_params_bytes);
		st(c)->params_over = 1;
		return;
	}
	if (conn_params_room(c, need, cfg->limits.max_params_bytes) < 0) {
		log_msg(LOG_ERROR, "out of memory for request parameters; answering 431");
		st(c)->params_over = 1;
		return;
	}
	memcpy(c->params + c->params_len, rec->content, rec->len);
	c->params_len = need;
}

/*
 * The end of the gathered pairs.  An empty PARAMS stream gathers none and
 * leaves c->params NULL, and NULL + 0 is undefined (C11 6.5.6): the end
 * is then NULL too, which next_pair takes as the end at once.
 */
static const unsigned char *params_stop(const struct conn *c)
{
	return c->params ? c->params + c->params_len : NULL;
}

/*
 * Make the pair at `name` C strings where it lies.  Its name moves one
 * byte down, over the last of its own length bytes (a pair spends at
 * least two on them), and gains a NUL at its old last byte (an empty
 * name is that length byte, now a NUL); the value
 * stays, and its NUL is written over the first length byte of the next
 * pair once that has been read (decode_params).
 */
static char *terminate_name(unsigned char *name, size_t nlen)
{
	/* Most CGI names are 8 to 32 bytes (HTTP_ and a header's name): two
	 * overlapping pieces, both loaded before either is stored, move them
	 * without a call. */
	if (nlen >= 8 && nlen <= 16) {
		uint64_t head, tail;

		memcpy(&head, name, 8);
		memcpy(&tail, name + nlen - 8, 8);
		memcpy(name - 1, &head, 8);
		memcpy(name + nlen - 9, &tail, 8);
	} else if (nlen > 16 && nlen <= 32) {
		unsigned char head[16], tail[16];

		memcpy(head, name, 16);
		memcpy(tail, name + nlen - 16, 16);
		memcpy(name - 1, head, 16);
		memcpy(name + nlen - 17, tail, 16);
	} else {
		memmove(name - 1, name, nlen);
	}
	/* Indexed from the new start: name[nlen - 1] overflows for nlen 0. */
	name--;
	name[nlen] = '\0';
	return (char *)name;
}

/*
 * The request is ready: start it and decode the gathered pairs into it,
 * in one pass, in place: the strings stay in the parameter buffer, which
 * the request holds (conn_hold_params).  A malformed stream becomes a 400, an
 * oversized one a 431; either way the connection is closed after the
 * answer, since its framing can no longer be trusted.
 */
static void decode_params(struct conn *c, struct sl_request *r)
{
	unsigned char *p = c->params, *end = p ? p + c->params_len : NULL, *vend = NULL;
	const unsigned char *at = p, *name, *value, *zero;
	size_t nlen, vlen;
	int rc;

	request_begin(r, c);
	if (st(c)->params_over) {
		r->early_status = 431;
		st(c)->broken = 1;
		goto done;
	}
	/* The first NUL byte ahead: one in a pair's length bytes is fine, one
	 * in its name or value refuses the request.  One scan of the whole
	 * buffer, taken up again past each NUL met in length bytes, costs less
	 * than a scan per pair. */
	zero = p ? memchr(p, '\0', c->params_len) : NULL;
	for (;;) {
		struct param *slot;

		rc = next_pair(&at, end, &name, &nlen, &value, &vlen);
		if (vend)		/* the previous value: its next byte is read now */
			*vend = '\0';
		if (rc != 1)
			break;
		if (zero && zero < value + vlen) {
			if (zero < name)
				zero = memchr(name, '\0', (size_t)(end - name));
			if (zero && zero < value + vlen) {
				request_param_nul(r);
				st(c)->broken = 1;
				goto done;
			}
		}
		if (!(slot = request_param_slot(r))) {
			request_params_full(r);
			st(c)->broken = 1;
			goto done;
		}
		vend = p + (value - p) + vlen;
		*slot = (struct param){ terminate_name(p + (name - p), nlen), (const char *)value,
					nlen, vlen };
	}
	if (rc < 0) {
		log_msg(LOG_WARNING, "fastcgi protocol error: malformed name-value pair in PARAMS; "
			"answering 400");
		r->early_status = 400;
		st(c)->broken = 1;
	}
done:
	request_note_params(r, 0);
	conn_hold_params(c);
}

/* The request goes to its handler: body bytes gathered so far go first. */
static enum proto_rc ready(struct conn *c, struct sl_request *r)
{
	struct fcgi_state *s = st(c);

	decode_params(c, r);
	s->phase = PH_RUN;
	s->body_left = s->pad_left = 0;
	s->body_seen = 0;
	c->body_off = 0;
	return PROTO_REQUEST;
}

/*
 * Is the rest of this request's STDIN, to its empty record, in the
 * buffer?  Then no byte of it waits on the peer.  Any other record on
 * the way (a management one) makes it no.
 */
static int stdin_buffered(const struct conn *c)
{
	const struct fcgi_state *s = cst(c);
	size_t at = c->start + s->body_left + s->pad_left;

	for (;;) {
		const unsigned char *h = c->in + at;
		size_t len;

		if (at + FCGI_HEADER_LEN > c->end)
			return 0;
		if (h[0] != FCGI_VERSION_1 || h[1] != FCGI_STDIN ||
		    ((unsigned)h[2] << 8 | h[3]) != s->req_id)
			return 0;
		len = (size_t)h[4] << 8 | h[5];
		at += FCGI_HEADER_LEN + len + h[6];
		if (at > c->end)
			return 0;
		if (len == 0)
			return 1;
	}
}

/*
 * Take what has come of the STDIN record being gathered: its content into
 * the body (room for all of it was made with its header), then its
 * padding.  Returns 1 when the record is all taken, 0 when the rest is
 * still to be read.
 */
static int take_gathered(struct conn *c)
{
	struct fcgi_state *s = st(c);
	size_t n = c->end - c->start;

	if (n > s->body_left)
		n = s->body_left;
	if (n > 0) {
		memcpy(c->body + c->body_len, c->in + c->start, n);
		c->body_len += n;
		c->start += n;
		s->body_left -= n;
	}
	n = c->end - c->start;
	if (n > s->pad_left)
		n = s->pad_left;
	c->start += n;
	s->pad_left -= n;
	return s->body_left == 0 && s->pad_left == 0;
}

/*
 * STDIN met before the handler starts: gather the body while it fits
 * limits.body_buffer_size.  A record is taken as far as it has come, not
 * once it is whole: nginx writes a body as records of up to 32 KiB right
 * behind the head, so a read that fills the shared buffer mostly ends
 * inside one.  Left there, that half record was copied to a buffer of
 * the connection's own while it waited (conn_park), which the next read
 * grew to a whole record and the close freed: for a 64 KiB body, as many
 * bytes copied again as the body has, and 128 KiB freed per request with
 * the body's buffer, enough for glibc to trim the heap and grow it again
 * on every request (brk, page faults, a TLB flush).  Taken as it comes,
 * what waits is at most a piece of a header, as with uwsgi's raw body.
 * A body whose every record came with the head (the read buffer takes a
 * 64 KiB one whole) is not gathered at all: the handler's reads copy it
 * straight out of the read buffer, one copy instead of two.
 *
 * Returns 1 when the request is ready (the body ended, or the next record
 * does not fit and starts the stream), 0 when more input is needed, 2
 * when the next record is not this request's STDIN (the caller takes it
 * whole), -1 on a header that is not FastCGI 1.0.
 */
static int gather_stdin(struct conn *c)
{
	struct fcgi_state *s = st(c);
	size_t cap = c->cfg->limits.body_buffer_size;
	struct rec rec;
	int rc;

	if (c->body_len == 0 && s->body_left == 0 && s->pad_left == 0 && stdin_buffered(c))
		return 1;
	while (take_gathered(c)) {
		if ((rc = peek_header(c, &rec)) != 1)
			return rc;
		if (rec.type != FCGI_STDIN || rec.id != s->req_id)
			return 2;
		if (rec.len == 0) {
			if (peek_record(c, &rec) == 0)
				return 0;	/* its padding is still to come */
			consume(c, &rec);
			s->stdin_end = 1;
			return 1;
		}
		/* Too big to gather, or no memory: this record starts the stream. */
		if (c->body_len + rec.len > cap ||
		    conn_grow(&c->body, &c->body_cap, c->body_len + rec.len, cap) < 0)
			return 1;
		c->start += FCGI_HEADER_LEN;
		s->body_left = rec.len;
		s->pad_left = rec.pad;
	}
	return 0;
}

/*
 * Is the body worth gathering before the handler starts?  Not when the
 * parameters are refused anyway, and not when CONTENT_LENGTH announces
 * more than limits.body_buffer_size (it streams) or more than
 * limits.max_body_bytes (refused with 413 at once, unread).
 */
static int worth_gathering(const struct conn *c)
{
	static const char name[] = "CONTENT_LENGTH";
	const unsigned char *p = c->params, *end = params_stop(c), *n, *v;
	size_t nlen, vlen;
	long long len = -1;

	if (cst(c)->params_over || c->cfg->limits.body_buffer_size == 0)
		return 0;
	while (next_pair(&p, end, &n, &nlen, &v, &vlen) == 1)
		if (nlen == sizeof(name) - 1 && memcmp(n, name, nlen) == 0) {
			if (request_parse_length((const char *)v, vlen, &len) < 0)
				return 0;
			break;
		}
	return len < 0 || (len <= (long long)c->cfg->limits.body_buffer_size &&
			   len <= c->cfg->limits.max_body_bytes);
}

/* ABORT_REQUEST for the request being received (section 5.4): end it unrun. */
static int abort_unrun(struct conn *c, const struct rec *rec)
{
	struct fcgi_state *s = st(c);

	s->phase = PH_IDLE;
	if (!s->keep)
		s->broken = 1;
	c->body_len = c->body_off = 0;
	return send_end_request(c, rec->id, FCGI_REQUEST_COMPLETE);
}

/*
 * The PARAMS stream has ended (section 5.2).  A request without a body
 * has its empty STDIN record right behind, since nginx sends the two in
 * one write: it is taken at once, and the parameters need not be looked
 * through for CONTENT_LENGTH.  Otherwise the body is gathered first when
 * it is worth it.  Returns 1 when the request is ready.
 */
static int params_end(struct conn *c)
{
	struct fcgi_state *s = st(c);
	struct rec next;

	c->body_len = c->body_off = 0;
	/* The version is checked here so that a bad header is reported
	 * once, by the loop, not also by this look ahead. */
	if (!s->params_over && c->end - c->start >= FCGI_HEADER_LEN &&
	    c->in[c->start] == FCGI_VERSION_1 && peek_record(c, &next) == 1 &&
	    next.type == FCGI_STDIN && next.id == s->req_id && next.len == 0) {
		consume(c, &next);
		s->stdin_end = 1;
		return 1;
	}
	if (!worth_gathering(c))
		return 1;
	s->phase = PH_STDIN;
	s->body_left = s->pad_left = 0;
	return 0;
}

/*
 * Is `id` the request being received?  Records for any other id (one
 * refused with CANT_MPX_CONN, one already ended, whose ABORT_REQUEST
 * crossed our END_REQUEST on the wire) are ignored, as section 3.3 has
 * it: a web server that multiplexes anyway costs its refused request,
 * not the one in progress nor the connection.  Nothing is logged for
 * them, since a peer could send them without end.
 */
static int active(const struct fcgi_state *s, unsigned id)
{
	return s->phase != PH_IDLE && id == s->req_id;
}

static enum proto_rc fcgi_parse(struct conn *c, struct sl_request *r)
{
	struct fcgi_state *s = st(c);
	struct rec rec;
	int rc;

	for (;;) {
		if (s->phase == PH_STDIN && (rc = gather_stdin(c)) != 2) {
			if (rc == 1)
				return ready(c, r);
			return rc < 0 ? PROTO_CLOSE : PROTO_AGAIN;
		}
		if ((rc = peek_record(c, &rec)) != 1)
			break;
		consume(c, &rec);
		if (rec.id == 0) {
			rc = management(c, &rec);
		} else if (rec.type == FCGI_BEGIN_REQUEST) {
			rc = begin_request(c, &rec);
		} else if (!active(s, rec.id)) {
			continue;
		} else if (rec.type == FCGI_ABORT_REQUEST) {
			rc = abort_unrun(c, &rec);
		} else if (rec.type == FCGI_PARAMS && s->phase == PH_PARAMS) {
			if (rec.len > 0) {
				gather_params(c, &rec);
				continue;
			}
			if (params_end(c))
				return ready(c, r);
			continue;
		} else {
			rc = protocol_error(&rec, s->phase == PH_PARAMS
					    ? "record out of order before the end of PARAMS"
					    : "record out of order while gathering STDIN");
		}
		if (rc < 0 || s->broken)
			return PROTO_CLOSE;
	}
	if (rc == 0 && c->start == c->end && s->phase == PH_IDLE)
		return PROTO_AGAIN;
	if (rc == 0 && c->end - c->start >= FCGI_HEADER_LEN)
		conn_reserve(c, FCGI_HEADER_LEN + (size_t)((c->in[c->start + 4] << 8) |
			     c->in[c->start + 5]) + c->in[c->start + 6]);
	return rc < 0 ? PROTO_CLOSE : PROTO_AGAIN;
}

static enum proto_phase fcgi_phase(const struct conn *c)
{
	int ph = cst(c)->phase;

	if (ph == PH_STDIN)
		return PHASE_BODY;
	if (ph == PH_PARAMS || c->start != c->end)
		return PHASE_HEAD;
	return PHASE_IDLE;
}

/*
 * Wait for more input while a handler is reading a body that streams:
 * the body's deadline is limits.read_timeout from the end of the head,
 * extended by limits.min_rate for each byte that came (conn.h), so a
 * trickle cannot hold the worker past what its size justifies.
 */
static int refill(struct conn *c)
{
	const struct sl_config *cfg = c->cfg;

	for (;;) {
		ssize_t n = conn_fill(c);

		if (n > 0)
			return 0;
		if (n == 0) {
			errno = ECONNABORTED;
			return -1;
		}
		if (errno != EAGAIN)
			return -1;
		if (io_wait_readable(c->fd, conn_xfer_deadline(c, c->rx, cfg->limits.read_timeout)) < 0) {
			if (errno == ETIMEDOUT)
				log_msg(LOG_WARNING, "request body slower than limits.min_rate (%lld bytes/s "
					"after limits.read_timeout %ds); closing the connection",
					cfg->limits.min_rate, cfg->limits.read_timeout);
			return -1;
		}
	}
}

/*
 * Count `n` body bytes about to reach the handler: the body limit and the
 * announced CONTENT_LENGTH are enforced here, before they do.
 */
static int account(struct conn *c, struct sl_request *r, size_t n)
{
	const struct sl_config *cfg = c->cfg;
	struct fcgi_state *s = st(c);

	s->body_seen += (long long)n;
	if (s->body_seen > cfg->limits.max_body_bytes) {
		log_msg(LOG_WARNING, "request body exceeds limits.max_body_bytes (%lld)",
			cfg->limits.max_body_bytes);
		errno = EFBIG;
		return -1;
	}
	if (r->content_length >= 0 && s->body_seen > r->content_length) {
		log_msg(LOG_WARNING, "fastcgi protocol error: more STDIN than CONTENT_LENGTH (%lld)",
			r->content_length);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Hand out body bytes from the STDIN record being consumed. */
static size_t take_body(struct conn *c, void *buf, size_t len)
{
	struct fcgi_state *s = st(c);
	size_t n = s->body_left < len ? s->body_left : len;

	memcpy(buf, c->in + c->start, n);
	c->start += n;
	s->body_left -= n;
	if (s->body_left == 0) {
		c->start += s->pad_left;
		s->pad_left = 0;
	}
	return n;
}

/* The empty STDIN record: the body must have been as long as announced. */
static int body_end(struct conn *c, struct sl_request *r)
{
	struct fcgi_state *s = st(c);

	s->stdin_end = 1;
	if (r->content_length >= 0 && s->body_seen < r->content_length) {
		log_msg(LOG_WARNING, "fastcgi protocol error: STDIN ended after "
			"%lld bytes, CONTENT_LENGTH said %lld", s->body_seen, r->content_length);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* One record met while reading the body: 1 body data ready, 2 go on, 0 end, -1 error. */
static int body_record(struct conn *c, struct sl_request *r, const struct rec *rec)
{
	struct fcgi_state *s = st(c);

	if (rec->type == FCGI_STDIN && rec->id == s->req_id) {
		if (rec->len == 0) {
			consume(c, rec);
			return body_end(c, r) < 0 ? -1 : 0;
		}
		if (account(c, r, rec->len) < 0)
			return -1;
		c->start += FCGI_HEADER_LEN;
		s->body_left = rec->len;
		s->pad_left = rec->pad;
		return 1;
	}
	consume(c, rec);
	if (rec->id == 0) {
		if (management(c, rec) < 0)
			goto proto;
		return 2;
	}
	if (!active(s, rec->id)) {
		/* Only another request's BEGIN_REQUEST is answered (5.5). */
		if (rec->type == FCGI_BEGIN_REQUEST &&
		    send_end_request(c, rec->id, FCGI_CANT_MPX_CONN) < 0)
			goto proto;
		return 2;
	}
	if (rec->type == FCGI_ABORT_REQUEST) {
		r->aborted = 1;
		errno = ECONNABORTED;
		return -1;
	}
	protocol_error(rec, "unexpected record while reading STDIN");
proto:
	errno = EPROTO;
	return -1;
}

/* Body bytes gathered before the handler started, checked as one piece. */
static ssize_t from_gathered(struct conn *c, struct sl_request *r, void *buf, size_t len)
{
	size_t n = c->body_len - c->body_off;

	if (c->body_off == 0 && account(c, r, c->body_len) < 0)
		return -1;
	if (n > len)
		n = len;
	memcpy(buf, c->body + c->body_off, n);
	c->body_off += n;
	return (ssize_t)n;
}

/*
 * The handler's body reads (section 5.3): the gathered bytes first, then
 * STDIN content copied out of the buffer record by record; management
 * records arriving meanwhile are answered; anything that breaks the
 * stream ends the body with an error and the connection with it.
 */
static ssize_t fcgi_read_body(struct conn *c, struct sl_request *r, void *buf, size_t len)
{
	struct fcgi_state *s = st(c);
	struct rec rec;

	if (r->body_done || len == 0)
		return 0;
	if (c->body_off < c->body_len) {
		ssize_t n = from_gathered(c, r, buf, len);

		if (n >= 0)
			return n;
		goto fail;
	}
	if (s->stdin_end) {
		/* Gathered whole, and all handed out above. */
		if (body_end(c, r) < 0)
			goto fail;
		r->body_done = 1;
		return 0;
	}
	for (;;) {
		int rc;

		if (s->body_left > 0)
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
fail:
	s->broken = 1;
	return -1;
}

/*
 * Lay `total` content bytes from `iov` out as STDOUT records of at most
 * 65535 bytes, each padded to 8, and when `last` add the empty STDOUT and
 * END_REQUEST (section 5.3, 5.5).  A small response is one writev.
 */
/* The end of a request: an empty STDOUT record and END_REQUEST (24 bytes). */
static void put_tail(unsigned char *tail, unsigned id)
{
	fcgi_put_header(tail, FCGI_STDOUT, id, 0, 0);
	fcgi_put_header(tail + 8, FCGI_END_REQUEST, id, 8, 0);
	memset(tail + 16, 0, 8);	/* appStatus 0, REQUEST_COMPLETE */
}

/*
 * A whole response this small (most are) leaves as one piece: its one
 * STDOUT record, padding and tail copied together, which costs less than
 * the kernel's walk over a vector of a piece per header line.
 */
#define SMALL_RESPONSE 1024

static int send_small(struct conn *c, const struct iovec *iov, size_t total)
{
	unsigned char buf[FCGI_HEADER_LEN + SMALL_RESPONSE + 8 + FCGI_HEADER_LEN * 2 + 8];
	unsigned id = st(c)->req_id;
	size_t pad = pad_for(total), n = 0;
	struct iovec one;

	if (total > 0) {
		fcgi_put_header(buf, FCGI_STDOUT, id, total, pad);
		n = FCGI_HEADER_LEN;
		for (size_t left = total; left > 0; iov++) {
			size_t piece = iov->iov_len < left ? iov->iov_len : left;

			memcpy(buf + n, iov->iov_base, piece);
			n += piece;
			left -= piece;
		}
		memset(buf + n, 0, pad);
		n += pad;
	}
	put_tail(buf + n, id);
	st(c)->phase = PH_IDLE;
	one = (struct iovec){ buf, n + FCGI_HEADER_LEN * 2 + 8 };
	return conn_send(c, &one, 1, 0);
}

static int fcgi_send(struct conn *c, struct sl_request *r, struct iovec *iov,
		     int iovcnt, size_t total, int last)
{
	unsigned char hdrs[SEND_BATCH_RECORDS][FCGI_HEADER_LEN];
	unsigned char tail[FCGI_HEADER_LEN * 2 + 8];
	struct iovec out[SEND_BATCH_RECORDS * 3 + 8 + 1];
	size_t off = 0;		/* offset into iov[0] */
	unsigned id = st(c)->req_id;
	int ends = 0;		/* this batch ends the response */

	(void)r;
	(void)iovcnt;	/* `total` bounds the walk over iov */
	if (last && total <= SMALL_RESPONSE)
		return send_small(c, iov, total);
	while (total > 0 || last) {
		int n = 0, recs = 0;

		while (total > 0 && recs < SEND_BATCH_RECORDS &&
		       n < (int)(sizeof(out) / sizeof(out[0])) - 12) {
			size_t len = total < FCGI_MAX_CONTENT ? total : FCGI_MAX_CONTENT;
			size_t left = len, pad = pad_for(len);

			fcgi_put_header(hdrs[recs], FCGI_STDOUT, id, len, pad);
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
				fcgi_put_header(hdrs[recs - 1], FCGI_STDOUT, id, len, pad);
			}
			if (pad)
				out[n++] = (struct iovec){ (void *)(uintptr_t)zeros, pad };
			total -= len;
		}
		if (total == 0 && last) {
			put_tail(tail, id);
			out[n++] = (struct iovec){ tail, sizeof(tail) };
			last = 0;
			ends = 1;
			st(c)->phase = PH_IDLE;
		}
		if (conn_send(c, out, n, !ends) < 0)
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
	unsigned id = cst(c)->req_id;

	fcgi_put_header(buf, FCGI_STDOUT, id, n, pad);
	memcpy(buf + FCGI_HEADER_LEN, head, h);
	memcpy(buf + FCGI_HEADER_LEN + h, body, body_len);
	memset(buf + FCGI_HEADER_LEN + n, 0, pad);
	n += FCGI_HEADER_LEN + pad;
	fcgi_put_header(buf + n, FCGI_STDOUT, id, 0, 0);
	fcgi_put_header(buf + n + 8, FCGI_END_REQUEST, id, 8, 0);
	memset(buf + n + 16, 0, 8);
	return n + 24;
}

/*
 * The response has ended.  The connection carries another request only
 * when the web server asked to keep it (FCGI_KEEP_CONN), the stream is
 * intact and the request ended cleanly; one closed before its body was
 * all read lingers (see worker.c).
 */
static enum proto_end fcgi_finish(struct conn *c, const struct sl_request *r)
{
	struct fcgi_state *s = st(c);

	if (s->keep && !s->broken && !r->must_close) {
		c->body_len = c->body_off = 0;
		return END_KEEP;
	}
	return s->stdin_end || r->body_done || r->client_gone || stdin_buffered(c) ?
	       END_CLOSE : END_LINGER;
}

/* After an emergency answer: at a request boundary, with nothing unread? */
static int fcgi_reusable(const struct conn *c, const struct sl_request *r)
{
	const struct fcgi_state *s = cst(c);

	return s->keep && !s->broken && !r->must_close && s->phase == PH_RUN &&
	       (s->stdin_end || r->body_done) && c->start == c->end;
}

static int fcgi_status_line(char *buf, size_t len, int status, const char *reason)
{
	return (int)header_status_line_kept(buf, len, FCGI_STATUS_PREFIX, status, reason);
}

const struct proto proto_fcgi = {
	.name = "fastcgi",
	.body_framed = 1,
	.parse = fcgi_parse,
	.phase = fcgi_phase,
	.read_body = fcgi_read_body,
	.send = fcgi_send,
	.finish = fcgi_finish,
	.reusable = fcgi_reusable,
	.status_line = fcgi_status_line,
	.emergency = fcgi_emergency,
};
