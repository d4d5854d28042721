/*
 * master.h - the master process: forks, reaps, counts and signals.
 */
#ifndef SLUICE_MASTER_H
#define SLUICE_MASTER_H

#include "config.h"
#include "module.h"
#include "router.h"

/*
 * What a set of workers was started with: a config, its modules and
 * routes.  A reload makes a new generation; the old one is kept (never
 * freed: its workers may still be finishing requests, and it is small).
 */
struct generation {
	struct generation *older;	/* the one it replaced, kept */
	int number;
	struct sl_config cfg;
	struct router router;
	struct modset modules;
	int *route_stats;		/* route index -> stats.h entry */
};

/*
 * Supervise the pool on the listeners `ls` until SIGTERM, SIGQUIT or
 * SIGINT and the end of the workers' requests, and the status responder
 * on `status` (NULL: none).  The master never runs app code.
 * Returns the process exit status.
 */
struct listener;

int master_run(struct generation *gen, const struct listener *ls, int nls,
	       const struct listener *status);

/*
 * Load a config file (NULL: the in-code settings alone) and its modules
 * into a new generation, for start-up and reloads.  `prev` is the generation in service (NULL at start-up).
 * Returns the generation, or NULL with one line in `err`.
 */
struct generation *master_load(const char *file, const struct generation *prev,
			       char *err, size_t errlen);

/* "exited with status 1", "killed by signal 9 (SIGKILL)", ... into `buf`. */
void master_describe_exit(int status, char *buf, size_t len);

#endif
