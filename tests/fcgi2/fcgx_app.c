/*
 * fcgx_app.c - an fcgi2 program of the fcgiapp.h kind: FCGX_Init, one
 * FCGX_Request per thread, FCGX_Accept_r, FCGX_GetParam, FCGX_FPrintF,
 * FCGX_GetStr, FCGX_GetLine, FCGX_PutStr, FCGX_Finish_r.
 *
 *	fcgx_app [THREADS]
 *
 * With THREADS above 1 it serves as fcgi2's threaded.c example does:
 * that many threads, each with its own request, taking turns at
 * FCGX_Accept_r under one mutex.  Written against fcgi2's public headers
 * only, so that it builds unchanged against Debian's libfcgi and against
 * sluice-fcgi (BUILD/fcgi2/fcgx_app-libfcgi, fcgx_app-sluice).  The cases
 * it answers are listed in route.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "route.h"

#define MAX_THREADS	64

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *param(FCGX_Request *rq, const char *name)
{
	const char *v = FCGX_GetParam(name, rq->envp);

	return v ? v : "";
}

static void route_echo(FCGX_Request *rq)
{
	static __thread char buf[ROUTE_BUF];
	struct route_body body = { NULL, 0, 0 };
	char **e;
	int n;

	while ((n = FCGX_GetStr(buf, sizeof(buf), rq->in)) > 0)
		route_body_add(&body, buf, (size_t)n);
	FCGX_PutS(ROUTE_OK, rq->out);
	FCGX_FPrintF(rq->out, "method=%s\nquery=%s\ncontent_length=%s\n",
		     param(rq, "REQUEST_METHOD"), param(rq, "QUERY_STRING"),
		     param(rq, "CONTENT_LENGTH"));
	for (e = rq->envp; *e; e++)
		if (strncmp(*e, "HTTP_X_", 7) == 0)
			FCGX_FPrintF(rq->out, "%s\n", *e);
	FCGX_PutS("body:\n", rq->out);
	if (body.len)
		FCGX_PutStr(body.p, (int)body.len, rq->out);
	FCGX_FPrintF(rq->out, "\nbody %lu bytes\n", (unsigned long)body.len);
	free(body.p);
}

static void route_lines(FCGX_Request *rq)
{
	static __thread char line[ROUTE_BUF];
	int count = 0;

	FCGX_PutS(ROUTE_OK, rq->out);
	while (FCGX_GetLine(line, sizeof(line), rq->in)) {
		FCGX_PutS("> ", rq->out);
		FCGX_PutS(line, rq->out);
		count++;
	}
	FCGX_FPrintF(rq->out, "\n%d lines, eof %d, error %d\n", count,
		     FCGX_HasSeenEOF(rq->in) ? 1 : 0, FCGX_GetError(rq->in) ? 1 : 0);
}

static void route_env(FCGX_Request *rq, const char *qs)
{
	const char *pos = NULL;
	char name[256];

	FCGX_PutS(ROUTE_OK, rq->out);
	while (route_next_name(qs, &pos, name, sizeof(name))) {
		const char *v = FCGX_GetParam(name, rq->envp);

		if (v)
			FCGX_FPrintF(rq->out, "%s=%s\n", name, v);
		else
			FCGX_FPrintF(rq->out, "%s unset\n", name);
	}
}

static void route_stderr(FCGX_Request *rq, const char *qs)
{
	long i, n = route_query_long(qs, "n", 1);

	for (i = 0; i < n; i++)
		FCGX_FPrintF(rq->err, "fcgx_app: stderr line %ld of %ld\n", i + 1, n);
	FCGX_FFlush(rq->err);
	FCGX_FPrintF(rq->out, ROUTE_OK "wrote %ld lines to stderr\n", n);
}

static void route_big(FCGX_Request *rq, const char *qs)
{
	long long i, n = route_query_long(qs, "n", 0);

	FCGX_PutS(ROUTE_OK, rq->out);
	for (i = 0; i < n; i++)
		FCGX_PutChar(route_pattern(i), rq->out);
}

/* One request; -1, or the code to exit with once it is finished. */
static int serve(FCGX_Request *rq)
{
	const char *qs = param(rq, "QUERY_STRING");
	const char *r = route_name(FCGX_GetParam("PATH_INFO", rq->envp),
				   FCGX_GetParam("DOCUMENT_URI", rq->envp),
				   FCGX_GetParam("SCRIPT_NAME", rq->envp));

	if (strcmp(r, "echo") == 0)
		route_echo(rq);
	else if (strcmp(r, "lines") == 0)
		route_lines(rq);
	else if (strcmp(r, "env") == 0)
		route_env(rq, qs);
	else if (strcmp(r, "stderr") == 0)
		route_stderr(rq, qs);
	else if (strcmp(r, "exit") == 0) {
		FCGX_SetExitStatus((int)route_query_long(qs, "code", 0), rq->out);
		FCGX_FPrintF(rq->out, ROUTE_OK "exit status %ld\n",
			     route_query_long(qs, "code", 0));
	} else if (strcmp(r, "big") == 0)
		route_big(rq, qs);
	else if (strcmp(r, "sleep") == 0) {
		route_sleep_ms(route_query_long(qs, "ms", 0));
		FCGX_PutS(ROUTE_OK "slept\n", rq->out);
	} else if (strcmp(r, "pid") == 0)
		FCGX_FPrintF(rq->out, ROUTE_OK "%ld\n", (long)getpid());
	else if (strcmp(r, "quit") == 0) {
		FCGX_PutS(ROUTE_OK "quitting\n", rq->out);
		return (int)route_query_long(qs, "code", 0);
	} else if (strcmp(r, "crash") == 0)
		abort();
	else
		FCGX_PutS(ROUTE_NOT_FOUND, rq->out);
	return -1;
}

/* A thread's loop, as threaded.c's: accept under the lock, serve, finish. */
static void *loop(void *arg)
{
	FCGX_Request rq;

	(void)arg;
	if (FCGX_InitRequest(&rq, 0, 0) != 0)
		return NULL;
	for (;;) {
		int rc, code;

		pthread_mutex_lock(&accept_lock);
		rc = FCGX_Accept_r(&rq);
		pthread_mutex_unlock(&accept_lock);
		if (rc < 0)
			break;
		code = serve(&rq);
		FCGX_Finish_r(&rq);
		if (code >= 0)
			exit(code);
	}
	FCGX_Free(&rq, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	int i, n = argc > 1 ? atoi(argv[1]) : 1;

	if (n < 1 || n > MAX_THREADS) {
		fprintf(stderr, "fcgx_app: THREADS must be 1 to %d, not '%s'\n", MAX_THREADS,
			argv[1]);
		return 2;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "fcgx_app: FCGX_Init failed\n");
		return 1;
	}
	for (i = 1; i < n; i++)
		if (pthread_create(&th[i], NULL, loop, NULL) != 0)
			return 1;
	loop(NULL);
	for (i = 1; i < n; i++)
		pthread_join(th[i], NULL);
	return 0;
}
