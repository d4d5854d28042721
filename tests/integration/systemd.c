/*
 * systemd.c - sluice as systemd sees it, without systemd as PID 1.
 *
 * The notify protocol is checked from systemd's side of the socket: each
 * test binds its own unix datagram socket, starts sluice with
 * $NOTIFY_SOCKET naming it (and $WATCHDOG_USEC / $WATCHDOG_PID when the
 * watchdog is on), and reads what arrives: READY=1 with a STATUS= line
 * once workers serve, STATUS= as the pool changes, WATCHDOG=1 pings,
 * RELOADING=1 with MONOTONIC_USEC= and READY=1 again around a reload,
 * STOPPING=1.
 *
 * Socket activation is checked with the real systemd-socket-activate,
 * which binds the socket, waits for the first connection and execs
 * sluice with LISTEN_FDS=1 in its own process, as systemd does: sluice
 * must serve on that socket, keep it across a reload, and leave the file
 * (systemd's) where it is when it stops.
 *
 * The shipped units are checked too: conf/systemd/sluice.service's
 * ExecStart= and ExecReload= lines run against a test config, and both
 * units pass `systemd-analyze verify`.
 */
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "defaults.h"
#include "harness.h"

#define SERVICE		"conf/systemd/sluice.service"
#define SOCKET_UNIT	"conf/systemd/sluice.socket"
#define EXAMPLE_BIN	"/usr/local/sbin/sluice"
#define EXAMPLE_CONF	"/etc/sluice/sluice.conf"
#define ACTIVATE	"/usr/bin/systemd-socket-activate"
#define ANALYZE		"/usr/bin/systemd-analyze"
#define WATCHDOG_USEC	400000

static char dir[128];		/* private folder */
static char conf[256];		/* dir/sluice.conf */
static char log_path[256];	/* dir/error.log: sluice's log */
static char out_path[256];	/* dir/stderr.log: what the started program printed */
static char sock[256];		/* dir/sluice.sock */
static char notify_path[256];	/* dir/notify.sock: "systemd's" end */
static char seen[8192];		/* every datagram received, for failure messages */
static const char *watchdog_usec;	/* $WATCHDOG_USEC for sluice; NULL: unset */
static int notify_fd = -1;
static pid_t pid;		/* sluice, or systemd-socket-activate that becomes it */

/* ---- Set-up and tear-down ----------------------------------------------- */

static void setup(void)
{
	cr_assert_eq(harness_make_dir(dir, sizeof(dir)), 0);
	snprintf(conf, sizeof(conf), "%s/sluice.conf", dir);
	snprintf(log_path, sizeof(log_path), "%s/error.log", dir);
	snprintf(out_path, sizeof(out_path), "%s/stderr.log", dir);
	snprintf(sock, sizeof(sock), "%s/sluice.sock", dir);
	snprintf(notify_path, sizeof(notify_path), "%s/notify.sock", dir);
	seen[0] = '\0';
	watchdog_usec = NULL;
}

static void teardown(void)
{
	if (pid > 0)
		harness_stop_pid(pid, SIGTERM);
	pid = 0;
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
	harness_remove_dir(dir);
}

TestSuite(systemd, .init = setup, .fini = teardown, .timeout = 40);

/* ---- Files, processes -------------------------------------------------- */

static int file_has(const char *path, const char *needle)
{
	char *text = harness_read_file(path);
	int found = strstr(text, needle) != NULL;

	free(text);
	return found;
}

/* Wait up to `ms` for `needle` in sluice's log. */
static int log_wait(const char *needle, int ms)
{
	for (int waited = 0; waited <= ms; waited += 20) {
		if (file_has(log_path, needle))
			return 0;
		harness_sleep_ms(20);
	}
	return -1;
}

/* The absolute path of BUILD_DIR/`rel`. */
static void built(char *out, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", BUILD_DIR, rel);
	cr_assert_not_null(realpath(path, out), "%s is not built", path);
}

/*
 * Write the config: `listen` (a socket path or host:port), the module
 * BUILD_DIR/`module`.so mounted at "/", two workers, and `extra`.
 * Written beside and renamed, so that a reload never reads half a file.
 */
/* Write `fmt` as the config, beside it first and renamed into place. */
static void __attribute__((format(printf, 1, 2))) put_conf(const char *fmt, ...)
{
	char tmp[300];
	va_list ap;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", conf);
	f = fopen(tmp, "w");
	cr_assert_not_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, conf), 0);
}

static void write_conf(const char *listen, const char *module, const char *extra)
{
	char so[PATH_MAX], rel[256];

	snprintf(rel, sizeof(rel), "%s.so", module);
	built(so, rel);
	put_conf("listen = { address = \"%s\";%s };\n"
		 "error_log = \"%s\";\nlog_level = \"info\";\n"
		 "pm = { max_children = 2; };\n"
		 "modules = ( { path = \"%s\"; mount = \"/\"; } );\n%s\n",
		 listen, listen[0] == '/' ? " mode = \"0666\";" : "", log_path, so, extra);
}

/* GET `uri` over FastCGI must answer 200 with `body` in it. */
static void get_ok(const char *addr, const char *uri, const char *body)
{
	char *out;
	int rc = harness_fcgi_get(addr, uri, &out);

	cr_assert_eq(rc, 0, "GET %s via %s failed:\n%s", uri, addr, out ? out : "");
	cr_assert(strstr(out, "Status: 200") != NULL && strstr(out, body) != NULL,
		  "GET %s: expected 200 with \"%s\", got:\n%s", uri, body, out);
	free(out);
}

/* ---- The notify socket -------------------------------------------------- */

/*
 * The environment systemd gives a Type=notify service: $NOTIFY_SOCKET,
 * and with WatchdogSec= $WATCHDOG_USEC and $WATCHDOG_PID, the pid of the
 * process the watchdog is for, known only after the fork.
 */
static void notify_env(void *arg)
{
	char me[16];

	(void)arg;
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	setenv("NOTIFY_SOCKET", notify_path, 1);
	if (watchdog_usec != NULL) {
		snprintf(me, sizeof(me), "%d", (int)getpid());
		setenv("WATCHDOG_USEC", watchdog_usec, 1);
		setenv("WATCHDOG_PID", me, 1);
	}
}

/* Bind "systemd's" end of the notify socket, then start sluice on conf. */
static void start_on_conf(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char bin[PATH_MAX], o_c[] = "-c";
	char *argv[] = { bin, o_c, conf, NULL };

	built(bin, "sluice");
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(notify_fd, 0);
	cr_assert_lt(strlen(notify_path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1);
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pid = harness_spawn(argv, out_path, notify_env, NULL);
	cr_assert_gt(pid, 0);
}

/* The notify socket, then sluice with `module` and `extra`. */
static void start_notified(const char *module, const char *extra)
{
	write_conf(sock, module, extra);
	start_on_conf();
}

struct note {
	char text[1024];	/* the datagram */
	long long at_us;	/* when it arrived */
};

/* The next datagram, within `ms`: 0, or -1 when none came. */
static int next_note(struct note *n, int ms)
{
	struct pollfd p = { notify_fd, POLLIN, 0 };
	ssize_t len;

	if (poll(&p, 1, ms < 0 ? 0 : ms) <= 0)
		return -1;
	len = recv(notify_fd, n->text, sizeof(n->text) - 1, 0);
	cr_assert_geq(len, 0);
	n->text[len] = '\0';
	n->at_us = harness_now_us();
	if (strlen(seen) + (size_t)len + 8 < sizeof(seen)) {
		strcat(seen, "  [");
		strcat(seen, n->text);
		strcat(seen, "]\n");
	}
	return 0;
}

/*
 * The value of the `name` ("STATUS=") line of a datagram, copied into
 * `buf`; NULL when there is none.  A bare assignment ("READY=1") matches
 * as a whole line.
 */
static const char *field(const char *text, const char *name, char *buf, size_t len)
{
	size_t nlen = strlen(name);

	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t llen = end ? (size_t)(end - line) : strlen(line);

		if (llen >= nlen && strncmp(line, name, nlen) == 0) {
			snprintf(buf, len, "%.*s", (int)(llen - nlen), line + nlen);
			return buf;
		}
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

static int has_line(const char *text, const char *line)
{
	char buf[8];

	return field(text, line, buf, sizeof(buf)) != NULL && buf[0] == '\0';
}

static int ms_left(long long deadline)
{
	return (int)((deadline - harness_now_us()) / 1000);
}

/*
 * Read datagrams until one holds the line `want` ("READY=1"), within
 * `ms`; one holding `forbidden` first fails the test.
 */
static void wait_note(const char *want, const char *forbidden, int ms, struct note *n)
{
	long long deadline = harness_now_us() + ms * 1000LL;

	while (next_note(n, ms_left(deadline)) == 0) {
		cr_assert(forbidden == NULL || !has_line(n->text, forbidden),
			  "%s came before %s; received:\n%s", forbidden, want, seen);
		if (has_line(n->text, want))
			return;
	}
	cr_assert_fail("no %s within %d ms; received:\n%s", want, ms, seen);
}

/* Read datagrams until a STATUS= line holds `part`, within `ms`. */
static void wait_status(const char *part, int ms)
{
	long long deadline = harness_now_us() + ms * 1000LL;
	struct note n;
	char status[512];

	while (next_note(&n, ms_left(deadline)) == 0)
		if (field(n.text, "STATUS=", status, sizeof(status)) && strstr(status, part))
			return;
	cr_assert_fail("no STATUS= with \"%s\" within %d ms; received:\n%s", part, ms, seen);
}

/* The STATUS= of a READY=1 datagram must name generation `gen`. */
static void expect_generation(const struct note *n, int gen)
{
	char status[512], want[32];

	cr_assert_not_null(field(n->text, "STATUS=", status, sizeof(status)),
			   "READY=1 without a STATUS= line: [%s]", n->text);
	snprintf(want, sizeof(want), "generation %d:", gen);
	cr_assert(strncmp(status, want, strlen(want)) == 0,
		  "STATUS=%s does not start with \"%s\"", status, want);
}

/* ---- Notify: start-up --------------------------------------------------- */

Test(systemd, ready_once_the_workers_serve)
{
	struct note n;
	char status[512];

	start_notified("apps/hello", "");
	wait_note("READY=1", "STOPPING=1", 5000, &n);
	cr_assert_not_null(field(n.text, "STATUS=", status, sizeof(status)),
			   "READY=1 came without a STATUS= line: [%s]", n.text);
	cr_assert(strstr(status, "generation 1: 2 workers") && strstr(status, "2 idle"),
		  "STATUS=%s: expected generation 1 with its 2 workers idle", status);
	/* Ready means serving: a request right now is answered. */
	get_ok(sock, "/", "Hello from sluice!");
}

Test(systemd, no_ready_while_no_worker_can_serve)
{
	struct note n;
	long long deadline;

	start_notified("fixtures/init_fails", "");
	cr_assert_eq(log_wait("init failed", 5000), 0, "the workers never started");
	deadline = harness_now_us() + 1500 * 1000LL;
	while (next_note(&n, ms_left(deadline)) == 0)
		cr_assert(!has_line(n.text, "READY=1"),
			  "READY=1 although every worker dies at start; received:\n%s", seen);
	cr_assert_eq(kill(pid, 0), 0, "the master itself is gone");
}

/* A request on a thread of its own, so that the test reads notes meanwhile. */
struct slow_get {
	pthread_t thread;
	const char *uri;
	char *out;
	int rc;
};

static void *slow_get_run(void *arg)
{
	struct slow_get *g = arg;

	g->rc = harness_fcgi_get(sock, g->uri, &g->out);
	return NULL;
}

Test(systemd, status_follows_the_pool)
{
	struct slow_get g = { .uri = "/sleep?ms=1200" };
	struct note n;

	start_notified("fixtures/hang", "");
	wait_note("READY=1", NULL, 5000, &n);
	cr_assert_eq(pthread_create(&g.thread, NULL, slow_get_run, &g), 0);
	wait_status("1 busy", 1000);
	cr_assert_eq(pthread_join(g.thread, NULL), 0);
	cr_assert_eq(g.rc, 0, "the slow request failed:\n%s", g.out ? g.out : "");
	cr_assert_not_null(strstr(g.out, "slept 1200 ms"), "%s", g.out);
	free(g.out);
	wait_status("0 busy", 1000);
}

/* ---- Notify: the watchdog ----------------------------------------------- */

/*
 * WATCHDOG_USEC=400000: systemd kills a service that does not ping for
 * 400 ms; sluice pings at half that, as sd_watchdog_enabled(3) advises,
 * so one late tick does not cost the service.  A ping at most every
 * 240 ms (half, plus a fifth for scheduling), and not a flood.
 */
Test(systemd, watchdog_pings_at_half_the_period)
{
	long long pings[64], deadline, gap, worst = 0, least = LLONG_MAX;
	struct note n;
	int count = 0;

	watchdog_usec = "400000";
	start_notified("apps/hello", "");
	wait_note("READY=1", NULL, 5000, &n);
	deadline = harness_now_us() + 2000 * 1000LL;
	while (next_note(&n, ms_left(deadline)) == 0)
		if (has_line(n.text, "WATCHDOG=1") && count < 64)
			pings[count++] = n.at_us;
	cr_assert_geq(count, 6, "%d WATCHDOG=1 in 2 s; received:\n%s", count, seen);
	for (int i = 1; i < count; i++) {
		gap = pings[i] - pings[i - 1];
		worst = gap > worst ? gap : worst;
		least = gap < least ? gap : least;
	}
	cr_assert_leq(worst, WATCHDOG_USEC / 2 * 6 / 5,
		      "a WATCHDOG=1 came %lld ms after the one before; WATCHDOG_USEC/2 is %d ms",
		      worst / 1000, WATCHDOG_USEC / 2000);
	cr_assert_geq(least, WATCHDOG_USEC / 4,
		      "WATCHDOG=1 pings only %lld ms apart", least / 1000);
}

Test(systemd, no_watchdog_unless_systemd_asks)
{
	long long deadline;
	struct note n;

	start_notified("apps/hello", "");
	wait_note("READY=1", "WATCHDOG=1", 5000, &n);
	deadline = harness_now_us() + 1000 * 1000LL;
	while (next_note(&n, ms_left(deadline)) == 0)
		cr_assert(!has_line(n.text, "WATCHDOG=1"),
			  "WATCHDOG=1 without $WATCHDOG_USEC; received:\n%s", seen);
}

/* ---- Notify: reloads and the stop --------------------------------------- */

Test(systemd, reload_is_reloading_then_ready)
{
	struct note n;
	char value[64];
	long long sent, stamp;

	start_notified("apps/hello", "");
	wait_note("READY=1", NULL, 5000, &n);
	sent = harness_now_us();
	cr_assert_eq(kill(pid, SIGHUP), 0);
	wait_note("RELOADING=1", "READY=1", 3000, &n);
	cr_assert_not_null(field(n.text, "MONOTONIC_USEC=", value, sizeof(value)),
			   "RELOADING=1 without MONOTONIC_USEC=: [%s]", n.text);
	stamp = strtoll(value, NULL, 10);
	cr_assert(stamp >= sent && stamp <= n.at_us,
		  "MONOTONIC_USEC=%s is not the time of the reload (between %lld and %lld)",
		  value, sent, n.at_us);
	wait_note("READY=1", "STOPPING=1", 5000, &n);
	expect_generation(&n, 2);
	get_ok(sock, "/", "Hello from sluice!");
	cr_assert_eq(log_wait("generation 2 serves", 1000), 0);
}

/*
 * A reload that fails still ends: RELOADING=1, then READY=1 for the
 * generation that serves on, so that `systemctl reload` returns instead
 * of waiting, and the unit is not left "reloading".
 */
Test(systemd, failed_reload_of_a_broken_config_is_ready_again)
{
	struct note n;

	start_notified("apps/hello", "");
	wait_note("READY=1", NULL, 5000, &n);
	write_conf(sock, "apps/hello", "this is not a setting");
	cr_assert_eq(kill(pid, SIGHUP), 0);
	cr_assert_eq(log_wait("reload failed", 3000), 0, "the broken config was not refused");
	wait_note("RELOADING=1", "READY=1", 2000, &n);
	wait_note("READY=1", "STOPPING=1", 3000, &n);
	expect_generation(&n, 1);
	get_ok(sock, "/", "Hello from sluice!");
}

Test(systemd, abandoned_reload_is_ready_again)
{
	struct note n;

	start_notified("apps/hello", "");
	wait_note("READY=1", NULL, 5000, &n);
	write_conf(sock, "fixtures/init_fails", "");
	cr_assert_eq(kill(pid, SIGHUP), 0);
	wait_note("RELOADING=1", "READY=1", 3000, &n);
	wait_note("READY=1", "STOPPING=1", 8000, &n);
	expect_generation(&n, 1);
	cr_assert_eq(log_wait("still serving generation 1", 1000), 0);
	get_ok(sock, "/", "Hello from sluice!");
}

Test(systemd, stop_is_stopping)
{
	struct note n;
	int status;

	start_notified("apps/hello", "");
	wait_note("READY=1", NULL, 5000, &n);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	wait_note("STOPPING=1", "READY=1", 3000, &n);
	status = harness_wait_exit(pid, 5000);
	cr_assert(status != -1, "sluice did not exit after SIGTERM");
	pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sluice ended with wait status %d after SIGTERM", status);
	while (next_note(&n, 0) == 0)
		cr_assert(!has_line(n.text, "READY=1"), "READY=1 after STOPPING=1:\n%s", seen);
}

/* ---- Socket activation -------------------------------------------------- */

/* A clean environment for systemd-socket-activate: no inherited fds or notify socket. */
static void activation_env(void *arg)
{
	(void)arg;
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/*
 * `systemd-socket-activate -l ADDR sluice -c CONF`: it binds ADDR, and on
 * the first connection execs sluice, in its own process, with the socket
 * as fd 3 and LISTEN_FDS=1, LISTEN_PID=its pid.
 */
static void start_activated(const char *addr)
{
	char bin[PATH_MAX], act[] = ACTIVATE, o_l[] = "-l", o_c[] = "-c", a[256];
	char *argv[] = { act, o_l, a, bin, o_c, conf, NULL };

	built(bin, "sluice");
	snprintf(a, sizeof(a), "%s", addr);
	cr_assert_eq(access(ACTIVATE, X_OK), 0, ACTIVATE " is missing (package systemd)");
	pid = harness_spawn(argv, out_path, activation_env, NULL);
	cr_assert_gt(pid, 0);
}

/*
 * Wait until the socket file exists; what tells it from a file made
 * again at the same path: its inode and its change time (tmpfs hands a
 * freed inode number out again).
 */
struct file_id {
	ino_t ino;
	struct timespec ctim;
};

static struct file_id socket_id(const char *path)
{
	struct stat st;

	for (int waited = 0; waited <= 5000; waited += 20) {
		if (lstat(path, &st) == 0) {
			cr_assert(S_ISSOCK(st.st_mode), "%s is not a socket", path);
			return (struct file_id){ st.st_ino, st.st_ctim };
		}
		harness_sleep_ms(20);
	}
	cr_assert_fail("%s never appeared; systemd-socket-activate said:\n%s", path,
		       harness_read_file(out_path));
	return (struct file_id){ 0 };
}

static int same_file(struct file_id a, struct file_id b)
{
	return a.ino == b.ino && a.ctim.tv_sec == b.ctim.tv_sec &&
	       a.ctim.tv_nsec == b.ctim.tv_nsec;
}

/*
 * Requests in a loop for `ms` and at least `min` of them (a loaded
 * machine may take longer for as many; 15 s at most), with SIGHUP after
 * `hup_at_ms`: failures.
 */
static int requests_across_reload(int ms, int min, int hup_at_ms, int *count)
{
	long long start = harness_now_us(), elapsed;
	int failed = 0, hup_sent = 0;
	char *out;

	*count = 0;
	while ((elapsed = harness_now_us() - start) < 15000 * 1000LL &&
	       (elapsed < ms * 1000LL || *count < min)) {
		if (!hup_sent && harness_now_us() - start >= hup_at_ms * 1000LL) {
			cr_assert_eq(kill(pid, SIGHUP), 0);
			hup_sent = 1;
		}
		if (harness_fcgi_get(sock, "/", &out) != 0 || strstr(out, "Hello from sluice!") == NULL) {
			fprintf(stderr, "request %d failed:\n%s\n", *count, out ? out : "");
			failed++;
		}
		free(out);
		(*count)++;
	}
	return failed;
}

Test(systemd, activation_serves_on_the_passed_socket)
{
	struct file_id id;
	int status, count, failed;
	char exe[PATH_MAX], link[64];
	ssize_t n;

	write_conf(sock, "apps/hello", "");
	start_activated(sock);
	id = socket_id(sock);
	/* The first connection makes systemd-socket-activate exec sluice. */
	get_ok(sock, "/", "Hello from sluice!");
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	cr_assert_gt(n, 0);
	exe[n] = '\0';
	cr_assert(n > 7 && strcmp(exe + n - 7, "/sluice") == 0,
		  "pid %d runs %s, not sluice", (int)pid, exe);
	cr_assert(same_file(socket_id(sock), id),
		  "sluice made its own socket instead of adopting systemd's");

	failed = requests_across_reload(1500, 20, 300, &count);
	cr_assert_eq(log_wait("generation 2 serves", 3000), 0, "the reload did not finish");
	cr_assert_eq(failed, 0, "%d of %d requests failed across the reload", failed, count);
	cr_assert_geq(count, 20, "only %d requests in 15 s", count);
	cr_assert(same_file(socket_id(sock), id), "the reload replaced the socket");
	get_ok(sock, "/", "Hello from sluice!");

	cr_assert_eq(kill(pid, SIGTERM), 0);
	status = harness_wait_exit(pid, 5000);
	cr_assert(status != -1, "sluice did not exit after SIGTERM");
	pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait status %d", status);
	cr_assert(same_file(socket_id(sock), id),
		  "sluice removed the socket file that systemd owns");
}

Test(systemd, activation_over_tcp)
{
	char addr[64];
	char *out = NULL;
	int port = harness_free_port(), status, rc = -1;

	cr_assert_gt(port, 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	write_conf(addr, "apps/hello", "");
	start_activated(addr);
	/* Retried, for up to 5 s, while systemd-socket-activate has not bound yet. */
	for (long long deadline = harness_now_us() + 5000000LL;
	     rc != 0 && harness_now_us() < deadline;) {
		free(out);
		rc = harness_fcgi_get(addr, "/", &out);
		if (rc != 0)
			harness_sleep_ms(50);
	}
	cr_assert_eq(rc, 0, "no answer on %s:\n%s", addr, out);
	cr_assert_not_null(strstr(out, "Hello from sluice!"), "%s", out);
	free(out);
	cr_assert_eq(log_wait(addr, 1000), 0);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	status = harness_wait_exit(pid, 5000);
	pid = 0;
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "wait status %d", status);
}

/* The lines of `text` that start with `prefix`. */
static int lines_starting(const char *text, const char *prefix, const char **first)
{
	int n = 0;

	for (const char *line = text; line != NULL && *line != '\0';) {
		if (strncmp(line, prefix, strlen(prefix)) == 0 && n++ == 0)
			*first = line;
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return n;
}

Test(systemd, activation_for_another_address_is_refused)
{
	char other[256];
	char *out, *said;
	const char *line = NULL;
	int status;

	snprintf(other, sizeof(other), "%s/other.sock", dir);
	write_conf(other, "apps/hello", "");
	start_activated(sock);
	socket_id(sock);
	cr_assert_neq(harness_fcgi_get(sock, "/", &out), 0, "answered:\n%s", out);
	free(out);
	status = harness_wait_exit(pid, 5000);
	cr_assert(status != -1, "sluice kept running on a socket it was not configured for");
	pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		  "sluice exited with status 0 (wait status %d)", status);
	said = harness_read_file(out_path);
	cr_assert_eq(lines_starting(said, "sluice:", &line), 1,
		     "expected one line from sluice:\n%s", said);
	cr_assert(strstr(line, other) != NULL && strstr(line, "systemd") != NULL,
		  "the line does not name %s and systemd's socket:\n%s", other, said);
	free(said);
	cr_assert_neq(access(other, F_OK), 0, "sluice bound %s anyway", other);
}

/* ---- The shipped units -------------------------------------------------- */

/* The value of the first `key`= line of the unit text; NULL if none. */
static const char *unit_value(const char *text, const char *key, char *buf, size_t len)
{
	char want[64];

	snprintf(want, sizeof(want), "%s=", key);
	return field(text, want, buf, len);
}

/*
 * Run one Exec line of the service whose program is sluice, with the
 * built binary, the test config in place of the example's, and -t:
 * sluice must accept every option the unit passes.
 */
static void run_exec_line(const char *line)
{
	char copy[1024], bin[PATH_MAX], *args[32], *tok, *save = NULL;
	char o_t[] = "-t", *text;
	int n = 0, status, has_t = 0;
	pid_t child;

	snprintf(copy, sizeof(copy), "%s", line);
	for (tok = strtok_r(copy, " \t", &save); tok && n < 30; tok = strtok_r(NULL, " \t", &save)) {
		if (strcmp(tok, EXAMPLE_CONF) == 0)
			tok = conf;
		has_t |= strcmp(tok, "-t") == 0 || strcmp(tok, "--test") == 0;
		args[n++] = tok;
	}
	built(bin, "sluice");
	args[0] = bin;
	if (!has_t)
		args[n++] = o_t;
	args[n] = NULL;
	unlink(out_path);
	child = harness_spawn(args, out_path, NULL, NULL);
	cr_assert_gt(child, 0);
	status = harness_wait_exit(child, 10000);
	text = harness_read_file(out_path);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "`%s` (as a test run) failed:\n%s", line, text);
	cr_assert_not_null(strstr(text, "test is successful"), "%s", text);
	free(text);
}

Test(systemd, service_runs_sluice_with_options_it_accepts)
{
	char *unit = harness_read_file(SERVICE), value[256];
	int runs = 0;

	cr_assert_neq(unit[0], '\0', "cannot read %s", SERVICE);
	write_conf(sock, "apps/hello", "");
	cr_assert_str_eq(unit_value(unit, "Type", value, sizeof(value)), "notify");
	for (const char *line = unit; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		char one[1024];

		snprintf(one, sizeof(one), "%.*s", (int)(end ? end - line : (long)strlen(line)), line);
		if ((strncmp(one, "ExecStart=", 10) == 0 || strncmp(one, "ExecReload=", 11) == 0) &&
		    strstr(one, EXAMPLE_BIN " ") != NULL) {
			cr_assert_not_null(strstr(one, "=" EXAMPLE_BIN " "),
					   "%s: a prefix or wrapper before sluice: %s", SERVICE, one);
			run_exec_line(strchr(one, '=') + 1);
			runs++;
		}
		line = end ? end + 1 : NULL;
	}
	cr_assert_geq(runs, 1, "%s has no ExecStart= running %s", SERVICE, EXAMPLE_BIN);
	cr_assert_not_null(strstr(unit, "\nExecReload=/bin/kill -HUP $MAINPID\n"),
			   "%s: the reload must be SIGHUP to the master", SERVICE);
	/* systemd must wait longer than sluice lets its workers finish. */
	cr_assert_not_null(unit_value(unit, "TimeoutStopSec", value, sizeof(value)));
	cr_assert_gt(atoi(value), DEFAULT_SHUTDOWN_TIMEOUT,
		     "TimeoutStopSec=%s is not above limits.shutdown_timeout's default (%d s)",
		     value, DEFAULT_SHUTDOWN_TIMEOUT);
	free(unit);
}

/* Copy unit `from` into the private folder, with the built sluice in it. */
static void copy_unit(const char *from, const char *to)
{
	char *text = harness_read_file(from), bin[PATH_MAX], *p, *rest;
	FILE *f = fopen(to, "w");

	cr_assert_not_null(f);
	built(bin, "sluice");
	for (rest = text; (p = strstr(rest, EXAMPLE_BIN)) != NULL; rest = p + strlen(EXAMPLE_BIN))
		fprintf(f, "%.*s%s", (int)(p - rest), rest, bin);
	fputs(rest, f);
	cr_assert_eq(fclose(f), 0);
	free(text);
}

Test(systemd, units_pass_systemd_analyze_verify)
{
	char service[256], socket_unit[256], an[] = ANALYZE, verify[] = "verify";
	char *argv[] = { an, verify, socket_unit, service, NULL };
	char *said;
	int status;
	pid_t child;

	cr_assert_eq(access(ANALYZE, X_OK), 0, ANALYZE " is missing (package systemd)");
	snprintf(service, sizeof(service), "%s/sluice.service", dir);
	snprintf(socket_unit, sizeof(socket_unit), "%s/sluice.socket", dir);
	copy_unit(SERVICE, service);
	copy_unit(SOCKET_UNIT, socket_unit);
	child = harness_spawn(argv, out_path, activation_env, NULL);
	cr_assert_gt(child, 0);
	status = harness_wait_exit(child, 20000);
	said = harness_read_file(out_path);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "systemd-analyze verify failed:\n%s", said);
	/* Unknown or misspelt settings are only warned about: none may be. */
	cr_assert_str_eq(said, "", "systemd-analyze verify complained:\n%s", said);
	free(said);
}

/* ---- Several pools ------------------------------------------------------ */

/*
 * A config with pools a (on `sock`) and b (on dir/b.sock), both hello,
 * written beside and renamed like write_conf's.
 */
static void write_pools_conf(void)
{
	char so[PATH_MAX];

	built(so, "apps/hello.so");
	put_conf("error_log = \"%s\";\nlog_level = \"info\";\npm = { max_children = 2; };\n"
		 "pools = {\n"
		 "  a = { listen = { address = \"%s\"; mode = \"0666\"; };\n"
		 "        modules = ( { path = \"%s\"; } ); };\n"
		 "  b = { listen = { address = \"%s/b.sock\"; mode = \"0666\"; };\n"
		 "        modules = ( { path = \"%s\"; } ); };\n"
		 "};\n", log_path, sock, so, dir, so);
}

/*
 * With pools, systemd hears the master alone: READY=1 once both pools
 * serve, with each pool's counts in STATUS=, and RELOADING=1 then READY=1
 * around a reload of both.
 */
Test(systemd, pools_are_ready_together_and_reload_together)
{
	char status[512], b_sock[300];
	struct note n;

	write_pools_conf();
	start_on_conf();
	wait_note("READY=1", "STOPPING=1", 5000, &n);
	cr_assert_not_null(field(n.text, "STATUS=", status, sizeof(status)), "[%s]", n.text);
	cr_assert(strstr(status, "a: generation 1: 2 workers") &&
		  strstr(status, "b: generation 1: 2 workers"),
		  "STATUS=%s: expected both pools with 2 workers each", status);
	snprintf(b_sock, sizeof(b_sock), "%s/b.sock", dir);
	get_ok(sock, "/", "Hello from sluice!");
	get_ok(b_sock, "/", "Hello from sluice!");

	cr_assert_eq(kill(pid, SIGHUP), 0);
	wait_note("RELOADING=1", "READY=1", 3000, &n);
	wait_note("READY=1", "STOPPING=1", 5000, &n);
	cr_assert_not_null(field(n.text, "STATUS=", status, sizeof(status)), "[%s]", n.text);
	cr_assert(strstr(status, "a: generation 2") && strstr(status, "b: generation 2"),
		  "STATUS=%s: expected both pools at generation 2", status);
	get_ok(b_sock, "/", "Hello from sluice!");
}

/*
 * Socket activation with pools: the socket unit lists every pool's
 * address, and each passed socket goes to the pool it is bound for.
 */
Test(systemd, pools_adopt_the_sockets_systemd_passes)
{
	struct file_id a_id, b_id;
	char bin[PATH_MAX], act[] = ACTIVATE, o_l[] = "-l", o_l2[] = "-l", o_c[] = "-c";
	char a[256], b[300];
	char *argv[] = { act, o_l, a, o_l2, b, bin, o_c, conf, NULL };

	write_pools_conf();
	built(bin, "sluice");
	snprintf(a, sizeof(a), "%s", sock);
	snprintf(b, sizeof(b), "%s/b.sock", dir);
	pid = harness_spawn(argv, out_path, activation_env, NULL);
	cr_assert_gt(pid, 0);
	/* Once systemd-socket-activate has made both (and set their modes). */
	socket_id(a);
	socket_id(b);
	harness_sleep_ms(200);
	a_id = socket_id(a);
	b_id = socket_id(b);
	get_ok(b, "/", "Hello from sluice!");
	get_ok(a, "/", "Hello from sluice!");
	cr_assert(same_file(socket_id(a), a_id) && same_file(socket_id(b), b_id),
		  "a pool made its own socket instead of adopting systemd's");
	cr_assert_eq(log_wait("b master: listening on", 1000), 0);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert(harness_wait_exit(pid, 5000) != -1, "sluice did not stop");
	pid = 0;
	cr_assert(same_file(socket_id(a), a_id), "the master removed systemd's socket file");
}
