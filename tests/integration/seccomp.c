/*
 * seccomp.c - the workers' seccomp allow-list (`seccomp = true;`): the
 * sample apps serve through nginx with it on, and a module's forbidden
 * system call (ptrace, mount) stops its worker with a log line naming
 * the call and the request, a 502 for that request only, and a fresh
 * worker; `seccomp_allow` adds a call, and without `seccomp` nothing is
 * filtered.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "logscan.h"
#include "modules_conf.h"
#include "scenarios.h"

static struct sluice_proc sp;
static struct nginx_proc np;

static void start(const char *settings)
{
	char hello[512], echo[512], routes[512], notes[512], forbidden[512], conf[4096];

	cr_assert_eq(modules_conf_path(hello, sizeof(hello), "apps/hello"), 0);
	cr_assert_eq(modules_conf_path(echo, sizeof(echo), "apps/echo"), 0);
	cr_assert_eq(modules_conf_path(routes, sizeof(routes), "apps/routes"), 0);
	cr_assert_eq(modules_conf_path(notes, sizeof(notes), "apps/notes"), 0);
	cr_assert_eq(modules_conf_path(forbidden, sizeof(forbidden), "forbidden"), 0);
	snprintf(conf, sizeof(conf),
		 "%s\npm = { max_children = 2; };\nmodules = (\n"
		 "  { path = \"%s\"; mount = \"/\"; },\n  { path = \"%s\"; mount = \"/echo\"; },\n"
		 "  { path = \"%s\"; mount = \"/demo\"; },\n"
		 "  { path = \"%s\"; mount = \"/notes\"; settings = { db = \"notes.db\"; }; },\n"
		 "  { path = \"%s\"; mount = \"/forbidden\"; }\n);\n",
		 settings, hello, echo, routes, notes, forbidden);
	cr_assert_eq(harness_sluice_start(&sp, conf), 0, "sluice did not start");
	cr_assert_eq(harness_nginx_start(&np, sp.sock, HARNESS_KEEPALIVE_LOCATION), 0,
		     "nginx did not start");
}

static void start_on(void)
{
	start("seccomp = true;");
}

static void stop(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
}

static void request(const char *method, const char *path, const char *body, size_t body_len,
		    const char *const *headers, struct http_reply *r)
{
	char url[512];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", np.port, path);
	cr_assert_eq(http_request(method, url, body, body_len, headers, r), 0,
		     "%s %s: no HTTP response", method, path);
}

static const struct scenario_front front = { request, "" };

static long get(const char *path, char **body)
{
	struct http_reply r;
	long status;

	request("GET", path, NULL, 0, NULL, &r);
	status = r.status;
	if (body)
		*body = strdup(r.body);
	http_reply_free(&r);
	return status;
}

Test(seccomp, samples_serve_with_it_on, .init = start_on, .fini = stop, .timeout = 60)
{
	static const char *const json[] = { "Content-Type: application/json", NULL };
	struct http_reply r;
	char *log;

	scenario_hello(&front, "/");
	scenario_echo_request_bodies(&front);
	scenario_routes_find_users(&front);
	request("POST", "/notes/notes", "{\"text\":\"hi\",\"author\":\"ann\"}", 28, json, &r);
	cr_expect_eq(r.status, 201, "notes POST: %ld %s", r.status, r.body);
	http_reply_free(&r);
	request("GET", "/notes/notes?limit=5", NULL, 0, NULL, &r);
	cr_expect_eq(r.status, 200);
	cr_expect(strstr(r.body, "\"hi\""), "%s", r.body);
	http_reply_free(&r);
	request("GET", "/notes", NULL, 0, NULL, &r);
	cr_expect_eq(r.status, 200);
	http_reply_free(&r);
	log = harness_sluice_log(&sp);
	cr_expect_eq(logscan_count(log, "seccomp", NULL), 0, "%s", log);
	cr_expect_eq(logscan_count(log, "crashed", NULL), 0, "%s", log);
	free(log);
}

/* ptrace and mount each stop their worker, which is named with the call. */
Test(seccomp, forbidden_call_stops_the_worker, .init = start_on, .fini = stop, .timeout = 60)
{
	static const char *const calls[] = { "ptrace", "mount" };
	char path[64], *line;

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/forbidden/%s", calls[i]);
		cr_expect_eq(get(path, NULL), 502, "%s was not stopped", calls[i]);
		line = logscan_wait(&sp, "stopped by seccomp: system call", calls[i], 5000);
		cr_assert_not_null(line, "no seccomp line for %s:\n%s", calls[i],
				   logscan_tail(&sp, 4000));
		cr_expect(strstr(line, "GET /forbidden/"), "the line names no route: %s", line);
		free(line);
	}
	line = logscan_wait(&sp, "SIGSYS", NULL, 5000);
	cr_expect_not_null(line, "the master did not report the worker's death:\n%s",
			   logscan_tail(&sp, 4000));
	free(line);
	/* The pool serves on: the other routes answer. */
	cr_expect_eq(get("/forbidden/ok", NULL), 200);
	cr_expect_eq(get("/", NULL), 200);
}

Test(seccomp, allow_adds_a_call, .fini = stop, .timeout = 60)
{
	char *body = NULL;

	start("seccomp = true; seccomp_allow = [ \"ptrace\" ];");
	cr_expect_eq(get("/forbidden/ptrace", &body), 200);
	cr_expect(body && strncmp(body, "ptrace ", 7) == 0, "%s", body);
	free(body);
	cr_expect_eq(get("/forbidden/mount", NULL), 502);
}

Test(seccomp, off_by_default, .fini = stop, .timeout = 60)
{
	char *body = NULL, *log;

	start("");
	cr_expect_eq(get("/forbidden/ptrace", &body), 200);
	cr_expect(body && strncmp(body, "ptrace ", 7) == 0, "%s", body);
	free(body);
	log = harness_sluice_log(&sp);
	cr_expect_eq(logscan_count(log, "seccomp", NULL), 0, "%s", log);
	free(log);
}
