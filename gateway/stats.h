/*
 * stats.h - per-route request counters in memory shared by the master,
 * the workers and the status responder.
 *
 * One table for the life of the master, mapped before the first fork so
 * that every process sees it.  An entry is one route pattern
 * ("GET /notes/:id"), never a raw path: the series a metrics scrape sees
 * are bounded by the routes the modules declare.  The master assigns the
 * entries when it loads a generation (a reload that keeps a route keeps
 * its entry, so counters only ever grow, as Prometheus expects); entry 0
 * counts the requests that matched no route.  Workers add to the entries
 * with atomic adds and no system call; the status responder only reads.
 */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

struct router;
struct score;
struct sl_request;

/*
 * Route patterns counted apart over the master's life.  A route past
 * this (after many reloads that each renamed routes) is counted in the
 * last entry, "(other)", so the table never grows and never lies.
 */
#define STATS_ROUTES 512

/* Room for "METHOD /pattern" in an entry; a longer name is cut. */
#define STATS_NAME 112

/* Upper bounds of the latency histogram, in seconds: Prometheus' defaults. */
#define STATS_BUCKETS 11
extern const double stats_bounds[STATS_BUCKETS];

struct route_stats {
	char name[STATS_NAME];			/* "" : entry unused */
	unsigned long long by_class[5];		/* 1xx .. 5xx */
	unsigned long long le[STATS_BUCKETS + 1];	/* per bucket, not cumulative; last: +Inf */
	unsigned long long sum_us;		/* total duration, microseconds */
};

/*
 * In the master, before the workers of a generation fork: give each
 * route of `rt` its entry, into a new array `*map` (route index -> entry).
 * Maps the table on first use.  Returns 0, or -1 with errno.
 */
int stats_assign(const struct router *rt, int **map);

/*
 * In a worker, once: the entries its requests count in, and its
 * scoreboard entry, where the route of the request in hand is shown.
 */
void stats_worker(struct score *sc, const struct router *rt, const int *map);

/* A request begins (worker.c). */
void stats_start(void);

/* The handler of a routed request is about to run (request.c). */
void stats_begin(const struct sl_request *r);

/* A request's answer is about to end: count it (request.c).  No-op outside a worker. */
void stats_end(const struct sl_request *r);

/* Entry `i`, 0 <= i < STATS_ROUTES, or NULL when the table is not mapped. */
const struct route_stats *stats_entry(int i);

#endif
