/*
 * dev_http.c - the development HTTP listener (dev profile only).  See
 * dev_http.h.
 *
 * A separate process, forked by the master in dev mode, accepts HTTP/1.1
 * on a loopback address with libmicrohttpd and relays every request over
 * FastCGI to sluice's own listening socket: the workers answer it exactly
 * as they answer nginx, and this process runs no app code.  It behaves
 * like nginx's fastcgi_pass with request buffering off: one FastCGI
 * connection per HTTP request (no keep-conn), the request body sent as
 * STDIN while it arrives, the response passed on while the workers write
 * it, so that memory stays bounded whatever the sizes.
 *
 * libmicrohttpd runs a thread per connection, so the relay is written
 * with plain blocking waits (io.c's, bounded by DEV_HTTP_FCGI_TIMEOUT).
 * Each request has its own struct relay, touched only by its
 * connection's thread; nothing else is shared between threads.  Only
 * this file includes <microhttpd.h>.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <microhttpd.h>

#include "config_value.h"
#include "defaults.h"
#include "dev_http.h"
#include "fcgi.h"
#include "io.h"
#include "log.h"

/* A browser opens about six connections per host; 64 bounds the threads. */
#define DEV_HTTP_MAX_CONNS	64

/*
 * Memory libmicrohttpd gives each connection for the request head.  Its
 * default, 32 KiB, would answer 431 to heads the workers accept
 * (limits.max_params_bytes is 64 KiB by default); with 128 KiB it is the
 * workers' own limit, and its log line, that refuses a large head, as
 * behind nginx.
 */
#define DEV_HTTP_POOL_SIZE	(128 * 1024)

/* An idle browser connection is closed after a minute (nginx: 75 s). */
#define DEV_HTTP_IDLE_TIMEOUT	60

/*
 * Seconds the workers may stay silent, or not read, before the relay
 * gives up on them: nginx's fastcgi_read_timeout and
 * fastcgi_send_timeout default.
 */
#define DEV_HTTP_FCGI_TIMEOUT	60

/*
 * The largest response head relayed; a larger one is answered with 502
 * (nginx does the same past fastcgi_buffer_size).  The head is gathered
 * in the buffer that earlier held the PARAMS being built, so that one
 * buffer per request serves both.
 */
#define DEV_HTTP_MAX_HEAD	65536
_Static_assert(DEV_HTTP_MAX_HEAD >= FCGI_MAX_CONTENT, "a PARAMS record fits the buffer");

/* How much of the body libmicrohttpd asks for at a time: a whole record. */
#define DEV_HTTP_BLOCK_SIZE	FCGI_MAX_CONTENT

#define RELAY_REQUEST_ID	1	/* one request per connection */

/* What the listener process knows, set once before libmicrohttpd starts. */
struct server {
	struct sockaddr_storage fcgi;	/* where the workers listen */
	socklen_t fcgi_len;
	const char *fcgi_addr;		/* the same, as configured, for log lines */
	char name[256];			/* SERVER_NAME: the host the listener was given */
};

/*
 * One HTTP request on its way through.  Made when libmicrohttpd has read
 * the request line, freed when both the connection is done with it and
 * the streamed response (if there was one) is released.
 */
struct relay {
	const struct server *srv;
	int refs;		/* the connection's, and the streamed response's */
	int began;		/* the request's head has been handled */
	int status;		/* non-zero: answer with this error instead */
	int send_errno;		/* sending to the workers failed (they may still answer) */
	int fd;			/* the FastCGI connection, -1 before and after */
	const char *method;	/* libmicrohttpd's, valid until the request completes */
	char *uri;		/* the request target exactly as the client sent it */
	unsigned char *buf;	/* DEV_HTTP_MAX_HEAD: PARAMS being built, then the response head */
	size_t len;		/* bytes in buf */
	size_t pos;		/* response: the body's first bytes are buf[pos..len) */
	int type;		/* the record being read */
	size_t left;		/* its content bytes not read yet */
	size_t pad;		/* its padding, skipped before the next record */
	int ended;		/* END_REQUEST has been read */
};

/* The parts of a CGI response head that libmicrohttpd takes apart from the headers. */
struct head {
	int status;
	uint64_t size;		/* from Content-Length, or MHD_SIZE_UNKNOWN */
	size_t nheaders;	/* "name\0value\0" pairs compacted at the start of buf */
};

/* ---- Addresses -------------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24 == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

/* The line for a result of `addr` that is not loopback. */
static void refuse(const char *addr, const struct addrinfo *ai, char *err, size_t errlen)
{
	char numeric[INET6_ADDRSTRLEN] = "?";
	char host[256], port[6];

	getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof(numeric), NULL, 0,
		    NI_NUMERICHOST);
	if (config_value_host_port(addr, host, sizeof(host), port))
		snprintf(host, sizeof(host), "%s", addr);
	if (strcmp(host, numeric) == 0)
		snprintf(err, errlen, "the development listener binds loopback addresses "
			 "only, and %s is not loopback", addr);
	else
		snprintf(err, errlen, "the development listener binds loopback addresses "
			 "only, and %s is not loopback (it resolves to %s)", addr, numeric);
}

/*
 * Resolve `addr` into `res` (the caller frees it) and require every
 * result to be loopback.  Returns 0, or -1 with the line in `err`.
 */
static int resolve_loopback(const char *addr, struct addrinfo **res, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	const struct addrinfo *ai;
	char host[256], port[6];
	int rc;

	if (config_value_host_port(addr, host, sizeof(host), port)) {
		snprintf(err, errlen, "the development listener binds loopback addresses only, "
			 "and \"%s\" is not a host:port such as 127.0.0.1:8081", addr);
		return -1;
	}
	rc = getaddrinfo(host, port, &hints, res);
	if (rc != 0) {
		snprintf(err, errlen, "the development listener binds loopback addresses only, "
			 "and %s does not resolve: %s", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = *res; ai != NULL; ai = ai->ai_next) {
		if (!is_loopback(ai->ai_addr)) {
			refuse(addr, ai, err, errlen);
			freeaddrinfo(*res);
			return -1;
		}
	}
	return 0;
}

int dev_http_check(const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res;

	if (resolve_loopback(addr, &res, err, errlen) < 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

/*
 * Bind and listen on the first address `addr` resolves to (they are all
 * loopback).  SO_REUSEADDR lets a restarted sluice bind again while the
 * last one's connections linger in TIME_WAIT.  Returns the fd, or -1
 * with the line in `err`.
 */
static int bind_listener(const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res;
	int fd, one = 1;

	if (resolve_loopback(addr, &res, err, errlen) < 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, DEFAULT_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot bind: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/*
 * Where the workers listen, from the config's listen.address: a unix
 * socket ("/path", "unix:/path") or host:port, resolved once here.
 * Returns 0, or -1 with the line in `err`.
 */
static int resolve_workers(struct server *srv, const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	const char *path = strncmp(addr, "unix:", 5) == 0 ? addr + 5 : addr;
	struct sockaddr_un *un = (struct sockaddr_un *)&srv->fcgi;
	struct addrinfo *res;
	char host[256], port[6];
	int rc;

	srv->fcgi_addr = addr;
	if (path[0] == '/') {
		if (strlen(path) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "the workers' socket path %s is too long", path);
			return -1;
		}
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", path);
		srv->fcgi_len = sizeof(*un);
		return 0;
	}
	if (config_value_host_port(addr, host, sizeof(host), port)) {
		snprintf(err, errlen, "the workers' address %s is not a socket path or host:port", addr);
		return -1;
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "the workers' address %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	memcpy(&srv->fcgi, res->ai_addr, res->ai_addrlen);
	srv->fcgi_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- The relay's life ------------------------------------------------- */

static void relay_release(struct relay *r)
{
	if (--r->refs > 0)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->uri);
	free(r->buf);
	free(r);
}

/* "the workers closed the connection" for the errno 0 that read_some leaves at EOF. */
static const char *why(int e)
{
	return e != 0 ? strerror(e) : "the workers closed the connection";
}

/*
 * Log why the request is answered with `status` instead of the workers'
 * response, and make it so.  Returns -1, for the caller to return.
 */
__attribute__((format(printf, 3, 4)))
static int relay_fail(struct relay *r, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_WARNING, "%s %.200s: %s; answering %d", r->method, r->uri, msg, status);
	r->status = status;
	return -1;
}

/*
 * Open the FastCGI connection.  The connect blocks, bounded by
 * SO_SNDTIMEO; afterwards the socket is non-blocking for io.c, whose
 * waits carry their own deadline.
 */
static int relay_connect(struct relay *r)
{
	struct timeval tv = { .tv_sec = DEV_HTTP_FCGI_TIMEOUT };
	const struct server *srv = r->srv;

	r->fd = socket(srv->fcgi.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd >= 0)
		setsockopt(r->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (r->fd < 0 || connect(r->fd, (const struct sockaddr *)&srv->fcgi, srv->fcgi_len) < 0 ||
	    fcntl(r->fd, F_SETFL, O_NONBLOCK) < 0)
		return relay_fail(r, 502, "cannot reach the workers at %s: %s", srv->fcgi_addr,
				  strerror(errno));
	return 0;
}

/* ---- Sending the request ---------------------------------------------- */

/*
 * Send one record of `len` (at most 65535) bytes, without padding, which
 * FastCGI leaves to the sender.  After a failure nothing more is sent:
 * the workers may have answered early (413) and closed, and that answer
 * is still read and relayed.
 */
static int send_record(struct relay *r, int type, const void *data, size_t len)
{
	unsigned char h[FCGI_HEADER_LEN];
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)(uintptr_t)data, len } };

	fcgi_put_header(h, (unsigned)type, RELAY_REQUEST_ID, len, 0);
	if (r->send_errno != 0)
		return -1;
	if (io_writev_all(r->fd, iov, len > 0 ? 2 : 1, DEV_HTTP_FCGI_TIMEOUT * 1000) < 0) {
		r->send_errno = errno;
		return -1;
	}
	return 0;
}

/* A piece of the request body, as STDIN records. */
static void send_stdin(struct relay *r, const char *data, size_t len)
{
	while (len > 0 && r->send_errno == 0) {
		size_t n = len < FCGI_MAX_CONTENT ? len : FCGI_MAX_CONTENT;

		send_record(r, FCGI_STDIN, data, n);
		data += n;
		len -= n;
	}
}

/*
 * Append bytes to the PARAMS stream, sending a record each time one is
 * full: a name-value pair may straddle two records, which FastCGI allows
 * (the stream is one byte sequence).
 */
static void params_add(struct relay *r, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t room = FCGI_MAX_CONTENT - r->len;
		size_t n = len < room ? len : room;

		memcpy(r->buf + r->len, p, n);
		r->len += n;
		p += n;
		len -= n;
		if (r->len == FCGI_MAX_CONTENT) {
			send_record(r, FCGI_PARAMS, r->buf, r->len);
			r->len = 0;
		}
	}
}

/*
 * A name-value length: one byte below 128, else four, big-endian with
 * the top bit set (FastCGI 1.0, 3.4).  Lengths here are bounded by
 * DEV_HTTP_POOL_SIZE, far below the format's 2^31.
 */
static void params_len(struct relay *r, size_t n)
{
	unsigned char b[4] = { (unsigned char)(n >> 24 | 0x80), (unsigned char)(n >> 16),
			       (unsigned char)(n >> 8), (unsigned char)n };

	if (n < 128)
		params_add(r, b + 3, 1);
	else
		params_add(r, b, 4);
}

static void param(struct relay *r, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	params_len(r, nlen);
	params_len(r, vlen);
	params_add(r, name, nlen);
	params_add(r, value, vlen);
}

/*
 * A name CGI carries as a header, HTTP_ + the name in upper case with
 * '-' as '_'.  Only letters, digits and '-' pass, like nginx's default
 * (ignore_invalid_headers, no underscores_in_headers): "X_User" and
 * "X-User" would otherwise both arrive as HTTP_X_USER, and a client
 * could pass one off as the other.  Proxy never passes (httpoxy: an app
 * that copies parameters into its environment would take it for
 * HTTP_PROXY), and Content-Type and Content-Length go without HTTP_.
 */
static int header_passes(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-')
			return 0;
	return len > 0 && strcasecmp(name, "Proxy") != 0 &&
	       strcasecmp(name, MHD_HTTP_HEADER_CONTENT_TYPE) != 0 &&
	       strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0;
}

static enum MHD_Result param_header(void *cls, enum MHD_ValueKind kind, const char *name,
				    size_t nlen, const char *value, size_t vlen)
{
	struct relay *r = cls;
	size_t i;

	(void)kind;
	if (!header_passes(name, nlen)) {
		if (strcasecmp(name, MHD_HTTP_HEADER_CONTENT_TYPE) != 0 &&
		    strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
			log_msg(LOG_INFO, "%s %.200s: header \"%.100s\" not passed on", r->method,
				r->uri, name);
		return MHD_YES;
	}
	params_len(r, 5 + nlen);
	params_len(r, vlen);
	params_add(r, "HTTP_", 5);
	for (i = 0; i < nlen; i++) {
		char c = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);

		params_add(r, &c, 1);
	}
	params_add(r, value, vlen);
	return MHD_YES;
}

static socklen_t sockaddr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* `addr_name` and `port_name` for a socket address, numeric. */
static void param_sockaddr(struct relay *r, const char *addr_name, const char *port_name,
			   const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, sockaddr_len(sa), host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	param(r, addr_name, host);
	param(r, port_name, port);
}

/* REMOTE_ADDR and REMOTE_PORT, SERVER_ADDR and SERVER_PORT. */
static void param_peers(struct relay *r, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL)
		param_sockaddr(r, "REMOTE_ADDR", "REMOTE_PORT", ci->client_addr);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && getsockname(ci->connect_fd, (struct sockaddr *)&local, &len) == 0)
		param_sockaddr(r, "SERVER_ADDR", "SERVER_PORT", (struct sockaddr *)&local);
}

/*
 * BEGIN_REQUEST (a responder, without keep-conn: the workers close the
 * connection after END_REQUEST), then the parameters nginx's
 * fastcgi_params sends and every header, then the empty PARAMS record
 * that ends the stream.  REQUEST_URI and QUERY_STRING are the bytes the
 * client sent; DOCUMENT_URI and SCRIPT_NAME the decoded, normalized path.
 * CONTENT_LENGTH is sent only when the client sent one: a chunked body
 * has none, and the workers read STDIN to its end.
 */
static void send_head(struct relay *r, struct MHD_Connection *c, const char *version,
		      const char *path)
{
	static const unsigned char begin[8] = { 0, FCGI_RESPONDER, 0 };
	const char *query = strchr(r->uri, '?');
	const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_CONTENT_LENGTH);

	send_record(r, FCGI_BEGIN_REQUEST, begin, sizeof(begin));
	r->len = 0;
	param(r, "GATEWAY_INTERFACE", "CGI/1.1");
	param(r, "SERVER_SOFTWARE", "sluice-dev");
	param(r, "SERVER_PROTOCOL", version);
	param(r, "SERVER_NAME", r->srv->name);
	param(r, "REQUEST_SCHEME", "http");
	param(r, "REQUEST_METHOD", r->method);
	param(r, "REQUEST_URI", r->uri);
	param(r, "DOCUMENT_URI", path);
	param(r, "SCRIPT_NAME", path);
	param(r, "QUERY_STRING", query != NULL ? query + 1 : "");
	param_peers(r, c);
	if (type != NULL)
		param(r, "CONTENT_TYPE", type);
	if (length != NULL)
		param(r, "CONTENT_LENGTH", length);
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, param_header, r);
	if (r->len > 0)
		send_record(r, FCGI_PARAMS, r->buf, r->len);
	r->len = 0;
	send_record(r, FCGI_PARAMS, NULL, 0);
}

/* ---- The request's path and framing ----------------------------------- */

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The path part of `uri` (up to '?'), %-decoded into `out`, which has
 * room for `uri`.  A malformed escape or an encoded NUL is refused, as
 * nginx refuses them: -1.
 */
static int decode_path(const char *uri, char *out)
{
	for (; *uri != '\0' && *uri != '?'; uri++) {
		if (*uri == '%') {
			int hi = hex_value(uri[1]);
			int lo = hi < 0 ? -1 : hex_value(uri[2]);

			if (lo < 0 || (hi | lo) == 0)
				return -1;
			*out++ = (char)(hi << 4 | lo);
			uri += 2;
		} else {
			*out++ = *uri;
		}
	}
	*out = '\0';
	return 0;
}

/*
 * Normalize a decoded path in place as nginx does for $uri (which the
 * router takes from DOCUMENT_URI): "//" becomes "/", "." segments go,
 * ".." removes the segment before it, and a trailing "/" stays.  A path
 * that does not start with '/' or whose ".." climbs above the root is
 * refused: -1.
 */
static int normalize_path(char *p)
{
	const char *rd = p;
	char *wr = p;

	if (p[0] != '/')
		return -1;
	while (*rd != '\0') {
		const char *seg = rd + 1, *end = strchrnul(seg, '/');
		size_t n = (size_t)(end - seg);

		if (n == 0 || (n == 1 && seg[0] == '.')) {
			if (*end == '\0')
				*wr++ = '/';
		} else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			if (wr == p)
				return -1;
			while (wr > p && *--wr != '/')
				;
			if (*end == '\0')
				*wr++ = '/';
		} else {
			*wr++ = '/';
			memmove(wr, seg, n);
			wr += n;
		}
		rd = end;
	}
	if (wr == p)
		*wr++ = '/';
	*wr = '\0';
	return 0;
}

struct framing {
	int lengths;		/* Content-Length headers */
	int transfer;		/* a Transfer-Encoding header */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *name,
				     size_t nlen, const char *value, size_t vlen)
{
	struct framing *f = cls;

	(void)kind;
	(void)nlen;
	(void)value;
	(void)vlen;
	f->lengths += strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0;
	f->transfer |= strcasecmp(name, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0;
	return MHD_YES;
}

/*
 * One length, one source: two Content-Length headers, or one beside a
 * Transfer-Encoding, could make the workers read a body of another
 * length than the one libmicrohttpd read (request smuggling).  Refused,
 * as nginx refuses them: -1.
 */
static int check_framing(struct MHD_Connection *c)
{
	struct framing f = { 0, 0 };

	MHD_get_connection_values_n(c, MHD_HEADER_KIND, count_framing, &f);
	return f.lengths > 1 || (f.lengths == 1 && f.transfer) ? -1 : 0;
}

/*
 * The request's head is in: refuse what the relay refuses itself, else
 * connect and send the head.  A failure sets r->status; the body is then
 * read and dropped and the error answered once it is in, since
 * libmicrohttpd takes a response only before or after the body.
 */
static void relay_begin(struct relay *r, struct MHD_Connection *c, const char *version)
{
	char *path = malloc(strlen(r->uri) + 1);

	if (path == NULL)
		relay_fail(r, 502, "out of memory");
	else if (decode_path(r->uri, path) < 0 || normalize_path(path) < 0)
		relay_fail(r, 400, "malformed path, or one that climbs above the root");
	else if (check_framing(c) < 0)
		relay_fail(r, 400, "Content-Length twice, or beside Transfer-Encoding");
	else if (relay_connect(r) == 0)
		send_head(r, c, version, path);
	free(path);
}

/* ---- Reading the response --------------------------------------------- */

/*
 * Read what is there, up to `len`, waiting up to DEV_HTTP_FCGI_TIMEOUT.
 * Returns the count, or -1 with errno (ETIMEDOUT; 0 when the workers
 * closed the connection).
 */
static ssize_t read_some(struct relay *r, void *buf, size_t len)
{
	ssize_t n = io_read_wait(r->fd, buf, len, io_now_ms() + DEV_HTTP_FCGI_TIMEOUT * 1000LL);

	if (n == 0) {
		errno = 0;
		return -1;
	}
	return n;
}

static int read_full(struct relay *r, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = read_some(r, p, len);

		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int skip(struct relay *r, size_t len)
{
	unsigned char sink[512];

	while (len > 0) {
		size_t n = len < sizeof(sink) ? len : sizeof(sink);

		if (read_full(r, sink, n) < 0)
			return -1;
		len -= n;
	}
	return 0;
}

/*
 * Read the next record's header, after the padding of the last one
 * (receivers accept any padding, FastCGI 1.0, 3.3).  Another version or
 * request id is a broken stream: EPROTO.
 */
static int next_record(struct relay *r)
{
	unsigned char h[FCGI_HEADER_LEN];

	if (skip(r, r->pad) < 0 || read_full(r, h, sizeof(h)) < 0)
		return -1;
	r->pad = 0;
	if (h[0] != FCGI_VERSION_1 || h[2] != 0 || h[3] != RELAY_REQUEST_ID) {
		errno = EPROTO;
		return -1;
	}
	r->type = h[1];
	r->left = (size_t)h[4] << 8 | h[5];
	r->pad = h[6];
	return 0;
}

/* Log each line of `text` that the app wrote to STDERR. */
static void log_stderr(const struct relay *r, const char *text, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - text) : len;
		size_t shown = n > 0 && text[n - 1] == '\r' ? n - 1 : n;

		if (shown > 0)
			log_msg(LOG_WARNING, "%s %.200s: stderr: %.*s", r->method, r->uri,
				(int)shown, text);
		n += nl != NULL;
		text += n;
		len -= n;
	}
}

/*
 * The current record is not STDOUT content: log STDERR, note
 * END_REQUEST (its protocolStatus in `*proto_status`), skip anything
 * else.  Returns 0, or -1 with errno.
 */
static int other_record(struct relay *r, int *proto_status)
{
	char text[1024];
	unsigned char end[8];

	if (r->type == FCGI_END_REQUEST && r->left >= sizeof(end)) {
		if (read_full(r, end, sizeof(end)) < 0)
			return -1;
		r->left -= sizeof(end);
		r->ended = 1;
		*proto_status = end[4];
	}
	while (r->type == FCGI_STDERR && r->left > 0) {
		size_t n = r->left < sizeof(text) ? r->left : sizeof(text);

		if (read_full(r, text, n) < 0)
			return -1;
		r->left -= n;
		log_stderr(r, text, n);
	}
	if (skip(r, r->left) < 0)
		return -1;
	r->left = 0;
	return 0;
}

/*
 * Where the body starts in buf[0..len), or 0 while the blank line that
 * ends the CGI head has not come.  Lines end in CRLF or LF; `from` is
 * where the last look stopped, less the two bytes a split "\n\r\n" may
 * have left behind.
 */
static size_t find_head_end(const unsigned char *b, size_t len, size_t from)
{
	size_t i;

	if (len >= 1 && b[0] == '\n')
		return 1;
	if (len >= 2 && b[0] == '\r' && b[1] == '\n')
		return 2;
	for (i = from; i < len; i++) {
		if (b[i] != '\n')
			continue;
		if (i + 1 < len && b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* More of the current STDOUT record into the head; 1 when the head is complete. */
static int read_head_bytes(struct relay *r)
{
	size_t room = DEV_HTTP_MAX_HEAD - r->len;
	size_t from = r->len > 2 ? r->len - 2 : 0;
	ssize_t n;

	if (room == 0)
		return relay_fail(r, 502, "response head larger than %d bytes", DEV_HTTP_MAX_HEAD);
	n = read_some(r, r->buf + r->len, r->left < room ? r->left : room);
	if (n < 0)
		return relay_fail(r, errno == ETIMEDOUT ? 504 : 502, "reading the response: %s",
				  why(errno));
	r->left -= (size_t)n;
	r->len += (size_t)n;
	r->pos = find_head_end(r->buf, r->len, from);
	return r->pos > 0;
}

/*
 * Read STDOUT until the CGI head is complete, logging STDERR on the way.
 * The head and the body bytes that came with it stay in r->buf, the
 * body from r->pos.  Returns 0, or -1 with r->status set (502; 504 when
 * the workers were silent too long) and the reason logged.
 */
static int read_head(struct relay *r)
{
	int proto_status = 0, rc;

	r->len = 0;
	for (;;) {
		if (r->left == 0 && next_record(r) < 0)
			break;
		if (r->type == FCGI_STDOUT && r->left == 0)
			return relay_fail(r, 502, "the response ended before its head did");
		if (r->type == FCGI_STDOUT) {
			rc = read_head_bytes(r);
			if (rc != 0)
				return rc > 0 ? 0 : -1;
			continue;
		}
		if (other_record(r, &proto_status) < 0)
			break;
		if (r->ended)
			return relay_fail(r, 502, "the request ended without a response "
					  "(protocol status %d)", proto_status);
	}
	if (r->send_errno != 0)
		return relay_fail(r, 502, "sending the request: %s; then reading the "
				  "response: %s", strerror(r->send_errno), why(errno));
	return relay_fail(r, errno == ETIMEDOUT ? 504 : 502, "reading the response: %s",
			  why(errno));
}

/*
 * libmicrohttpd asks for more of the body: first what came with the
 * head, then STDOUT content read straight into its buffer, until
 * END_REQUEST.  It never returns 0, which would make libmicrohttpd's
 * thread spin: it waits for the workers instead.  A broken stream ends
 * the response with an error (libmicrohttpd then cuts the connection, so
 * that the client cannot take a truncated body for a whole one).
 */
static ssize_t read_body(void *cls, uint64_t offset, char *out, size_t max)
{
	struct relay *r = cls;
	int proto_status;
	ssize_t n;

	(void)offset;
	if (r->pos < r->len) {
		n = (ssize_t)(r->len - r->pos < max ? r->len - r->pos : max);
		memcpy(out, r->buf + r->pos, (size_t)n);
		r->pos += (size_t)n;
		return n;
	}
	while (!r->ended) {
		if (r->left == 0 && next_record(r) < 0)
			break;
		if (r->type == FCGI_STDOUT && r->left > 0) {
			n = read_some(r, out, r->left < max ? r->left : max);
			if (n < 0)
				break;
			r->left -= (size_t)n;
			return n;
		}
		if (other_record(r, &proto_status) < 0)
			break;
	}
	if (r->ended)
		return MHD_CONTENT_READER_END_OF_STREAM;
	log_msg(LOG_WARNING, "%s %.200s: the response broke off: %s", r->method, r->uri,
		why(errno));
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* ---- The response head ------------------------------------------------ */

/* "404 Not Found" or "404": the code, 200 to 599, or -1. */
static int parse_status(const char *v)
{
	int code;

	if (!isdigit((unsigned char)v[0]) || !isdigit((unsigned char)v[1]) ||
	    !isdigit((unsigned char)v[2]) || (v[3] != '\0' && v[3] != ' '))
		return -1;
	code = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
	return code >= 200 && code <= 599 ? code : -1;
}

/* A Content-Length in plain digits without overflow; -1 if not. */
static int parse_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return 0;
}

/*
 * Split one head line "Name: value" in place, NUL-terminating both (the
 * line's end is at line[len]).  The name must be a token without spaces
 * and the value free of NUL and CR.  Returns 0, or -1.
 */
static int split_line(char *line, size_t len, char **name, char **value)
{
	char *colon = memchr(line, ':', len), *v, *end = line + len;
	size_t i;

	if (colon == NULL || colon == line)
		return -1;
	for (i = 0; line + i < colon; i++)
		if (!isgraph((unsigned char)line[i]))
			return -1;
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (memchr(v, '\0', (size_t)(end - v)) != NULL || memchr(v, '\r', (size_t)(end - v)) != NULL)
		return -1;
	*colon = '\0';
	*end = '\0';
	*name = line;
	*value = v;
	return 0;
}

/*
 * Take Status and Content-Length out of one header line, or keep the
 * header for the response by compacting it to "name\0value\0" at `*wr`
 * (never past the line itself, which lies ahead).  Connection,
 * Keep-Alive and Transfer-Encoding are dropped: libmicrohttpd frames the
 * response itself.  Returns 0, or -1 when the line is malformed.
 */
static int take_header(struct head *h, char *name, char *value, char **wr, int *located)
{
	size_t nlen = strlen(name) + 1, vlen = strlen(value) + 1;
	uint64_t size;

	if (strcasecmp(name, "Status") == 0)
		return (h->status = parse_status(value)) < 0 ? -1 : 0;
	if (strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (parse_length(value, &size) < 0 ||
		    (h->size != MHD_SIZE_UNKNOWN && h->size != size))
			return -1;
		h->size = size;
		return 0;
	}
	if (strcasecmp(name, MHD_HTTP_HEADER_CONNECTION) == 0 ||
	    strcasecmp(name, "Keep-Alive") == 0 ||
	    strcasecmp(name, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		return 0;
	*located |= strcasecmp(name, MHD_HTTP_HEADER_LOCATION) == 0;
	memmove(*wr, name, nlen);
	memmove(*wr + nlen, value, vlen);
	*wr += nlen + vlen;
	h->nheaders++;
	return 0;
}

/*
 * Parse the CGI head in r->buf[0..r->pos): the status (200 without a
 * Status line, 302 with only a Location: RFC 3875, 6.2.3), the body's
 * size, and the headers, compacted at the start of r->buf.  Returns 0,
 * or -1 with r->status set and the reason logged.
 */
static int parse_head(struct relay *r, struct head *h)
{
	char *rd = (char *)r->buf, *end = (char *)r->buf + r->pos, *wr = rd, *name, *value;
	int located = 0;

	h->status = 0;
	h->size = MHD_SIZE_UNKNOWN;
	h->nheaders = 0;
	while (rd < end) {
		char *nl = memchr(rd, '\n', (size_t)(end - rd));
		size_t len = (size_t)(nl - rd);

		if (nl == NULL)
			break;
		if (len > 0 && rd[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		if (split_line(rd, len, &name, &value) < 0)
			return relay_fail(r, 502, "malformed response head line \"%.*s\"",
					  (int)(len < 100 ? len : 100), rd);
		if (take_header(h, name, value, &wr, &located) < 0)
			return relay_fail(r, 502, "malformed response header \"%s: %.100s\"",
					  name, value);
		rd = nl + 1;
	}
	if (h->status == 0)
		h->status = located ? 302 : 200;
	return 0;
}

/* The streamed response holds a reference to the relay until libmicrohttpd drops it. */
static void response_freed(void *cls)
{
	relay_release(cls);
}

/* The workers' response, streamed by read_body; NULL when out of memory. */
static struct MHD_Response *response_new(struct relay *r, const struct head *h)
{
	struct MHD_Response *resp;
	const char *p = (const char *)r->buf;
	size_t i;

	resp = MHD_create_response_from_callback(h->size, DEV_HTTP_BLOCK_SIZE, read_body, r,
						 response_freed);
	if (resp == NULL)
		return NULL;
	r->refs++;
	/* libmicrohttpd 0.9.75 chunks a HEAD response of unknown length and
	 * sends the last chunk, a body HEAD must not have; unchunked, it
	 * sends the head alone and closes the connection. */
	if (h->size == MHD_SIZE_UNKNOWN && strcmp(r->method, "HEAD") == 0)
		MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
	for (i = 0; i < h->nheaders; i++) {
		const char *value = p + strlen(p) + 1;

		if (MHD_add_response_header(resp, p, value) == MHD_NO)
			log_msg(LOG_WARNING, "%s %.200s: response header \"%.100s\" refused by "
				"libmicrohttpd", r->method, r->uri, p);
		p = value + strlen(value) + 1;
	}
	return resp;
}

/* The relay's own short answer: 400, 502 or 504, as text. */
static enum MHD_Result answer_error(struct MHD_Connection *c, int status)
{
	const char *text = status == 400 ? "400 Bad Request\n" :
			   status == 504 ? "504 Gateway Timeout\n" : "502 Bad Gateway\n";
	struct MHD_Response *resp;
	enum MHD_Result rc;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
					       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	rc = MHD_queue_response(c, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/*
 * The whole body is in: end STDIN, read the response head and hand the
 * response to libmicrohttpd, or answer the error set on the way.
 */
static enum MHD_Result relay_answer(struct relay *r, struct MHD_Connection *c)
{
	struct MHD_Response *resp;
	struct head h;
	enum MHD_Result rc;

	if (r->status == 0)
		send_record(r, FCGI_STDIN, NULL, 0);
	if (r->status == 0 && read_head(r) == 0 && parse_head(r, &h) == 0) {
		resp = response_new(r, &h);
		if (resp != NULL) {
			rc = MHD_queue_response(c, (unsigned int)h.status, resp);
			MHD_destroy_response(resp);
			return rc;
		}
		relay_fail(r, 502, "out of memory");
	}
	return answer_error(c, r->status);
}

/* ---- libmicrohttpd's callbacks ---------------------------------------- */

/*
 * Called once per request, with the request target as the client sent
 * it (libmicrohttpd decodes its own copy later): the relay starts here,
 * and libmicrohttpd passes it to every later callback of the request.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct relay *r = calloc(1, sizeof(*r));

	(void)c;
	if (r == NULL)
		return NULL;
	r->srv = cls;
	r->refs = 1;
	r->fd = -1;
	r->method = "-";
	r->uri = strdup(uri);
	r->buf = malloc(DEV_HTTP_MAX_HEAD);
	if (r->uri == NULL || r->buf == NULL) {
		relay_release(r);
		return NULL;
	}
	return r;
}

/*
 * The access handler: first with the head (connect and send it), then
 * once per piece of body (send it as STDIN, or drop it after an error),
 * then once more with nothing (answer).
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_len, void **ctx)
{
	struct relay *r = *ctx;

	(void)cls;
	(void)url;
	if (r == NULL)
		return MHD_NO;
	if (!r->began) {
		r->began = 1;
		r->method = method;
		relay_begin(r, c, version);
		return MHD_YES;
	}
	if (*upload_len > 0) {
		if (r->status == 0)
			send_stdin(r, upload, *upload_len);
		*upload_len = 0;
		return MHD_YES;
	}
	return relay_answer(r, c);
}

/*
 * The request is over, answered or not.  Closing the FastCGI connection
 * now tells the workers when the client left early.
 */
static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	struct relay *r = *ctx;

	(void)cls;
	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	*ctx = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	relay_release(r);
}

__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	log_msg(LOG_WARNING, "libmicrohttpd: %s", line);
}

/* libmicrohttpd on the bound socket `fd`; its own messages go to our log (the logger option must come first). */
static struct MHD_Daemon *server_start(struct server *srv, int fd)
{
	return MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, srv,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)DEV_HTTP_MAX_CONNS,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)DEV_HTTP_POOL_SIZE,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)DEV_HTTP_IDLE_TIMEOUT,
				MHD_OPTION_END);
}

/* ---- The listener process --------------------------------------------- */

/*
 * The handlers inherited from the master would write to the master's
 * self-pipe, so they are reset.  The master's SIGHUP and SIGUSR1/2 mean
 * nothing here and are ignored; SIGPIPE too, as io.c writes with
 * writev.  The stop signals are blocked before libmicrohttpd starts its
 * threads (which inherit the mask), for wait_stop to take: no handler
 * runs in this process at all.
 */
static void signals_setup(sigset_t *stop)
{
	static const int reset[] = { SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGALRM };
	static const int ignored[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE };
	struct sigaction sa = { .sa_handler = SIG_DFL };
	size_t i;

	for (i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		sigaction(reset[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		sigaction(ignored[i], &sa, NULL);
	sigemptyset(stop);
	sigaddset(stop, SIGTERM);
	sigaddset(stop, SIGINT);
	sigaddset(stop, SIGQUIT);
	sigprocmask(SIG_SETMASK, stop, NULL);
}

/*
 * Wait for a stop signal, then leave at once: a relay thread may be
 * waiting on the workers, and the kernel closes every socket anyway.
 */
__attribute__((noreturn))
static void wait_stop(const sigset_t *stop)
{
	siginfo_t si;

	while (sigwaitinfo(stop, &si) < 0)
		;
	log_msg(LOG_INFO, "stopping on signal %d", si.si_signo);
	_exit(0);
}

/*
 * The child's side of dev_http_spawn.  It asks for SIGTERM when the
 * master dies (and leaves if that already happened), starts serving on
 * the inherited socket `fd`, and tells the parent through `report`: an
 * empty line when it serves, else the reason.
 */
__attribute__((noreturn))
static void listener_main(int fd, int report, const char *http_addr, const char *fcgi_addr,
			  pid_t parent)
{
	static struct server srv;
	char err[512] = "", port[6], ident[64];
	sigset_t stop;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	signals_setup(&stop);
	snprintf(ident, sizeof(ident), "http listener (pid %d)", (int)getpid());
	log_set_ident(ident);
	if (config_value_host_port(http_addr, srv.name, sizeof(srv.name), port))
		snprintf(srv.name, sizeof(srv.name), "localhost");
	if (resolve_workers(&srv, fcgi_addr, err, sizeof(err)) == 0 &&
	    server_start(&srv, fd) == NULL)
		snprintf(err, sizeof(err), "libmicrohttpd did not start (its reason is in the log)");
	dprintf(report, "%s\n", err);
	close(report);
	if (err[0] != '\0')
		_exit(1);
	wait_stop(&stop);
}

/*
 * The parent's side: read the child's line until it closes the pipe.  A
 * child that did not start is reaped here.  Returns 0, or -1 with `err`.
 */
static int wait_started(int fd, pid_t pid, char *err, size_t errlen)
{
	char line[512];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(line) - 1) {
		n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
		len += n > 0 ? (size_t)n : 0;
	}
	close(fd);
	line[len] = '\0';
	if (len == 1 && line[0] == '\n')
		return 0;
	if (len <= 1)
		snprintf(err, errlen, "the listener process exited while starting");
	else
		snprintf(err, errlen, "%.*s", (int)strcspn(line, "\n"), line);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return -1;
}

pid_t dev_http_spawn(const char *http_addr, const char *fcgi_addr, char *err, size_t errlen)
{
	pid_t parent = getpid(), pid;
	int fd, report[2];

	*err = '\0';
	fd = bind_listener(http_addr, err, errlen);
	if (fd < 0)
		return -1;
	if (pipe2(report, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(fd);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(report[0]);
		listener_main(fd, report[1], http_addr, fcgi_addr, parent);
	}
	if (pid < 0)
		snprintf(err, errlen, "fork: %s", strerror(errno));
	close(fd);
	close(report[1]);
	if (pid < 0) {
		close(report[0]);
		return -1;
	}
	return wait_started(report[0], pid, err, errlen) < 0 ? -1 : pid;
}
