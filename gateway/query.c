/*
 * query.c - the query string's fields (sl_query_*), parsed on first use.
 */
#include <string.h>

#include "lazy.h"
#include "request.h"

int query_load(struct sl_request *r, struct kv_list *out)
{
	return kv_parse_urlencoded(&r->arena, r->query, strlen(r->query), out);
}

const char *sl_query_get(struct sl_request *r, const char *name)
{
	return lazy_value(r, LAZY_QUERY, name);
}

long long sl_query_int(struct sl_request *r, const char *name, long long def)
{
	return lazy_int(r, LAZY_QUERY, name, def);
}

size_t sl_query_count(struct sl_request *r)
{
	return lazy_count(r, LAZY_QUERY);
}

int sl_query_at(struct sl_request *r, size_t i, const char **name, const char **value)
{
	return lazy_at(r, LAZY_QUERY, i, name, value);
}

int sl_query_parse(struct sl_request *r)
{
	return lazy_parse(r, LAZY_QUERY);
}
