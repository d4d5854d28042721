/*
 * log_reopen.c - log rotation with the real logrotate, under load.
 *
 * logrotate renames the logs, creates new ones and sends SIGUSR1 to the
 * master (postrotate), as conf/logrotate/sluice does; the master opens
 * the files again and passes them to its workers.  What is asserted is
 * what an operator counts: every request served is exactly one line
 * across the rotated access logs, and after the rotations the lines go
 * to the new files.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "harness.h"
#include "load.h"
#include "logscan.h"

#define ROTATIONS	5

static struct sluice_proc sp;
static struct nginx_proc np;

static void setup(void)
{
	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
}

static void teardown(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
}

static const char locations[] = HARNESS_KEEPALIVE_LOCATION;

static void start(void)
{
	char whoami[PATH_MAX], body[8192];

	cr_assert_not_null(realpath(BUILD_DIR "/fixtures/whoami.so", whoami));
	snprintf(body, sizeof(body),
		 "modules = ( { path = \"%s\"; } );\n"
		 "access_log = \"access.log\";\n"
		 "slowlog = \"slow.log\";\n"
		 "pm = { max_children = 4; };\n", whoami);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
	cr_assert_eq(harness_nginx_start(&np, sp.sock, locations), 0, "nginx did not start");
}

/* The test's logrotate config: conf/logrotate/sluice's rules, on our folder and pid. */
static void write_logrotate_conf(const char *path)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fprintf(f, "%s/error.log %s/access.log %s/slow.log {\n"
		"  rotate 20\n  missingok\n  create 0640\n  sharedscripts\n"
		"  postrotate\n    /bin/kill -USR1 %d\n  endscript\n}\n",
		sp.dir, sp.dir, sp.dir, (int)sp.pid);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0644), 0);
}

static void run_logrotate(const char *conf, const char *state)
{
	char cmd[1024];
	int rc;

	snprintf(cmd, sizeof(cmd), "/usr/sbin/logrotate -f -s %s %s 2>&1", state, conf);
	rc = system(cmd);
	cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s failed (wait status %d)", cmd, rc);
}

static int lines_in(const char *path)
{
	char *text = harness_read_file(path);
	int n = 0;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

/* Lines in access.log and access.log.1 .. .ROTATIONS; each file's count in `per`. */
static int count_all(int per[ROTATIONS + 1])
{
	char path[256];
	int total = 0;

	for (int i = 0; i <= ROTATIONS; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s/access.log", sp.dir);
		else
			snprintf(path, sizeof(path), "%s/access.log.%d", sp.dir, i);
		per[i] = lines_in(path);
		total += per[i];
	}
	return total;
}

Test(log_reopen, five_logrotate_runs_under_load_lose_and_repeat_no_line, .init = setup,
     .fini = teardown, .timeout = 90)
{
	struct load_opts o = { .method = "GET", .clients = 16, .duration_ms = 20000,
			       .max_requests = 400000, .timeout_ms = 5000 };
	char conf[256], state[256], summary[512], path[256], u[256], *line;
	int per[ROTATIONS + 1], total = 0;
	struct load l;
	long served;

	start();
	if (access("/usr/sbin/logrotate", X_OK) != 0)
		cr_skip_test("logrotate is not installed (make deps-test installs it)");
	snprintf(conf, sizeof(conf), "%s/logrotate.conf", sp.dir);
	snprintf(state, sizeof(state), "%s/logrotate.state", sp.dir);
	write_logrotate_conf(conf);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", np.port);
	o.url = u;
	cr_assert_eq(load_start(&l, &o), 0);
	for (int i = 0; i < ROTATIONS; i++) {
		harness_sleep_ms(600);
		run_logrotate(conf, state);
	}
	/* Long enough for every worker to have had the last new file. */
	harness_sleep_ms(600);
	load_stop(&l);
	served = load_with_status(&l, 200);
	cr_log_info("%s", load_summary(&l, summary, sizeof(summary)));
	cr_assert_eq(load_failed(&l), 0, "%s", summary);
	for (long until = harness_now_ms() + 3000; harness_now_ms() < until; harness_sleep_ms(50))
		if ((total = count_all(per)) >= served)
			break;
	cr_log_info("%ld requests served; access log lines: %d now, %d %d %d %d %d rotated",
		    served, per[0], per[1], per[2], per[3], per[4], per[5]);
	cr_assert_eq(total, served, "%d lines across the rotated access logs for %ld requests",
		     total, served);
	for (int i = 0; i <= ROTATIONS; i++)
		cr_expect_gt(per[i], 0, "access log %d of the rotations holds no line: "
			     "a reopen did not reach the workers", i);

	/* The error log was rotated too, and the master's line is in the new file. */
	snprintf(path, sizeof(path), "%s/error.log.%d", sp.dir, ROTATIONS);
	cr_expect_eq(access(path, F_OK), 0, "%s is missing", path);
	line = logscan_wait(&sp, "SIGUSR1 received: logs reopened", NULL, 2000);
	cr_expect_not_null(line, "the current error log has no reopen line:\n%s",
			   logscan_tail(&sp, 2000));
	free(line);
	load_free(&l);
}

/* A worker's own error-log lines follow the new file, not only the master's. */
Test(log_reopen, workers_write_their_error_lines_to_the_new_file, .init = setup,
     .fini = teardown)
{
	char moved[256], *line, *old;
	struct http_reply r;
	char u[256];

	start();
	snprintf(moved, sizeof(moved), "%s/error.log.old", sp.dir);
	cr_assert_eq(rename(sp.log, moved), 0);
	cr_assert_eq(kill(sp.pid, SIGUSR1), 0);
	line = logscan_wait(&sp, "logs reopened", NULL, 3000);
	cr_assert_not_null(line, "no reopen line in the new error log");
	free(line);
	harness_sleep_ms(200);
	/* A bad incoming request id: the worker serving it logs it at info. */
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", np.port);
	for (int i = 0; i < 8; i++) {
		const char *const h[] = { "X-Request-Id: bad id", NULL };

		cr_assert_eq(http_request("GET", u, NULL, 0, h, &r), 0);
		http_reply_free(&r);
	}
	line = logscan_wait(&sp, "worker", "is not a usable request id", 3000);
	cr_assert_not_null(line, "the workers' lines did not reach the new error log:\n%s",
			   logscan_tail(&sp, 2000));
	free(line);
	old = harness_read_file(moved);
	cr_expect_null(strstr(old, "is not a usable request id"),
		       "a worker still wrote to the renamed file");
	free(old);
}
