/*
 * request.c - one request from its decoded parameters to the end of its
 * response: parameters, checks, routing, the handler, the body's drain;
 * and the public sl_* API that reads the request.  The response itself
 * is response.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "config.h"
#include "conn.h"
#include "dev/dev.h"
#include "header.h"
#include "log.h"
#include "module.h"
#include "proctitle.h"
#include "proto.h"
#include "request.h"
#include "response.h"
#include "stats.h"

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
	r->params_cap = (size_t)cfg->limits.max_params;
	r->params = malloc(r->params_cap * sizeof(*r->params));
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
	r->head_len = 0;
	request_drop_body(r);
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

int request_params_full(struct sl_request *r)
{
	log_msg(LOG_WARNING, "request %s has more than limits.max_params (%d) "
		"parameters; answering 431", r->id, r->cfg->limits.max_params);
	r->early_status = 431;
	return -1;
}

int request_param_nul(struct sl_request *r)
{
	log_msg(LOG_WARNING, "request %s: a parameter holds a NUL byte; answering 400", r->id);
	r->early_status = 400;
	return -1;
}

void request_note_params(struct sl_request *r, size_t from)
{
	const struct param *p = r->params + from, *end = r->params + r->nparams;
	size_t id_len = r->id_param_len;

	for (; p < end; p++) {
		note_known(&r->known, p);
		if (p->name_len == id_len && id_len &&
		    memcmp(p->name, r->cfg->request_id_param, id_len) == 0)
			adopt_id(r, p->value, p->value_len);
	}
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

/* CONTENT_LENGTH "-1" where the protocol frames the body (proto.h): no length. */
static int length_not_given(const struct sl_request *r, const char *length)
{
	return r->conn && r->conn->proto->body_framed && strcmp(length, "-1") == 0;
}

/* Check what the request says about itself; 0, or an HTTP status to refuse with. */
static int check_request(struct sl_request *r)
{
	const struct request_known *k = &r->known;

	if (k->nlength > 1) {
		log_msg(LOG_WARNING, "request %s: duplicate CONTENT_LENGTH; answering 400", r->id);
		return 400;
	}
	if (k->length && !length_not_given(r, k->length) &&
	    request_parse_length(k->length, strlen(k->length), &r->content_length) < 0) {
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
		response_error(r, 405, allow, detail(r, "%s is not allowed on %s; the routes "
						     "for this path take: %s", r->method, r->path, allow));
		return 405;
	}
	response_error(r, 404, NULL, detail(r, "no route matches %s %s", r->method, r->path));
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

	if (r->client_gone) {
		/* The handler gave up because its output could no longer be
		 * delivered: the web server closed the connection (HAProxy
		 * does as soon as its client leaves).  That was logged, at
		 * info, where the write failed; it is not the module's
		 * failure, and an error line would send its author looking
		 * for a bug.  Nothing more can be sent. */
		log_msg(LOG_INFO, "request %s: route %s %s of module %s stopped: the client "
			"went away", r->id, rt->method ? rt->method : "*", rt->pattern,
			module_name(rt->module));
		r->must_close = 1;
		return;
	}
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
	response_error(r, status, NULL,
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
		response_error(r, status, NULL, detail(r, "the request was refused before "
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
		response_error(r, body_failure_status(r->body_errno), NULL,
			       detail(r, "the request body was bad: %s", strerror(r->body_errno)));
		r->must_close = 1;
	}
	if (r->aborted) {
		/* The web server gave up on this request: end it without
		 * more output (FastCGI 1.0 section 5.4). */
		r->no_body = 1;
		request_drop_body(r);
	}
	if (r->body_errno)
		r->must_close = 1;
	/* Counted before the answer ends, so that a client that has it
	 * finds it in the status and metrics. */
	stats_end(r);
	if (!r->client_gone && !r->ended)
		response_emit(r, NULL, 0, 1);
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
