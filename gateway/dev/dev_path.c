/*
 * dev_path.c - the development listener's path and Host checks (dev
 * profile only).  See dev_path.h.
 */
#include <string.h>
#include <strings.h>

#include "dev_path.h"

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int dev_path_decode(const char *uri, char *out)
{
	for (; *uri != '\0' && *uri != '?'; uri++) {
		if (*uri == '%') {
			int hi = hex_value(uri[1]);
			int lo = hi < 0 ? -1 : hex_value(uri[2]);

			if (lo < 0 || (hi | lo) == 0)
				return -1;
			*out++ = (char)(hi << 4 | lo);
			uri += 2;
		} else {
			*out++ = *uri;
		}
	}
	*out = '\0';
	return 0;
}

int dev_path_normalize(char *p)
{
	const char *rd = p;
	char *wr = p;

	if (p[0] != '/')
		return -1;
	while (*rd != '\0') {
		const char *seg = rd + 1, *end = strchrnul(seg, '/');
		size_t n = (size_t)(end - seg);

		if (n == 0 || (n == 1 && seg[0] == '.')) {
			if (*end == '\0')
				*wr++ = '/';
		} else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			if (wr == p)
				return -1;
			while (wr > p && *--wr != '/')
				;
			if (*end == '\0')
				*wr++ = '/';
		} else {
			*wr++ = '/';
			memmove(wr, seg, n);
			wr += n;
		}
		rd = end;
	}
	if (wr == p)
		*wr++ = '/';
	*wr = '\0';
	return 0;
}

/*
 * The listener is on loopback, but a page the developer's browser opened
 * elsewhere can point a name of its own at 127.0.0.1 (DNS rebinding) and
 * then read /_sluice/ as same-origin.  Its requests carry that name in
 * Host: only loopback names are served (no Host, an HTTP/1.0 tool's
 * request, is).  The port is not looked at.
 */
int dev_path_loopback_host(const char *host)
{
	static const char *const names[] = { "localhost", "[::1]", NULL };
	size_t n;

	if (!host)
		return 1;
	n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
	for (int i = 0; names[i]; i++)
		if (n == strlen(names[i]) && strncasecmp(host, names[i], n) == 0)
			return 1;
	if (n > 4 && strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") >= n)
		return 1;
	return n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0;
}
