/*
 * routes-n.c - a module with NROUTES routes, for the routing workload.
 *
 * Built once per table size (-DNROUTES=1, 100, 10000).  The routes are
 * /r/0 .. /r/<NROUTES-1>, all GET, all answered by the same hello
 * handler, so that what grows with the table is the routing alone.  The
 * table is filled by a constructor, which runs when the module is
 * loaded and before sluice reads the descriptor: 10,000 lines of
 * initialiser would say nothing more.
 */
#include <stdio.h>

#include <sluice.h>

#ifndef NROUTES
#define NROUTES 1
#endif

static char paths[NROUTES][16];
static struct sl_route table[NROUTES + 1];

static int hello(struct sl_request *req)
{
	return sl_puts(req, "Hello from sluice!\n");
}

__attribute__((constructor)) static void fill(void)
{
	for (int i = 0; i < NROUTES; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/r/%d", i);
		table[i] = (struct sl_route){ "GET", paths[i], hello };
	}
}

SLUICE_MODULE = {
	.abi = SLUICE_ABI_VERSION,
	.name = "bench-routes",
	.routes = table,
};
