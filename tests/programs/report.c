/*
 * report.c - an unchanged libfcgi program, as the supervised-program
 * suite runs it: it accepts on descriptor 0 (FCGI_LISTENSOCK_FILENO)
 * with fcgiapp.h's FCGX_Accept_r, as a program started by spawn-fcgi or
 * mod_fcgid does, and reports what it was started with.
 *
 *	GET /?NAME&NAME...	pid, uid, gid, cwd, then NAME=value (or
 *				NAME=-) for each environment variable named
 *	POST /			the body's length, read with FCGX_GetStr
 *	GET /grow?MB		MB MiB more of resident memory, kept
 *
 * Built against Debian's libfcgi-dev; nothing in it knows of sluice.
 */
#include <fcgiapp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void report(FCGX_Request *r, const char *query)
{
	char cwd[4096], name[256];

	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "?");
	FCGX_FPrintF(r->out, "pid %d\nuid %d\ngid %d\ncwd %s\n", (int)getpid(), (int)getuid(),
		     (int)getgid(), cwd);
	while (query && *query) {
		size_t n = strcspn(query, "&");
		const char *v;

		if (n < sizeof(name)) {
			memcpy(name, query, n);
			name[n] = '\0';
			v = getenv(name);
			FCGX_FPrintF(r->out, "%s=%s\n", name, v ? v : "-");
		}
		query += n + (query[n] == '&');
	}
}

static void take_body(FCGX_Request *r)
{
	char buf[16384];
	long total = 0;
	int n;

	while ((n = FCGX_GetStr(buf, sizeof(buf), r->in)) > 0)
		total += n;
	FCGX_FPrintF(r->out, "got %ld bytes\n", total);
}

/* Memory written to, so that it is resident, and kept for good. */
static char *volatile kept[64];
static int nkept;

static void grow(FCGX_Request *r, const char *query)
{
	long mb = query ? atol(query) : 0;
	char *p = mb > 0 && mb <= 1024 && nkept < 64 ? malloc((size_t)mb << 20) : NULL;

	if (p) {
		memset(p, 1, (size_t)mb << 20);
		kept[nkept++] = p;
	}
	FCGX_FPrintF(r->out, "grew %ld MiB\n", p ? mb : 0L);
}

int main(void)
{
	FCGX_Request r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		const char *method = FCGX_GetParam("REQUEST_METHOD", r.envp);
		const char *uri = FCGX_GetParam("DOCUMENT_URI", r.envp);
		const char *query = FCGX_GetParam("QUERY_STRING", r.envp);

		FCGX_FPrintF(r.out, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n");
		if (method && strcmp(method, "POST") == 0)
			take_body(&r);
		else if (uri && strcmp(uri, "/grow") == 0)
			grow(&r, query);
		else
			report(&r, query);
	}
	return 0;
}
