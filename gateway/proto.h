/*
 * proto.h - the table every front-end protocol fills.
 *
 * The worker loop and the request code drive a connection only through
 * this table and never ask which protocol it speaks (nginx modules and
 * Kore runtimes are built the same way).  Each codec keeps its state in
 * the connection's opaque `pstate` and reports outcomes: what it needs
 * next, whether a request is ready, and whether the connection can carry
 * another request.  Nobody else reads or writes a codec's state.
 */
#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct conn;
struct sl_request;

enum proto_rc {
	PROTO_AGAIN,	/* need more bytes: wait for the socket (see phase) */
	PROTO_REQUEST,	/* a request is ready to run, decoded into the request */
	PROTO_CLOSE,	/* close the connection now (the reason is already logged) */
};

/* What a connection waiting for bytes is in the middle of. */
enum proto_phase {
	PHASE_IDLE,	/* between requests, nothing buffered */
	PHASE_HEAD,	/* a request's head is arriving */
	PHASE_BODY,	/* the head is in; its body is being received before the handler */
};

/* What becomes of a connection once a response has ended. */
enum proto_end {
	END_KEEP,	/* it may carry another request */
	END_CLOSE,	/* close it now */
	END_LINGER,	/* close it once the peer has stopped sending (bounded) */
};

struct proto {
	const char *name;

	/*
	 * The protocol marks the body's end itself (FastCGI's empty STDIN
	 * record), so CONTENT_LENGTH is not what frames it.  There a length
	 * of -1, what Caddy 2.6 sends for a chunked upload, means "not
	 * given"; elsewhere (uwsgi) it stays malformed.
	 */
	unsigned body_framed : 1;

	/*
	 * Consume the connection's buffered input.  Records that need no
	 * handler (management records, refused roles) are answered here.
	 * A body up to limits.body_buffer_size is received whole before
	 * PROTO_REQUEST; a larger one streams through read_body.  On
	 * PROTO_REQUEST the request holds its parameters, and
	 * request->early_status is non-zero when the request must be
	 * refused without running a handler (431, 400).
	 */
	enum proto_rc (*parse)(struct conn *c, struct sl_request *r);

	/* After PROTO_AGAIN: what the connection is waiting for. */
	enum proto_phase (*phase)(const struct conn *c);

	/*
	 * Body bytes for the request in hand: the buffered ones first, then
	 * from the socket, waiting under limits.min_rate.  Returns the
	 * count, 0 at the end of the body, or -1 with errno (ETIMEDOUT,
	 * EFBIG, ECONNABORTED, EPROTO).
	 */
	ssize_t (*read_body)(struct conn *c, struct sl_request *r, void *buf, size_t len);

	/*
	 * Send `total` bytes of response (head and body as the request code
	 * laid them out) in `iov`; `last` also ends the response.  What the
	 * peer does not take at once is queued (conn_send).  Returns 0, or
	 * -1 with errno.
	 */
	int (*send)(struct conn *c, struct sl_request *r, struct iovec *iov,
		    int iovcnt, size_t total, int last);

	/* The response has ended: what becomes of the connection. */
	enum proto_end (*finish)(struct conn *c, const struct sl_request *r);

	/*
	 * After a last-word response (emergency), could the connection carry
	 * another request?  Pure, async-signal-safe.
	 */
	int (*reusable)(const struct conn *c, const struct sl_request *r);

	/* Format the first line of the response head for `status`. */
	int (*status_line)(char *buf, size_t len, int status, const char *reason);

	/*
	 * Build a whole last-word response (status, a `body` of `type`) with
	 * its framing into `buf`, for a signal handler to write(2).  Pure
	 * computation, async-signal-safe.  Returns the length, 0 if `cap` is
	 * too small.
	 */
	size_t (*emergency)(const struct conn *c, unsigned char *buf, size_t cap,
			    int status, const char *reason, const char *type,
			    const char *body, size_t body_len);
};

extern const struct proto proto_fcgi;
extern const struct proto proto_uwsgi;

#endif
