/*
 * test_config_check.c - what the system says about a parsed config:
 * each mistake that would only show after start (a missing folder, an
 * unknown user, a name that does not resolve) is refused with the file
 * and line of the key, and nothing is created while looking.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"

static char dir[64];
static char conf[128];
static struct sl_config cfg;
static char err[1024];

static void setup(void)
{
	cr_assert_eq(harness_make_real_dir(dir, sizeof(dir)), 0);
	snprintf(conf, sizeof(conf), "%s/sluice.conf", dir);
}

static void teardown(void)
{
	config_free(&cfg);
	harness_remove_dir(dir);
}

TestSuite(config_check, .init = setup, .fini = teardown);

/* `tail` below this test's folder. */
static const char *in_dir(const char *tail)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s%s", dir, tail);
	return buf;
}

/* Line 1 is the listener, line 2 the module, line 3 onwards `extra`. */
static int check(const char *listen, const char *extra)
{
	FILE *fp = fopen(conf, "w");

	cr_assert_not_null(fp);
	fprintf(fp, "listen = \"%s\";\nmodules = ( { path = \"/m.so\"; } );\n%s", listen, extra);
	cr_assert_eq(fclose(fp), 0);
	config_free(&cfg);
	cr_assert_eq(config_load(conf, &cfg, err, sizeof(err)), 0, "%s", err);
	return config_check(&cfg, err, sizeof(err));
}

static void refused(const char *listen, const char *extra, int line, const char *needle)
{
	char prefix[192];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", conf, line);
	cr_assert_eq(check(listen, extra), -1, "accepted; wanted \"%s\"", needle);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "\"%s\" does not start with \"%s\"",
		  err, prefix);
	cr_assert_not_null(strstr(err, needle), "\"%s\" lacks \"%s\"", err, needle);
}

/* Nothing but the config file itself is in the folder. */
static void assert_untouched(void)
{
	struct stat st;
	char path[256];

	snprintf(path, sizeof(path), "%s/error.log", dir);
	cr_assert_neq(stat(path, &st), 0, "%s was created", path);
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	cr_assert_neq(stat(path, &st), 0, "%s was created", path);
}

Test(config_check, a_good_config_passes)
{
	cr_assert_eq(check("unix:s.sock", "error_log = \"error.log\";\nchdir = \"/tmp\";\n"),
		     0, "%s", err);
	cr_assert_eq(check("127.0.0.1:9000", "access_log = \"access.log\";\n"), 0, "%s", err);
	cr_assert_eq(check("localhost:9000", "pid = \"sluice.pid\";\n"), 0, "%s", err);
	assert_untouched();
}

Test(config_check, missing_folders)
{
	refused(in_dir("/nope/s.sock"), "", 1, "/nope: No such file or directory");
	refused("unix:s.sock", "\nerror_log = \"logs/error.log\";\n", 4,
		"error_log: the folder");
	refused("unix:s.sock", "access_log = \"/nonexistent-dir/a.log\";\n", 3,
		"access_log: the folder /nonexistent-dir");
	refused("unix:s.sock", "slowlog = \"no/slow.log\";\n", 3, "slowlog: the folder");
	refused("unix:s.sock", "pid = \"/nonexistent-dir/s.pid\";\n", 3, "pid: the folder");
	refused("unix:s.sock", "chdir = \"/nonexistent-dir\";\n", 3,
		"chdir /nonexistent-dir: No such file or directory");
	refused("unix:s.sock", "chdir = \"/etc/hostname\";\n", 3, "not a folder");
	assert_untouched();
}

/* A plain file where the socket goes would fail the bind. */
Test(config_check, file_in_the_sockets_way)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/s.sock", dir);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fclose(fp);
	refused("unix:s.sock", "", 1, "a file that is not a socket is in the way");
}

Test(config_check, unresolvable_host)
{
	refused("no-such-host.invalid:9000", "", 1,
		"listen no-such-host.invalid:9000: cannot resolve \"no-such-host.invalid\"");
}

Test(config_check, unknown_users_and_groups)
{
	if (geteuid() != 0)
		cr_skip_test("as root only: otherwise any user is refused first");
	refused("unix:s.sock", "\nuser = \"no-such-user-x\";\n", 4,
		"user \"no-such-user-x\" does not exist");
	refused("unix:s.sock", "user = \"root\";\ngroup = \"no-such-group-x\";\n", 4,
		"group \"no-such-group-x\" does not exist");
	refused("unix:s.sock", "status = { listen = \"unix:st.sock\"; owner = \"no-such-user-x\"; };\n",
		3, "owner \"no-such-user-x\" does not exist");
}
