/*
 * pools.c - several pools in one sluice (php-fpm's model): each with its
 * own sockets, modules, pm and user, reached through the real nginx; one
 * pool's crash loop, failed reload or killed master leaves the others
 * serving (0 failed requests to them); a reload adds and removes pools;
 * -t names each mistake's file and line; one signal stops them all.
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
#include "harness.h"

#define NREQUESTS	200	/* per load loop, bounded */

static char dir[128];
static pid_t master;
static struct nginx_proc np;

static void setup(void)
{
	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
	cr_assert_eq(harness_make_real_dir(dir, sizeof(dir)), 0);
	chmod(dir, 0755);
}

static void teardown(void)
{
	harness_nginx_stop(&np);
	if (master > 0)
		harness_stop_pid(master, SIGTERM);
	master = 0;
	harness_remove_dir(dir);
}

TestSuite(pools, .init = setup, .fini = teardown, .timeout = 60);

/* dir/NAME */
static void in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* A fixture's or sample's full path. */
static void built(char *buf, size_t len, const char *rel)
{
	assert_built(buf, len, rel);
}

/* Write dir/sluice.conf: the log and pid at the top, then `text`. */
static void write_conf(const char *text)
{
	char path[256];
	FILE *f;

	in_dir(path, sizeof(path), "sluice.conf");
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "error_log = \"error.log\";\nlog_level = \"info\";\npid = \"sluice.pid\";\n%s\n",
		text);
	cr_assert_eq(fclose(f), 0);
}

/* A pool named `name` serving `module` on dir/NAME.sock, with `more` keys. */
static void pool_text(char *buf, size_t len, const char *name, const char *module,
		      const char *more)
{
	char mod[512];

	built(mod, sizeof(mod), module);
	snprintf(buf, len, "  %s = {\n    listen = { address = \"%s/%s.sock\"; mode = \"0666\"; };\n"
		 "    modules = ( { path = \"%s\"; } );\n    %s\n  };\n", name, dir, name, mod,
		 more ? more : "");
}

static void start(void)
{
	char conf[256], out[256], bin[] = BUILD_DIR "/sluice", opt[] = "-c";
	char *argv[] = { bin, opt, conf, NULL };

	in_dir(conf, sizeof(conf), "sluice.conf");
	in_dir(out, sizeof(out), "stderr.log");
	master = harness_spawn(argv, out, NULL, NULL);
	cr_assert_gt(master, 0);
}

static char *log_text(void);
static void wait_pool(const char *name);
static int log_has(const char *needle, int ms);

/* Start on `pools`, the text of the pools a and b, and wait until both serve. */
static void start_ab(const char *a, const char *b, const char *top)
{
	char text[16384];

	snprintf(text, sizeof(text), "%spools = {\n%s%s};\n", top ? top : "", a, b);
	write_conf(text);
	start();
	wait_pool("a");
	wait_pool("b");
	cr_assert(log_has("2 pools serve", 5000), "not ready:\n%s", log_text());
}

/* Wait for pool `name`'s socket to accept. */
static void wait_pool(const char *name)
{
	char sock[256], file[64];

	snprintf(file, sizeof(file), "%s.sock", name);
	in_dir(sock, sizeof(sock), file);
	cr_assert_eq(harness_wait_socket(master, sock), 0, "pool %s never listened; log:\n%s",
		     name, log_text());
}

/* The error log so far (leaked: tests are short). */
static char *log_text(void)
{
	char path[256];

	in_dir(path, sizeof(path), "error.log");
	return harness_read_file(path);
}

/* Wait up to `ms` for `needle` in the error log. */
static int log_has(const char *needle, int ms)
{
	long until = harness_now_ms() + ms;

	do {
		char *text = log_text();
		int found = strstr(text, needle) != NULL;

		free(text);
		if (found)
			return 1;
		harness_sleep_ms(20);
	} while (harness_now_ms() < until);
	return 0;
}

/* GET `uri` from pool `name` straight over FastCGI; what it printed. */
static char *ask(const char *name, const char *uri)
{
	char sock[256], file[64], *out = NULL;

	snprintf(file, sizeof(file), "%s.sock", name);
	in_dir(sock, sizeof(sock), file);
	cr_assert_eq(harness_fcgi_get(sock, uri, &out), 0, "pool %s: %s", name, out ? out : "");
	return out;
}

/* The pid of the process whose title starts with `title`, a child of `parent`. */
static pid_t child_titled(pid_t parent, const char *title)
{
	pid_t kids[64];
	int n = harness_children(parent, kids, 64, 0);

	for (int i = 0; i < n; i++) {
		char path[64], *cmd;
		int match;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)kids[i]);
		cmd = harness_read_file(path);
		match = strncmp(cmd, title, strlen(title)) == 0;
		free(cmd);
		if (match)
			return kids[i];
	}
	return 0;
}

/* Pool `name`'s master, waited for up to 5 s. */
static pid_t pool_master(const char *name)
{
	char title[64];
	long until = harness_now_ms() + 5000;
	pid_t pid;

	snprintf(title, sizeof(title), "sluice: %s master", name);
	while (!(pid = child_titled(master, title)) && harness_now_ms() < until)
		harness_sleep_ms(20);
	cr_assert_gt(pid, 0, "no process \"%s\" under the master", title);
	return pid;
}

/* The uid a process runs as, from /proc/PID/status. */
static long uid_of(pid_t pid)
{
	char path[64], *text, *line;
	long uid = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = harness_read_file(path);
	line = strstr(text, "\nUid:");
	if (line)
		uid = strtol(line + 5, NULL, 10);
	free(text);
	return uid;
}

/* nginx with /a/ to pool a and /b/ to pool b (each its own location). */
static void start_nginx(void)
{
	char locs[1024];

	snprintf(locs, sizeof(locs),
		 "location /a/ { include /etc/nginx/fastcgi_params; fastcgi_pass unix:%s/a.sock; }\n"
		 "location /b/ { include /etc/nginx/fastcgi_params; fastcgi_pass unix:%s/b.sock; }\n",
		 dir, dir);
	cr_assert_eq(harness_nginx_start(&np, NULL, locs), 0, "nginx did not start");
}

/* NREQUESTS GETs of /b/ through nginx; how many did not get a 200. */
static int load_b(void)
{
	char url[128];
	int failed = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/b/", np.port);
	for (int i = 0; i < NREQUESTS; i++) {
		struct http_reply r;

		if (http_request("GET", url, NULL, 0, NULL, &r) < 0 || r.status != 200)
			failed++;
		if (r.status)
			http_reply_free(&r);
	}
	return failed;
}

Test(pools, each_pool_has_its_own_socket_module_pm_and_user)
{
	char a[4096], b[4096], pidf[256], *out, *pid;
	int root = geteuid() == 0;
	pid_t am, bm, kids[16];

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so", NULL);
	pool_text(b, sizeof(b), "b", "fixtures/environ.so",
		  root ? "pm = { max_children = 1; }; env = { POOL = \"b\"; }; user = \"nobody\";"
		       : "pm = { max_children = 1; }; env = { POOL = \"b\"; };");
	start_ab(a, b, "pm = { max_children = 3; };\n");

	out = ask("a", "/");
	cr_assert_not_null(strstr(out, "pid "), "pool a is not whoami:\n%s", out);
	free(out);
	out = ask("b", "/?POOL");
	cr_assert_not_null(strstr(out, "POOL=b\n"), "pool b is not environ with its env:\n%s", out);
	free(out);

	/* pm: a inherits the top level's 3, b has its own 1. */
	am = pool_master("a");
	bm = pool_master("b");
	cr_assert_eq(harness_children(am, kids, 16, 0), 3, "pool a's workers");
	cr_assert_eq(harness_children(bm, kids, 16, 0), 1, "pool b's workers");
	if (root)
		cr_assert_eq(uid_of(kids[0]), 65534, "pool b's worker is not nobody");

	/* One pid file: the master of pools'. */
	in_dir(pidf, sizeof(pidf), "sluice.pid");
	pid = harness_read_file(pidf);
	cr_assert_eq(atol(pid), (long)master, "the pid file holds %s", pid);
	free(pid);
}

/*
 * Pool a's workers die at start, in a loop; pool b serves every request
 * through nginx meanwhile, and the masters stay up.
 */
Test(pools, a_crash_loop_in_one_pool_leaves_the_other_serving)
{
	char text[16384], a[4096], b[4096];
	pid_t am;

	pool_text(a, sizeof(a), "a", "fixtures/init_crash.so", NULL);
	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", NULL);
	snprintf(text, sizeof(text), "pm = { max_children = 2; };\npools = {\n%s%s};\n", a, b);
	write_conf(text);
	start();
	wait_pool("b");
	start_nginx();
	am = pool_master("a");
	cr_assert(log_has("SIGSEGV", 5000), "pool a's workers did not crash:\n%s", log_text());
	cr_assert_eq(load_b(), 0, "pool b failed requests while pool a crash-looped");
	cr_assert_eq(pool_master("a"), am, "pool a's master was replaced");
	cr_assert_eq(harness_proc_state(master, NULL) != 0, 1, "the master died");
}

/*
 * Killing pool a's master outright: its workers leave, a new master
 * takes over the same socket (a connection made meanwhile waits in its
 * queue and is served), and pool b fails nothing.
 */
Test(pools, a_killed_pool_master_restarts_on_the_same_socket)
{
	char a[4096], b[4096], *out;
	pid_t am, workers[16];
	int n;

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so", NULL);
	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", NULL);
	/* Once started: a pool that dies during the start fails the start. */
	start_ab(a, b, NULL);
	start_nginx();
	am = pool_master("a");
	n = harness_children(am, workers, 16, 0);
	cr_assert_gt(n, 0);
	cr_assert_eq(kill(am, SIGKILL), 0);
	/* Once the old master and its workers are gone, and before the new
	 * master is up (it starts 0.5 s after a death this soon): only the
	 * socket, the master of pools', holds this connection until then. */
	cr_assert(harness_wait_gone(am, 5000), "pool a's master did not die");
	for (int i = 0; i < n; i++)
		cr_assert(harness_wait_gone(workers[i], 5000), "an old worker of pool a stayed");
	out = ask("a", "/");
	cr_assert_not_null(strstr(out, "pid "), "pool a did not answer after its master "
			   "died:\n%s", out);
	free(out);
	cr_assert_neq(pool_master("a"), am, "pool a's master was not replaced");
	cr_assert_eq(load_b(), 0, "pool b failed requests");
	cr_assert(log_has("pool a: its master", 1000), "the death is not logged:\n%s",
		  log_text());
}

/*
 * SIGHUP after pool a's module path was broken and pool b's setting
 * changed: a serves on with generation 1, b moves to generation 2.
 */
Test(pools, a_failed_reload_in_one_pool_leaves_it_and_the_others_serving)
{
	char text[16384], a[4096], b[4096], *out;

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so", NULL);
	pool_text(b, sizeof(b), "b", "fixtures/environ.so", "env = { V = \"1\"; };");
	start_ab(a, b, NULL);

	{
		/* Pool a's own modules line, replaced by one naming a missing file. */
		char good[4096], *fixed;

		pool_text(good, sizeof(good), "a", "fixtures/whoami.so", NULL);
		built(text, sizeof(text), "fixtures/whoami.so");
		fixed = harness_replace(good, text, "gone.so");
		cr_assert_not_null(fixed);
		snprintf(a, sizeof(a), "%s", fixed);
		free(fixed);
	}
	pool_text(b, sizeof(b), "b", "fixtures/environ.so", "env = { V = \"2\"; };");
	snprintf(text, sizeof(text), "pools = {\n%s%s};\n", a, b);
	write_conf(text);
	cr_assert_eq(kill(master, SIGHUP), 0);
	cr_assert(log_has("b master: generation 2 serves", 5000), "b did not reload:\n%s",
		  log_text());
	cr_assert(log_has("a master: reload failed, still serving generation 1", 5000),
		  "a's failed reload is not logged:\n%s", log_text());
	cr_assert(log_has("gone.so", 100), "the failure does not name the file:\n%s", log_text());
	out = ask("a", "/");
	cr_assert_not_null(strstr(out, "pid "), "pool a stopped serving:\n%s", out);
	free(out);
	out = ask("b", "/?V");
	cr_assert_not_null(strstr(out, "V=2\n"), "pool b serves the old config:\n%s", out);
	free(out);
}

Test(pools, a_reload_adds_and_removes_pools)
{
	char text[16384], a[4096], b[4096], c[4096], sock[256], *out;
	struct stat st;
	pid_t bm;

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so", NULL);
	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", NULL);
	pool_text(c, sizeof(c), "c", "fixtures/whoami.so", NULL);
	start_ab(a, b, NULL);
	bm = pool_master("b");
	snprintf(text, sizeof(text), "pools = {\n%s%s};\n", a, c);
	write_conf(text);
	cr_assert_eq(kill(master, SIGHUP), 0);
	wait_pool("c");
	out = ask("c", "/");
	cr_assert_not_null(strstr(out, "pid "), "pool c:\n%s", out);
	free(out);
	cr_assert(harness_wait_gone(bm, 5000), "pool b's master did not leave");
	cr_assert(log_has("pool b removed", 5000), "%s", log_text());
	in_dir(sock, sizeof(sock), "b.sock");
	cr_assert_neq(stat(sock, &st), 0, "pool b's socket outlived it");
	out = ask("a", "/");
	cr_assert_not_null(strstr(out, "pid "), "pool a:\n%s", out);
	free(out);
}

Test(pools, sigterm_stops_every_pool_and_removes_the_sockets)
{
	char a[4096], b[4096], path[256];
	struct stat st;
	int status;

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so", NULL);
	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", NULL);
	start_ab(a, b, NULL);
	status = harness_stop_pid(master, SIGTERM);
	master = 0;
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the master did not stop cleanly (%d)", status);
	in_dir(path, sizeof(path), "a.sock");
	cr_assert_neq(stat(path, &st), 0, "a.sock is left");
	in_dir(path, sizeof(path), "sluice.pid");
	cr_assert_neq(stat(path, &st), 0, "the pid file is left");
}

/* `sluice -t` on `text`: its exit status, its output in `out`. */
static int check(const char *text, char *out, size_t len)
{
	char conf[256], cmd[512];
	FILE *p;
	size_t n;

	write_conf(text);
	in_dir(conf, sizeof(conf), "sluice.conf");
	snprintf(cmd, sizeof(cmd), BUILD_DIR "/sluice -t -c %s 2>&1", conf);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

static void refused(const char *text, const char *want)
{
	char out[2048];

	cr_expect_eq(check(text, out, sizeof(out)), 1, "-t passed:\n%s", text);
	cr_expect_not_null(strstr(out, want), "-t said \"%s\", not \"%s\"", out, want);
}

/* Pools a and b, with `from` replaced by `to` in b's text: -t names pool b and `want`. */
static void refused_b(const char *a, const char *from, const char *to, const char *want)
{
	char b[4096], text[16384], *changed;

	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", NULL);
	changed = harness_replace(b, from, to);
	cr_assert_not_null(changed);
	snprintf(text, sizeof(text), "pools = {\n%s%s};\n", a, changed);
	free(changed);
	refused(text, "pool b: ");
	refused(text, want);
}

Test(pools, test_flag_names_each_mistake_with_file_and_line)
{
	char a[4096], b[4096], text[16384], want[512], out[2048], mod[512];

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so", NULL);
	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", NULL);
	snprintf(text, sizeof(text), "pools = {\n%s%s};\n", a, b);
	cr_assert_eq(check(text, out, sizeof(out)), 0, "%s", out);
	cr_assert_not_null(strstr(out, "test is successful (2 pools)"), "%s", out);

	/* listen at the top (line 4) once there are pools. */
	snprintf(text, sizeof(text), "listen = \"/tmp/x.sock\";\npools = {\n%s};\n", a);
	snprintf(want, sizeof(want), "sluice.conf:4: listen: with pools, each pool has its own");
	refused(text, want);
	/* The master's key inside a pool (line 6). */
	snprintf(text, sizeof(text), "pools = {\n  a = { error_log = \"x.log\"; };\n};\n");
	refused(text, "sluice.conf:5: pools.a.error_log: error_log is the master's");
	/* Two pools on one socket: the second's line, and the first's. */
	snprintf(text, sizeof(text), "pools = {\n%s%s};\n", a, a);
	refused(text, "sluice.conf:10: duplicate setting name");
	refused_b(a, "/b.sock", "/a.sock", "sluice.conf:11: ");
	/* A pool's unknown key, with its line. */
	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", "pm = { max_childs = 2; };");
	snprintf(text, sizeof(text), "pools = {\n%s%s};\n", a, b);
	refused(text, "pool b: ");
	refused(text, "sluice.conf:13: unknown key \"pm.max_childs\"");
	/* A module that does not load, in one pool. */
	built(mod, sizeof(mod), "fixtures/whoami.so");
	refused_b(a, mod, "nothere.so", "nothere.so");
	/* A pool without listen, a pool that is not a group, none at all. */
	refused_b(a, "listen", "#listen", "listen is missing");
	refused("pools = { a = 5; };", "sluice.conf:4: pools.a: want a group");
	refused("pools = { };", "sluice.conf:4: pools: want a group with a group per pool");
	refused("pool = { a = { }; };", "did you mean \"pools\"");
}

/* `sluice status` asks one pool: the one --pool names. */
Test(pools, status_asks_the_pool_named)
{
	char a[4096], b[4096], conf[256], cmd[512], out[4096];
	FILE *p;
	size_t n;

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so",
		  "status = { listen = \"unix:a-status.sock\"; };");
	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", NULL);
	start_ab(a, b, NULL);
	in_dir(conf, sizeof(conf), "a-status.sock");
	cr_assert_eq(harness_wait_socket(master, conf), 0);
	in_dir(conf, sizeof(conf), "sluice.conf");
	snprintf(cmd, sizeof(cmd), BUILD_DIR "/sluice status --pool a -c %s 2>&1", conf);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	cr_assert_eq(WEXITSTATUS(pclose(p)), 0, "%s", out);
	cr_assert_not_null(strstr(out, "pool:                 a\n"), "%s", out);
	snprintf(cmd, sizeof(cmd), BUILD_DIR "/sluice status -c %s 2>&1", conf);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	cr_assert_eq(WEXITSTATUS(pclose(p)), 2, "%s", out);
	cr_assert_not_null(strstr(out, "several pools (a, b): say which with --pool NAME"),
			   "%s", out);
}

/*
 * conf/sluice-pools.conf, the README's example, with its folders moved to
 * the test's own and the samples' paths to the built ones: -t passes,
 * each pool serves its module, and pool api has its env and status.
 */
Test(pools, the_shipped_example_serves_both_pools)
{
	char *text = harness_read_file("conf/sluice-pools.conf"), *t1, *t2, *t3, *t4;
	char notes[512], echo[512], folder[160], path[256], *out;
	FILE *f;

	cr_assert_neq(strlen(text), 0, "cannot read conf/sluice-pools.conf");
	built(notes, sizeof(notes), "apps/hello.so");
	built(echo, sizeof(echo), "apps/echo.so");
	snprintf(folder, sizeof(folder), "%s/", dir);
	t1 = harness_replace(text, "/run/sluice/", folder);
	t2 = harness_replace(t1, "/var/log/sluice/", folder);
	t3 = harness_replace(t2, "/usr/lib/sluice/hello.so", notes);
	t4 = harness_replace(t3, "/usr/lib/sluice/echo.so", echo);
	in_dir(path, sizeof(path), "sluice.conf");
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(t4, f);
	cr_assert_eq(fclose(f), 0);
	free(text);
	free(t1);
	free(t2);
	free(t3);
	free(t4);
	start();
	wait_pool("www");
	wait_pool("api");
	cr_assert(log_has("2 pools serve", 5000), "not ready:\n%s", log_text());
	out = ask("www", "/");
	cr_assert_not_null(strstr(out, "Status: 200"), "pool www:\n%s", out);
	free(out);
	out = ask("api", "/");
	cr_assert_not_null(strstr(out, "Status: 200"), "pool api:\n%s", out);
	free(out);
	in_dir(path, sizeof(path), "api-status.sock");
	cr_assert_eq(harness_wait_socket(master, path), 0, "no status socket for pool api");
}

/* A pool of modules and a pool supervising an unchanged fcgi2 program. */
Test(pools, a_module_pool_and_a_program_pool_side_by_side)
{
	char a[4096], prog[512], text[16384], *out;

	pool_text(a, sizeof(a), "app", "fixtures/whoami.so", NULL);
	assert_built(prog, sizeof(prog), "programs/report");
	snprintf(text, sizeof(text), "pools = {\n%s"
		 "  legacy = { listen = { address = \"%s/legacy.sock\"; mode = \"0666\"; };\n"
		 "             pm = { max_children = 2; }; program = { path = \"%s\"; }; };\n};\n",
		 a, dir, prog);
	write_conf(text);
	start();
	wait_pool("app");
	wait_pool("legacy");
	out = ask("legacy", "/");
	cr_assert_not_null(strstr(out, "Status: 200"), "pool legacy:\n%s", out);
	free(out);
	out = ask("app", "/");
	cr_assert_not_null(strstr(out, "pid "), "pool app:\n%s", out);
	free(out);
}

/* What `cmd` printed (stdout and stderr), malloc'ed; its exit status in *rc. */
static char *run(const char *cmd, int *rc)
{
	char *out = calloc(1, 16384);
	FILE *p = popen(cmd, "r");
	size_t n;

	cr_assert_not_null(p);
	n = fread(out, 1, 16383, p);
	out[n] = '\0';
	*rc = WEXITSTATUS(pclose(p));
	return out;
}

/* sluice audit looks at every pool, and names the pool in each finding. */
Test(pools, audit_reports_each_pool)
{
	char a[4096], b[4096], prog[512], text[16384], conf[256], cmd[512], *out;
	int rc;

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so", "request_terminate_timeout = 30;");
	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", "rlimit_core = \"unlimited\";");
	assert_built(prog, sizeof(prog), "programs/report");
	snprintf(text, sizeof(text), "pools = {\n%s%s"
		 "  legacy = { listen = \"%s/legacy.sock\"; program = { path = \"%s\"; }; };\n};\n",
		 a, b, dir, prog);
	write_conf(text);
	in_dir(conf, sizeof(conf), "sluice.conf");
	snprintf(cmd, sizeof(cmd), BUILD_DIR "/sluice audit --no-packages -c %s 2>&1", conf);
	out = run(cmd, &rc);
	cr_assert_not_null(strstr(out, "core-dumps: pool b: rlimit_core"), "%s", out);
	cr_assert_null(strstr(out, "pool a: rlimit_core"), "%s", out);
	cr_assert_not_null(strstr(out, "no-terminate-timeout: pool b:"), "%s", out);
	cr_assert_null(strstr(out, "no-terminate-timeout: pool a:"), "%s", out);
	/* A supervised program has neither key: no advice to set them. */
	cr_assert_null(strstr(out, "no-terminate-timeout: pool legacy"), "%s", out);
	cr_assert_not_null(strstr(out, "pool legacy: program.max_lifetime"), "%s", out);
	/* A dev build is one high finding, said once, not per pool. */
	if (strcmp(SLUICE_PROFILE, "dev") == 0) {
		cr_assert_eq(rc, 3, "worst is high:\n%s", out);
		cr_assert_null(strstr(out, "dev-build: pool"), "%s", out);
	} else {
		cr_assert_eq(rc, 2, "worst is medium:\n%s", out);
	}
	free(out);
}

/* A reload that moves one pool to a new socket replaces its master there. */
Test(pools, a_reload_moves_a_pool_to_its_new_socket)
{
	char text[16384], a[4096], b[4096], sock[256], *moved, *out;
	struct stat st;

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so", NULL);
	pool_text(b, sizeof(b), "b", "fixtures/whoami.so", NULL);
	start_ab(a, b, NULL);
	moved = harness_replace(b, "/b.sock", "/b2.sock");
	snprintf(text, sizeof(text), "pools = {\n%s%s};\n", a, moved);
	free(moved);
	write_conf(text);
	cr_assert_eq(kill(master, SIGHUP), 0);
	wait_pool("b2");
	out = ask("b2", "/");
	cr_assert_not_null(strstr(out, "pid "), "pool b on b2.sock:\n%s", out);
	free(out);
	in_dir(sock, sizeof(sock), "b.sock");
	cr_assert_neq(stat(sock, &st), 0, "the old b.sock is left");
	out = ask("a", "/");
	cr_assert_not_null(strstr(out, "pid "), "pool a:\n%s", out);
	free(out);
}

/* The development mode runs one pool: a file with pools is refused. */
Test(pools, dev_mode_refuses_a_file_with_pools)
{
	char a[4096], text[8192], conf[256], cmd[512], *out;
	int rc;

	pool_text(a, sizeof(a), "a", "fixtures/whoami.so", NULL);
	snprintf(text, sizeof(text), "pools = {\n%s};\n", a);
	write_conf(text);
	in_dir(conf, sizeof(conf), "sluice.conf");
	snprintf(cmd, sizeof(cmd), "timeout 10 " BUILD_DIR "/sluice --dev -c %s 2>&1", conf);
	out = run(cmd, &rc);
	cr_assert_neq(rc, 0, "--dev started on pools:\n%s", out);
	if (strcmp(SLUICE_PROFILE, "dev") == 0)
		cr_assert_not_null(strstr(out, "development mode (--dev) runs one pool"), "%s", out);
	free(out);
}

/*
 * Pools a reload removes count until their masters have left: with 16
 * (the most) still leaving, a pool the reload adds is refused with a log
 * line, not written past the table; once they have left, the next reload
 * starts it.  The old masters are held with SIGSTOP so that they cannot
 * leave before the reload has looked.
 */
Test(pools, a_reload_past_the_most_pools_waits_for_the_leaving_ones, .timeout = 90)
{
	char text[65536], one[4096], name[8], *out;
	pid_t old[16];
	size_t len = 0;

	len += (size_t)snprintf(text + len, sizeof(text) - len, "pm = { max_children = 1; };\n"
				"pools = {\n");
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		pool_text(one, sizeof(one), name, "fixtures/whoami.so", NULL);
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s", one);
	}
	snprintf(text + len, sizeof(text) - len, "};\n");
	write_conf(text);
	start();
	cr_assert(log_has("16 pools serve", 15000), "not ready:\n%s", log_text());
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		old[i] = pool_master(name);
		cr_assert_eq(kill(old[i], SIGSTOP), 0);
	}
	pool_text(one, sizeof(one), "q", "fixtures/whoami.so", NULL);
	snprintf(text, sizeof(text), "pools = {\n%s};\n", one);
	write_conf(text);
	cr_assert_eq(kill(master, SIGHUP), 0);
	cr_assert(log_has("pool q not started: 16 pools are running or still leaving", 5000),
		  "%s", log_text());
	for (int i = 0; i < 16; i++)
		cr_assert_eq(kill(old[i], SIGCONT), 0);
	for (int i = 0; i < 16; i++)
		cr_assert(harness_wait_gone(old[i], 10000), "an old pool master stayed");
	cr_assert(log_has("pool p15 removed", 5000), "%s", log_text());
	cr_assert_eq(kill(master, SIGHUP), 0);
	wait_pool("q");
	out = ask("q", "/");
	cr_assert_not_null(strstr(out, "pid "), "pool q:\n%s", out);
	free(out);
}
