/*
 * worker.h - a worker process: the event loop that serves requests.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <sys/types.h>

struct sl_config;
struct router;

/*
 * Run worker `slot` in a freshly forked child: drop privileges, run the
 * modules' init, then serve connections from `listen_fd` until told to
 * stop, the master dies, or pm.max_requests is reached.  Never returns.
 */
void worker_main(const struct sl_config *cfg, const struct router *rt, int listen_fd,
		 int slot, pid_t master) __attribute__((noreturn));

#endif
