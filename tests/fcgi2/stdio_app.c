/*
 * stdio_app.c - an fcgi2 program of the fcgi_stdio.h kind: the
 * FCGI_Accept loop, printf to the response, stdin read with getchar and
 * fread, stderr to the web server's error log, FCGI_SetExitStatus.
 *
 * Written against fcgi2's public headers only, so that it builds
 * unchanged against Debian's libfcgi and against sluice-fcgi; the
 * Makefile builds both, into BUILD/fcgi2/stdio_app-libfcgi and
 * stdio_app-sluice.  The cases it answers are listed in route.h.  Run
 * with a listening socket on fd 0 (spawn-fcgi, mod_fcgid, sluice's
 * pool) it serves FastCGI; run without one, it answers once as CGI.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcgi_stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "route.h"

extern char **environ;

/* The body, whole: the first byte with getchar, the rest with fread. */
static void read_body(struct route_body *b)
{
	static char buf[ROUTE_BUF];
	size_t n;
	int c = getchar();

	if (c == EOF)
		return;
	buf[0] = (char)c;
	route_body_add(b, buf, 1);
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		route_body_add(b, buf, n);
}

static void route_echo(void)
{
	const char *m = getenv("REQUEST_METHOD"), *q = getenv("QUERY_STRING"),
		   *cl = getenv("CONTENT_LENGTH");
	struct route_body body = { NULL, 0, 0 };
	char **e;

	read_body(&body);
	printf(ROUTE_OK);
	printf("method=%s\nquery=%s\ncontent_length=%s\n", m ? m : "", q ? q : "",
	       cl ? cl : "");
	for (e = environ; *e; e++)
		if (strncmp(*e, "HTTP_X_", 7) == 0)
			printf("%s\n", *e);
	printf("body:\n");
	if (body.len)
		fwrite(body.p, 1, body.len, stdout);
	printf("\nbody %lu bytes\n", (unsigned long)body.len);
	free(body.p);
}

static void route_lines(void)
{
	static char line[ROUTE_BUF];
	int count = 0;

	printf(ROUTE_OK);
	while (fgets(line, sizeof(line), stdin)) {
		fputs("> ", stdout);
		fputs(line, stdout);
		count++;
	}
	printf("\n%d lines, eof %d, error %d\n", count, feof(stdin) ? 1 : 0,
	       ferror(stdin) ? 1 : 0);
}

static void route_env(const char *qs)
{
	const char *pos = NULL;
	char name[256];

	printf(ROUTE_OK);
	while (route_next_name(qs, &pos, name, sizeof(name))) {
		const char *v = getenv(name);

		if (v)
			printf("%s=%s\n", name, v);
		else
			printf("%s unset\n", name);
	}
}

static void route_stderr(const char *qs)
{
	long i, n = route_query_long(qs, "n", 1);

	for (i = 0; i < n; i++)
		fprintf(stderr, "stdio_app: stderr line %ld of %ld\n", i + 1, n);
	fflush(stderr);
	printf(ROUTE_OK "wrote %ld lines to stderr\n", n);
}

static void route_big(const char *qs)
{
	static char buf[ROUTE_BUF];
	long long i, n = route_query_long(qs, "n", 0);
	size_t k = 0;

	printf(ROUTE_OK);
	for (i = 0; i < n; i++) {
		buf[k++] = route_pattern(i);
		if (k == sizeof(buf)) {
			fwrite(buf, 1, k, stdout);
			k = 0;
		}
	}
	fwrite(buf, 1, k, stdout);
}

/* One request; -1, or the code to exit with once it is finished. */
static int serve(void)
{
	const char *qs = getenv("QUERY_STRING");
	const char *r = route_name(getenv("PATH_INFO"), getenv("DOCUMENT_URI"),
				   getenv("SCRIPT_NAME"));

	if (strcmp(r, "echo") == 0)
		route_echo();
	else if (strcmp(r, "lines") == 0)
		route_lines();
	else if (strcmp(r, "env") == 0)
		route_env(qs);
	else if (strcmp(r, "stderr") == 0)
		route_stderr(qs);
	else if (strcmp(r, "exit") == 0) {
		FCGI_SetExitStatus((int)route_query_long(qs, "code", 0));
		printf(ROUTE_OK "exit status %ld\n", route_query_long(qs, "code", 0));
	} else if (strcmp(r, "big") == 0)
		route_big(qs);
	else if (strcmp(r, "sleep") == 0) {
		route_sleep_ms(route_query_long(qs, "ms", 0));
		printf(ROUTE_OK "slept\n");
	} else if (strcmp(r, "pid") == 0)
		printf(ROUTE_OK "%ld\n", (long)getpid());
	else if (strcmp(r, "quit") == 0) {
		printf(ROUTE_OK "quitting\n");
		return (int)route_query_long(qs, "code", 0);
	} else if (strcmp(r, "crash") == 0)
		abort();
	else
		printf(ROUTE_NOT_FOUND);
	return -1;
}

int main(void)
{
	while (FCGI_Accept() >= 0) {
		int code = serve();

		if (code >= 0) {
			FCGI_Finish();
			exit(code);
		}
	}
	return 0;
}
