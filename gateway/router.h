/*
 * router.h - maps (method, path) to a handler.
 *
 * The table is built once in the master from every loaded module's
 * routes (each prefixed by the module's mount point) and inherited by the
 * workers; matching allocates nothing: captures point into the pattern
 * and the path.  The matching rules are the ones documented on struct sl_route
 * in sluice.h.
 */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <stddef.h>

#include "sluice.h"
#include "defaults.h"

struct route {
	char *method;		/* NULL: any */
	char *pattern;		/* full pattern, mount included */
	sl_handler handler;
	int module;		/* index into the loaded modules, for log lines */
	int kind;		/* ROUTE_EXACT, ROUTE_CAPTURE, ROUTE_PREFIX */
	int order;		/* declaration order, for ties */
};

enum { ROUTE_EXACT, ROUTE_CAPTURE, ROUTE_PREFIX };

/*
 * The index: a tree of pattern segments.  A node's literal children are
 * sorted for a binary search, all captures of a position share one
 * child, and a node lists the routes whose pattern ends there and the
 * prefix routes whose "*" segment follows it.  Matching walks the path
 * down it and ranks only the routes it meets, so a request costs about
 * the same with ten routes or ten thousand.  Nodes are kept by index
 * (the array moves).
 */
struct rlist {
	int *at;		/* route indices, in declaration order */
	int n, cap;
};

struct rchild {
	const char *seg;	/* points into the first pattern that made it */
	size_t len;
	int node;
};

struct rnode {
	struct rchild *kids;
	int nkids, capkids;
	int capture;		/* the child for ":name", 0 if none (0 is the root) */
	struct rlist ends;	/* patterns that end here */
	struct rlist prefixes;	/* prefix patterns that end here, "*" after */
};

struct router {
	struct route *routes;
	int nroutes, caproutes;
	struct rnode *nodes;	/* nodes[0] is the root, once a route is added */
	int nnodes, capnodes;
};

struct capture {
	const char *name;	/* points into the pattern; "*" for a prefix tail */
	size_t name_len;
	const char *value;	/* points into the matched path */
	size_t value_len;
};

struct match {
	const struct route *route;
	struct capture captures[MAX_ROUTE_CAPTURES];
	int ncaptures;
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_BAD_METHOD };

/*
 * Add one route.  `mount` is the module's mount ("/" or "/api"), `pattern`
 * the route's own path.  Returns -1 and fills `err` for a malformed
 * pattern (not starting with '/', an empty segment, an empty, malformed
 * or repeated capture name, '*' other than as the whole last segment,
 * more than MAX_ROUTE_CAPTURES captures), a method that is not a token,
 * or a route that duplicates one already added.
 */
int router_add(struct router *rt, const char *method, const char *mount,
	       const char *pattern, sl_handler handler, int module,
	       char *err, size_t errlen);

/*
 * Find the route for (method, path).  On ROUTER_BAD_METHOD, `allow` (if
 * not NULL) receives the comma-separated methods that would match, e.g.
 * "GET, POST".
 */
enum router_result router_match(const struct router *rt, const char *method,
				const char *path, struct match *m,
				char *allow, size_t allowlen);

/*
 * router_match without the index: every route in turn.  What the index
 * must agree with, for the tests; and what a path that meets more
 * candidates than one match keeps room for falls back on.
 */
enum router_result router_match_all(const struct router *rt, const char *method,
				    const char *path, struct match *m,
				    char *allow, size_t allowlen);

void router_free(struct router *rt);

#endif
