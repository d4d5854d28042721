/*
 * form.c - the fields of an application/x-www-form-urlencoded body
 * (sl_form_*), read and parsed on first use; a multipart/form-data body
 * is handed to parts.c.
 */
#include <errno.h>
#include <string.h>

#include "lazy.h"
#include "multipart.h"
#include "request.h"

int form_load(struct sl_request *r, struct kv_list *out)
{
	const char *type = sl_header(r, "Content-Type");
	char *body;
	size_t len;

	if (!type && r->content_length <= 0) {
		/* No body at all (a GET, say): an empty form, not an error. */
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (type && multipart_type_ok(type))
		return parts_form_load(r, out);
	if (!type || !kv_form_type_ok(type)) {
		errno = EMEDIUMTYPE;
		return -1;
	}
	if (body_read_all(r, SL_FORM_MAX_BYTES, &body, &len) < 0)
		return -1;
	return kv_parse_urlencoded(&r->arena, body, len, out);
}

const char *sl_form_get(struct sl_request *r, const char *name)
{
	return lazy_value(r, LAZY_FORM, name);
}

long long sl_form_int(struct sl_request *r, const char *name, long long def)
{
	return lazy_int(r, LAZY_FORM, name, def);
}

size_t sl_form_count(struct sl_request *r)
{
	return lazy_count(r, LAZY_FORM);
}

int sl_form_at(struct sl_request *r, size_t i, const char **name, const char **value)
{
	return lazy_at(r, LAZY_FORM, i, name, value);
}

int sl_form_parse(struct sl_request *r)
{
	return lazy_parse(r, LAZY_FORM);
}
