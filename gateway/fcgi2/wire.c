/*
 * wire.c - sluice-fcgi's FastCGI records on one connection.
 *
 * The rules are sluice's codec's (gateway/fcgi.c), and the name-value
 * pairs are read by the same function (fcgi.h's next_pair): a record
 * that is not FastCGI 1.0, a record out of order or a connection that
 * closes inside a record loses its connection, with a line on stderr;
 * malformed or oversized PARAMS are answered 400 or 431 by the library
 * itself, without the program seeing them; every wait for the peer has
 * a deadline.  libfcgi 2.4 aborts the process, or worse, on the same
 * input.
 *
 * One record is read at a time into req->rec, whole (header, content,
 * padding), before it is looked at.  The connection is non-blocking:
 * reads and writes wait in poll(2), never longer than their deadline.
 * Section numbers refer to the FastCGI 1.0 specification.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fcgi2.h"

static const unsigned char zeros[FCGI_MAX_PADDING];

/* The answers the library gives itself, for requests it cannot pass on. */
static const char bad_request[] =
	"Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n"
	"400 bad request: malformed FastCGI parameters\n";
static const char too_large[] =
	"Status: 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n\r\n"
	"431 request parameters too large\n";

void fcgi2_wire_log(const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "sluice-fcgi[%ld]: ", (long)getpid());
	va_list ap;

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;	/* nowhere left to report it */
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for `events` on `fd` until `deadline`: 0, or -1 with ETIMEDOUT. */
static int wait_until(int fd, short events, long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		long left = deadline - now_ms();
		int rc;

		if (left <= 0)
			break;
		rc = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
	errno = ETIMEDOUT;
	return -1;
}

/*
 * Read exactly `n` bytes into `buf` by `deadline`.  1 when read, 0 when
 * the peer closed before the first byte and `may_end`, -1 otherwise
 * (ECONNRESET for a close in the middle).
 */
static int read_exact(int fd, unsigned char *buf, size_t n, long deadline, int may_end)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r > 0) {
			got += (size_t)r;
		} else if (r == 0) {
			if (got == 0 && may_end)
				return 0;
			errno = ECONNRESET;
			return -1;
		} else if (errno == EAGAIN) {
			if (wait_until(fd, POLLIN, deadline) < 0)
				return -1;
		} else if (errno != EINTR) {
			return -1;
		}
	}
	return 1;
}

/*
 * The next record, whole, into q->rec.  The header must start within
 * `first_ms` (the rest within the read deadline).  1 with the record, 0
 * when the peer closed between records, -1 on error or a header that is
 * not FastCGI 1.0 (section 3.3).
 */
static int read_record(struct fcgi2_req *q, struct fcgi2_rec *r, int first_ms)
{
	unsigned char *h = q->rec;
	size_t rest;
	int rc;

	rc = read_exact(q->fd, h, FCGI_HEADER_LEN, now_ms() + first_ms, 1);
	if (rc <= 0)
		return rc;
	if (h[0] != FCGI_VERSION_1) {
		fcgi2_wire_log("fastcgi protocol error: record version %u, expected 1; "
			       "closing the connection", h[0]);
		errno = EPROTO;
		return -1;
	}
	r->type = h[1];
	r->id = (unsigned)h[2] << 8 | h[3];
	r->len = (size_t)h[4] << 8 | h[5];
	rest = r->len + h[6];
	if (rest == 0)
		return 1;
	return read_exact(q->fd, h + FCGI_HEADER_LEN, rest, now_ms() + q->read_ms, 0) < 0 ? -1 : 1;
}

/* Send all of `iov` by the write deadline; MSG_NOSIGNAL: a gone peer is EPIPE, not SIGPIPE. */
static int send_all(struct fcgi2_req *q, struct iovec *iov, int n)
{
	long deadline = now_ms() + q->write_ms;
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };

	while (m.msg_iovlen > 0) {
		ssize_t w = sendmsg(q->fd, &m, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || wait_until(q->fd, POLLOUT, deadline) < 0)
				return -1;
			continue;
		}
		while (m.msg_iovlen > 0 && (size_t)w >= m.msg_iov->iov_len) {
			w -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen > 0) {
			m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + w;
			m.msg_iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* One record of `type` for `id`, padded to a multiple of 8 (section 3.3). */
static int send_record(struct fcgi2_req *q, unsigned type, unsigned id,
		       const void *content, size_t len)
{
	unsigned char h[FCGI_HEADER_LEN];
	size_t pad = (8 - (len & 7)) & 7;
	struct iovec iov[3] = {
		{ h, sizeof(h) },
		{ (void *)(uintptr_t)content, len },
		{ (void *)(uintptr_t)zeros, pad },
	};

	fcgi_put_header(h, type, id, len, pad);
	return send_all(q, iov, 3);
}

/*
 * `len` bytes of stream `type` for the current request, in records of
 * at most FCGI_MAX_CONTENT; `len` 0 sends the empty record that ends
 * the stream.
 */
int fcgi2_wire_send(struct fcgi2_req *q, unsigned type, const void *data, size_t len)
{
	const unsigned char *p = data;

	do {
		size_t n = len < FCGI_MAX_CONTENT ? len : FCGI_MAX_CONTENT - 7;

		if (send_record(q, type, q->id, p, n) < 0)
			return -1;
		p += n;
		len -= n;
	} while (len > 0);
	return 0;
}

static int send_end(struct fcgi2_req *q, unsigned id, unsigned app, unsigned proto)
{
	unsigned char body[8] = {
		(unsigned char)(app >> 24), (unsigned char)(app >> 16),
		(unsigned char)(app >> 8), (unsigned char)app, (unsigned char)proto,
	};

	return send_record(q, FCGI_END_REQUEST, id, body, sizeof(body));
}

/* END_REQUEST (section 5.5) with the program's exit status. */
int fcgi2_wire_end(struct fcgi2_req *q, unsigned proto_status)
{
	return send_end(q, q->id, (unsigned)q->app_status, proto_status);
}

/*
 * GET_VALUES (section 4.1): the variables asked for that we know, each
 * once however often it was asked.  A process serves one connection and
 * one request at a time, as libfcgi answers.
 */
static int get_values(struct fcgi2_req *q, const struct fcgi2_rec *r)
{
	static const char *const names[] = { "FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS" };
	static const char *const values[] = { "1", "1", "0" };
	const unsigned char *p = q->rec + FCGI_HEADER_LEN, *end = p + r->len, *name, *value;
	unsigned char out[128], *w = out;
	int asked[3] = { 0 }, rc;
	size_t nlen, vlen;

	while ((rc = next_pair(&p, end, &name, &nlen, &value, &vlen)) == 1)
		for (int i = 0; i < 3; i++)
			if (nlen == strlen(names[i]) && memcmp(name, names[i], nlen) == 0)
				asked[i] = 1;
	if (rc < 0) {
		fcgi2_wire_log("fastcgi protocol error: malformed GET_VALUES; closing the connection");
		errno = EPROTO;
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		if (!asked[i])
			continue;
		w += fcgi_put_len(w, strlen(names[i]));
		w += fcgi_put_len(w, strlen(values[i]));
		memcpy(w, names[i], strlen(names[i]));
		w += strlen(names[i]);
		memcpy(w, values[i], strlen(values[i]));
		w += strlen(values[i]);
	}
	return send_record(q, FCGI_GET_VALUES_RESULT, 0, out, (size_t)(w - out));
}

static int protocol_error(const struct fcgi2_rec *r, const char *what)
{
	fcgi2_wire_log("fastcgi protocol error: %s (record type %u, request id %u); "
		       "closing the connection", what, r->type, r->id);
	errno = EPROTO;
	return -1;
}

/*
 * A record with request id 0 belongs to the connection (section 3.3):
 * GET_VALUES is answered, an unknown type gets UNKNOWN_TYPE (section
 * 4.2), a request record with id 0 is a protocol error.
 */
static int management(struct fcgi2_req *q, const struct fcgi2_rec *r)
{
	unsigned char body[8] = { (unsigned char)r->type };

	if (r->type == FCGI_GET_VALUES)
		return get_values(q, r);
	if (r->type < FCGI_BEGIN_REQUEST || r->type > FCGI_UNKNOWN_TYPE)
		return send_record(q, FCGI_UNKNOWN_TYPE, 0, body, sizeof(body));
	return protocol_error(r, "request record with request id 0");
}

void fcgi2_wire_release(struct fcgi2_req *q)
{
	free(q->params);
	free(q->envp);
	q->params = NULL;
	q->envp = NULL;
	q->params_len = 0;
}

/* Append PARAMS content; 0, or 431 once past FCGI2_MAX_PARAMS_BYTES (the rest is read and dropped). */
static int gather(struct fcgi2_req *q, const struct fcgi2_rec *r, int refused)
{
	unsigned char *p;

	if (refused)
		return refused;
	if (q->params_len + r->len > FCGI2_MAX_PARAMS_BYTES) {
		fcgi2_wire_log("request parameters exceed %d bytes; answering 431",
			       FCGI2_MAX_PARAMS_BYTES);
		return 431;
	}
	p = realloc(q->params, q->params_len + r->len);
	if (!p) {
		fcgi2_wire_log("out of memory for request parameters; answering 431");
		return 431;
	}
	memcpy(p + q->params_len, q->rec + FCGI_HEADER_LEN, r->len);
	q->params = p;
	q->params_len += r->len;
	return 0;
}

/* A name a "NAME=VALUE" string can carry, and a value without NUL. */
static int pair_ok(const unsigned char *name, size_t nlen, const unsigned char *value, size_t vlen)
{
	return nlen > 0 && !memchr(name, '=', nlen) && !memchr(name, '\0', nlen) &&
	       !memchr(value, '\0', vlen);
}

/*
 * The gathered pairs as q->envp: one allocation, the pointers first,
 * then "NAME=VALUE" strings, in the order received (as libfcgi keeps
 * them).  0, 400 for a malformed stream or a pair a string cannot carry,
 * 431 past FCGI2_MAX_PARAMS pairs.
 */
static int decode(struct fcgi2_req *q)
{
	const unsigned char *end = q->params ? q->params + q->params_len : NULL;
	const unsigned char *p = q->params, *name, *value;
	size_t nlen, vlen, count = 0, i = 0;
	char *s;
	int rc;

	while ((rc = next_pair(&p, end, &name, &nlen, &value, &vlen)) == 1) {
		if (!pair_ok(name, nlen, value, vlen)) {
			fcgi2_wire_log("request parameter %zu has an empty name, '=' in its name "
				       "or a NUL byte; answering 400", count + 1);
			return 400;
		}
		count++;
	}
	if (rc < 0) {
		fcgi2_wire_log("fastcgi protocol error: malformed name-value pair in PARAMS "
			       "(a length runs past the %zu bytes sent); answering 400",
			       q->params_len);
		return 400;
	}
	if (count > FCGI2_MAX_PARAMS) {
		fcgi2_wire_log("%zu request parameters, more than %d; answering 431", count,
			       FCGI2_MAX_PARAMS);
		return 431;
	}
	/* Each pair's two length bytes (at least) pay for its '=' and NUL. */
	q->envp = malloc((count + 1) * sizeof(char *) + q->params_len);
	if (!q->envp)
		return 431;
	s = (char *)(q->envp + count + 1);
	for (p = q->params; next_pair(&p, end, &name, &nlen, &value, &vlen) == 1; i++) {
		q->envp[i] = s;
		memcpy(s, name, nlen);
		s[nlen] = '=';
		memcpy(s + nlen + 1, value, vlen);
		s[nlen + 1 + vlen] = '\0';
		s += nlen + vlen + 2;
	}
	q->envp[count] = NULL;
	return 0;
}

/* The library's own answer to a request it refuses; the connection then closes. */
static int refuse(struct fcgi2_req *q, int status)
{
	const char *body = status == 400 ? bad_request : too_large;

	q->broken = 1;
	fcgi2_wire_release(q);
	if (fcgi2_wire_send(q, FCGI_STDOUT, body, strlen(body)) < 0 ||
	    send_record(q, FCGI_STDOUT, q->id, NULL, 0) < 0 ||
	    send_end(q, q->id, 0, FCGI_REQUEST_COMPLETE) < 0)
		return -1;
	return 0;
}

/*
 * BEGIN_REQUEST (section 5.1).  Responder, Authorizer and Filter are
 * served; another role gets UNKNOWN_ROLE.  1 when a request began, 0
 * when answered and the next record should be read, -1 on error.
 */
static int begin(struct fcgi2_req *q, const struct fcgi2_rec *r, int begun)
{
	const unsigned char *b = q->rec + FCGI_HEADER_LEN;
	unsigned role;

	if (begun) {
		if (r->id == q->id)
			return protocol_error(r, "BEGIN_REQUEST for a request already begun");
		return send_end(q, r->id, 0, FCGI_CANT_MPX_CONN) < 0 ? -1 : 0;
	}
	if (r->len != 8)
		return protocol_error(r, "BEGIN_REQUEST body is not 8 bytes");
	role = (unsigned)b[0] << 8 | b[1];
	if (role < FCGI_RESPONDER || role > FCGI_FILTER) {
		fcgi2_wire_log("fastcgi: refusing unknown role %u", role);
		if (!(b[2] & FCGI_KEEP_CONN))
			q->broken = 1;
		return send_end(q, r->id, 0, FCGI_UNKNOWN_ROLE) < 0 ? -1 : 0;
	}
	q->id = r->id;
	q->role = (int)role;
	q->keep = b[2] & FCGI_KEEP_CONN;
	q->app_status = 0;
	q->params_len = 0;
	return 1;
}

/* What one record does to a request being received (fcgi2_wire_begin). */
struct head {
	int begun;
	int refused;	/* 0, or the status the library answers with */
};

/* One record of a request's head: 1 when the request is ready, 0 to go on, -1 on error. */
static int head_record(struct fcgi2_req *q, const struct fcgi2_rec *r, struct head *hd)
{
	int rc;

	if (r->id == 0)
		return management(q, r);
	if (r->type == FCGI_BEGIN_REQUEST) {
		rc = begin(q, r, hd->begun);
		hd->begun |= rc == 1;
		return rc < 0 ? -1 : 0;
	}
	if (!hd->begun || r->id != q->id)
		return 0;	/* a request ended or refused: its leftovers (section 3.3) */
	if (r->type == FCGI_ABORT_REQUEST) {
		hd->begun = 0;
		q->broken |= !q->keep;
		return send_end(q, r->id, 0, FCGI_REQUEST_COMPLETE);
	}
	if (r->type != FCGI_PARAMS)
		return protocol_error(r, "record out of order before the end of PARAMS");
	if (r->len > 0) {
		hd->refused = gather(q, r, hd->refused);
		return 0;
	}
	if (!hd->refused)
		hd->refused = decode(q);
	if (hd->refused)
		return refuse(q, hd->refused);
	return 1;
}

/*
 * Read a connection until a request's parameters are in: 1 with the
 * request begun and q->envp set; 0 when the connection should be closed
 * without an error (the peer closed between requests, the library
 * answered a request itself, a refused role without keep-conn); -1 on
 * an error, logged.  The first record must start within the idle
 * deadline, every later one within the read deadline.
 */
int fcgi2_wire_begin(struct fcgi2_req *q)
{
	struct head hd = { 0, 0 };
	struct fcgi2_rec r;
	int rc;

	while ((rc = read_record(q, &r, hd.begun ? q->read_ms : fcgi2_accept_idle_ms())) == 1) {
		rc = head_record(q, &r, &hd);
		if (rc != 0)
			return rc;
		if (q->broken)
			return 0;
	}
	if (rc == 0 && hd.begun) {
		fcgi2_wire_log("the web server closed the connection inside a request's PARAMS");
		return -1;
	}
	if (rc < 0 && errno == ETIMEDOUT && !hd.begun)
		return 0;	/* an idle connection: closing it is no error */
	if (rc < 0 && errno != EPROTO)
		fcgi2_wire_log("reading a request's head: %s; closing the connection",
			       strerror(errno));
	return rc < 0 ? -1 : 0;
}

/*
 * The next record of stream `type` (STDIN, or DATA for a Filter) for the
 * request in progress, read within the read deadline; management records
 * and other requests' records met meanwhile are dealt with as in
 * fcgi2_wire_begin.  Its content length (0: the stream's end), or -1:
 * ECONNABORTED for ABORT_REQUEST, else the connection is broken.
 */
int fcgi2_wire_content(struct fcgi2_req *q, unsigned type)
{
	struct fcgi2_rec r;
	int rc;

	while ((rc = read_record(q, &r, q->read_ms)) == 1) {
		if (r.id == 0)
			rc = management(q, &r);
		else if (r.type == FCGI_BEGIN_REQUEST)
			rc = r.id == q->id ? protocol_error(&r, "BEGIN_REQUEST for a request in progress")
					   : send_end(q, r.id, 0, FCGI_CANT_MPX_CONN);
		else if (r.id != q->id)
			continue;
		else if (r.type == type)
			return (int)r.len;
		else if (r.type == FCGI_ABORT_REQUEST) {
			q->broken |= !q->keep;
			errno = ECONNABORTED;
			return -1;
		} else
			rc = protocol_error(&r, type == FCGI_STDIN
					    ? "record out of order while reading STDIN"
					    : "record out of order while reading DATA");
		if (rc < 0)
			break;
	}
	if (rc == 0) {
		fcgi2_wire_log("the web server closed the connection inside a request's body");
		errno = ECONNRESET;
	} else if (errno != EPROTO) {
		fcgi2_wire_log("reading a request's body: %s; closing the connection",
			       strerror(errno));
	}
	q->broken = 1;
	return -1;
}
