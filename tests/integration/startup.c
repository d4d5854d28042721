/*
 * startup.c - what a user sees when sluice starts: the command line,
 * config checking with -t, and the refusal of broken modules before
 * anything listens, each with one line naming the file and the problem.
 */
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "check.h"
#include "harness.h"
#include "sluice.h"

#define SLUICE BUILD_DIR "/sluice"
#define TIMEOUT_MS 10000

/* A private folder for the config files of one test. */
static char dir[64];
static struct sluice_proc sp;

static void make_dir(void)
{
	strcpy(dir, "/tmp/sluice-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];

	harness_sluice_stop(&sp);
	if (dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		cr_expect_eq(system(cmd), 0);
	}
}

/* ---- Running sluice ---------------------------------------------------- */

struct run {
	char out[16384];	/* stdout */
	char err[16384];	/* stderr */
	int status;		/* wait status */
};

static void drain(struct pollfd *p, char *buf, size_t cap, size_t *len)
{
	ssize_t n = read(p->fd, buf + *len, cap - 1 - *len);

	if (n <= 0) {
		close(p->fd);
		p->fd = -1;
		return;
	}
	*len += (size_t)n;
	buf[*len] = '\0';
	if (*len == cap - 1) {	/* full: keep reading, dropping the rest */
		char sink[4096];

		while (read(p->fd, sink, sizeof(sink)) > 0)
			;
	}
}

/*
 * Run sluice with `args` (NULL-terminated, after the program name) and
 * gather its stdout and stderr until it exits.  A sluice still running
 * after TIMEOUT_MS is killed and the test fails: every command here must
 * end by itself.
 */
static void run_sluice(const char *const *args, struct run *r)
{
	char *argv[16];
	int out[2], err[2];
	struct pollfd p[2];
	size_t olen = 0, elen = 0;
	pid_t pid;
	int i;

	memset(r, 0, sizeof(*r));
	argv[0] = strdup(SLUICE);
	for (i = 0; args[i] != NULL && i < 14; i++)
		argv[i + 1] = strdup(args[i]);
	argv[i + 1] = NULL;
	cr_assert_eq(access(SLUICE, X_OK), 0, SLUICE " is not built");
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		setpgid(0, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	p[0] = (struct pollfd){ out[0], POLLIN, 0 };
	p[1] = (struct pollfd){ err[0], POLLIN, 0 };
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, TIMEOUT_MS) <= 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			cr_assert_fail("sluice %s did not exit; stderr:\n%s", args[0], r->err);
		}
		if (p[0].fd >= 0 && p[0].revents)
			drain(&p[0], r->out, sizeof(r->out), &olen);
		if (p[1].fd >= 0 && p[1].revents)
			drain(&p[1], r->err, sizeof(r->err), &elen);
	}
	cr_assert_eq(waitpid(pid, &r->status, 0), pid);
	kill(-pid, SIGKILL);	/* no worker may outlive a refused start */
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
}

static int exit_code(const struct run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

/* ---- Config files ------------------------------------------------------ */

/*
 * Write dir/sluice.conf, one setting per line so that line numbers are
 * known: 1 listen, 2 error_log, 3 modules, 4 `extra` (may be "").
 */
static void write_conf_as(char *conf, size_t len, const char *module_rel,
			  const char *listen, const char *error_log, const char *extra)
{
	char mod[4096];
	FILE *f;

	assert_built(mod, sizeof(mod), module_rel);
	snprintf(conf, len, "%s/sluice.conf", dir);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	if (listen)
		fprintf(f, "listen = \"%s\";\n", listen);
	else
		fprintf(f, "listen = \"%s/sluice.sock\";\n", dir);
	fprintf(f, "error_log = \"%s\";\n", error_log);
	fprintf(f, "modules = ( { path = \"%s\"; mount = \"/\"; } );\n", mod);
	fprintf(f, "%s\n", extra);
	fclose(f);
}

/* The same, with the usual listen and error_log on stderr. */
static void write_conf(char *conf, size_t len, const char *module_rel, const char *extra)
{
	write_conf_as(conf, len, module_rel, NULL, "stderr", extra);
}

/* 0 if something accepts on dir/sluice.sock. */
static int listening(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sluice.sock", dir);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc;
}

/* ---- The command line -------------------------------------------------- */

Test(startup, version)
{
	static const char *const args[] = { "--version", NULL };
	struct run r;

	run_sluice(args, &r);
	cr_assert_eq(exit_code(&r), 0, "stderr: %s", r.err);
	cr_assert_not_null(strstr(r.out, SLUICE_VERSION), "stdout: %s", r.out);
}

Test(startup, help)
{
	static const char *const args[] = { "-h", NULL };
	struct run r;

	run_sluice(args, &r);
	cr_assert_eq(exit_code(&r), 0, "stderr: %s", r.err);
	cr_assert_not_null(strstr(r.out, "-c"), "usage does not mention -c: %s", r.out);
	cr_assert_not_null(strstr(r.out, "-t"), "usage does not mention -t: %s", r.out);
}

Test(startup, unknown_option_fails)
{
	static const char *const args[] = { "--no-such-option", NULL };
	struct run r;

	run_sluice(args, &r);
	cr_assert_neq(exit_code(&r), 0);
	cr_assert_neq(r.err[0], '\0', "no message on stderr");
}

/* ---- -t ---------------------------------------------------------------- */

Test(startup, test_good_config, .init = make_dir, .fini = remove_dir)
{
	char conf[256];
	const char *args[] = { "-t", "-c", conf, NULL };
	struct run r;

	write_conf(conf, sizeof(conf), "apps/hello.so", "pm = { max_children = 2; };");
	run_sluice(args, &r);
	cr_assert_eq(exit_code(&r), 0, "stderr:\n%s", r.err);
	cr_assert_neq(listening(), 0, "-t must not start serving");
}

Test(startup, test_typo_names_file_and_line, .init = make_dir, .fini = remove_dir)
{
	char conf[256], where[300];
	const char *args[] = { "-t", "-c", conf, NULL };
	struct run r;

	write_conf(conf, sizeof(conf), "apps/hello.so", "pm = { max_chidren = 2; };");
	run_sluice(args, &r);
	cr_assert_neq(exit_code(&r), 0, "a typo'd key was accepted");
	snprintf(where, sizeof(where), "%s:4:", conf);
	cr_assert_not_null(strstr(r.err, where), "no \"%s\" in stderr:\n%s", where, r.err);
	cr_assert_not_null(strstr(r.err, "max_chidren"), "stderr:\n%s", r.err);
}

/*
 * `sluice -t` on dir/sluice.conf with `listen` (NULL: the usual one) on
 * line 1, error_log on dir/error.log, and `extra` on line 4: refused,
 * with one line naming line `line` and holding `why`, and nothing created
 * in the folder (no log file, no socket).
 */
static void test_refuses(const char *listen, const char *extra, int line, const char *why)
{
	char conf[256], where[300], log[300];
	const char *args[] = { "-t", "-c", conf, NULL };
	struct run r;
	struct stat st;

	write_conf_as(conf, sizeof(conf), "apps/hello.so", listen, "error.log", extra);
	run_sluice(args, &r);
	cr_assert_eq(exit_code(&r), 1, "accepted (wanted \"%s\"); stderr:\n%s", why, r.err);
	snprintf(where, sizeof(where), "%s:%d: ", conf, line);
	cr_assert_not_null(strstr(r.err, where), "no \"%s\" in stderr:\n%s", where, r.err);
	cr_assert_not_null(strstr(r.err, why), "no \"%s\" in stderr:\n%s", why, r.err);
	snprintf(log, sizeof(log), "%s/error.log", dir);
	cr_assert_neq(stat(log, &st), 0, "-t created %s", log);
	cr_assert_neq(listening(), 0, "-t must not start serving");
}

Test(startup, test_refuses_what_would_fail_at_start, .init = make_dir, .fini = remove_dir)
{
	test_refuses("127.0.0.1", "", 1,
		     "\"127.0.0.1\" is neither a unix socket path nor host:port");
	test_refuses("10.0.0.300:39001", "", 1,
		     "\"10.0.0.300\" is not a valid IPv4 address");
	test_refuses("no-such-host.invalid:39001", "", 1, "cannot resolve");
	test_refuses("/nonexistent-dir/s.sock", "", 1,
		     "the folder /nonexistent-dir: No such file or directory");
	test_refuses(NULL, "access_log = \"logs/access.log\";", 4, "access_log: the folder");
	if (geteuid() == 0)
		test_refuses(NULL, "user = \"no-such-user-x\";", 4,
			     "user \"no-such-user-x\" does not exist");
}

/*
 * A socket folder that anyone can write to, without the sticky bit: the
 * root master would create and chown a file where others can swap names.
 * Refused by -t and at start, naming line 1; a sticky one (as /tmp) is fine.
 */
Test(startup, refuses_socket_folder_others_can_write, .init = make_dir, .fini = remove_dir)
{
	char open_dir[128], sock[160], conf[256], where[700];
	const char *args[] = { "-c", conf, NULL };
	struct run r;

	snprintf(open_dir, sizeof(open_dir), "%s/run", dir);
	cr_assert_eq(mkdir(open_dir, 0700), 0);
	cr_assert_eq(chmod(open_dir, 0777), 0);
	snprintf(sock, sizeof(sock), "%s/s.sock", open_dir);
	test_refuses(sock, "", 1, "(mode 0777) can be written by anyone");
	write_conf_as(conf, sizeof(conf), "apps/hello.so", sock, "stderr", "");
	run_sluice(args, &r);
	cr_assert_neq(exit_code(&r), 0, "started; stderr:\n%s", r.err);
	snprintf(where, sizeof(where), "%s:1: listen %s: the folder %s (mode 0777)", conf, sock,
		 open_dir);
	cr_assert_not_null(strstr(r.err, where), "no \"%s\" in stderr:\n%s", where, r.err);
	cr_assert_eq(chmod(open_dir, 01777), 0);
	run_sluice((const char *[]){ "-t", "-c", conf, NULL }, &r);
	cr_assert_eq(exit_code(&r), 0, "a sticky folder was refused; stderr:\n%s", r.err);
}

/* -t opens no log: a good config with a log file leaves no file behind. */
Test(startup, test_creates_nothing, .init = make_dir, .fini = remove_dir)
{
	char conf[256], log[300];
	const char *args[] = { "-t", "-c", conf, NULL };
	struct run r;
	struct stat st;

	write_conf_as(conf, sizeof(conf), "apps/hello.so", NULL, "error.log",
		      "access_log = \"access.log\"; pid = \"sluice.pid\";");
	run_sluice(args, &r);
	cr_assert_eq(exit_code(&r), 0, "stderr:\n%s", r.err);
	snprintf(log, sizeof(log), "%s/error.log", dir);
	cr_assert_neq(stat(log, &st), 0, "-t created %s", log);
	snprintf(log, sizeof(log), "%s/access.log", dir);
	cr_assert_neq(stat(log, &st), 0, "-t created %s", log);
	snprintf(log, sizeof(log), "%s/sluice.pid", dir);
	cr_assert_neq(stat(log, &st), 0, "-t created %s", log);
	cr_assert_neq(listening(), 0, "-t must not start serving");
}

/* Without mod_fcgid handing it a socket, a config without listen is refused. */
Test(startup, no_listen_is_refused, .init = make_dir, .fini = remove_dir)
{
	char conf[256], path[PATH_MAX], text[PATH_MAX + 64];
	const char *args[] = { "-t", "-c", conf, NULL };
	struct run r;
	FILE *f;

	assert_built(path, sizeof(path), "apps/hello.so");
	snprintf(conf, sizeof(conf), "%s/nolisten.conf", dir);
	snprintf(text, sizeof(text), "modules = ( { path = \"%s\"; } );\n", path);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	run_sluice(args, &r);
	cr_assert_eq(exit_code(&r), 1, "stderr:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "listen is missing"), "stderr:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, conf), "the line does not name the file:\n%s", r.err);
}

/* ---- Broken modules ---------------------------------------------------- */

/* The lines of `text` that contain `needle`, and the last one found. */
static int lines_with(const char *text, const char *needle, char *line, size_t len)
{
	const char *p = text, *end;
	int n = 0;

	while (*p != '\0') {
		end = strchrnul(p, '\n');
		if (memmem(p, (size_t)(end - p), needle, strlen(needle)) != NULL) {
			snprintf(line, len, "%.*s", (int)(end - p), p);
			n++;
		}
		p = *end ? end + 1 : end;
	}
	return n;
}

/*
 * Start sluice (-c, or -t when `test_only`) on fixture `name` and check
 * the refusal: a non-zero exit, nothing listening, and exactly one line
 * naming the module's file, which also names the problem (`why`, in any
 * case).  The line is returned for further checks.
 */
static void refused(const char *name, int test_only, const char *why,
		    char *line, size_t len)
{
	char conf[256], rel[64], mod[4096];
	const char *args[] = { test_only ? "-t" : "-c", test_only ? "-c" : conf,
			       test_only ? conf : NULL, NULL };
	struct run r;
	int n;

	snprintf(rel, sizeof(rel), "fixtures/%s.so", name);
	assert_built(mod, sizeof(mod), rel);
	write_conf(conf, sizeof(conf), rel, "pm = { max_children = 1; };");
	run_sluice(args, &r);
	cr_assert_neq(exit_code(&r), 0, "%s was accepted; stderr:\n%s", name, r.err);
	cr_assert_neq(listening(), 0, "sluice listens after refusing %s", name);
	n = lines_with(r.err, mod, line, len);
	cr_assert_eq(n, 1, "%d lines name %s; stderr:\n%s", n, mod, r.err);
	cr_assert_not_null(strcasestr(line, why), "the line does not say \"%s\": %s",
			   why, line);
}

/* 1 if `line` holds the number `v` as a whole number ("2", not "2026"). */
static int has_number(const char *line, unsigned v)
{
	const char *p = line;
	char *end;

	while (*p != '\0') {
		if (isdigit((unsigned char)*p)) {
			if (strtoul(p, &end, 10) == v)
				return 1;
			p = end;
		} else {
			p++;
		}
	}
	return 0;
}

Test(startup, refuses_bad_abi, .init = make_dir, .fini = remove_dir)
{
	char line[1024];

	refused("bad_abi", 0, "abi", line, sizeof(line));
	cr_assert(has_number(line, SLUICE_ABI_VERSION) &&
		  has_number(line, SLUICE_ABI_VERSION + 1),
		  "the line does not name both ABI versions: %s", line);
}

Test(startup, refuses_module_without_descriptor, .init = make_dir, .fini = remove_dir)
{
	char line[1024];

	refused("no_descriptor", 0, "sluice_module", line, sizeof(line));
}

Test(startup, refuses_unresolved_symbol, .init = make_dir, .fini = remove_dir)
{
	char line[1024];

	refused("unresolved", 0, "sluice_fixture_missing_symbol", line, sizeof(line));
}

Test(startup, refuses_bad_route, .init = make_dir, .fini = remove_dir)
{
	char line[1024];

	refused("bad_route", 0, "users/:id", line, sizeof(line));
}

Test(startup, test_mode_refuses_bad_modules, .init = make_dir, .fini = remove_dir)
{
	char line[1024];

	refused("bad_abi", 1, "abi", line, sizeof(line));
	refused("no_descriptor", 1, "sluice_module", line, sizeof(line));
	refused("unresolved", 1, "sluice_fixture_missing_symbol", line, sizeof(line));
	refused("bad_route", 1, "users/:id", line, sizeof(line));
}

/* ---- A module whose init fails ----------------------------------------- */

Test(startup, init_failure_makes_workers_exit, .fini = remove_dir, .timeout = 30)
{
	char mod[4096], body[4400], line[1024];
	char *log;
	const char *pid_at;
	long pid;

	assert_built(mod, sizeof(mod), "fixtures/init_fails.so");
	snprintf(body, sizeof(body),
		 "pm = { max_children = 1; };\nmodules = ( { path = \"%s\"; } );\n", mod);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
	cr_assert_eq(harness_log_wait(&sp, "init failed", 5000), 0,
		     "no init failure logged");
	log = harness_sluice_log(&sp);
	cr_assert_geq(lines_with(log, "init failed", line, sizeof(line)), 1);
	free(log);
	cr_assert_not_null(strstr(line, "[error]"), "not an error: %s", line);
	cr_assert_not_null(strstr(line, "init_fails"), "the module is not named: %s", line);

	/* The worker that said so ("worker N (pid P): ...") is gone. */
	pid_at = strstr(line, "(pid ");
	cr_assert_not_null(pid_at, "the line does not name the worker: %s", line);
	pid = atol(pid_at + 5);
	cr_assert_gt(pid, 0);
	cr_assert_neq(pid, (long)sp.pid, "the master ran the module's init");
	cr_assert(harness_wait_gone((pid_t)pid, 3000),
		  "worker pid %ld still runs after its init failed", pid);
}
