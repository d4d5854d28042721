/*
 * perm.h - whether someone other than a file's owner could put another
 * file in its place.
 *
 * The master runs as root.  A unix socket it creates and then hands to
 * another owner, and a module it maps and runs, are only as safe as the
 * folders they sit in: whoever can write to one of those folders can
 * swap the name for a symlink or another file between the master's
 * check and its use.  sshd's StrictModes refuses such paths; so do we.
 */
#ifndef SLUICE_PERM_H
#define SLUICE_PERM_H

#include <stddef.h>
#include <sys/stat.h>

/*
 * Every folder from the one holding `path` up to "/" (symlinks
 * resolved; `path` itself need not exist) is writable by its owner
 * alone, or has the sticky bit (/tmp), which keeps others from removing
 * or renaming what they do not own.  NULL, or why not in `why`.
 */
const char *perm_check_folders(const char *path, char *why, size_t size);

/*
 * The file `path`, whose status is `st`, is writable by its owner
 * alone.  NULL, or why not in `why`.
 */
const char *perm_check_file(const char *path, const struct stat *st, char *why, size_t size);

#endif
