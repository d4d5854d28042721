/*
 * worker.h - a worker process: the event loop that serves requests.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <sys/types.h>

struct generation;
struct listener;
struct sl_config;

struct worker_args {
	struct generation *gen;
	const struct listener *listeners;	/* the master's sockets, shared by all workers */
	int nlisteners;
	int index;		/* its scoreboard entry; it is "worker index+1" in logs */
	pid_t master;		/* 0: no master (started by mod_fcgid) */
	int notify_fd;		/* write end of the master's pipe: recycling requests; -1: none */
	int ctl_fd;		/* our end of the master's control pair (handoff.h); -1: none */
};

/*
 * Run a worker in a freshly forked child: drop privileges, install the
 * crash handlers, run the modules' init, then serve connections until
 * told to stop or the master dies.  On reaching its pm.max_requests it
 * asks the master for a replacement and serves on until that one is
 * ready.  Never returns.
 */
void worker_main(const struct worker_args *args) __attribute__((noreturn));

/*
 * Become the config's user and group (only possible when started as
 * root; a no-op without `user`).  Returns 0, or -1 after logging why.
 * The status responder drops to the same identity.
 */
int worker_drop_privileges(const struct sl_config *cfg);

#endif
