/*
 * config_pools.h - several pools in one config file, php-fpm's model.
 *
 *     user = "www-data";                 # every pool's, unless it says
 *     pm = { max_children = 4; };
 *     pools = {
 *       www = { listen = "/run/sluice/www.sock"; modules = ( ... ); };
 *       api = { user = "api"; listen = "127.0.0.1:9001";
 *               pm = { max_children = 8; }; modules = ( ... ); };
 *     };
 *
 * A pool's keys are the top level's with the pool's own group laid over
 * them, key by key (groups such as pm and limits merge member by member).
 * A few keys belong to the master alone (the error log, its level, the
 * pid file) and may not appear in a pool; a few make sense only per pool
 * (listen, status, modules, program) and may not appear at the top once
 * there are pools.  This works on libconfig's parsed tree, before
 * config.c reads it, so every key is then read, checked and reported
 * (with the line it was written on) as it is without pools.
 */
#ifndef SLUICE_CONFIG_POOLS_H
#define SLUICE_CONFIG_POOLS_H

#include <stddef.h>

#include <libconfig.h>

#include "config.h"

/*
 * Check the `pools` group of `root` (if any), list its pools in `out`
 * (n = 0: the file has none), and when `pool` is not NULL lay that pool's
 * keys over the top level.  `pools` is then removed from the tree.
 * Returns NULL, or the setting a mistake is about (`root` for the file
 * as a whole) with what is wrong in `why`.
 */
const config_setting_t *config_pools_apply(config_setting_t *root, const char *pool,
					   struct pool_names *out, char *why, size_t whylen);

#endif
