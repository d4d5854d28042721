/*
 * query.c - fuzz the urlencoded parser as a query string, and check that
 * every decoded value survives encoding and strict decoding unchanged.
 */
#include <stdint.h>

#include "escape.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(struct arena *a, const struct kv *kv)
{
	size_t used, room = kv->value_len * ESCAPE_GROWTH, n;
	char *enc = arena_alloc(a, room + 1), *dec = arena_alloc(a, kv->value_len + 1);

	if (!enc || !dec)
		abort();
	n = url_encode_plus(enc, room, kv->value, kv->value_len, &used);
	if (used != kv->value_len)
		abort();
	if (url_decode(dec, enc, n, URL_PLUS, NULL) != (long)kv->value_len ||
	    memcmp(dec, kv->value, kv->value_len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = fuzz_arena();
	struct kv_list l;

	if (kv_parse_urlencoded(a, (const char *)data, size, &l) < 0)
		return 0;
	fuzz_check_list(&l, 0);
	for (size_t i = 0; i < l.n; i++)
		round_trip(a, &l.items[i]);
	return 0;
}
