/*
 * scenarios.h - the sample-app scenarios that several front-end suites
 * run the same way: the same requests to hello, echo and routes, the
 * same assertions, whichever web server stands in front of sluice.
 *
 * A suite describes its front once (how it sends a request, under which
 * prefix the modules are mounted) and calls a scenario from its own
 * Test(), which keeps its name, its fixtures and whatever it checks
 * besides (its logs, above all).  The scenarios assert with Criterion:
 * they are linked into the one test binary and run inside the caller's
 * test.
 */
#ifndef SLUICE_TEST_SCENARIOS_H
#define SLUICE_TEST_SCENARIOS_H

#include <stddef.h>

#include "harness.h"

/*
 * One request through the suite's front, to `path` on the front's own
 * port: it asserts that an HTTP response came and fills `r`, which the
 * caller frees.
 */
typedef void (*scenario_request_fn)(const char *method, const char *path, const char *body,
				    size_t body_len, const char *const *headers,
				    struct http_reply *r);

struct scenario_front {
	scenario_request_fn request;
	const char *prefix;	/* before every module's mount: "" or "/app" */
};

/*
 * GET `path` (under the prefix) is hello's greeting, as text/plain.
 */
void scenario_hello(const struct scenario_front *f, const char *path);

/*
 * GET PREFIX/echo/some/path?a=1&b=two with a custom header: echo's JSON
 * shows the method, the path sluice routed on, the query, the header,
 * each of `cgi` (NULL-terminated `"NAME":"value"` pieces: the CGI
 * variables differ from front to front), REQUEST_URI as sent and an
 * empty body.
 */
void scenario_echo_reflects(const struct scenario_front *f, const char *const *cgi);

/*
 * GET `target`, an untidy spelling of PREFIX/echo/a%20b/?q=%20 (doubled
 * slashes where this front merges them): echo saw the decoded, merged
 * path and the query still encoded.
 */
void scenario_echo_decoded_path(const struct scenario_front *f, const char *target);

/*
 * PUT PREFIX/echo/put with a body of quotes, backslashes, control bytes
 * and UTF-8 comes back escaped as JSON; POST PREFIX/echo/post with 1 MB
 * comes back whole, at the end of the reply.  The front must let a
 * megabyte through.
 */
void scenario_echo_request_bodies(const struct scenario_front *f);

/*
 * PUT PREFIX/echo with a body of quotes, backslashes, control bytes,
 * DEL and UTF-8: echo shows its type, its length and the body escaped as
 * JSON.
 */
void scenario_echo_escapes_json(const struct scenario_front *f);

/*
 * POST PREFIX/echo with 1 MB: the length arrives, and the reply ends
 * with the body, whole, as echo's last field.
 */
void scenario_echo_one_megabyte(const struct scenario_front *f);

/*
 * 160 POSTs of 64 KB to `url` (echo's route on the front's own port), 8
 * at a time: every one is answered 200 by echo, as a POST.  While
 * one connection's body arrives its worker serves others: nothing of one
 * request may end up in another's.  Calls curl_global_init itself.
 */
void scenario_concurrent_bodies(const char *url);

/*
 * POST `total` bytes to `url`, echo's route on the front's own port, in
 * uneven chunks (harness_http_chunked_post): 200, and echo's last field
 * is the bytes sent, whole and in order.  Returns the reply, malloc'ed,
 * for the suite's own checks of how the length was passed on.
 */
char *scenario_echo_chunked(const char *url, size_t total);

/*
 * GET PREFIX/demo/users/2 is bob (a captured segment), and
 * PREFIX/demo/users/42 is routes' own 404.
 */
void scenario_routes_find_users(const struct scenario_front *f);

/*
 * scenario_routes_find_users, then POST PREFIX/demo/users creates user
 * 4 with its Location (the path routes knows, without the prefix), and a
 * tail capture takes the rest of PREFIX/demo/files/a/b/c.txt.
 */
void scenario_routes_capture(const struct scenario_front *f);

/*
 * GET each of `paths` (NULL-terminated, taken as they are, without the
 * prefix) is sluice's 404, with its request id.
 */
void scenario_routes_unknown_paths(const struct scenario_front *f, const char *const *paths);

#endif
