/*
 * router.c - the route table: built once in the master, matched in the
 * workers for every request.
 *
 * A route is kept as its full pattern string (mount + the module's own
 * pattern), checked once by router_add.  Matching walks that string and
 * the request path side by side, a segment at a time, so it neither
 * copies nor allocates: captures point into the pattern (their names)
 * and into the path (their values).  The table is an array in
 * declaration order, with an index of pattern segments (router.h) that
 * finds the few routes a path can match, so that neither a request nor
 * the check for duplicates scans the whole table: ten thousand routes
 * cost a request about what ten do.  The ranking of the routes found is
 * the same as over the whole table (router_match_all, kept for tests).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"
#include "router.h"

/* How a path-matching route ranks; see outranks(). */
struct rank {
	int kind;		/* ROUTE_EXACT < ROUTE_CAPTURE < ROUTE_PREFIX */
	size_t prefix_len;	/* path bytes the prefix consumed (prefix routes) */
	int explicit_head;	/* a HEAD request met a route declared for HEAD */
};

/* ---- Checking a pattern ----------------------------------------------- */

/*
 * Describe a route for an error message: `GET /api/users/:id`, or
 * `/api/users/:id (any method)`, followed by the mount and the module's
 * own pattern when a mount other than "/" was prepended, since the
 * module author wrote the latter and may not recognise the former.
 */
static void describe(char *buf, size_t len, const char *method,
		     const char *full, const char *mount, const char *pattern)
{
	int n;

	if (method)
		n = snprintf(buf, len, "route \"%s %s\"", method, full);
	else
		n = snprintf(buf, len, "route \"%s\" (any method)", full);
	if (n >= 0 && (size_t)n < len && mount && strcmp(mount, "/") != 0)
		snprintf(buf + n, len - (size_t)n, " (mount \"%s\" + \"%s\")",
			 mount, pattern);
}

/* Fill `err` with "<what>: <reason>" and return -1, for router_add. */
__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, const char *what,
		const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return -1;
	n = snprintf(err, errlen, "%s: ", what);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/*
 * Check the capture segment `seg` (":name", `n` bytes) against the names
 * already seen in this pattern, and record it.  `names`/`lens` hold up to
 * MAX_ROUTE_CAPTURES entries; one more capture than that is an error
 * here, so the match never has to bound-check its fixed array.
 */
static int capture_check(const char *seg, size_t n, const char **names,
			 size_t *lens, int *nnames, const char *what,
			 char *err, size_t errlen)
{
	size_t i;
	int k;

	if (n == 1)
		return fail(err, errlen, what, "empty capture name after ':'");
	for (i = 1; i < n; i++)
		if (!is_name_char((unsigned char)seg[i]))
			return fail(err, errlen, what,
				    "capture \"%.*s\" has a character outside [A-Za-z0-9_]",
				    (int)n, seg);
	for (k = 0; k < *nnames; k++)
		if (lens[k] == n - 1 && memcmp(names[k], seg + 1, n - 1) == 0)
			return fail(err, errlen, what,
				    "capture \"%.*s\" appears twice", (int)n, seg);
	if (*nnames == MAX_ROUTE_CAPTURES)
		return fail(err, errlen, what, "more than %d captures",
			    MAX_ROUTE_CAPTURES);
	names[*nnames] = seg + 1;
	lens[*nnames] = n - 1;
	(*nnames)++;
	return 0;
}

/*
 * Check a full pattern and classify it.  A pattern is '/' followed by
 * segments separated by '/'; only the last segment may be empty (so
 * "/users/" is a pattern of its own, but "/a//b" is refused).  A segment
 * is literal, ":name", or, as the whole last segment, "*".  The tail
 * capture "*" counts against MAX_ROUTE_CAPTURES like a named one, since
 * it takes a slot of struct match.  Returns the ROUTE_* kind, or -1 with
 * `err` filled.
 */
static int pattern_check(const char *full, const char *what, char *err,
			 size_t errlen)
{
	const char *names[MAX_ROUTE_CAPTURES];
	size_t lens[MAX_ROUTE_CAPTURES];
	int nnames = 0, prefix = 0;
	const char *p = full;

	if (*p != '/')
		return fail(err, errlen, what, "a pattern must start with '/'");
	while (*p == '/') {
		const char *seg = p + 1;
		size_t n = strcspn(seg, "/");

		if (n == 0 && seg[n] == '/')
			return fail(err, errlen, what, "empty segment (\"//\")");
		if (memchr(seg, '*', n)) {
			if (n != 1 || seg[n] != '\0')
				return fail(err, errlen, what,
					    "'*' is allowed only as the whole last segment");
			prefix = 1;
		} else if (*seg == ':' &&
			   capture_check(seg, n, names, lens, &nnames, what,
					 err, errlen) < 0) {
			return -1;
		}
		p = seg + n;
	}
	if (prefix && nnames == MAX_ROUTE_CAPTURES)
		return fail(err, errlen, what,
			    "more than %d captures (counting the '*' tail)",
			    MAX_ROUTE_CAPTURES);
	if (prefix)
		return ROUTE_PREFIX;
	return nnames ? ROUTE_CAPTURE : ROUTE_EXACT;
}

static int same_method(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * Refuse a route that an earlier one makes unreachable: same method
 * (both NULL counts) and same full pattern, up to capture names
 * ("/users/:id" and "/users/:name" shadow each other just as two
 * identical patterns do): the routes the index keeps in the same list.
 * The message names the new route and the one already there.
 */
static struct rlist *shape_list(const struct router *rt, const char *full);

static int duplicate_check(const struct router *rt, const char *method,
			   const char *full, const char *what, char *err,
			   size_t errlen)
{
	const struct rlist *same = shape_list(rt, full);
	char old[256];

	for (int i = 0; same && i < same->n; i++) {
		const struct route *r = &rt->routes[same->at[i]];

		if (!same_method(r->method, method))
			continue;
		describe(old, sizeof old, r->method, r->pattern, NULL, NULL);
		return fail(err, errlen, what,
			    "duplicates %s, declared before by module %d",
			    old, r->module);
	}
	return 0;
}

/* ---- Building the table ----------------------------------------------- */

/*
 * The full pattern: mount + pattern, where mount "/" adds nothing and a
 * module's "/" under another mount is the mount itself ("/api" + "/" =
 * "/api").  Malloc'ed; NULL when out of memory.
 */
static char *full_pattern(const char *mount, const char *pattern)
{
	size_t ml = strcmp(mount, "/") == 0 ? 0 : strlen(mount);
	size_t pl = (ml && strcmp(pattern, "/") == 0) ? 0 : strlen(pattern);
	char *full = malloc(ml + pl + 1);

	if (!full)
		return NULL;
	memcpy(full, mount, ml);
	memcpy(full + ml, pattern, pl);
	full[ml + pl] = '\0';
	return full;
}

/* `full` with a '/' appended, malloc'ed; NULL when out of memory. */
static char *with_slash(const char *full)
{
	size_t n = strlen(full);
	char *s = malloc(n + 2);

	if (!s)
		return NULL;
	memcpy(s, full, n);
	s[n] = '/';
	s[n + 1] = '\0';
	return s;
}

/* Append one checked route; takes ownership of `full`. */
static int append(struct router *rt, const char *method, char *full,
		  int kind, sl_handler handler, int module, int order)
{
	struct route *r;
	char *m = NULL;

	if (method && !(m = strdup(method)))
		return -1;
	if (rt->nroutes == rt->caproutes) {
		int cap = rt->caproutes ? rt->caproutes * 2 : 16;
		struct route *routes = realloc(rt->routes, (size_t)cap * sizeof *routes);

		if (!routes) {
			free(m);
			return -1;
		}
		rt->routes = routes;
		rt->caproutes = cap;
	}
	r = &rt->routes[rt->nroutes++];
	r->method = m;
	r->pattern = full;
	r->handler = handler;
	r->module = module;
	r->kind = kind;
	r->order = order;
	return 0;
}

/* ---- The index ---------------------------------------------------------- */

static int grow(void **p, int *cap, int need, size_t size)
{
	void *q;
	int n = *cap ? *cap : 4;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (!(q = realloc(*p, (size_t)n * size)))
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

static int list_add(struct rlist *l, int route)
{
	if (grow((void **)&l->at, &l->cap, l->n + 1, sizeof(*l->at)) < 0)
		return -1;
	l->at[l->n++] = route;
	return 0;
}

static int node_new(struct router *rt)
{
	if (grow((void **)&rt->nodes, &rt->capnodes, rt->nnodes + 1, sizeof(*rt->nodes)) < 0)
		return -1;
	memset(&rt->nodes[rt->nnodes], 0, sizeof(*rt->nodes));
	return rt->nnodes++;
}

static int seg_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

/* The literal child `seg` of `node`: its index in kids, or -(where it goes) - 1. */
static int kid_find(const struct rnode *node, const char *seg, size_t len)
{
	int lo = 0, hi = node->nkids;

	while (lo < hi) {
		int mid = (lo + hi) / 2, c = seg_cmp(node->kids[mid].seg, node->kids[mid].len,
						     seg, len);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -lo - 1;
}

/* The child of node `n` for the segment at `seg` (`len` bytes), made if missing. */
static int child(struct router *rt, int n, const char *seg, size_t len)
{
	struct rnode *node;
	int k, made;

	if (seg[0] == ':') {
		if (!rt->nodes[n].capture) {
			if ((made = node_new(rt)) < 0)
				return -1;
			rt->nodes[n].capture = made;
		}
		return rt->nodes[n].capture;
	}
	if ((k = kid_find(&rt->nodes[n], seg, len)) >= 0)
		return rt->nodes[n].kids[k].node;
	if ((made = node_new(rt)) < 0)
		return -1;
	node = &rt->nodes[n];
	if (grow((void **)&node->kids, &node->capkids, node->nkids + 1, sizeof(*node->kids)) < 0)
		return -1;
	k = -k - 1;
	memmove(&node->kids[k + 1], &node->kids[k], (size_t)(node->nkids - k) * sizeof(*node->kids));
	node->kids[k] = (struct rchild){ seg, len, made };
	node->nkids++;
	return made;
}

/* Is `p` the last segment of a prefix pattern, a "*"? */
static int at_star(const char *p)
{
	return p[0] == '/' && p[1] == '*' && p[2] == '\0';
}

/* The literal or capture child of node `n` for the segment at `seg`; -1 if none. */
static int child_of(const struct router *rt, int n, const char *seg, size_t len)
{
	int k;

	if (seg[0] == ':')
		return rt->nodes[n].capture ? rt->nodes[n].capture : -1;
	k = kid_find(&rt->nodes[n], seg, len);
	return k >= 0 ? rt->nodes[n].kids[k].node : -1;
}

/*
 * The routes of the same shape as checked pattern `p` (router_add's
 * duplicates): the list of the node it leads to, NULL if there is none.
 */
static struct rlist *shape_list(const struct router *rt, const char *p)
{
	int n = rt->nnodes ? 0 : -1;

	for (; n >= 0 && !at_star(p) && *p; p += 1 + strcspn(p + 1, "/"))
		n = child_of(rt, n, p + 1, strcspn(p + 1, "/"));
	if (n < 0)
		return NULL;
	return at_star(p) ? &rt->nodes[n].prefixes : &rt->nodes[n].ends;
}

/* Route `route` into the index, making the nodes its pattern needs. */
static int index_add(struct router *rt, int route)
{
	const char *p = rt->routes[route].pattern;
	int n = 0;

	if (!rt->nnodes && node_new(rt) < 0)
		return -1;
	for (; !at_star(p) && *p; p += 1 + strcspn(p + 1, "/"))
		if ((n = child(rt, n, p + 1, strcspn(p + 1, "/"))) < 0)
			return -1;
	return list_add(at_star(p) ? &rt->nodes[n].prefixes : &rt->nodes[n].ends, route);
}

static void index_free(struct router *rt)
{
	for (int i = 0; i < rt->nnodes; i++) {
		free(rt->nodes[i].kids);
		free(rt->nodes[i].ends.at);
		free(rt->nodes[i].prefixes.at);
	}
	free(rt->nodes);
	rt->nodes = NULL;
	rt->nnodes = rt->capnodes = 0;
}

/*
 * 1 if `mount` is "/" or a literal absolute path without a trailing
 * slash ("/api", "/a/b"), so that mount + pattern never produces "//"
 * and every capture of a route is one its module declared.
 */
static int mount_ok(const char *mount)
{
	size_t n = strlen(mount);

	if (mount[0] != '/' || (n > 1 && mount[n - 1] == '/'))
		return 0;
	return strstr(mount, "/:") == NULL && strchr(mount, '*') == NULL;
}

/*
 * Check the method and mount that router_add was given.  A method is an
 * HTTP token (RFC 9110 section 9.1), compared case-sensitively at match
 * time.
 */
static int args_check(const char *method, const char *mount,
		      const char *pattern, const char *what, char *err,
		      size_t errlen)
{
	if (method && !header_name_ok(method))
		return fail(err, errlen, what,
			    "method \"%s\" is not an HTTP token", method);
	if (!pattern || *pattern != '/')
		return fail(err, errlen, what, "a pattern must start with '/'");
	if (!mount_ok(mount))
		return fail(err, errlen, what,
			    "mount \"%s\" must be \"/\" or a literal absolute path without a trailing '/'",
			    mount);
	return 0;
}

/*
 * A module's root, pattern "/" under a mount "/api", is stored as two
 * routes, "/api" and "/api/", with the same handler and declaration
 * order: both paths name the module's root.  The trailing-slash rule
 * (byte-exact paths) would otherwise make one of them a 404, and nginx
 * itself sends "/api" to "/api/" with a 301 for a `location /api/` that
 * passes to FastCGI.  (A prefix pattern, last segment '*', under a
 * mount already covers both.)  Only this implicit case is lenient: a
 * module's own "/users" still does not match "/users/".
 *
 * Both entries are checked before either is added, so a failed call
 * leaves the table as it was.  (A route is owned by the table: method
 * and pattern are copies, freed by router_free.)
 */
/*
 * Take back the routes from `first` on, of which those before `indexed`
 * are in the index already (each is the last of its list, being the
 * newest): what a router_add that failed half-way had added.
 */
static void drop_since(struct router *rt, int first, int indexed)
{
	for (int i = first; i < indexed; i++) {
		shape_list(rt, rt->routes[i].pattern)->n--;
	}
	while (rt->nroutes > first) {
		rt->nroutes--;
		free(rt->routes[rt->nroutes].method);
		free(rt->routes[rt->nroutes].pattern);
	}
}

int router_add(struct router *rt, const char *method, const char *mount,
	       const char *pattern, sl_handler handler, int module,
	       char *err, size_t errlen)
{
	char what[512];
	char *full = NULL, *slash = NULL;
	int kind, order, first;

	if (!mount)
		mount = "/";
	describe(what, sizeof what, method, pattern ? pattern : "(null)",
		 NULL, NULL);
	if (args_check(method, mount, pattern, what, err, errlen) < 0)
		return -1;
	if (!(full = full_pattern(mount, pattern)))
		goto nomem;
	describe(what, sizeof what, method, full, mount, pattern);
	if ((kind = pattern_check(full, what, err, errlen)) < 0 ||
	    duplicate_check(rt, method, full, what, err, errlen) < 0)
		goto fail;
	if (strcmp(mount, "/") != 0 && strcmp(pattern, "/") == 0) {
		if (!(slash = with_slash(full)))
			goto nomem;
		if (duplicate_check(rt, method, slash, what, err, errlen) < 0)
			goto fail;
	}
	order = rt->nroutes ? rt->routes[rt->nroutes - 1].order + 1 : 0;
	first = rt->nroutes;
	if (append(rt, method, full, kind, handler, module, order) < 0)
		goto nomem;
	full = NULL;
	if (slash && append(rt, method, slash, kind, handler, module, order) < 0) {
		drop_since(rt, first, first);
		goto nomem;
	}
	slash = NULL;
	for (int i = first; i < rt->nroutes; i++)
		if (index_add(rt, i) < 0) {
			drop_since(rt, first, i);
			goto nomem;
		}
	return 0;
nomem:
	fail(err, errlen, what, "out of memory");
fail:
	free(full);
	free(slash);
	return -1;
}

void router_free(struct router *rt)
{
	drop_since(rt, 0, 0);
	free(rt->routes);
	rt->routes = NULL;
	rt->caproutes = 0;
	index_free(rt);
}

/* ---- Matching ---------------------------------------------------------- */

static void capture_set(struct match *m, const char *name, size_t name_len,
			const char *value, size_t value_len)
{
	struct capture *c = &m->captures[m->ncaptures++];

	c->name = name;
	c->name_len = name_len;
	c->value = value;
	c->value_len = value_len;
}

/*
 * Match `path` against the pattern of `r`, segment by segment and
 * without copying.  On a match, returns 1 with m's captures filled
 * (pattern_check bounded their number) and, for a prefix route,
 * *prefix_len set to the length of the path's part that the prefix
 * consumed: the prefix "/files" (pattern "/files" plus the '*'
 * segment) consumes 6 bytes of "/files/a".  The tail after the prefix
 * and its slash is the capture "*": "" for "/files" and "/files/", "a/b"
 * for "/files/a/b".  `path` starts with '/'.
 */
static int route_fits(const struct route *r, const char *path,
		      struct match *m, size_t *prefix_len)
{
	const char *p = r->pattern, *s = path;

	m->ncaptures = 0;
	*prefix_len = 0;
	for (;;) {
		size_t pn, sn;

		if (p[0] == '/' && p[1] == '*' && p[2] == '\0') {
			*prefix_len = (size_t)(s - path);
			if (*s == '/')
				s++;
			capture_set(m, p + 1, 1, s, strlen(s));
			return 1;
		}
		if (*p == '\0' || *s == '\0')
			return *p == *s;
		p++;		/* both are at a '/' */
		s++;
		pn = strcspn(p, "/");
		sn = strcspn(s, "/");
		if (*p == ':') {
			if (sn == 0)
				return 0;
			capture_set(m, p + 1, pn - 1, s, sn);
		} else if (pn != sn || memcmp(p, s, pn) != 0) {
			return 0;
		}
		p += pn;
		s += sn;
	}
}

/*
 * 1 if a route declared for `route_method` serves a `method` request.
 * NULL serves every method.  Methods are case-sensitive (RFC 9110
 * section 9.1).  A HEAD request is also served by a GET route: HEAD must
 * answer what GET would, without the body (RFC 9110 section 9.3.2), so
 * every module would otherwise have to declare each GET route twice; the
 * response code drops the body.
 */
static int method_fits(const char *route_method, const char *method, int head)
{
	if (!route_method || strcmp(route_method, method) == 0)
		return 1;
	return head && strcmp(route_method, "GET") == 0;
}

/*
 * 1 if a path-matching route ranked `a` beats the best so far, `b`: an
 * exact route beats one with captures, which beats a prefix route; a
 * longer prefix beats a shorter one.  For a HEAD request, a route
 * declared for HEAD beats an equally specific GET (or any-method) one,
 * so that a module that does declare HEAD gets it; but a more specific
 * GET route beats a HEAD catch-all, so that HEAD /users/42 answers like
 * GET /users/42.  Otherwise the route declared first keeps its place.
 */
static int outranks(const struct rank *a, const struct rank *b)
{
	if (a->kind != b->kind)
		return a->kind < b->kind;
	if (a->prefix_len != b->prefix_len)
		return a->prefix_len > b->prefix_len;
	return a->explicit_head > b->explicit_head;
}

/* 1 if `method` is already in the ", "-separated list `allow`. */
static int allow_has(const char *allow, const char *method)
{
	size_t n = strlen(method);

	while (*allow) {
		size_t tn = strcspn(allow, ",");

		if (tn == n && memcmp(allow, method, n) == 0)
			return 1;
		allow += tn;
		if (*allow)
			allow += 2;	/* ", " */
	}
	return 0;
}

/*
 * Append `method` to the Allow list unless it is already there.  A
 * method that does not fit whole ends the list (*full), so that the
 * list never holds half a method nor methods out of declaration order.
 */
static void allow_add(char *allow, size_t allowlen, int *full,
		      const char *method)
{
	size_t used, n;

	if (!allow || allowlen == 0 || *full || allow_has(allow, method))
		return;
	used = strlen(allow);
	n = strlen(method);
	if (used + (used ? 2 : 0) + n + 1 > allowlen) {
		*full = 1;
		return;
	}
	if (used) {
		memcpy(allow + used, ", ", 2);
		used += 2;
	}
	memcpy(allow + used, method, n + 1);
}

/*
 * One pass over the table, in declaration order.  Every route whose
 * pattern fits the path either competes for the match (its method
 * fits) or adds its method to `allow`; the list is only kept when no
 * route fits both, i.e. for ROUTER_BAD_METHOD, and is "" otherwise.
 * `m` is filled on ROUTER_FOUND; its route is NULL otherwise.
 */
/*
 * Rank routes `at[0..n)` (indices in declaration order; all of them when
 * `at` is NULL) for (method, path): the first of the best kind wins.
 */
static enum router_result rank_routes(const struct router *rt, const int *at, int n,
				      const char *method, const char *path, struct match *m,
				      char *allow, size_t allowlen)
{
	struct match cand;
	struct rank best = { 0, 0, 0 }, rank;
	int head = strcmp(method, "HEAD") == 0;
	int found = 0, path_seen = 0, allow_full = 0;

	if (allow && allowlen)
		allow[0] = '\0';
	m->route = NULL;
	m->ncaptures = 0;
	if (path[0] != '/')
		return ROUTER_NOT_FOUND;
	for (int i = 0; i < n; i++) {
		const struct route *r = &rt->routes[at ? at[i] : i];

		if (!route_fits(r, path, &cand, &rank.prefix_len))
			continue;
		path_seen = 1;
		if (!method_fits(r->method, method, head)) {
			allow_add(allow, allowlen, &allow_full, r->method);
			continue;
		}
		rank.kind = r->kind;
		rank.explicit_head = head && r->method &&
				     strcmp(r->method, "HEAD") == 0;
		if (found && !outranks(&rank, &best))
			continue;
		found = 1;
		best = rank;
		cand.route = r;
		*m = cand;
	}
	if (found) {
		if (allow && allowlen)
			allow[0] = '\0';
		return ROUTER_FOUND;
	}
	return path_seen ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}

enum router_result router_match_all(const struct router *rt, const char *method,
				    const char *path, struct match *m,
				    char *allow, size_t allowlen)
{
	return rank_routes(rt, NULL, rt->nroutes, method, path, m, allow, allowlen);
}

/* Room for the routes one path meets in the index; past it, every route is ranked. */
#define CANDIDATES_MAX 64
/* Tables this small are ranked whole: a walk down the index costs more. */
#define INDEX_MIN_ROUTES 8

struct candidates {
	int at[CANDIDATES_MAX];
	int n;
	int overflow;
};

static void take_list(struct candidates *c, const struct rlist *l)
{
	for (int i = 0; i < l->n; i++) {
		if (c->n == CANDIDATES_MAX) {
			c->overflow = 1;
			return;
		}
		c->at[c->n++] = l->at[i];
	}
}

/*
 * The routes whose pattern can match the path from `s` on, below node
 * `n`: prefix routes met on the way, and the routes that end where the
 * path does.  `s` is at a '/' or at the end.  Both a literal child and
 * the capture child are followed, as a pattern of either can match.
 */
static void gather(const struct router *rt, int n, const char *s, struct candidates *c)
{
	const struct rnode *node = &rt->nodes[n];
	size_t len;
	int k;

	take_list(c, &node->prefixes);
	if (*s == '\0') {
		take_list(c, &node->ends);
		return;
	}
	len = strcspn(s + 1, "/");
	if ((k = kid_find(node, s + 1, len)) >= 0)
		gather(rt, node->kids[k].node, s + 1 + len, c);
	if (len > 0 && node->capture)
		gather(rt, node->capture, s + 1 + len, c);
}

static void sort_ints(int *a, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && a[j - 1] > a[j]; j--) {
			int t = a[j];

			a[j] = a[j - 1];
			a[j - 1] = t;
		}
}

enum router_result router_match(const struct router *rt, const char *method,
				const char *path, struct match *m,
				char *allow, size_t allowlen)
{
	struct candidates c;

	if (rt->nroutes <= INDEX_MIN_ROUTES)
		return rank_routes(rt, NULL, rt->nroutes, method, path, m, allow, allowlen);
	c.n = c.overflow = 0;
	if (path[0] == '/' && rt->nnodes)
		gather(rt, 0, path, &c);
	if (c.overflow)
		return router_match_all(rt, method, path, m, allow, allowlen);
	/* Ranked in declaration order, as over the whole table. */
	sort_ints(c.at, c.n);
	return rank_routes(rt, c.at, c.n, method, path, m, allow, allowlen);
}
