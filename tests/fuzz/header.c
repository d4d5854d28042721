/*
 * header.c - fuzz the header checks (gateway/header.c) and the response
 * head's lines (gateway/headlines.c).
 *
 * Input: bytes 0-1 a status code, byte 2 a buffer size, then a name up
 * to the first NUL or LF and a head (or a value) after it.  Whatever
 * the input: nothing that passes the value check can split a head, a
 * name that passes is a token, a found line is the name's and lies in
 * the head, a removed name is gone, and the status lines fit their
 * buffer, NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "header.h"
#include "headlines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name_value(const char *name, const char *value, size_t vlen)
{
	if (header_value_ok(value, vlen) && (memchr(value, '\r', vlen) ||
	    memchr(value, '\n', vlen) || memchr(value, '\0', vlen)))
		abort();
	if (header_name_ok(name) && strpbrk(name, " \t\r\n:;,\"()/<>=?@[\\]{}\x7f"))
		abort();
	/* HTTP_ + the name, folded, is the same length as the name. */
	if (strncmp(name, "HTTP_", 5) == 0 && header_param_is(name, name + 5) != 1 &&
	    name[5] != '\0')
		abort();
	(void)headlines_single(name);
	(void)headlines_reserved(name);
}

static void check_head(char *head, size_t len, const char *name)
{
	size_t ll, nlen = strlen(name), left;
	long at = headlines_find(head, len, name, &ll);

	if (at >= 0 && ((size_t)at + ll > len || ll <= nlen || head[at + (long)nlen] != ':' ||
			strncasecmp(head + at, name, nlen) != 0))
		abort();
	left = headlines_remove(head, len, name);
	if (left > len || headlines_find(head, left, name, &ll) >= 0)
		abort();
}

static void check_status(int status, size_t size, const char *reason)
{
	char buf[300];
	size_t n;

	if (header_status_line(buf, size, "Status: ", status, reason) >= size && size > 0)
		abort();
	if (size > 0 && strnlen(buf, size) == size)
		abort();
	n = header_canned_head(buf, size, "HTTP/1.1 ", status, reason, "text/plain", size);

	if (n && (n >= size || memcmp(buf, "HTTP/1.1 ", 9) != 0 || strlen(buf) != n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name, *rest;
	size_t nlen, rlen;
	int status;

	if (size < 3)
		return 0;
	status = (int)(data[0] << 8 | data[1]) - 1000;
	check_status(status, data[2], http_reason(status));
	data += 3;
	size -= 3;
	for (nlen = 0; nlen < size && data[nlen] != '\n' && data[nlen] != '\0'; nlen++)
		;
	rlen = nlen < size ? size - nlen - 1 : 0;
	name = strndup((const char *)data, nlen);
	rest = malloc(rlen + 1);
	if (!name || !rest)
		abort();
	memcpy(rest, data + nlen + (nlen < size), rlen);
	check_name_value(name, rest, rlen);
	check_status(status, rlen ? (unsigned char)rest[0] : 0, name);
	check_head(rest, rlen, name);
	free(name);
	free(rest);
	return 0;
}
