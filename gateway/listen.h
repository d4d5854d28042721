/*
 * listen.h - the listening sockets, opened by the master before it forks
 * and never closed or bound again while it runs (reloads included).
 */
#ifndef SLUICE_LISTEN_H
#define SLUICE_LISTEN_H

#include <stddef.h>

struct sl_config;
struct listen_config;
struct proto;

struct listener {
	int fd;
	const struct proto *proto;	/* the protocol its connections speak */
	char address[128];		/* as configured, for log lines */
	int owns_path;			/* a unix socket file we created: remove it at exit */
	int from_systemd;		/* passed in by socket activation */
};

/*
 * Open every listener the config names.  Sockets passed in by systemd
 * (socket activation) are adopted for the addresses they are bound to;
 * the others are bound here: a unix socket with its configured mode,
 * owner and group (a stale socket file left by a dead instance is
 * removed, anything else in the way is an error), or TCP host:port.
 * Returns the count, or -1 with one line in `err` naming the address.
 */
int listen_open_all(const struct sl_config *cfg, struct listener *out, char *err,
		    size_t errlen);

/*
 * Bind one listener outside the pool's list (the status socket).
 * Returns 0 with `out` filled, or -1 with one line in `err`.
 */
int listen_open_one(const struct listen_config *lc, struct listener *out, char *err,
		    size_t errlen);

/*
 * The connections waiting in a listening socket's accept queue, and its
 * backlog: sock_diag for a unix socket, TCP_INFO for TCP.  Returns 0, or
 * -1 with errno.
 */
int listen_queue(int fd, unsigned *queued, unsigned *backlog);

/*
 * In a pool's own master, forked by the master of several pools (pools.c):
 * the `n` sockets that master bound for the pool are the ones to adopt,
 * as systemd's would be, instead of binding.
 */
void listen_take_from_master(const struct listener *ls, int n);

/* Whether this process's sockets were handed over by the master of pools. */
int listen_passed_by_master(void);

/* Remove the unix socket files this process created. */
void listen_cleanup(const struct listener *ls, int n);

#endif
