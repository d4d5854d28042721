/*
 * module_api.c - Module ABI 2 as a user meets it, through the real nginx:
 * a module configured from its settings group, logging from init, fini
 * and handlers with sl_log(NULL, ...), and told its mount and the path
 * below it; a C++ module, one built with hidden visibility and one built
 * for ABI 1, all served by the same worker; and a setting of the wrong
 * type, which stops the workers with a line naming its file and line.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "check.h"
#include "harness.h"
#include "logscan.h"

static struct sluice_proc sp;
static struct nginx_proc np;

static void teardown(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
}

/* Start sluice with one worker and `modules`, and nginx in front of it. */
static void start(const char *modules)
{
	char body[8192];

	snprintf(body, sizeof(body), "pm = { max_children = 1; };\nmodules = (\n%s);\n",
		 modules);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
	cr_assert_eq(harness_nginx_start(&np, sp.sock, HARNESS_KEEPALIVE_LOCATION), 0,
		     "nginx did not start");
}

/* GET `path` through nginx with request id `id`: 200 and exactly `want`. */
static void expect_body(const char *path, const char *id, const char *want)
{
	char url[256], h[128];
	const char *const headers[] = { h, NULL };
	struct http_reply r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", np.port, path);
	snprintf(h, sizeof(h), "X-Request-Id: %s", id);
	cr_assert_eq(http_request("GET", url, NULL, 0, headers, &r), 0, "GET %s", path);
	cr_assert_eq(r.status, 200, "GET %s: %ld\n%s\n%s", path, r.status, r.body,
		     logscan_tail(&sp, 2000));
	cr_assert_str_eq(r.body, want, "GET %s", path);
	http_reply_free(&r);
}

/* A line of the error log holding `a` and `b` (no newline) within 3 s, or the test fails. */
static void expect_line(const char *a, const char *b)
{
	char *line = logscan_wait(&sp, a, b, 3000);

	cr_assert_not_null(line, "no line with \"%s\" and \"%s\":\n%s", a, b ? b : "",
			   logscan_tail(&sp, 3000));
	free(line);
}

Test(module_api, settings_mount_logging_cxx_hidden_and_abi1, .fini = teardown, .timeout = 30)
{
	char settings[1024], cxx[1024], hidden[1024], abi1[1024], mods[6000];
	char *log;
	int status;

	assert_built(settings, sizeof(settings), "fixtures/settings.so");
	assert_built(cxx, sizeof(cxx), "fixtures/cxx.so");
	assert_built(hidden, sizeof(hidden), "fixtures/hidden.so");
	assert_built(abi1, sizeof(abi1), "fixtures/abi1.so");
	snprintf(mods, sizeof(mods),
		 "  { path = \"%s\"; mount = \"/conf\";\n"
		 "    settings = { db = \"/x.db\"; page_size = 20; ratio = 0.25; debug = true; }; },\n"
		 "  { path = \"%s\"; mount = \"/cxx\"; settings = { greeting = \"hi\"; }; },\n"
		 "  { path = \"%s\"; mount = \"/hidden\"; },\n"
		 "  { path = \"%s\"; }\n", settings, cxx, hidden, abi1);
	start(mods);

	expect_body("/conf/a/b", "api-1", "db=/x.db page_size=20 ratio=0.25 debug=1 "
		    "name=settings\nmount=/conf path=/conf/a/b path_info=/a/b link=/conf/x/7\n");
	expect_body("/conf", "api-2", "db=/x.db page_size=20 ratio=0.25 debug=1 "
		    "name=settings\nmount=/conf path=/conf path_info= link=/conf/x/7\n");
	expect_body("/cxx/bob", "api-3", "cxx: hello bob under /cxx\n");
	expect_body("/hidden/x", "api-4", "hidden visibility, still loaded\n");
	expect_body("/old", "api-5", "abi1 init 1 fini 0\n");

	/* Lines from init carry the worker and the module; from a handler, the request. */
	expect_line("[notice] worker 1 (pid ", "module settings: init read db=/x.db "
		    "page_size=20, mounted at /conf");
	expect_line("module cxx: C++ init, greeting as \"hi\"", NULL);
	expect_line("request api-1: serving /conf/a/b", NULL);

	/* fini runs when the worker leaves, and may log too. */
	kill(sp.pid, SIGTERM);
	status = harness_wait_exit(sp.pid, 10000);
	cr_assert_neq(status, -1, "sluice did not exit on SIGTERM");
	sp.pid = 0;
	log = harness_sluice_log(&sp);
	assert_has(log, "module settings: fini of settings\n");
	assert_has(log, "exited with status 0");
	free(log);
}

/* The line (1-based) of `file` that holds `needle`, or the test fails. */
static int line_of(const char *file, const char *needle)
{
	char *text = harness_read_file(file), *at = strstr(text, needle);
	int line = 1;

	cr_assert_not_null(at, "%s has no \"%s\"", file, needle);
	for (char *p = text; p < at; p++)
		line += *p == '\n';
	free(text);
	return line;
}

Test(module_api, wrong_setting_type_stops_workers_naming_file_and_line, .fini = teardown,
     .timeout = 30)
{
	char settings[1024], mods[2048], want[512];

	assert_built(settings, sizeof(settings), "fixtures/settings.so");
	snprintf(mods, sizeof(mods), "  { path = \"%s\"; mount = \"/conf\"; settings = {\n"
		 "      db = \"/x.db\";\n      page_size = \"20\";\n  }; }\n", settings);
	start(mods);
	snprintf(want, sizeof(want), "%s:%d: modules[0].settings.page_size must be an integer, "
		 "not a string (module settings reads it with sl_setting_int)", sp.conf,
		 line_of(sp.conf, "page_size = \"20\""));
	expect_line("[error] worker 1 (pid ", want);
	expect_line("module settings: init failed: 1 of its settings has the wrong type", NULL);
	/* The module's init did finish, so its fini ran before the worker left. */
	expect_line("module settings: fini of settings", NULL);
	expect_line("before it was ready", NULL);
}
