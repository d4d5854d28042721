/*
 * scaffold.h - `sluice new NAME [DIR]`: the files of a new module.
 */
#ifndef SLUICE_SCAFFOLD_H
#define SLUICE_SCAFFOLD_H

/* Longest module name: it becomes file names and C identifiers. */
#define SCAFFOLD_NAME_MAX 64

/*
 * Write NAME.c, test_NAME.c, Makefile and NAME.conf into `dir` (made if
 * missing; NULL: the current folder).  NAME must be a C identifier.
 * Nothing is written when any of the files exists already.  Returns the
 * exit status: 0, or 1 after one line on stderr saying what is wrong.
 */
int scaffold_new(const char *name, const char *dir);

#endif
