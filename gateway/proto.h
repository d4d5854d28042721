/*
 * proto.h - the table every front-end protocol fills.
 *
 * The worker loop and the request code drive a connection only through
 * this table and never ask which protocol it speaks (nginx modules and
 * Kore runtimes are built the same way).  fcgi.c fills it for FastCGI.
 */
#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct conn;
struct sl_request;

enum proto_rc {
	PROTO_AGAIN,	/* need more bytes: wait for the socket */
	PROTO_REQUEST,	/* a request's head is complete and decoded into the request */
	PROTO_CLOSE,	/* close the connection now (the reason is already logged) */
};

struct proto {
	const char *name;

	/*
	 * Consume the connection's buffered input.  Records that need no
	 * handler (management records, refused roles) are answered here.
	 * On PROTO_REQUEST the request holds its parameters, and
	 * request->early_status is non-zero when the request must be
	 * refused without running a handler (431, 413, 400).
	 */
	enum proto_rc (*parse)(struct conn *c, struct sl_request *r);

	/*
	 * Read body bytes for the request in hand, waiting for the peer up
	 * to the read timeout.  Returns the count, 0 at the end of the body,
	 * or -1 with errno (ETIMEDOUT, EFBIG, ECONNABORTED, EPROTO).
	 */
	ssize_t (*read_body)(struct conn *c, struct sl_request *r, void *buf, size_t len);

	/*
	 * Send `total` bytes of response (head and body as the request code
	 * laid them out) in `iov`; `last` also ends the response.  One
	 * writev per call.  Returns 0, or -1 with errno.
	 */
	int (*send)(struct conn *c, struct sl_request *r, struct iovec *iov,
		    int iovcnt, size_t total, int last);

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
