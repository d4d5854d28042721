/*
 * pidfile.h - the master's pid file, for init scripts and logrotate.
 */
#ifndef SLUICE_PIDFILE_H
#define SLUICE_PIDFILE_H

#include <stddef.h>

/*
 * Write this process's pid into `path`: into a temporary file in the same
 * folder, then renamed over `path`, so that a reader never sees a partial
 * number.  A pid file naming another live sluice is left alone and the
 * claim refused: two masters would fight over one pool.  Returns 0, or -1
 * with one line in `err`.
 */
int pidfile_claim(const char *path, char *err, size_t errlen);

/* Remove the claimed file, if this is the process that claimed it. */
void pidfile_release(void);

#endif
