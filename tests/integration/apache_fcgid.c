/*
 * apache_fcgid.c - the real Apache starting sluice itself, through
 * mod_fcgid: no sluice master and no pool.  mod_fcgid's process manager
 * starts sluice processes with a listening socket on descriptor 0, sends
 * each one request at a time, and stops them when Apache stops.
 *
 * The Apache directives are conf/apache/sluice-fcgid.conf and the program
 * mod_fcgid starts is conf/apache/sluice-fcgid.sh, both with only their
 * paths changed: the conf's to the wrapper, the wrapper's to sluice and
 * its config.  sluice and the sample modules are copied into the private
 * folder, which Apache's user (www-data when the tests run as root) can
 * read wherever the build tree is.
 *
 * What mod_fcgid sends for /echo/some/path: SCRIPT_NAME "/echo" (the path
 * down to the first segment that names nothing under the DocumentRoot,
 * an empty folder here) and PATH_INFO "/some/path", both decoded, and no
 * DOCUMENT_URI.  sluice joins the two into the path it routes on.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "check.h"
#include "harness.h"
#include "scenarios.h"

#define EXAMPLE_CONF	"conf/apache/sluice-fcgid.conf"
#define EXAMPLE_WRAPPER	"conf/apache/sluice-fcgid.sh"
/* The paths the examples name, replaced by the private folder's. */
#define EXAMPLE_WRAPPER_PATH	"/usr/local/lib/sluice/sluice-fcgid.sh"
#define EXAMPLE_SLUICE_PATH	"/usr/local/sbin/sluice"
#define EXAMPLE_CONFIG_PATH	"/etc/sluice/sluice.conf"

/* How mod_fcgid logs, after "PROGRAM(PID) exit(WHY)", a process that called exit(0). */
#define CLEAN_EXIT	", terminated by calling exit(), return code: 0\n"
#define STOP_WAIT_MS	10000	/* for Apache, then for the sluice processes */
#define MAX_PIDS	16

static struct apache_proc ap;

static void stop_all(void)
{
	harness_apache_stop(&ap);
}

/* ---- Setting up ------------------------------------------------------- */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 16384);
	size_t len;

	cr_assert_not_null(f, "cannot open %s", path);
	cr_assert_not_null(text);
	len = fread(text, 1, 16383, f);
	fclose(f);
	cr_assert_lt(len, 16383, "%s is unexpectedly large", path);
	return text;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);

	cr_assert_geq(fd, 0, "cannot create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Copy BUILD_DIR/`rel` to the private folder as `name`. */
static void copy_built(const char *rel, const char *name, mode_t mode)
{
	char src[512], dst[512], buf[65536];
	int in, out;
	ssize_t n;

	snprintf(src, sizeof(src), "%s/%s", BUILD_DIR, rel);
	snprintf(dst, sizeof(dst), "%s/%s", ap.dir, name);
	in = open(src, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(in, 0, "%s is not built", src);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	cr_assert_geq(out, 0, "cannot create %s", dst);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	cr_assert_eq(n, 0);
	cr_assert_eq(fchmod(out, mode), 0);
	close(in);
	close(out);
}

/*
 * sluice's config under mod_fcgid: `listen` is required but never bound
 * (the socket comes from mod_fcgid), and the log is written as Apache's
 * user, hence in the folder that user owns.
 */
static const char sluice_conf[] =
	"listen = \"%s/unused.sock\";\n"
	"error_log = \"%s/sluice.log\";\n"
	"log_level = \"info\";\n"
	"modules = (\n"
	"  { path = \"%s/hello.so\"; mount = \"/hello\"; },\n"
	"  { path = \"%s/echo.so\"; mount = \"/echo\"; },\n"
	"  { path = \"%s/routes.so\"; mount = \"/demo\"; }\n"
	");\n";

static void start(void)
{
	char path[512], conf[4096], sub[512];
	char *text;
	int rc;

	cr_assert_eq(harness_apache_prepare(&ap), 0, "no folder for Apache");
	copy_built("sluice", "sluice", 0755);
	copy_built("apps/hello.so", "hello.so", 0644);
	copy_built("apps/echo.so", "echo.so", 0644);
	copy_built("apps/routes.so", "routes.so", 0644);
	snprintf(conf, sizeof(conf), sluice_conf, ap.dir, ap.run, ap.dir, ap.dir, ap.dir);
	snprintf(path, sizeof(path), "%s/sluice.conf", ap.dir);
	write_text(path, conf, 0644);

	text = read_text(EXAMPLE_WRAPPER);
	snprintf(sub, sizeof(sub), "%s/sluice", ap.dir);
	text = example_replace(text, EXAMPLE_SLUICE_PATH, sub, EXAMPLE_WRAPPER);
	snprintf(sub, sizeof(sub), "%s/sluice.conf", ap.dir);
	text = example_replace(text, EXAMPLE_CONFIG_PATH, sub, EXAMPLE_WRAPPER);
	snprintf(path, sizeof(path), "%s/sluice-fcgid.sh", ap.dir);
	write_text(path, text, 0755);
	free(text);

	text = read_text(EXAMPLE_CONF);
	text = example_replace(text, EXAMPLE_WRAPPER_PATH, path, EXAMPLE_CONF);
	rc = harness_apache_start(&ap, text);
	free(text);
	cr_assert_eq(rc, 0, "Apache did not start");
}

/* ---- Requests --------------------------------------------------------- */

static char *sluice_log(void)
{
	char path[512];
	FILE *f;
	char *text = calloc(1, 65536);

	cr_assert_not_null(text);
	snprintf(path, sizeof(path), "%s/sluice.log", ap.run);
	f = fopen(path, "r");
	if (f != NULL) {
		(void)!fread(text, 1, 65535, f);
		fclose(f);
	}
	return text;
}

/* A request; a 5xx is Apache's or sluice's failure, explained in their logs. */
static void request(const char *method, const char *path, const char *body,
		    size_t body_len, const char *const *headers, struct http_reply *r)
{
	char url[512];
	char *log;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", ap.port, path);
	cr_assert_eq(http_request(method, url, body, body_len, headers, r), 0,
		     "%s %s: no HTTP response", method, path);
	if (r->status < 500)
		return;
	log = harness_apache_log(&ap);
	cr_log_warn("%s %s: %ld; Apache's log:\n%s", method, path, r->status, log);
	free(log);
	log = sluice_log();
	cr_log_warn("sluice's log:\n%s", log);
	free(log);
}

/* Neither sluice nor Apache logged an error. */
static void assert_no_log_errors(void)
{
	char *log = sluice_log();

	expect_log_clean("sluice", log, check_sluice_bad);
	free(log);
	expect_apache_clean(&ap);
}

/* mod_fcgid serves the modules at their own mounts. */
static const struct scenario_front front = { request, "" };

/* ---- Serving ---------------------------------------------------------- */

Test(apache_fcgid, hello, .init = start, .fini = stop_all)
{
	scenario_hello(&front, "/hello");
	assert_no_log_errors();
}

Test(apache_fcgid, echo_reflects_the_request, .init = start, .fini = stop_all)
{
	static const char *const cgi[] = {
		"\"SCRIPT_NAME\":\"/echo\"", "\"PATH_INFO\":\"/some/path\"", NULL
	};

	scenario_echo_reflects(&front, cgi);
	assert_no_log_errors();
}

/* Apache decodes the path and merges slashes; sluice routes on the result. */
Test(apache_fcgid, echo_routes_on_the_decoded_path, .init = start, .fini = stop_all)
{
	scenario_echo_decoded_path(&front, "//echo//a%20b/?q=%20");
}

/* The megabyte passes because of the example's FcgidMaxRequestLen. */
Test(apache_fcgid, echo_request_bodies, .init = start, .fini = stop_all)
{
	scenario_echo_request_bodies(&front);
	assert_no_log_errors();
}

Test(apache_fcgid, routes_capture_and_answer, .init = start, .fini = stop_all)
{
	scenario_routes_capture(&front);
	assert_no_log_errors();
}

/*
 * sluice's own answers for what no route takes, several times over: an
 * answer sent before the request has fully arrived is a race that
 * single requests rarely lose.
 */
Test(apache_fcgid, unknown_paths_are_404_and_405, .init = start, .fini = stop_all)
{
	struct http_reply r;
	int i;

	for (i = 0; i < 20; i++) {
		request("GET", "/nowhere", NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 404, "GET /nowhere, try %d: %ld", i + 1, r.status);
		assert_has(r.body, "request id");
		http_reply_free(&r);

		request("PUT", "/demo/users/1", "x", 1, NULL, &r);
		cr_assert_eq(r.status, 405, "PUT /demo/users/1, try %d: %ld", i + 1, r.status);
		cr_assert(harness_has_header_line(r.headers, "Allow: "), "headers:\n%s", r.headers);
		http_reply_free(&r);

		request("GET", "/demo/users/3", NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 200, "GET /demo/users/3, try %d: %ld", i + 1, r.status);
		cr_assert_str_eq(r.body, "user 3: carol\n");
		http_reply_free(&r);
	}
	assert_no_log_errors();
}

/* ---- mod_fcgid's processes ------------------------------------------- */

/*
 * A live process's parent, process group and command name, from
 * /proc/PID/stat; -1 once it has exited (a zombie has exited too).
 */
static int proc_info(pid_t pid, pid_t *ppid, pid_t *pgid, char *comm, size_t len)
{
	char path[64], buf[1024], state;
	char *open, *close;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	open = strchr(buf, '(');
	close = strrchr(buf, ')');
	if (open == NULL || close == NULL || close[1] == '\0')
		return -1;
	snprintf(comm, len, "%.*s", (int)(close - open - 1), open + 1);
	if (sscanf(close + 2, "%c %d %d", &state, ppid, pgid) != 3)
		return -1;
	return state == 'Z' ? -1 : 0;
}

/* Every live process named `comm` in process group `pgid`; their count. */
static int processes_named(const char *comm, pid_t pgid, pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char name[64];
	pid_t pid, ppid, group;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = (pid_t)atoi(e->d_name);
		if (proc_info(pid, &ppid, &group, name, sizeof(name)) == 0 &&
		    group == pgid && strcmp(name, comm) == 0 && n < max)
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

/* The sluice processes that answered, and the most each said it served. */
struct served {
	pid_t pid[MAX_PIDS];
	long count[MAX_PIDS];
	int n;
};

/* `requests` GET /demo/stats, one after the other (routes.c counts them). */
static void serve_stats(struct served *s, int requests)
{
	struct http_reply r;
	int pid, i, k;
	long count;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < requests; i++) {
		request("GET", "/demo/stats", NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 200);
		cr_assert_eq(sscanf(r.body, "worker pid %d served %ld requests", &pid, &count), 2,
			     "unexpected answer: %s", r.body);
		http_reply_free(&r);
		for (k = 0; k < s->n && s->pid[k] != pid; k++)
			;
		if (k == s->n) {
			cr_assert_lt(s->n, MAX_PIDS, "more sluice processes than requests");
			s->pid[s->n++] = pid;
		}
		if (count > s->count[k])
			s->count[k] = count;
	}
}

/*
 * mod_fcgid's process manager (a child of Apache's main process) started
 * the sluice processes, directly (the wrapper execs), and each is alone:
 * no master above it, no worker below it, and every sluice in Apache's
 * process group is such a one.  Sent one after the other, the requests
 * reuse the processes rather than start one each.
 */
Test(apache_fcgid, mod_fcgid_runs_single_sluice_processes, .init = start, .fini = stop_all)
{
	struct served s;
	pid_t all[64], ppid, pgid, pm = 0, pm_parent, child_parent;
	char comm[64], needle[96];
	long most = 0;
	char *log;
	int i, k, n;

	serve_stats(&s, 12);
	log = sluice_log();
	for (i = 0; i < s.n; i++) {
		cr_assert_eq(proc_info(s.pid[i], &ppid, &pgid, comm, sizeof(comm)), 0,
			     "sluice pid %d is gone", (int)s.pid[i]);
		cr_assert_str_eq(comm, "sluice", "pid %d is %s", (int)s.pid[i], comm);
		cr_assert_eq(proc_info(ppid, &pm_parent, &pgid, comm, sizeof(comm)), 0);
		cr_assert_str_eq(comm, "apache2", "sluice pid %d has parent %d, %s, not "
				 "mod_fcgid's process manager", (int)s.pid[i], (int)ppid, comm);
		cr_assert_eq(pm_parent, ap.pid, "sluice's parent %d is not a child of Apache "
			     "(%d)", (int)ppid, (int)ap.pid);
		cr_assert(pm == 0 || pm == ppid, "two different parents");
		pm = ppid;
		snprintf(needle, sizeof(needle), "started by mod_fcgid: serving fd 0 as a "
			 "single responder (pid %d)", (int)s.pid[i]);
		assert_has(log, needle);
		if (s.count[i] > most)
			most = s.count[i];
	}
	free(log);
	cr_assert_geq(most, 6, "12 requests, %d processes, none served more than %ld",
		      s.n, most);

	n = processes_named("sluice", ap.pid, all, 64);
	cr_assert_geq(n, s.n);
	for (k = 0; k < n; k++) {
		cr_assert_eq(proc_info(all[k], &child_parent, &pgid, comm, sizeof(comm)), 0);
		cr_assert_eq(child_parent, pm, "sluice pid %d has parent %d: a master or a "
			     "pool, not mod_fcgid's process", (int)all[k], (int)child_parent);
	}
	assert_no_log_errors();
}

/*
 * Stop Apache with `sig` after some requests: Apache exits, every sluice
 * process mod_fcgid started exits with it, by calling exit(0) (mod_fcgid
 * logs how each one ended), and sluice logged no error.
 */
static void stop_and_check(int sig, const char *how)
{
	struct served s;
	pid_t left[64];
	char needle[64];
	const char *line;
	int i, n;
	char *log;

	serve_stats(&s, 6);
	cr_assert_geq(s.n, 1);
	cr_assert_eq(harness_apache_signal(&ap, sig, STOP_WAIT_MS), 0,
		     "Apache did not exit within %d ms of %s", STOP_WAIT_MS, how);
	for (i = 0; i < s.n; i++)
		cr_assert(harness_wait_gone(s.pid[i], STOP_WAIT_MS),
			  "sluice pid %d still runs %d ms after Apache's %s", (int)s.pid[i],
			  STOP_WAIT_MS, how);
	n = processes_named("sluice", ap.pid, left, 64);
	cr_assert_eq(n, 0, "%d sluice processes left after Apache's %s (pid %d)", n, how,
		     n > 0 ? (int)left[0] : 0);

	log = harness_apache_log(&ap);
	for (i = 0; i < s.n; i++) {
		snprintf(needle, sizeof(needle), "(%d) exit(", (int)s.pid[i]);
		line = strstr(log, needle);
		cr_assert_not_null(line, "mod_fcgid did not log how pid %d ended:\n%s",
				   (int)s.pid[i], log);
		cr_assert_eq(strncmp(strchr(line, ','), CLEAN_EXIT, strlen(CLEAN_EXIT)), 0,
			     "sluice pid %d did not exit cleanly:\n%.200s", (int)s.pid[i], line);
	}
	free(log);
	assert_no_log_errors();
}

/* `apachectl graceful-stop`, which Debian's apache2.service uses to stop. */
Test(apache_fcgid, graceful_stop_stops_sluice_cleanly, .init = start, .fini = stop_all)
{
	stop_and_check(SIGWINCH, "graceful-stop (SIGWINCH)");
}

Test(apache_fcgid, stop_stops_sluice_cleanly, .init = start, .fini = stop_all)
{
	stop_and_check(SIGTERM, "stop (SIGTERM)");
}
