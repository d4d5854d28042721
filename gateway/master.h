/*
 * master.h - the master process: forks, reaps, counts and signals.
 */
#ifndef SLUICE_MASTER_H
#define SLUICE_MASTER_H

struct sl_config;
struct router;

/*
 * Supervise the pool on `listen_fd` until SIGTERM, SIGQUIT or SIGINT and
 * the end of the workers' requests.  The master never runs app code.
 * Returns the process exit status.
 */
int master_run(const struct sl_config *cfg, const struct router *rt, int listen_fd);

#endif
