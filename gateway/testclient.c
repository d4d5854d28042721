/*
 * testclient.c - the test client of sluice_test.h: a module's handlers
 * served in-process, through the same code a worker runs.
 *
 * slt_open writes a one-module config into a private folder and loads it
 * with master_load, so the module is loaded, checked and routed exactly
 * as at start-up, then runs module_init_all as a worker does.  Each
 * request is encoded as nginx's FastCGI records and written into one end
 * of a socketpair by a thread; the other end is a connection of the real
 * FastCGI codec, parsed, run by request_run and finished as the worker
 * loop does.  The response records are read back and decoded.  The
 * thread is there so that a body larger than the socket's buffer can be
 * pulled by a handler while it is being written, as from a web server.
 *
 * This file is not part of the daemon: it is linked into the test
 * binary and into libsluice-test.a, beside the daemon's objects.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sluice_test.h"
#include "config.h"
#include "conn.h"
#include "fcgi.h"
#include "io.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "proto.h"
#include "request.h"
#include "router.h"

/* How long a request may take to be served before the client gives up. */
#define SLT_TIMEOUT_MS 10000
/* Request headers per request, and cookies in the jar. */
#define SLT_MAX_HEADERS 32
#define SLT_MAX_COOKIES 32
/* Response headers kept; a response with more is refused as broken. */
#define SLT_MAX_RESPONSE_HEADERS 64

/* FastCGI record types and the responder role (spec section 8). */
enum { FC_BEGIN = 1, FC_END = 3, FC_PARAMS = 4, FC_STDIN = 5, FC_STDOUT = 6 };
#define FC_RESPONDER 1
#define FC_ID 1

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct pair {
	char *name, *value;
};

struct slt {
	char dir[64];			/* the private folder: config and error log */
	struct generation *gen;
	struct sl_request req;
	struct buf log;
	struct pair headers[SLT_MAX_HEADERS];	/* for the next request, as HTTP_* */
	int nheaders;
	struct pair jar[SLT_MAX_COOKIES];
	int ncookies;
	struct buf out;			/* the last response's STDOUT, head and body */
	struct pair rheaders[SLT_MAX_RESPONSE_HEADERS];	/* pointing into `out` */
	int nrheaders;
	struct slt_response resp;
};

static char error[1024];
static struct slt *tapped;	/* the client whose log the tap fills */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, sizeof(error), fmt, ap);
	va_end(ap);
}

const char *slt_error(void)
{
	return error;
}

/* Append to a growing buffer, kept NUL-terminated; allocation failure aborts. */
static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	if (n)		/* data may be NULL when there is nothing */
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void tap(const char *line, size_t len)
{
	if (tapped)
		buf_add(&tapped->log, line, len);
}

const char *slt_log(struct slt *t)
{
	if (!t->log.p)
		buf_add(&t->log, "", 0);
	return (const char *)t->log.p;
}

/* ---- Opening: a config of one module, loaded as at start-up ---------- */

static int write_config(struct slt *t, const char *path, const char *mount,
			const char *settings)
{
	char file[128], abs[PATH_MAX];
	FILE *f;

	if (!realpath(path, abs)) {
		fail("%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(file, sizeof(file), "%s/sluice.conf", t->dir);
	f = fopen(file, "w");
	if (!f) {
		fail("%s: %s", file, strerror(errno));
		return -1;
	}
	fprintf(f, "error_log = \"error.log\";\nlog_level = \"debug\";\n"
		"modules = ( { path = \"%s\"; mount = \"%s\";\n  settings = { %s };\n} );\n",
		abs, mount ? mount : "/", settings ? settings : "");
	return fclose(f);
}

static int load(struct slt *t)
{
	char file[128], err[1024];

	snprintf(file, sizeof(file), "%s/sluice.conf", t->dir);
	config_check_listeners(0);
	t->gen = master_load(file, NULL, err, sizeof(err));
	if (!t->gen) {
		fail("%s", err);
		return -1;
	}
	if (log_open(t->gen->cfg.error_log, t->gen->cfg.log_level) < 0 || conn_init() < 0 ||
	    request_init(&t->req, &t->gen->cfg, &t->gen->router) < 0) {
		fail("cannot set up: %s", strerror(errno));
		return -1;
	}
	tapped = t;
	log_tap(tap);
	if (module_init_all(&t->gen->modules) < 0) {
		fail("the module's init failed; its log:\n%s", slt_log(t));
		return -1;
	}
	return 0;
}

static void remove_dir(struct slt *t)
{
	char file[128];

	snprintf(file, sizeof(file), "%s/sluice.conf", t->dir);
	unlink(file);
	snprintf(file, sizeof(file), "%s/error.log", t->dir);
	unlink(file);
	rmdir(t->dir);
}

/* Everything but module_fini_all, which only follows an init that worked. */
static void release(struct slt *t)
{
	if (tapped == t) {
		log_tap(NULL);
		tapped = NULL;
	}
	if (t->gen) {
		request_free(&t->req);
		router_free(&t->gen->router);
		config_free(&t->gen->cfg);
		free(t->gen->route_stats);
		free(t->gen);
	}
	remove_dir(t);
	for (int i = 0; i < t->nheaders; i++)
		free(t->headers[i].name), free(t->headers[i].value);
	for (int i = 0; i < t->ncookies; i++)
		free(t->jar[i].name), free(t->jar[i].value);
	free(t->log.p);
	free(t->out.p);
	free(t);
}

struct slt *slt_open(const char *path, const char *mount, const char *settings)
{
	struct slt *t = calloc(1, sizeof(*t));

	if (!t) {
		fail("out of memory");
		return NULL;
	}
	snprintf(t->dir, sizeof(t->dir), "/tmp/sluice-test-XXXXXX");
	if (!mkdtemp(t->dir)) {
		fail("mkdtemp: %s", strerror(errno));
		free(t);
		return NULL;
	}
	if (write_config(t, path, mount, settings) < 0 || load(t) < 0) {
		release(t);
		return NULL;
	}
	return t;
}

void slt_close(struct slt *t)
{
	if (!t)
		return;
	module_fini_all(&t->gen->modules);
	release(t);
}

/* ---- The request's headers and the cookie jar ------------------------ */

static int set_pair(struct pair *p, const char *name, const char *value)
{
	char *n = strdup(name), *v = strdup(value);

	if (!n || !v) {
		free(n), free(v);
		fail("out of memory");
		return -1;
	}
	free(p->name), free(p->value);
	p->name = n;
	p->value = v;
	return 0;
}

int slt_header(struct slt *t, const char *name, const char *value)
{
	char param[256];
	size_t i, n = strlen(name);

	if (n == 0 || n + sizeof("HTTP_") > sizeof(param) || t->nheaders == SLT_MAX_HEADERS) {
		fail("header \"%s\": empty, too long, or past %d headers", name, SLT_MAX_HEADERS);
		return -1;
	}
	/* nginx's form: upper case, '-' as '_' (ngx_http_fastcgi_module). */
	memcpy(param, "HTTP_", 5);
	for (i = 0; i < n; i++)
		param[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	param[5 + n] = 0;
	memset(&t->headers[t->nheaders], 0, sizeof(t->headers[0]));
	if (set_pair(&t->headers[t->nheaders], param, value) < 0)
		return -1;
	t->nheaders++;
	return 0;
}

static int find_cookie(const struct slt *t, const char *name, size_t len)
{
	for (int i = 0; i < t->ncookies; i++)
		if (strlen(t->jar[i].name) == len && memcmp(t->jar[i].name, name, len) == 0)
			return i;
	return -1;
}

int slt_cookie(struct slt *t, const char *name, const char *value)
{
	int i = find_cookie(t, name, strlen(name));

	if (!value) {
		if (i >= 0) {
			free(t->jar[i].name), free(t->jar[i].value);
			t->jar[i] = t->jar[--t->ncookies];
		}
		return 0;
	}
	if (i < 0) {
		if (t->ncookies == SLT_MAX_COOKIES) {
			fail("the cookie jar holds %d cookies at most", SLT_MAX_COOKIES);
			return -1;
		}
		i = t->ncookies;
		memset(&t->jar[i], 0, sizeof(t->jar[i]));
	}
	if (set_pair(&t->jar[i], name, value) < 0)
		return -1;
	if (i == t->ncookies)
		t->ncookies++;
	return 0;
}

const char *slt_jar(const struct slt *t, const char *name)
{
	int i = find_cookie(t, name, strlen(name));

	return i < 0 ? NULL : t->jar[i].value;
}

/*
 * A Set-Cookie header as a browser takes it: "name=value; attributes".
 * Max-Age=0 (what sl_clear_cookie sends) removes the cookie; the other
 * attributes do not matter to a client that talks to one module.
 */
static void take_set_cookie(struct slt *t, const char *h)
{
	const char *eq = strchr(h, '='), *end = strchr(h, ';');
	char name[256], value[4096];

	if (!eq || (end && end < eq) || (size_t)(eq - h) >= sizeof(name))
		return;
	if (!end)
		end = h + strlen(h);
	snprintf(name, sizeof(name), "%.*s", (int)(eq - h), h);
	snprintf(value, sizeof(value), "%.*s", (int)(end - eq - 1), eq + 1);
	slt_cookie(t, name, strcasestr(end, "Max-Age=0") ? NULL : value);
}

/* ---- Encoding the request as nginx sends it -------------------------- */

static void record(struct buf *b, unsigned type, const void *content, size_t len)
{
	unsigned char h[8] = { 1, (unsigned char)type, 0, FC_ID, (unsigned char)(len >> 8),
			       (unsigned char)len, (unsigned char)(-len & 7), 0 };
	static const unsigned char pad[8];

	buf_add(b, h, sizeof(h));
	buf_add(b, content, len);
	buf_add(b, pad, -len & 7);
}

static void pair_len(struct buf *b, size_t n)
{
	unsigned char l[4];

	buf_add(b, l, fcgi_put_len(l, n));
}

static void param(struct buf *b, const char *name, const char *value)
{
	pair_len(b, strlen(name));
	pair_len(b, strlen(value));
	buf_add(b, name, strlen(name));
	buf_add(b, value, strlen(value));
}

/* nginx's $document_uri: the path, percent-decoded. */
static void decoded_path(struct buf *b, const char *uri, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		char c = uri[i];

		if (c == '%' && i + 2 < len && isxdigit((unsigned char)uri[i + 1]) &&
		    isxdigit((unsigned char)uri[i + 2]) && sscanf(uri + i + 1, "%2x", &v) == 1 && v) {
			c = (char)v;
			i += 2;
		}
		buf_add(b, &c, 1);
	}
}

static void cookie_header(const struct slt *t, struct buf *b)
{
	for (int i = 0; i < t->ncookies; i++) {
		if (i)
			buf_add(b, "; ", 2);
		buf_add(b, t->jar[i].name, strlen(t->jar[i].name));
		buf_add(b, "=", 1);
		buf_add(b, t->jar[i].value, strlen(t->jar[i].value));
	}
}

/* The parameters of nginx's fastcgi_params, then the request headers. */
static void params(const struct slt *t, struct buf *p, const char *method, const char *uri,
		   const char *type, size_t len)
{
	const char *q = strchr(uri, '?');
	struct buf path = { 0 }, cookies = { 0 };
	char clen[32];

	decoded_path(&path, uri, q ? (size_t)(q - uri) : strlen(uri));
	param(p, "REQUEST_METHOD", method);
	param(p, "REQUEST_URI", uri);
	param(p, "DOCUMENT_URI", (const char *)path.p);
	param(p, "SCRIPT_NAME", (const char *)path.p);
	param(p, "QUERY_STRING", q ? q + 1 : "");
	param(p, "SERVER_PROTOCOL", "HTTP/1.1");
	param(p, "GATEWAY_INTERFACE", "CGI/1.1");
	param(p, "REMOTE_ADDR", "127.0.0.1");
	param(p, "SERVER_NAME", "localhost");
	param(p, "HTTP_HOST", "localhost");
	snprintf(clen, sizeof(clen), "%zu", len);
	param(p, "CONTENT_TYPE", type ? type : "");
	param(p, "CONTENT_LENGTH", type || len ? clen : "");
	cookie_header(t, &cookies);
	if (cookies.len)
		param(p, "HTTP_COOKIE", (const char *)cookies.p);
	for (int i = 0; i < t->nheaders; i++)
		param(p, t->headers[i].name, t->headers[i].value);
	free(path.p);
	free(cookies.p);
}

/* BEGIN_REQUEST, PARAMS, the body as STDIN in records of 32 KiB, ended. */
static void encode(const struct slt *t, struct buf *b, const char *method, const char *uri,
		   const char *type, const void *body, size_t len)
{
	static const unsigned char begin[8] = { 0, FC_RESPONDER, 0 };
	struct buf p = { 0 };

	record(b, FC_BEGIN, begin, sizeof(begin));
	params(t, &p, method, uri, type, len);
	for (size_t off = 0; off < p.len; off += 32768)
		record(b, FC_PARAMS, p.p + off, p.len - off < 32768 ? p.len - off : 32768);
	record(b, FC_PARAMS, NULL, 0);
	for (size_t off = 0; off < len; off += 32768)
		record(b, FC_STDIN, (const char *)body + off, len - off < 32768 ? len - off : 32768);
	record(b, FC_STDIN, NULL, 0);
	free(p.p);
}

/* ---- Serving it on an in-memory connection --------------------------- */

struct writer {
	int fd;
	const struct buf *b;
};

/* Write the whole request, as a web server would; stop if sluice closes. */
static void *write_request(void *arg)
{
	const struct writer *w = arg;

	for (size_t off = 0; off < w->b->len;) {
		ssize_t n = send(w->fd, w->b->p + off, w->b->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	return NULL;
}

static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, SLT_TIMEOUT_MS) == 1 ? 0 : -1;
}

/* Read and parse until the codec has a request ready, as the worker loop does. */
static int receive(struct conn *c, struct sl_request *r)
{
	for (;;) {
		ssize_t n = conn_fill(c);
		enum proto_rc rc;

		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(c->fd, POLLIN) < 0) {
				fail("the request was not parsed within %d ms", SLT_TIMEOUT_MS);
				return -1;
			}
			continue;
		}
		if (n <= 0) {
			fail("the connection ended before a request was parsed");
			return -1;
		}
		rc = c->proto->parse(c, r);
		if (rc == PROTO_REQUEST)
			return 0;
		if (rc == PROTO_CLOSE) {
			fail("the codec refused the request (see slt_log)");
			return -1;
		}
		conn_park(c);
	}
}

/*
 * Read the response's records from `fd` until END_REQUEST, sending what
 * the connection still queues meanwhile.  STDOUT content lands in `out`.
 */
static int read_response(struct conn *c, int fd, struct buf *out)
{
	struct buf in = { 0 };
	size_t off = 0;
	int rc = -1;

	for (;;) {
		unsigned char chunk[16384];
		ssize_t n;

		while (in.len - off >= 8) {
			const unsigned char *h = in.p + off;
			size_t clen = (size_t)h[4] << 8 | h[5], total = 8 + clen + h[6];

			if (in.len - off < total)
				break;
			if (h[1] == FC_STDOUT)
				buf_add(out, h + 8, clen);
			off += total;
			if (h[1] == FC_END) {
				rc = 0;
				goto done;
			}
		}
		if (c && conn_pending(c) > 0 && conn_drain(c) < 0)
			c = NULL;
		n = read(fd, chunk, sizeof(chunk));
		if (n > 0) {
			buf_add(&in, chunk, (size_t)n);
			continue;
		}
		if (n == 0 || errno != EAGAIN || wait_fd(fd, POLLIN) < 0) {
			fail("the response ended without END_REQUEST");
			goto done;
		}
	}
done:
	free(in.p);
	return rc;
}

/* ---- Decoding the response ------------------------------------------- */

/* Split "Name: value\r\n" lines in place; the status from "Status:". */
static int decode_head(struct slt *t)
{
	char *p = (char *)t->out.p, *end = p ? strstr(p, "\r\n\r\n") : NULL;

	t->nrheaders = 0;
	t->resp.status = 200;
	if (!end) {
		fail("the response has no head");
		return -1;
	}
	*end = 0;
	t->resp.body = end + 4;
	t->resp.body_len = t->out.len - (size_t)(end + 4 - p);
	for (char *line = p, *next; line; line = next) {
		char *colon = strchr(line, ':');

		next = strstr(line, "\r\n");
		if (next)
			*next = 0, next += 2;
		if (!colon || t->nrheaders == SLT_MAX_RESPONSE_HEADERS) {
			fail("a bad line in the response head: \"%s\"", line);
			return -1;
		}
		*colon = 0;
		t->rheaders[t->nrheaders].name = line;
		t->rheaders[t->nrheaders++].value = colon + 1 + strspn(colon + 1, " ");
		if (strcasecmp(line, "Status") == 0)
			t->resp.status = atoi(colon + 1);
	}
	return 0;
}

const char *slt_response_header(const struct slt *t, const char *name, int n)
{
	for (int i = 0; i < t->nrheaders; i++)
		if (strcasecmp(t->rheaders[i].name, name) == 0 && n-- == 0)
			return t->rheaders[i].value;
	return NULL;
}

static void clear_headers(struct slt *t)
{
	for (int i = 0; i < t->nheaders; i++)
		free(t->headers[i].name), free(t->headers[i].value);
	t->nheaders = 0;
}

/* Serve the encoded request `b` on a fresh socketpair: 0, or -1. */
static int serve(struct slt *t, const struct buf *b)
{
	struct writer w = { .b = b };
	struct conn *c;
	pthread_t th;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fail("socketpair: %s", strerror(errno));
		return -1;
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	w.fd = sv[1];
	c = conn_get(sv[0], &proto_fcgi, &t->gen->cfg);
	if (!c || pthread_create(&th, NULL, write_request, &w) != 0) {
		fail("cannot set up the connection");
		c ? conn_put(c) : (void)close(sv[0]);
		close(sv[1]);
		return -1;
	}
	/* The body's min_rate deadline is measured from here, as in worker.c. */
	conn_xfer_start(c, 0, io_now_ms());
	rc = receive(c, &t->req);
	if (rc == 0) {
		conn_xfer_start(c, c->rx, io_now_ms());
		request_run(&t->req);
		c->proto->finish(c, &t->req);
		rc = read_response(c, sv[1], &t->out);
	}
	/* Closing sluice's end ends the writer, should sluice not have read it all. */
	conn_put(c);
	conn_bury();
	pthread_join(th, NULL);
	close(sv[1]);
	return rc;
}

const struct slt_response *slt_request(struct slt *t, const char *method, const char *uri,
				       const char *type, const void *body, size_t len)
{
	struct buf b = { 0 };
	const char *cookie;
	int rc;

	encode(t, &b, method, uri, type, body, len);
	clear_headers(t);
	t->out.len = 0;
	if (t->out.p)
		t->out.p[0] = 0;
	rc = serve(t, &b);
	free(b.p);
	if (rc < 0 || decode_head(t) < 0)
		return NULL;
	for (int i = 0; (cookie = slt_response_header(t, "Set-Cookie", i)); i++)
		take_set_cookie(t, cookie);
	return &t->resp;
}

const struct slt_response *slt_get(struct slt *t, const char *uri)
{
	return slt_request(t, "GET", uri, NULL, NULL, 0);
}

const struct slt_response *slt_post(struct slt *t, const char *uri, const char *type,
				    const void *body, size_t len)
{
	return slt_request(t, "POST", uri, type, body, len);
}
