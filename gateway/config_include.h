/*
 * config_include.h - what the config's @include lines name, checked
 * before libconfig opens them.
 *
 * libconfig 1.5 opens an included name with fopen() and hands it to its
 * flex scanner; fopen() succeeds on a folder, and the scanner's first
 * read then fails with EISDIR, on which flex calls exit(2): `sluice -t`
 * would die without a word, and so would a master reloading a config
 * whose @include names a folder ("" names the config's own folder).  A
 * FIFO or a device would block it or feed it forever.  So every
 * @include the scanner would act on is found first, as its rules find
 * it, and must name a regular file (or nothing that exists, which
 * libconfig reports itself).
 */
#ifndef SLUICE_CONFIG_INCLUDE_H
#define SLUICE_CONFIG_INCLUDE_H

#include <stddef.h>

/*
 * Check the @include lines of `path` and, depth first, of the files they
 * name, which libconfig finds at `dir` + "/" + the name.  Returns 0, or
 * -1 with "FILE:LINE: what is wrong" in `err`.  A file that cannot be
 * read is left to libconfig, which says so.
 */
int config_include_check(const char *path, const char *dir, char *err, size_t errlen);

#endif
