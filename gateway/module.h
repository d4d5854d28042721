/*
 * module.h - loading application modules.
 *
 * module.c is the only file that includes <dlfcn.h>.  The master loads
 * every module with RTLD_NOW before forking, so that a missing file, an
 * unresolved symbol, a missing descriptor or an ABI mismatch stops
 * start-up (or a reload) with one line naming the file, instead of
 * failing in every worker later.  Workers inherit the mappings and run
 * `init` after fork, with a context that holds the module's settings.
 *
 * Modules built for ABI 1 (init and fini without a context) are loaded
 * too: their descriptor is copied into this ABI's shape, and their init
 * and fini are kept aside to be called the old way.
 *
 * A reload loads a new set next to the old one.  A module file that
 * changed on disk is loaded from a private copy, because dlopen would
 * otherwise hand back the old, already loaded object for the same path;
 * an unchanged one is shared with the old set.  The master never unloads
 * a set it served with: it never runs their code, and old workers may
 * still be finishing requests with it.
 */
#ifndef SLUICE_MODULE_H
#define SLUICE_MODULE_H

#include <stddef.h>
#include <sys/types.h>

#include "defaults.h"
#include "fileid.h"
#include "sluice.h"

struct sl_config;
struct module_config;
struct router;

/* An ABI 1 module's init and fini, which take no context. */
struct module_v1_calls {
	int (*init)(void);
	void (*fini)(void);
};

struct modset {
	const struct sl_module *mods[MAX_MODULES];	/* own descriptor, or v1[i] */
	const struct module_config *conf[MAX_MODULES];	/* its entry: mount, settings */
	struct sl_module v1[MAX_MODULES];		/* ABI 1 descriptors, reshaped */
	struct module_v1_calls v1_calls[MAX_MODULES];
	void *handles[MAX_MODULES];
	struct file_id files[MAX_MODULES];	/* the file each was loaded from, to see it change */
	unsigned char shared[MAX_MODULES];	/* handle taken over from the previous set */
	int n;
	int ninited;
	int failed;			/* the module whose init failed last, -1: none */
	int failed_rc;			/* what that init returned */
};

/*
 * Load every module the config names into `ms` and add its routes to
 * `rt`.  `prev` (or NULL) is the set in service: a file unchanged since it
 * was loaded there is shared with it.  Returns 0, or -1 with one line in
 * `err` ("FILE:LINE: module PATH: ...") and nothing left loaded.
 */
int module_load_all(const struct sl_config *cfg, const struct modset *prev,
		    struct modset *ms, struct router *rt, char *err, size_t errlen);


/*
 * In a worker: make `ms` the set whose names log lines use, and run every
 * module's init in config order.  Returns 0, or -1 after logging which
 * module failed (modules already initialised are finalised again).
 */
int module_init_all(struct modset *ms);
void module_fini_all(struct modset *ms);

/*
 * The program's own module, linked in (sl_serve): what a config entry
 * marked `builtin` serves.  Set once, before the first load.
 */
void module_set_builtin(const struct sl_module *m);

/* The descriptor's name of module `i` of the worker's set. Async-signal-safe. */
const char *module_name(int i);

/* The mount point of module `i` of the worker's set ("/" when unknown). */
const char *module_mount(int i);

/* The name of the module whose init or fini is running, or NULL. */
const char *module_running(void);

#endif
