/*
 * module.h - loading application modules.
 *
 * module.c is the only file that includes <dlfcn.h>.  The master loads
 * every module with RTLD_NOW before forking, so that a missing file, an
 * unresolved symbol, a missing descriptor or an ABI mismatch stops
 * start-up with one line naming the file, instead of failing in every
 * worker later.  Workers inherit the mappings and run `init` after fork.
 */
#ifndef SLUICE_MODULE_H
#define SLUICE_MODULE_H

#include <stddef.h>

struct sl_config;
struct router;

/*
 * Load every module the config names and add its routes to `rt`.
 * Returns 0, or -1 with one line in `err` ("FILE:LINE: module PATH: ...").
 */
int module_load_all(const struct sl_config *cfg, struct router *rt, char *err, size_t errlen);

/*
 * Run every module's init in this worker, in config order.  Returns 0,
 * or -1 after logging which module failed; modules already initialised
 * are finalised again.
 */
int module_init_all(void);
void module_fini_all(void);

/* The descriptor's name of module `i`, for log lines. */
const char *module_name(int i);

#endif
