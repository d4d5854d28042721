/*
 * sluice_test.h - run a module's handlers from a test, without a server.
 *
 * The test client loads a module the way sluice does (dlopen, the ABI
 * check, its routes, its settings), runs its init, and serves each
 * request through sluice's own request code: the request goes over an
 * in-memory connection as the FastCGI records nginx would send, is
 * decoded, routed and handled by the real sl_* functions, and the
 * response records are decoded back into a status, headers and a body.
 * What a test sees is what nginx would have been sent.
 *
 *	#include <criterion/criterion.h>
 *	#include <sluice_test.h>
 *
 *	Test(hello, answers)
 *	{
 *		struct slt *t = slt_open("./hello.so", NULL, "greeting = \"hi\";");
 *		const struct slt_response *r;
 *
 *		cr_assert_not_null(t, "%s", slt_error());
 *		r = slt_get(t, "/hello/ann");
 *		cr_expect_eq(r->status, 200);
 *		cr_expect_str_eq(r->body, "hi, ann\n");
 *		slt_close(t);
 *	}
 *
 * Link the test with libsluice-test.a, which holds sluice's request code,
 * and export the sl_* symbols for the module to find (see sluice_test.pc
 * or the Makefile that `sluice new` writes).  One client at a time per
 * process: it owns the process's module set and error log, as a worker
 * does.  Functions that can fail return NULL or -1 and leave the reason
 * in slt_error().
 */
#ifndef SLUICE_TEST_H
#define SLUICE_TEST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct slt;

/*
 * What came back for one request.  `body` is NUL-terminated (it may hold
 * NUL bytes itself: use body_len).  Valid until the next request on the
 * same client, or slt_close.
 */
struct slt_response {
	int status;
	const char *body;
	size_t body_len;
};

/*
 * Load the module at `path`, mount it at `mount` (NULL: "/") with the
 * libconfig text `settings` as the body of its settings group (NULL:
 * none), e.g. "db = \"/tmp/t.db\"; page_size = 2;", and run its init.
 * NULL when the module cannot be loaded or its init fails.
 */
struct slt *slt_open(const char *path, const char *mount, const char *settings);

/* Run the module's fini and let everything go. */
void slt_close(struct slt *t);

/*
 * Add a request header ("Accept", "application/json") to the next
 * request only; it reaches the module as HTTP_ACCEPT, as nginx sends it.
 */
int slt_header(struct slt *t, const char *name, const char *value);

/*
 * Put cookie `name` in the client's jar (value NULL: take it out).  The
 * jar is sent with every request, and a response's Set-Cookie headers
 * update it as a browser would (Max-Age=0 takes a cookie out).
 */
int slt_cookie(struct slt *t, const char *name, const char *value);

/* The value of cookie `name` in the jar, or NULL. */
const char *slt_jar(const struct slt *t, const char *name);

/*
 * A request: `uri` is the path and query as a browser sends them
 * ("/notes?limit=2", percent-encoded); `type` and `body` (of `len`
 * bytes) are the Content-Type and body, NULL for none.  NULL when the
 * request could not be served at all (the reason in slt_error()).
 */
const struct slt_response *slt_request(struct slt *t, const char *method, const char *uri,
				       const char *type, const void *body, size_t len);
const struct slt_response *slt_get(struct slt *t, const char *uri);
const struct slt_response *slt_post(struct slt *t, const char *uri, const char *type,
				    const void *body, size_t len);

/*
 * A header of the last response by name, case-insensitive, or NULL:
 * the `n`-th (0-based) of that name, for those that repeat (Set-Cookie).
 */
const char *slt_response_header(const struct slt *t, const char *name, int n);

/* What the module and sluice have written to the error log so far. */
const char *slt_log(struct slt *t);

/* Why the last call failed. */
const char *slt_error(void);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_TEST_H */
