/*
 * stats.c - per-route request counters.  See stats.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "request.h"
#include "router.h"
#include "scoreboard.h"
#include "stats.h"

const double stats_bounds[STATS_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static struct route_stats *table;

/* The worker's view: its scoreboard entry and its generation's routes. */
static struct {
	struct score *score;
	const struct router *rt;
	const int *map;
	long long start_us;
} me;

/* A monotonic clock in microseconds (vDSO: no system call). */
static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

void stats_start(void)
{
	me.start_us = now_us();
}

static int map_table(void)
{
	void *p;

	if (table)
		return 0;
	p = mmap(NULL, STATS_ROUTES * sizeof(*table), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	table = p;
	snprintf(table[0].name, STATS_NAME, "(no route)");
	snprintf(table[STATS_ROUTES - 1].name, STATS_NAME, "(other)");
	return 0;
}

/* The entry named `name`, made if new; the overflow entry when full. */
static int entry_for(const char *name)
{
	int i;

	for (i = 1; i < STATS_ROUTES - 1 && table[i].name[0]; i++)
		if (strncmp(table[i].name, name, STATS_NAME - 1) == 0)
			return i;
	if (i == STATS_ROUTES - 1)
		return i;
	snprintf(table[i].name, STATS_NAME, "%s", name);
	return i;
}

int stats_assign(const struct router *rt, int **map)
{
	char name[STATS_NAME];
	int *m;

	if (map_table() < 0)
		return -1;
	m = calloc((size_t)rt->nroutes + 1, sizeof(*m));
	if (!m)
		return -1;
	for (int i = 0; i < rt->nroutes; i++) {
		const struct route *r = &rt->routes[i];

		snprintf(name, sizeof(name), "%s %s", r->method ? r->method : "*", r->pattern);
		m[i] = entry_for(name);
	}
	*map = m;
	return 0;
}

void stats_worker(struct score *sc, const struct router *rt, const int *map)
{
	me.score = sc;
	me.rt = rt;
	me.map = map;
}

/* The entry of the request's route; 0 when it matched none. */
static int entry_of(const struct sl_request *r)
{
	const struct route *rt = r->match.route;

	if (!rt || !me.map || rt < me.rt->routes || rt >= me.rt->routes + me.rt->nroutes)
		return 0;
	return me.map[rt - me.rt->routes];
}

void stats_begin(const struct sl_request *r)
{
	if (me.score)
		me.score->route = entry_of(r);
}

void stats_end(const struct sl_request *r)
{
	struct route_stats *e;
	int cls = r->status / 100 - 1, b = 0;
	long long us;

	if (!table || !me.score)
		return;
	us = now_us() - me.start_us;
	e = &table[entry_of(r)];
	me.score->route = (int)(e - table);
	me.score->last_us = us;
	if (cls < 0 || cls > 4)
		cls = 4;
	while (b < STATS_BUCKETS && us > stats_bounds[b] * 1e6)
		b++;
	__atomic_fetch_add(&e->by_class[cls], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&e->le[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&e->sum_us, (unsigned long long)us, __ATOMIC_RELAXED);
}

const struct route_stats *stats_entry(int i)
{
	return table ? &table[i] : NULL;
}
