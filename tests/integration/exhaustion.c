/*
 * exhaustion.c - a worker out of file descriptors.
 *
 * When accept fails with EMFILE the connection stays in the backlog and
 * the listening socket stays readable: a worker that simply tried again
 * would spin a core and flood the log.  sluice pauses accepting instead,
 * logs once a second at most, and serves again once descriptors free up.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "harness.h"

#define CONNS 80

static struct sluice_proc sp;

static void teardown(void)
{
	harness_sluice_stop(&sp);
}

/* The only child of the master: its pid. */
static pid_t the_worker(pid_t master)
{
	char cmd[96], line[32];
	FILE *p;
	pid_t pid = 0;

	snprintf(cmd, sizeof(cmd), "pgrep -P %d", (int)master);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (fgets(line, sizeof(line), p))
		pid = (pid_t)atol(line);
	pclose(p);
	cr_assert_gt(pid, 0, "no worker under master %d", (int)master);
	return pid;
}

static int count_lines(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

Test(exhaustion, emfile_pauses_accepts_without_spinning_and_recovers, .fini = teardown,
     .timeout = 30)
{
	char path[512], real[4096], body[4200];
	struct rlimit old, low;
	int fds[CONNS], n = 0;
	pid_t worker;
	long before, used;
	char *log, *out = NULL;

	snprintf(path, sizeof(path), "%s/apps/hello.so", BUILD_DIR);
	cr_assert_not_null(realpath(path, real), "%s is not built", path);
	snprintf(body, sizeof(body), "pm = { max_children = 1; };\n"
		 "modules = ( { path = \"%s\"; } );", real);
	/* sluice inherits a small descriptor limit; the test keeps its own. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = (struct rlimit){ .rlim_cur = 24, .rlim_max = old.rlim_max };
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	worker = the_worker(sp.pid);

	for (int i = 0; i < CONNS; i++) {
		fds[n] = harness_connect_unix(sp.sock);
		if (fds[n] >= 0)
			n++;
	}
	cr_assert_gt(n, 30, "only %d connections made", n);
	cr_assert_eq(harness_log_wait(&sp, "pausing accepts", 3000), 0,
		     "no log line for the failed accept");
	before = harness_cpu_ticks(worker);
	sleep(2);
	used = harness_cpu_ticks(worker) - before;
	log = harness_sluice_log(&sp);
	cr_assert_leq(count_lines(log, "pausing accepts"), 4,
		      "the accept failure is logged more than once a second:\n%s", log);
	free(log);
	/* A spinning worker would use ~2 s of CPU; a paused one next to none. */
	cr_assert_lt(used, sysconf(_SC_CLK_TCK) / 2, "the worker used %ld ticks in 2 s", used);

	for (int i = 0; i < n; i++)
		close(fds[i]);
	cr_assert_eq(harness_fcgi_get(sp.sock, "/", &out), 0, "no answer once descriptors are free");
	cr_assert(strstr(out, "Hello from sluice!"), "%s", out);
	free(out);
}
