/*
 * hardening.c - what a worker process may no longer do, as /proc and a
 * module see it: regain privileges through a set-user-ID program, or
 * leave a core file of its memory (and of the requests in it) unless
 * the config asks for one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include <criterion/criterion.h>

#include "check.h"
#include "harness.h"

static struct sluice_proc sp;

static void teardown(void)
{
	harness_sluice_stop(&sp);
}

TestSuite(hardening, .fini = teardown, .timeout = 30);

/* Start sluice on the environ fixture (one worker) with `knobs`; that worker's pid. */
static pid_t start(const char *knobs)
{
	char mod[4096], body[8192];
	pid_t pids[4];
	int n = 0;

	assert_built(mod, sizeof(mod), "fixtures/environ.so");
	snprintf(body, sizeof(body), "pm = { max_children = 1; };\n"
		 "modules = ( { path = \"%s\"; } );\n%s\n", mod, knobs);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
	for (int waited = 0; waited < 5000 && n < 1; waited += 50) {
		n = harness_children(sp.pid, pids, 4, 0);
		if (n < 1)
			harness_sleep_ms(50);
	}
	cr_assert_geq(n, 1, "no worker started");
	return pids[0];
}

/* The value of `key` in /proc/PID/status, as text. */
static void status_line(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], *text, *at;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = harness_read_file(path);
	cr_assert_not_null(text, "cannot read %s", path);
	at = strstr(text, key);
	cr_assert_not_null(at, "no %s in %s", key, path);
	at += strlen(key);
	at += strspn(at, ":\t ");
	snprintf(out, len, "%.*s", (int)strcspn(at, "\n"), at);
	free(text);
}

Test(hardening, workers_cannot_gain_privileges)
{
	char value[32], *out = NULL;
	pid_t worker = start("");

	/* Answered: the worker is past its setup, where the flag is set
	 * (read too soon after the fork, it is still the master's 0). */
	cr_assert_eq(harness_fcgi_get(sp.sock, "/", &out), 0, "request failed");
	free(out);
	status_line(worker, "NoNewPrivs", value, sizeof(value));
	cr_assert_str_eq(value, "1", "a worker runs with NoNewPrivs %s", value);
}

/*
 * No core file by default, whatever the master's own limit (raised here
 * to its hard limit, which sluice inherits): the module reports its
 * RLIMIT_CORE.
 */
Test(hardening, workers_dump_no_core_unless_configured)
{
	struct rlimit rl;
	char *out = NULL;

	cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_CORE, &rl), 0);
	start("");
	cr_assert_eq(harness_fcgi_get(sp.sock, "/", &out), 0, "request failed");
	cr_assert_not_null(strstr(out, "core 0\n"), "a worker may dump core:\n%s", out);
	free(out);
	harness_sluice_stop(&sp);
	start("rlimit_core = \"1M\";");
	cr_assert_eq(harness_fcgi_get(sp.sock, "/", &out), 0, "request failed");
	cr_assert_not_null(strstr(out, "core 1048576\n"), "rlimit_core is not applied:\n%s", out);
	free(out);
}
