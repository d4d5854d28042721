/*
 * dev_relay.h - the development listener's FastCGI client (dev profile
 * only).
 *
 * The HTTP listener (dev_http.c) relays each HTTP request over FastCGI
 * to sluice's own listening socket, like nginx's fastcgi_pass with
 * request buffering off: one FastCGI connection per request (no
 * keep-conn), the body sent as STDIN while it arrives, the response read
 * while the workers write it.  This is the client side of that: it knows
 * the FastCGI records and the CGI response head, and nothing of HTTP
 * libraries.  The waits block, each bounded by its own deadline, so that
 * a caller running a thread per request can use it as it is.
 *
 * A request goes dev_relay_init, dev_relay_open, dev_relay_param... and
 * dev_relay_end_params, dev_relay_stdin... and dev_relay_end_stdin,
 * dev_relay_read_head, dev_relay_read_body until it says the end, and
 * dev_relay_free.  A failure on the way sets `status`, the HTTP status to
 * answer instead of the workers' response, and logs why; the caller
 * checks `status` before the next step.
 */
#ifndef SLUICE_DEV_RELAY_H
#define SLUICE_DEV_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Where the workers listen, resolved once by dev_relay_resolve. */
struct dev_relay_target {
	struct sockaddr_storage addr;	/* where the workers listen */
	socklen_t len;
	const char *name;		/* the same, as configured, for log lines */
};

/*
 * One request's FastCGI side.  The caller embeds it in its own
 * per-request state and may read `method`, `uri` and `status`, and set
 * `method` once it knows it; every other field is the relay's.  One
 * thread at a time uses a relay.
 */
struct dev_relay {
	const struct dev_relay_target *to;
	const char *method;	/* the caller's, for log lines; "-" until set */
	char *uri;		/* the request target exactly as the client sent it */
	int status;		/* non-zero: answer with this error instead */
	int send_errno;		/* sending to the workers failed (they may still answer) */
	int fd;			/* the FastCGI connection, -1 before and after */
	unsigned char *buf;	/* DEV_RELAY_MAX_HEAD: PARAMS being built, then the response head */
	size_t len;		/* bytes in buf */
	size_t pos;		/* response: the body's first bytes are buf[pos..len) */
	int type;		/* the record being read */
	size_t left;		/* its content bytes not read yet */
	size_t pad;		/* its padding, skipped before the next record */
	int ended;		/* END_REQUEST has been read */
};

/* A response's size when the workers sent no Content-Length. */
#define DEV_RELAY_SIZE_UNKNOWN	UINT64_MAX

/* The parts of a CGI response head that HTTP servers take apart from the headers. */
struct dev_relay_head {
	int status;
	uint64_t size;		/* from Content-Length, or DEV_RELAY_SIZE_UNKNOWN */
	size_t nheaders;	/* "name\0value\0" pairs at `headers` */
	const char *headers;	/* in the relay's buffer, valid until dev_relay_free */
};

/*
 * Where the workers listen, from the config's listen.address: a unix
 * socket ("/path", "unix:/path") or host:port, resolved once here into
 * `to`, which keeps `addr` for its log lines.  Returns 0, or -1 with the
 * line in `err`.
 */
int dev_relay_resolve(struct dev_relay_target *to, const char *addr, char *err, size_t errlen);

/*
 * Make a relay for one request to `to`, with a copy of `uri`, the
 * request target as the client sent it.  Returns 0, or -1 when out of
 * memory (nothing is then left to free).
 */
int dev_relay_init(struct dev_relay *r, const struct dev_relay_target *to, const char *uri);

/* Close the FastCGI connection if it is open; the workers see the client leave. */
void dev_relay_close(struct dev_relay *r);

/* Close the connection and free what dev_relay_init made. */
void dev_relay_free(struct dev_relay *r);

/*
 * Log why the request is answered with `status` instead of the workers'
 * response, and make it so.  Returns -1, for the caller to return.
 */
__attribute__((format(printf, 3, 4)))
int dev_relay_fail(struct dev_relay *r, int status, const char *fmt, ...);

/*
 * Connect to the workers and send BEGIN_REQUEST (a responder, without
 * keep-conn: the workers close the connection after END_REQUEST); the
 * PARAMS stream follows.  Returns 0, or -1 with `status` set (502).
 */
int dev_relay_open(struct dev_relay *r);

/* One parameter into the PARAMS stream. */
void dev_relay_param(struct dev_relay *r, const char *name, const char *value);

/*
 * A request header into the PARAMS stream as CGI carries it: HTTP_ + the
 * name in upper case with '-' as '_'.  The caller chooses which headers
 * pass; `name` and `value` need not end in NUL.
 */
void dev_relay_param_header(struct dev_relay *r, const char *name, size_t nlen,
			    const char *value, size_t vlen);

/* Send what is left of the PARAMS stream and the empty record that ends it. */
void dev_relay_end_params(struct dev_relay *r);

/*
 * A piece of the request body, as STDIN records.  After a failure to
 * send, nothing more is sent: the workers may have answered early (413)
 * and closed, and that answer is still read and relayed.
 */
void dev_relay_stdin(struct dev_relay *r, const char *data, size_t len);

/* The empty STDIN record that ends the body. */
void dev_relay_end_stdin(struct dev_relay *r);

/*
 * Read the CGI response head and parse it into `h`: the status (200
 * without a Status line, 302 with only a Location: RFC 3875, 6.2.3), the
 * body's size, and the headers to pass on.  Connection, Keep-Alive and
 * Transfer-Encoding are dropped, for the HTTP server frames the response
 * itself.  STDERR met on the way is logged.  Returns 0, or -1 with
 * `status` set (502; 504 when the workers were silent too long) and the
 * reason logged.
 */
int dev_relay_read_head(struct dev_relay *r, struct dev_relay_head *h);

/*
 * Up to `max` (> 0) more bytes of the response body into `out`: first
 * what came with the head, then STDOUT content read straight into `out`,
 * until END_REQUEST.  Returns the count, 0 at the end of the body, or -1
 * when the stream broke off (logged), for the HTTP side to end the
 * response with an error.  It never returns 0 before the end, which
 * would make an HTTP server's thread spin: it waits for the workers
 * instead.
 */
ssize_t dev_relay_read_body(struct dev_relay *r, char *out, size_t max);

#endif
