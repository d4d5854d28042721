/*
 * status.h - the status responder: status, ping, readiness and metrics.
 *
 * A process of its own, forked and restarted by the master, that runs no
 * module code and is no pool worker: it answers on its own FastCGI
 * socket (`status.listen`) from the shared scoreboard and request
 * counters, so it answers in milliseconds when every worker is busy or
 * hung, which is when an operator needs it.  The master could not answer
 * itself without reading sockets in its loop, and the master must never
 * wait on a peer.
 *
 *   /status          php-fpm's fields and a table of the workers: text,
 *                    or JSON with ?json
 *   /metrics         Prometheus text format
 *   /ping            "pong" while this process lives
 *   /ready           200 while a worker of the generation in service is
 *                    ready (idle or busy), else 503
 */
#ifndef SLUICE_STATUS_H
#define SLUICE_STATUS_H

#include <sys/types.h>

struct listener;
struct sl_config;

struct status_args {
	const struct listener *sock;	/* the status socket */
	const struct listener *pool;	/* the pool's sockets, for their queues */
	int npool;
	const struct sl_config *cfg;	/* the config at start: its limits and name */
	pid_t master;
};

/* Run the responder in a freshly forked child.  Never returns. */
void status_main(const struct status_args *args) __attribute__((noreturn));

/*
 * `sluice status -c FILE`: ask the responder named by the config for its
 * text status (or `path`, such as "/metrics") and print the body on
 * stdout.  Returns the process exit status.
 */
int status_print(const struct sl_config *cfg, const char *path);

#endif
