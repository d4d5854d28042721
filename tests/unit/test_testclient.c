/*
 * test_testclient.c - the test client of sluice_test.h (gateway/
 * testclient.c), used as a module author would: a fixture module and the
 * notes sample loaded with settings, served requests, and what came back
 * checked as nginx would have received it.
 *
 *   - settings and the mount reach the module's init and handlers;
 *   - notes' JSON API end to end over a temporary SQLite file: a POST
 *     gives 201 and a Location, the list honours ?limit, a missing note
 *     is the standard JSON error with the Accept header sent;
 *   - the form path: a 303 whose Set-Cookie fills the jar, and the next
 *     request carries the cookie back to the page;
 *   - bodies and responses larger than a socket's buffer pass whole;
 *   - an init that fails, or a module that cannot load, is NULL with the
 *     reason, and the module's log lines are readable.
 *
 * Criterion runs each test in its own process: one client per process,
 * as the client requires.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice_test.h"

#define FIXTURE(name) BUILD_DIR "/fixtures/" name ".so"
#define NOTES BUILD_DIR "/apps/notes.so"

static char db[64];

static struct slt *open_notes(const char *extra)
{
	char settings[256];
	struct slt *t;
	int fd;

	snprintf(db, sizeof(db), "/tmp/sluice-notes-XXXXXX");
	fd = mkstemp(db);
	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(settings, sizeof(settings), "db = \"%s\"; %s", db, extra);
	t = slt_open(NOTES, "/notes", settings);
	cr_assert_not_null(t, "%s", slt_error());
	return t;
}

static void close_notes(struct slt *t)
{
	slt_close(t);
	unlink(db);
}

Test(testclient, settings_and_mount_reach_the_module)
{
	struct slt *t = slt_open(FIXTURE("settings"), "/app",
				 "db = \"/x.db\"; page_size = 7; debug = true;");
	const struct slt_response *r;

	cr_assert_not_null(t, "%s", slt_error());
	r = slt_get(t, "/app/some%20where?x=1");
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_eq(r->status, 200);
	cr_expect_str_eq(r->body, "db=/x.db page_size=7 ratio=0.5 debug=1 name=settings\n"
			 "mount=/app path=/app/some where path_info=/some where link=/app/x/7\n");
	cr_expect_eq(r->body_len, strlen(r->body));
	cr_expect_str_eq(slt_response_header(t, "content-type", 0), "text/plain; charset=utf-8");
	cr_expect_not_null(strstr(slt_log(t), "init read db=/x.db page_size=7, mounted at /app"));
	cr_expect_not_null(strstr(slt_log(t), "serving /app/some where"));
	slt_close(t);
}

/* Mounted at /, a link is the path alone, not "//x/7". */
Test(testclient, link_under_the_root_mount)
{
	struct slt *t = slt_open(FIXTURE("settings"), "/", NULL);
	const struct slt_response *r;

	cr_assert_not_null(t, "%s", slt_error());
	r = slt_get(t, "/a");
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_not_null(strstr(r->body, "mount=/ path=/a path_info=/a link=/x/7\n"), "%s",
			   r->body);
	slt_close(t);
}

Test(testclient, notes_json_api)
{
	static const char note[] = "{\"text\":\"buy <milk>\",\"author\":\"ann\"}";
	struct slt *t = open_notes("page_size = 5;");
	const struct slt_response *r;
	char location[64];

	r = slt_post(t, "/notes/notes", "application/json", note, strlen(note));
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_eq(r->status, 201);
	cr_assert_not_null(slt_response_header(t, "Location", 0));
	snprintf(location, sizeof(location), "%s", slt_response_header(t, "location", 0));
	cr_expect_eq(strncmp(location, "/notes/notes/", 13), 0, "Location %s", location);
	for (int i = 0; i < 2; i++)
		cr_assert_not_null(slt_post(t, "/notes/notes", "application/json", note,
					    strlen(note)));

	r = slt_get(t, "/notes/notes?limit=2");
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_eq(r->status, 200);
	cr_expect_str_eq(slt_response_header(t, "Content-Type", 0), "application/json");
	cr_expect_not_null(strstr(r->body, "\"id\":3,"), "%s", r->body);
	cr_expect_not_null(strstr(r->body, "\"id\":2,"), "%s", r->body);
	cr_expect_null(strstr(r->body, "\"id\":1,"), "%s", r->body);
	cr_expect_not_null(strstr(r->body, "buy \\u003Cmilk\\u003E"), "%s", r->body);

	r = slt_get(t, location);
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_eq(r->status, 200);
	cr_expect_not_null(strstr(r->body, "\"author\":\"ann\""), "%s", r->body);

	cr_assert_eq(slt_header(t, "Accept", "application/json"), 0);
	r = slt_get(t, "/notes/notes/999");
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_eq(r->status, 404);
	cr_expect_not_null(strstr(r->body, "\"status\":404"), "%s", r->body);
	close_notes(t);
}

/* Headers reach the module as nginx sends them, for the next request only. */
Test(testclient, headers_are_for_one_request)
{
	struct slt *t = slt_open(BUILD_DIR "/apps/echo.so", NULL, NULL);
	const struct slt_response *r;

	cr_assert_not_null(t, "%s", slt_error());
	cr_assert_eq(slt_header(t, "X-Trace-Id", "abc 1"), 0);
	r = slt_request(t, "PUT", "/echo?a=1", "text/plain", "hi", 2);
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_eq(r->status, 200);
	cr_expect_not_null(strstr(r->body, "\"HTTP_X_TRACE_ID\":\"abc 1\""), "%s", r->body);
	cr_expect_not_null(strstr(r->body, "\"method\":\"PUT\""), "%s", r->body);
	cr_expect_not_null(strstr(r->body, "\"query\":\"a=1\""), "%s", r->body);
	cr_expect_not_null(strstr(r->body, "\"body\":\"hi\""), "%s", r->body);
	r = slt_get(t, "/echo");
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_null(strstr(r->body, "X_TRACE_ID"), "%s", r->body);
	slt_close(t);
}

Test(testclient, form_post_sets_a_cookie_the_jar_sends_back)
{
	static const char form[] = "author=Zo%C3%A9+B&text=hello";
	struct slt *t = open_notes("");
	const struct slt_response *r;

	r = slt_post(t, "/notes/notes", "application/x-www-form-urlencoded", form, strlen(form));
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_eq(r->status, 303);
	cr_expect_str_eq(slt_response_header(t, "Location", 0), "/notes");
	cr_assert_not_null(slt_jar(t, "author"));
	cr_expect_str_eq(slt_jar(t, "author"), "Zo%C3%A9%20B");

	r = slt_get(t, "/notes");
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_eq(r->status, 200);
	cr_expect_not_null(strstr(r->body, "value=\"Zo\xc3\xa9 B\""), "%s", r->body);

	cr_assert_eq(slt_cookie(t, "author", NULL), 0);
	r = slt_get(t, "/notes");
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_not_null(strstr(r->body, "placeholder=\"your name\" value=\"\""), "%s", r->body);
	close_notes(t);
}

/* Larger than any socket buffer, both ways: nothing is lost or stuck. */
Test(testclient, large_bodies_pass_whole)
{
	struct slt *t = slt_open(FIXTURE("sink"), NULL, NULL);
	size_t len = 3u << 20;
	char *body = malloc(len), want[64];
	const struct slt_response *r;

	cr_assert_not_null(t, "%s", slt_error());
	memset(body, 'x', len);
	r = slt_post(t, "/sink", "application/octet-stream", body, len);
	cr_assert_not_null(r, "%s", slt_error());
	snprintf(want, sizeof(want), "read %zu bytes in %d\n", len, (int)getpid());
	cr_expect_str_eq(r->body, want);
	free(body);
	slt_close(t);

	t = slt_open(FIXTURE("big"), NULL, NULL);
	cr_assert_not_null(t, "%s", slt_error());
	r = slt_get(t, "/?n=2000000");
	cr_assert_not_null(r, "%s", slt_error());
	cr_expect_eq(r->status, 200);
	cr_expect_eq(r->body_len, 2000000);
	slt_close(t);
}

Test(testclient, a_failing_init_is_null_with_the_reason)
{
	struct slt *t = slt_open(NOTES, NULL, "page_size = 0;");

	cr_expect_null(t);
	cr_expect_not_null(strstr(slt_error(), "db is required"), "%s", slt_error());
	t = slt_open(FIXTURE("bad_abi"), NULL, NULL);
	cr_expect_null(t);
	cr_expect_not_null(strstr(slt_error(), "bad_abi.so"), "%s", slt_error());
	cr_expect_null(slt_open("/nonexistent/x.so", NULL, NULL));
}
