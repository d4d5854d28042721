/*
 * headlines.c - rules about the header lines a handler adds.
 *
 * The head is kept as the bytes that will be sent, so replacing a
 * header is finding its line and closing the gap: heads are a few
 * hundred bytes and a handler adds a handful of headers, so the scans
 * cost less than any index would.
 */
#include <string.h>
#include <strings.h>

#include "headlines.h"

static int in(const char *name, const char *const *set)
{
	for (; *set; set++)
		if (strcasecmp(name, *set) == 0)
			return 1;
	return 0;
}

/* RFC 9110 fields defined as one value, and common ones used that way. */
static const char *const single[] = {
	"Content-Type", "Content-Length", "Content-Encoding", "Content-Disposition",
	"Content-Location", "Content-Range", "Location", "ETag", "Last-Modified", "Expires",
	"Retry-After", "Age", "Access-Control-Allow-Origin", "Access-Control-Max-Age",
	"Referrer-Policy", "Strict-Transport-Security", "X-Content-Type-Options",
	"X-Frame-Options", NULL
};

static const char *const reserved[] = {
	"Status", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", NULL
};

int headlines_single(const char *name)
{
	return in(name, single);
}

int headlines_reserved(const char *name)
{
	return in(name, reserved);
}

long headlines_find(const char *head, size_t len, const char *name, size_t *line_len)
{
	size_t nlen = strlen(name), at = 0;

	while (at < len) {
		const char *eol = memmem(head + at, len - at, "\r\n", 2);
		size_t ll = eol ? (size_t)(eol - (head + at)) + 2 : len - at;

		if (ll > nlen && head[at + nlen] == ':' &&
		    strncasecmp(head + at, name, nlen) == 0) {
			*line_len = ll;
			return (long)at;
		}
		at += ll;
	}
	return -1;
}

size_t headlines_remove(char *head, size_t len, const char *name)
{
	size_t ll;
	long at;

	while ((at = headlines_find(head, len, name, &ll)) >= 0) {
		memmove(head + at, head + at + ll, len - (size_t)at - ll);
		len -= ll;
	}
	return len;
}
