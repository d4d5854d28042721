/*
 * lazy.h - what a request parses only when its handler asks: the query
 * fields, the form fields, the cookies and the whole body.
 *
 * request_begin only clears one pointer; the first sl_query_*, sl_form_*,
 * sl_cookie or sl_read_body call makes the state in the arena and parses
 * what it needs, once.  A handler that uses none of them pays nothing.
 */
#ifndef SLUICE_LAZY_H
#define SLUICE_LAZY_H

#include <stddef.h>
#include <sys/types.h>

#include "kv.h"

struct sl_request;
struct multipart;

enum lazy_which { LAZY_QUERY, LAZY_FORM, LAZY_COOKIES, LAZY_NLISTS };

struct lazy_list {
	struct kv_list list;
	int state;		/* 0: not parsed yet, 1: parsed, -1: failed */
	int err;		/* the failure's errno */
};

struct lazy {
	struct lazy_list lists[LAZY_NLISTS];
	char *body;		/* sl_read_body's copy, NUL-terminated */
	size_t body_len;
	int body_state;		/* as lazy_list.state */
	int body_err;
	struct multipart *multipart;	/* sl_multipart_*'s parser (parts.c) */
};

/* The request's lazy state, made on first use; NULL (ENOMEM) if it cannot be. */
struct lazy *lazy_of(struct sl_request *r);

/*
 * List `w`, parsed on first use (and the failure or the dropped pairs
 * logged once).  NULL with errno set when it could not be parsed.
 */
const struct kv_list *lazy_pairs(struct sl_request *r, enum lazy_which w);

/* The getters sl_query_* and sl_form_* share. */
const char *lazy_value(struct sl_request *r, enum lazy_which w, const char *name);
long long lazy_int(struct sl_request *r, enum lazy_which w, const char *name, long long def);
size_t lazy_count(struct sl_request *r, enum lazy_which w);
int lazy_at(struct sl_request *r, enum lazy_which w, size_t i, const char **name,
	    const char **value);
int lazy_parse(struct sl_request *r, enum lazy_which w);

/* The loaders, one per list, in the file of their concern. */
int query_load(struct sl_request *r, struct kv_list *out);
int form_load(struct sl_request *r, struct kv_list *out);
int cookie_load(struct sl_request *r, struct kv_list *out);

/* The text fields of a multipart/form-data body, for sl_form_* (parts.c). */
int parts_form_load(struct sl_request *r, struct kv_list *out);

/*
 * The whole body into the arena, at most `limit` bytes: 0 with *body and
 * *len set, or -1 with errno (EFBIG past `limit`, or sl_read's errors).
 * The first outcome is kept: later calls give it again.
 */
int body_read_all(struct sl_request *r, size_t limit, char **body, size_t *len);

/* sl_read, or a reader of one part of the body (parts.c). */
typedef ssize_t (*body_reader)(struct sl_request *r, void *buf, size_t len);

/*
 * What `read` gives until its end into the arena, NUL-terminated, in a
 * buffer of `cap` bytes to start with that doubles as needed: 0 with
 * *out and *len, or -1 with errno (EFBIG when more than `limit` bytes
 * came, ENOMEM, or the reader's).  Never more than limits.max_body_bytes.
 */
int body_collect(struct sl_request *r, body_reader read, size_t cap, size_t limit,
		 char **out, size_t *len);

#endif
