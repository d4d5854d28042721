/*
 * sluice.h - the whole API of a sluice application module.
 *
 * A module is a shared object that exports one descriptor named
 * `sluice_module` (use the SLUICE_MODULE macro).  sluice loads it with
 * dlopen(RTLD_NOW) in the master before forking, checks `abi`, and then,
 * in every worker, calls `init` once, the handlers once per request and
 * `fini` when the worker leaves.
 *
 *	#include <sluice.h>
 *
 *	static int hello(struct sl_request *req)
 *	{
 *		return sl_printf(req, "hello, %s\n", sl_capture(req, "name"));
 *	}
 *
 *	static const struct sl_route routes[] = {
 *		{ "GET", "/hello/:name", hello },
 *		{ 0 }
 *	};
 *
 *	SLUICE_MODULE = { .abi = SLUICE_ABI_VERSION, .name = "hello",
 *			  .routes = routes };
 *
 * Build it with `cc -shared -fPIC -I include -o hello.so hello.c`.
 *
 * Everything a handler touches is reached through an opaque
 * `struct sl_request`; the pointers it hands out (parameters, headers,
 * captures, sl_alloc memory) stay valid until the handler returns and
 * no longer.  Functions that can fail return 0 on success and -1 on
 * failure with errno set, unless their comment says otherwise.
 *
 * Nothing of the wire protocol (FastCGI, uwsgi) nor of any library that
 * sluice uses appears here: the same module runs behind every front end.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Bumped whenever a struct below changes shape or a function changes
 * meaning.  A module built against another version is refused at
 * start-up with a line that names both numbers.
 */
#define SLUICE_ABI_VERSION 1u

struct sl_request;

/*
 * A handler returns 0 when it produced its response, or -1 when it
 * failed.  On failure sluice answers 500 if nothing was sent yet, and
 * logs the failure with the request id; what the handler wrote so far
 * is discarded.  A handler that sends nothing and returns 0 gives an
 * empty 200 response.
 */
typedef int (*sl_handler)(struct sl_request *req);

/*
 * One route: an HTTP method ("GET", "POST", ...; NULL matches any
 * method) and a path pattern.  Patterns are absolute paths whose
 * segments are either literal, or `:name`, which captures one non-empty
 * segment.  A pattern whose last segment is a lone star ("*") is a
 * prefix route: it matches the path before the star and anything below
 * it, and the rest of the path is the capture "*".
 *
 *	"/"		only "/"
 *	"/users/:id"	"/users/42", not "/users" or "/users/42/x"
 *	"/files/" "*"	"/files", "/files/", "/files/a/b" (capture "*": "",
 *			"", "a/b")
 *
 * When several routes match, an exact literal route wins over one with
 * captures, which wins over a prefix route; among prefix routes the
 * longest wins; otherwise the first declared wins.  A path that matches
 * a route under another method only gets 405 with an Allow header.
 */
struct sl_route {
	const char *method;
	const char *path;
	sl_handler handler;
};

/*
 * The descriptor.  `abi` must be SLUICE_ABI_VERSION.  `init` and `fini`
 * are optional and run in each worker after fork (init returning -1 makes
 * the worker exit with a log line).  Give either `routes` (an array ended
 * by an entry whose `path` is NULL) or a single `handler` that gets every
 * request under the module's mount point.
 */
struct sl_module {
	unsigned abi;
	const char *name;
	int (*init)(void);
	void (*fini)(void);
	const struct sl_route *routes;
	sl_handler handler;
};

#define SLUICE_MODULE const struct sl_module sluice_module

/* ---- Reading the request ------------------------------------------- */

/* The request method, e.g. "GET".  Never NULL. */
const char *sl_method(const struct sl_request *req);

/* The decoded path that routing used, e.g. "/users/42".  Never NULL. */
const char *sl_path(const struct sl_request *req);

/* The raw query string without '?', "" when there is none. */
const char *sl_query(const struct sl_request *req);

/*
 * Any CGI parameter the web server sent ("REMOTE_ADDR", "SERVER_NAME",
 * "HTTP_USER_AGENT", ...) or NULL.  Names are case-sensitive.
 */
const char *sl_param(const struct sl_request *req, const char *name);

/* The number of parameters, and the i-th one (0-based) for iteration. */
size_t sl_param_count(const struct sl_request *req);
int sl_param_at(const struct sl_request *req, size_t i, const char **name,
		const char **value);

/*
 * A request header by its HTTP name, case-insensitive ("User-Agent",
 * "content-type"), or NULL.  Content-Type and Content-Length are found
 * here too.
 */
const char *sl_header(const struct sl_request *req, const char *name);

/* The value a `:name` (or `*`) segment of the route captured, or NULL. */
const char *sl_capture(const struct sl_request *req, const char *name);

/* The request id that sluice's log lines and error pages carry. */
const char *sl_request_id(const struct sl_request *req);

/*
 * The body length the client announced, or -1 when it is not known in
 * advance (a chunked upload passed through unbuffered).
 */
long long sl_content_length(const struct sl_request *req);

/*
 * Read up to `len` bytes of the body into `buf`.  Returns the number of
 * bytes read, 0 at the end of the body, or -1 on failure: ETIMEDOUT when
 * the client stalls past the read timeout, EFBIG past the body size
 * limit, ECONNABORTED when the client went away.  The body is streamed:
 * sluice holds at most one record of it.
 *
 * Read the body before writing a large response: once the head of the
 * response leaves (when more than about 64 KiB has been written, or at
 * sl_flush), nginx stops sending the rest of the request body, and a
 * handler still waiting for it would stall until the read timeout.
 */
ssize_t sl_read(struct sl_request *req, void *buf, size_t len);

/* ---- Per-request memory --------------------------------------------- */

/*
 * Memory that lives until the response is finished and is then released
 * in one step.  Aligned for any type.  NULL (ENOMEM) past the per-request
 * memory limit.
 */
void *sl_alloc(struct sl_request *req, size_t size);

/* ---- Writing the response ------------------------------------------- */

/*
 * Set the status (100-599).  Fails with EINVAL for a code out of range
 * and EALREADY once the head has been sent.  The default is 200.
 */
int sl_set_status(struct sl_request *req, int status);

/*
 * Add a response header.  The name must be an HTTP token and the value
 * must not contain CR, LF, NUL or another control character but tab;
 * anything else fails with EINVAL and is never sent.  Names that sluice
 * and the web server write themselves (Status, Transfer-Encoding,
 * Connection, Keep-Alive, Upgrade) fail with EINVAL and a log line: use
 * sl_set_status for the status.
 *
 * A header that a response carries once (Content-Type, Content-Length,
 * Content-Encoding, Content-Disposition, Content-Location, Content-Range,
 * Location, ETag, Last-Modified, Expires, Retry-After, Age,
 * Access-Control-Allow-Origin, Access-Control-Max-Age, Referrer-Policy,
 * Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options)
 * replaces an earlier one of the same name, case-insensitive; any other
 * (Set-Cookie, Vary, Link, ...) is added once per call.  Content-Type
 * replaces the default "text/plain; charset=utf-8".  A 204 or 304
 * response leaves without Content-Type, Content-Length or body, whatever
 * was set or written.  Fails with EALREADY once the head has been sent,
 * and with ENOSPC past the head size limit.
 */
int sl_add_header(struct sl_request *req, const char *name, const char *value);

/*
 * Append to the body.  The head is sent with the first bytes that leave
 * sluice; the body leaves in pieces as it grows, so a response of any
 * size needs bounded memory.  Fails with EPIPE once the client is gone:
 * a handler may stop writing then.
 */
int sl_write(struct sl_request *req, const void *data, size_t len);
int sl_puts(struct sl_request *req, const char *s);
int sl_printf(struct sl_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int sl_vprintf(struct sl_request *req, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Send what has been written so far now, instead of when the buffer fills. */
int sl_flush(struct sl_request *req);

/* ---- Logging -------------------------------------------------------- */

enum sl_log_level { SL_LOG_ERROR, SL_LOG_WARNING, SL_LOG_NOTICE,
		    SL_LOG_INFO, SL_LOG_DEBUG };

/* A line in sluice's error log, tagged with the worker and request id. */
void sl_log(const struct sl_request *req, enum sl_log_level level,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
