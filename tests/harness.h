/*
 * harness.h - starting the real programs for integration suites.
 *
 * Every process a test starts lives in a private folder under /tmp, on
 * private sockets and loopback ports, and is stopped (and its folder
 * removed) by the matching stop call, which tests register so that it
 * runs even when an assertion fails.  Binaries come from BUILD_DIR
 * (build/prod by default), set by the Makefile.
 */
#ifndef SLUICE_TEST_HARNESS_H
#define SLUICE_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct sluice_proc {
	pid_t pid;
	char dir[128];		/* private folder: config, socket, log */
	char sock[192];		/* dir/sluice.sock */
	char conf[192];		/* dir/sluice.conf */
	char log[192];		/* dir/error.log */
};

/*
 * Write dir/sluice.conf: a preamble with `listen` on dir/sluice.sock
 * (mode 0666) and `error_log` on dir/error.log, then `body` (more
 * settings, usually `modules` and `pm`).  Start BUILD_DIR/sluice -c on it
 * and wait (up to 5 s) until the socket accepts connections.  Returns 0,
 * or -1 when sluice exited or never listened (its log is then printed to
 * stderr for the test output).
 */
int harness_sluice_start(struct sluice_proc *sp, const char *body);

/* SIGTERM, wait up to 5 s, SIGKILL if needed, remove the folder. */
void harness_sluice_stop(struct sluice_proc *sp);

/* The whole error log so far, malloc'ed and NUL-terminated ("" if none). */
char *harness_sluice_log(const struct sluice_proc *sp);

/* Wait up to `ms` for `needle` to appear in the error log; 0 if it did. */
int harness_log_wait(const struct sluice_proc *sp, const char *needle, int ms);

struct nginx_proc {
	pid_t pid;
	int port;		/* loopback port nginx listens on */
	char dir[128];		/* private prefix: conf, logs, temp paths */
};

/*
 * Start the real nginx (/usr/sbin/nginx) in the foreground, with a free
 * loopback port chosen by the harness, a private prefix and error log,
 * and `locations` pasted into its one server block (the text may use
 * `%SOCK%`, replaced by `upstream_sock`).  Waits until the port accepts.
 */
int harness_nginx_start(struct nginx_proc *np, const char *upstream_sock,
			const char *locations);
void harness_nginx_stop(struct nginx_proc *np);

/* Result of one HTTP request made with libcurl. */
struct http_reply {
	long status;
	char *headers;		/* raw header block, malloc'ed */
	char *body;		/* malloc'ed, NUL-terminated */
	size_t body_len;
};

/*
 * `method` `url` with optional request body and extra header lines
 * (NULL-terminated array of "Name: value").  Returns 0 when an HTTP
 * response was received (any status), -1 on transport failure.
 */
int http_request(const char *method, const char *url, const char *body,
		 size_t body_len, const char *const *headers, struct http_reply *out);
void http_reply_free(struct http_reply *r);

/* A free loopback TCP port (bound to 127.0.0.1:0 and released). */
int harness_free_port(void);

#endif
