/*
 * supervisor.c - sluice run by the real supervisord, as users run it.
 *
 * The program section is conf/supervisor/sluice.conf itself, with only
 * the binary, config and log paths changed, included from a private
 * supervisord.conf (its own control socket, pid file and logs in the
 * test's folder, nodaemon).  The test drives it with supervisorctl and
 * looks at what a user would: the answer through the socket, the
 * master's pid before and after, the socket file, and the processes left
 * running when everything is stopped.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "defaults.h"
#include "check.h"
#include "harness.h"

#define EXAMPLE		"conf/supervisor/sluice.conf"
#define EXAMPLE_BIN	"/usr/local/sbin/sluice"
#define EXAMPLE_CONF	"/etc/sluice/sluice.conf"
#define EXAMPLE_LOG	"/var/log/supervisor/sluice.log"
#define SUPERVISORD	"/usr/bin/supervisord"
#define SUPERVISORCTL	"/usr/bin/supervisorctl"
#define MAX_PROCS	64

static char dir[128];		/* private folder */
static char sconf[256];		/* dir/supervisord.conf */
static char conf[256];		/* dir/sluice.conf */
static char sock[256];		/* dir/sluice.sock */
static char prog_log[256];	/* dir/sluice.log: the program's stdout and stderr */
static pid_t supervisord;

/* ---- Processes ---------------------------------------------------------- */

static pid_t seen[MAX_PROCS];	/* every process ours() has found, while it may live */
static int nseen;

static void add(pid_t *pids, int *n, int max, pid_t pid)
{
	if (harness_has_pid(pids, *n, pid) || *n >= max)
		return;
	pids[(*n)++] = pid;
	if (!harness_has_pid(seen, nseen, pid) && nseen < MAX_PROCS)
		seen[nseen++] = pid;
}

/*
 * The processes of this test's sluice, into `pids`; how many: the master,
 * whose title names this test's config file ("sluice: master (...) -c
 * DIR/sluice.conf"), its children, and every process found before that
 * still lives (a worker that outlived its master).
 */
static int ours(pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[300], cmd[1024];
		pid_t kids[MAX_PROCS];
		FILE *f;
		size_t len;
		int nk;

		if (!isdigit((unsigned char)e->d_name[0]) || atoi(e->d_name) == (int)supervisord)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		len = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < len; i++)
			cmd[i] = cmd[i] ? cmd[i] : ' ';
		cmd[len] = '\0';
		if (strstr(cmd, conf) == NULL)
			continue;
		/* The master's title names its config; its workers' titles do not. */
		add(pids, &n, max, atoi(e->d_name));
		nk = harness_children(atoi(e->d_name), kids, MAX_PROCS, 0);
		for (int i = 0; i < nk; i++)
			add(pids, &n, max, kids[i]);
	}
	closedir(d);
	/* A worker whose master is gone is still ours. */
	for (int i = 0; i < nseen; i++)
		if (!harness_proc_gone(seen[i]))
			add(pids, &n, max, seen[i]);
	return n;
}

/* Wait up to `ms` for the processes of this test's sluice to be gone. */
static int none_left(int ms)
{
	pid_t pids[MAX_PROCS];

	for (int waited = 0; waited <= ms; waited += 50) {
		if (ours(pids, MAX_PROCS) == 0)
			return 1;
		harness_sleep_ms(50);
	}
	return 0;
}

/* ---- Set-up and tear-down ----------------------------------------------- */

static void setup(void)
{
	cr_assert_eq(harness_make_dir(dir, sizeof(dir)), 0);
	snprintf(sconf, sizeof(sconf), "%s/supervisord.conf", dir);
	snprintf(conf, sizeof(conf), "%s/sluice.conf", dir);
	snprintf(sock, sizeof(sock), "%s/sluice.sock", dir);
	snprintf(prog_log, sizeof(prog_log), "%s/sluice.log", dir);
}

/*
 * supervisord stops its programs on SIGTERM; whatever it left (a test
 * that failed half-way, a supervisord that had to be killed) is killed
 * here, since supervisord's programs are not in its process group.
 */
static void teardown(void)
{
	pid_t pids[MAX_PROCS];
	int n;

	if (supervisord > 0)
		harness_stop_pid(supervisord, SIGTERM);
	n = ours(pids, MAX_PROCS);
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	supervisord = 0;
	nseen = 0;
	harness_remove_dir(dir);
}

TestSuite(supervisor, .init = setup, .fini = teardown, .timeout = 90);

/* ---- Configs ------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/*
 * sluice's config (hello, two workers, its log on stderr as the example
 * expects), the example's program section with test paths, and a
 * supervisord.conf that includes it.
 */
static void write_configs(void)
{
	char hello[PATH_MAX], bin[PATH_MAX], text[PATH_MAX + 1024], prog[256];
	char *example = harness_read_file(EXAMPLE);

	cr_assert_not_null(realpath(BUILD_DIR "/apps/hello.so", hello), "hello.so is not built");
	cr_assert_not_null(realpath(BUILD_DIR "/sluice", bin), "sluice is not built");
	snprintf(text, sizeof(text),
		 "listen = { address = \"%s\"; mode = \"0666\"; };\n"
		 "log_level = \"info\";\n"
		 "pm = { max_children = 2; };\n"
		 "modules = ( { path = \"%s\"; mount = \"/\"; } );\n", sock, hello);
	write_file(conf, text);

	cr_assert_neq(example[0], '\0', "cannot read %s", EXAMPLE);
	example = example_replace(example, EXAMPLE_BIN, bin, EXAMPLE);
	example = example_replace(example, EXAMPLE_CONF, conf, EXAMPLE);
	example = example_replace(example, EXAMPLE_LOG, prog_log, EXAMPLE);
	snprintf(prog, sizeof(prog), "%s/program.conf", dir);
	write_file(prog, example);
	free(example);

	snprintf(text, sizeof(text),
		 "[unix_http_server]\nfile=%s/supervisor.sock\nchmod=0700\n\n"
		 "[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\n"
		 "pidfile=%s/supervisord.pid\nchildlogdir=%s\nloglevel=info\n\n"
		 "[rpcinterface:supervisor]\n"
		 "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
		 "[supervisorctl]\nserverurl=unix://%s/supervisor.sock\n\n"
		 "[include]\nfiles = %s\n", dir, dir, dir, dir, dir, prog);
	write_file(sconf, text);
}

/* ---- supervisord and supervisorctl -------------------------------------- */

static void start_supervisord(void)
{
	char bin[] = SUPERVISORD, o_c[] = "-c", out[256];
	char *argv[] = { bin, o_c, sconf, NULL };

	cr_assert_eq(access(SUPERVISORD, X_OK), 0, SUPERVISORD " is missing (package supervisor)");
	write_configs();
	snprintf(out, sizeof(out), "%s/supervisord.out", dir);
	supervisord = harness_spawn(argv, out, NULL, NULL);
	cr_assert_gt(supervisord, 0);
	if (harness_wait_socket(supervisord, sock) != 0) {
		char *said = harness_read_file(prog_log), *sup = harness_read_file(out);

		cr_assert_fail("sluice did not come up under supervisord\n"
			       "program log:\n%s\nsupervisord:\n%s", said, sup);
	}
}

/* `supervisorctl -c CONF cmd sluice`; what it printed, malloc'ed. */
static char *ctl(const char *cmd, int *status)
{
	char bin[] = SUPERVISORCTL, o_c[] = "-c", c[32], name[] = "sluice", out[256];
	char *argv[] = { bin, o_c, sconf, c, name, NULL };
	pid_t child;

	snprintf(c, sizeof(c), "%s", cmd);
	snprintf(out, sizeof(out), "%s/supervisorctl.out", dir);
	unlink(out);
	child = harness_spawn(argv, out, NULL, NULL);
	cr_assert_gt(child, 0);
	*status = harness_wait_exit(child, 60000);
	cr_assert_neq(*status, -1, "supervisorctl %s did not finish", cmd);
	return harness_read_file(out);
}

/* The master's pid, as supervisorctl reports it. */
static pid_t master_pid(void)
{
	int status;
	char *out = ctl("pid", &status);
	pid_t p = (pid_t)atoi(out);

	cr_assert_gt(p, 0, "supervisorctl pid sluice: %s", out);
	free(out);
	return p;
}

static void get_ok(void)
{
	char *out;
	int rc = harness_fcgi_get(sock, "/", &out);

	cr_assert(rc == 0 && strstr(out, "Hello from sluice!") != NULL,
		  "no answer from sluice through %s:\n%s", sock, out);
	free(out);
}

/* When the file at `path` was made (its change time: nothing changes a socket file). */
static long long made_ns(const char *path)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s is missing", path);
	return st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
}

/* ---- Tests -------------------------------------------------------------- */

Test(supervisor, restart_binds_again_and_serves)
{
	pid_t before[MAX_PROCS], first, second;
	int n, status;
	char *out, *log;
	long long made;

	start_supervisord();
	get_ok();
	first = master_pid();
	n = ours(before, MAX_PROCS);
	cr_assert_geq(n, 3, "expected the master and 2 workers, found %d processes", n);
	made = made_ns(sock);

	out = ctl("restart", &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		  strstr(out, "sluice: started") != NULL, "supervisorctl restart:\n%s", out);
	free(out);
	second = master_pid();
	cr_assert_neq(second, first, "the master was not replaced");
	for (int i = 0; i < n; i++)
		cr_assert(kill(before[i], 0) == -1 && errno == ESRCH,
			  "pid %d of the old sluice is still running", (int)before[i]);
	/* The new master bound the socket itself, and it answers. */
	cr_assert_gt(made_ns(sock), made, "the socket file is the old master's");
	get_ok();
	log = harness_read_file(prog_log);
	cr_assert_not_null(strstr(log, "SIGTERM received: stopping"),
			   "the old master was not stopped gracefully:\n%s", log);
	cr_assert_null(strstr(log, "another process is serving"), "%s", log);
	free(log);
}

Test(supervisor, stop_removes_the_socket_and_every_process)
{
	pid_t master;
	int status;
	char *out;

	start_supervisord();
	get_ok();
	master = master_pid();
	out = ctl("stop", &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		  strstr(out, "sluice: stopped") != NULL, "supervisorctl stop:\n%s", out);
	free(out);
	cr_assert(kill(master, 0) == -1 && errno == ESRCH, "the master still runs");
	cr_assert(none_left(2000), "sluice processes outlived `supervisorctl stop`");
	cr_assert_neq(access(sock, F_OK), 0, "the socket file was left behind");

	/* Started again, it serves; supervisord's own stop takes it along. */
	out = ctl("start", &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "supervisorctl start:\n%s", out);
	free(out);
	get_ok();
	cr_assert_eq(kill(supervisord, SIGTERM), 0);
	status = harness_wait_exit(supervisord, 30000);
	cr_assert(status != -1, "supervisord did not stop");
	supervisord = 0;
	cr_assert(none_left(2000), "sluice processes outlived supervisord");
	cr_assert_neq(access(sock, F_OK), 0, "the socket file was left behind");
}

Test(supervisor, killed_master_is_replaced_and_its_stale_socket_reused)
{
	pid_t first, second = 0;
	char *out;

	start_supervisord();
	get_ok();
	first = master_pid();
	cr_assert_eq(kill(first, SIGKILL), 0);
	/* autorestart: a new master, on the socket file the dead one left. */
	for (int waited = 0; waited <= 10000; waited += 100) {
		int status;

		out = ctl("pid", &status);
		second = (pid_t)atoi(out);
		free(out);
		if (second > 0 && second != first)
			break;
		harness_sleep_ms(100);
	}
	cr_assert(second > 0 && second != first, "supervisord did not start sluice again");
	cr_assert_eq(harness_wait_socket(supervisord, sock), 0, "the new master never listened");
	get_ok();
}

Test(supervisor, example_gives_workers_time_to_finish)
{
	char *example = harness_read_file(EXAMPLE);
	const char *p = strstr(example, "\nstopwaitsecs=");

	cr_assert_not_null(p, "%s: no stopwaitsecs", EXAMPLE);
	cr_assert_gt(atoi(p + strlen("\nstopwaitsecs=")), DEFAULT_SHUTDOWN_TIMEOUT,
		     "stopwaitsecs must be above limits.shutdown_timeout's default (%d s)",
		     DEFAULT_SHUTDOWN_TIMEOUT);
	cr_assert_not_null(strstr(example, "\nstopsignal=TERM\n"),
			   "%s: TERM is sluice's graceful stop", EXAMPLE);
	free(example);
}
