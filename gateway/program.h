/*
 * program.h - supervised FastCGI programs: unchanged binaries written
 * against fcgi2 (libfcgi), or anything else that serves FastCGI on the
 * listening socket it finds as descriptor 0.
 *
 * This is the second kind of pool, next to the module pool: the master
 * keeps its table of processes, its crash-loop backoff, its recycling
 * and its reloads as for workers, and asks this file for what differs.
 * Such a program accepts its connections itself, so sluice never sees a
 * request: what sluice knows of a copy is what /proc shows, namely
 * whether one of its threads waits in accept(2) on descriptor 0 (it is
 * ready, and between requests), its memory and its CPU time.
 */
#ifndef SLUICE_PROGRAM_H
#define SLUICE_PROGRAM_H

#include <sys/types.h>

#include "config.h"

/* What /proc shows of a copy. */
enum program_seen {
	PROGRAM_GONE = -1,	/* no such process (it is exiting) */
	PROGRAM_UNKNOWN,	/* /proc would not say (see program_observe) */
	PROGRAM_BUSY,		/* alive, no thread waits for a connection */
	PROGRAM_ACCEPTING,	/* a thread waits in accept on descriptor 0 */
};

/*
 * In a new child of the master, after its limits, environment and
 * folder are set: make `listen_fd` descriptor 0 (blocking, as
 * FCGI_Accept expects), become the configured user, follow the master's
 * death, give every signal back its default, and execute the program.
 * Never returns: a failed exec is one log line, naming worker `index`,
 * and exit status 127.
 */
void program_exec(const struct sl_config *cfg, int listen_fd, pid_t master, int index)
	__attribute__((noreturn));

/*
 * Look at copy `pid`: whether a thread of it waits in accept(2) (or for
 * libfcgi's accept lock) on descriptor 0, and which (*tid, when not
 * NULL).
 */
enum program_seen program_look(pid_t pid, pid_t *tid);

/*
 * Ask copy `pid` to leave without cutting a request: SIGUSR1, libfcgi's
 * own "shut down when the request in hand is done" (FCGX_ShutdownPending),
 * to the thread that waits in accept, so that the accept returns at once.
 * Sent only while a thread waits there, that is between requests.
 * Returns 0 when asked, -1 when no thread waits now (ask again later).
 */
int program_ask_to_leave(pid_t pid);

#endif
