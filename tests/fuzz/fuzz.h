/*
 * fuzz.h - what the libFuzzer harnesses share: one arena rewound per
 * input, and the checks every parsed list must pass whatever the input.
 */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "kv.h"

static inline struct arena *fuzz_arena(void)
{
	static struct arena a;
	static int ready;

	if (!ready && arena_init(&a, ARENA_BLOCK_SIZE, 0) == 0)
		ready = 1;
	if (!ready)
		abort();
	arena_reset(&a);
	return &a;
}

/* Names non-empty, lengths true, no NUL inside, `sep` nowhere; else abort. */
static inline void fuzz_check_list(const struct kv_list *l, char sep)
{
	if (l->n > KV_MAX_PAIRS)
		abort();
	for (size_t i = 0; i < l->n; i++) {
		const struct kv *kv = &l->items[i];

		if (kv->name_len == 0 || strlen(kv->name) != kv->name_len ||
		    strlen(kv->value) != kv->value_len)
			abort();
		if (sep && (memchr(kv->name, sep, kv->name_len) ||
			    memchr(kv->value, sep, kv->value_len)))
			abort();
		if (kv_find(l, kv->name) == NULL)
			abort();
	}
}

#endif
