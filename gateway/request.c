/*
 * request.c - one request from its decoded parameters to the end of its
 * response, and the public sl_* API that handlers call on it.
 *
 * The response is laid out as pieces (status line, header lines, body)
 * and handed to the connection's codec, which frames it; small responses
 * therefore leave in one writev at the end, and large ones in pieces of
 * one record as they are written, with bounded memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <strings.h>
#include <unistd.h>
#include <sys/random.h>

#include "config.h"
#include "conn.h"
#include "dev/dev.h"
#include "header.h"
#include "headlines.h"
#include "log.h"
#include "module.h"
#include "proctitle.h"
#include "proto.h"
#include "request.h"
#include "safefmt.h"
#include "stats.h"

/*
 * Room kept in the head for what sluice adds to the application's
 * headers: the status line, a default Content-Type, a Content-Length and
 * the blank line.
 */
#define HEAD_RESERVE 160

static const char default_type[] = "Content-Type: text/plain; charset=utf-8\r\n";

/* The request whose handler runs now, for the signal handlers in crash.c. */
static struct sl_request *volatile current;

/*
 * Request ids are a per-worker random prefix and a counter, both in hex.
 * The counter is kept as its digits and counted up in place: a request
 * pays a carry or two, not a conversion.
 */
static char id_prefix[8];
static char id_counter[8] = "00000000";

static void hex8(char *dst, unsigned v)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 7; i >= 0; i--, v >>= 4)
		dst[i] = digits[v & 15];
}

/* The next counter value, in its hex digits; wraps to 0 like an unsigned. */
static void count_up(char digits[8])
{
	for (int i = 7; i >= 0; i--) {
		if (digits[i] == '9') {
			digits[i] = 'a';
			return;
		}
		if (digits[i] != 'f') {
			digits[i]++;
			return;
		}
		digits[i] = '0';
	}
}

int request_init(struct sl_request *r, const struct sl_config *cfg,
		 const struct router *router)
{
	unsigned seed;

	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->router = router;
	r->id_param_len = cfg->request_id_param ? strlen(cfg->request_id_param) : 0;
	r->id_header_len = cfg->request_id_header ? strlen(cfg->request_id_header) : 0;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (unsigned)getpid() * 2654435761u;
	hex8(id_prefix, seed);
	if (arena_init(&r->arena, ARENA_BLOCK_SIZE, (size_t)cfg->limits.max_request_memory) < 0)
		return -1;
	r->params = malloc((size_t)cfg->limits.max_params * sizeof(*r->params));
	r->head = malloc(cfg->limits.max_header_bytes);
	r->out = malloc(OUTBUF_SIZE);
	if (!r->params || !r->head || !r->out) {
		request_free(r);
		return -1;
	}
	return 0;
}

void request_free(struct sl_request *r)
{
	arena_free(&r->arena);
	free(r->params);
	free(r->head);
	free(r->out);
	r->params = NULL;
	r->head = NULL;
	r->out = NULL;
}

void request_begin(struct sl_request *r, struct conn *c)
{
	arena_reset(&r->arena);
	r->conn = c;
	count_up(id_counter);
	memcpy(r->id, id_prefix, 8);
	memcpy(r->id + 8, id_counter, 8);
	r->id[16] = '\0';
	r->nparams = 0;
	r->strings = NULL;
	r->strings_left = 0;
	memset(&r->known, 0, sizeof(r->known));
	r->method = "";
	r->path = "";
	r->query = "";
	r->content_length = -1;
	r->early_status = 0;
	r->match.route = NULL;
	r->match.ncaptures = 0;
	r->body_done = 0;
	r->body_errno = 0;
	r->status = 200;
	r->head_sent = r->has_content_type = r->has_content_length = r->has_id_header = 0;
	r->no_body = r->client_gone = r->aborted = r->ended = r->must_close = 0;
	r->head_len = r->out_len = 0;
	r->body_bytes = r->head_only = 0;
	r->lazy = NULL;
}

/*
 * An id the web server sent (request_id.param) replaces ours when it is
 * one: 1 to REQUEST_ID_MAX characters of letters, digits, '-', '_', '.'
 * and ':', which covers nginx's $request_id, UUIDs and most tracing ids,
 * and keeps log lines and headers free of anything a peer could forge.
 * Anything else keeps the id we made, with a line saying why.
 */
static int id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == ':';
}

static void adopt_id(struct sl_request *r, const char *v, size_t len)
{
	size_t i = 0;

	if (len > 0 && len <= REQUEST_ID_MAX)
		while (i < len && id_char(v[i]))
			i++;
	if (len == 0 || i != len) {
		log_msg(LOG_INFO, "request %s: %s is not a usable request id (1 to %d letters, "
			"digits, '-', '_', '.', ':'); keeping ours", r->id,
			r->cfg->request_id_param, REQUEST_ID_MAX);
		return;
	}
	memcpy(r->id, v, len);
	r->id[len] = '\0';
}

void request_reserve_params(struct sl_request *r, size_t bytes)
{
	r->strings = arena_alloc(&r->arena, bytes);
	r->strings_left = r->strings ? bytes : 0;
}

/* Room for `n` bytes of parameter strings: the reserved room, else its own. */
static char *param_room(struct sl_request *r, size_t n)
{
	char *s = r->strings;

	if (n > r->strings_left)
		return arena_alloc(&r->arena, n);
	r->strings += n;
	r->strings_left -= n;
	return s;
}

/*
 * Parameters are C strings to modules: a NUL inside one would make two
 * readers see two different names or values.  FastCGI puts a value right
 * after its name, so one scan usually covers both.
 */
static int holds_nul(const char *name, size_t name_len, const char *value, size_t value_len)
{
	if (value == name + name_len)
		return memchr(name, '\0', name_len + value_len) != NULL;
	return memchr(name, '\0', name_len) || memchr(value, '\0', value_len);
}

/* Is parameter `p` named `lit` (a literal)?  Only called once the lengths match. */
#define NAMED(p, lit) (memcmp((p)->name, lit, sizeof(lit) - 1) == 0)

static void take(const char **slot, const struct param *p)
{
	if (!*slot)		/* the first wins, as with sl_param */
		*slot = p->value;
}

/* Note `p` if it is one of the parameters sluice reads (struct request_known). */
static void note_known(struct request_known *k, const struct param *p)
{
	switch (p->name_len) {
	case 14:
		if (NAMED(p, "CONTENT_LENGTH")) {
			take(&k->length, p);
			k->nlength++;
		} else if (NAMED(p, "REQUEST_METHOD")) {
			take(&k->method, p);
		}
		break;
	case 12:
		if (NAMED(p, "DOCUMENT_URI"))
			take(&k->document_uri, p);
		else if (NAMED(p, "QUERY_STRING"))
			take(&k->query, p);
		break;
	case 11:
		if (NAMED(p, "SCRIPT_NAME"))
			take(&k->script_name, p);
		else if (NAMED(p, "REQUEST_URI"))
			take(&k->request_uri, p);
		break;
	case 9:
		if (NAMED(p, "PATH_INFO"))
			take(&k->path_info, p);
		break;
	}
}

int request_add_param(struct sl_request *r, const char *name, size_t name_len,
		      const char *value, size_t value_len)
{
	struct param *p;
	char *s;

	if (r->nparams == (size_t)r->cfg->limits.max_params) {
		log_msg(LOG_WARNING, "request %s has more than limits.max_params (%d) "
			"parameters; answering 431", r->id, r->cfg->limits.max_params);
		r->early_status = 431;
		return -1;
	}
	if (holds_nul(name, name_len, value, value_len)) {
		log_msg(LOG_WARNING, "request %s: a parameter holds a NUL byte; answering 400", r->id);
		r->early_status = 400;
		return -1;
	}
	/* Name and value in one piece of room: parameters are most of a
	 * request's parsing cost. */
	s = param_room(r, name_len + value_len + 2);
	if (!s) {
		log_msg(LOG_ERROR, "request %s: parameters exceed limits.max_request_memory; "
			"answering 431", r->id);
		r->early_status = 431;
		return -1;
	}
	memcpy(s, name, name_len);
	s[name_len] = '\0';
	memcpy(s + name_len + 1, value, value_len);
	s[name_len + 1 + value_len] = '\0';
	p = &r->params[r->nparams++];
	*p = (struct param){ s, s + name_len + 1, name_len, value_len };
	note_known(&r->known, p);
	if (name_len == r->id_param_len && r->id_param_len &&
	    memcmp(name, r->cfg->request_id_param, name_len) == 0)
		adopt_id(r, value, value_len);
	return 0;
}

/* ---- Sending -------------------------------------------------------- */

/*
 * "X-Request-Id: ID\r\n" (request_id.header) into `buf`, which has room
 * for the longest (REQUEST_ID_HEADER_MAX, REQUEST_ID_MAX); its length.
 * Every response carries it, so it is copied, not formatted.
 */
static size_t id_header(const struct sl_request *r, char *buf)
{
	size_t n = r->id_header_len, id_len = strlen(r->id);

	memcpy(buf, r->cfg->request_id_header, n);
	memcpy(buf + n, ": ", 2);
	memcpy(buf + n + 2, r->id, id_len);
	memcpy(buf + n + 2 + id_len, "\r\n", 2);
	return n + id_len + 4;
}

/* "Content-Length: N\r\n" and the blank line into `buf` (48 bytes); its length. */
static size_t length_line(char *buf, unsigned long long len)
{
	static const char name[] = "Content-Length: ";
	size_t n;

	memcpy(buf, name, sizeof(name) - 1);
	n = sf_uint(buf, 44, sizeof(name) - 1, len, 0);	/* 20 digits at most */
	memcpy(buf + n, "\r\n\r\n", 4);
	return n + 4;
}

/*
 * A 204 or a 304 has no body, nor anything that describes one (RFC 9110
 * sections 15.3.5 and 15.4.5): whatever the handler wrote or set for it
 * is dropped before the head leaves.
 */
static int bodiless(int status)
{
	return status == 204 || status == 304;
}

static void strip_body(struct sl_request *r)
{
	r->head_len = headlines_remove(r->head, r->head_len, "Content-Type");
	r->head_len = headlines_remove(r->head, r->head_len, "Content-Length");
	r->has_content_type = r->has_content_length = 0;
	r->no_body = 1;
	r->out_len = 0;
}

/*
 * Hand everything pending to the codec: the head if it has not left yet,
 * the buffered body, and `extra` (a large write passed through without
 * copying).  `last` ends the response.  A peer that cannot be written to
 * marks the request so that later writes fail fast with EPIPE.
 */
static int emit(struct sl_request *r, const void *extra, size_t extra_len, int last)
{
	struct iovec iov[7];
	char status[64], length[48], idline[REQUEST_ID_HEADER_MAX + REQUEST_ID_SIZE + 4];
	size_t total = 0;
	int n = 0;

	if (r->client_gone) {
		errno = EPIPE;
		return -1;
	}
	if (!r->head_sent) {
		const char *reason = http_reason(r->status);
		int sl = r->conn->proto->status_line(status, sizeof(status), r->status, reason);

		if (bodiless(r->status)) {
			strip_body(r);
			extra_len = 0;
		}

		iov[n++] = (struct iovec){ status, (size_t)sl };
		iov[n++] = (struct iovec){ r->head, r->head_len };
		if (r->cfg->request_id_header && !r->has_id_header)
			iov[n++] = (struct iovec){ idline, id_header(r, idline) };
		if (!r->has_content_type && !bodiless(r->status))
			iov[n++] = (struct iovec){ (char *)(uintptr_t)default_type,
						   sizeof(default_type) - 1 };
		/* A response that ends before its first byte leaves has a
		 * known length: say it, so nginx need not chunk it.  A HEAD
		 * response says the length the GET's content would have had
		 * (RFC 9110 sections 8.6 and 9.3.2). */
		if (last && !r->has_content_length && !bodiless(r->status)) {
			iov[n++] = (struct iovec){ length, length_line(length, r->no_body ? r->head_only
								: r->out_len + extra_len) };
		} else {
			iov[n++] = (struct iovec){ (char *)(uintptr_t)"\r\n", 2 };
		}
		r->head_sent = 1;
	}
	if (!r->no_body)
		r->body_bytes += r->out_len + extra_len;
	if (r->out_len)
		iov[n++] = (struct iovec){ r->out, r->out_len };
	if (extra_len)
		iov[n++] = (struct iovec){ (void *)(uintptr_t)extra, extra_len };
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	r->out_len = 0;
	r->ended = last;
	if (r->conn->proto->send(r->conn, r, iov, n, total, last) < 0) {
		if (errno == ETIMEDOUT)
			log_msg(LOG_WARNING, "request %s: response taken slower than "
				"limits.min_rate with limits.max_temp_file_size (%lld bytes) "
				"queued; closing the connection", r->id,
				r->conn->cfg->limits.max_temp_file_size);
		else
			log_msg(LOG_INFO, "request %s: client gone while sending the response "
				"(%s)", r->id, strerror(errno));
		r->client_gone = 1;
		r->must_close = 1;
		errno = EPIPE;
		return -1;
	}
	return 0;
}

/*
 * Make the response an error response (it leaves with the request's end).
 * In production it is terse: status line, a generic message and the
 * request id, nothing about modules, routes, paths or versions (CWE-209);
 * `detail` goes nowhere, the log has it under the same id.  In
 * development mode the seam may build a verbose page from it.
 */
static void error_response(struct sl_request *r, int status, const char *allow,
			   const char *detail)
{
	const char *type = NULL;
	size_t len;

	r->status = status;
	r->head_len = 0;
	r->out_len = 0;
	r->has_content_type = r->has_content_length = r->has_id_header = 0;
	if (allow)
		sl_add_header(r, "Allow", allow);
	len = dev_error_page(r, status, detail, (char *)r->out, OUTBUF_SIZE, &type);
	if (len > 0)
		sl_add_header(r, "Content-Type", type);
	else
		len = (size_t)snprintf((char *)r->out, OUTBUF_SIZE, "%d %s\nrequest id: %s\n",
				       status, http_reason(status), r->id);
	r->out_len = r->no_body ? 0 : len;
	r->head_only = r->no_body ? len : 0;
}

/* printf into the arena, for error details; a fixed text if memory is short. */
static const char *detail(struct sl_request *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *detail(struct sl_request *r, const char *fmt, ...)
{
	char *buf = arena_alloc(&r->arena, 512);
	va_list ap;

	if (!buf)
		return "(out of request memory for the detail)";
	va_start(ap, fmt);
	vsnprintf(buf, 512, fmt, ap);
	va_end(ap);
	return buf;
}

/* ---- Running a request ---------------------------------------------- */

/*
 * CONTENT_LENGTH, parsed strictly: digits only, no sign, no spaces, no
 * overflow (one length, one source).  Empty means not announced.
 * Returns 0 with *out set, or -1.
 */
int request_parse_length(const char *s, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0) {
		*out = -1;
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (__LONG_LONG_MAX__ - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int empty(const char *s)
{
	return !s || !*s;
}

/*
 * The path routing uses: DOCUMENT_URI (nginx's normalized, decoded $uri),
 * else SCRIPT_NAME + PATH_INFO (CGI), else REQUEST_URI up to the query.
 */
static const char *request_path(struct sl_request *r, const struct request_known *k)
{
	const char *q;

	if (!empty(k->document_uri))
		return k->document_uri;
	if (!empty(k->script_name) || !empty(k->path_info)) {
		size_t a, b;
		char *p;

		if (empty(k->path_info))
			return k->script_name;
		if (empty(k->script_name))
			return k->path_info;
		a = strlen(k->script_name);
		b = strlen(k->path_info);
		p = arena_alloc(&r->arena, a + b + 1);
		if (!p)
			return NULL;
		memcpy(p, k->script_name, a);
		memcpy(p + a, k->path_info, b + 1);
		return p;
	}
	if (empty(k->request_uri))
		return NULL;
	q = strchr(k->request_uri, '?');
	return q ? arena_strndup(&r->arena, k->request_uri, (size_t)(q - k->request_uri))
		 : k->request_uri;
}

/* Check what the request says about itself; 0, or an HTTP status to refuse with. */
static int check_request(struct sl_request *r)
{
	const struct request_known *k = &r->known;

	if (k->nlength > 1) {
		log_msg(LOG_WARNING, "request %s: duplicate CONTENT_LENGTH; answering 400", r->id);
		return 400;
	}
	if (k->length && request_parse_length(k->length, strlen(k->length), &r->content_length) < 0) {
		log_msg(LOG_WARNING, "request %s: malformed CONTENT_LENGTH \"%.40s\"; answering 400",
			r->id, k->length);
		return 400;
	}
	if (r->content_length > r->cfg->limits.max_body_bytes) {
		log_msg(LOG_WARNING, "request %s: CONTENT_LENGTH %lld exceeds limits.max_body_bytes "
			"(%lld); answering 413", r->id, r->content_length,
			r->cfg->limits.max_body_bytes);
		return 413;
	}
	r->path = request_path(r, k);
	if (!*r->method || !r->path || r->path[0] != '/') {
		log_msg(LOG_WARNING, "request %s: no REQUEST_METHOD or no absolute path "
			"(DOCUMENT_URI, SCRIPT_NAME, REQUEST_URI); answering 400", r->id);
		r->path = r->path ? r->path : "";
		return 400;
	}
	r->query = k->query ? k->query : "";
	return 0;
}

/* Route the request; 0 when a handler was found, else the status sent. */
static int route(struct sl_request *r)
{
	char allow[128];
	enum router_result res;

	res = router_match(r->router, r->method, r->path, &r->match, allow, sizeof(allow));
	if (res == ROUTER_FOUND)
		return 0;
	log_msg(LOG_INFO, "request %s: %s %s matches no route%s%s; answering %d", r->id,
		r->method, r->path, res == ROUTER_BAD_METHOD ? " for this method; allowed: " : "",
		res == ROUTER_BAD_METHOD ? allow : "", res == ROUTER_BAD_METHOD ? 405 : 404);
	if (res == ROUTER_BAD_METHOD) {
		error_response(r, 405, allow, detail(r, "%s is not allowed on %s; the routes "
						     "for this path take: %s", r->method, r->path, allow));
		return 405;
	}
	error_response(r, 404, NULL, detail(r, "no route matches %s %s", r->method, r->path));
	return 404;
}

/* The status that tells the client why its body could not be read. */
static int body_failure_status(int err)
{
	if (err == EFBIG)
		return 413;
	if (err == ETIMEDOUT)
		return 408;
	return 400;
}

static void handler_failed(struct sl_request *r, int err)
{
	const struct route *rt = r->match.route;
	int status = r->body_errno ? body_failure_status(r->body_errno) : 500;

	log_msg(LOG_ERROR, "request %s: handler failed in route %s %s of module %s%s",
		r->id, rt->method ? rt->method : "*", rt->pattern,
		module_name(rt->module),
		r->head_sent ? " after its response began; closing the connection" : "");
	if (r->head_sent) {
		/* The response cannot be turned into an error any more, and
		 * ending it normally would pass a truncated body off as
		 * complete: close instead, so the web server sees the failure. */
		r->client_gone = 1;
		r->must_close = 1;
		return;
	}
	error_response(r, status, NULL,
		       detail(r, "the handler of route %s %s (module %s) returned -1; errno "
			      "was %d (%s)%s%s; it did not crash, so there is no backtrace",
			      rt->method ? rt->method : "*", rt->pattern, module_name(rt->module),
			      err, strerror(err), r->body_errno ? "; reading the body failed: " : "",
			      r->body_errno ? strerror(r->body_errno) : ""));
}

/*
 * Read and drop what the handler left of the body, so that the
 * connection is positioned at the next request.  Bounded by the body
 * limit and the read timeout like any body read.
 */
static void drain_body(struct sl_request *r)
{
	char scratch[4096];
	ssize_t n;

	if (r->body_done || r->body_errno || r->aborted || r->must_close)
		return;
	while ((n = r->conn->proto->read_body(r->conn, r, scratch, sizeof(scratch))) > 0)
		;
	if (n < 0)
		r->body_errno = errno;
}

static void run_handler(struct sl_request *r)
{
	for (int i = 0; i < r->match.ncaptures; i++)
		r->captures[i] = arena_strndup(&r->arena, r->match.captures[i].value,
					       r->match.captures[i].value_len);
	/* ps names the route, not the path: bounded, and no request data. */
	proctitle_set("busy ", r->method, " ", r->match.route->pattern, NULL);
	current = r;
	stats_begin(r);
	errno = 0;
	if (r->match.route->handler(r) != 0)
		handler_failed(r, errno);
	current = NULL;
}

/*
 * The answer leaves only once the request's body has been read to its
 * end (or found bad), whatever the handler did with it: a peer that
 * sends the body after the parameters, as Apache does, must not meet a
 * finished connection.
 */
void request_run(struct sl_request *r)
{
	int status;

	/* Known before anything is refused: a refused HEAD has no content either. */
	r->method = r->known.method ? r->known.method : "";
	r->no_body = strcmp(r->method, "HEAD") == 0;
	status = r->early_status ? r->early_status : check_request(r);

	r->served++;
	if (status) {
		error_response(r, status, NULL, detail(r, "the request was refused before "
						       "routing: see the error log for request %s", r->id));
		r->must_close = 1;
	} else {
		if (!dev_route(r) && route(r) == 0)
			run_handler(r);
		drain_body(r);
	}
	if (r->body_errno && !r->head_sent && !r->aborted) {
		/* The body turned out bad after the handler was done with it:
		 * its answer must not stand for a request that was not whole. */
		error_response(r, body_failure_status(r->body_errno), NULL,
			       detail(r, "the request body was bad: %s", strerror(r->body_errno)));
		r->must_close = 1;
	}
	if (r->aborted) {
		/* The web server gave up on this request: end it without
		 * more output (FastCGI 1.0 section 5.4). */
		r->no_body = 1;
		r->out_len = 0;
	}
	if (r->body_errno)
		r->must_close = 1;
	/* Counted before the answer ends, so that a client that has it
	 * finds it in the status and metrics. */
	stats_end(r);
	if (!r->client_gone && !r->ended)
		emit(r, NULL, 0, 1);
}

struct sl_request *request_current(void)
{
	return current;
}

/* ---- The public API ------------------------------------------------- */

const char *sl_method(const struct sl_request *r) { return r->method; }
const char *sl_path(const struct sl_request *r) { return r->path; }

/* Computed when asked, so that routing does no work for modules that never ask. */
const char *sl_mount(const struct sl_request *r)
{
	return module_mount(r->match.route ? r->match.route->module : -1);
}

const char *sl_path_info(const struct sl_request *r)
{
	const char *mount = sl_mount(r);

	if (strcmp(mount, "/") == 0)
		return r->path;
	return r->path + strlen(mount);
}
const char *sl_query(const struct sl_request *r) { return r->query; }
const char *sl_request_id(const struct sl_request *r) { return r->id; }
long long sl_content_length(const struct sl_request *r) { return r->content_length; }
size_t sl_param_count(const struct sl_request *r) { return r->nparams; }

const char *sl_param(const struct sl_request *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0)
			return r->params[i].value;
	return NULL;
}

int sl_param_at(const struct sl_request *r, size_t i, const char **name, const char **value)
{
	if (i >= r->nparams) {
		errno = ERANGE;
		return -1;
	}
	*name = r->params[i].name;
	*value = r->params[i].value;
	return 0;
}

const char *sl_header(const struct sl_request *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (header_param_is(r->params[i].name, name))
			return r->params[i].value;
	return NULL;
}

const char *sl_capture(const struct sl_request *r, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < r->match.ncaptures; i++)
		if (r->match.captures[i].name_len == len &&
		    memcmp(r->match.captures[i].name, name, len) == 0)
			return r->captures[i];
	return NULL;
}

ssize_t sl_read(struct sl_request *r, void *buf, size_t len)
{
	ssize_t n;

	if (r->body_errno) {
		errno = r->body_errno;
		return -1;
	}
	n = r->conn->proto->read_body(r->conn, r, buf, len);
	if (n < 0)
		r->body_errno = errno;
	return n;
}

void *sl_alloc(struct sl_request *r, size_t size)
{
	return arena_alloc(&r->arena, size);
}

int sl_set_status(struct sl_request *r, int status)
{
	if (status < 100 || status > 599) {
		errno = EINVAL;
		return -1;
	}
	if (r->head_sent) {
		errno = EALREADY;
		return -1;
	}
	r->status = status;
	return 0;
}

int sl_add_header(struct sl_request *r, const char *name, const char *value)
{
	size_t nlen, vlen, old = 0;

	if (!name || !value || !header_name_ok(name) ||
	    !header_value_ok(value, vlen = strlen(value))) {
		log_msg(LOG_WARNING, "request %s: refused an invalid response header "
			"(the name must be a token, the value free of CR, LF and NUL)", r->id);
		errno = EINVAL;
		return -1;
	}
	if (headlines_reserved(name)) {
		log_msg(LOG_WARNING, "request %s: refused response header %s: sluice and the "
			"web server write it themselves (set the status with sl_set_status)",
			r->id, name);
		errno = EINVAL;
		return -1;
	}
	if (r->head_sent) {
		errno = EALREADY;
		return -1;
	}
	nlen = strlen(name);
	if (headlines_single(name))
		headlines_find(r->head, r->head_len, name, &old);	/* the line replaced */
	if (r->head_len - old + nlen + vlen + 4 + HEAD_RESERVE > r->cfg->limits.max_header_bytes) {
		log_msg(LOG_WARNING, "request %s: response head exceeds limits.max_header_bytes "
			"(%zu); header %s dropped", r->id, r->cfg->limits.max_header_bytes, name);
		errno = ENOSPC;
		return -1;
	}
	if (old)
		r->head_len = headlines_remove(r->head, r->head_len, name);
	if (strcasecmp(name, "Content-Type") == 0)
		r->has_content_type = 1;
	if (strcasecmp(name, "Content-Length") == 0)
		r->has_content_length = 1;
	if (r->cfg->request_id_header && strcasecmp(name, r->cfg->request_id_header) == 0)
		r->has_id_header = 1;	/* the module's own: ours is not added */
	memcpy(r->head + r->head_len, name, nlen);
	r->head_len += nlen;
	memcpy(r->head + r->head_len, ": ", 2);
	memcpy(r->head + r->head_len + 2, value, vlen);
	r->head_len += 2 + vlen;
	memcpy(r->head + r->head_len, "\r\n", 2);
	r->head_len += 2;
	return 0;
}

int sl_write(struct sl_request *r, const void *data, size_t len)
{
	if (r->client_gone) {
		errno = EPIPE;
		return -1;
	}
	if (r->no_body) {
		r->head_only += len;	/* counted for HEAD's Content-Length, not sent */
		return 0;
	}
	if (len <= OUTBUF_SIZE - r->out_len) {
		memcpy(r->out + r->out_len, data, len);
		r->out_len += len;
		return 0;
	}
	return emit(r, data, len, 0);
}

int sl_puts(struct sl_request *r, const char *s)
{
	return sl_write(r, s, strlen(s));
}

int sl_vprintf(struct sl_request *r, const char *fmt, va_list ap)
{
	size_t room = OUTBUF_SIZE - r->out_len;
	va_list copy;
	char *big;
	int n;

	if (r->client_gone) {
		errno = EPIPE;
		return -1;
	}
	/* Format straight into the output buffer when it fits: the usual case. */
	va_copy(copy, ap);
	n = vsnprintf((char *)r->out + r->out_len, room, fmt, copy);
	va_end(copy);
	if (n < 0)
		return -1;
	if ((size_t)n < room) {
		if (!r->no_body)
			r->out_len += (size_t)n;
		else
			r->head_only += (size_t)n;
		return 0;
	}
	big = arena_alloc(&r->arena, (size_t)n + 1);
	if (!big)
		return -1;
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	return sl_write(r, big, (size_t)n);
}

int sl_printf(struct sl_request *r, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sl_vprintf(r, fmt, ap);
	va_end(ap);
	return rc;
}

int sl_flush(struct sl_request *r)
{
	if (r->no_body && r->head_sent)
		return 0;
	return emit(r, NULL, 0, 0);
}

void sl_log(const struct sl_request *r, enum sl_log_level level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!log_enabled((enum log_level)level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!r)
		r = current;
	if (r)
		log_msg((enum log_level)level, "request %s: %s", r->id, msg);
	else
		log_msg((enum log_level)level, "module %s: %s",
			module_running() ? module_running() : "?", msg);
}
