/*
 * test_safefmt.c - the signal-safe appenders of safefmt.h: what lands in
 * the buffer, that nothing is written at or past size - 1 but the NUL,
 * that the result is always a C string, and the returned length.
 *
 * Every buffer is surrounded by canary bytes: a write past the size the
 * appender was given shows up as a changed canary.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "safefmt.h"

#define CANARY	'#'
#define ROOM	64

/* A buffer of ROOM bytes, all canary; appenders get a prefix of it. */
static char area[ROOM];

static void fill(void)
{
	memset(area, CANARY, sizeof(area));
}

/* Bytes [from, ROOM) are still canary: nothing was written there. */
static void assert_untouched(size_t from)
{
	for (size_t i = from; i < ROOM; i++)
		cr_assert_eq(area[i], CANARY, "byte %zu past the buffer was written (0x%02x)",
			     i, (unsigned char)area[i]);
}

TestSuite(safefmt, .init = fill);

Test(safefmt, str_appends_and_terminates)
{
	size_t at = sf_str(area, 16, 0, "abc");

	at = sf_str(area, 16, at, "de");
	cr_assert_eq(at, 5);
	cr_assert_str_eq(area, "abcde");
	assert_untouched(6);
}

Test(safefmt, str_truncates_at_size_minus_one)
{
	size_t at = sf_str(area, 8, 0, "hello, world");

	cr_assert_eq(at, 7);
	cr_assert_str_eq(area, "hello, ");
	assert_untouched(8);
	/* A full buffer takes nothing more, and says so by its length. */
	at = sf_str(area, 8, at, "more");
	cr_assert_eq(at, 7);
	cr_assert_str_eq(area, "hello, ");
	assert_untouched(8);
}

Test(safefmt, str_exact_fit)
{
	/* Seven characters and the NUL fill a buffer of eight exactly. */
	cr_assert_eq(sf_str(area, 8, 0, "1234567"), 7);
	cr_assert_str_eq(area, "1234567");
	assert_untouched(8);
}

Test(safefmt, size_zero_writes_nothing)
{
	cr_assert_eq(sf_str(area, 0, 0, "abc"), 0);
	cr_assert_eq(sf_mem(area, 0, 0, "abc", 3), 0);
	cr_assert_eq(sf_uint(area, 0, 0, 42, 0), 0);
	cr_assert_eq(sf_hex(area, 0, 0, 0xbeef), 0);
	assert_untouched(0);
}

Test(safefmt, size_one_holds_only_the_nul)
{
	cr_assert_eq(sf_str(area, 1, 0, "abc"), 0);
	cr_assert_eq(area[0], '\0');
	assert_untouched(1);

	fill();
	cr_assert_eq(sf_mem(area, 1, 0, "abc", 3), 0);
	cr_assert_eq(area[0], '\0');
	assert_untouched(1);

	fill();
	cr_assert_eq(sf_uint(area, 1, 0, 7, 3), 0);
	cr_assert_eq(area[0], '\0');
	assert_untouched(1);

	fill();
	cr_assert_eq(sf_hex(area, 1, 0, 0xf), 0);
	cr_assert_eq(area[0], '\0');
	assert_untouched(1);
}

Test(safefmt, empty_string_terminates)
{
	cr_assert_eq(sf_str(area, 8, 0, ""), 0);
	cr_assert_eq(area[0], '\0');
	assert_untouched(1);
}

Test(safefmt, mem_copies_exactly_n_bytes)
{
	/* Bytes, not a string: a NUL inside is copied, the rest ignored. */
	size_t at = sf_mem(area, 16, 0, "ab\0cdXYZ", 5);

	cr_assert_eq(at, 5);
	cr_assert_eq(memcmp(area, "ab\0cd", 5), 0);
	cr_assert_eq(area[5], '\0');
	assert_untouched(6);
}

Test(safefmt, mem_truncates)
{
	size_t at = sf_mem(area, 4, 0, "abcdef", 6);

	cr_assert_eq(at, 3);
	cr_assert_str_eq(area, "abc");
	assert_untouched(4);
}

Test(safefmt, uint_decimal)
{
	size_t at = sf_uint(area, ROOM, 0, 0, 0);

	cr_assert_str_eq(area, "0");
	cr_assert_eq(at, 1);
	at = sf_str(area, ROOM, at, " ");
	at = sf_uint(area, ROOM, at, 1234567890, 0);
	cr_assert_str_eq(area, "0 1234567890");
	cr_assert_eq(at, 12);
}

Test(safefmt, uint_largest_value)
{
	char want[32];

	snprintf(want, sizeof(want), "%llu", (unsigned long long)UINT64_MAX);
	cr_assert_eq(sf_uint(area, ROOM, 0, UINT64_MAX, 0), strlen(want));
	cr_assert_str_eq(area, want);
}

Test(safefmt, uint_zero_pads_to_width)
{
	size_t at = sf_uint(area, ROOM, 0, 7, 3);

	cr_assert_str_eq(area, "007");
	cr_assert_eq(at, 3);
	fill();
	cr_assert_eq(sf_uint(area, ROOM, 0, 0, 4), 4);
	cr_assert_str_eq(area, "0000");
	/* Milliseconds as a log line writes them. */
	fill();
	at = sf_uint(area, ROOM, 0, 12, 0);
	at = sf_str(area, ROOM, at, ".");
	at = sf_uint(area, ROOM, at, 45, 3);
	cr_assert_str_eq(area, "12.045");
	cr_assert_eq(at, 6);
}

Test(safefmt, uint_width_never_cuts_digits)
{
	cr_assert_eq(sf_uint(area, ROOM, 0, 123456, 2), 6);
	cr_assert_str_eq(area, "123456");
}

Test(safefmt, uint_truncates_keeping_leading_digits)
{
	cr_assert_eq(sf_uint(area, 4, 0, 987654, 0), 3);
	cr_assert_str_eq(area, "987");
	assert_untouched(4);
}

Test(safefmt, hex_format)
{
	cr_assert_eq(sf_hex(area, ROOM, 0, 0), 3);
	cr_assert_str_eq(area, "0x0");
	fill();
	cr_assert_eq(sf_hex(area, ROOM, 0, 0x1a), 4);
	cr_assert_str_eq(area, "0x1a");
	fill();
	/* Lower case, no zero padding. */
	cr_assert_eq(sf_hex(area, ROOM, 0, 0xDEADBEEF), 10);
	cr_assert_str_eq(area, "0xdeadbeef");
}

Test(safefmt, hex_largest_value)
{
	char want[32];

	snprintf(want, sizeof(want), "0x%jx", (uintmax_t)UINTPTR_MAX);
	cr_assert_eq(sf_hex(area, ROOM, 0, UINTPTR_MAX), strlen(want));
	cr_assert_str_eq(area, want);
}

Test(safefmt, hex_appends_and_truncates)
{
	size_t at = sf_str(area, 8, 0, "pc=");

	at = sf_hex(area, 8, at, 0x123456);
	cr_assert_eq(at, 7);
	cr_assert_str_eq(area, "pc=0x12");
	assert_untouched(8);
}

/* Every size from 0 up, every appender: never a byte past `size`, always a string. */
Test(safefmt, no_size_overflows)
{
	for (size_t size = 0; size < 24; size++) {
		size_t at;

		fill();
		at = sf_str(area, size, 0, "frame ");
		at = sf_uint(area, size, at, 42, 5);
		at = sf_str(area, size, at, " at ");
		at = sf_hex(area, size, at, 0xabcdef);
		at = sf_mem(area, size, at, "!?", 2);
		assert_untouched(size);
		if (size == 0) {
			cr_assert_eq(at, 0);
			continue;
		}
		cr_assert_eq(at, strlen(area), "size %zu: length %zu for \"%s\"", size, at, area);
		cr_assert_lt(at, size);
		cr_assert_eq(strncmp(area, "frame 00042 at 0xabcdef!?", at), 0,
			     "size %zu: \"%s\"", size, area);
		/* The text is longer than every size tried: each fills up. */
		cr_assert_eq(at, size - 1, "size %zu: stopped short at %zu", size, at);
	}
}
