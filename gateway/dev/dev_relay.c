/*
 * dev_relay.c - the development listener's FastCGI client (dev profile
 * only).  See dev_relay.h.
 *
 * It behaves like nginx's fastcgi_pass with request buffering off: one
 * FastCGI connection per HTTP request (no keep-conn), the request body
 * sent as STDIN while it arrives, the response passed on while the
 * workers write it, so that memory stays bounded whatever the sizes.
 *
 * The HTTP listener runs a thread per connection, so the relay is
 * written with plain blocking waits (io.c's, bounded by
 * DEV_RELAY_TIMEOUT).  Each request has its own struct dev_relay,
 * touched only by its connection's thread; nothing here is shared
 * between threads.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "config_value.h"
#include "dev_relay.h"
#include "fcgi.h"
#include "io.h"
#include "log.h"

/*
 * Seconds the workers may stay silent, or not read, before the relay
 * gives up on them: nginx's fastcgi_read_timeout and
 * fastcgi_send_timeout default.
 */
#define DEV_RELAY_TIMEOUT	60

/*
 * The largest response head relayed; a larger one is answered with 502
 * (nginx does the same past fastcgi_buffer_size).  The head is gathered
 * in the buffer that earlier held the PARAMS being built, so that one
 * buffer per request serves both.
 */
#define DEV_RELAY_MAX_HEAD	65536
_Static_assert(DEV_RELAY_MAX_HEAD >= FCGI_MAX_CONTENT, "a PARAMS record fits the buffer");

#define RELAY_REQUEST_ID	1	/* one request per connection */

/* ---- The workers' address --------------------------------------------- */

int dev_relay_resolve(struct dev_relay_target *to, const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	const char *path = strncmp(addr, "unix:", 5) == 0 ? addr + 5 : addr;
	struct sockaddr_un *un = (struct sockaddr_un *)&to->addr;
	struct addrinfo *res;
	char host[256], port[6];
	int rc;

	to->name = addr;
	if (path[0] == '/') {
		if (strlen(path) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "the workers' socket path %s is too long", path);
			return -1;
		}
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", path);
		to->len = sizeof(*un);
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
	memcpy(&to->addr, res->ai_addr, res->ai_addrlen);
	to->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- The relay's life ------------------------------------------------- */

int dev_relay_init(struct dev_relay *r, const struct dev_relay_target *to, const char *uri)
{
	*r = (struct dev_relay){ .to = to, .method = "-", .fd = -1 };
	r->uri = strdup(uri);
	r->buf = malloc(DEV_RELAY_MAX_HEAD);
	if (r->uri == NULL || r->buf == NULL) {
		dev_relay_free(r);
		return -1;
	}
	return 0;
}

void dev_relay_close(struct dev_relay *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

void dev_relay_free(struct dev_relay *r)
{
	dev_relay_close(r);
	free(r->uri);
	free(r->buf);
	r->uri = NULL;
	r->buf = NULL;
}

/* "the workers closed the connection" for the errno 0 that read_some leaves at EOF. */
static const char *why(int e)
{
	return e != 0 ? strerror(e) : "the workers closed the connection";
}

int dev_relay_fail(struct dev_relay *r, int status, const char *fmt, ...)
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
static int relay_connect(struct dev_relay *r)
{
	struct timeval tv = { .tv_sec = DEV_RELAY_TIMEOUT };
	const struct dev_relay_target *to = r->to;

	r->fd = socket(to->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd >= 0)
		setsockopt(r->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (r->fd < 0 || connect(r->fd, (const struct sockaddr *)&to->addr, to->len) < 0 ||
	    fcntl(r->fd, F_SETFL, O_NONBLOCK) < 0)
		return dev_relay_fail(r, 502, "cannot reach the workers at %s: %s", to->name,
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
static int send_record(struct dev_relay *r, int type, const void *data, size_t len)
{
	unsigned char h[FCGI_HEADER_LEN];
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)(uintptr_t)data, len } };

	fcgi_put_header(h, (unsigned)type, RELAY_REQUEST_ID, len, 0);
	if (r->send_errno != 0)
		return -1;
	if (io_writev_all(r->fd, iov, len > 0 ? 2 : 1, DEV_RELAY_TIMEOUT * 1000) < 0) {
		r->send_errno = errno;
		return -1;
	}
	return 0;
}

int dev_relay_open(struct dev_relay *r)
{
	static const unsigned char begin[8] = { 0, FCGI_RESPONDER, 0 };

	if (relay_connect(r) < 0)
		return -1;
	send_record(r, FCGI_BEGIN_REQUEST, begin, sizeof(begin));
	r->len = 0;
	return 0;
}

void dev_relay_stdin(struct dev_relay *r, const char *data, size_t len)
{
	while (len > 0 && r->send_errno == 0) {
		size_t n = len < FCGI_MAX_CONTENT ? len : FCGI_MAX_CONTENT;

		send_record(r, FCGI_STDIN, data, n);
		data += n;
		len -= n;
	}
}

void dev_relay_end_stdin(struct dev_relay *r)
{
	send_record(r, FCGI_STDIN, NULL, 0);
}

/*
 * Append bytes to the PARAMS stream, sending a record each time one is
 * full: a name-value pair may straddle two records, which FastCGI allows
 * (the stream is one byte sequence).
 */
static void params_add(struct dev_relay *r, const void *data, size_t len)
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
 * the top bit set (FastCGI 1.0, 3.4).  Lengths here are bounded by the
 * HTTP listener's request head (DEV_HTTP_POOL_SIZE in dev_http.c), far
 * below the format's 2^31.
 */
static void params_len(struct dev_relay *r, size_t n)
{
	unsigned char b[4];

	params_add(r, b, fcgi_put_len(b, n));
}

void dev_relay_param(struct dev_relay *r, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	params_len(r, nlen);
	params_len(r, vlen);
	params_add(r, name, nlen);
	params_add(r, value, vlen);
}

void dev_relay_param_header(struct dev_relay *r, const char *name, size_t nlen,
			    const char *value, size_t vlen)
{
	size_t i;

	params_len(r, 5 + nlen);
	params_len(r, vlen);
	params_add(r, "HTTP_", 5);
	for (i = 0; i < nlen; i++) {
		char c = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);

		params_add(r, &c, 1);
	}
	params_add(r, value, vlen);
}

void dev_relay_end_params(struct dev_relay *r)
{
	if (r->len > 0)
		send_record(r, FCGI_PARAMS, r->buf, r->len);
	r->len = 0;
	send_record(r, FCGI_PARAMS, NULL, 0);
}

/* ---- Reading the response --------------------------------------------- */

/*
 * Read what is there, up to `len`, waiting up to DEV_RELAY_TIMEOUT.
 * Returns the count, or -1 with errno (ETIMEDOUT; 0 when the workers
 * closed the connection).
 */
static ssize_t read_some(struct dev_relay *r, void *buf, size_t len)
{
	ssize_t n = io_read_wait(r->fd, buf, len, io_now_ms() + DEV_RELAY_TIMEOUT * 1000LL);

	if (n == 0) {
		errno = 0;
		return -1;
	}
	return n;
}

static int read_full(struct dev_relay *r, void *buf, size_t len)
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

static int skip(struct dev_relay *r, size_t len)
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
static int next_record(struct dev_relay *r)
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
static void log_stderr(const struct dev_relay *r, const char *text, size_t len)
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
static int other_record(struct dev_relay *r, int *proto_status)
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
static int read_head_bytes(struct dev_relay *r)
{
	size_t room = DEV_RELAY_MAX_HEAD - r->len;
	size_t from = r->len > 2 ? r->len - 2 : 0;
	ssize_t n;

	if (room == 0)
		return dev_relay_fail(r, 502, "response head larger than %d bytes",
				      DEV_RELAY_MAX_HEAD);
	n = read_some(r, r->buf + r->len, r->left < room ? r->left : room);
	if (n < 0)
		return dev_relay_fail(r, errno == ETIMEDOUT ? 504 : 502,
				      "reading the response: %s", why(errno));
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
static int read_head(struct dev_relay *r)
{
	int proto_status = 0, rc;

	r->len = 0;
	for (;;) {
		if (r->left == 0 && next_record(r) < 0)
			break;
		if (r->type == FCGI_STDOUT && r->left == 0)
			return dev_relay_fail(r, 502, "the response ended before its head did");
		if (r->type == FCGI_STDOUT) {
			rc = read_head_bytes(r);
			if (rc != 0)
				return rc > 0 ? 0 : -1;
			continue;
		}
		if (other_record(r, &proto_status) < 0)
			break;
		if (r->ended)
			return dev_relay_fail(r, 502, "the request ended without a response "
					      "(protocol status %d)", proto_status);
	}
	if (r->send_errno != 0)
		return dev_relay_fail(r, 502, "sending the request: %s; then reading the "
				      "response: %s", strerror(r->send_errno), why(errno));
	return dev_relay_fail(r, errno == ETIMEDOUT ? 504 : 502, "reading the response: %s",
			      why(errno));
}

ssize_t dev_relay_read_body(struct dev_relay *r, char *out, size_t max)
{
	int proto_status;
	ssize_t n;

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
		return 0;
	log_msg(LOG_WARNING, "%s %.200s: the response broke off: %s", r->method, r->uri,
		why(errno));
	return -1;
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
 * Keep-Alive and Transfer-Encoding are dropped: the HTTP side
 * (libmicrohttpd) frames the response itself.  Returns 0, or -1 when the
 * line is malformed.
 */
static int take_header(struct dev_relay_head *h, char *name, char *value, char **wr,
		       int *located)
{
	size_t nlen = strlen(name) + 1, vlen = strlen(value) + 1;
	uint64_t size;

	if (strcasecmp(name, "Status") == 0)
		return (h->status = parse_status(value)) < 0 ? -1 : 0;
	if (strcasecmp(name, "Content-Length") == 0) {
		if (parse_length(value, &size) < 0 ||
		    (h->size != DEV_RELAY_SIZE_UNKNOWN && h->size != size))
			return -1;
		h->size = size;
		return 0;
	}
	if (strcasecmp(name, "Connection") == 0 ||
	    strcasecmp(name, "Keep-Alive") == 0 ||
	    strcasecmp(name, "Transfer-Encoding") == 0)
		return 0;
	*located |= strcasecmp(name, "Location") == 0;
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
static int parse_head(struct dev_relay *r, struct dev_relay_head *h)
{
	char *rd = (char *)r->buf, *end = (char *)r->buf + r->pos, *wr = rd, *name, *value;
	int located = 0;

	h->status = 0;
	h->size = DEV_RELAY_SIZE_UNKNOWN;
	h->nheaders = 0;
	h->headers = (const char *)r->buf;
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
			return dev_relay_fail(r, 502, "malformed response head line \"%.*s\"",
					      (int)(len < 100 ? len : 100), rd);
		if (take_header(h, name, value, &wr, &located) < 0)
			return dev_relay_fail(r, 502, "malformed response header \"%s: %.100s\"",
					      name, value);
		rd = nl + 1;
	}
	if (h->status == 0)
		h->status = located ? 302 : 200;
	return 0;
}

int dev_relay_read_head(struct dev_relay *r, struct dev_relay_head *h)
{
	if (read_head(r) < 0)
		return -1;
	return parse_head(r, h);
}
