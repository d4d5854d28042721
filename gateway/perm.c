/*
 * perm.c - whether someone other than a file's owner could put another
 * file in its place.  See perm.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "perm.h"

/* Who besides the owner can write, for a mode that lets someone: "anyone" or "its group". */
static const char *others(mode_t mode)
{
	return mode & S_IWOTH ? "anyone" : "its group";
}

/* Cut `p` to its folder: "/a/b" becomes "/a", "/a" becomes "/", "a" becomes ".". */
static void to_folder(char *p)
{
	char *slash = strrchr(p, '/');

	if (!slash)
		strcpy(p, ".");
	else if (slash == p)
		p[1] = '\0';
	else
		*slash = '\0';
}

const char *perm_check_folders(const char *path, char *why, size_t size)
{
	char dir[PATH_MAX], real[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	to_folder(dir);
	if (!realpath(dir, real)) {
		snprintf(why, size, "the folder %s: %s", dir, strerror(errno));
		return why;
	}
	for (;;) {
		if (stat(real, &st) < 0) {
			snprintf(why, size, "the folder %s: %s", real, strerror(errno));
			return why;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
			snprintf(why, size, "the folder %s (mode %04o) can be written by %s, "
				 "who could put another file in the place of %s: make it "
				 "writable by its owner only (chmod go-w %s), or sticky",
				 real, (unsigned)(st.st_mode & 07777), others(st.st_mode), path,
				 real);
			return why;
		}
		if (strcmp(real, "/") == 0)
			return NULL;
		to_folder(real);
	}
}

const char *perm_check_file(const char *path, const struct stat *st, char *why, size_t size)
{
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return NULL;
	snprintf(why, size, "%s (mode %04o) can be written by %s, who could change the "
		 "code it runs: make it writable by its owner only (chmod go-w %s)", path,
		 (unsigned)(st->st_mode & 07777), others(st->st_mode), path);
	return why;
}
