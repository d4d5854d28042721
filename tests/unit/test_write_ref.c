/*
 * test_write_ref.c - sl_write_ref through the test client (sluice_test.h),
 * with the refs fixture: bytes written by reference leave once each, in
 * the order written among copied ones, across every batch sluice makes;
 * a response that is all pending at its end says its length; HEAD counts
 * them without sending them; an error or a 204 drops them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice_test.h"

#define REFS BUILD_DIR "/fixtures/refs.so"

static struct slt *t;

static void setup(void)
{
	t = slt_open(REFS, "/", NULL);
	cr_assert_not_null(t, "%s", slt_error());
}

static void teardown(void)
{
	slt_close(t);
}

/* Byte j of the fixture's static table from offset `off`. */
static char table_at(size_t off, size_t j)
{
	return (char)('a' + (off + j) % 26);
}

/* `len` bytes at `p` are the table from offset `off`; the first wrong one, or -1. */
static long table_mismatch(const char *p, size_t off, size_t len)
{
	for (size_t j = 0; j < len; j++)
		if (p[j] != table_at(off, j))
			return (long)j;
	return -1;
}

/* `n` pieces of `size` bytes, piece i from table offset i % 26. */
static void assert_pieces(const struct slt_response *r, int n, size_t size)
{
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->body_len, (size_t)n * size, "body of %zu bytes, written %zu",
		     r->body_len, (size_t)n * size);
	for (int i = 0; i < n; i++) {
		long at = table_mismatch(r->body + (size_t)i * size, (size_t)i % 26, size);

		cr_assert_eq(at, -1, "piece %d differs at byte %ld", i, at);
	}
}

Test(write_ref, copied_and_referenced_bytes_keep_their_order, .init = setup, .fini = teardown)
{
	const struct slt_response *r = slt_get(t, "/mixed");
	const char *p;

	cr_assert_not_null(r, "%s", slt_error());
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->body_len, 7 + 5000 + 4 + 70000 + 10 + 6, "body of %zu bytes", r->body_len);
	p = r->body;
	cr_assert_eq(memcmp(p, "head 1\n", 7), 0);
	p += 7;
	cr_assert_eq(table_mismatch(p, 0, 5000), -1);
	p += 5000;
	cr_assert_eq(memcmp(p, "mid\n", 4), 0);
	p += 4;
	for (size_t j = 0; j < 70000; j++)
		cr_assert_eq(p[j], 'B', "sl_alloc'd piece differs at byte %zu", j);
	p += 70000;
	cr_assert_eq(table_mismatch(p, 3, 10), -1);
	p += 10;
	cr_assert_eq(memcmp(p, "end 2\n", 6), 0);
}

Test(write_ref, a_write_too_big_to_copy_leaves_after_the_pending_pieces, .init = setup,
     .fini = teardown)
{
	const struct slt_response *r = slt_get(t, "/thenbig");

	cr_assert_not_null(r, "%s", slt_error());
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->body_len, 100000 + 300000 + 4, "body of %zu bytes", r->body_len);
	cr_assert_eq(table_mismatch(r->body, 0, 100000), -1);
	for (size_t j = 0; j < 300000; j++)
		cr_assert_eq(r->body[100000 + j], 'Z', "the big write differs at byte %zu", j);
	cr_assert_eq(memcmp(r->body + 400000, "end\n", 4), 0);
}

Test(write_ref, more_pieces_than_are_kept_pending, .init = setup, .fini = teardown)
{
	const struct slt_response *r = slt_get(t, "/many");

	cr_assert_not_null(r, "%s", slt_error());
	assert_pieces(r, 120, 5000);
}

Test(write_ref, more_bytes_than_one_batch, .init = setup, .fini = teardown)
{
	const struct slt_response *r = slt_get(t, "/big");

	cr_assert_not_null(r, "%s", slt_error());
	assert_pieces(r, 48, 64 * 1024);
}

Test(write_ref, a_response_pending_whole_at_its_end_says_its_length, .init = setup,
     .fini = teardown)
{
	const struct slt_response *r = slt_get(t, "/whole");
	const char *length;

	cr_assert_not_null(r, "%s", slt_error());
	assert_pieces(r, 2, 100000);
	length = slt_response_header(t, "Content-Length", 0);
	cr_assert_not_null(length, "no Content-Length for a response sent at its end");
	cr_assert_str_eq(length, "200000");
}

Test(write_ref, head_counts_the_pieces_and_sends_none, .init = setup, .fini = teardown)
{
	const struct slt_response *r = slt_request(t, "HEAD", "/whole", NULL, NULL, 0);

	cr_assert_not_null(r, "%s", slt_error());
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->body_len, 0);
	cr_assert_str_eq(slt_response_header(t, "Content-Length", 0), "200000");
}

Test(write_ref, an_error_drops_what_was_pending, .init = setup, .fini = teardown)
{
	const struct slt_response *r = slt_get(t, "/error");

	cr_assert_not_null(r, "%s", slt_error());
	cr_assert_eq(r->status, 503);
	cr_assert_lt(r->body_len, 4096, "the pending piece was sent with the error page");
	cr_assert_null(memmem(r->body, r->body_len, "abcdefghij", 10));
}

Test(write_ref, a_204_has_no_body, .init = setup, .fini = teardown)
{
	const struct slt_response *r = slt_get(t, "/empty");

	cr_assert_not_null(r, "%s", slt_error());
	cr_assert_eq(r->status, 204);
	cr_assert_eq(r->body_len, 0);
}
