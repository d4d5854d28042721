/*
 * test_program.c - supervised programs (program.c): the `program` keys
 * and what a program pool refuses, each with its FILE:LINE; what -t says
 * of the executable; and what /proc tells of a copy: waiting in accept
 * on descriptor 0, busy, gone, and asked to leave only while it waits.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "program.h"

#define LISTEN	"listen = \"/run/t.sock\";\n"

static char dir[64];
static char conf[128];
static struct sl_config cfg;
static char err[1024];
static pid_t child;

static void setup(void)
{
	cr_assert_eq(harness_make_real_dir(dir, sizeof(dir)), 0);
	snprintf(conf, sizeof(conf), "%s/sluice.conf", dir);
}

static void teardown(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	config_free(&cfg);
	harness_remove_dir(dir);
}

TestSuite(program, .init = setup, .fini = teardown, .timeout = 20);

static int load(const char *text)
{
	FILE *fp = fopen(conf, "w");

	cr_assert_not_null(fp);
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
	config_free(&cfg);
	return config_load(conf, &cfg, err, sizeof(err));
}

/* `text` is refused with "CONF:LINE: ..." holding `needle`. */
static void refused(const char *text, int line, const char *needle)
{
	char prefix[192];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", conf, line);
	cr_assert_eq(load(text), -1, "accepted; wanted \"%s\" in:\n%s", needle, text);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "\"%s\" does not start with \"%s\"",
		  err, prefix);
	cr_assert_not_null(strstr(err, needle), "\"%s\" lacks \"%s\"", err, needle);
}

/* ---- The keys ------------------------------------------------------------ */

Test(program, a_program_replaces_modules)
{
	char want[192];

	snprintf(want, sizeof(want), "%s/app.fcgi", dir);
	cr_assert_eq(load(LISTEN "program = { path = \"app.fcgi\"; args = [ \"-v\", \"x y\" ];\n"
			  "  max_lifetime = \"1h\"; };\n"), 0, "%s", err);
	cr_assert_eq(cfg.nmodules, 0);
	cr_assert_str_eq(cfg.program.path, want);
	cr_assert_str_eq(cfg.program.argv[0], cfg.program.path);
	cr_assert_str_eq(cfg.program.argv[1], "-v");
	cr_assert_str_eq(cfg.program.argv[2], "x y");
	cr_assert_null(cfg.program.argv[3]);
	cr_assert_eq(cfg.program.max_lifetime, 3600);
}

Test(program, a_module_pool_has_no_program)
{
	cr_assert_eq(load(LISTEN "modules = ( { path = \"/m.so\"; } );\n"), 0, "%s", err);
	cr_assert_null(cfg.program.path);
}

Test(program, the_keys_are_checked)
{
	refused(LISTEN "program = { args = [ \"-v\" ]; };\n", 2, "program.path is missing");
	refused(LISTEN "program = {\n path = \"/a\";\n argv = [ ]; };\n", 4,
		"unknown key \"program.argv\" (did you mean \"program.args\"?)");
	refused(LISTEN "program = {\n path = \"/a\";\n args = [ 1 ]; };\n", 4,
		"program.args[0] must be a string, not an integer");
	refused(LISTEN "program = {\n path = \"/a\";\n args = \"-v\"; };\n", 4,
		"program.args must be a list of strings");
	refused(LISTEN "program = {\n path = \"/a\";\n max_lifetime = \"soon\"; };\n", 4,
		"program.max_lifetime must be a duration");
	refused(LISTEN "program = \"/a\";\n", 2, "program must be a group");
}

/* One pool per config: a program and modules together are a mistake. */
Test(program, not_with_modules)
{
	refused(LISTEN "program = { path = \"/a\"; };\nmodules = ( { path = \"/m.so\"; } );\n", 3,
		"modules and program are two kinds of pool");
}

/* What needs sluice to see requests is refused, never ignored. */
Test(program, what_a_program_pool_cannot_do)
{
	refused(LISTEN "program = { path = \"/a\"; };\npm = {\n max_requests = 100; };\n", 4,
		"pm.max_requests cannot apply to a program");
	refused(LISTEN "program = { path = \"/a\"; };\npm = {\n mode = \"dynamic\"; };\n", 4,
		"pm.mode must be \"static\" with a program");
	refused(LISTEN "program = { path = \"/a\"; };\nrequest_terminate_timeout = 5;\n", 3,
		"request_terminate_timeout does not apply to a program");
	refused(LISTEN "program = { path = \"/a\"; };\naccess_log = \"a.log\";\n", 3,
		"access_log does not apply to a program");
	refused(LISTEN "program = { path = \"/a\"; };\nlimits = {\n max_body_bytes = 10; };\n", 4,
		"limits.max_body_bytes does not apply to a program");
	refused("listen = ( \"/run/a.sock\", \"/run/b.sock\" );\nprogram = { path = \"/a\"; };\n",
		1, "a program has one listening socket");
	refused("listen = { address = \"/run/a.sock\"; protocol = \"uwsgi\"; };\n"
		"program = { path = \"/a\"; };\n", 1, "listen.protocol must be \"fastcgi\"");
	refused("listen = { address = \"127.0.0.1:9000\"; allowed_clients = \"127.0.0.1\"; };\n"
		"program = { path = \"/a\"; };\n", 1, "listen.allowed_clients cannot apply");
	refused(LISTEN "program = { path = \"/a\"; };\nseccomp = true;\n", 3,
		"seccomp applies to sluice's workers, not to a program");
	cr_assert_eq(load(LISTEN "program = { path = \"/a\"; };\nlimits = { shutdown_timeout = 3; };\n"
			  "pm = { reload_on_rss = \"64M\"; max_children = 3; };\n"), 0, "%s", err);
}

/* ---- What -t says of the executable -------------------------------------- */

/* Load a program pool on `path` and check it against the system. */
static int check_path(const char *path)
{
	char text[512];

	snprintf(text, sizeof(text), LISTEN "program = {\n path = \"%s\"; };\n", path);
	cr_assert_eq(load(text), 0, "%s", err);
	return config_check(&cfg, err, sizeof(err));
}

static void check_refuses(const char *path, const char *needle)
{
	char prefix[192];

	snprintf(prefix, sizeof(prefix), "%s:3: ", conf);
	cr_assert_eq(check_path(path), -1, "%s accepted; wanted \"%s\"", path, needle);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "\"%s\" does not start with \"%s\"",
		  err, prefix);
	cr_assert_not_null(strstr(err, needle), "\"%s\" lacks \"%s\"", err, needle);
}

static void make_file(const char *name, mode_t mode)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs("#!/bin/sh\n", fp);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

Test(program, the_executable_is_checked)
{
	char path[256];

	cr_assert_eq(chmod(dir, 0755), 0);
	make_file("app", 0755);
	snprintf(path, sizeof(path), "%s/app", dir);
	cr_assert_eq(check_path(path), 0, "%s", err);
	check_refuses("/nonexistent/app.fcgi", "program.path /nonexistent/app.fcgi: No such file");
	check_refuses(dir, "not a regular file");
	make_file("plain", 0644);
	snprintf(path, sizeof(path), "%s/plain", dir);
	check_refuses(path, "cannot execute it");
	make_file("open", 0777);
	snprintf(path, sizeof(path), "%s/open", dir);
	check_refuses(path, "can be written by anyone");
}

/* ---- What /proc tells of a copy ----------------------------------------- */

/* A listening unix socket in the test's folder. */
static int listener(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/l.sock", dir);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 8), 0);
	return fd;
}

/* A child that waits in accept on descriptor 0, as FCGI_Accept does. */
static pid_t accepting_child(int fd)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fd, 0);
		accept(0, NULL, NULL);
		_exit(3);
	}
	return pid;
}

static enum program_seen wait_seen(pid_t pid, enum program_seen want, pid_t *tid)
{
	enum program_seen seen = PROGRAM_UNKNOWN;

	for (int i = 0; i < 200 && (seen = program_look(pid, tid)) != want; i++)
		harness_sleep_ms(10);
	return seen;
}

Test(program, a_copy_in_accept_is_seen_waiting)
{
	pid_t tid = 0;

	child = accepting_child(listener());
	cr_assert_eq(wait_seen(child, PROGRAM_ACCEPTING, &tid), PROGRAM_ACCEPTING);
	cr_assert_eq(tid, child, "the waiting thread is %d, not the main one %d", (int)tid,
		     (int)child);
}

Test(program, a_copy_elsewhere_is_busy_and_not_asked)
{
	int status;

	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	cr_assert_eq(wait_seen(child, PROGRAM_BUSY, NULL), PROGRAM_BUSY);
	harness_sleep_ms(50);
	cr_assert_eq(program_look(child, NULL), PROGRAM_BUSY);
	cr_assert_eq(program_ask_to_leave(child), -1, "a busy copy was asked to leave");
	cr_assert_eq(waitpid(child, &status, WNOHANG), 0, "the busy copy left");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	cr_assert_eq(program_look(child, NULL), PROGRAM_GONE);
	child = 0;
}

/* Asked while it waits: SIGUSR1 reaches the thread in accept. */
Test(program, a_waiting_copy_is_asked_with_sigusr1)
{
	int status;

	child = accepting_child(listener());
	cr_assert_eq(wait_seen(child, PROGRAM_ACCEPTING, NULL), PROGRAM_ACCEPTING);
	cr_assert_eq(program_ask_to_leave(child), 0);
	status = harness_wait_exit(child, 2000);
	cr_assert_neq(status, -1, "the copy did not leave");
	child = 0;
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1, "wait status %d", status);
}
