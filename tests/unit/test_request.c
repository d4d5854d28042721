/*
 * test_request.c - a request's parameters (gateway/request.c) as the
 * codecs add them: each a NUL-terminated copy a module can read, in one
 * reserved piece of the arena or, past it, one allocation each; a NUL
 * byte refused wherever it is; and the parameters sluice reads itself
 * noted as they come, the first of each winning.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "request.h"
#include "router.h"

static char dir[64];
static struct sl_config cfg;
static struct router router;
static struct sl_request req;

static void setup(void)
{
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/sluice-request-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/error.log", dir);
	cr_assert_eq(log_open(path, LOG_DEBUG), 0);
	cfg.limits.max_params = DEFAULT_MAX_PARAMS;
	cfg.limits.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
	cfg.limits.max_request_memory = DEFAULT_MAX_REQUEST_MEMORY;
	cr_assert_eq(request_init(&req, &cfg, &router), 0);
	request_begin(&req, NULL);
}

static void teardown(void)
{
	char path[128];

	request_free(&req);
	snprintf(path, sizeof(path), "%s/error.log", dir);
	unlink(path);
	rmdir(dir);
}

TestSuite(request, .init = setup, .fini = teardown);

/*
 * Add "name" and "value" as a codec does: strings that end in NUL, in
 * memory that outlives the call (here the request's arena), one slot
 * each, then noted.
 */
static int add(const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);
	char *s = sl_alloc(&req, n + v + 2);
	struct param *slot = request_param_slot(&req);

	cr_assert_not_null(s);
	if (!slot)
		return request_params_full(&req);
	memcpy(s, name, n + 1);
	memcpy(s + n + 1, value, v + 1);
	*slot = (struct param){ s, s + n + 1, n, v };
	request_note_params(&req, req.nparams - 1);
	return 0;
}

/* The parameters sluice reads are noted as added; the first of each wins. */
Test(request, known_parameters_first_wins)
{
	const struct request_known *k = &req.known;

	cr_assert_eq(add("REQUEST_METHOD", "POST"), 0);
	cr_assert_eq(add("REQUEST_METHOD", "GET"), 0);
	cr_assert_eq(add("DOCUMENT_URI", "/a"), 0);
	cr_assert_eq(add("QUERY_STRING", "x=1"), 0);
	cr_assert_eq(add("SCRIPT_NAME", "/s"), 0);
	cr_assert_eq(add("REQUEST_URI", "/a?x=1"), 0);
	cr_assert_eq(add("PATH_INFO", "/p"), 0);
	cr_assert_eq(add("CONTENT_LENGTH", "5"), 0);
	cr_assert_eq(add("CONTENT_LENGTH", "6"), 0);
	cr_assert_eq(add("CONTENT_LENGTX", "7"), 0);
	cr_expect_str_eq(k->method, "POST");
	cr_expect_str_eq(k->document_uri, "/a");
	cr_expect_str_eq(k->query, "x=1");
	cr_expect_str_eq(k->script_name, "/s");
	cr_expect_str_eq(k->request_uri, "/a?x=1");
	cr_expect_str_eq(k->path_info, "/p");
	cr_expect_str_eq(k->length, "5");
	cr_expect_eq(k->nlength, 2);
	request_begin(&req, NULL);
	cr_expect_null(k->method);
	cr_expect_eq(k->nlength, 0);
}

Test(request, link_under_the_root_mount)
{
	cr_expect_str_eq(sl_link(&req, "/notes/%lld", 7LL), "/notes/7");
	cr_expect_str_eq(sl_link(&req, "%s", ""), "");
}

/* Another helper's NULL (memory was short) is an error, not a crash. */
Test(request, escapers_refuse_null)
{
	errno = 0;
	cr_expect_null(sl_html_escape(&req, NULL));
	cr_expect_eq(errno, EINVAL);
	cr_expect_null(sl_json_escape(&req, NULL));
	cr_expect_null(sl_url_encode(&req, NULL, 0));
	cr_expect_null(sl_url_decode(&req, NULL, 0));
	cr_expect_eq(sl_write_html(&req, NULL), -1);
	cr_expect_eq(sl_write_json_string(&req, NULL), -1);
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(req.out_len, 0, "something was written");
}
