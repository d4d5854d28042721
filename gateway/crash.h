/*
 * crash.h - a worker's last words, and the master's requests for them.
 *
 * In a worker, the fatal signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT, and SIGSYS, which the seccomp filter of sandbox.h sends) are caught on an alternate stack, so that even a stack
 * overflow is reported.  The handler writes one log line with the signal,
 * the worker, the route, the request id and a symbolized backtrace,
 * answers the request in hand with a clean 502 when nothing was sent yet,
 * and dies of the same signal, so that the master sees and reports it.
 *
 * Past request_terminate_timeout the master asks a worker for the same
 * report with SIGUSR2, naming the request it means in the worker's
 * scoreboard entry first (so that a request that has just ended is never
 * blamed for its successor): the backtrace goes to the error log, the
 * client gets 504 when nothing was sent yet, and the worker exits with
 * EXIT_TERMINATED.  Everything these handlers call is async-signal-safe.
 *
 * request_slowlog_timeout sends no signal: the master takes that
 * backtrace from outside (trace.h), and the handler runs on undisturbed.
 */
#ifndef SLUICE_CRASH_H
#define SLUICE_CRASH_H

/* Exit status of a worker stopped by request_terminate_timeout. */
#define EXIT_TERMINATED 70

/* Make backtraces ready, so that a handler need not (the master, once). */
void crash_warm(void);

/*
 * Install the handlers in worker `score_index` (its scoreboard entry);
 * `ctl_fd` is its end of the master's control pair (-1: none), over which
 * a connection answered at a request boundary is handed to the master.
 * 0, or -1 with errno.
 */
int crash_init(int score_index, int ctl_fd);

/*
 * A runtime checker's report ends the worker: log `summary` with the
 * request in hand and answer it (502; the dev page shows `report`).
 */
void crash_last_words(const char *summary, const char *report);

#endif
