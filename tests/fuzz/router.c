/*
 * router.c - fuzz the route table (gateway/router.c): build a table from
 * the input's first lines and match the lines after them against it.
 *
 * Input: lines up to an empty one are routes, "METHOD MOUNT PATTERN"
 * ("*" for any method); every later line is a request, "METHOD PATH".
 * Whatever the input, a refused route says why, a match points inside
 * the pattern and the path it was given, and a 405's Allow list is a
 * string that fits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Routes past this many add nothing the fuzzer could not find with fewer. */
#define FUZZ_ROUTES 64

static int any_handler(struct sl_request *r)
{
	(void)r;
	return 0;
}

/* Split `line` at its first space: the rest, or NULL when there is none. */
static char *field(char *line)
{
	char *sp = strchr(line, ' ');

	if (!sp)
		return NULL;
	*sp = '\0';
	return sp + 1;
}

static void add_route(struct router *rt, char *line)
{
	char *mount = field(line), *pattern = mount ? field(mount) : NULL;
	char err[256];

	if (!pattern)
		return;
	err[0] = '\0';
	if (router_add(rt, strcmp(line, "*") == 0 ? NULL : line, mount, pattern,
		       any_handler, 0, err, sizeof(err)) < 0 && err[0] == '\0')
		abort();
}

static int inside(const char *p, size_t n, const char *s)
{
	return p >= s && p + n <= s + strlen(s);
}

static void check_match(const char *path, enum router_result rc, const struct match *m,
			const char *allow, size_t allowlen)
{
	if (strnlen(allow, allowlen) == allowlen)
		abort();
	if (rc != ROUTER_FOUND) {
		if (m->route || (rc == ROUTER_NOT_FOUND && allow[0]))
			abort();
		return;
	}
	if (!m->route || allow[0] || m->ncaptures < 0 || m->ncaptures > MAX_ROUTE_CAPTURES)
		abort();
	if (m->route->kind == ROUTE_EXACT && strcmp(m->route->pattern, path) != 0)
		abort();
	for (int i = 0; i < m->ncaptures; i++) {
		const struct capture *c = &m->captures[i];

		if (!inside(c->value, c->value_len, path) ||
		    !inside(c->name, c->name_len, m->route->pattern))
			abort();
	}
}

static void match_line(const struct router *rt, char *line)
{
	char *path = field(line), allow[64];
	struct match m;
	enum router_result rc;

	if (!path)
		return;
	rc = router_match(rt, line, path, &m, allow, sizeof(allow));
	check_match(path, rc, &m, allow, sizeof(allow));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct router rt = { 0 };
	char *text = strndup((const char *)data, size), *line, *next;
	int routes = 1, n = 0;

	if (!text)
		return 0;
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (routes && line[0] == '\0')
			routes = 0;
		else if (routes && n++ < FUZZ_ROUTES)
			add_route(&rt, line);
		else if (!routes)
			match_line(&rt, line);
	}
	router_free(&rt);
	free(text);
	return 0;
}
