/*
 * test_arena.c - per-request memory: alignment, no overlap, reuse of the
 * first block after a reset, the cap, large and absurd sizes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "defaults.h"

#define ALIGN	alignof(max_align_t)

static int aligned(const void *p)
{
	return (uintptr_t)p % ALIGN == 0;
}

Test(arena, alignment)
{
	struct arena a;
	void *p;

	cr_assert_eq(arena_init(&a, 4096, 0), 0);
	/* Odd sizes, enough of them to spill into extra blocks. */
	for (size_t i = 0; i < 5000; i++) {
		p = arena_alloc(&a, i % 97 + 1);
		cr_assert_not_null(p);
		cr_assert(aligned(p), "allocation %zu at %p is not %zu-aligned", i, p, ALIGN);
	}
	p = arena_alloc(&a, 3 * ARENA_BLOCK_SIZE);
	cr_assert(aligned(p));
	cr_assert(aligned(arena_strndup(&a, "abc", 3)));
	cr_assert(aligned(arena_alloc(&a, 1)));
	arena_free(&a);
}

/* Every allocation is its own memory: fill each, then check them all. */
Test(arena, allocations_do_not_overlap)
{
	enum { N = 3000 };
	unsigned char *p[N];
	size_t size[N];
	struct arena a;

	cr_assert_eq(arena_init(&a, 1024, 0), 0);
	for (size_t i = 0; i < N; i++) {
		size[i] = (i * 37) % 700;
		p[i] = arena_alloc(&a, size[i]);
		cr_assert_not_null(p[i]);
		memset(p[i], (int)(i & 0xff), size[i]);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t j = 0; j < size[i]; j++)
			cr_assert_eq(p[i][j], i & 0xff, "allocation %zu was overwritten", i);
	arena_free(&a);
}

Test(arena, zero_size_gets_distinct_pointers)
{
	struct arena a;
	void *p, *q;

	cr_assert_eq(arena_init(&a, 256, 0), 0);
	p = arena_alloc(&a, 0);
	q = arena_alloc(&a, 0);
	cr_assert_not_null(p);
	cr_assert_not_null(q);
	cr_assert_neq(p, q);
	arena_free(&a);
}

/* The steady state: after a reset the first block is reused from its start. */
Test(arena, reset_reuses_the_first_block)
{
	struct arena a;
	void *first, *again;

	cr_assert_eq(arena_init(&a, 8192, 0), 0);
	first = arena_alloc(&a, 100);
	cr_assert_not_null(first);
	for (int i = 0; i < 100; i++)
		cr_assert_not_null(arena_alloc(&a, 1000));
	cr_assert_gt(a.used_extra, 0, "100 KB fit in an 8 KB first block?");
	arena_reset(&a);
	cr_assert_eq(a.used_extra, 0);
	again = arena_alloc(&a, 100);
	cr_assert_eq(again, first);
	arena_free(&a);
}

/* Extra blocks count against the cap; the first block does not. */
Test(arena, cap_gives_null)
{
	struct arena a;
	size_t got = 0;
	void *p;

	cr_assert_eq(arena_init(&a, 4096, 4 * ARENA_BLOCK_SIZE), 0);
	while ((p = arena_alloc(&a, 1000)))
		got += 1000;
	cr_assert_eq(errno, ENOMEM);
	cr_assert_leq(a.used_extra, a.cap);
	cr_assert_geq(got, 4 * ARENA_BLOCK_SIZE - 4 * 1024, "only %zu bytes before the cap", got);
	cr_assert_leq(got, 4096 + 4 * ARENA_BLOCK_SIZE);

	/* The cap is per request: a reset gives it back. */
	arena_reset(&a);
	for (size_t i = 0; i < 100; i++)
		cr_assert_not_null(arena_alloc(&a, 1000));
	arena_free(&a);
}

Test(arena, large_allocations)
{
	const size_t big = 10u << 20;
	unsigned char *p, *small1, *small2;
	struct arena a;

	cr_assert_eq(arena_init(&a, 4096, 0), 0);
	small1 = arena_alloc(&a, 16);
	p = arena_alloc(&a, big);
	cr_assert_not_null(p);
	memset(p, 0xab, big);
	cr_assert_eq(p[big - 1], 0xab);
	cr_assert_geq(a.used_extra, big);
	/* A large allocation gets its own block: the current one is not abandoned. */
	small2 = arena_alloc(&a, 16);
	cr_assert_eq(small2, small1 + 16);
	arena_free(&a);
}

Test(arena, large_allocation_respects_the_cap)
{
	struct arena a;

	cr_assert_eq(arena_init(&a, 4096, 1 << 20), 0);
	errno = 0;
	cr_assert_null(arena_alloc(&a, 2 << 20));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_not_null(arena_alloc(&a, 512 << 10));
	cr_assert_not_null(arena_alloc(&a, 100));
	arena_free(&a);
}

Test(arena, absurd_sizes_fail_cleanly)
{
	static const size_t sizes[] = {
		SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 64,
		SIZE_MAX / 2 + 1, SIZE_MAX / 2,
	};
	struct arena a;

	cr_assert_eq(arena_init(&a, 1024, 0), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		cr_assert_null(arena_alloc(&a, sizes[i]), "size %zu", sizes[i]);
		cr_assert_eq(errno, ENOMEM, "size %zu", sizes[i]);
	}
	/* Within reason, but over the cap: refused before malloc is asked. */
	a.cap = 1 << 20;
	errno = 0;
	cr_assert_null(arena_alloc(&a, (size_t)1 << 46));
	cr_assert_eq(errno, ENOMEM);
	/* The arena is still fine. */
	cr_assert_not_null(arena_alloc(&a, 64));
	arena_free(&a);

	errno = 0;
	cr_assert_eq(arena_init(&a, SIZE_MAX - 8, 0), -1);
	cr_assert_eq(errno, ENOMEM);
	arena_free(&a);
}

Test(arena, strndup)
{
	struct arena a;
	char *s;

	cr_assert_eq(arena_init(&a, 1024, 0), 0);
	s = arena_strndup(&a, "hello world", 5);
	cr_assert_str_eq(s, "hello");
	s = arena_strndup(&a, "hi", 10);
	cr_assert_str_eq(s, "hi");
	s = arena_strndup(&a, "whole", SIZE_MAX);
	cr_assert_str_eq(s, "whole");
	s = arena_strndup(&a, "", 0);
	cr_assert_str_eq(s, "");
	arena_free(&a);
}

Test(arena, empty_first_block)
{
	struct arena a;
	char *p;

	cr_assert_eq(arena_init(&a, 0, 0), 0);
	p = arena_alloc(&a, 10);
	cr_assert_not_null(p);
	memset(p, 1, 10);
	arena_reset(&a);
	cr_assert_not_null(arena_alloc(&a, 10));
	arena_free(&a);
}

Test(arena, free_is_idempotent)
{
	struct arena a;

	cr_assert_eq(arena_init(&a, 1024, 0), 0);
	cr_assert_not_null(arena_alloc(&a, 100000));
	arena_free(&a);
	arena_free(&a);
	cr_assert_null(a.first);
}
