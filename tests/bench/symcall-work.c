/*
 * symcall-work.c - the uWSGI peer of the bench's workloads: a request
 * handler for uWSGI's symcall plugin (modifier1 18), the way uWSGI runs
 * plain C.  It does what tests/bench/work.c does for sluice:
 *
 *	/hello		the hello line (also the 100-header workload)
 *	/body		reads the request body to its end, answers its size
 *	/resp/N		answers N bytes of 'x'
 *
 *	uwsgi --plugin symcall --dlopen symcall-work.so --symcall bench_work ...
 *
 * The few functions of uWSGI's API it calls are declared here rather
 * than taken from `uwsgi --dot-h`, whose header drags in the build
 * options of the uwsgi binary (OpenSSL, libxml2, yajl, ...): the request
 * is an opaque pointer to this file, and the symbols are resolved
 * against the uwsgi binary when it loads the library.  uWSGI declares
 * the names and values it only reads as `char *`; they are declared
 * `const char *` here, which is the same call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct wsgi_request;

int uwsgi_parse_vars(struct wsgi_request *);
char *uwsgi_get_var(struct wsgi_request *, const char *, uint16_t, uint16_t *);
int uwsgi_response_prepare_headers(struct wsgi_request *, const char *, uint16_t);
int uwsgi_response_add_header(struct wsgi_request *, const char *, uint16_t, const char *,
			      uint16_t);
int uwsgi_response_write_body_do(struct wsgi_request *, const char *, size_t);
char *uwsgi_request_body_read(struct wsgi_request *, ssize_t, ssize_t *);

int bench_work(struct wsgi_request *wsgi_req);

#define CHUNK 65536
#define UWSGI_OK 0

static char block[CHUNK];

static int head(struct wsgi_request *r, const char *type)
{
	if (uwsgi_response_prepare_headers(r, "200 OK", 6))
		return -1;
	return uwsgi_response_add_header(r, "Content-Type", 12, type, (uint16_t)strlen(type));
}

static int body(struct wsgi_request *r)
{
	long long total = 0;
	ssize_t n = 0;
	char line[64];

	/* At the end of the body uWSGI returns an empty string and leaves
	 * the length as it was: it is cleared before each call. */
	for (;;) {
		n = 0;
		if (uwsgi_request_body_read(r, CHUNK, &n) == NULL)
			return -1;
		if (n <= 0)
			break;
		total += n;
	}
	if (head(r, "text/plain"))
		return -1;
	n = snprintf(line, sizeof(line), "read %lld bytes\n", total);
	return uwsgi_response_write_body_do(r, line, (size_t)n);
}

static int resp(struct wsgi_request *r, long long left)
{
	if (block[0] != 'x')
		memset(block, 'x', sizeof(block));
	if (head(r, "application/octet-stream"))
		return -1;
	while (left > 0) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;

		if (uwsgi_response_write_body_do(r, block, n))
			return -1;
		left -= (long long)n;
	}
	return 0;
}

int bench_work(struct wsgi_request *wsgi_req)
{
	static const char hello[] = "Hello from sluice!\n";
	uint16_t len = 0;
	char *uri;

	/*
	 * A request that came in uwsgi's own protocol has its variables
	 * parsed already, and parsing them again does not return; one from
	 * an --http-socket does not (uWSGI's Symcall page parses first).
	 */
	uri = uwsgi_get_var(wsgi_req, "PATH_INFO", 9, &len);
	if (uri == NULL && uwsgi_parse_vars(wsgi_req) == 0)
		uri = uwsgi_get_var(wsgi_req, "PATH_INFO", 9, &len);

	if (uri && len == 5 && memcmp(uri, "/body", 5) == 0)
		body(wsgi_req);
	else if (uri && len > 6 && memcmp(uri, "/resp/", 6) == 0)
		resp(wsgi_req, strtoll(uri + 6, NULL, 10));
	else if (head(wsgi_req, "text/plain; charset=utf-8") == 0)
		uwsgi_response_write_body_do(wsgi_req, hello, sizeof(hello) - 1);
	return UWSGI_OK;
}
