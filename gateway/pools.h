/*
 * pools.h - the master of a config with several pools (config_pools.h).
 *
 * php-fpm's model, with each pool behind a wall: this master binds every
 * pool's sockets, then starts one pool master per pool (master.c, the
 * same code that runs a config without pools), hands it its sockets and
 * watches it.  It never loads a module.  A pool whose master dies is
 * started again on the same sockets (connections wait in their queue
 * meanwhile), with a growing delay when it keeps dying; a pool whose
 * reload fails serves on with its old generation; neither touches the
 * other pools.  Signals are for all pools: SIGHUP reloads each (and starts
 * the pools a reload adds, stops those it removes), SIGUSR1 reopens the
 * logs, SIGTERM, SIGQUIT and SIGINT stop them.  The pool masters tell it
 * through the notify protocol, on a socket of its own, when they serve;
 * it tells systemd once all of them do.
 */
#ifndef SLUICE_POOLS_H
#define SLUICE_POOLS_H

#include "config.h"

/*
 * What a pool's master runs, in the child: serve pool `pool` of `file`
 * until stopped; returns the exit status.  serve.c's.
 */
typedef int (*pool_main_fn)(const char *file, const char *pool);

/*
 * Check every pool of `top` (the file's top level, config_load without a
 * pool) as config_load and config_check do; with `load`, also load each
 * pool's modules, as -t does.  0, or -1 with "pool NAME: FILE:LINE: ..."
 * in `err`.  Two pools may not share an address.
 */
int pools_check(const struct sl_config *top, int load, char *err, size_t errlen);

/*
 * Run the pools of `top` until a stop signal and the end of every pool.
 * Returns the exit status: 1 when a pool cannot start.
 */
int pools_run(const struct sl_config *top, pool_main_fn pool_main);

#endif
