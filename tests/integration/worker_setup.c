/*
 * worker_setup.c - how a worker process starts, as a module sees it:
 * clear_env and env, chdir, rlimit_files and rlimit_core; and the
 * master's pid file.  The environ fixture reports the worker's own
 * folder, limits and variables over FastCGI.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "check.h"
#include "harness.h"

static struct sluice_proc sp;

static void teardown(void)
{
	harness_sluice_stop(&sp);
	unsetenv("SLUICE_TEST_SECRET");
}

TestSuite(worker_setup, .fini = teardown, .timeout = 30);

/* Start sluice on the environ fixture with `knobs` added to the config. */
static void start(const char *knobs)
{
	char mod[4096], body[8192];

	assert_built(mod, sizeof(mod), "fixtures/environ.so");
	snprintf(body, sizeof(body), "pm = { max_children = 1; };\n"
		 "modules = ( { path = \"%s\"; } );\n%s\n", mod, knobs);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
}

/* What the worker reports for `uri`; malloc'ed. */
static char *ask(const char *uri)
{
	char *out = NULL;

	cr_assert_eq(harness_fcgi_get(sp.sock, uri, &out), 0, "request failed: %s",
		     out ? out : "");
	return out;
}

static void has(const char *out, const char *line)
{
	cr_assert_not_null(strstr(out, line), "no \"%s\" in:\n%s", line, out);
}

/* php-fpm's default: nothing of the master's environment reaches a worker. */
Test(worker_setup, environment_is_cleared_by_default)
{
	char *out;

	setenv("SLUICE_TEST_SECRET", "hunter2", 1);
	start("");
	out = ask("/?SLUICE_TEST_SECRET&PATH&HOME");
	has(out, "SLUICE_TEST_SECRET=-\n");
	has(out, "PATH=-\n");
	has(out, "HOME=-\n");
	has(out, "cwd /\n");
	free(out);
}

Test(worker_setup, env_sets_and_passes_through)
{
	char *out;

	setenv("SLUICE_TEST_SECRET", "hunter2", 1);
	start("env = { APP_MODE = \"prod\"; TOKEN = \"$SLUICE_TEST_SECRET\";\n"
	      "  GONE = \"$SLUICE_TEST_UNSET_VAR\"; LITERAL = \"a $SLUICE_TEST_SECRET\"; };");
	out = ask("/?APP_MODE&TOKEN&GONE&LITERAL&PATH");
	has(out, "APP_MODE=prod\n");
	has(out, "TOKEN=hunter2\n");
	has(out, "GONE=-\n");
	has(out, "LITERAL=a $SLUICE_TEST_SECRET\n");
	has(out, "PATH=-\n");
	free(out);
}

Test(worker_setup, clear_env_false_keeps_the_masters_environment)
{
	char *out;

	setenv("SLUICE_TEST_SECRET", "hunter2", 1);
	start("clear_env = false;\nenv = { APP_MODE = \"prod\"; };");
	out = ask("/?SLUICE_TEST_SECRET&APP_MODE");
	has(out, "SLUICE_TEST_SECRET=hunter2\n");
	has(out, "APP_MODE=prod\n");
	free(out);
}

Test(worker_setup, chdir_and_rlimits)
{
	char *out;

	start("chdir = \"/tmp\";\nrlimit_files = 1000;\nrlimit_core = 0;");
	out = ask("/");
	has(out, "cwd /tmp\n");
	has(out, "nofile 1000\n");
	has(out, "core 0\n");
	free(out);
	harness_sluice_stop(&sp);
	start("rlimit_core = \"unlimited\";");
	out = ask("/");
	has(out, "core 18446744073709551615\n");
	free(out);
}

/* The pid file holds the master's pid while it runs, and goes with it. */
Test(worker_setup, pid_file_is_written_and_removed)
{
	char path[256], *text;
	struct stat st;
	pid_t master;

	start("pid = \"sluice.pid\";");
	snprintf(path, sizeof(path), "%s/sluice.pid", sp.dir);
	text = harness_read_file(path);
	cr_assert_not_null(text, "no %s", path);
	cr_assert_eq(atol(text), (long)sp.pid, "%s holds \"%s\", not %d", path, text, (int)sp.pid);
	free(text);
	master = sp.pid;
	cr_assert_eq(kill(master, SIGTERM), 0);
	cr_assert_neq(harness_wait_exit(master, 5000), -1, "the master did not stop");
	cr_assert_neq(stat(path, &st), 0, "%s outlived the master", path);
	sp.pid = 0;
}

/* A second sluice on the same pid file is refused while the first runs. */
Test(worker_setup, live_pid_file_is_refused)
{
	char conf[256], out[256], pidf[256], mod[4096], *text, *log;
	char bin[] = BUILD_DIR "/sluice", opt[] = "-c";
	char *argv[] = { bin, opt, conf, NULL };
	FILE *f;
	pid_t second;
	int status;

	start("pid = \"sluice.pid\";");
	assert_built(mod, sizeof(mod), "fixtures/environ.so");
	snprintf(conf, sizeof(conf), "%s/second.conf", sp.dir);
	snprintf(out, sizeof(out), "%s/second.out", sp.dir);
	snprintf(pidf, sizeof(pidf), "%s/sluice.pid", sp.dir);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "listen = \"unix:second.sock\";\npid = \"sluice.pid\";\n"
		"modules = ( { path = \"%s\"; } );\n", mod);
	fclose(f);
	second = harness_spawn(argv, out, NULL, NULL);
	cr_assert_gt(second, 0);
	status = harness_wait_exit(second, 5000);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1,
		  "the second sluice was not refused (status %d)", status);
	log = harness_read_file(out);
	cr_assert_not_null(log);
	has(log, "already running as pid");
	free(log);
	text = harness_read_file(pidf);
	cr_assert_not_null(text);
	cr_assert_eq(atol(text), (long)sp.pid, "the pid file was taken over: %s", text);
	free(text);
}

/* A pid file left by a dead master is taken over. */
Test(worker_setup, stale_pid_file_is_replaced)
{
	char path[256], *text;
	pid_t dead = fork();

	cr_assert_geq(dead, 0);
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	start("pid = \"sluice.pid\";");
	snprintf(path, sizeof(path), "%s/sluice.pid", sp.dir);
	text = harness_read_file(path);
	cr_assert_not_null(text);
	cr_assert_eq(atol(text), (long)sp.pid);
	free(text);
}
