/*
 * arena.h - per-request memory.
 *
 * A bump allocator over a first block that lives as long as the worker,
 * plus extra blocks for requests that need more.  arena_reset frees the
 * extra blocks and rewinds the first, so a steady stream of ordinary
 * requests never calls malloc.
 */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *first;	/* kept across resets */
	struct arena_block *cur;
	size_t used_extra;		/* bytes in extra blocks, checked against cap */
	size_t cap;			/* max bytes of extra blocks; 0: unlimited */
};

int arena_init(struct arena *a, size_t first_size, size_t cap);
void *arena_alloc(struct arena *a, size_t size);	/* max_align_t aligned; NULL: ENOMEM */
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
