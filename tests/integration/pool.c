/*
 * pool.c - the pool on a bad day: crashes, hangs, leaks, reloads,
 * stops and a dead master, seen the way a user sees them.
 *
 * Every test starts the real sluice with fixture modules (tests/fixtures:
 * crash, hang, leak, exit, fork, init_crash, ver1/ver2, whoami) and, in
 * front of it, the real nginx with two locations:
 *
 *	/		the upstream with kept-alive connections
 *			(fastcgi_keep_conn on), as users deploy it;
 *	/fresh/...	the same path without /fresh, on a new connection per
 *			request, so that a request goes to whichever worker
 *			is idle instead of following a cached connection to a
 *			busy one.
 *
 * What is asserted is what a user can observe: the HTTP status and body,
 * the lines of the error log (and of the slow log), the worker processes
 * under the master in /proc and whether a pid was replaced, the socket
 * file, the master's exit status, and counts and latencies of requests
 * under load.  Every wait is bounded.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "defaults.h"
#include "fcgi_client.h"
#include "harness.h"
#include "logscan.h"

#define PARAMS		"/etc/nginx/fastcgi_params"
#define MAX_KIDS	64
#define LOG_WAIT_MS	3000

static struct sluice_proc sp;
static struct nginx_proc np;
static char scratch[64];	/* files a config names before sluice starts */
static pid_t orphans;		/* process group of a killed master's workers */

/* ---- Set-up and tear-down ----------------------------------------------- */

static void setup(void)
{
	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
	strcpy(scratch, "/tmp/sluice-pool-XXXXXX");
	cr_assert_not_null(mkdtemp(scratch));
}

static void teardown(void)
{
	char cmd[128];

	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
	if (orphans > 0)
		kill(-orphans, SIGKILL);
	if (scratch[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
		cr_expect_eq(system(cmd), 0);
	}
}

/* ---- Configs ------------------------------------------------------------ */

/*
 * The absolute path of a module: "NAME" is BUILD_DIR/fixtures/NAME.so,
 * "apps/NAME" BUILD_DIR/apps/NAME.so, and an absolute path stays as it is.
 */
static void module_path(char *out, const char *name)
{
	char rel[512];

	if (name[0] == '/') {
		snprintf(out, PATH_MAX, "%s", name);
		return;
	}
	if (strncmp(name, "apps/", 5) == 0)
		snprintf(rel, sizeof(rel), "%s/%s.so", BUILD_DIR, name);
	else
		snprintf(rel, sizeof(rel), "%s/fixtures/%s.so", BUILD_DIR, name);
	cr_assert_not_null(realpath(rel, out), "%s is not built", rel);
}

/*
 * The config body: a `modules` list from "NAME MOUNT" entries (each
 * on a line of its own), then `settings`.  Malloc'ed.
 */
static char *pool_body(const char *settings, const char *const *mods)
{
	size_t cap = 8192 + strlen(settings);
	char *text = malloc(cap);
	char path[PATH_MAX], name[256];
	const char *space;
	size_t n;

	cr_assert_not_null(text);
	n = (size_t)snprintf(text, cap, "modules = (\n");
	for (; *mods != NULL; mods++) {
		space = strchr(*mods, ' ');
		cr_assert_not_null(space, "module entry \"%s\" is not \"NAME MOUNT\"", *mods);
		snprintf(name, sizeof(name), "%.*s", (int)(space - *mods), *mods);
		module_path(path, name);
		n += (size_t)snprintf(text + n, cap - n, "  { path = \"%s\"; mount = \"%s\"; }%s\n",
				      path, space + 1, mods[1] != NULL ? "," : "");
	}
	snprintf(text + n, cap - n, ");\n%s\n", settings);
	return text;
}

/*
 * The whole config file as the harness writes it (the same preamble:
 * socket, mode, error log, level), for reloads.  Written beside and
 * renamed into place, so that the master never reads half a file.
 * Returns the text, malloc'ed, so that a test can find line numbers.
 */
static char *rewrite_conf(const char *settings, const char *const *mods)
{
	char *body = pool_body(settings, mods);
	size_t cap = strlen(body) + 1024;
	char *text = malloc(cap);
	char tmp[256];
	FILE *f;

	cr_assert_not_null(text);
	snprintf(text, cap,
		 "listen = {\n  address = \"%s\";\n  mode = \"0666\";\n};\n"
		 "error_log = \"%s\";\nlog_level = \"info\";\n%s\n",
		 sp.sock, sp.log, body);
	free(body);
	snprintf(tmp, sizeof(tmp), "%s.new", sp.conf);
	f = fopen(tmp, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, sp.conf), 0);
	return text;
}

static const char locations[] =
	"location / {\n"
	"  include " PARAMS ";\n"
	"  fastcgi_pass sluice;\n"
	"  fastcgi_keep_conn on;\n"
	"}\n"
	"location /fresh/ {\n"
	"  rewrite ^/fresh(/.*)$ $1 break;\n"
	"  include " PARAMS ";\n"
	"  fastcgi_pass unix:%SOCK%;\n"
	"}\n";

/* sluice with `settings` and `mods`, and nginx in front of it. */
static void start_pool(const char *settings, const char *const *mods)
{
	char *body = pool_body(settings, mods);

	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
	free(body);
	cr_assert_eq(harness_nginx_start(&np, sp.sock, locations), 0, "nginx did not start");
}

/* ---- Requests ----------------------------------------------------------- */

static const char *url(const char *path)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", np.port, path);
	return buf;
}

static void get(const char *path, struct http_reply *r)
{
	cr_assert_eq(http_request("GET", url(path), NULL, 0, NULL, r), 0,
		     "GET %s: no HTTP response", path);
}

/* GET `path` must answer 200 with exactly `body`. */
static void get_ok(const char *path, const char *body)
{
	struct http_reply r;

	get(path, &r);
	cr_assert_eq(r.status, 200, "GET %s: status %ld, body:\n%s", path, r.status, r.body);
	cr_assert_str_eq(r.body, body, "GET %s", path);
	http_reply_free(&r);
}

/* The pid a whoami or hang response names ("pid N", "... in N"). */
static pid_t pid_in_body(const char *body)
{
	const char *p = strrchr(body, ' ');

	return p != NULL ? (pid_t)atoi(p + 1) : -1;
}

/* One request on a thread of its own, for requests that must overlap. */
struct job {
	pthread_t thread;
	char path[512];
	struct http_reply reply;
	int rc;			/* http_request's */
	long start_ms, end_ms;
	atomic_int done;	/* read by the test while the thread runs */
};

static void *job_run(void *arg)
{
	struct job *j = arg;

	j->start_ms = harness_now_ms();
	j->rc = http_request("GET", j->path, NULL, 0, NULL, &j->reply);
	j->end_ms = harness_now_ms();
	atomic_store(&j->done, 1);
	return NULL;
}

static void job_start(struct job *j, const char *path)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->path, sizeof(j->path), "%s", url(path));
	cr_assert_eq(pthread_create(&j->thread, NULL, job_run, j), 0);
}

static int all_done(const struct job *jobs, int n)
{
	for (int i = 0; i < n; i++)
		if (!atomic_load(&jobs[i].done))
			return 0;
	return 1;
}

static void job_join(struct job *j)
{
	cr_assert_eq(pthread_join(j->thread, NULL), 0);
}

/* ---- The error log ------------------------------------------------------ */

/* Lines of `text` that hold `a` and, when not NULL, `b`. */
static int count_in(const char *text, const char *a, const char *b)
{
	const char *line = text, *end;
	char buf[8192];
	int n = 0;

	while (*line != '\0') {
		size_t len;

		end = strchr(line, '\n');
		len = end ? (size_t)(end - line) : strlen(line);
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (strstr(buf, a) != NULL && (b == NULL || strstr(buf, b) != NULL))
			n++;
		if (end == NULL)
			break;
		line = end + 1;
	}
	return n;
}

static int log_count(const char *a, const char *b)
{
	char *log = harness_sluice_log(&sp);
	int n = count_in(log, a, b);

	free(log);
	return n;
}

/*
 * The first line of the error log after `from` bytes that holds `a`
 * (and `b` when not NULL), malloc'ed; NULL if there is none.  *at gets
 * the offset just past it, when not NULL.
 */
static char *log_line_after(size_t from, const char *a, const char *b, size_t *at)
{
	char *log = harness_sluice_log(&sp);
	char *line = log + (from < strlen(log) ? from : strlen(log));
	char *found = NULL;

	while (*line != '\0') {
		char *end = strchr(line, '\n');

		if (end != NULL)
			*end = '\0';
		if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL)) {
			found = strdup(line);
			if (at != NULL)
				*at = (size_t)(line - log) + strlen(line) + 1;
			break;
		}
		if (end == NULL)
			break;
		line = end + 1;
	}
	free(log);
	return found;
}

static char *log_line(const char *a, const char *b)
{
	return log_line_after(0, a, b, NULL);
}

/* The tail of the log, for failure messages. */
static const char *log_tail(void)
{
	static char tail[6000];
	char *log = harness_sluice_log(&sp);
	size_t len = strlen(log);

	snprintf(tail, sizeof(tail), "%s", len > sizeof(tail) - 1 ?
		 log + len - (sizeof(tail) - 1) : log);
	free(log);
	return tail;
}

/* Wait up to `ms` for a line with `a` (and `b`); the line, malloc'ed. */
static char *wait_line(const char *a, const char *b, long ms)
{
	long deadline = harness_now_ms() + ms;
	char *line;

	while ((line = log_line(a, b)) == NULL && harness_now_ms() < deadline)
		harness_sleep_ms(20);
	if (line == NULL)
		cr_assert_fail("no line with \"%s\"%s%s%s in the error log within %ld ms:\n%s",
			       a, b ? " and \"" : "", b ? b : "", b ? "\"" : "", ms, log_tail());
	return line;
}

static void assert_line_has(const char *line, const char *what)
{
	cr_assert_not_null(strstr(line, what), "no \"%s\" in the log line:\n%s", what, line);
}

/* The pid a log line is about: the first "(pid N)". */
static pid_t pid_in_line(const char *line)
{
	const char *p = strstr(line, "(pid ");

	cr_assert_not_null(p, "no pid in: %s", line);
	return (pid_t)atoi(p + 5);
}

/* "(pid N)" for needles. */
static const char *pid_tag(pid_t pid)
{
	static char buf[4][32];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "(pid %d)", (int)pid);
	return buf[i];
}

/* The 16-hex-digit request id after "request id: " in a body, or "". */
static const char *request_id_in(const char *body)
{
	static char id[32];
	const char *p = strstr(body, "request id: ");
	size_t n = 0;

	id[0] = '\0';
	if (p == NULL)
		return id;
	p += strlen("request id: ");
	while (isxdigit((unsigned char)p[n]) && n < sizeof(id) - 1)
		n++;
	memcpy(id, p, n);
	id[n] = '\0';
	return id;
}

/* ---- Processes ---------------------------------------------------------- */

/* The live workers: the master's children that are not zombies. */
static int workers(pid_t *out)
{
	return harness_children(sp.pid, out, MAX_KIDS, 0);
}

static int worker_count(void)
{
	pid_t kids[MAX_KIDS];

	return workers(kids);
}

/* Wait up to `ms` for the master to have exactly `n` live children. */
static int wait_workers(int n, long ms, pid_t *out)
{
	long deadline = harness_now_ms() + ms;
	int k;

	while ((k = workers(out)) != n && harness_now_ms() < deadline)
		harness_sleep_ms(10);
	return k;
}

/* `out` may be NULL when the pids do not matter. */
static void assert_workers(int n, long ms, pid_t *out)
{
	pid_t kids[MAX_KIDS];
	int k = wait_workers(n, ms, out != NULL ? out : kids);

	cr_assert_eq(k, n, "the master (pid %d) has %d live workers after %ld ms, not %d:\n%s",
		     (int)sp.pid, k, ms, n, log_tail());
}

/*
 * Wait up to `ms` for the master to exit; its wait status in *status.
 * Then, if `kill_group`, whatever is left of its process group is
 * killed; sp.pid is cleared so that the teardown does not signal a
 * reused pid.  Returns the time it took in ms, or -1 when it did not
 * exit.
 */
static long wait_master(long ms, int *status, int kill_group)
{
	long t0 = harness_now_ms();
	pid_t pid = sp.pid;

	while (harness_now_ms() - t0 < ms) {
		if (waitpid(pid, status, WNOHANG) == pid) {
			if (kill_group)
				kill(-pid, SIGKILL);
			sp.pid = 0;
			return harness_now_ms() - t0;
		}
		harness_sleep_ms(5);
	}
	return -1;
}

/*
 * Sockets `pid` holds open, from its /proc/PID/fd links: all of them, or
 * only those whose inode is one of `only` (`nonly` of them) if given.
 */
static int sockets_among(pid_t pid, const unsigned long *only, int nonly)
{
	char path[64], link[320], target[128];
	unsigned long ino;
	struct dirent *e;
	DIR *d;
	int n = 0;
	ssize_t k;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		k = readlink(link, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) != 1)
			continue;
		if (!only) {
			n++;
			continue;
		}
		for (int x = 0; x < nonly; x++)
			if (only[x] == ino) {
				n++;
				break;
			}
	}
	closedir(d);
	return n;
}

static int sockets_of(pid_t pid)
{
	return sockets_among(pid, NULL, 0);
}

/* ---- 1. A static pool --------------------------------------------------- */

static const char *const whoami_only[] = { "whoami /", NULL };

Test(pool, static_pool_replaces_a_killed_worker, .init = setup, .fini = teardown,
     .timeout = 20)
{
	pid_t before[MAX_KIDS], after[MAX_KIDS], victim, fresh = 0;
	struct http_reply r;
	char *line;

	start_pool("pm = { mode = \"static\"; max_children = 3; };", whoami_only);
	assert_workers(3, 3000, before);
	cr_assert_eq(log_count("started (generation 1)", NULL), 3,
		     "not three \"started\" lines:\n%s", log_tail());
	for (int i = 0; i < 3; i++)
		cr_assert_eq(log_count("started", pid_tag(before[i])), 1,
			     "worker %d has no \"started\" line:\n%s", (int)before[i], log_tail());

	victim = before[1];
	cr_assert_eq(kill(victim, SIGKILL), 0);
	line = wait_line(pid_tag(victim), "killed by signal 9 (SIGKILL)", LOG_WAIT_MS);
	free(line);

	/* Three workers again: the two others and a new pid. */
	for (long deadline = harness_now_ms() + 3000; harness_now_ms() < deadline;
	     harness_sleep_ms(10))
		if (workers(after) == 3 && !harness_has_pid(after, 3, victim))
			break;
	cr_assert_eq(workers(after), 3, "%d workers after the kill:\n%s", workers(after),
		     log_tail());
	cr_assert(!harness_has_pid(after, 3, victim), "the killed worker %d is still there",
		  (int)victim);
	for (int i = 0; i < 3; i++)
		if (!harness_has_pid(before, 3, after[i]))
			fresh = after[i];
	cr_assert(harness_has_pid(after, 3, before[0]) && harness_has_pid(after, 3, before[2]),
		  "workers that were not killed were replaced");
	cr_assert_neq(fresh, 0, "no new worker pid");
	cr_assert_eq(log_count("started", pid_tag(fresh)), 1,
		     "the new worker %d has no \"started\" line:\n%s", (int)fresh, log_tail());

	get("/fresh/", &r);
	cr_assert_eq(r.status, 200);
	cr_assert(harness_has_pid(after, 3, pid_in_body(r.body)), "served by %s", r.body);
	http_reply_free(&r);
}

/* ---- 2. Dynamic and ondemand pools -------------------------------------- */

static const char *const hang_whoami[] = { "hang /", "whoami /pid", NULL };

#define DYN_CLIENTS 5

Test(pool, dynamic_pool_starts_start_servers_workers, .init = setup, .fini = teardown,
     .timeout = 20)
{
	start_pool("pm = { mode = \"dynamic\"; max_children = 6; start_servers = 3;\n"
		   "  min_spare_servers = 1; max_spare_servers = 4; };", hang_whoami);
	assert_workers(3, 3000, NULL);
	harness_sleep_ms(600);
	cr_assert_eq(worker_count(), 3, "an idle dynamic pool changed size:\n%s", log_tail());
	cr_assert_eq(log_count("started", NULL), 3, "%s", log_tail());
}

Test(pool, dynamic_pool_grows_to_max_children_and_shrinks_to_max_spare, .init = setup,
     .fini = teardown, .timeout = 30)
{
	struct job jobs[DYN_CLIENTS];
	pid_t kids[MAX_KIDS];
	int most = 0, n, stops;
	long t0;

	start_pool("pm = { mode = \"dynamic\"; max_children = 5; start_servers = 2;\n"
		   "  min_spare_servers = 1; max_spare_servers = 2; };", hang_whoami);
	harness_sleep_ms(300);
	n = worker_count();
	cr_assert(n >= 1 && n <= 2, "an idle dynamic pool with start_servers 2 and "
		  "max_spare_servers 2 has %d workers:\n%s", n, log_tail());

	/* Five requests of 1.5 s at once: the pool must grow to five. */
	t0 = harness_now_ms();
	for (int i = 0; i < DYN_CLIENTS; i++)
		job_start(&jobs[i], "/fresh/sleep?ms=1500");
	while (!all_done(jobs, DYN_CLIENTS) && harness_now_ms() - t0 < 5000) {
		n = worker_count();
		if (n > most)
			most = n;
		harness_sleep_ms(10);
	}
	for (int i = 0; i < DYN_CLIENTS; i++) {
		job_join(&jobs[i]);
		cr_assert_eq(jobs[i].rc, 0, "request %d got no response", i);
		cr_assert_eq(jobs[i].reply.status, 200, "request %d: %ld %s", i,
			     jobs[i].reply.status, jobs[i].reply.body);
		cr_assert_lt(jobs[i].end_ms - t0, 4500, "request %d took %ld ms", i,
			     jobs[i].end_ms - t0);
		http_reply_free(&jobs[i].reply);
	}
	cr_assert_eq(most, 5, "the pool grew to %d workers under 5 slow requests, "
		     "not max_children 5:\n%s", most, log_tail());
	cr_assert_geq(log_count("pool: ", "starting"), 1, "%s", log_tail());

	/* Idle again: back to max_spare_servers (2), with a line per worker stopped. */
	n = wait_workers(2, 4000, kids);
	cr_assert_eq(n, 2, "%d workers 4 s after the load ended (max_spare_servers 2):\n%s",
		     n, log_tail());
	stops = log_count("stopping", "pm.max_spare_servers");
	cr_assert_eq(stops, 3, "%d workers stopped for pm.max_spare_servers, not 5 - 2:\n%s",
		     stops, log_tail());
}

Test(pool, ondemand_pool_starts_on_demand_and_retires_idle_workers, .init = setup,
     .fini = teardown, .timeout = 30)
{
	pid_t kids[MAX_KIDS], served;
	struct http_reply r;
	char *line;
	int n;

	start_pool("pm = { mode = \"ondemand\"; max_children = 2; process_idle_timeout = 1; };",
		   hang_whoami);
	/*
	 * The harness's readiness probe is a connection, which may already
	 * have started a worker: wait for the pool to be empty.  No worker
	 * may have started without a connection asking for one.
	 */
	n = wait_workers(0, 4000, kids);
	cr_assert_eq(n, 0, "an idle ondemand pool still has %d workers:\n%s", n, log_tail());
	cr_assert_leq(log_count("started", NULL), log_count("connection is waiting", NULL),
		      "a worker started with no connection waiting:\n%s", log_tail());
	harness_sleep_ms(500);
	cr_assert_eq(worker_count(), 0, "a worker started while nothing was asked:\n%s",
		     log_tail());

	get("/fresh/pid", &r);
	cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
	served = pid_in_body(r.body);
	http_reply_free(&r);
	n = workers(kids);
	cr_assert(n == 1 && kids[0] == served, "%d workers after one request, served by %d",
		  n, (int)served);
	line = wait_line("started", pid_tag(served), 100);
	free(line);

	/* Idle for process_idle_timeout (1 s): it leaves. */
	n = wait_workers(0, 3500, kids);
	cr_assert_eq(n, 0, "the worker stayed past process_idle_timeout:\n%s", log_tail());
	line = wait_line(pid_tag(served), "pm.process_idle_timeout", 500);
	free(line);
}

/*
 * ondemand at max_children: a connection waits while the one worker runs
 * a 2.5 s handler.  The master, which watches the listener for waiting
 * connections, must not spin on it meanwhile (it used to: 77% of a core).
 */
Test(pool, ondemand_at_max_children_does_not_spin_the_master, .init = setup,
     .fini = teardown, .timeout = 30)
{
	struct job slow, waiting;
	long before, used;

	start_pool("pm = { mode = \"ondemand\"; max_children = 1; };", hang_whoami);
	job_start(&slow, "/fresh/sleep?ms=2500");
	harness_sleep_ms(300);
	job_start(&waiting, "/fresh/pid");
	harness_sleep_ms(300);
	before = harness_cpu_ticks(sp.pid);
	harness_sleep_ms(1000);
	used = harness_cpu_ticks(sp.pid) - before;
	job_join(&slow);
	job_join(&waiting);
	cr_log_info("master CPU while a connection waited at max_children: %ld ticks in 1 s", used);
	cr_assert_geq(before, 0, "no master");
	cr_assert_lt(used, sysconf(_SC_CLK_TCK) / 10, "the master used %ld ticks in 1 s while a "
		     "connection waited for the pool at max_children", used);
	cr_assert_eq(slow.reply.status, 200, "the slow request: %ld", slow.reply.status);
	cr_assert_eq(waiting.reply.status, 200, "the waiting request: %ld", waiting.reply.status);
	http_reply_free(&slow.reply);
	http_reply_free(&waiting.reply);
}

/* ---- 3. Keep-alive does not pin workers --------------------------------- */

#define KA_CLIENTS	16
#define KA_REQUESTS	100
#define KA_P99_US	100000L

struct ka_client {
	pthread_t thread;
	char url[512];
	long lat_us[KA_REQUESTS];
	atomic_int done;	/* read by the test while the thread runs */
	int failures;
	char failure[256];
};

struct small_buf {
	char data[256];
	size_t len;
};

static size_t small_append(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct small_buf *b = arg;
	size_t n = size * nmemb;
	size_t room = sizeof(b->data) - 1 - b->len;

	memcpy(b->data + b->len, ptr, n < room ? n : room);
	b->len += n < room ? n : room;
	b->data[b->len] = '\0';
	return n;
}

/* One client: KA_REQUESTS sequential GETs on one kept-alive connection to nginx. */
static void *ka_run(void *arg)
{
	struct ka_client *k = arg;
	CURL *c = curl_easy_init();
	struct small_buf b;
	long status, t0;
	CURLcode rc;

	if (c == NULL) {
		k->failures = KA_REQUESTS;
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_URL, k->url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, small_append);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	for (int i = 0; i < KA_REQUESTS; i++) {
		b.len = 0;
		b.data[0] = '\0';
		status = 0;
		t0 = harness_now_us();
		rc = curl_easy_perform(c);
		k->lat_us[i] = harness_now_us() - t0;
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (rc != CURLE_OK || status != 200 || strcmp(b.data, "ok\n") != 0) {
			if (k->failures++ == 0)
				snprintf(k->failure, sizeof(k->failure), "request %d: %s, status %ld, "
					 "body \"%.100s\"", i, curl_easy_strerror(rc), status, b.data);
		}
		atomic_fetch_add(&k->done, 1);
	}
	curl_easy_cleanup(c);
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/* Connections the pool holds: every worker's sockets but its listening one. */
static int pool_connections(void)
{
	pid_t kids[MAX_KIDS];
	int n = workers(kids), conns = 0;

	for (int i = 0; i < n; i++)
		conns += sockets_of(kids[i]) - 1;
	return conns;
}

Test(pool, keepalive_connections_do_not_pin_workers, .init = setup, .fini = teardown,
     .timeout = 40)
{
	static const char *const mods[] = { "crash /", NULL };
	static struct ka_client clients[KA_CLIENTS];
	static long all[KA_CLIENTS * KA_REQUESTS];
	pid_t kids[MAX_KIDS];
	int failures = 0, most_conns = 0, conns, done, total = 0;
	long p50, p99, max;

	start_pool("pm = { mode = \"static\"; max_children = 2; };", mods);
	assert_workers(2, 3000, kids);
	for (int i = 0; i < KA_CLIENTS; i++) {
		memset(&clients[i], 0, sizeof(clients[i]));
		snprintf(clients[i].url, sizeof(clients[i].url), "%s", url("/ok"));
		cr_assert_eq(pthread_create(&clients[i].thread, NULL, ka_run, &clients[i]), 0);
	}
	do {
		harness_sleep_ms(5);
		conns = pool_connections();
		if (conns > most_conns)
			most_conns = conns;
		done = 0;
		for (int i = 0; i < KA_CLIENTS; i++)
			done += atomic_load(&clients[i].done);
	} while (done < KA_CLIENTS * KA_REQUESTS);
	for (int i = 0; i < KA_CLIENTS; i++) {
		cr_assert_eq(pthread_join(clients[i].thread, NULL), 0);
		failures += clients[i].failures;
		if (clients[i].failures > 0)
			cr_log_error("client %d: %d failed, first: %s", i, clients[i].failures,
				     clients[i].failure);
		memcpy(all + total, clients[i].lat_us, sizeof(clients[i].lat_us));
		total += KA_REQUESTS;
	}
	conns = pool_connections();
	if (conns > most_conns)
		most_conns = conns;
	qsort(all, (size_t)total, sizeof(all[0]), by_value);
	p50 = all[total / 2];
	p99 = all[total * 99 / 100];
	max = all[total - 1];
	cr_log_info("keep-alive, %d clients x %d requests, 2 workers: p50 %ld us, p99 %ld us, "
		    "max %ld us; up to %d connections held by the pool", KA_CLIENTS,
		    KA_REQUESTS, p50, p99, max, most_conns);
	cr_assert_eq(failures, 0, "%d of %d requests failed", failures, total);
	cr_assert_lt(p99, KA_P99_US, "p99 latency %ld us (p50 %ld us, max %ld us): kept "
		     "connections pin workers?", p99, p50, max);
	cr_assert_gt(most_conns, 2, "the 2 workers never held more than %d connections: "
		     "nginx's kept connections were not all accepted", most_conns);
	cr_assert_eq(worker_count(), 2);
}

/* ---- 4. Crash isolation ------------------------------------------------- */

static const char *const crash_mods[] = { "crash /", "hang /", "whoami /pid", NULL };

/*
 * GET `path` crashes its worker with `sig` in `function`.  The client
 * gets a clean 502 naming only the request id; the log gets one line
 * with the signal, request id, route, module and a backtrace; the
 * master logs the death and starts a new worker; a slow request in the
 * other worker is untouched.
 */
static void check_crash(const char *path, const char *sig, int signo, const char *function)
{
	pid_t before[MAX_KIDS], after[MAX_KIDS], dead, other;
	char fresh_path[128], needle[128], *line;
	struct http_reply r;
	struct job slow;
	const char *id;

	start_pool("pm = { mode = \"static\"; max_children = 2; };", crash_mods);
	assert_workers(2, 3000, before);
	get_ok("/ok", "ok\n");

	job_start(&slow, "/fresh/sleep?ms=1200");
	harness_sleep_ms(250);
	snprintf(fresh_path, sizeof(fresh_path), "/fresh%s", path);
	get(fresh_path, &r);

	cr_assert_eq(r.status, 502, "GET %s: status %ld, body:\n%s", path, r.status, r.body);
	id = request_id_in(r.body);
	cr_assert_eq(strlen(id), 16, "no request id in the 502 body:\n%s", r.body);
	cr_assert_null(strstr(r.body, "SIG"), "the signal leaked to the client:\n%s", r.body);
	cr_assert_null(strstr(r.body, "crash"), "the module leaked to the client:\n%s", r.body);
	cr_assert_null(strstr(r.body, "fixture"), "a symbol leaked to the client:\n%s", r.body);
	cr_assert_null(strchr(r.body, '/'), "a path leaked to the client:\n%s", r.body);

	/* One line: signal, request id, route, module, the function in the backtrace. */
	snprintf(needle, sizeof(needle), "crashed on %s", sig);
	line = wait_line(needle, NULL, LOG_WAIT_MS);
	assert_line_has(line, id);
	snprintf(needle, sizeof(needle), "route GET %s", path);
	assert_line_has(line, needle);
	assert_line_has(line, "module crash");
	assert_line_has(line, "backtrace: ");
	assert_line_has(strstr(line, "backtrace: "), function);
	dead = pid_in_line(line);
	free(line);
	snprintf(needle, sizeof(needle), "crashed on %s", sig);
	cr_assert_eq(log_count(needle, NULL), 1, "not one crash line:\n%s", log_tail());

	/* The master saw it die of that signal. */
	snprintf(needle, sizeof(needle), "killed by signal %d (%s)", signo, sig);
	line = wait_line(pid_tag(dead), needle, LOG_WAIT_MS);
	assert_line_has(line, "master");
	free(line);

	/* The slow request in the other worker was not disturbed. */
	job_join(&slow);
	cr_assert_eq(slow.rc, 0, "the slow request got no response");
	cr_assert_eq(slow.reply.status, 200, "the slow request: %ld %s", slow.reply.status,
		     slow.reply.body);
	cr_assert_eq(strncmp(slow.reply.body, "slept 1200 ms in ", 17), 0, "%s",
		     slow.reply.body);
	other = pid_in_body(slow.reply.body);
	cr_assert_neq(other, dead, "the slow request was served by the crashed worker");
	http_reply_free(&slow.reply);

	/* Replaced: two workers, the dead one gone, a new one started, serving. */
	for (long deadline = harness_now_ms() + 3000; harness_now_ms() < deadline;
	     harness_sleep_ms(10))
		if (workers(after) == 2 && !harness_has_pid(after, 2, dead))
			break;
	cr_assert_eq(workers(after), 2, "%s", log_tail());
	cr_assert(!harness_has_pid(after, 2, dead) && harness_has_pid(after, 2, other),
		  "workers %d and %d after the crash of %d (the other was %d)",
		  (int)after[0], (int)after[1], (int)dead, (int)other);
	cr_assert_eq(log_count("started", NULL), 3, "%s", log_tail());
	http_reply_free(&r);
	for (int i = 0; i < 4; i++) {
		get("/fresh/pid", &r);
		cr_assert_eq(r.status, 200, "after the crash: %ld %s", r.status, r.body);
		cr_assert(harness_has_pid(after, 2, pid_in_body(r.body)), "served by %s", r.body);
		http_reply_free(&r);
	}
	get_ok("/ok", "ok\n");
}

Test(pool, segv_gives_502_one_log_line_and_a_new_worker, .init = setup, .fini = teardown,
     .timeout = 20)
{
	check_crash("/segv", "SIGSEGV", SIGSEGV, "crash_fixture_store_null");
}

Test(pool, abort_gives_502_one_log_line_and_a_new_worker, .init = setup, .fini = teardown,
     .timeout = 20)
{
	check_crash("/abort", "SIGABRT", SIGABRT, "crash_fixture_give_up");
}

Test(pool, fpe_gives_502_one_log_line_and_a_new_worker, .init = setup, .fini = teardown,
     .timeout = 20)
{
	check_crash("/fpe", "SIGFPE", SIGFPE, "crash_fixture_divide");
}

/* A NULL store two calls deep: both static frames are named, innermost first. */
Test(pool, segv_backtrace_names_the_static_frames_in_order, .init = setup,
     .fini = teardown, .timeout = 20)
{
	struct http_reply r;
	char *line, *bt, *inner, *outer;

	start_pool("pm = { mode = \"static\"; max_children = 1; };", crash_mods);
	get("/fresh/segv", &r);
	cr_assert_eq(r.status, 502);
	http_reply_free(&r);
	line = wait_line("crashed on SIGSEGV", NULL, LOG_WAIT_MS);
	bt = strstr(line, "backtrace: ");
	cr_assert_not_null(bt, "%s", line);
	inner = strstr(bt, "crash_fixture_store_null");
	outer = strstr(bt, "crash_fixture_walk");
	cr_assert(inner != NULL && outer != NULL && inner < outer,
		  "the backtrace does not show store_null < walk: %s", bt);
	cr_assert_lt(inner - bt, 20, "the crashing function is not the first frame: %s", bt);
	free(line);
}

Test(pool, exit_in_a_handler_is_logged_and_the_worker_replaced, .init = setup,
     .fini = teardown, .timeout = 20)
{
	static const char *const mods[] = { "exit /exit", "whoami /", NULL };
	pid_t before[MAX_KIDS], after[MAX_KIDS], gone = 0;
	struct http_reply r;
	char *line;
	long t0;

	start_pool("pm = { mode = \"static\"; max_children = 2; };", mods);
	assert_workers(2, 3000, before);
	t0 = harness_now_ms();
	get("/fresh/exit", &r);
	cr_assert_eq(r.status, 502, "a worker that exited mid-request: status %ld", r.status);
	cr_assert_lt(harness_now_ms() - t0, 3000);
	http_reply_free(&r);

	line = wait_line("exited with status 3", NULL, LOG_WAIT_MS);
	gone = pid_in_line(line);
	cr_assert(harness_has_pid(before, 2, gone), "the exit line names pid %d, not a worker: %s",
		  (int)gone, line);
	free(line);
	for (long deadline = harness_now_ms() + 3000; harness_now_ms() < deadline;
	     harness_sleep_ms(10))
		if (workers(after) == 2 && !harness_has_pid(after, 2, gone))
			break;
	cr_assert(workers(after) == 2 && !harness_has_pid(after, 2, gone), "%s", log_tail());
	for (int i = 0; i < 4; i++) {
		get("/fresh/", &r);
		cr_assert_eq(r.status, 200);
		cr_assert(harness_has_pid(after, 2, pid_in_body(r.body)), "%s", r.body);
		http_reply_free(&r);
	}
}

Test(pool, fork_in_a_handler_leaves_the_pool_sane, .init = setup, .fini = teardown,
     .timeout = 20)
{
	static const char *const mods[] = { "fork /fork", "whoami /", NULL };
	pid_t before[MAX_KIDS], after[MAX_KIDS], zombies[MAX_KIDS], child, parent;
	struct http_reply r;
	int nz;

	start_pool("pm = { mode = \"static\"; max_children = 1; };", mods);
	assert_workers(1, 3000, before);
	get("/fresh/fork", &r);
	cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
	cr_assert_eq(sscanf(r.body, "forked %d from %d", &child, &parent), 2, "%s", r.body);
	http_reply_free(&r);
	cr_assert_eq(parent, before[0], "the handler ran in %d, not the worker", (int)parent);

	/* The child sleeps 200 ms and exits; its parent should reap it. */
	cr_assert(harness_wait_gone(child, 2000), "the forked child %d still runs", (int)child);
	harness_sleep_ms(1000);
	nz = harness_children(before[0], zombies, MAX_KIDS, 1);
	cr_assert_eq(nz, 0, "the worker %d left %d child(ren) behind, first pid %d state %c "
		     "(a zombie nobody reaps)", (int)before[0], nz, nz ? (int)zombies[0] : 0,
		     nz ? harness_proc_state(zombies[0], NULL) : '-');

	/* The same worker serves on; the master counts no extra worker. */
	get("/fresh/", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(pid_in_body(r.body), before[0], "%s", r.body);
	http_reply_free(&r);
	cr_assert_eq(workers(after), 1);
	cr_assert_eq(after[0], before[0]);
	cr_assert_eq(log_count("master", "exited"), 0, "%s", log_tail());
	cr_assert_eq(log_count("master", "killed"), 0, "%s", log_tail());
}

/* ---- 5. Timeouts -------------------------------------------------------- */

Test(pool, request_terminate_timeout_gives_504_a_backtrace_and_a_new_worker,
     .init = setup, .fini = teardown, .timeout = 20)
{
	pid_t before[MAX_KIDS], after[MAX_KIDS], stopped;
	struct http_reply r;
	const char *id;
	char *line;
	long t0, took;

	start_pool("pm = { mode = \"static\"; max_children = 2; };\n"
		   "request_terminate_timeout = 1;", crash_mods);
	assert_workers(2, 3000, before);
	t0 = harness_now_ms();
	get("/fresh/hang", &r);
	took = harness_now_ms() - t0;
	cr_assert_eq(r.status, 504, "GET /hang: %ld after %ld ms:\n%s", r.status, took, r.body);
	cr_assert(took >= 900 && took <= 3000, "504 after %ld ms (request_terminate_timeout 1 s)",
		  took);
	id = request_id_in(r.body);
	cr_assert_eq(strlen(id), 16, "no request id in the 504 body:\n%s", r.body);
	cr_assert_null(strstr(r.body, "hang"), "%s", r.body);

	line = wait_line("request_terminate_timeout", "backtrace", LOG_WAIT_MS);
	assert_line_has(line, id);
	assert_line_has(line, "route GET /hang");
	assert_line_has(line, "module hang");
	assert_line_has(strstr(line, "backtrace"), "hang_fixture_spin");
	stopped = pid_in_line(line);
	cr_assert(harness_has_pid(before, 2, stopped), "%s", line);
	free(line);
	http_reply_free(&r);

	line = wait_line(pid_tag(stopped), "stopped by request_terminate_timeout", LOG_WAIT_MS);
	assert_line_has(line, "master: ");
	free(line);
	for (long deadline = harness_now_ms() + 3000; harness_now_ms() < deadline;
	     harness_sleep_ms(10))
		if (workers(after) == 2 && !harness_has_pid(after, 2, stopped))
			break;
	cr_assert(workers(after) == 2 && !harness_has_pid(after, 2, stopped), "%s", log_tail());
	get_ok("/fresh/ok", "ok\n");
}

Test(pool, request_slowlog_timeout_logs_a_backtrace_and_keeps_the_worker, .init = setup,
     .fini = teardown, .timeout = 20)
{
	pid_t before[MAX_KIDS], after[MAX_KIDS], served;
	char settings[512], slowlog[128], text[16384], in_request[96];
	struct http_reply r;
	const char *id;
	size_t len = 0;
	long t0, took;
	FILE *f;

	snprintf(slowlog, sizeof(slowlog), "%s/slow.log", scratch);
	snprintf(settings, sizeof(settings),
		 "pm = { mode = \"static\"; max_children = 2; };\n"
		 "request_slowlog_timeout = 1;\nslowlog = \"%s\";", slowlog);
	start_pool(settings, crash_mods);
	assert_workers(2, 3000, before);
	t0 = harness_now_ms();
	get("/fresh/sleep?ms=2500", &r);
	took = harness_now_ms() - t0;
	cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
	cr_assert_geq(took, 2500, "the slow request was cut short: %ld ms", took);
	cr_assert_lt(took, 4000, "%ld ms", took);
	cr_assert_eq(strncmp(r.body, "slept 2500 ms in ", 17), 0, "%s", r.body);
	/* The master traced it from outside: the handler saw no signal. */
	cr_assert(harness_has_header_line(r.headers, "X-Interrupted: 0"), "%s", r.headers);
	served = pid_in_body(r.body);

	f = fopen(slowlog, "r");
	cr_assert_not_null(f, "no slow log at %s:\n%s", slowlog, log_tail());
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	cr_assert_eq(count_in(text, "request_slowlog_timeout", "hang_fixture_doze"), 1,
		     "the slow log has not one line with the backtrace:\n%s", text);
	/* Unwound through the module (mapped from a memfd) to the worker loop. */
	cr_assert_eq(count_in(text, "hang_fixture_doze", "worker_main"), 1, "%s", text);
	id = strstr(r.headers, "X-Request-Id: ");
	cr_assert_not_null(id, "%s", r.headers);
	snprintf(in_request, sizeof(in_request), "in request %.16s, route GET /sleep, worker ",
		 id + 14);
	cr_assert_eq(count_in(text, in_request, pid_tag(served)), 1, "%s\n%s", in_request, text);
	http_reply_free(&r);

	/* Not stopped: the same workers, the same pid serving. */
	cr_assert_eq(workers(after), 2);
	cr_assert(after[0] == before[0] && after[1] == before[1],
		  "workers replaced after a slow request:\n%s", log_tail());
	cr_assert_eq(log_count("master", "exited"), 0, "%s", log_tail());
	cr_assert_eq(log_count("master", "killed"), 0, "%s", log_tail());
}

/* ---- A raw FastCGI client, for peers that stall ------------------------- */

/* Connect to sluice's socket and send what `w` holds, nothing more. */
static void raw_send(struct fcgi_conn *c, const struct fcgi_buf *w)
{
	cr_assert_eq(fcgi_client_open(c, sp.sock), 0, "connect: %s", strerror(errno));
	cr_assert_eq(fcgi_client_send(c, w->p, w->len), 0);
}

/*
 * Wait up to `ms` for the peer to close `c`, taking what it sends first.
 * Returns how long it took, or -1 when it stayed open.
 */
static long wait_closed(struct fcgi_conn *c, long ms)
{
	long t0 = harness_now_ms();

	while (!c->closed && harness_now_ms() - t0 < ms)
		fcgi_client_fill(c, 50);
	return c->closed ? harness_now_ms() - t0 : -1;
}

/*
 * Half a request then silence, with one worker: the worker serves
 * others meanwhile, and read_timeout (1 s) cuts the stalled one.
 */
Test(pool, stalled_client_is_cut_by_read_timeout_and_holds_no_worker, .init = setup,
     .fini = teardown, .timeout = 20)
{
	struct fcgi_buf w = { 0 }, params = { 0 };
	pid_t kids[MAX_KIDS], after[MAX_KIDS];
	struct http_reply r;
	struct fcgi_conn c;
	long t0, took, closed;
	char *line;

	start_pool("pm = { mode = \"static\"; max_children = 1; };\n"
		   "limits = { read_timeout = 1; };", whoami_only);
	assert_workers(1, 3000, kids);
	fcgi_client_begin(&w, 1, FC_RESPONDER, 0);
	fcgi_client_params(&params, "GET", "/", NULL);
	fcgi_client_record(&w, FC_PARAMS, 1, params.p, params.len / 2);
	raw_send(&c, &w);
	t0 = harness_now_ms();

	get("/fresh/", &r);
	took = harness_now_ms() - t0;
	cr_assert_eq(r.status, 200);
	cr_assert_eq(pid_in_body(r.body), kids[0], "%s", r.body);
	cr_assert_lt(took, 700, "a request waited %ld ms behind a stalled client", took);
	http_reply_free(&r);

	closed = wait_closed(&c, 3000 - (harness_now_ms() - t0));
	took = harness_now_ms() - t0;
	fcgi_client_close(&c);
	fcgi_client_buf_free(&w);
	fcgi_client_buf_free(&params);
	cr_assert_neq(closed, -1, "the stalled connection is still open after %ld ms "
		      "(read_timeout 1 s)", took);
	cr_assert_geq(took, 800, "the stalled connection was closed after only %ld ms", took);
	line = wait_line("limits.read_timeout", NULL, LOG_WAIT_MS);
	free(line);
	cr_assert_eq(workers(after), 1);
	cr_assert_eq(after[0], kids[0], "the worker was replaced");
}

/*
 * A body that stops coming, with one worker: the handler reading it is
 * held at most read_timeout (1 s), then the connection is cut and the
 * worker serves the request that waited.
 */
Test(pool, stalled_body_is_cut_by_read_timeout, .init = setup, .fini = teardown,
     .timeout = 20)
{
	static const char *const mods[] = { "apps/echo /echo", "whoami /", NULL };
	struct fcgi_buf w = { 0 }, params = { 0 };
	pid_t kids[MAX_KIDS], after[MAX_KIDS];
	struct fcgi_conn c;
	struct job other;
	long t0, closed;
	char *line;

	start_pool("pm = { mode = \"static\"; max_children = 1; };\n"
		   "limits = { read_timeout = 1; };", mods);
	assert_workers(1, 3000, kids);
	fcgi_client_begin(&w, 1, FC_RESPONDER, 0);
	fcgi_client_params(&params, "POST", "/echo", "100");
	fcgi_client_stream(&w, FC_PARAMS, 1, params.p, params.len, 65535);
	fcgi_client_record(&w, FC_STDIN, 1, "ten bytes!", 10);
	raw_send(&c, &w);
	t0 = harness_now_ms();
	harness_sleep_ms(100);

	job_start(&other, "/fresh/");
	closed = wait_closed(&c, 3000);
	fcgi_client_close(&c);
	fcgi_client_buf_free(&w);
	fcgi_client_buf_free(&params);
	cr_assert_neq(closed, -1, "the connection with a stalled body is still open after 3 s "
		      "(read_timeout 1 s)");
	job_join(&other);
	cr_assert_eq(other.rc, 0);
	cr_assert_eq(other.reply.status, 200, "%ld %s", other.reply.status, other.reply.body);
	cr_assert_lt(other.end_ms - t0, 2500, "a request waited %ld ms behind a stalled body "
		     "(read_timeout 1 s)", other.end_ms - t0);
	http_reply_free(&other.reply);
	line = wait_line("request body slower than limits.min_rate", NULL, LOG_WAIT_MS);
	free(line);
	cr_assert_eq(workers(after), 1);
	cr_assert_eq(after[0], kids[0], "the worker was replaced");
}

/* ---- 6. Recycling ------------------------------------------------------- */

struct sampler {
	pthread_t thread;
	pid_t master;
	atomic_int stop;
	int fewest, most, samples;
};

/* Count the master's live children every 2 ms until told to stop. */
static void *sample_run(void *arg)
{
	struct sampler *s = arg;
	pid_t kids[MAX_KIDS];

	s->fewest = INT_MAX;
	while (!atomic_load(&s->stop)) {
		int n = harness_children(s->master, kids, MAX_KIDS, 0);

		if (n < s->fewest)
			s->fewest = n;
		if (n > s->most)
			s->most = n;
		s->samples++;
		harness_sleep_ms(2);
	}
	return NULL;
}

Test(pool, max_requests_recycles_one_at_a_time_without_losing_capacity, .init = setup,
     .fini = teardown, .timeout = 30)
{
	pid_t before[MAX_KIDS], after[MAX_KIDS], served[64];
	struct sampler s = { .fewest = 0 };
	int nserved = 0, recycles = 0, asks, replaced = 0;
	struct http_reply r;
	size_t at = 0;
	char *line, *stop;

	start_pool("pm = { mode = \"static\"; max_children = 2; max_requests = 5;\n"
		   "  min_recycle_interval = \"100ms\"; };", whoami_only);
	assert_workers(2, 3000, before);
	s.master = sp.pid;
	cr_assert_eq(pthread_create(&s.thread, NULL, sample_run, &s), 0);
	for (int i = 0; i < 20; i++) {
		pid_t pid;

		get("/fresh/", &r);
		cr_assert_eq(r.status, 200, "request %d: %ld %s", i, r.status, r.body);
		pid = pid_in_body(r.body);
		if (!harness_has_pid(served, nserved, pid))
			served[nserved++] = pid;
		http_reply_free(&r);
		/* A replacement takes over before a worker serves much past 5. */
		harness_sleep_ms(30);
	}
	/* Every worker that asked is replaced, one after the other. */
	for (long deadline = harness_now_ms() + 3000; harness_now_ms() < deadline;
	     harness_sleep_ms(20)) {
		recycles = log_count("recycling (pm.max_requests)", NULL);
		if (recycles >= log_count("asking for a replacement", NULL) &&
		    log_count("stopping (replaced)", NULL) >= recycles && worker_count() == 2)
			break;
	}
	harness_sleep_ms(100);
	atomic_store(&s.stop, 1);
	cr_assert_eq(pthread_join(s.thread, NULL), 0);

	recycles = log_count("recycling (pm.max_requests)", NULL);
	asks = log_count("asking for a replacement", NULL);
	cr_log_info("20 requests, max_requests 5: %d asked, %d recycled, %d pids served, "
		    "2 to %d workers (%d samples)", asks, recycles, nserved, s.most, s.samples);
	cr_assert_eq(recycles, asks, "%d workers asked to be recycled, %d were:\n%s", asks,
		     recycles, log_tail());
	cr_assert_geq(recycles, 2, "%d recycling lines:\n%s", recycles, log_tail());
	cr_assert_geq(nserved, 3, "only %d pids served 20 requests with max_requests 5",
		      nserved);
	cr_assert_geq(s.fewest, 2, "at one moment the pool had %d worker(s), not 2", s.fewest);
	cr_assert_eq(workers(after), 2);
	for (int i = 0; i < 2; i++)
		replaced += !harness_has_pid(after, 2, before[i]);
	cr_assert_geq(replaced, 1, "no worker was replaced");

	/*
	 * Each recycled worker was stopped after the line that announced
	 * its replacement (logged once the replacement was forked), never
	 * before it.
	 */
	while ((line = log_line_after(at, "recycling (pm.max_requests)", NULL, &at)) != NULL) {
		pid_t old = pid_in_line(line);

		stop = log_line_after(at, pid_tag(old), "stopping (replaced)", NULL);
		cr_assert_not_null(stop, "worker %d was not stopped after its replacement "
				   "started:\n%s\n%s", (int)old, line, log_tail());
		cr_assert_eq(log_count(pid_tag(old), "stopping"), 1, "%s", log_tail());
		free(stop);
		free(line);
	}
}

/* Milliseconds since midnight of a log line's time stamp ("YYYY-MM-DD hh:mm:ss.mmm"). */
static long stamp_ms(const char *line)
{
	int h, m, sec, ms;

	cr_assert_eq(sscanf(line, "%*d-%*d-%*d %d:%d:%d.%d", &h, &m, &sec, &ms), 4,
		     "no time stamp: %s", line);
	return ((h * 60L + m) * 60L + sec) * 1000L + ms;
}

/*
 * Both workers reach max_requests together: the second recycle waits
 * for min_recycle_interval (500 ms) instead of restarting the pool at
 * once, and it does happen.  Requests go in pairs, the second sent while
 * the first holds a worker, so that each worker serves five.
 */
Test(pool, min_recycle_interval_spaces_recycles_and_loses_none, .init = setup,
     .fini = teardown, .timeout = 20)
{
	pid_t kids[MAX_KIDS];
	struct job pair[2];
	int count[2] = { 0, 0 }, recycles;
	char *first, *second;
	size_t at = 0;
	long gap;

	start_pool("pm = { mode = \"static\"; max_children = 2; max_requests = 5;\n"
		   "  min_recycle_interval = \"500ms\"; };", hang_whoami);
	assert_workers(2, 3000, kids);
	for (int round = 0; round < 5; round++) {
		job_start(&pair[0], "/fresh/sleep?ms=150");
		harness_sleep_ms(40);
		job_start(&pair[1], "/fresh/sleep?ms=150");
		for (int i = 0; i < 2; i++) {
			pid_t pid;

			job_join(&pair[i]);
			cr_assert_eq(pair[i].rc, 0);
			cr_assert_eq(pair[i].reply.status, 200, "%ld %s", pair[i].reply.status,
				     pair[i].reply.body);
			pid = pid_in_body(pair[i].reply.body);
			count[0] += pid == kids[0];
			count[1] += pid == kids[1];
			http_reply_free(&pair[i].reply);
		}
	}
	cr_assert(count[0] == 5 && count[1] == 5, "two requests at once did not go to the two "
		  "workers: %d and %d of 10", count[0], count[1]);

	for (long deadline = harness_now_ms() + 2500; harness_now_ms() < deadline;
	     harness_sleep_ms(20))
		if (log_count("recycling (pm.max_requests)", NULL) >= 2)
			break;
	recycles = log_count("recycling (pm.max_requests)", NULL);
	cr_assert_eq(log_count("asking for a replacement", NULL), 2, "%s", log_tail());
	cr_assert_eq(recycles, 2, "both workers asked to be recycled, %d were, 2.5 s later:\n%s",
		     recycles, log_tail());
	first = log_line_after(0, "recycling (pm.max_requests)", NULL, &at);
	second = log_line_after(at, "recycling (pm.max_requests)", NULL, NULL);
	gap = stamp_ms(second) - stamp_ms(first);
	cr_assert_geq(gap, 450, "two recycles %ld ms apart (min_recycle_interval 500ms)", gap);
	free(first);
	free(second);
	for (int i = 0; i < 2; i++)
		cr_assert(harness_wait_gone(kids[i], 2000), "worker %d was not replaced",
			  (int)kids[i]);
	assert_workers(2, 1000, NULL);
}

Test(pool, reload_on_rss_recycles_a_worker_that_grew, .init = setup, .fini = teardown,
     .timeout = 30)
{
	static const char *const mods[] = { "leak /", NULL };
	pid_t served[32];
	int nserved = 0;
	long most = 0, total;
	struct http_reply r;
	char *line;

	start_pool("pm = { mode = \"static\"; max_children = 1; reload_on_rss = \"32M\"; };",
		   mods);
	assert_workers(1, 3000, served);
	for (int i = 0; i < 12; i++) {
		int pid;

		get("/fresh/leak?mb=8", &r);
		cr_assert_eq(r.status, 200, "request %d: %ld %s", i, r.status, r.body);
		cr_assert_eq(sscanf(r.body, "leaked 8 MiB in %d, %ld MiB in all", &pid, &total), 2,
			     "%s", r.body);
		if (!harness_has_pid(served, nserved, pid))
			served[nserved++] = pid;
		if (total > most)
			most = total;
		http_reply_free(&r);
		harness_sleep_ms(150);
	}
	line = wait_line("pm.reload_on_rss", NULL, LOG_WAIT_MS);
	assert_line_has(line, "recycling");
	free(line);
	cr_log_info("12 requests leaking 8 MiB each: %d workers, at most %ld MiB in one",
		    nserved, most);
	cr_assert_geq(nserved, 2, "one worker served every leaking request");
	cr_assert_leq(most, 72, "a worker grew to %ld MiB leaked with reload_on_rss 32M", most);
	assert_workers(1, 3000, served);
}

/* ---- 7. Graceful reload ------------------------------------------------- */

static const char *const crash_only[] = { "crash /", NULL };
#define STATIC_2 "pm = { mode = \"static\"; max_children = 2; };"

/* Wait up to `ms` for every pid in `set` to be gone. */
/*
 * A reloaded generation leaves once it is idle; in the dev profile each
 * worker's exit also runs LeakSanitizer's scan, and six of them at once
 * on a loaded 2-CPU machine took 2.4 to 3.5 s.  How fast they leave is
 * not what the callers check.
 */
#define GONE_WAIT_MS	10000

static void assert_all_gone(const pid_t *set, int n, long ms)
{
	long deadline = harness_now_ms() + ms;

	for (int i = 0; i < n; i++) {
		long left = deadline - harness_now_ms();

		cr_assert(harness_wait_gone(set[i], left > 0 ? left : 0),
			  "process %d still runs after %ld ms:\n%s", (int)set[i], ms, log_tail());
	}
}

/*
 * Control channels `pid` holds: its unix SOCK_SEQPACKET sockets (type
 * 0005 in /proc/net/unix), which is what holder.c makes them of; the
 * listener and nginx's connections are SOCK_STREAM.
 */
static int channels_of(pid_t pid)
{
	static unsigned long inodes[4096];
	char line[512];
	unsigned long ino;
	unsigned type;
	int ninodes = 0;
	FILE *f = fopen("/proc/net/unix", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f) && ninodes < 4096)
		if (sscanf(line, "%*s %*s %*s %*s %x %*s %lu", &type, &ino) == 2 && type == 5)
			inodes[ninodes++] = ino;
	fclose(f);
	cr_assert(kill(pid, 0) == 0, "worker %d is gone", (int)pid);
	return sockets_among(pid, inodes, ninodes);
}

/*
 * Workers started together each hold one control channel, their own:
 * none holds the channel of a sibling forked before it (the master
 * closes its copies of those only once the whole batch is forked), at
 * start and after a reload.  A worker that held a sibling's would keep
 * it open after that sibling died, and could speak on it.
 */
static void assert_own_channel_only(const pid_t *kids, int n)
{
	for (int i = 0; i < n; i++) {
		int held = channels_of(kids[i]);

		/* Until it first runs, a new worker holds the master's copies
		 * of every channel: give it time to let them go. */
		for (long deadline = harness_now_ms() + 3000;
		     held != 1 && harness_now_ms() < deadline; harness_sleep_ms(10))
			held = channels_of(kids[i]);
		cr_assert_eq(held, 1, "worker %d holds %d control channels", (int)kids[i], held);
	}
}

Test(pool, workers_started_together_hold_no_sibling_channel, .init = setup,
     .fini = teardown, .timeout = 30)
{
	pid_t before[MAX_KIDS], after[MAX_KIDS];
	struct http_reply r;
	char *line;

	start_pool("pm = { mode = \"static\"; max_children = 6; };", whoami_only);
	assert_workers(6, 3000, before);
	assert_own_channel_only(before, 6);
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	line = wait_line("generation 2 serves", NULL, 5000);
	free(line);
	assert_all_gone(before, 6, GONE_WAIT_MS);
	assert_workers(6, 1000, after);
	assert_own_channel_only(after, 6);
	get("/fresh/", &r);
	cr_assert_eq(r.status, 200, "GET /fresh/: %ld", r.status);
	http_reply_free(&r);
}

Test(pool, sighup_loads_a_new_module_in_a_new_generation, .init = setup, .fini = teardown,
     .timeout = 30)
{
	static const char *const mods2[] = { "crash /", "ver1 /", NULL };
	pid_t before[MAX_KIDS], after[MAX_KIDS];
	struct http_reply r;
	char *line;

	start_pool(STATIC_2, crash_only);
	assert_workers(2, 3000, before);
	get("/fresh/ver", &r);
	cr_assert_eq(r.status, 404, "/ver before the reload: %ld", r.status);
	http_reply_free(&r);

	free(rewrite_conf(STATIC_2, mods2));
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	line = wait_line("generation 2 serves", NULL, 5000);
	free(line);
	get_ok("/fresh/ver", "v1\n");
	get_ok("/ver", "v1\n");
	get_ok("/ok", "ok\n");
	assert_all_gone(before, 2, GONE_WAIT_MS);
	assert_workers(2, 1000, after);
	cr_assert_eq(log_count("started (generation 2)", NULL), 2, "%s", log_tail());
}

Test(pool, sighup_with_a_broken_config_keeps_the_old_workers, .init = setup,
     .fini = teardown, .timeout = 20)
{
	pid_t before[MAX_KIDS], after[MAX_KIDS];
	char where[256], *text, *line;
	const char *typo;
	int lineno = 1;

	start_pool(STATIC_2, crash_only);
	assert_workers(2, 3000, before);
	text = rewrite_conf("pm = { mode = \"static\";\n  max_chidren = 2; };", crash_only);
	typo = strstr(text, "max_chidren");
	for (const char *p = text; p < typo; p++)
		lineno += *p == '\n';
	free(text);
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	line = wait_line("reload failed", NULL, LOG_WAIT_MS);
	snprintf(where, sizeof(where), "%s:%d", sp.conf, lineno);
	assert_line_has(line, where);
	free(line);

	harness_sleep_ms(300);
	cr_assert_eq(workers(after), 2);
	cr_assert(after[0] == before[0] && after[1] == before[1],
		  "a failed reload replaced the workers:\n%s", log_tail());
	for (int i = 0; i < 4; i++)
		get_ok("/fresh/ok", "ok\n");
	cr_assert_eq(log_count("generation 2", NULL), 0, "%s", log_tail());

	/* Fixed, the next SIGHUP goes through. */
	free(rewrite_conf(STATIC_2, crash_only));
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	line = wait_line("generation 2 serves", NULL, 5000);
	free(line);
	get_ok("/fresh/ok", "ok\n");
}

Test(pool, sighup_to_a_module_whose_init_crashes_is_abandoned, .init = setup,
     .fini = teardown, .timeout = 30)
{
	static const char *const mods2[] = { "crash /", "init_crash /ic", NULL };
	pid_t before[MAX_KIDS], after[MAX_KIDS];
	char *line;

	start_pool(STATIC_2, crash_only);
	assert_workers(2, 3000, before);
	free(rewrite_conf(STATIC_2, mods2));
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	line = wait_line("reload failed", "generation 2", 10000);
	assert_line_has(line, "still serving generation 1");
	free(line);
	cr_assert_eq(log_count("generation 2 serves", NULL), 0, "%s", log_tail());

	assert_workers(2, 3000, after);
	cr_assert(after[0] == before[0] && after[1] == before[1],
		  "an abandoned reload replaced the workers:\n%s", log_tail());
	for (int i = 0; i < 4; i++)
		get_ok("/fresh/ok", "ok\n");
	get_ok("/ok", "ok\n");
}

#define RELOADS		20
#define LOAD_CLIENTS	8

struct loader {
	pthread_t thread;
	char url[512];
	atomic_int *stop;
	long requests;
	long failures;
	char failure[256];
};

/* GET in a loop on one kept-alive connection to nginx until told to stop. */
static void *load_run(void *arg)
{
	struct loader *l = arg;
	CURL *c = curl_easy_init();
	struct small_buf b;
	long status;
	CURLcode rc;

	if (c == NULL) {
		l->failures = 1;
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_URL, l->url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, small_append);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	while (!atomic_load(l->stop)) {
		b.len = 0;
		b.data[0] = '\0';
		status = 0;
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		l->requests++;
		if (rc != CURLE_OK || status != 200 || strcmp(b.data, "ok\n") != 0) {
			if (l->failures++ == 0)
				snprintf(l->failure, sizeof(l->failure), "request %ld: %s, status "
					 "%ld, body \"%.100s\"", l->requests, curl_easy_strerror(rc),
					 status, b.data);
		}
	}
	curl_easy_cleanup(c);
	return NULL;
}

#define FAILED_RELOADS 1000

/*
 * Lines of sluice's log from *at on that hold `needle`; *at moves past
 * what was read, so that waiting for the next one reads only what is new.
 */
static int count_new(FILE *log, const char *needle)
{
	char line[4096];
	int n = 0;

	clearerr(log);
	while (fgets(line, sizeof(line), log))
		n += strstr(line, needle) != NULL;
	return n;
}

/*
 * 1,000 reloads of a config with a syntax error (libconfig 1.5 leaks
 * about 64 bytes on each): every one refused, the pool serving on, and
 * the master's memory bounded: under 1 MiB of growth after the first 20
 * (2 MiB under AddressSanitizer).
 */
Test(pool, a_thousand_failed_reloads_keep_the_master_small, .init = setup,
     .fini = teardown, .timeout = 120)
{
	struct http_reply r;
	long before = 0, after;
	int failed = 0;
	FILE *log;

	/* AddressSanitizer keeps freed memory aside (its quarantine, up to
	 * 256 MiB), which would be measured as growth: off for this master. */
	if (strcmp(SLUICE_PROFILE, "dev") == 0)
		setenv("ASAN_OPTIONS", "quarantine_size_mb=0", 1);
	start_pool("pm = { mode = \"static\"; max_children = 1; };", hang_whoami);
	unsetenv("ASAN_OPTIONS");
	assert_workers(1, 3000, NULL);
	log = fopen(sp.conf, "w");
	cr_assert_not_null(log);
	fputs("listen = \"/tmp/x.sock\"\nthis is not a config;\n", log);
	cr_assert_eq(fclose(log), 0);
	log = fopen(sp.log, "r");
	cr_assert_not_null(log);
	for (int i = 0; i < FAILED_RELOADS; i++) {
		long until = harness_now_ms() + 3000;

		if (i == 20)
			before = harness_rss_kb(sp.pid);
		cr_assert_eq(kill(sp.pid, SIGHUP), 0);
		while ((failed += count_new(log, "reload failed, still serving")) <= i &&
		       harness_now_ms() < until)
			harness_sleep_ms(1);
		cr_assert_gt(failed, i, "reload %d was not refused within 3 s", i + 1);
	}
	fclose(log);
	after = harness_rss_kb(sp.pid);
	cr_log_info("master VmRSS after 20 failed reloads %ld kB, after %d: %ld kB", before,
		    FAILED_RELOADS, after);
	get("/fresh/pid", &r);
	cr_assert_eq(r.status, 200, "after the failed reloads: %ld", r.status);
	http_reply_free(&r);
	/* AddressSanitizer's allocator caches about 1 KiB a reload even so. */
	cr_assert_lt(after - before, strcmp(SLUICE_PROFILE, "dev") == 0 ? 2048 : 1024,
		     "the master grew by %ld kB over %d failed reloads", after - before,
		     FAILED_RELOADS - 20);
}

Test(pool, twenty_reloads_under_load_lose_no_request, .init = setup, .fini = teardown,
     .timeout = 60)
{
	static struct loader loaders[LOAD_CLIENTS];
	atomic_int stop = 0;
	long requests = 0, failures = 0, t0;
	char needle[64];

	start_pool(STATIC_2, crash_only);
	assert_workers(2, 3000, NULL);
	for (int i = 0; i < LOAD_CLIENTS; i++) {
		memset(&loaders[i], 0, sizeof(loaders[i]));
		snprintf(loaders[i].url, sizeof(loaders[i].url), "%s", url("/ok"));
		loaders[i].stop = &stop;
		cr_assert_eq(pthread_create(&loaders[i].thread, NULL, load_run, &loaders[i]), 0);
	}
	t0 = harness_now_ms();
	for (int g = 2; g <= RELOADS + 1; g++) {
		harness_sleep_ms(300);
		if (logscan_reload(&sp, g, 5000) != 0)
			break;
	}
	harness_sleep_ms(300);
	atomic_store(&stop, 1);
	for (int i = 0; i < LOAD_CLIENTS; i++) {
		cr_assert_eq(pthread_join(loaders[i].thread, NULL), 0);
		requests += loaders[i].requests;
		failures += loaders[i].failures;
		if (loaders[i].failures > 0)
			cr_log_error("client %d: %ld of %ld failed, first: %s", i,
				     loaders[i].failures, loaders[i].requests, loaders[i].failure);
	}
	cr_log_info("%d reloads under %d clients in %ld ms: %ld requests, %ld failed",
		    RELOADS, LOAD_CLIENTS, harness_now_ms() - t0, requests, failures);
	snprintf(needle, sizeof(needle), "generation %d serves", RELOADS + 1);
	cr_assert_eq(log_count(needle, NULL), 1, "the %d reloads did not all complete:\n%s",
		     RELOADS, log_tail());
	cr_assert_eq(log_count("stopping (reloaded)", NULL), 2 * RELOADS,
		     "not every reload replaced both workers:\n%s", log_tail());
	cr_assert_eq(failures, 0, "%ld of %ld requests failed during %d reloads", failures,
		     requests, RELOADS);
	cr_assert_geq(requests, 200, "only %ld requests made: the load was not continuous",
		      requests);
	cr_assert_eq(log_count("[error]", NULL), 0, "sluice logged errors:\n%s", log_tail());
}

/* Copy `from` to `to` through a file beside it and a rename, as a linker writes. */
static void install_file(const char *from, const char *to)
{
	char tmp[PATH_MAX + 8], buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	cr_assert_geq(in, 0, "%s: %s", from, strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s.new", to);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	cr_assert_geq(out, 0, "%s: %s", tmp, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	close(in);
	cr_assert_eq(close(out), 0);
	cr_assert_eq(rename(tmp, to), 0);
}

Test(pool, sighup_after_a_rebuild_serves_the_new_code, .init = setup, .fini = teardown,
     .timeout = 20)
{
	char served[PATH_MAX], v1[PATH_MAX], v2[PATH_MAX], entry[PATH_MAX + 8], *line;
	const char *mods[] = { entry, NULL };

	module_path(v1, "ver1");
	module_path(v2, "ver2");
	snprintf(served, sizeof(served), "%s/ver.so", scratch);
	snprintf(entry, sizeof(entry), "%s /", served);
	install_file(v1, served);
	start_pool(STATIC_2, mods);
	get_ok("/fresh/ver", "v1\n");
	get_ok("/ver", "v1\n");

	install_file(v2, served);
	cr_assert_eq(kill(sp.pid, SIGHUP), 0);
	line = wait_line("generation 2 serves", NULL, 5000);
	free(line);
	line = wait_line("changed on disk", NULL, 100);
	assert_line_has(line, served);
	free(line);
	/*
	 * A replaced worker may answer one last request on each kept-alive
	 * connection it holds (closing the connection right after), for at
	 * most DRAIN_KEPT_MS: answering with the old code, never failing.
	 * New connections get the new code at once.
	 */
	get_ok("/fresh/ver", "v2\n");
	for (long deadline = harness_now_ms() + DRAIN_KEPT_MS + 1000; harness_now_ms() < deadline;
	     harness_sleep_ms(50)) {
		struct http_reply r;
		int old;

		get("/ver", &r);
		cr_assert_eq(r.status, 200, "GET /ver during the hand-over: %ld", r.status);
		old = strcmp(r.body, "v1\n") == 0;
		cr_assert(old || strcmp(r.body, "v2\n") == 0, "GET /ver: %s", r.body);
		http_reply_free(&r);
		if (!old)
			break;
	}
	for (int i = 0; i < 4; i++) {
		get_ok("/fresh/ver", "v2\n");
		get_ok("/ver", "v2\n");
	}
}

/* ---- 8. Graceful and fast shutdown -------------------------------------- */

Test(pool, sigterm_lets_the_request_in_flight_finish_then_exits_0, .init = setup,
     .fini = teardown, .timeout = 20)
{
	struct job slow;
	struct stat st;
	int status = 0;
	long took;

	start_pool(STATIC_2, hang_whoami);
	assert_workers(2, 3000, NULL);
	job_start(&slow, "/fresh/sleep?ms=1500");
	harness_sleep_ms(300);
	cr_assert_eq(kill(sp.pid, SIGTERM), 0);
	took = wait_master(6000, &status, 1);
	job_join(&slow);
	cr_assert_neq(took, -1, "the master did not exit within 6 s of SIGTERM:\n%s", log_tail());
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the master ended with wait status %#x", status);
	cr_assert_eq(slow.rc, 0, "the request in flight got no response");
	cr_assert_eq(slow.reply.status, 200, "the request in flight: %ld %s", slow.reply.status,
		     slow.reply.body);
	cr_assert_eq(strncmp(slow.reply.body, "slept 1500 ms in ", 17), 0, "%s",
		     slow.reply.body);
	cr_assert_geq(took, 900, "the master exited %ld ms after SIGTERM, before the "
		      "request in flight could finish", took);
	http_reply_free(&slow.reply);
	cr_assert(lstat(sp.sock, &st) != 0 && errno == ENOENT,
		  "the socket file %s is still there", sp.sock);
}

Test(pool, sigint_stops_fast_even_with_a_hanging_request, .init = setup, .fini = teardown,
     .timeout = 20)
{
	pid_t kids[MAX_KIDS];
	struct job hung;
	struct stat st;
	int status = 0;
	long took;

	start_pool(STATIC_2, crash_mods);
	assert_workers(2, 3000, kids);
	job_start(&hung, "/fresh/hang");
	harness_sleep_ms(300);
	cr_assert_eq(kill(sp.pid, SIGINT), 0);
	took = wait_master(3000, &status, 1);
	cr_assert_neq(took, -1, "the master did not exit within 3 s of SIGINT:\n%s", log_tail());
	cr_assert_leq(took, 2000, "the master took %ld ms to stop on SIGINT", took);
	cr_assert(WIFEXITED(status), "the master ended with wait status %#x", status);
	for (int i = 0; i < 2; i++)
		cr_assert(harness_proc_gone(kids[i]), "worker %d outlived its master",
			  (int)kids[i]);
	cr_assert(lstat(sp.sock, &st) != 0 && errno == ENOENT,
		  "the socket file %s is still there", sp.sock);
	job_join(&hung);
	cr_assert_eq(hung.rc, 0, "the hanging request got no response at all");
	cr_expect_eq(hung.reply.status, 502, "the killed request: %ld", hung.reply.status);
	http_reply_free(&hung.reply);
}

/*
 * SIGQUIT is graceful too, and limits.shutdown_timeout bounds it: the
 * request that can finish does, the one that hangs is killed when the
 * timeout (1 s) is up.
 */
Test(pool, sigquit_finishes_what_it_can_within_shutdown_timeout, .init = setup,
     .fini = teardown, .timeout = 20)
{
	struct job slow, hung;
	struct stat st;
	int status = 0;
	long took;

	start_pool(STATIC_2 "\nlimits = { shutdown_timeout = 1; };", crash_mods);
	assert_workers(2, 3000, NULL);
	job_start(&hung, "/fresh/hang");
	harness_sleep_ms(150);
	job_start(&slow, "/fresh/sleep?ms=600");
	harness_sleep_ms(150);
	cr_assert_eq(kill(sp.pid, SIGQUIT), 0);
	took = wait_master(4000, &status, 1);
	job_join(&slow);
	job_join(&hung);
	cr_assert_neq(took, -1, "the master did not exit within 4 s of SIGQUIT:\n%s", log_tail());
	cr_assert(took >= 800 && took <= 2500, "the master exited %ld ms after SIGQUIT "
		  "(shutdown_timeout 1 s, a request hanging)", took);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait status %#x", status);
	cr_assert_eq(slow.rc, 0);
	cr_assert_eq(slow.reply.status, 200, "the request that could finish: %ld %s",
		     slow.reply.status, slow.reply.body);
	cr_assert_eq(hung.rc, 0, "the hanging request got no response at all");
	cr_expect_eq(hung.reply.status, 502, "the killed request: %ld", hung.reply.status);
	http_reply_free(&slow.reply);
	http_reply_free(&hung.reply);
	cr_assert(lstat(sp.sock, &st) != 0 && errno == ENOENT,
		  "the socket file %s is still there", sp.sock);
}

/* ---- 9. Crash loops ----------------------------------------------------- */

Test(pool, init_crash_loop_backs_off_and_the_master_still_obeys, .init = setup,
     .fini = teardown, .timeout = 20)
{
	static const char *const mods[] = { "init_crash /", NULL };
	int starts, exits, crashes, status = 0;
	char *line;
	long took;

	start_pool(STATIC_2, mods);
	harness_sleep_ms(4000);
	starts = log_count("master", "started");
	exits = log_count("master", "killed by signal 11");
	crashes = log_count("crashed on SIGSEGV", NULL);
	cr_log_info("a crash loop over 4 s: %d workers started, %d crashes, %d exit lines",
		    starts, crashes, exits);
	cr_assert_geq(starts, 3, "the master gave up restarting after %d starts:\n%s", starts,
		      log_tail());
	cr_assert_lt(starts, 20, "%d workers started in 4 s: no backoff", starts);
	cr_assert_lt(exits, 20, "%d exit lines in 4 s", exits);
	cr_assert_lt(exits, crashes, "every one of %d exits was logged: no rate limit:\n%s",
		     crashes, log_tail());
	line = wait_line("backing off", NULL, 100);
	free(line);
	line = wait_line("crashed on SIGSEGV", NULL, 100);
	assert_line_has(line, "outside any request");
	assert_line_has(line, "init_crash_fixture_init");
	free(line);

	cr_assert_eq(kill(sp.pid, SIGTERM), 0);
	took = wait_master(2000, &status, 1);
	cr_assert_neq(took, -1, "the master did not exit within 2 s of SIGTERM during a crash "
		      "loop:\n%s", log_tail());
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait status %#x", status);
}

Test(pool, emergency_restart_threshold_reloads_after_three_crashes, .init = setup,
     .fini = teardown, .timeout = 30)
{
	struct http_reply r;
	char *line;

	start_pool(STATIC_2 "\nemergency_restart_threshold = 3;\n"
		   "emergency_restart_interval = 10;", crash_mods);
	assert_workers(2, 3000, NULL);
	for (int i = 0; i < 3; i++) {
		get("/fresh/segv", &r);
		cr_assert_eq(r.status, 502, "crash %d: %ld", i, r.status);
		http_reply_free(&r);
	}
	line = wait_line("emergency_restart_threshold", NULL, LOG_WAIT_MS);
	free(line);
	line = wait_line("generation 2 serves", NULL, 5000);
	free(line);
	get_ok("/fresh/ok", "ok\n");
	get_ok("/ok", "ok\n");
}

/*
 * Workers that crash in requests right after they started may be
 * restarted with a delay, but the log must not say they die at start:
 * they served.
 */
Test(pool, crashes_in_requests_are_not_logged_as_dying_at_start, .init = setup,
     .fini = teardown, .timeout = 20)
{
	struct http_reply r;

	start_pool(STATIC_2, crash_mods);
	assert_workers(2, 3000, NULL);
	for (int i = 0; i < 3; i++) {
		get("/fresh/segv", &r);
		cr_assert_eq(r.status, 502, "crash %d: %ld", i, r.status);
		http_reply_free(&r);
	}
	get_ok("/fresh/ok", "ok\n");
	cr_assert_eq(log_count("crashed on SIGSEGV", "route GET /segv"), 3, "%s", log_tail());
	cr_assert_eq(log_count("dying at start", NULL), 0, "workers that crashed in a request "
		     "were logged as dying at start:\n%s", log_tail());
}

/* ---- 10. The master dies ------------------------------------------------ */

Test(pool, killed_master_workers_finish_and_leave_and_a_new_master_binds,
     .init = setup, .fini = teardown, .timeout = 30)
{
	pid_t kids[MAX_KIDS], now_kids[MAX_KIDS];
	struct http_reply r;
	struct job slow;
	struct stat st;
	long t0, left;
	int status;

	start_pool(STATIC_2, hang_whoami);
	assert_workers(2, 3000, kids);
	job_start(&slow, "/fresh/sleep?ms=1000");
	harness_sleep_ms(300);
	orphans = sp.pid;
	cr_assert_eq(kill(sp.pid, SIGKILL), 0);
	t0 = harness_now_ms();
	cr_assert_neq(wait_master(2000, &status, 0), -1);

	job_join(&slow);
	cr_assert_eq(slow.rc, 0, "the request in flight got no response");
	cr_assert_eq(slow.reply.status, 200, "the request in flight: %ld %s", slow.reply.status,
		     slow.reply.body);
	cr_assert_eq(strncmp(slow.reply.body, "slept 1000 ms in ", 17), 0, "%s",
		     slow.reply.body);
	http_reply_free(&slow.reply);
	for (int i = 0; i < 2; i++) {
		left = t0 + 2000 - harness_now_ms();
		cr_assert(harness_wait_gone(kids[i], left > 0 ? left : 0),
			  "worker %d still runs %ld ms after its master was killed:\n%s",
			  (int)kids[i], harness_now_ms() - t0, log_tail());
	}
	cr_assert(lstat(sp.sock, &st) == 0 && S_ISSOCK(st.st_mode),
		  "the killed master's socket file is not there to be stale");

	/* A new master on the same config takes the stale path over. */
	sp.pid = harness_sluice_respawn(&sp);
	cr_assert_gt(sp.pid, 0, "sluice could not be started again");
	cr_assert_eq(harness_wait_socket(sp.pid, sp.sock), 0, "the new master does not listen:\n%s",
		     log_tail());
	cr_assert_eq(log_count("listening on", NULL), 2, "%s", log_tail());
	assert_workers(2, 3000, now_kids);
	get("/fresh/pid", &r);
	cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
	cr_assert(harness_has_pid(now_kids, 2, pid_in_body(r.body)), "%s", r.body);
	http_reply_free(&r);
	get("/pid", &r);
	cr_assert_eq(r.status, 200, "through a kept-alive upstream: %ld %s", r.status, r.body);
	http_reply_free(&r);
}
