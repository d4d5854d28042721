/*
 * cookie.c - fuzz the Cookie header parser: no pair may hold the ';'
 * that separates them, nor an untrimmed or empty name.
 */
#include <stdint.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = fuzz_arena();
	struct kv_list l;

	if (kv_parse_cookies(a, (const char *)data, size, &l) < 0)
		return 0;
	fuzz_check_list(&l, ';');
	for (size_t i = 0; i < l.n; i++) {
		const struct kv *kv = &l.items[i];

		if (kv->name[0] == ' ' || kv->name[kv->name_len - 1] == ' ')
			abort();
	}
	return 0;
}
