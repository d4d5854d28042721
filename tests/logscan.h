/*
 * logscan.h - finding and counting lines in a program's log, for suites
 * that assert what was logged: how many lines hold a pair of words, the
 * first such line, and waiting for one to appear.  Nothing here asserts.
 */
#ifndef SLUICE_TEST_LOGSCAN_H
#define SLUICE_TEST_LOGSCAN_H

#include "harness.h"

/* Lines of `text` that hold `a` and, when not NULL, `b`. */
int logscan_count(const char *text, const char *a, const char *b);

/* The first line of `text` holding `a` (and `b`), malloc'ed; NULL if none. */
char *logscan_line(const char *text, const char *a, const char *b);

/*
 * Wait up to `ms` for a line of sluice's error log holding `a` (and `b`):
 * the line, malloc'ed, or NULL when none came in time.
 */
char *logscan_wait(const struct sluice_proc *sp, const char *a, const char *b, long ms);

/*
 * A reload as operators see it: SIGHUP to the master, then up to `ms`
 * for "generation `g` serves" in its log.  0, or -1 if it did not come.
 */
int logscan_reload(const struct sluice_proc *sp, int g, long ms);

/* The last `max` bytes of sluice's error log, for failure messages; static storage. */
const char *logscan_tail(const struct sluice_proc *sp, size_t max);

/*
 * The master's live children that its log shows started as workers
 * ("(pid N) started (generation G)"), at most `max`, into `out` sorted by pid; how
 * many.  A helper process of the master is never taken for a worker.
 */
int logscan_workers(const struct sluice_proc *sp, pid_t *out, int max);

#endif
