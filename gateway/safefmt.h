/*
 * safefmt.h - string building that is safe in a signal handler.
 *
 * snprintf is not async-signal-safe (it may allocate or take locks), and
 * the crash, timeout and slowlog paths run in signal handlers.  These
 * appenders only copy bytes into a caller's buffer.  Each takes the
 * buffer, its size and the current length, never writes past size - 1,
 * keeps the buffer NUL-terminated and returns the new length.
 */
#ifndef SLUICE_SAFEFMT_H
#define SLUICE_SAFEFMT_H

#include <stddef.h>
#include <stdint.h>

static inline size_t sf_str(char *buf, size_t size, size_t at, const char *s)
{
	while (s && *s && at + 1 < size)
		buf[at++] = *s++;
	if (at < size)
		buf[at] = '\0';
	return at;
}

static inline size_t sf_mem(char *buf, size_t size, size_t at, const void *p, size_t n)
{
	const char *s = p;

	while (n-- > 0 && at + 1 < size)
		buf[at++] = *s++;
	if (at < size)
		buf[at] = '\0';
	return at;
}

/* Unsigned decimal, zero-padded to at least `width` digits. */
static inline size_t sf_uint(char *buf, size_t size, size_t at, unsigned long long v, int width)
{
	char tmp[24];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while ((v || (int)sizeof(tmp) - 1 - i < width) && i > 0);
	return sf_str(buf, size, at, tmp + i);
}

static inline size_t sf_hex(char *buf, size_t size, size_t at, uintptr_t v)
{
	char tmp[2 + 2 * sizeof(v) + 1];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = '\0';
	do
		tmp[--i] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) && i > 2);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	return sf_str(buf, size, at, tmp + i);
}

#endif
