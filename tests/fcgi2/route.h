/*
 * route.h - what the fcgi2 test programs share that does not touch
 * FastCGI: which case a request asks for, and the numbers in its query.
 *
 * The programs (stdio_app.c, fcgx_app.c) are written against fcgi2's
 * public headers only, so that each compiles unchanged against Debian's
 * libfcgi and against sluice-fcgi.  What they do is chosen by the last
 * segment of the request's path, so that the same binary answers under
 * nginx ("/echo"), under Apache's mod_fcgid ("/app.fcgi/echo", from
 * PATH_INFO) and as a CGI program:
 *
 *	echo	the request's method, query and length, its X-* headers in
 *		the order received, then the body (read whole first), then
 *		its size
 *	lines	the body line by line (fgets / FCGX_GetLine), each as "> "
 *	env	?names=A,B: each parameter's value, or "A unset"
 *	stderr	?n=K: K lines to the error stream, one line to the output
 *	exit	?code=N: N as the request's exit status (END_REQUEST's
 *		appStatus), and a line saying so
 *	big	?n=N: N bytes of big.c's pattern ('a' + (i % 65536) % 26)
 *	sleep	?ms=N: answer after N milliseconds
 *	pid	the process's pid (not comparable between builds)
 *	quit	?code=N: answer, finish the request, exit(N)
 *	crash	abort() before answering
 *	other	404
 *
 * Formats stay within what libfcgi's own printf knows: it has no %zu
 * (it prints "body " and stops), so sizes go out as unsigned long.
 */
#ifndef SLUICE_FCGI2_ROUTE_H
#define SLUICE_FCGI2_ROUTE_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUTE_BUF	8192

/* The response head every case but 404 starts with. */
#define ROUTE_OK	"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"
#define ROUTE_NOT_FOUND	"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno route\n"

/*
 * The last segment of the first non-empty of PATH_INFO, DOCUMENT_URI
 * and SCRIPT_NAME (as given by `get`), or "" when there is none.
 */
static inline const char *route_name(const char *path_info, const char *document_uri,
				     const char *script_name)
{
	const char *p = path_info && *path_info ? path_info :
			document_uri && *document_uri ? document_uri : script_name;
	const char *slash;

	if (!p)
		return "";
	slash = strrchr(p, '/');
	return slash ? slash + 1 : p;
}

/* The number after `name=` in query string `qs`, or `dflt`. */
static inline long route_query_long(const char *qs, const char *name, long dflt)
{
	size_t n = strlen(name);
	const char *p = qs;

	while (p && *p) {
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return strtol(p + n + 1, NULL, 10);
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return dflt;
}

/*
 * The next name of a comma-separated list after `names=` in `qs`, copied
 * into `out` (at most `len` - 1 bytes); `*pos` keeps the place between
 * calls (start with NULL).  0 when there are no more names.
 */
static inline int route_next_name(const char *qs, const char **pos, char *out, size_t len)
{
	const char *p = *pos, *end;
	size_t n;

	if (!p) {
		p = qs ? strstr(qs, "names=") : NULL;
		if (!p)
			return 0;
		p += 6;
	}
	if (!*p || *p == '&')
		return 0;
	end = p + strcspn(p, ",&");
	n = (size_t)(end - p) < len - 1 ? (size_t)(end - p) : len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	*pos = *end == ',' ? end + 1 : end;
	return 1;
}

/* Sleep `ms` milliseconds (nanosleep: the programs build as strict C11). */
static inline void route_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	if (ms <= 0)
		return;
	while (nanosleep(&ts, &ts) != 0)
		;
}

/*
 * A request body kept whole: the echo case reads all of it before it
 * answers, as most programs do, since nginx does not read a response
 * while it is still sending the body (a program that echoed as it read
 * would deadlock with it on a large body).  Allocation failure aborts.
 */
struct route_body {
	char *p;
	size_t len, cap;
};

static inline void route_body_add(struct route_body *b, const char *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

/* Byte `i` of big.c's pattern, the one harness_http_download checks. */
static inline char route_pattern(long long i)
{
	return (char)('a' + (i % 65536) % 26);
}

#endif
