/*
 * lazy.c - the per-request state of the parsing helpers, and the getters
 * that the query and the form share.
 *
 * A list is parsed the first time a handler asks for it, and its outcome
 * (the pairs, or why there are none) is kept for the rest of the
 * request.  A failure is logged once, at info: it is the client's input
 * that was wrong, and the handler sees it as missing fields or through
 * sl_query_parse / sl_form_parse.
 */
#include <errno.h>
#include <string.h>

#include "lazy.h"
#include "log.h"
#include "request.h"

#define STR_(x) #x
#define STR(x) STR_(x)

typedef int (*lazy_loader)(struct sl_request *r, struct kv_list *out);

static const struct {
	lazy_loader load;
	const char *what;
} lists[LAZY_NLISTS] = {
	[LAZY_QUERY] = { query_load, "query string" },
	[LAZY_FORM] = { form_load, "form body" },
	[LAZY_COOKIES] = { cookie_load, "Cookie header" },
};

struct lazy *lazy_of(struct sl_request *r)
{
	if (!r->lazy) {
		r->lazy = arena_alloc(&r->arena, sizeof(*r->lazy));
		if (r->lazy)
			memset(r->lazy, 0, sizeof(*r->lazy));
	}
	return r->lazy;
}

static const char *why(int err)
{
	switch (err) {
	case E2BIG:
		return "it has more than " STR(KV_MAX_PAIRS) " fields";
	case EMEDIUMTYPE:
		return "its Content-Type is not application/x-www-form-urlencoded or "
		       "multipart/form-data";
	case EBADMSG:
		return "it is not well-formed multipart/form-data";
	case EFBIG:
		return "it is larger than SL_FORM_MAX_BYTES (" STR(SL_FORM_MAX_BYTES) " bytes)";
	default:
		return strerror(err);
	}
}

static void parse_once(struct sl_request *r, enum lazy_which w, struct lazy_list *l)
{
	if (lists[w].load(r, &l->list) < 0) {
		l->state = -1;
		l->err = errno;
		memset(&l->list, 0, sizeof(l->list));
		/* A body that is not a form at all is an answer, not a fault. */
		if (l->err != EMEDIUMTYPE)
			log_msg(LOG_INFO, "request %s: the %s was not parsed: %s", r->id,
				lists[w].what, why(l->err));
		return;
	}
	l->state = 1;
	if (l->list.dropped)
		log_msg(LOG_INFO, "request %s: %zu field(s) of the %s left out (no '=', an "
			"empty name or a NUL byte)", r->id, l->list.dropped, lists[w].what);
}

const struct kv_list *lazy_pairs(struct sl_request *r, enum lazy_which w)
{
	struct lazy *z = lazy_of(r);
	struct lazy_list *l;

	if (!z) {
		errno = ENOMEM;
		return NULL;
	}
	l = &z->lists[w];
	if (l->state == 0)
		parse_once(r, w, l);
	if (l->state < 0) {
		errno = l->err;
		return NULL;
	}
	return &l->list;
}

int lazy_parse(struct sl_request *r, enum lazy_which w)
{
	return lazy_pairs(r, w) ? 0 : -1;
}

const char *lazy_value(struct sl_request *r, enum lazy_which w, const char *name)
{
	const struct kv_list *l = lazy_pairs(r, w);
	const struct kv *kv = l ? kv_find(l, name) : NULL;

	return kv ? kv->value : NULL;
}

long long lazy_int(struct sl_request *r, enum lazy_which w, const char *name, long long def)
{
	const char *v = lazy_value(r, w, name);
	long long n;

	return v && kv_to_ll(v, &n) == 0 ? n : def;
}

size_t lazy_count(struct sl_request *r, enum lazy_which w)
{
	const struct kv_list *l = lazy_pairs(r, w);

	return l ? l->n : 0;
}

int lazy_at(struct sl_request *r, enum lazy_which w, size_t i, const char **name,
	    const char **value)
{
	const struct kv_list *l = lazy_pairs(r, w);

	if (!l)
		return -1;
	if (i >= l->n) {
		errno = ERANGE;
		return -1;
	}
	*name = l->items[i].name;
	*value = l->items[i].value;
	return 0;
}
