/*
 * devpath.c - fuzz the development listener's path handling
 * (gateway/dev_path.c): a request target decoded and normalized as the
 * listener does before it relays the request, and a Host checked.
 *
 * Input: a request target, then optionally a NUL and a Host value.
 * Whatever the input: a path that passes starts with '/', has no empty,
 * "." or ".." segment, no NUL, is no longer than the target, and is
 * left as it is by a second normalization; a Host taken for loopback
 * names loopback.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dev/dev_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_normal(const char *p, size_t uri_len)
{
	size_t n = strlen(p);
	char *again;

	if (p[0] != '/' || n > uri_len + 1 || strstr(p, "//") || strstr(p, "/./") ||
	    strstr(p, "/../") || (n >= 2 && strcmp(p + n - 2, "/.") == 0) ||
	    (n >= 3 && strcmp(p + n - 3, "/..") == 0))
		abort();
	again = strdup(p);
	if (!again || dev_path_normalize(again) < 0 || strcmp(again, p) != 0)
		abort();
	free(again);
}

static void check_host(const char *host)
{
	size_t n;

	if (!dev_path_loopback_host(host))
		return;
	n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
	if (strncasecmp(host, "localhost", n) != 0 && strncmp(host, "[::1]", n) != 0 &&
	    strncmp(host, "127.", 4) != 0 &&
	    (n < 10 || strncasecmp(host + n - 10, ".localhost", 10) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *uri = strndup((const char *)data, size);
	size_t ulen;
	char *out;

	if (!uri)
		return 0;
	ulen = strlen(uri);
	out = malloc(ulen + 1);
	if (!out)
		abort();
	if (dev_path_decode(uri, out) == 0 && dev_path_normalize(out) == 0)
		check_normal(out, ulen);
	free(out);
	if (ulen + 1 < size) {
		char *host = strndup((const char *)data + ulen + 1, size - ulen - 1);

		if (host)
			check_host(host);
		free(host);
	}
	free(uri);
	return 0;
}
