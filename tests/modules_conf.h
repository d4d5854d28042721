/*
 * modules_conf.h - the `modules` part of a test's sluice config, from
 * short names: "crash /" is BUILD_DIR/fixtures/crash.so mounted at /,
 * "apps/echo /echo" a sample app, "/tmp/x/ver.so /" a module file a test
 * put somewhere itself.  Nothing here asserts.
 */
#ifndef SLUICE_TEST_MODULES_CONF_H
#define SLUICE_TEST_MODULES_CONF_H

#include <stddef.h>

/*
 * The absolute path of module `name` ("NAME", "apps/NAME" or an absolute
 * path) into `out`: 0, or -1 when it is not built (or does not fit).
 */
int modules_conf_path(char *out, size_t len, const char *name);

/*
 * "modules = ( ... );" from `mods` (NULL-terminated "NAME MOUNT"
 * entries), then `settings`, malloc'ed; NULL when an entry is malformed
 * or a module is not built (the reason is printed to stderr).
 */
char *modules_conf(const char *settings, const char *const *mods);

struct sluice_proc;

/*
 * Start sluice with `mods` and `settings` as modules_conf makes them, and
 * `listeners` besides the private socket unless NULL: 0, or -1 when the
 * config could not be made or sluice did not start.
 */
int modules_conf_start(struct sluice_proc *sp, const char *listeners, const char *settings,
		       const char *const *mods);

#endif
