/*
 * nginx_fcgi.c - the real nginx in front of the real sluice, over
 * FastCGI on a unix socket, with the sample modules and the fixtures.
 *
 * The main location is the one users copy: the `location /` block of
 * conf/nginx/sluice.conf, pasted into the harness's server block (whose
 * `upstream sluice` keeps idle connections like the example's).
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "harness.h"

#define SNIPPET "conf/nginx/sluice.conf"
#define PARAMS "/etc/nginx/fastcgi_params"

static struct sluice_proc sp;
static struct nginx_proc np;

static void stop_all(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
}

/* ---- Setting up ------------------------------------------------------- */

/* The absolute path of BUILD_DIR/`rel`: sluice resolves relative module
 * paths against its config's folder, which is the private one. */
static void build_path(char *out, size_t len, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", BUILD_DIR, rel);
	cr_assert_not_null(realpath(path, out), "%s is not built", path);
	cr_assert_lt(strlen(out), len);
}

/*
 * A `modules` list from "MOUNT=REL_PATH" entries, e.g.
 * "/=apps/hello.so", followed by a pool of two workers.
 */
static char *modules_conf(const char *const *mods)
{
	static char conf[4096];
	char path[4096];
	char mount[64];
	const char *eq;
	size_t n;

	n = (size_t)snprintf(conf, sizeof(conf),
			     "pm = { max_children = 2; };\nmodules = (\n");
	for (; *mods != NULL; mods++) {
		eq = strchr(*mods, '=');
		snprintf(mount, sizeof(mount), "%.*s", (int)(eq - *mods), *mods);
		build_path(path, sizeof(path), eq + 1);
		n += (size_t)snprintf(conf + n, sizeof(conf) - n,
				      "  { path = \"%s\"; mount = \"%s\"; }%s\n",
				      path, mount, mods[1] != NULL ? "," : "");
	}
	snprintf(conf + n, sizeof(conf) - n, ");\n");
	return conf;
}

/*
 * The `location / { ... }` block of the shipped nginx snippet, with its
 * `include fastcgi_params` made absolute (the harness's nginx has its own
 * prefix, where that file does not exist).
 */
static char *snippet_location(void)
{
	static char out[8192];
	char text[8192];
	FILE *f = fopen(SNIPPET, "r");
	size_t len;
	char *start, *p;
	int depth = 0;

	cr_assert_not_null(f, "cannot open %s", SNIPPET);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	start = strstr(text, "location / {");
	cr_assert_not_null(start, "%s has no `location / {`", SNIPPET);
	for (p = start; *p != '\0'; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			break;
	}
	cr_assert_eq(*p, '}', "%s: unbalanced location block", SNIPPET);
	p[1] = '\0';
	p = strstr(start, "include fastcgi_params;");
	cr_assert_not_null(p, "%s: the location does not include fastcgi_params", SNIPPET);
	snprintf(out, sizeof(out), "%.*sinclude " PARAMS ";%s", (int)(p - start), start,
		 p + strlen("include fastcgi_params;"));
	return out;
}

/*
 * Extra locations next to the shipped one: an unbuffered request body
 * for /echo/unbuffered (a chunked upload then reaches sluice as it
 * arrives, without a length), and an unbuffered response for /big, so
 * that nginx reads the 100 MB only as fast as the client takes them and
 * the worker streams for the whole download.
 */
static const char extra_locations[] =
	"location = /echo/unbuffered {\n"
	"  include " PARAMS ";\n"
	"  fastcgi_pass sluice;\n"
	"  fastcgi_keep_conn on;\n"
	"  fastcgi_request_buffering off;\n"
	"}\n"
	"location /big {\n"
	"  include " PARAMS ";\n"
	"  fastcgi_pass sluice;\n"
	"  fastcgi_keep_conn on;\n"
	"  fastcgi_buffering off;\n"
	"}\n";

static void start_with(const char *const *mods)
{
	char locations[16384];

	cr_assert_eq(harness_sluice_start(&sp, modules_conf(mods)), 0,
		     "sluice did not start");
	snprintf(locations, sizeof(locations), "%s\n%s", snippet_location(),
		 extra_locations);
	cr_assert_eq(harness_nginx_start(&np, sp.sock, locations), 0,
		     "nginx did not start");
}

/* The sample apps and every fixture that serves, hello catching the rest. */
static void start_all(void)
{
	static const char *const mods[] = {
		"/=apps/hello.so", "/echo=apps/echo.so", "/demo=apps/routes.so",
		"/headers=fixtures/headers.so", "/big=fixtures/big.so",
		"/fail=fixtures/fail.so", NULL
	};

	start_with(mods);
}

/* routes alone, so that paths it does not know reach no catch-all. */
static void start_routes(void)
{
	static const char *const mods[] = { "/demo=apps/routes.so", NULL };

	start_with(mods);
}

/* ---- Requests --------------------------------------------------------- */

static const char *url(const char *path)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", np.port, path);
	return buf;
}

static void request(const char *method, const char *path, const char *body,
		    size_t body_len, const char *const *headers, struct http_reply *r)
{
	cr_assert_eq(http_request(method, url(path), body, body_len, headers, r), 0,
		     "%s %s: no HTTP response", method, path);
}

/* 1 if the raw header block has a line starting with `line` (any case). */
static int has_header_line(const char *headers, const char *line)
{
	const char *p = headers;

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, line, strlen(line)) == 0)
			return 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

/*
 * Neither sluice nor nginx logged an error: a response can look whole
 * to the client while nginx logs "upstream prematurely closed" or sluice
 * a failed write.
 */
static void assert_no_log_errors(void)
{
	static const char *const bad[] = { "[error]", "[crit]", "[alert]", "[emerg]", NULL };
	char path[256], *log, text[16384];
	size_t len = 0;
	FILE *f;
	int i;

	log = harness_sluice_log(&sp);
	cr_expect_null(strstr(log, "[error]"), "sluice logged an error:\n%s", log);
	free(log);
	snprintf(path, sizeof(path), "%s/error.log", np.dir);
	f = fopen(path, "r");
	if (f != NULL) {
		len = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[len] = '\0';
	for (i = 0; bad[i] != NULL; i++)
		cr_expect_null(strstr(text, bad[i]), "nginx logged %s:\n%s", bad[i], text);
}

/* ---- hello ------------------------------------------------------------ */

Test(nginx_fcgi, hello_at_root, .init = start_all, .fini = stop_all)
{
	struct http_reply r;

	request("GET", "/", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello from sluice!\n");
	cr_assert(has_header_line(r.headers, "Content-Type: text/plain"),
		  "headers:\n%s", r.headers);
	http_reply_free(&r);
}

Test(nginx_fcgi, hello_under_its_mount, .init = start_all, .fini = stop_all)
{
	struct http_reply r;

	request("POST", "/some/where/else?x=1", "ignored", 7, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello from sluice!\n");
	http_reply_free(&r);
}

/* ---- echo ------------------------------------------------------------- */

#define assert_has(hay, needle) \
	cr_assert_not_null(strstr((hay), (needle)), "no %s in:\n%.2000s", (needle), (hay))

Test(nginx_fcgi, echo_reflects_the_request, .init = start_all, .fini = stop_all)
{
	static const char *const hdrs[] = { "X-Custom-Thing: value one", NULL };
	struct http_reply r;
	const char *id;

	request("GET", "/echo/some/path?a=1&b=two", NULL, 0, hdrs, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(has_header_line(r.headers, "Content-Type: application/json"),
		  "headers:\n%s", r.headers);
	cr_assert_eq(r.body[0], '{');
	assert_has(r.body, "\"method\":\"GET\"");
	assert_has(r.body, "\"path\":\"/echo/some/path\"");
	assert_has(r.body, "\"query\":\"a=1&b=two\"");
	assert_has(r.body, "\"x-custom-thing\":\"value one\"");
	assert_has(r.body, "\"REQUEST_METHOD\":\"GET\"");
	assert_has(r.body, "\"QUERY_STRING\":\"a=1&b=two\"");
	assert_has(r.body, "\"HTTP_X_CUSTOM_THING\":\"value one\"");
	assert_has(r.body, "\"body\":\"\"}\n");
	id = strstr(r.body, "\"request_id\":\"");
	cr_assert_not_null(id);
	cr_assert_neq(id[strlen("\"request_id\":\"")], '"', "empty request id");
	http_reply_free(&r);
}

Test(nginx_fcgi, echo_escapes_the_body_as_json, .init = start_all, .fini = stop_all)
{
	static const char *const hdrs[] = { "Content-Type: text/x-odd", NULL };
	static const char body[] = "q\"b\\s\nn\rr\tt\001c\x7f caf\xc3\xa9";
	struct http_reply r;
	char length[64];

	request("PUT", "/echo", body, sizeof(body) - 1, hdrs, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"method\":\"PUT\"");
	assert_has(r.body, "\"content-type\":\"text/x-odd\"");
	snprintf(length, sizeof(length), "\"content-length\":\"%zu\"", sizeof(body) - 1);
	assert_has(r.body, length);
	assert_has(r.body, "\"body\":\"q\\\"b\\\\s\\nn\\rr\\tt\\u0001c\x7f caf\xc3\xa9\"}");
	http_reply_free(&r);
}

Test(nginx_fcgi, echo_one_megabyte_body, .init = start_all, .fini = stop_all)
{
	size_t len = 1 << 20;
	char *body = malloc(len);
	char *expect = malloc(len + 32);
	struct http_reply r;
	size_t i;

	cr_assert(body != NULL && expect != NULL);
	for (i = 0; i < len; i++)
		body[i] = (char)('a' + (i * 7) % 26);
	request("POST", "/echo", body, len, NULL, &r);
	cr_assert_eq(r.status, 200);
	assert_has(r.body, "\"content-length\":\"1048576\"");
	memcpy(expect, "\"body\":\"", 8);
	memcpy(expect + 8, body, len);
	memcpy(expect + 8 + len, "\"}\n", 4);
	cr_assert_gt(r.body_len, len);
	cr_assert_str_eq(r.body + r.body_len - (len + 11), expect,
			 "the body did not come back whole");
	free(body);
	free(expect);
	http_reply_free(&r);
}

/* curl's read callback for a chunked upload: 200 KB in uneven pieces. */
struct upload {
	size_t sent, total;
};

static size_t upload_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nmemb;
	size_t i;

	if (n > 7000)
		n = 7000;
	if (n > u->total - u->sent)
		n = u->total - u->sent;
	for (i = 0; i < n; i++)
		buf[i] = (char)('A' + (u->sent + i) % 26);
	u->sent += n;
	return n;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	char **buf = arg;
	size_t old = *buf ? strlen(*buf) : 0;
	size_t n = size * nmemb;

	*buf = realloc(*buf, old + n + 1);
	cr_assert_not_null(*buf);
	memcpy(*buf + old, ptr, n);
	(*buf)[old + n] = '\0';
	return n;
}

Test(nginx_fcgi, echo_chunked_body_unbuffered, .init = start_all, .fini = stop_all)
{
	struct upload u = { 0, 200000 };
	struct curl_slist *hdrs = curl_slist_append(NULL, "Transfer-Encoding: chunked");
	CURL *c = curl_easy_init();
	char *got = NULL;
	char *expect = malloc(u.total + 1);
	const char *b;
	long status = 0;
	size_t i;

	cr_assert(c != NULL && expect != NULL);
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url("/echo/unbuffered"));
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);

	cr_assert_eq(status, 200);
	cr_assert_not_null(got);
	for (i = 0; i < u.total; i++)
		expect[i] = (char)('A' + i % 26);
	expect[u.total] = '\0';
	b = strstr(got, "\"body\":\"");
	cr_assert_not_null(b, "no body in %.500s", got);
	b += strlen("\"body\":\"");
	cr_assert_eq(strlen(b), u.total + 3, "body length %zu, sent %zu",
		     strlen(b) >= 3 ? strlen(b) - 3 : 0, u.total);
	cr_assert_eq(strncmp(b, expect, u.total), 0, "the chunked body came back altered");
	cr_assert_null(strstr(got, "\"content-length\":"),
		       "a chunked upload was announced with a length");
	free(expect);
	free(got);
}

/* ---- routes ----------------------------------------------------------- */

Test(nginx_fcgi, routes_capture_segments_and_tails, .init = start_routes, .fini = stop_all)
{
	struct http_reply r;

	request("GET", "/demo/users", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "1 alice\n2 bob\n3 carol\n");
	http_reply_free(&r);

	request("GET", "/demo/users/2", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "user 2: bob\n");
	http_reply_free(&r);

	request("GET", "/demo/users/42", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "no user 42\n");
	http_reply_free(&r);

	request("DELETE", "/demo/users/3", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "deleted user 3\n");
	http_reply_free(&r);

	request("POST", "/demo/users", "dave", 4, NULL, &r);
	cr_assert_eq(r.status, 201);
	cr_assert_str_eq(r.body, "created user 4: dave\n");
	cr_assert(has_header_line(r.headers, "Location: /demo/users/4"),
		  "headers:\n%s", r.headers);
	http_reply_free(&r);

	request("GET", "/demo/files/a/b/c.txt", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(strncmp(r.body, "file: ", 6), 0, "body: %s", r.body);
	assert_has(r.body, "a/b/c.txt\n");
	http_reply_free(&r);
}

Test(nginx_fcgi, routes_unknown_path_is_404, .init = start_routes, .fini = stop_all)
{
	static const char *const paths[] = {
		"/demo/nope", "/demo/users/2/extra", "/", "/elsewhere", NULL
	};
	struct http_reply r;
	int i;

	for (i = 0; paths[i] != NULL; i++) {
		request("GET", paths[i], NULL, 0, NULL, &r);
		cr_assert_eq(r.status, 404, "GET %s: %ld", paths[i], r.status);
		assert_has(r.body, "request id");
		http_reply_free(&r);
	}
}

Test(nginx_fcgi, routes_other_method_is_405_with_allow, .init = start_routes,
     .fini = stop_all)
{
	struct http_reply r;

	request("PUT", "/demo/users/1", "x", 1, NULL, &r);
	cr_assert_eq(r.status, 405);
	cr_assert(has_header_line(r.headers, "Allow: "), "headers:\n%s", r.headers);
	assert_has(r.headers, "GET");
	assert_has(r.headers, "DELETE");
	cr_assert_null(strstr(r.headers, "POST"), "headers:\n%s", r.headers);
	http_reply_free(&r);

	request("DELETE", "/demo/users", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 405);
	cr_assert(has_header_line(r.headers, "Allow: GET, POST") ||
		  has_header_line(r.headers, "Allow: POST, GET"),
		  "headers:\n%s", r.headers);
	http_reply_free(&r);
}

/* ---- keep-alive ------------------------------------------------------- */

/*
 * Open unix stream sockets that carry sluice's socket path: the
 * listening one plus every accepted connection still open (an accepted
 * socket shows its listener's address in /proc/net/unix).
 */
static int sockets_on(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[1024];
	size_t plen = strlen(path);
	size_t len;
	int n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\n");
		if (len > plen && line[len - plen - 1] == ' ' &&
		    strncmp(line + len - plen, path, plen) == 0)
			n++;
	}
	fclose(f);
	return n;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

Test(nginx_fcgi, keepalive_reuses_connections, .init = start_all, .fini = stop_all)
{
	CURL *c = curl_easy_init();
	long status, connects, total_connects = 0;
	char path[64];
	int i;
	int open;

	cr_assert_not_null(c);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/demo/users/%d", 1 + i % 3);
		curl_easy_setopt(c, CURLOPT_URL, url(path));
		cr_assert_eq(curl_easy_perform(c), CURLE_OK, "request %d failed", i);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		cr_assert_eq(status, 200, "request %d: status %ld", i, status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		total_connects += connects;
	}
	curl_easy_cleanup(c);
	cr_expect_eq(total_connects, 1, "curl opened %ld connections to nginx",
		     total_connects);

	/*
	 * One nginx worker sending one request at a time needs one upstream
	 * connection, which stays open between requests.  A sluice that
	 * closed it after each response would leave only the listener.
	 */
	open = sockets_on(sp.sock);
	cr_assert_geq(open, 2, "no kept-alive connection to sluice is open");
	cr_assert_leq(open, 3, "%d sockets on sluice's path: connections not reused",
		      open);
	assert_no_log_errors();
}

/* ---- response headers ------------------------------------------------- */

Test(nginx_fcgi, invalid_headers_refused_and_never_sent, .init = start_all,
     .fini = stop_all)
{
	static const char *const refused[] = {
		"space-name", "colon-name", "empty-name", "cr-value", "lf-value",
		"crlf-value", NULL
	};
	static const char *const never[] = {
		"X Bad", "X-Bad", "X-Cr", "X-Lf", "X-Crlf", "X-Injected", "Injected",
		NULL
	};
	struct http_reply r;
	char line[64];
	int i;

	request("GET", "/headers", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	for (i = 0; refused[i] != NULL; i++) {
		snprintf(line, sizeof(line), "%s rc=-1 errno=EINVAL\n", refused[i]);
		assert_has(r.body, line);
	}
	assert_has(r.body, "valid rc=0 errno=0\n");
	cr_assert(has_header_line(r.headers, "X-Test: ok"), "headers:\n%s", r.headers);
	for (i = 0; never[i] != NULL; i++)
		cr_assert_null(strcasestr(r.headers, never[i]), "%s was sent:\n%s",
			       never[i], r.headers);
	http_reply_free(&r);
}

/* ---- a 100 MB response in bounded memory ------------------------------- */

#define BIG_BYTES	(100LL << 20)
#define RSS_LIMIT_KB	(32 * 1024)
#define SAMPLE_EVERY	(4 << 20)

/* The parent pid of `pid`, from /proc/PID/stat, or -1. */
static long parent_of(long pid)
{
	char path[64], buf[512];
	FILE *f;
	const char *p;
	long ppid = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		/* The command name may hold spaces: parse after its ')'. */
		p = strrchr(buf, ')');
		if (p != NULL)
			sscanf(p + 1, " %*c %ld", &ppid);
	}
	fclose(f);
	return ppid;
}

static long rss_kb(long pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The largest VmRSS among the children (workers) of `master`, or -1. */
static long max_worker_rss(pid_t master)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	long pid, kb, max = -1;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = atol(e->d_name);
		if (parent_of(pid) != master)
			continue;
		kb = rss_kb(pid);
		if (kb > max)
			max = kb;
	}
	closedir(d);
	return max;
}

struct stream_check {
	long long received;
	long long next_sample;
	long long bad_at;	/* first byte out of pattern, -1 if none */
	long max_rss;
	int samples;
};

/* Count and check the bytes (big.c's pattern) without keeping them. */
static size_t stream_bytes(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct stream_check *s = arg;
	size_t n = size * nmemb;
	long long pos;
	long kb;
	size_t i;

	for (i = 0; i < n && s->bad_at < 0; i++) {
		pos = s->received + (long long)i;
		if (ptr[i] != (char)('a' + (pos % 65536) % 26))
			s->bad_at = pos;
	}
	s->received += (long long)n;
	if (s->received >= s->next_sample) {
		s->next_sample += SAMPLE_EVERY;
		kb = max_worker_rss(sp.pid);
		if (kb > 0) {
			s->samples++;
			if (kb > s->max_rss)
				s->max_rss = kb;
		}
	}
	return n;
}

Test(nginx_fcgi, hundred_megabytes_in_bounded_memory, .init = start_all,
     .fini = stop_all, .timeout = 120)
{
	struct stream_check s = { 0, SAMPLE_EVERY, -1, 0, 0 };
	CURL *c = curl_easy_init();
	char path[64];
	long status = 0;

	cr_assert_not_null(c);
	snprintf(path, sizeof(path), "/big?n=%lld", BIG_BYTES);
	curl_easy_setopt(c, CURLOPT_URL, url(path));
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 90L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_bytes);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);

	cr_log_info("largest worker VmRSS while streaming: %ld kB (%d samples)",
		    s.max_rss, s.samples);
	cr_assert_eq(status, 200);
	cr_assert_eq(s.received, BIG_BYTES, "received %lld bytes", s.received);
	cr_assert_eq(s.bad_at, -1, "byte %lld is wrong", s.bad_at);
	cr_assert_geq(s.samples, 10, "only %d memory samples taken", s.samples);
	cr_assert_lt(s.max_rss, RSS_LIMIT_KB, "a worker reached %ld kB", s.max_rss);
	assert_no_log_errors();
}

/* ---- a failing handler ----------------------------------------------- */

Test(nginx_fcgi, failing_handler_gives_500_with_request_id, .init = start_all,
     .fini = stop_all)
{
	struct http_reply r;
	const char *p;
	char id[64];
	size_t n = 0;

	request("GET", "/fail", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 500);
	cr_assert_null(strstr(r.body, "PARTIAL"), "the partial output leaked:\n%s", r.body);
	p = strcasestr(r.body, "request id");
	cr_assert_not_null(p, "no request id in the 500 body:\n%s", r.body);
	p += strlen("request id");
	while (*p != '\0' && !isalnum((unsigned char)*p))
		p++;
	while (isalnum((unsigned char)p[n]) && n < sizeof(id) - 1)
		n++;
	memcpy(id, p, n);
	id[n] = '\0';
	cr_assert_geq(n, 8, "request id \"%s\" is too short to be unique", id);
	cr_assert_eq(harness_log_wait(&sp, id, 3000), 0,
		     "request id %s is not in sluice's log", id);
	http_reply_free(&r);
}
