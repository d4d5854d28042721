/*
 * selfpipe.h - a master's signals as bytes on a pipe.
 *
 * The handlers only write the signal's number to a pipe, which the
 * master's loop polls and reads, so nothing runs in a handler that is
 * not async-signal-safe (nginx and php-fpm do the same).  Used by the
 * master of a pool (master.c) and the master of several pools (pools.c).
 */
#ifndef SLUICE_SELFPIPE_H
#define SLUICE_SELFPIPE_H

/*
 * Catch SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP and SIGUSR1 onto the
 * pipe, and ignore SIGPIPE.  0, or -1 with errno.
 */
int selfpipe_init(void);

/* The end to poll for POLLIN. */
int selfpipe_fd(void);

/* The next signal caught, or 0 when none is waiting. */
int selfpipe_next(void);

/* In a child of the master: let go of the pipe. */
void selfpipe_close(void);

#endif
