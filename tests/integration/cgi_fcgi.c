/*
 * cgi_fcgi.c - sluice answering a FastCGI client it was not written
 * with: fcgi2's `cgi-fcgi -bind -connect SOCKET`, which sends its own
 * environment as the request's parameters and its stdin as the body,
 * and prints the CGI response (Status, headers, blank line, body).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "check.h"
#include "harness.h"

#define CGI_FCGI "/usr/bin/cgi-fcgi"
#define TIMEOUT_MS 10000

static struct sluice_proc sp;

static void start(void)
{
	static const char *const mods[][2] = {
		{ "/", "apps/hello.so" }, { "/echo", "apps/echo.so" },
	};
	char conf[4096], rel[256], path[4096];
	size_t n;
	size_t i;

	n = (size_t)snprintf(conf, sizeof(conf), "pm = { max_children = 1; };\nmodules = (\n");
	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(rel, sizeof(rel), "%s/%s", BUILD_DIR, mods[i][1]);
		cr_assert_not_null(realpath(rel, path), "%s is not built", rel);
		n += (size_t)snprintf(conf + n, sizeof(conf) - n,
				      "  { path = \"%s\"; mount = \"%s\"; }%s\n", path,
				      mods[i][0], i + 1 < sizeof(mods) / sizeof(mods[0]) ? "," : "");
	}
	snprintf(conf + n, sizeof(conf) - n, ");\n");
	cr_assert_eq(harness_sluice_start(&sp, conf), 0, "sluice did not start");
}

static void stop(void)
{
	harness_sluice_stop(&sp);
}

struct cgi_reply {
	char *out;		/* what cgi-fcgi printed, NUL-terminated */
	size_t len;
	int status;		/* its wait status */
};

/* Feed `body` to fd `in` and gather fd `out` until EOF, both non-blocking
 * through poll so that neither side can wait on the other. */
static void pump(int in, const char *body, size_t body_len, int out,
		 struct cgi_reply *r)
{
	struct pollfd p[2] = { { out, POLLIN, 0 }, { in, POLLOUT, 0 } };
	size_t sent = 0, cap = 0;
	ssize_t n;
	char buf[65536];

	if (body_len == 0) {
		close(in);
		p[1].fd = -1;
	}
	while (p[0].fd >= 0) {
		cr_assert_gt(poll(p, 2, TIMEOUT_MS), 0, "cgi-fcgi timed out");
		if (p[1].fd >= 0 && p[1].revents) {
			n = write(in, body + sent, body_len - sent);
			cr_assert(n > 0 || errno == EAGAIN, "writing to cgi-fcgi");
			sent += n > 0 ? (size_t)n : 0;
			if (sent == body_len) {
				close(in);
				p[1].fd = -1;
			}
		}
		if (p[0].revents) {
			n = read(out, buf, sizeof(buf));
			if (n <= 0) {
				close(out);
				p[0].fd = -1;
				break;
			}
			if (r->len + (size_t)n + 1 > cap) {
				cap = (r->len + (size_t)n + 1) * 2;
				r->out = realloc(r->out, cap);
				cr_assert_not_null(r->out);
			}
			memcpy(r->out + r->len, buf, (size_t)n);
			r->len += (size_t)n;
			r->out[r->len] = '\0';
		}
	}
	if (p[1].fd >= 0)
		close(in);
}

/*
 * Run cgi-fcgi against sluice's socket with exactly the environment
 * `env` (it becomes the FastCGI parameters), `body` on its stdin.
 */
static void cgi_fcgi(const char *const env[], const char *body, size_t body_len,
		     struct cgi_reply *r)
{
	char *envp[32];
	size_t i;

	int to_child[2], from_child[2];
	char bin[] = CGI_FCGI, bind[] = "-bind", conn[] = "-connect";
	char *argv[] = { bin, bind, conn, sp.sock, NULL };
	pid_t pid;

	memset(r, 0, sizeof(*r));
	for (i = 0; env[i] != NULL; i++) {
		cr_assert_lt(i, sizeof(envp) / sizeof(envp[0]) - 1);
		envp[i] = strdup(env[i]);
	}
	envp[i] = NULL;
	cr_assert_eq(access(CGI_FCGI, X_OK), 0, CGI_FCGI " is missing (libfcgi-bin)");
	cr_assert_eq(pipe2(to_child, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(from_child, O_CLOEXEC), 0);
	signal(SIGPIPE, SIG_IGN);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	fcntl(to_child[1], F_SETFL, O_NONBLOCK);
	pump(to_child[1], body, body_len, from_child[0], r);
	cr_assert_eq(waitpid(pid, &r->status, 0), pid);
	if (r->out == NULL)
		r->out = calloc(1, 1);
	for (i = 0; envp[i] != NULL; i++)
		free(envp[i]);
}

/* The body: what follows the blank line that ends the CGI head. */
static const char *cgi_body(const struct cgi_reply *r)
{
	const char *p = strstr(r->out, "\r\n\r\n");

	cr_assert_not_null(p, "no CGI head in:\n%s", r->out);
	return p + 4;
}

/* The status from the CGI head; a head without Status: means 200. */
static int cgi_status(const struct cgi_reply *r)
{
	const char *p = strstr(r->out, "Status: ");
	const char *end = strstr(r->out, "\r\n\r\n");

	if (p == NULL || (end != NULL && p > end))
		return 200;
	return atoi(p + strlen("Status: "));
}

Test(cgi_fcgi, hello, .init = start, .fini = stop)
{
	const char *env[] = {
		"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1",
		"REQUEST_METHOD=GET", "SCRIPT_NAME=/", "REQUEST_URI=/",
		"DOCUMENT_URI=/", "QUERY_STRING=", "REMOTE_ADDR=127.0.0.1",
		"SERVER_NAME=localhost", "SERVER_PORT=80", "HTTP_HOST=localhost",
		NULL
	};
	struct cgi_reply r;

	cgi_fcgi(env, NULL, 0, &r);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		  "cgi-fcgi failed: %s", r.out);
	cr_assert_eq(cgi_status(&r), 200, "%s", r.out);
	assert_has(r.out, "Content-Type: text/plain");
	cr_assert_str_eq(cgi_body(&r), "Hello from sluice!\n");
	free(r.out);
}

Test(cgi_fcgi, echo_get_with_query_and_header, .init = start, .fini = stop)
{
	const char *env[] = {
		"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1",
		"REQUEST_METHOD=GET", "SCRIPT_NAME=/echo/x", "REQUEST_URI=/echo/x?k=v",
		"DOCUMENT_URI=/echo/x", "QUERY_STRING=k=v", "REMOTE_ADDR=127.0.0.1",
		"HTTP_X_FROM_CGI_FCGI=yes", NULL
	};
	struct cgi_reply r;
	const char *body;

	cgi_fcgi(env, NULL, 0, &r);
	cr_assert_eq(cgi_status(&r), 200, "%s", r.out);
	assert_has(r.out, "Content-Type: application/json");
	body = cgi_body(&r);
	assert_has(body, "\"method\":\"GET\"");
	assert_has(body, "\"path\":\"/echo/x\"");
	assert_has(body, "\"query\":\"k=v\"");
	assert_has(body, "\"x-from-cgi-fcgi\":\"yes\"");
	assert_has(body, "\"REMOTE_ADDR\":\"127.0.0.1\"");
	assert_has(body, "\"body\":\"\"}\n");
	free(r.out);
}

/*
 * 300 KB through stdin: cgi-fcgi splits it into many STDIN records, and
 * the body must come back whole and in order.
 */
Test(cgi_fcgi, echo_post_body_from_stdin, .init = start, .fini = stop)
{
	size_t len = 300000;
	char *body = malloc(len + 1);
	char clen[64];
	const char *env[] = {
		"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1",
		"REQUEST_METHOD=POST", "SCRIPT_NAME=/echo", "REQUEST_URI=/echo",
		"DOCUMENT_URI=/echo", "QUERY_STRING=", "CONTENT_TYPE=text/plain",
		clen, NULL
	};
	struct cgi_reply r;
	const char *got;
	size_t i;

	cr_assert_not_null(body);
	for (i = 0; i < len; i++)
		body[i] = (char)('a' + (i * 11) % 26);
	body[len] = '\0';
	snprintf(clen, sizeof(clen), "CONTENT_LENGTH=%zu", len);
	cgi_fcgi(env, body, len, &r);
	cr_assert_eq(cgi_status(&r), 200, "%.500s", r.out);
	got = cgi_body(&r);
	assert_has(got, "\"method\":\"POST\"");
	assert_has(got, "\"content-type\":\"text/plain\"");
	got = strstr(got, "\"body\":\"");
	cr_assert_not_null(got);
	got += strlen("\"body\":\"");
	cr_assert_eq(strlen(got), len + 3, "body of %zu bytes came back as %zu",
		     len, strlen(got) >= 3 ? strlen(got) - 3 : 0);
	cr_assert_eq(strncmp(got, body, len), 0, "the body came back altered");
	cr_assert_str_eq(got + len, "\"}\n");
	free(body);
	free(r.out);
}
