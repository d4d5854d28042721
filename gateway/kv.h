/*
 * kv.h - name=value lists from the request: the urlencoded form of query
 * strings and form bodies, and the Cookie header.
 *
 * Parsing copies every pair into the arena as two C strings, so the list
 * lives exactly as long as the request.  Pure functions, no log: the
 * sl_* wrappers (query.c, form.c, cookie.c) say what went wrong.
 */
#ifndef SLUICE_KV_H
#define SLUICE_KV_H

#include <stddef.h>

#include "arena.h"

/*
 * Most pairs one list may hold; past it the whole list is refused
 * (E2BIG) rather than cut, so that a handler never acts on a silently
 * shortened form.  1000 is PHP's max_input_vars: far above what a form
 * has, and it bounds the linear lookups.
 */
#define KV_MAX_PAIRS	1000

struct kv {
	const char *name;
	const char *value;
	size_t name_len;
	size_t value_len;
};

struct kv_list {
	struct kv *items;
	size_t n;
	size_t dropped;		/* pairs left out: an empty name, or a NUL inside */
};

/*
 * application/x-www-form-urlencoded (the WHATWG URL standard's parser):
 * pairs split at '&', name and value at the first '=', '+' is a space,
 * %XX is a byte and a bad escape stays as it is.  Empty pieces ("a&&b")
 * are skipped; pairs with an empty name, or a NUL once decoded, are
 * dropped and counted.  Repeated names are all kept, in order.  Returns
 * 0, or -1 with E2BIG (more than KV_MAX_PAIRS) or ENOMEM.
 */
int kv_parse_urlencoded(struct arena *a, const char *s, size_t len, struct kv_list *out);

/*
 * A Cookie header (RFC 6265 section 5.4 as browsers send it): pairs split
 * at ';', spaces and tabs around names and values trimmed, one pair of
 * double quotes around a value removed, nothing decoded.  A piece without
 * '=' or with an empty name is dropped.  Errors as above.
 */
int kv_parse_cookies(struct arena *a, const char *s, size_t len, struct kv_list *out);

/*
 * 1 if Content-Type `t` is application/x-www-form-urlencoded,
 * case-insensitive, alone or followed by parameters; else 0.
 */
int kv_form_type_ok(const char *t);

/* The first pair named `name` (exact, case-sensitive), or NULL. */
const struct kv *kv_find(const struct kv_list *l, const char *name);

/*
 * `s` as a whole decimal number: an optional sign and digits, nothing
 * else (no spaces, no "0x", no trailing junk), within long long.
 * Returns 0 with *out set, or -1.
 */
int kv_to_ll(const char *s, long long *out);

#endif
