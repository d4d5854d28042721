/*
 * scaffold.c - `sluice new` end to end, as a new module author meets it:
 * the command writes a module into an empty folder, the module's own
 * Makefile builds it against this tree's header and test client and its
 * own test passes, and the config entry it wrote loads the module in a
 * real sluice that answers a FastCGI request (fcgi2's cgi-fcgi).  Then
 * what it refuses: an existing file (nothing is touched) and a name that
 * is not a C identifier.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

static char dir[128], mod[192], out[192];

static void setup(void)
{
	cr_assert_eq(harness_make_dir(dir, sizeof(dir)), 0);
	snprintf(mod, sizeof(mod), "%s/mod", dir);
	snprintf(out, sizeof(out), "%s/out.txt", dir);
}

static void teardown(void)
{
	harness_remove_dir(dir);
}

TestSuite(scaffold, .init = setup, .fini = teardown, .timeout = 90);

/*
 * The author's shell, not this test's process: Criterion marks its test
 * processes in the environment, and the module's own Criterion test
 * would take itself for one of ours.
 */
static void in_child(void *arg)
{
	const char *path = getenv("PATH");
	char keep[4096];

	(void)arg;
	snprintf(keep, sizeof(keep), "%s", path ? path : "/usr/bin:/bin");
	clearenv();
	setenv("PATH", keep, 1);
	setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
}

/* A literal as exec's argv wants it. */
#define ARG(s) ((char *)(uintptr_t)(s))

/* Run `argv` to its end: its exit status, or -1 when it did not exit. */
static int run(char *const argv[])
{
	pid_t pid = harness_spawn(argv, out, in_child, NULL);
	int status;

	cr_assert_gt(pid, 0);
	status = harness_wait_exit(pid, 80000);
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int sluice_new(const char *name, const char *where)
{
	char *argv[] = { ARG(BUILD_DIR "/sluice"), ARG("new"), ARG(name), ARG(where), NULL };

	return run(argv);
}

/* Its Makefile, `make test`, against this tree and this profile's archive. */
static void make_test(void)
{
	char src[PATH_MAX], build[PATH_MAX], a_src[PATH_MAX + 16], a_build[PATH_MAX + 16];
	char *argv[] = { ARG("/usr/bin/make"), ARG("-s"), ARG("-C"), mod, a_src, a_build, NULL,
			 ARG("test"), NULL };
	char *log;

	cr_assert_not_null(realpath(".", src));
	cr_assert_not_null(realpath(BUILD_DIR, build));
	snprintf(a_src, sizeof(a_src), "SLUICE_SRC=%s", src);
	snprintf(a_build, sizeof(a_build), "SLUICE_BUILD=%s", build);
	argv[6] = ARG(strcmp(SLUICE_PROFILE, "dev") == 0 ?
		      "LDLIBS=-fsanitize=address,undefined -lmicrohttpd -ldw" : "LDLIBS=");
	cr_assert_eq(run(argv), 0, "make test failed:\n%s", harness_read_file(out));
	log = harness_read_file(out);
	assert_has(log, "Tested: 3 | Passing: 3 | Failing: 0 | Crashing: 0");
	free(log);
}

/* The module's config entry, with its path made absolute, in a real sluice. */
static void serve(void)
{
	struct sluice_proc sp;
	char conf[256], so[256], quoted[300], body[2048], *entry, *fixed, *reply;

	snprintf(conf, sizeof(conf), "%s/greet.conf", mod);
	snprintf(so, sizeof(so), "%s/greet.so", mod);
	snprintf(quoted, sizeof(quoted), "\"%s\"", so);
	entry = harness_read_file(conf);
	fixed = harness_replace(entry, "\"greet.so\"", quoted);
	cr_assert_not_null(fixed);
	cr_assert_neq(strcmp(entry, fixed), 0, "greet.conf has no path = \"greet.so\":\n%s", entry);
	snprintf(body, sizeof(body), "modules = (\n%s\n);\n", fixed);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start with:\n%s", body);
	cr_expect_eq(harness_fcgi_get(sp.sock, "/greet/hello/ann", &reply), 0);
	assert_has(reply, "Content-Type: application/json");
	assert_has(reply, "{\"greeting\":\"Hello\",\"who\":\"ann\"}");
	free(reply);
	cr_expect_eq(harness_fcgi_get(sp.sock, "/greet", &reply), 0);
	assert_has(reply, "Hello from greet");
	free(reply);
	harness_sluice_stop(&sp);
	free(entry);
	free(fixed);
}

Test(scaffold, new_module_builds_passes_its_test_and_serves)
{
	cr_assert_eq(sluice_new("greet", mod), 0, "%s", harness_read_file(out));
	make_test();
	serve();
}

Test(scaffold, refuses_to_overwrite)
{
	char path[256], *text;
	FILE *f;

	cr_assert_eq(sluice_new("greet", mod), 0, "%s", harness_read_file(out));
	snprintf(path, sizeof(path), "%s/test_greet.c", mod);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("edited\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/greet.c", mod);
	cr_assert_eq(unlink(path), 0);
	cr_expect_eq(sluice_new("greet", mod), 1);
	text = harness_read_file(out);
	assert_has(text, "test_greet.c exists already; nothing was written");
	free(text);
	cr_expect_eq(access(path, F_OK), -1, "greet.c was written again");
	snprintf(path, sizeof(path), "%s/test_greet.c", mod);
	text = harness_read_file(path);
	cr_expect_str_eq(text, "edited\n");
	free(text);
}

Test(scaffold, name_must_be_a_c_identifier)
{
	static const char *const bad[] = { "9lives", "my-mod", "a b", "", "x/y" };
	char *text;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(sluice_new(bad[i], mod), 1, "\"%s\" accepted", bad[i]);
		text = harness_read_file(out);
		assert_has(text, "is not a module name: want a C identifier");
		free(text);
	}
	cr_expect_eq(sluice_new("ok_name_2", mod), 0);
}
