/*
 * proctitle.h - what ps shows for each process:
 *
 *	sluice: master (generation 3, 4 workers)
 *	sluice: worker 2 idle
 *	sluice: worker 2 busy GET /notes/:id
 *
 * The title is written over the memory that held argv (and the
 * environment after it, moved away first), nginx's and php-fpm's
 * setproctitle: ps reads it from /proc/PID/cmdline, so changing it is a
 * few stores and never a system call, cheap enough for every request
 * (a worker sets two per request: busy with its route, then idle).
 */
#ifndef SLUICE_PROCTITLE_H
#define SLUICE_PROCTITLE_H

/*
 * Take over argv's memory, moving the environment to the heap (getenv
 * goes on working).  main, first thing, before anything reads argv
 * through another pointer than the one it returns in *argv (a copy).
 * 0, or -1 (out of memory: titles then stay as they were).
 */
int proctitle_init(int argc, char ***argv);

/* What every title of this process starts with: "sluice: worker 2 ". */
void proctitle_prefix(const char *prefix);

/* The prefix and then each string up to a NULL, cut to the room there is. */
void proctitle_set(const char *s, ...) __attribute__((sentinel));

#endif
