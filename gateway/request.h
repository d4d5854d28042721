/*
 * request.h - the request in hand, behind the opaque struct sl_request.
 *
 * A worker serves one request at a time, so it has exactly one of these,
 * set up once with its buffers and reused: parameters and captures live
 * in the arena, the response head in `head`, body bytes in `out` until
 * they are sent.  request.c implements the public sl_* functions on it
 * and runs a request from routing to the end of its response.
 */
#ifndef SLUICE_REQUEST_H
#define SLUICE_REQUEST_H

#include <stddef.h>
#include <sys/uio.h>

#include "sluice.h"
#include "arena.h"
#include "router.h"

struct conn;
struct sl_config;
struct lazy;

struct param {
	const char *name;
	const char *value;
	size_t name_len;
	size_t value_len;
};

/*
 * The parameters sluice reads itself, noted as each is added so that
 * the list is not walked again to find them.  The first of each wins, as
 * with sl_param; CONTENT_LENGTH is also counted, since a repeated one is
 * refused.
 */
struct request_known {
	const char *method, *document_uri, *script_name, *path_info, *request_uri;
	const char *query, *length;
	int nlength;
};

struct sl_request {
	struct conn *conn;
	const struct sl_config *cfg;
	const struct router *router;
	struct arena arena;
	char id[REQUEST_ID_SIZE];	/* ours, or the web server's (request_id.param) */

	struct param *params;
	size_t nparams;
	size_t params_cap;		/* limits.max_params */
	struct request_known known;
	const char *method;
	const char *path;
	const char *query;
	long long content_length;	/* -1: not announced */
	int early_status;		/* set by the codec: refuse with this status */
	struct match match;
	const char *captures[MAX_ROUTE_CAPTURES];	/* NUL-terminated copies */

	/* body */
	int body_done;
	int body_errno;			/* first body error, 0 if none */

	/* response */
	int status;
	int head_sent;
	int has_content_type;
	int has_content_length;
	int has_id_header;		/* the module set request_id.header itself */
	int no_body;			/* HEAD: headers only */
	int client_gone;		/* the peer can no longer be written to */
	int ended;			/* the last piece of the response has left */
	int aborted;			/* the web server aborted the request */
	int must_close;			/* the request ended so that its connection cannot go on */
	char *head;			/* header lines, "Name: value\r\n" each */
	size_t head_len;
	unsigned char *out;		/* body bytes not yet sent, copied (sl_write) */
	size_t out_len;
	struct iovec refs[RESPONSE_REFS];	/* then those not copied (sl_write_ref) */
	int nrefs;
	size_t refs_len;
	unsigned long long body_bytes;	/* body bytes handed to the codec so far */
	unsigned long long head_only;	/* HEAD: body bytes written and not sent */
	size_t id_param_len;		/* strlen(cfg->request_id_param), 0: none */
	size_t id_header_len;		/* strlen(cfg->request_id_header), 0: none */
	unsigned long long served;	/* requests this worker has served */
	struct lazy *lazy;		/* what sl_query_*, sl_form_*, sl_cookie parsed (lazy.c) */
};

/* Forget the body written and not sent yet, copied or by reference. */
static inline void request_drop_body(struct sl_request *r)
{
	r->out_len = 0;
	r->nrefs = 0;
	r->refs_len = 0;
}

/* Allocate the request's buffers once per worker; -1 on ENOMEM. */
int request_init(struct sl_request *r, const struct sl_config *cfg,
		 const struct router *router);

/*
 * Start a new request on connection `c`: reset the arena and response
 * state and give the request a fresh id.  The codec calls this when a
 * request begins, before it decodes parameters into the arena.
 */
void request_begin(struct sl_request *r, struct conn *c);

/*
 * Parameters without a copy: a codec NUL-terminates its own buffer in
 * place, and keeps it until the next request is decoded
 * (conn_hold_params), which saves a copy of every pair (FastCGI and
 * uwsgi both do).  It fills one slot per pair, having
 * checked that neither string holds a NUL (request_param_nul), then
 * calls request_note_params.  The slot is NULL past limits.max_params:
 * request_params_full then refuses the request.  Inline, because it runs
 * for every parameter of every request.
 */
static inline struct param *request_param_slot(struct sl_request *r)
{
	return r->nparams < r->params_cap ? &r->params[r->nparams++] : NULL;
}

/* Note what the parameters from index `from` on tell sluice (known, id). */
void request_note_params(struct sl_request *r, size_t from);

/* More parameters than limits.max_params: log it, refuse with 431; -1. */
int request_params_full(struct sl_request *r);

/* A parameter holds a NUL byte: log it, refuse the request with 400; -1. */
int request_param_nul(struct sl_request *r);

/*
 * Run the request the codec has just decoded: check it, route it, call
 * the handler, drain the body, finish the response.  Failures become
 * clean error responses and log lines; nothing here ends the worker.
 * What becomes of the connection is the codec's call (proto->finish).
 */
void request_run(struct sl_request *r);

/*
 * CONTENT_LENGTH, parsed strictly: digits only, no sign, no spaces, no
 * overflow (one length, one source).  Empty means not announced (-1).
 * Returns 0 with *out set, or -1.  The uwsgi codec reads it with this too.
 */
int request_parse_length(const char *s, size_t len, long long *out);

void request_free(struct sl_request *r);

/* The request whose handler is running, or NULL (for the crash handlers). */
struct sl_request *request_current(void);

#endif
