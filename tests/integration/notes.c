/*
 * notes.c - the sample app apps/notes through the real nginx, as
 * `make run` mounts it (at /notes, so its JSON API is /notes/notes): two
 * workers sharing one SQLite file named by the module's settings, notes
 * made from JSON and from the page's form, listed, read, deleted, bad
 * input answered with the right status, user text escaped on the page,
 * and the author's cookie set safely and read back.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"

/* The smallest body the app refuses with 413, from max_body below. */
#define MAX_BODY 256

static struct sluice_proc sp;
static struct nginx_proc np;
static char dbdir[128], db[192];

static void setup(void)
{
	char so[1024], body[2048];

	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
	assert_built(so, sizeof(so), "apps/notes.so");
	cr_assert_eq(harness_make_dir(dbdir, sizeof(dbdir)), 0);
	snprintf(db, sizeof(db), "%s/notes.db", dbdir);
	snprintf(body, sizeof(body), "pm = { max_children = 2; };\nmodules = (\n"
		 "  { path = \"%s\"; mount = \"/notes\";\n"
		 "    settings = { db = \"%s\"; page_size = 3; max_body = %d; }; }\n);\n",
		 so, db, MAX_BODY);
	cr_assert_eq(harness_sluice_start(&sp, body), 0, "sluice did not start");
	cr_assert_eq(harness_nginx_start(&np, sp.sock, HARNESS_KEEPALIVE_LOCATION), 0,
		     "nginx did not start");
}

static void teardown(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
	harness_remove_dir(dbdir);
}

TestSuite(notes, .init = setup, .fini = teardown, .timeout = 30);

static void req(const char *method, const char *path, const char *body,
		const char *const *headers, struct http_reply *r)
{
	char url[512];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", np.port, path);
	cr_assert_eq(http_request(method, url, body, body ? strlen(body) : 0, headers, r), 0,
		     "%s %s: no answer", method, path);
}

static const char *const json_type[] = { "Content-Type: application/json", NULL };
static const char *const form_type[] = {
	"Content-Type: application/x-www-form-urlencoded", NULL
};

/* POST `json` to the API: 201, Location /notes/notes/`id`, the note as JSON. */
static void post_json(const char *json, int id)
{
	struct http_reply r;
	char location[64], want[64];

	req("POST", "/notes/notes", json, json_type, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	snprintf(location, sizeof(location), "Location: /notes/notes/%d\r", id);
	cr_expect(harness_has_header_line(r.headers, location), "%s", r.headers);
	cr_expect(harness_has_header_line(r.headers, "Content-Type: application/json"), "%s",
		  r.headers);
	snprintf(want, sizeof(want), "{\"id\":%d,\"author\":", id);
	assert_has(r.body, want);
	http_reply_free(&r);
}

/* `status`, a JSON content type and `want` in the body. */
static void expect_reply(const char *method, const char *path, const char *body, long status,
			 const char *want)
{
	struct http_reply r;

	req(method, path, body, json_type, &r);
	cr_assert_eq(r.status, status, "%s %s: %ld\n%s", method, path, r.status, r.body);
	if (want) {
		cr_expect(harness_has_header_line(r.headers, "Content-Type: application/json"),
			  "%s", r.headers);
		assert_has(r.body, want);
	}
	http_reply_free(&r);
}

Test(notes, json_create_get_list_newest_first_and_delete)
{
	struct http_reply r;

	post_json("{\"text\":\"first\",\"author\":\"ann\"}", 1);
	post_json("{\"text\":\"second\"}", 2);
	post_json("{\"text\":\"third \\\"quoted\\\"\",\"author\":\"cy\",\"extra\":1}", 3);

	expect_reply("GET", "/notes/notes/1", NULL, 200,
		     "{\"id\":1,\"author\":\"ann\",\"text\":\"first\",\"created\":");
	expect_reply("GET", "/notes/notes?limit=2", NULL, 200,
		     "{\"notes\":[{\"id\":3,\"author\":\"cy\",\"text\":\"third \\\"quoted\\\"\"");
	expect_reply("GET", "/notes/notes?limit=2", NULL, 200,
		     "{\"id\":2,\"author\":\"anonymous\",\"text\":\"second\",\"created\":");
	req("GET", "/notes/notes?limit=2", NULL, NULL, &r);
	assert_lacks(r.body, "\"id\":1,");
	http_reply_free(&r);
	/* No limit: page_size (3) from the settings. */
	req("GET", "/notes/notes", NULL, NULL, &r);
	assert_has(r.body, "\"id\":1,");
	http_reply_free(&r);

	expect_reply("DELETE", "/notes/notes/2", NULL, 204, NULL);
	expect_reply("GET", "/notes/notes/2", NULL, 404, "{\"status\":404,\"error\":\"no such note\"");
	expect_reply("DELETE", "/notes/notes/2", NULL, 404, "\"error\":\"no such note\"");
	expect_reply("GET", "/notes/notes/abc", NULL, 404, "\"error\":\"no such note\"");
	expect_sluice_clean(&sp);
	expect_nginx_clean(&np);
}

Test(notes, bad_input_gets_400_and_a_large_body_413)
{
	char big[MAX_BODY + 64];

	expect_reply("POST", "/notes/notes", "{\"text\":", 400, "{\"status\":400,\"error\":\"");
	expect_reply("POST", "/notes/notes", "[1, 2]", 400, "\"error\":\"");
	expect_reply("POST", "/notes/notes", "{\"author\":\"x\"}", 400, "text");
	expect_reply("POST", "/notes/notes", "{\"text\":42}", 400, "\"error\":\"");
	expect_reply("POST", "/notes/notes", "{\"text\":\"\"}", 400, "text is empty");
	expect_reply("GET", "/notes/notes?limit=0", NULL, 400, "limit must be");
	expect_reply("GET", "/notes/notes?limit=101", NULL, 400, "limit must be");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "{\"text\":\"", 9);
	memcpy(big + sizeof(big) - 3, "\"}", 2);
	expect_reply("POST", "/notes/notes", big, 413, NULL);
	/* Nothing of it was stored. */
	expect_reply("GET", "/notes/notes", NULL, 200, "{\"notes\":[]}");
	expect_sluice_clean(&sp);
}

Test(notes, form_post_redirects_and_the_cookie_prefills_the_author)
{
	const char *const with_cookie[] = { "Cookie: author=Zo%C3%AB%20%3Cb%3E%22", NULL };
	struct http_reply r;

	req("POST", "/notes/notes", "author=Zo%C3%AB+%3Cb%3E%22&text=from+a+form", form_type, &r);
	cr_assert_eq(r.status, 303, "%s", r.body);
	cr_expect(harness_has_header_line(r.headers, "Location: /notes\r"), "%s", r.headers);
	cr_expect(harness_has_header_line(r.headers, "Set-Cookie: author=Zo%C3%AB%20%3Cb%3E%22; "
					  "Path=/notes; Max-Age=2592000; HttpOnly; SameSite=Lax"),
		  "%s", r.headers);
	http_reply_free(&r);

	expect_reply("GET", "/notes/notes/1", NULL, 200,
		     "\"author\":\"Zo\xc3\xab \\u003Cb\\u003E\\\"\",\"text\":\"from a form\"");

	req("GET", "/notes", NULL, with_cookie, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	assert_has(r.body, "<input name=\"author\" placeholder=\"your name\" "
		   "value=\"Zo\xc3\xab &lt;b&gt;&quot;\">");
	assert_has(r.body, "<form method=\"post\" action=\"/notes/notes\">");
	http_reply_free(&r);

	/* Without the cookie the field is empty; an empty form text is refused. */
	req("GET", "/notes/", NULL, NULL, &r);
	assert_has(r.body, "value=\"\">");
	http_reply_free(&r);
	req("POST", "/notes/notes", "author=x&text=", form_type, &r);
	cr_expect_eq(r.status, 400, "%s", r.body);
	http_reply_free(&r);
	expect_sluice_clean(&sp);
}

Test(notes, the_page_escapes_what_users_wrote)
{
	struct http_reply r;

	post_json("{\"text\":\"<script>alert('x')</script> & more\",\"author\":\"<i>eve</i>\"}", 1);
	req("GET", "/notes", NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect(harness_has_header_line(r.headers, "Content-Type: text/html; charset=utf-8"),
		  "%s", r.headers);
	assert_has(r.body, "<li><b>&lt;i&gt;eve&lt;/i&gt;</b>: "
		   "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more</li>");
	assert_lacks(r.body, "<script>");
	assert_lacks(r.body, "<i>");
	http_reply_free(&r);
}

/* The whole of `path`, which may hold NUL bytes: malloc'ed, its length in *len. */
static char *read_binary(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);

	cr_assert_not_null(f, "%s does not exist", path);
	cr_assert_not_null(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

Test(notes, the_database_is_the_file_the_settings_name)
{
	size_t len;
	char *data;

	post_json("{\"text\":\"kept on disk 7f3a\"}", 1);
	data = read_binary(db, &len);
	cr_assert_gt(len, 16);
	cr_expect_eq(memcmp(data, "SQLite format 3", 16), 0, "%s is not an SQLite file", db);
	cr_expect_not_null(memmem(data, len, "kept on disk 7f3a", 17), "the note is not in %s", db);
	free(data);
	cr_expect_eq(harness_log_wait(&sp, "module notes: notes kept in ", 3000), 0);
}
