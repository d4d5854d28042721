/*
 * fcgi2_supervise.c - unchanged libfcgi programs supervised by sluice
 * (program.c), through the real nginx.
 *
 * The program is tests/programs/report.c, built against Debian's
 * libfcgi-dev: it accepts on descriptor 0 and reports its pid, user,
 * folder and environment.  nginx talks to it as it talks to a
 * spawn-fcgi program: `fastcgi_pass unix:SOCK`, no kept-alive
 * connections (a libfcgi process is pinned by one).  What a user must
 * see:
 *
 *	- pages served by every copy;
 *	- a copy killed with SIGKILL under load costs at most the request
 *	  it held, and is replaced;
 *	- malformed input that kills a libfcgi 2.4.2 program (PARAMS
 *	  lengths 0x7ffffffe and 0x40000000, GET_VALUES with FCGI_MAX_CONNS
 *	  3000 times) costs that request only, and the pool serves again
 *	  within a second, even with one copy;
 *	- reloads under POST load lose nothing;
 *	- copies past pm.reload_on_rss or program.max_lifetime are
 *	  replaced;
 *	- a program that exits at once does not make the master spin;
 *	- user, group, env, clear_env and chdir are applied.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "check.h"
#include "fcgi_client.h"
#include "harness.h"
#include "load.h"
#include "logscan.h"

#define LOCATION \
	"location / {\n" \
	"  include /etc/nginx/fastcgi_params;\n" \
	"  fastcgi_pass unix:%SOCK%;\n" \
	"}\n"
#define REQ_TIMEOUT_MS	10000
#define MAX_COPIES	16

static struct sluice_proc sp;
static struct nginx_proc np;
static char progdir[128];

static void setup(void)
{
	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
}

static void teardown(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
	if (progdir[0])
		harness_remove_dir(progdir);
}

TestSuite(fcgi2_supervise, .init = setup, .fini = teardown, .timeout = 60);

/*
 * Start sluice supervising `program` (with `more` inside its group) and
 * `settings`, and nginx in front.
 */
static void start_with(const char *program, const char *more, const char *settings)
{
	char body[4096];

	snprintf(body, sizeof(body), "program = { path = \"%s\"; %s };\n"
		 "%s\n", program, more, settings);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
	cr_assert_eq(harness_nginx_start(&np, sp.sock, LOCATION), 0, "nginx did not start");
}

static void start(const char *more, const char *settings)
{
	char prog[512];

	assert_built(prog, sizeof(prog), "programs/report");
	start_with(prog, more, settings);
}

/* Lines of sluice's log so far holding `a`. */
static int log_count(const char *a)
{
	char *log = harness_sluice_log(&sp);
	int n = logscan_count(log, a, NULL);

	free(log);
	return n;
}

static const char *url(const char *path)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", np.port, path);
	return buf;
}

/* GET `path` through nginx: 200, and the body (malloc'ed). */
static char *get(const char *path)
{
	struct http_reply r;
	char *body;

	cr_assert_eq(http_request("GET", url(path), NULL, 0, NULL, &r), 0, "no answer for %s",
		     path);
	cr_assert_eq(r.status, 200, "GET %s: %ld\n%s", path, r.status, r.body);
	body = strdup(r.body);
	http_reply_free(&r);
	return body;
}

/* The pid a report names. */
static pid_t pid_in(const char *body)
{
	const char *p = strstr(body, "pid ");

	cr_assert_not_null(p, "no pid in:\n%s", body);
	return (pid_t)atoi(p + 4);
}

static int copies(pid_t *out)
{
	return logscan_workers(&sp, out, MAX_COPIES);
}

/*
 * Wait up to `ms` for `n` copies, none of them `gone`, and `ready` lines
 * in all of the log saying that a copy waits in accept.
 */
static void wait_copies(int n, pid_t gone, int ready, long ms)
{
	pid_t pids[MAX_COPIES];
	long end = harness_now_ms() + ms;
	int k = 0;

	while (harness_now_ms() < end) {
		k = copies(pids);
		if (k == n && !harness_has_pid(pids, k, gone) && log_count("waits in accept") >= ready)
			return;
		harness_sleep_ms(20);
	}
	cr_assert_fail("%d copies, not %d, within %ld ms:\n%s", k, n, ms, logscan_tail(&sp, 3000));
}

static void report_load(const char *what, const struct load *l)
{
	char line[1024];

	cr_log_info("%s: %s", what, load_summary(l, line, sizeof(line)));
}

/* ---- Serving ---------------------------------------------------------------- */

Test(fcgi2_supervise, serves_through_nginx_from_every_copy)
{
	pid_t seen[8], pids[MAX_COPIES];
	int nseen = 0;

	start("", "pm = { max_children = 2; };");
	wait_copies(2, 0, 2, 5000);
	/* Two requests at once land on two copies: the first is busy. */
	for (int i = 0; i < 40 && nseen < 2; i++) {
		char *body = get("/?PATH");
		pid_t pid = pid_in(body);

		assert_has(body, "PATH=-\n");	/* clear_env, the default */
		if (!harness_has_pid(seen, nseen, pid))
			seen[nseen++] = pid;
		free(body);
	}
	cr_assert_eq(copies(pids), 2);
	for (int i = 0; i < nseen; i++)
		cr_assert(harness_has_pid(pids, 2, seen[i]), "pid %d is no copy of sluice's",
			  (int)seen[i]);
	cr_assert_geq(nseen, 1);
}

/* ---- Copies that die -------------------------------------------------------- */

Test(fcgi2_supervise, a_copy_killed_under_load_costs_only_its_request)
{
	struct load_opts o = { .method = "GET", .clients = 4,
			       .duration_ms = 3000, .max_requests = 100000,
			       .timeout_ms = REQ_TIMEOUT_MS };
	struct load l;
	pid_t pids[MAX_COPIES];

	start("", "pm = { max_children = 3; };");
	wait_copies(3, 0, 3, 5000);
	cr_assert_eq(copies(pids), 3);
	o.url = url("/");
	cr_assert_eq(load_start(&l, &o), 0);
	harness_sleep_ms(1000);
	cr_assert_eq(kill(pids[0], SIGKILL), 0);
	load_wait(&l);
	report_load("kill -9 of one copy of three", &l);
	cr_assert_gt(l.n, 50, "too few requests to tell");
	cr_assert_leq(load_failed(&l), 1, "%ld requests failed; only the one the killed "
		      "copy held may", load_failed(&l));
	wait_copies(3, pids[0], 4, 2000);
	load_free(&l);
}

/* One malformed connection, straight to sluice's socket. */
static void send_raw(const struct fcgi_buf *b)
{
	struct fcgi_conn c;

	cr_assert_eq(fcgi_client_open(&c, sp.sock), 0);
	fcgi_client_send(&c, b->p, b->len);
	fcgi_client_fill(&c, 2000);	/* the copy dies: EOF */
	fcgi_client_close(&c);
}

/* BEGIN_REQUEST and one PARAMS pair with these lengths, as libfcgi reads them. */
static void bad_params(struct fcgi_buf *b, size_t name_len, size_t value_len)
{
	struct fcgi_buf pairs = { 0 };

	fcgi_client_begin(b, 1, FC_RESPONDER, 0);
	fcgi_client_len(&pairs, name_len, 1);
	fcgi_client_len(&pairs, value_len, 1);
	fcgi_client_buf_str(&pairs, "NAMENAMENAMENAME");
	fcgi_client_record(b, FC_PARAMS, 1, pairs.p, pairs.len);
	fcgi_client_buf_free(&pairs);
}

/* GET_VALUES asking for FCGI_MAX_CONNS 3000 times, then a BEGIN_REQUEST. */
static void bad_get_values(struct fcgi_buf *b)
{
	struct fcgi_buf pairs = { 0 };

	for (int i = 0; i < 3000; i++)
		fcgi_client_pair(&pairs, "FCGI_MAX_CONNS", "");
	fcgi_client_record(b, FC_GET_VALUES, 0, pairs.p, pairs.len);
	fcgi_client_begin(b, 1, FC_RESPONDER, 0);
	fcgi_client_buf_free(&pairs);
}

/*
 * Kill the only copy, once it waits in accept (the `ready`th such line),
 * with `b`, and measure from the send until a request through nginx is
 * answered by the new copy: under a second.
 */
static long kill_and_time(const struct fcgi_buf *b, int ready, const char *what)
{
	pid_t before[MAX_COPIES];
	long long t0;
	long took;
	char *body;

	wait_copies(1, 0, ready, 2000);
	cr_assert_eq(copies(before), 1);
	t0 = harness_now_us();
	send_raw(b);
	body = get("/");
	took = (long)((harness_now_us() - t0) / 1000);
	cr_assert_neq(pid_in(body), before[0], "%s: the same copy answered; it did not die", what);
	cr_log_info("%s: the copy died, and a new one answered %ld ms after the send", what, took);
	cr_assert_lt(took, 1000, "%s: answered %ld ms after the malformed input", what, took);
	free(body);
	return took;
}

Test(fcgi2_supervise, malformed_input_that_kills_libfcgi_costs_one_request)
{
	struct load_opts o = { .method = "GET", .clients = 2,
			       .duration_ms = 30000, .max_requests = 100000,
			       .timeout_ms = REQ_TIMEOUT_MS, .pace_ms = 20 };
	struct fcgi_buf b[3] = { { 0 }, { 0 }, { 0 } };
	struct load l;

	start("", "pm = { max_children = 1; };");
	wait_copies(1, 0, 1, 5000);
	bad_params(&b[0], 0x7ffffffe, 4);
	bad_params(&b[1], 0x40000000, 0x40000000);
	bad_get_values(&b[2]);
	o.url = url("/");
	cr_assert_eq(load_start(&l, &o), 0);
	kill_and_time(&b[0], 1, "PARAMS name length 0x7ffffffe");
	kill_and_time(&b[1], 2, "PARAMS lengths 0x40000000");
	kill_and_time(&b[2], 3, "GET_VALUES with FCGI_MAX_CONNS 3000 times");
	harness_sleep_ms(500);
	load_stop(&l);
	report_load("light load meanwhile", &l);
	cr_assert_eq(load_failed(&l), 0, "requests other than the malformed ones failed");
	cr_assert_eq(log_count("killed by signal"), 3, "%s", logscan_tail(&sp, 3000));
	for (int i = 0; i < 3; i++)
		fcgi_client_buf_free(&b[i]);
	load_free(&l);
}

/* A program that exits at once is started again and again, backing off. */
Test(fcgi2_supervise, a_program_that_exits_at_once_does_not_spin)
{
	long ticks, starts;
	char *log;

	start_with("/bin/false", "", "pm = { max_children = 2; };");
	harness_sleep_ms(4000);
	ticks = harness_cpu_ticks(sp.pid);
	log = harness_sluice_log(&sp);
	starts = logscan_count(log, "started (generation 1): program", NULL);
	cr_log_info("/bin/false for 4 s: %ld starts, master CPU %ld ticks", starts, ticks);
	cr_assert_geq(starts, 3, "not restarted:\n%s", logscan_tail(&sp, 2000));
	cr_assert_leq(starts, 16, "%ld starts in 4 s: no backoff", starts);
	cr_assert_not_null(strstr(log, "backing off"), "%s", logscan_tail(&sp, 2000));
	cr_assert_lt(ticks, 100, "the master used %ld ticks of CPU in 4 s", ticks);
	free(log);
}

/* ---- Reloads and recycling -------------------------------------------------- */

Test(fcgi2_supervise, reloads_under_post_load_lose_nothing)
{
	struct load_opts o = { .method = "POST", .body_len = 1024, .clients = 4,
			       .duration_ms = 30000, .max_requests = 100000,
			       .timeout_ms = REQ_TIMEOUT_MS, .pace_ms = 5 };
	struct load l;

	start("", "pm = { max_children = 2; };");
	wait_copies(2, 0, 2, 5000);
	o.url = url("/");
	cr_assert_eq(load_start(&l, &o), 0);
	for (int g = 2; g <= 6; g++) {
		harness_sleep_ms(300);
		cr_assert_eq(logscan_reload(&sp, g, 5000), 0, "no \"generation %d serves\":\n%s",
			     g, logscan_tail(&sp, 3000));
	}
	harness_sleep_ms(300);
	load_stop(&l);
	report_load("5 reloads under POST load", &l);
	cr_assert_gt(l.n, 50, "too few requests to tell");
	cr_assert_eq(load_failed(&l), 0, "%ld POSTs failed across the reloads", load_failed(&l));
	cr_assert_eq(load_answered_since(&l, 0, "got 1024 bytes"), l.n,
		     "not every POST body arrived whole");
	cr_assert_eq(log_count("did not leave"), 0, "a copy had to be killed:\n%s",
		     logscan_tail(&sp, 3000));
}

Test(fcgi2_supervise, a_copy_past_reload_on_rss_is_replaced)
{
	pid_t before, after;
	char *body, *line;

	start("", "pm = { max_children = 1; reload_on_rss = \"24M\"; min_recycle_interval = 0; };");
	wait_copies(1, 0, 1, 5000);
	body = get("/");
	before = pid_in(body);
	free(body);
	free(get("/grow?40"));
	line = logscan_wait(&sp, "recycling (resident memory", NULL, 3000);
	cr_assert_not_null(line, "no recycle:\n%s", logscan_tail(&sp, 3000));
	free(line);
	cr_assert(harness_wait_gone(before, 3000), "the old copy stayed");
	body = get("/");
	after = pid_in(body);
	free(body);
	cr_assert_neq(after, before);
	line = logscan_wait(&sp, "exited with status 0", NULL, 1000);
	cr_assert_not_null(line, "the old copy did not leave by itself:\n%s",
			   logscan_tail(&sp, 3000));
	free(line);
}

Test(fcgi2_supervise, a_copy_past_max_lifetime_is_replaced)
{
	pid_t first[MAX_COPIES];
	char *line;

	start("max_lifetime = 1;", "pm = { max_children = 1; min_recycle_interval = 0; };");
	wait_copies(1, 0, 1, 5000);
	cr_assert_eq(copies(first), 1);
	line = logscan_wait(&sp, "past program.max_lifetime", NULL, 4000);
	cr_assert_not_null(line, "no recycle:\n%s", logscan_tail(&sp, 3000));
	free(line);
	cr_assert(harness_wait_gone(first[0], 3000), "the old copy stayed");
	free(get("/"));
}

/* ---- How copies start ------------------------------------------------------ */

/* The program copied where user nobody can run it, as a deployment keeps it. */
static void install_for_nobody(char *out, size_t len)
{
	char prog[512], cmd[1200];

	assert_built(prog, sizeof(prog), "programs/report");
	cr_assert_eq(harness_make_dir(progdir, sizeof(progdir)), 0);
	cr_assert_eq(chmod(progdir, 0755), 0);
	snprintf(out, len, "%s/report", progdir);
	snprintf(cmd, sizeof(cmd), "cp %s %s && chmod 755 %s", prog, out, out);
	cr_assert_eq(system(cmd), 0);
}

Test(fcgi2_supervise, user_group_env_and_chdir_are_applied)
{
	char prog[256], settings[512], *body;

	if (geteuid() != 0)
		cr_skip_test("switching users takes root");
	install_for_nobody(prog, sizeof(prog));
	setenv("SLUICE_TEST_SECRET", "hunter2", 1);
	snprintf(settings, sizeof(settings),
		 "user = \"nobody\";\ngroup = \"nogroup\";\nchdir = \"/tmp\";\n"
		 "env = { APP_MODE = \"prod\"; TOKEN = \"$SLUICE_TEST_SECRET\"; };\n"
		 "pm = { max_children = 1; };");
	start_with(prog, "", settings);
	wait_copies(1, 0, 1, 5000);
	body = get("/?APP_MODE&TOKEN&SLUICE_TEST_SECRET&HOME");
	unsetenv("SLUICE_TEST_SECRET");
	assert_has(body, "uid 65534\n");
	assert_has(body, "gid 65534\n");
	assert_has(body, "cwd /tmp\n");
	assert_has(body, "APP_MODE=prod\n");
	assert_has(body, "TOKEN=hunter2\n");
	assert_has(body, "SLUICE_TEST_SECRET=-\n");
	assert_has(body, "HOME=-\n");
	free(body);
}

/* ---- Status ---------------------------------------------------------------- */

/* The status responder lists each copy with what can be known of it. */
Test(fcgi2_supervise, status_lists_the_copies)
{
	char sock[256], needle[96], *out = NULL;
	pid_t pids[MAX_COPIES];

	start("", "pm = { max_children = 2; };\nstatus = { listen = \"unix:status.sock\"; };");
	wait_copies(2, 0, 2, 5000);
	snprintf(sock, sizeof(sock), "%s/status.sock", sp.dir);
	cr_assert_eq(harness_wait_socket(sp.pid, sock), 0, "no status socket");
	cr_assert_eq(copies(pids), 2);
	/* The master looks at idle copies on its tick: give it one. */
	harness_sleep_ms(400);
	cr_assert_eq(harness_fcgi_get(sock, "/status?json", &out), 0, "%s", out ? out : "");
	for (int i = 0; i < 2; i++) {
		snprintf(needle, sizeof(needle), "\"pid\":%d,\"generation\":1,\"state\":\"idle\","
			 "\"program\":true,\"requests\":null", (int)pids[i]);
		assert_has(out, needle);
	}
	assert_has(out, "\"idle processes\":2");
	free(out);
	cr_assert_eq(harness_fcgi_get(sock, "/status", &out), 0, "%s", out ? out : "");
	assert_has(out, "(program)");
	free(out);
}

/* ---- fcgi2's own test programs (tests/fcgi2/, built against libfcgi) -------- */

/* Start sluice on BUILD_DIR/fcgi2/`name`-libfcgi, with `more` in its program group. */
static void start_fcgi2(const char *name, const char *more, const char *settings)
{
	char rel[128], prog[512];

	snprintf(rel, sizeof(rel), "fcgi2/%s-libfcgi", name);
	assert_built(prog, sizeof(prog), rel);
	start_with(prog, more, settings);
}

/* fcgi_stdio.h's FCGI_Accept and printf, unchanged, behind nginx. */
Test(fcgi2_supervise, an_fcgi_stdio_program_serves_and_a_crash_costs_its_request)
{
	struct load_opts o = { .method = "POST", .body_len = 2048, .clients = 2,
			       .duration_ms = 30000, .max_requests = 100000,
			       .timeout_ms = REQ_TIMEOUT_MS, .pace_ms = 5 };
	struct http_reply r;
	struct load l;
	char *body;

	start_fcgi2("stdio_app", "", "pm = { max_children = 2; };");
	wait_copies(2, 0, 2, 5000);
	body = get("/app/echo?a=1");
	assert_has(body, "method=GET\nquery=a=1\n");
	free(body);
	o.url = url("/app/echo");
	cr_assert_eq(load_start(&l, &o), 0);
	harness_sleep_ms(300);
	cr_assert_eq(http_request("GET", url("/app/crash"), NULL, 0, NULL, &r), 0);
	cr_assert_eq(r.status, 502, "the crashing request got %ld", r.status);
	http_reply_free(&r);
	harness_sleep_ms(500);
	load_stop(&l);
	report_load("POST /echo while a copy crashes", &l);
	cr_assert_gt(l.n, 20, "too few requests to tell");
	cr_assert_eq(load_failed(&l), 0, "%ld other requests failed", load_failed(&l));
	cr_assert_eq(load_answered_since(&l, 0, "method=POST"), l.n);
	cr_assert_eq(log_count("killed by signal 6 (SIGABRT)"), 1, "%s", logscan_tail(&sp, 3000));
	wait_copies(2, 0, 3, 2000);
	load_free(&l);
}

/*
 * fcgiapp.h with 4 threads, as fcgi2's threaded.c: a reload asks each
 * old copy to leave through the thread that waits in accept; the others
 * end as they finish, and no copy has to be killed.
 */
Test(fcgi2_supervise, a_threaded_fcgiapp_program_leaves_on_reload_without_a_kill)
{
	struct load_opts o = { .method = "POST", .body_len = 1024, .clients = 6,
			       .duration_ms = 30000, .max_requests = 100000,
			       .timeout_ms = REQ_TIMEOUT_MS, .pace_ms = 2 };
	struct load l;

	start_fcgi2("fcgx_app", "args = [ \"4\" ];", "pm = { max_children = 2; };");
	wait_copies(2, 0, 2, 5000);
	o.url = url("/app/echo");
	cr_assert_eq(load_start(&l, &o), 0);
	for (int g = 2; g <= 4; g++) {
		harness_sleep_ms(400);
		cr_assert_eq(logscan_reload(&sp, g, 5000), 0, "no \"generation %d serves\":\n%s",
			     g, logscan_tail(&sp, 3000));
	}
	harness_sleep_ms(400);
	load_stop(&l);
	report_load("3 reloads of a 4-thread program under POST load", &l);
	cr_assert_gt(l.n, 50, "too few requests to tell");
	cr_assert_eq(load_failed(&l), 0, "%ld POSTs failed across the reloads", load_failed(&l));
	/* Generations 1 to 3 left: 6 copies, each by itself. */
	for (int i = 0; i < 100 && log_count("exited with status 0") < 6; i++)
		harness_sleep_ms(50);
	cr_assert_eq(log_count("exited with status 0"), 6, "%s", logscan_tail(&sp, 4000));
	cr_assert_eq(log_count("did not leave"), 0, "%s", logscan_tail(&sp, 4000));
	load_free(&l);
}

/* ---- The README's example ---------------------------------------------------- */

/* The first code block of the README's "Supervising fcgi2 programs", malloc'ed. */
static char *readme_example(void)
{
	char *text = harness_read_file("README.md"), *start, *end, *out;

	cr_assert_not_null(text, "cannot read README.md");
	start = strstr(text, "## Supervising fcgi2 programs");
	cr_assert_not_null(start, "README.md has no \"Supervising fcgi2 programs\" section");
	start = strstr(start, "```\n");
	cr_assert_not_null(start, "the section has no config example");
	start += 4;
	end = strstr(start, "```");
	cr_assert_not_null(end);
	out = strndup(start, (size_t)(end - start));
	free(text);
	return out;
}

/*
 * The README's config, with only its paths and users replaced by this
 * test's, passes -t, and serves through nginx as it says: the program
 * as user and group, in its folder, with its environment.
 */
Test(fcgi2_supervise, the_readme_example_runs)
{
	char prog[256], *text, *argv[5], test_out[400], *body;
	char bin[] = BUILD_DIR "/sluice", opt_t[] = "-t", opt_c[] = "-c";
	int status;
	const char *ex = "README.md";
	FILE *fp;

	if (geteuid() != 0)
		cr_skip_test("the example switches users, which takes root");
	install_for_nobody(prog, sizeof(prog));
	cr_assert_eq(harness_make_dir(sp.dir, sizeof(sp.dir)), 0);
	snprintf(sp.sock, sizeof(sp.sock), "%s/app.sock", sp.dir);
	snprintf(sp.conf, sizeof(sp.conf), "%s/sluice.conf", sp.dir);
	snprintf(sp.log, sizeof(sp.log), "%s/error.log", sp.dir);
	text = readme_example();
	text = example_replace(text, "/run/sluice/app.sock", sp.sock, ex);
	text = example_replace(text, "\"www-data\"", "\"nogroup\"", ex);
	text = example_replace(text, "user = \"app\"", "user = \"nobody\"", ex);
	text = example_replace(text, "group = \"app\"", "group = \"nogroup\"", ex);
	text = example_replace(text, "/srv/app\"", "/tmp\"", ex);
	text = example_replace(text, "/usr/lib/cgi-bin/app.fcgi", prog, ex);
	fp = fopen(sp.conf, "w");
	cr_assert_not_null(fp);
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
	free(text);
	snprintf(test_out, sizeof(test_out), "%s/t.out", sp.dir);
	argv[0] = bin;
	argv[1] = opt_t;
	argv[2] = opt_c;
	argv[3] = sp.conf;
	argv[4] = NULL;
	status = harness_wait_exit(harness_spawn(argv, test_out, NULL, NULL), 5000);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sluice -t refused it:\n%s",
		  harness_read_file(test_out));
	argv[1] = opt_c;
	argv[2] = sp.conf;
	argv[3] = NULL;
	sp.pid = harness_spawn(argv, sp.log, NULL, NULL);
	cr_assert_gt(sp.pid, 0);
	cr_assert_eq(harness_wait_socket(sp.pid, sp.sock), 0, "sluice did not listen:\n%s",
		     logscan_tail(&sp, 3000));
	cr_assert_eq(chmod(sp.sock, 0666), 0);	/* nginx's workers are not in nogroup */
	cr_assert_eq(harness_nginx_start(&np, sp.sock, LOCATION), 0, "nginx did not start");
	wait_copies(4, 0, 0, 5000);	/* at notice, readiness is not logged */
	body = get("/?APP_DB");
	assert_has(body, "uid 65534\ngid 65534\ncwd /tmp\n");
	assert_has(body, "APP_DB=/srv/app/db\n");
	free(body);
}

/* ---- The master's death ---------------------------------------------------- */

/* Copies follow a master killed with SIGKILL: SIGUSR1, and libfcgi's loop ends. */
Test(fcgi2_supervise, copies_leave_when_the_master_is_killed)
{
	pid_t pids[MAX_COPIES];

	start("", "pm = { max_children = 2; };");
	wait_copies(2, 0, 2, 5000);
	cr_assert_eq(copies(pids), 2);
	cr_assert_eq(kill(sp.pid, SIGKILL), 0);
	cr_assert_neq(harness_wait_exit(sp.pid, 2000), -1, "the master did not die");
	for (int i = 0; i < 2; i++)
		cr_assert(harness_wait_gone(pids[i], 2000), "copy %d (pid %d) outlived the master",
			  i + 1, (int)pids[i]);
}
