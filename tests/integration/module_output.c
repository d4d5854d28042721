/*
 * module_output.c - what a module writes to stdout and stderr lands in
 * the error log, escaped, with the worker and the request, rate-limited,
 * and a worker never waits for it, even with the master stopped.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "harness.h"
#include "logscan.h"

#define PARAMS	"/etc/nginx/fastcgi_params"

static struct sluice_proc sp;
static struct nginx_proc np;
static int stopped;		/* the master is SIGSTOPped */

static void setup(void)
{
	char chatty[PATH_MAX], body[8192];

	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
	cr_assert_not_null(realpath(BUILD_DIR "/fixtures/chatty.so", chatty));
	snprintf(body, sizeof(body), "modules = ( { path = \"%s\"; } );\n"
		 "pm = { max_children = 1; };\n", chatty);
	cr_assert_eq(harness_sluice_start(&sp, body), 0);
	cr_assert_eq(harness_nginx_start(&np, sp.sock,
					 "location / {\n  include " PARAMS ";\n"
					 "  fastcgi_pass unix:%SOCK%;\n}\n"), 0);
}

static void teardown(void)
{
	if (stopped)
		kill(sp.pid, SIGCONT);
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
}

static void get(const char *path, const char *id, struct http_reply *r)
{
	char url[256], h[128];
	const char *const headers[] = { h, NULL };

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", np.port, path);
	snprintf(h, sizeof(h), "X-Request-Id: %s", id);
	cr_assert_eq(http_request("GET", url, NULL, 0, headers, r), 0, "GET %s", path);
}

Test(module_output, stdout_and_stderr_land_in_the_error_log_with_worker_and_request,
     .init = setup, .fini = teardown)
{
	struct http_reply r;
	char *line;

	get("/say", "out-test-1", &r);
	cr_assert_eq(r.status, 200);
	http_reply_free(&r);
	line = logscan_wait(&sp, "stdout, request out-test-1: hello from stdout", NULL, 3000);
	cr_assert_not_null(line, "no stdout line:\n%s", logscan_tail(&sp, 2000));
	cr_expect_not_null(strstr(line, "[notice] master: worker "), "%s", line);
	free(line);
	line = logscan_wait(&sp, "stderr, request out-test-1: bad\\x01byte on stderr", NULL, 3000);
	cr_assert_not_null(line, "no escaped stderr line:\n%s", logscan_tail(&sp, 2000));
	cr_expect_not_null(strstr(line, "[warning] master: worker "), "%s", line);
	free(line);
}

/*
 * With the master stopped, nobody reads the pipes: a module that writes
 * far more than a pipe holds must still answer at once (its writes fail,
 * they do not wait).  Once the master runs again, what it reads is
 * rate-limited, and the drop is counted.
 */
Test(module_output, a_flood_never_blocks_the_worker_and_is_rate_limited, .init = setup,
     .fini = teardown)
{
	struct http_reply r;
	char *line, *log;
	long start;
	int written, logged;

	cr_assert_eq(kill(sp.pid, SIGSTOP), 0);
	stopped = 1;
	start = harness_now_ms();
	get("/flood", "flood-1", &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_lt(harness_now_ms() - start, 2000, "the worker waited for its output");
	cr_assert_eq(sscanf(r.body, "flooded %d", &written), 1, "%s", r.body);
	cr_expect_lt(written, 20000, "every write succeeded: the pipe is not non-blocking?");
	http_reply_free(&r);
	cr_assert_eq(kill(sp.pid, SIGCONT), 0);
	stopped = 0;

	line = logscan_wait(&sp, "dropping the rest of this second", NULL, 4000);
	cr_assert_not_null(line, "no line counts the dropped output:\n%s", logscan_tail(&sp, 2000));
	free(line);
	log = harness_sluice_log(&sp);
	logged = logscan_count(log, "stderr, request flood-1: flood line", NULL);
	free(log);
	cr_expect(logged >= 100 && logged <= 300, "%d flood lines logged", logged);
	/* The count comes with the worker's next output. */
	harness_sleep_ms(1100);
	get("/say", "after-flood", &r);
	http_reply_free(&r);
	line = logscan_wait(&sp, "lines of module output dropped (more than 100 a second)",
			    NULL, 3000);
	cr_expect_not_null(line, "the drop was never counted:\n%s", logscan_tail(&sp, 2000));
	free(line);
}
