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

/* Add "name" and "value" as a codec would, from a FastCGI-like wire form. */
static int add(const char *name, const char *value)
{
	char wire[256];
	size_t n = strlen(name), v = strlen(value);

	cr_assert_lt(n + v, sizeof(wire));
	memcpy(wire, name, n);
	memcpy(wire + n, value, v);
	return request_add_param(&req, wire, n, wire + n, v);
}

Test(request, parameters_are_copies_that_end_in_nul)
{
	const char *name, *value;

	request_reserve_params(&req, 64);
	cr_assert_eq(add("REQUEST_METHOD", "GET"), 0);
	cr_assert_eq(add("EMPTY", ""), 0);
	cr_assert_eq(sl_param_count(&req), 2);
	cr_assert_eq(sl_param_at(&req, 0, &name, &value), 0);
	cr_expect_str_eq(name, "REQUEST_METHOD");
	cr_expect_str_eq(value, "GET");
	cr_expect_str_eq(sl_param(&req, "EMPTY"), "");
	cr_expect_eq(req.params[1].name_len, 5);
	cr_expect_eq(req.params[1].value_len, 0);
}

/* Past the reserved room, each parameter gets room of its own. */
Test(request, more_than_the_reserved_room)
{
	char name[16];

	request_reserve_params(&req, 8);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "P%d", i);
		cr_assert_eq(add(name, "a value longer than the room"), 0);
	}
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "P%d", i);
		cr_expect_str_eq(sl_param(&req, name), "a value longer than the room");
	}
}

/* A NUL in a name or a value is a 400, whether they lie side by side or not. */
Test(request, a_nul_byte_is_refused)
{
	static const char joined[] = "NAME" "va\0ue";
	static const char name[] = "NA\0E", value[] = "value";

	cr_expect_eq(request_add_param(&req, joined, 4, joined + 4, 5), -1);
	cr_expect_eq(req.early_status, 400);
	request_begin(&req, NULL);
	cr_expect_eq(request_add_param(&req, name, 4, value, 5), -1);
	cr_expect_eq(req.early_status, 400);
	request_begin(&req, NULL);
	cr_expect_eq(request_add_param(&req, value, 5, name, 4), -1);
	cr_expect_eq(req.early_status, 400);
	cr_expect_eq(sl_param_count(&req), 0);
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

/*
 * A wire block as FastCGI lays it out (one-byte lengths, then the name
 * and the value), and the pairs added from it in order, as fcgi.c does.
 * Returns what the last request_add_param returned.
 */
static int add_wire(const char *const *pairs, size_t npairs)
{
	static char wire[512];
	const char *at[16][2];
	size_t len[16][2], w = 0;
	int rc = 0;

	cr_assert_leq(npairs, 16);
	for (size_t i = 0; i < npairs; i++) {
		for (int j = 0; j < 2; j++)
			len[i][j] = strlen(pairs[2 * i + j]);
		if (strcmp(pairs[2 * i + 1], "(nul)") == 0)
			len[i][1] = 3;	/* "a", NUL, "b" */
		wire[w++] = (char)len[i][0];
		wire[w++] = (char)len[i][1];
		for (int j = 0; j < 2; j++) {
			at[i][j] = wire + w;
			if (j == 1 && len[i][1] == 3 && strcmp(pairs[2 * i + 1], "(nul)") == 0)
				memcpy(wire + w, "a\0b", 3);
			else
				memcpy(wire + w, pairs[2 * i + j], len[i][j]);
			w += len[i][j];
		}
	}
	request_reserve_params(&req, w);
	for (size_t i = 0; i < npairs && rc == 0; i++)
		rc = request_add_param(&req, at[i][0], len[i][0], at[i][1], len[i][1]);
	return rc;
}

/* NUL bytes in the lengths (empty values) are not in any string. */
Test(request, wire_block_with_empty_values)
{
	static const char *const pairs[] = {
		"QUERY_STRING", "", "REQUEST_METHOD", "GET", "CONTENT_TYPE", "",
		"CONTENT_LENGTH", "", "SCRIPT_NAME", "/", "HTTP_HOST", "localhost",
	};

	cr_assert_eq(add_wire(pairs, 6), 0);
	cr_assert_eq(sl_param_count(&req), 6);
	cr_expect_str_eq(sl_param(&req, "QUERY_STRING"), "");
	cr_expect_str_eq(sl_param(&req, "REQUEST_METHOD"), "GET");
	cr_expect_str_eq(sl_param(&req, "CONTENT_LENGTH"), "");
	cr_expect_str_eq(sl_param(&req, "HTTP_HOST"), "localhost");
}

/* A NUL inside a value is found after NULs in lengths were passed over. */
Test(request, wire_block_nul_in_a_later_value)
{
	static const char *const pairs[] = {
		"A", "", "B", "x", "C", "", "D", "(nul)", "E", "y",
	};

	cr_expect_eq(add_wire(pairs, 5), -1);
	cr_expect_eq(req.early_status, 400);
	cr_expect_eq(sl_param_count(&req), 3);
}

/* A link under the root mount is the formatted path alone. */
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
