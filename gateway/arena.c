/*
 * arena.c - per-request memory.
 *
 * The first block is allocated once, when the worker starts, and rewound
 * after every request.  A request that outgrows it gets extra blocks,
 * chained behind the first and freed by the next arena_reset; `cap`
 * bounds the bytes those extra blocks may take, so one request cannot
 * eat the worker's memory.
 *
 * Under AddressSanitizer (the dev profile) the first block's payload is
 * poisoned while nobody holds it, from arena_init and again at every
 * arena_reset, and each allocation unpoisons its own bytes: a pointer a
 * module kept from an earlier request is reported as use-after-poison
 * instead of reading stale data.  The extra blocks are freed, which ASan
 * watches by itself.  Without ASan the macros are empty: no cost in
 * production.
 */
#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "defaults.h"

#define ALIGN		alignof(max_align_t)
#define ALIGN_UP(n)	(((n) + ALIGN - 1) & ~(ALIGN - 1))

/*
 * The payload follows the header, at an offset that is a multiple of
 * max_align_t's alignment because the flexible member has that type.
 */
struct arena_block {
	struct arena_block *next;	/* the next extra block, or NULL */
	size_t size;			/* payload bytes */
	size_t used;			/* payload bytes handed out, a multiple of ALIGN */
	max_align_t data[];
};

#define HEADER		offsetof(struct arena_block, data)

/*
 * The largest request arena_alloc accepts.  No object may exceed
 * PTRDIFF_MAX bytes (pointer differences within it must be defined), and
 * below that a rounded-up payload plus a block header cannot overflow.
 */
#define ALLOC_MAX	((size_t)PTRDIFF_MAX - HEADER - ALIGN)

static struct arena_block *block_new(size_t payload)
{
	struct arena_block *b = malloc(HEADER + payload);

	if (!b)
		return NULL;
	b->next = NULL;
	b->size = payload;
	b->used = 0;
	return b;
}

/*
 * Give the arena a first block of `first_size` bytes (kept until
 * arena_free) and a `cap` on the bytes of extra blocks (0: no cap).
 * Returns -1 with errno ENOMEM when the first block cannot be had.
 */
int arena_init(struct arena *a, size_t first_size, size_t cap)
{
	memset(a, 0, sizeof(*a));
	if (first_size > ALLOC_MAX) {
		errno = ENOMEM;
		return -1;
	}
	a->first = block_new(ALIGN_UP(first_size));
	if (!a->first)
		return -1;
	a->cur = a->first;
	a->cap = cap;
	ASAN_POISON_MEMORY_REGION(a->first->data, a->first->size);
	return 0;
}

/*
 * Take a fresh extra block for an allocation of `need` (rounded) bytes.
 * It holds at least ARENA_BLOCK_SIZE bytes with its header, so that small
 * allocations that follow share it.  A block bigger than that serves this
 * one allocation only, and `cur` stays where it was, so that the space
 * left in the current block is not thrown away.
 */
static struct arena_block *grow(struct arena *a, size_t need)
{
	size_t total = need + HEADER;
	struct arena_block *b;
	int dedicated = total > ARENA_BLOCK_SIZE;

	if (!dedicated)
		total = ARENA_BLOCK_SIZE;
	if (a->cap && (total > a->cap || a->used_extra > a->cap - total)) {
		errno = ENOMEM;
		return NULL;
	}
	b = block_new(total - HEADER);
	if (!b)
		return NULL;
	a->used_extra += total;
	b->next = a->first->next;
	a->first->next = b;
	if (!dedicated)
		a->cur = b;
	return b;
}

/*
 * `size` bytes aligned for any type, valid until the next arena_reset.
 * A zero size still gets a distinct pointer.  Returns NULL with errno
 * ENOMEM when the cap is reached, malloc fails or `size` is absurd.
 */
void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_block *b = a->cur;
	size_t need;
	void *p;

	if (size > ALLOC_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	need = ALIGN_UP(size ? size : 1);
	if (b->size - b->used < need) {
		b = grow(a, need);
		if (!b)
			return NULL;
	}
	p = (char *)b->data + b->used;
	b->used += need;
	ASAN_UNPOISON_MEMORY_REGION(p, need);
	return p;
}

/* A NUL-terminated copy of at most `n` bytes of `s`, as strndup(3). */
char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p;

	if (len == SIZE_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	p = arena_alloc(a, len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/*
 * Free the extra blocks and rewind the first, which keeps its memory:
 * the next request's allocations start at the same address.
 */
void arena_reset(struct arena *a)
{
	struct arena_block *b, *next;

	if (!a->first)
		return;
	for (b = a->first->next; b; b = next) {
		next = b->next;
		free(b);
	}
	a->first->next = NULL;
	ASAN_POISON_MEMORY_REGION(a->first->data, a->first->used);
	a->first->used = 0;
	a->cur = a->first;
	a->used_extra = 0;
}

/* Release everything; safe on an arena whose init failed, and twice. */
void arena_free(struct arena *a)
{
	arena_reset(a);
	if (a->first)
		ASAN_UNPOISON_MEMORY_REGION(a->first->data, a->first->size);
	free(a->first);
	memset(a, 0, sizeof(*a));
}
