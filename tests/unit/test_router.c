/*
 * test_router.c - the route table: pattern syntax, matching, ranking,
 * mounts, HEAD, 405 and its Allow list.
 *
 * Each test declares routes as a table, then asks (method, path) and
 * checks which declaration answered (the `module` field carries the
 * declaration's index) and what it captured.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

struct decl {
	const char *method;
	const char *mount;
	const char *pattern;
};

/* What a lookup should give: the index of the winning declaration, or
 * NOT_FOUND / BAD_METHOD. */
enum { NF = -1, BAD = -2 };

struct probe {
	const char *method;
	const char *path;
	int expect;
	const char *tail;	/* expected "*" capture, or NULL for none */
};

static int handler(struct sl_request *req)
{
	(void)req;
	return 0;
}

static void build(struct router *rt, const struct decl *d, size_t n)
{
	char err[512];
	size_t i;

	memset(rt, 0, sizeof *rt);
	for (i = 0; i < n; i++) {
		err[0] = '\0';
		cr_assert_eq(router_add(rt, d[i].method, d[i].mount, d[i].pattern,
					handler, (int)i, err, sizeof err), 0,
			     "router_add(%s, %s, %s) failed: %s",
			     d[i].method ? d[i].method : "NULL", d[i].mount,
			     d[i].pattern, err);
	}
}

static const struct capture *find(const struct match *m, const char *name)
{
	int i;

	for (i = 0; i < m->ncaptures; i++)
		if (m->captures[i].name_len == strlen(name) &&
		    memcmp(m->captures[i].name, name, strlen(name)) == 0)
			return &m->captures[i];
	return NULL;
}

static void expect_capture(const struct match *m, const char *name,
			   const char *value, const char *ctx)
{
	const struct capture *c = find(m, name);

	cr_expect_not_null(c, "%s: no capture \"%s\"", ctx, name);
	if (!c)
		return;
	cr_expect(c->value_len == strlen(value) &&
		  memcmp(c->value, value, c->value_len) == 0,
		  "%s: capture \"%s\" is \"%.*s\", expected \"%s\"", ctx, name,
		  (int)c->value_len, c->value, value);
}

static void run_probes(const struct decl *d, size_t nd,
		       const struct probe *p, size_t np)
{
	struct router rt;
	struct match m;
	char allow[128], ctx[256];
	size_t i;

	build(&rt, d, nd);
	for (i = 0; i < np; i++) {
		enum router_result res;

		snprintf(ctx, sizeof ctx, "%s %s", p[i].method, p[i].path);
		res = router_match(&rt, p[i].method, p[i].path, &m, allow,
				   sizeof allow);
		if (p[i].expect == NF) {
			cr_expect_eq(res, ROUTER_NOT_FOUND, "%s: expected 404, got %d",
				     ctx, res);
			cr_expect_null(m.route, "%s: route set on 404", ctx);
			continue;
		}
		if (p[i].expect == BAD) {
			cr_expect_eq(res, ROUTER_BAD_METHOD, "%s: expected 405, got %d",
				     ctx, res);
			continue;
		}
		cr_expect_eq(res, ROUTER_FOUND, "%s: expected a match, got %d",
			     ctx, res);
		if (res != ROUTER_FOUND)
			continue;
		cr_expect_eq(m.route->module, p[i].expect,
			     "%s: answered by declaration %d (%s), expected %d",
			     ctx, m.route->module, m.route->pattern, p[i].expect);
		if (p[i].tail)
			expect_capture(&m, "*", p[i].tail, ctx);
		else
			cr_expect_null(find(&m, "*"), "%s: unexpected '*' capture",
				       ctx);
	}
	router_free(&rt);
}

#define PROBE(decls, probes) \
	run_probes(decls, sizeof decls / sizeof decls[0], \
		   probes, sizeof probes / sizeof probes[0])

/* ---- Literal and capture segments ------------------------------------ */

Test(router, literal_segments_are_byte_exact)
{
	static const struct decl d[] = {
		{ "GET", "/", "/" },
		{ "GET", "/", "/users" },
		{ "GET", "/", "/users/" },
		{ "GET", "/", "/a/b/c" },
		{ "GET", "/", "/a:b" },
	};
	static const struct probe p[] = {
		{ "GET", "/", 0, NULL },
		{ "GET", "/users", 1, NULL },
		{ "GET", "/users/", 2, NULL },
		{ "GET", "/Users", NF, NULL },
		{ "GET", "/user", NF, NULL },
		{ "GET", "/usersx", NF, NULL },
		{ "GET", "/users//", NF, NULL },
		{ "GET", "//", NF, NULL },
		{ "GET", "/a/b/c", 3, NULL },
		{ "GET", "/a/b", NF, NULL },
		{ "GET", "/a/b/c/", NF, NULL },
		{ "GET", "/a/b/cd", NF, NULL },
		{ "GET", "/a:b", 4, NULL },
		{ "GET", "", NF, NULL },
		{ "GET", "users", NF, NULL },
	};

	PROBE(d, p);
}

Test(router, capture_takes_one_nonempty_segment)
{
	static const struct decl d[] = {
		{ "GET", "/", "/users/:id" },
	};
	static const struct probe p[] = {
		{ "GET", "/users/42", 0, NULL },
		{ "GET", "/users/x.y-z", 0, NULL },
		{ "GET", "/users/", NF, NULL },
		{ "GET", "/users", NF, NULL },
		{ "GET", "/users/42/", NF, NULL },
		{ "GET", "/users/42/x", NF, NULL },
		{ "GET", "/users//42", NF, NULL },
	};

	PROBE(d, p);
}

Test(router, capture_names_and_values_point_into_pattern_and_path)
{
	static const struct decl d[] = {
		{ "GET", "/", "/u/:uid/posts/:post_id/:Z9" },
	};
	const char *path = "/u/7/posts/hello-world/%41";
	struct router rt;
	struct match m;
	const char *pat;

	build(&rt, d, 1);
	cr_assert_eq(router_match(&rt, "GET", path, &m, NULL, 0), ROUTER_FOUND);
	cr_assert_eq(m.ncaptures, 3);
	pat = m.route->pattern;
	cr_expect_str_eq(pat, "/u/:uid/posts/:post_id/:Z9");
	cr_expect_eq(m.captures[0].name, pat + 4);
	cr_expect_eq(m.captures[0].name_len, 3);
	cr_expect_eq(m.captures[0].value, path + 3);
	cr_expect_eq(m.captures[0].value_len, 1);
	expect_capture(&m, "uid", "7", path);
	expect_capture(&m, "post_id", "hello-world", path);
	expect_capture(&m, "Z9", "%41", path);
	cr_expect_null(find(&m, "uid "), "a name matched past its length");
	cr_expect_null(find(&m, "ui"), "a name matched short of its length");
	router_free(&rt);
}

Test(router, exact_route_has_no_captures)
{
	static const struct decl d[] = { { "GET", "/", "/a/b" } };
	struct router rt;
	struct match m;

	build(&rt, d, 1);
	cr_assert_eq(router_match(&rt, "GET", "/a/b", &m, NULL, 0), ROUTER_FOUND);
	cr_expect_eq(m.ncaptures, 0);
	cr_expect_eq(m.route->kind, ROUTE_EXACT);
	cr_expect_eq(m.route->handler, handler);
	router_free(&rt);
}

Test(router, kinds_are_recorded)
{
	static const struct decl d[] = {
		{ "GET", "/", "/a" },
		{ "GET", "/", "/a/:x" },
		{ "GET", "/", "/a/*" },
		{ "GET", "/", "/b/:x/*" },
	};
	struct router rt;

	build(&rt, d, 4);
	cr_assert_eq(rt.nroutes, 4);
	cr_expect_eq(rt.routes[0].kind, ROUTE_EXACT);
	cr_expect_eq(rt.routes[1].kind, ROUTE_CAPTURE);
	cr_expect_eq(rt.routes[2].kind, ROUTE_PREFIX);
	cr_expect_eq(rt.routes[3].kind, ROUTE_PREFIX);
	cr_expect(rt.routes[0].order < rt.routes[1].order &&
		  rt.routes[1].order < rt.routes[2].order &&
		  rt.routes[2].order < rt.routes[3].order);
	router_free(&rt);
}

/* ---- Prefix routes --------------------------------------------------- */

Test(router, prefix_tail_values)
{
	static const struct decl d[] = {
		{ "GET", "/", "/files/*" },
	};
	static const struct probe p[] = {
		{ "GET", "/files", 0, "" },
		{ "GET", "/files/", 0, "" },
		{ "GET", "/files/a", 0, "a" },
		{ "GET", "/files/a/b", 0, "a/b" },
		{ "GET", "/files/a/b/", 0, "a/b/" },
		{ "GET", "/files//a", 0, "/a" },
		{ "GET", "/filesx", NF, NULL },
		{ "GET", "/file", NF, NULL },
		{ "GET", "/", NF, NULL },
		{ "GET", "/x/files", NF, NULL },
	};

	PROBE(d, p);
}

Test(router, root_prefix_matches_everything)
{
	static const struct decl d[] = {
		{ NULL, "/", "/*" },
	};
	static const struct probe p[] = {
		{ "GET", "/", 0, "" },
		{ "GET", "/a", 0, "a" },
		{ "POST", "/a/b/", 0, "a/b/" },
		{ "DELETE", "//x", 0, "/x" },
	};

	PROBE(d, p);
}

Test(router, prefix_with_capture)
{
	static const struct decl d[] = {
		{ "GET", "/", "/u/:id/*" },
	};
	struct router rt;
	struct match m;

	build(&rt, d, 1);
	cr_assert_eq(router_match(&rt, "GET", "/u/7/x/y", &m, NULL, 0), ROUTER_FOUND);
	cr_expect_eq(m.ncaptures, 2);
	expect_capture(&m, "id", "7", "/u/7/x/y");
	expect_capture(&m, "*", "x/y", "/u/7/x/y");
	cr_assert_eq(router_match(&rt, "GET", "/u/7", &m, NULL, 0), ROUTER_FOUND);
	expect_capture(&m, "*", "", "/u/7");
	cr_expect_eq(router_match(&rt, "GET", "/u/", &m, NULL, 0), ROUTER_NOT_FOUND);
	cr_expect_eq(router_match(&rt, "GET", "/u", &m, NULL, 0), ROUTER_NOT_FOUND);
	router_free(&rt);
}

Test(router, tail_points_into_a_long_path)
{
	static const struct decl d[] = {
		{ "GET", "/", "/files/*" },
		{ "GET", "/", "/files/:a/:b" },
	};
	size_t n = 1 << 20;
	char *path = malloc(n + 1);
	struct router rt;
	struct match m;
	size_t i;

	cr_assert_not_null(path);
	memcpy(path, "/files/", 7);
	for (i = 7; i < n; i++)
		path[i] = (i % 2) ? 'a' : '/';
	path[n] = '\0';
	build(&rt, d, 2);
	cr_assert_eq(router_match(&rt, "GET", path, &m, NULL, 0), ROUTER_FOUND);
	cr_expect_eq(m.route->module, 0);
	cr_assert_eq(m.ncaptures, 1);
	cr_expect_eq(m.captures[0].value, path + 7, "the tail is not the path's own bytes");
	cr_expect_eq(m.captures[0].value_len, n - 7);
	router_free(&rt);
	free(path);
}

/* ---- Ranking --------------------------------------------------------- */

Test(router, exact_beats_capture_beats_prefix_in_any_order)
{
	static const struct decl fwd[] = {
		{ "GET", "/", "/users/me" },
		{ "GET", "/", "/users/:id" },
		{ "GET", "/", "/users/*" },
	};
	static const struct probe pf[] = {
		{ "GET", "/users/me", 0, NULL },
		{ "GET", "/users/42", 1, NULL },
		{ "GET", "/users/42/x", 2, "42/x" },
		{ "GET", "/users", 2, "" },
		{ "GET", "/users/", 2, "" },
	};
	static const struct decl rev[] = {
		{ "GET", "/", "/users/*" },
		{ "GET", "/", "/users/:id" },
		{ "GET", "/", "/users/me" },
	};
	static const struct probe pr[] = {
		{ "GET", "/users/me", 2, NULL },
		{ "GET", "/users/42", 1, NULL },
		{ "GET", "/users/42/x", 0, "42/x" },
	};

	PROBE(fwd, pf);
	PROBE(rev, pr);
}

Test(router, longest_prefix_wins_in_any_order)
{
	static const struct decl shortest_first[] = {
		{ "GET", "/", "/*" },
		{ "GET", "/", "/a/*" },
		{ "GET", "/", "/a/b/*" },
	};
	static const struct probe ps[] = {
		{ "GET", "/a/b/c", 2, "c" },
		{ "GET", "/a/b", 2, "" },
		{ "GET", "/a/b/", 2, "" },
		{ "GET", "/a/bc", 1, "bc" },
		{ "GET", "/a/x/y", 1, "x/y" },
		{ "GET", "/a", 1, "" },
		{ "GET", "/ab", 0, "ab" },
		{ "GET", "/", 0, "" },
	};
	static const struct decl longest_first[] = {
		{ "GET", "/", "/a/b/*" },
		{ "GET", "/", "/a/*" },
		{ "GET", "/", "/*" },
	};
	static const struct probe pl[] = {
		{ "GET", "/a/b/c", 0, "c" },
		{ "GET", "/a/x", 1, "x" },
		{ "GET", "/b", 2, "b" },
	};

	PROBE(shortest_first, ps);
	PROBE(longest_first, pl);
}

Test(router, longest_prefix_counts_capture_segments)
{
	static const struct decl d[] = {
		{ "GET", "/", "/a/*" },
		{ "GET", "/", "/a/:x/*" },
	};
	static const struct probe p[] = {
		{ "GET", "/a/b/c", 1, "c" },
		{ "GET", "/a/b", 1, "" },
		{ "GET", "/a", 0, "" },
		{ "GET", "/a/", 0, "" },
	};

	PROBE(d, p);
}

Test(router, equal_rank_first_declared_wins)
{
	static const struct decl caps1[] = {
		{ "GET", "/", "/x/:a/y" },
		{ "GET", "/", "/x/b/:c" },
	};
	static const struct decl caps2[] = {
		{ "GET", "/", "/x/b/:c" },
		{ "GET", "/", "/x/:a/y" },
	};
	static const struct probe pc[] = {
		{ "GET", "/x/b/y", 0, NULL },
	};
	static const struct decl pre1[] = {
		{ "GET", "/", "/a/:x/*" },
		{ "GET", "/", "/a/b/*" },
	};
	static const struct decl pre2[] = {
		{ "GET", "/", "/a/b/*" },
		{ "GET", "/", "/a/:x/*" },
	};
	static const struct probe pp[] = {
		{ "GET", "/a/b/c", 0, "c" },
	};
	static const struct decl any1[] = {
		{ NULL, "/", "/r" },
		{ "GET", "/", "/r" },
	};
	static const struct decl any2[] = {
		{ "GET", "/", "/r" },
		{ NULL, "/", "/r" },
	};
	static const struct probe pa[] = {
		{ "GET", "/r", 0, NULL },
		{ "HEAD", "/r", 0, NULL },
	};

	PROBE(caps1, pc);
	PROBE(caps2, pc);
	PROBE(pre1, pp);
	PROBE(pre2, pp);
	PROBE(any1, pa);
	PROBE(any2, pa);
}

/* ---- Methods --------------------------------------------------------- */

Test(router, methods_filter_before_ranking)
{
	static const struct decl d[] = {
		{ "GET", "/", "/users/:id" },
		{ "POST", "/", "/users/new" },
		{ NULL, "/", "/any" },
		{ "PURGE", "/", "/cache" },
	};
	static const struct probe p[] = {
		{ "GET", "/users/new", 0, NULL },
		{ "POST", "/users/new", 1, NULL },
		{ "POST", "/users/7", BAD, NULL },
		{ "GET", "/any", 2, NULL },
		{ "DELETE", "/any", 2, NULL },
		{ "BREW", "/any", 2, NULL },
		{ "PURGE", "/cache", 3, NULL },
		{ "purge", "/cache", BAD, NULL },
		{ "get", "/users/7", BAD, NULL },
	};

	PROBE(d, p);
}

Test(router, head_falls_back_to_get)
{
	static const struct decl get_only[] = {
		{ "GET", "/", "/a" },
		{ "POST", "/", "/b" },
		{ "HEAD", "/", "/h" },
	};
	static const struct probe p1[] = {
		{ "HEAD", "/a", 0, NULL },
		{ "HEAD", "/b", BAD, NULL },
		{ "GET", "/h", BAD, NULL },	/* no fallback the other way */
		{ "POST", "/a", BAD, NULL },	/* nor for other methods */
		{ "HEAD", "/h", 2, NULL },
	};
	static const struct decl head_after[] = {
		{ "GET", "/", "/a" },
		{ "HEAD", "/", "/a" },
	};
	static const struct decl head_before[] = {
		{ "HEAD", "/", "/a" },
		{ "GET", "/", "/a" },
	};
	static const struct probe p2[] = {
		{ "HEAD", "/a", 1, NULL },
		{ "GET", "/a", 0, NULL },
	};
	static const struct probe p3[] = {
		{ "HEAD", "/a", 0, NULL },
		{ "GET", "/a", 1, NULL },
	};

	PROBE(get_only, p1);
	PROBE(head_after, p2);
	PROBE(head_before, p3);
}

Test(router, head_answers_like_get_despite_a_catch_all)
{
	static const struct decl d[] = {
		{ NULL, "/", "/*" },
		{ "GET", "/", "/users/:id" },
		{ "HEAD", "/", "/static/*" },
		{ "GET", "/", "/static/logo.png" },
	};
	static const struct probe p[] = {
		{ "GET", "/users/7", 1, NULL },
		{ "HEAD", "/users/7", 1, NULL },
		{ "HEAD", "/nothing", 0, "nothing" },
		{ "HEAD", "/static/logo.png", 3, NULL },
		{ "HEAD", "/static/other.png", 2, "other.png" },
	};

	PROBE(d, p);
}

/* ---- 405 and Allow ---------------------------------------------------- */

Test(router, bad_method_lists_distinct_methods_in_declaration_order)
{
	static const struct decl d[] = {
		{ "GET", "/", "/r/:id" },
		{ "POST", "/", "/r/:id" },
		{ "DELETE", "/", "/other" },
		{ "PUT", "/", "/r/*" },
		{ "POST", "/", "/r/x" },
		{ "GET", "/", "/r/x/*" },
	};
	struct router rt;
	struct match m;
	char allow[64];

	build(&rt, d, 6);
	cr_expect_eq(router_match(&rt, "PATCH", "/r/x", &m, allow, sizeof allow),
		     ROUTER_BAD_METHOD);
	cr_expect_str_eq(allow, "GET, POST, PUT");
	cr_expect_null(m.route);
	cr_expect_eq(router_match(&rt, "PATCH", "/r/y", &m, allow, sizeof allow),
		     ROUTER_BAD_METHOD);
	cr_expect_str_eq(allow, "GET, POST, PUT");
	cr_expect_eq(router_match(&rt, "PATCH", "/r", &m, allow, sizeof allow),
		     ROUTER_BAD_METHOD);
	cr_expect_str_eq(allow, "PUT");
	cr_expect_eq(router_match(&rt, "GET", "/other", &m, allow, sizeof allow),
		     ROUTER_BAD_METHOD);
	cr_expect_str_eq(allow, "DELETE");
	cr_expect_eq(router_match(&rt, "GET", "/nowhere", &m, allow, sizeof allow),
		     ROUTER_NOT_FOUND);
	cr_expect_str_eq(allow, "");
	cr_expect_eq(router_match(&rt, "PUT", "/r/x", &m, allow, sizeof allow),
		     ROUTER_FOUND);
	cr_expect_str_eq(allow, "", "Allow left over on a match: \"%s\"", allow);
	cr_expect_eq(router_match(&rt, "PATCH", "/r/x", &m, NULL, 0),
		     ROUTER_BAD_METHOD);
	router_free(&rt);
}

Test(router, allow_list_truncates_at_whole_methods)
{
	static const struct decl d[] = {
		{ "GET", "/", "/r" },
		{ "POST", "/", "/r" },
		{ "OPTIONS", "/", "/r" },
	};
	struct router rt;
	struct match m;
	char allow[32];

	build(&rt, d, 3);
	/* "GET, POST, OPTIONS" is 18 bytes. */
	cr_expect_eq(router_match(&rt, "PUT", "/r", &m, allow, 19), ROUTER_BAD_METHOD);
	cr_expect_str_eq(allow, "GET, POST, OPTIONS");
	cr_expect_eq(router_match(&rt, "PUT", "/r", &m, allow, 18), ROUTER_BAD_METHOD);
	cr_expect_str_eq(allow, "GET, POST");
	cr_expect_eq(router_match(&rt, "PUT", "/r", &m, allow, 4), ROUTER_BAD_METHOD);
	cr_expect_str_eq(allow, "GET");
	cr_expect_eq(router_match(&rt, "PUT", "/r", &m, allow, 3), ROUTER_BAD_METHOD);
	cr_expect_str_eq(allow, "");
	router_free(&rt);
}

/* ---- Mounts ------------------------------------------------------------ */

struct mount_case {
	const char *mount;
	const char *pattern;
	const char *full;	/* the pattern reported for yes[0] */
	const char *yes[4];	/* paths that match */
	const char *no[4];	/* paths that do not */
};

Test(router, mount_plus_pattern)
{
	static const struct mount_case cases[] = {
		{ "/", "/users/:id", "/users/:id",
		  { "/users/1" }, { "/api/users/1", "/users/1/" } },
		{ "/api", "/users/:id", "/api/users/:id",
		  { "/api/users/1" }, { "/users/1", "/api/users/", "/apiusers/1" } },
		{ "/a/b", "/c", "/a/b/c",
		  { "/a/b/c" }, { "/a/b", "/c", "/a/b/c/" } },
		{ "/api", "/", "/api",
		  { "/api", "/api/" }, { "/", "/api/x", "/api//", "/apix" } },
		{ "/api", "/*", "/api/*",
		  { "/api", "/api/", "/api/a/b" }, { "/apix", "/", "/ap" } },
		{ "/", "/", "/",
		  { "/" }, { "//", "/x" } },
		{ "/", "/*", "/*",
		  { "/", "/x", "/x/y/" }, { NULL } },
		{ "/api", "/x/", "/api/x/",
		  { "/api/x/" }, { "/api/x" } },
		{ NULL, "/n", "/n",
		  { "/n" }, { "/n/" } },
	};
	size_t i, j;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct mount_case *c = &cases[i];
		struct router rt = { 0 };
		struct match m;
		char err[256];

		cr_assert_eq(router_add(&rt, "GET", c->mount, c->pattern, handler, 0,
					err, sizeof err), 0, "%s + %s: %s",
			     c->mount, c->pattern, err);
		for (j = 0; j < 4 && c->yes[j]; j++) {
			cr_expect_eq(router_match(&rt, "GET", c->yes[j], &m, NULL, 0),
				     ROUTER_FOUND, "%s + %s should match %s",
				     c->mount, c->pattern, c->yes[j]);
			if (m.route && j == 0)
				cr_expect_str_eq(m.route->pattern, c->full,
						 "%s + %s on %s", c->mount,
						 c->pattern, c->yes[j]);
		}
		for (j = 0; j < 4 && c->no[j]; j++)
			cr_expect_eq(router_match(&rt, "GET", c->no[j], &m, NULL, 0),
				     ROUTER_NOT_FOUND, "%s + %s should not match %s",
				     c->mount, c->pattern, c->no[j]);
		router_free(&rt);
	}
}

Test(router, mount_root_slash_form_answers_as_the_same_route)
{
	static const struct decl d[] = {
		{ "GET", "/", "/*" },
		{ "GET", "/api", "/" },
		{ "POST", "/api", "/" },
	};
	static const struct probe p[] = {
		{ "GET", "/api", 1, NULL },
		{ "GET", "/api/", 1, NULL },
		{ "POST", "/api/", 2, NULL },
		{ "DELETE", "/api/", BAD, NULL },
		{ "GET", "/api/x", 0, "api/x" },
	};
	struct router rt;
	struct match m;
	char allow[64];

	PROBE(d, p);
	build(&rt, d, 3);
	cr_expect_eq(router_match(&rt, "DELETE", "/api/", &m, allow, sizeof allow),
		     ROUTER_BAD_METHOD);
	cr_expect_str_eq(allow, "GET, POST");
	/* Log lines name the form that matched. */
	cr_assert_eq(router_match(&rt, "GET", "/api/", &m, NULL, 0), ROUTER_FOUND);
	cr_expect_str_eq(m.route->pattern, "/api/");
	cr_assert_eq(router_match(&rt, "GET", "/api", &m, NULL, 0), ROUTER_FOUND);
	cr_expect_str_eq(m.route->pattern, "/api");
	router_free(&rt);
}

/* ---- router_add errors ------------------------------------------------- */

struct bad_case {
	const char *method;
	const char *mount;
	const char *pattern;
	const char *named;	/* the err text must name this */
	const char *why;	/* and contain this */
};

Test(router, malformed_routes_are_refused_with_a_message)
{
	static const struct bad_case cases[] = {
		{ "GET", "/", "users", "users", "start with '/'" },
		{ "GET", "/", "", "\"GET \"", "start with '/'" },
		{ "GET", "/api", "x", "x", "start with '/'" },
		{ "GET", "/", NULL, "(null)", "start with '/'" },
		{ "GET", "/", "/a//b", "/a//b", "empty segment" },
		{ "GET", "/", "//", "//", "empty segment" },
		{ "GET", "/", "//a", "//a", "empty segment" },
		{ "GET", "/", "/a/:", "/a/:", "empty capture name" },
		{ "GET", "/", "/:/a", "/:/a", "empty capture name" },
		{ "GET", "/", "/a/:id-x", "/a/:id-x", "[A-Za-z0-9_]" },
		{ "GET", "/", "/a/:a.b", "/a/:a.b", "[A-Za-z0-9_]" },
		{ "GET", "/", "/a/::x", "/a/::x", "[A-Za-z0-9_]" },
		{ "GET", "/", "/a/:\xc3\xa9", "/a/:\xc3\xa9", "[A-Za-z0-9_]" },
		{ "GET", "/", "/a/:*", "/a/:*", "'*'" },
		{ "GET", "/", "/a/:id/:id", "/a/:id/:id", "\":id\" appears twice" },
		{ "GET", "/", "/:x/b/:y/:x", "/:x/b/:y/:x", "\":x\" appears twice" },
		{ "GET", "/", "/a/*/b", "/a/*/b", "'*'" },
		{ "GET", "/f*", "/c", "\"GET /c\"", "mount \"/f*\"" },
		{ "GET", "/", "/a*", "/a*", "'*'" },
		{ "GET", "/", "/a/b*", "/a/b*", "'*'" },
		{ "GET", "/", "/a/*b", "/a/*b", "'*'" },
		{ "GET", "/", "/*/", "/*/", "'*'" },
		{ "GET", "/", "/**", "/**", "'*'" },
		{ "GET", "/", "/*/*", "/*/*", "'*'" },
		{ "GET", "/", "/a/:x:y", "/a/:x:y", "[A-Za-z0-9_]" },
		{ "", "/", "/a", "/a", "not an HTTP token" },
		{ "GE T", "/", "/a", "/a", "not an HTTP token" },
		{ "GET\r\n", "/", "/a", "/a", "not an HTTP token" },
		{ "G(ET", "/", "/a", "/a", "not an HTTP token" },
		{ "GET/1", "/", "/a", "/a", "not an HTTP token" },
		{ "GET", "api", "/a", "/a", "mount \"api\"" },
		{ "GET", "/api/", "/a", "/a", "mount \"/api/\"" },
		{ "GET", "", "/a", "/a", "mount \"\"" },
		{ "GET", "/a//b", "/c", "/a//b/c", "empty segment" },
		{ "GET", "/:m", "/c", "\"GET /c\"", "mount \"/:m\"" },
		{ "GET", "/api", "/a//", "/api/a//", "mount \"/api\" + \"/a//\"" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bad_case *c = &cases[i];
		struct router rt = { 0 };
		char err[512] = "";

		cr_expect_eq(router_add(&rt, c->method, c->mount, c->pattern,
					handler, 0, err, sizeof err), -1,
			     "case %zu (%s %s) was accepted", i,
			     c->mount, c->pattern ? c->pattern : "NULL");
		cr_expect_not_null(strstr(err, c->named),
				   "case %zu: \"%s\" does not name \"%s\"", i, err,
				   c->named);
		cr_expect_not_null(strstr(err, c->why),
				   "case %zu: \"%s\" does not say \"%s\"", i, err,
				   c->why);
		cr_expect_eq(rt.nroutes, 0, "case %zu: a refused route was added", i);
		router_free(&rt);
	}
}

Test(router, capture_limit)
{
	char pat[256], path[256], err[256], limit[64], name[16], value[16];
	struct router rt = { 0 };
	struct match m;
	int i, n, pn;

	snprintf(limit, sizeof limit, "more than %d captures", MAX_ROUTE_CAPTURES);
	/* MAX captures: accepted, and every one is delivered. */
	for (n = 0, pn = 0, i = 0; i < MAX_ROUTE_CAPTURES; i++) {
		n += snprintf(pat + n, sizeof pat - (size_t)n, "/:c%d", i);
		pn += snprintf(path + pn, sizeof path - (size_t)pn, "/v%d", i);
	}
	cr_assert_eq(router_add(&rt, "GET", "/", pat, handler, 0, err, sizeof err), 0,
		     "%s", err);
	cr_assert_eq(router_match(&rt, "GET", path, &m, NULL, 0), ROUTER_FOUND);
	cr_expect_eq(m.ncaptures, MAX_ROUTE_CAPTURES);
	for (i = 0; i < MAX_ROUTE_CAPTURES; i++) {
		snprintf(name, sizeof name, "c%d", i);
		snprintf(value, sizeof value, "v%d", i);
		expect_capture(&m, name, value, path);
	}

	/* MAX + 1: refused. */
	snprintf(pat + n, sizeof pat - (size_t)n, "/:c%d", MAX_ROUTE_CAPTURES);
	cr_expect_eq(router_add(&rt, "GET", "/", pat, handler, 1, err, sizeof err), -1);
	cr_expect_not_null(strstr(err, limit), "%s", err);

	/* MAX named plus the '*' tail: refused, the tail takes a slot. */
	snprintf(pat + n, sizeof pat - (size_t)n, "/*");
	cr_expect_eq(router_add(&rt, "GET", "/", pat, handler, 1, err, sizeof err), -1);
	cr_expect_not_null(strstr(err, limit), "%s", err);

	/* MAX - 1 named plus the tail: accepted. */
	for (n = 0, i = 0; i < MAX_ROUTE_CAPTURES - 1; i++)
		n += snprintf(pat + n, sizeof pat - (size_t)n, "/:d%d", i);
	snprintf(pat + n, sizeof pat - (size_t)n, "/*");
	cr_expect_eq(router_add(&rt, "GET", "/", pat, handler, 2, err, sizeof err), 0,
		     "%s", err);
	cr_expect_eq(rt.nroutes, 2);
	router_free(&rt);
}

Test(router, duplicates_are_refused_naming_both)
{
	static const struct {
		struct decl first, second;
		const char *named_new, *named_old;
	} cases[] = {
		{ { "GET", "/", "/x" }, { "GET", "/", "/x" },
		  "\"GET /x\"", "module 0" },
		{ { "GET", "/", "/api/x" }, { "GET", "/api", "/x" },
		  "mount \"/api\" + \"/x\"", "\"GET /api/x\"" },
		{ { NULL, "/", "/x" }, { NULL, "/", "/x" },
		  "\"/x\" (any method)", "module 0" },
		{ { "GET", "/", "/u/:id" }, { "GET", "/", "/u/:name" },
		  "\"GET /u/:name\"", "\"GET /u/:id\"" },
		{ { "GET", "/", "/f/*" }, { "GET", "/", "/f/*" },
		  "\"GET /f/*\"", "module 0" },
		{ { "GET", "/", "/api/" }, { "GET", "/api", "/" },
		  "mount \"/api\" + \"/\"", "\"GET /api/\"" },
		{ { "GET", "/api", "/" }, { "GET", "/", "/api" },
		  "\"GET /api\"", "\"GET /api\"" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct router rt = { 0 };
		char err[512] = "";
		int before;

		cr_assert_eq(router_add(&rt, cases[i].first.method,
					cases[i].first.mount, cases[i].first.pattern,
					handler, 0, err, sizeof err), 0, "%s", err);
		before = rt.nroutes;
		cr_expect_eq(router_add(&rt, cases[i].second.method,
					cases[i].second.mount, cases[i].second.pattern,
					handler, 1, err, sizeof err), -1,
			     "case %zu: duplicate accepted", i);
		cr_expect_not_null(strstr(err, "duplicates"), "case %zu: %s", i, err);
		cr_expect_not_null(strstr(err, cases[i].named_new),
				   "case %zu: \"%s\" lacks \"%s\"", i, err,
				   cases[i].named_new);
		cr_expect_not_null(strstr(err, cases[i].named_old),
				   "case %zu: \"%s\" lacks \"%s\"", i, err,
				   cases[i].named_old);
		cr_expect_eq(rt.nroutes, before, "case %zu: table changed", i);
		router_free(&rt);
	}
}

Test(router, near_duplicates_are_accepted)
{
	static const struct decl d[] = {
		{ "GET", "/", "/x" },
		{ "POST", "/", "/x" },
		{ NULL, "/", "/x" },
		{ "get", "/", "/x" },
		{ "GET", "/", "/x/" },
		{ "GET", "/", "/x/*" },
		{ "GET", "/", "/:x" },
		{ "GET", "/", "/u/:a/b" },
		{ "GET", "/", "/u/:a/:b" },
	};
	struct router rt;

	build(&rt, d, sizeof d / sizeof d[0]);
	cr_expect_eq(rt.nroutes, (int)(sizeof d / sizeof d[0]));
	router_free(&rt);
}

Test(router, failed_add_leaves_the_table_working)
{
	static const struct decl d[] = {
		{ "GET", "/", "/a" },
		{ "GET", "/api", "/" },
	};
	struct router rt;
	struct match m;
	char err[256];
	int n;

	build(&rt, d, 2);
	n = rt.nroutes;
	cr_expect_eq(router_add(&rt, "GET", "/api", "/", handler, 9, err, sizeof err), -1);
	cr_expect_eq(router_add(&rt, "GET", "/", "/b//", handler, 9, err, sizeof err), -1);
	cr_expect_eq(rt.nroutes, n);
	cr_expect_eq(router_match(&rt, "GET", "/a", &m, NULL, 0), ROUTER_FOUND);
	cr_expect_eq(router_match(&rt, "GET", "/api/", &m, NULL, 0), ROUTER_FOUND);
	cr_expect_eq(m.route->module, 1);
	/* A NULL err buffer is allowed. */
	cr_expect_eq(router_add(&rt, "GET", "/", "bad", handler, 9, NULL, 0), -1);
	router_free(&rt);
}

Test(router, empty_and_freed_tables_match_nothing)
{
	static const struct decl d[] = { { NULL, "/", "/*" } };
	struct router rt = { 0 };
	struct match m;

	cr_expect_eq(router_match(&rt, "GET", "/", &m, NULL, 0), ROUTER_NOT_FOUND);
	build(&rt, d, 1);
	cr_expect_eq(router_match(&rt, "GET", "/", &m, NULL, 0), ROUTER_FOUND);
	router_free(&rt);
	cr_expect_eq(rt.nroutes, 0);
	cr_expect_null(rt.routes);
	cr_expect_eq(router_match(&rt, "GET", "/", &m, NULL, 0), ROUTER_NOT_FOUND);
	router_free(&rt);
}

/* ---- The index against the whole table -------------------------------- */

/*
 * The index only narrows the routes ranked: what it answers must be what
 * ranking every route answers.  Random tables over a small alphabet of
 * segments (so that literals, captures and prefixes collide often), with
 * random methods and mounts, and random paths over the same segments.
 * Each table has more routes than router.c ranks whole without the index
 * (INDEX_MIN_ROUTES, 8), some refused as duplicates.
 */
static const char *const segs[] = { "a", "b", "ab", ":x", ":y", "c" };
static const char *const methods[] = { NULL, "GET", "POST", "HEAD", "PUT" };

static void random_pattern(char *buf, size_t len, unsigned *seed)
{
	int depth = rand_r(seed) % 4, n = 0, names = 0;

	buf[0] = '\0';
	for (int i = 0; i < depth; i++) {
		const char *s = segs[rand_r(seed) % 6];

		if (s[0] == ':')	/* capture names unique in a pattern */
			s = names++ ? ":z" : s;
		n += snprintf(buf + n, len - (size_t)n, "/%s", s);
	}
	if (rand_r(seed) % 4 == 0)
		n += snprintf(buf + n, len - (size_t)n, "/*");
	if (n == 0)
		snprintf(buf, len, "/");
}

static void random_path(char *buf, size_t len, unsigned *seed)
{
	static const char *const parts[] = { "a", "b", "ab", "c", "zz", "" };
	int depth = rand_r(seed) % 5, n = 0;

	for (int i = 0; i < depth; i++)
		n += snprintf(buf + n, len - (size_t)n, "/%s", parts[rand_r(seed) % 6]);
	if (n == 0 || rand_r(seed) % 8 == 0)
		snprintf(buf + n, len - (size_t)n, "/");
}

static void assert_same_match(const struct router *rt, const char *method, const char *path)
{
	struct match a, b;
	char allow_a[256], allow_b[256];
	enum router_result ra = router_match(rt, method, path, &a, allow_a, sizeof allow_a);
	enum router_result rb = router_match_all(rt, method, path, &b, allow_b, sizeof allow_b);

	cr_assert_eq(ra, rb, "%s %s: %d with the index, %d over every route", method, path,
		     ra, rb);
	cr_assert_eq(a.route, b.route, "%s %s: route %s with the index, %s over every route",
		     method, path, a.route ? a.route->pattern : "none",
		     b.route ? b.route->pattern : "none");
	cr_assert_str_eq(allow_a, allow_b, "%s %s: Allow", method, path);
	cr_assert_eq(a.ncaptures, b.ncaptures);
	for (int i = 0; i < a.ncaptures; i++)
		cr_assert(a.captures[i].value == b.captures[i].value &&
			  a.captures[i].value_len == b.captures[i].value_len);
}

Test(router, index_answers_as_ranking_every_route)
{
	unsigned seed = 12345;
	long compared = 0;

	for (int table = 0; table < 300; table++) {
		struct router rt;
		char pattern[64], err[512];
		int n = 12 + rand_r(&seed) % 40;

		memset(&rt, 0, sizeof rt);
		for (int i = 0; i < n; i++) {
			const char *mount = rand_r(&seed) % 3 ? "/" : "/ab";

			random_pattern(pattern, sizeof pattern, &seed);
			/* Duplicates and bad patterns are refused; the rest stay. */
			router_add(&rt, methods[rand_r(&seed) % 5], mount, pattern, handler, i,
				   err, sizeof err);
		}
		cr_assert_gt(rt.nroutes, 8, "table %d has only %d routes", table, rt.nroutes);
		for (int q = 0; q < 60; q++) {
			char path[64];

			random_path(path, sizeof path, &seed);
			assert_same_match(&rt, methods[1 + rand_r(&seed) % 4], path);
			compared++;
		}
		router_free(&rt);
	}
	cr_assert_eq(compared, 300 * 60);
}

/* More candidates for one path than the index keeps room for: every route is ranked. */
Test(router, many_routes_of_one_path_fall_back_to_ranking_all)
{
	struct router rt;
	char method[16], err[512];
	struct match m;

	memset(&rt, 0, sizeof rt);
	for (int i = 0; i < 100; i++) {
		snprintf(method, sizeof method, "M%d", i);
		cr_assert_eq(router_add(&rt, method, "/", "/same", handler, i, err, sizeof err), 0,
			     "%s", err);
	}
	cr_assert_eq(router_match(&rt, "M77", "/same", &m, NULL, 0), ROUTER_FOUND);
	cr_assert_eq(m.route->module, 77);
	assert_same_match(&rt, "M99", "/same");
	assert_same_match(&rt, "X", "/same");
	router_free(&rt);
}

/* Ten thousand routes: found by the index, duplicates still refused. */
Test(router, ten_thousand_routes)
{
	struct router rt;
	char pattern[64], err[512];
	struct match m;

	memset(&rt, 0, sizeof rt);
	for (int i = 0; i < 10000; i++) {
		snprintf(pattern, sizeof pattern, "/r/%d/:id", i);
		cr_assert_eq(router_add(&rt, "GET", "/", pattern, handler, i, err, sizeof err), 0,
			     "%s", err);
	}
	cr_assert_eq(router_match(&rt, "GET", "/r/9876/42", &m, NULL, 0), ROUTER_FOUND);
	cr_assert_eq(m.route->module, 9876);
	cr_assert_eq(router_add(&rt, "GET", "/", "/r/5000/:other", handler, 0, err, sizeof err),
		     -1);
	cr_assert(strstr(err, "duplicates route \"GET /r/5000/:id\"") != NULL, "%s", err);
	router_free(&rt);
}
