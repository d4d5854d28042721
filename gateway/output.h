/*
 * output.h - what modules write to stdout and stderr, into the error log
 * (php-fpm's catch_workers_output, always on).
 *
 * Each worker's descriptors 1 and 2 are the write ends of two pipes the
 * master reads; each line becomes one error log line naming the worker,
 * the stream and the request in its scoreboard entry when the master
 * read it (the one in hand, or the last one served):
 *
 *	[warning] master: worker 2 (pid 1234) stderr, request 3f2a...: text
 *
 * The write ends are non-blocking: when the master falls behind and a
 * pipe is full, a module's write fails with EAGAIN and its output is lost,
 * but its worker never waits.  Lines are escaped (log.c), cut at
 * OUTPUT_LINE_MAX and limited to OUTPUT_LINES_PER_SEC per worker; the
 * limit says when it starts dropping, and counts what it dropped once the
 * second is over and the worker writes again, or exits.
 */
#ifndef SLUICE_OUTPUT_H
#define SLUICE_OUTPUT_H

/* The master, once: 0, or -1 with errno. */
int output_init(void);

/* What the master polls. */
int output_fd(void);

/* Before forking worker `i`: its pipes.  0, or -1 (its output is then not captured). */
int output_attach(int i);

/*
 * In worker `i`, right after fork: the pipes become descriptors 1 and 2
 * (stdout line-buffered), and an error log that is stderr keeps the
 * original descriptor.
 */
void output_in_child(int i);

/* In the master after the fork: close the worker's ends (`forked`) or everything. */
void output_after_fork(int i, int forked);

/* Read whatever the workers wrote; never blocks. */
void output_events(void);

/* Worker `i` has exited: its last bytes are logged and its pipes closed. */
void output_worker_gone(int i);

#endif
