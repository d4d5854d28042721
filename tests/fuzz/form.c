/*
 * form.c - fuzz a form request: the first line is its Content-Type, the
 * rest its body, parsed only when the type is the urlencoded form's, as
 * sl_form_* does.
 */
#include <stdint.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = fuzz_arena();
	const char *s = (const char *)data, *nl = memchr(s, '\n', size);
	size_t tlen = nl ? (size_t)(nl - s) : size;
	char *type = arena_strndup(a, s, tlen);
	struct kv_list l;

	if (!type)
		abort();
	if (!kv_form_type_ok(type) || !nl)
		return 0;
	if (kv_parse_urlencoded(a, nl + 1, size - tlen - 1, &l) == 0)
		fuzz_check_list(&l, 0);	/* %26 decodes to a legitimate '&' */
	return 0;
}
