/*
 * trace.h - a worker's backtrace, taken by the master from outside.
 *
 * php-fpm's slowlog: the master attaches to the worker with ptrace, walks
 * the stack of its main thread with libunwind, and detaches.  The worker
 * runs no code of ours and receives no signal.  A ptrace-stop of a
 * handler asleep in nanosleep, clock_nanosleep, poll or a plain blocking
 * read restarts that call transparently when the master detaches: no
 * EINTR, no shortened sleep.  What the kernel does not restart after any
 * stop (signal(7): epoll_wait, semop, sigtimedwait, sockets with
 * SO_RCVTIMEO) still returns EINTR, exactly as under php-fpm's slowlog
 * or a debugger.
 *
 * Addresses are named with symbols.h from the master's own table: workers
 * are forked after their generation's modules are loaded, so their code
 * sits at the same addresses in both processes.  Code a worker maps on its
 * own later is shown as a bare address.
 *
 * Only the worker's real parent (the master) uses this: ptrace needs the
 * master to be the parent under Yama scope 1, or CAP_SYS_PTRACE to follow
 * workers that switched user.  A container's seccomp policy may forbid
 * ptrace altogether; the caller then logs the slow request without a
 * backtrace.
 */
#ifndef SLUICE_TRACE_H
#define SLUICE_TRACE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Write the main thread's backtrace of process `pid` into `buf`,
 * innermost frame first, as "f1+0x1a (x.so) < f2+0x30 (sluice) < ...",
 * and leave the process running as it was.  Blocks the caller at most
 * about TRACE_STOP_WAIT_MS (defaults.h) waiting for the process to stop.
 *
 * Returns 0, or -1 with the reason in `buf` ("ptrace: Operation not
 * permitted", "the process did not stop within 100 ms"), for the log line.
 * An exit of `pid` is never collected here: the caller's own waitpid sees
 * it as usual.
 */
int trace_backtrace(pid_t pid, char *buf, size_t len);

/*
 * The caller's waitpid(-1) reported a stop of child `pid` (wait status
 * `status`).  Without WUNTRACED only a tracee's stops are reported: this
 * is one that came after trace_backtrace gave up waiting for it.  Detach,
 * handing on the signal that stopped it if there is one, so that the
 * child runs on.  A status that is not a stop is ignored.
 */
void trace_release(pid_t pid, int status);

#endif
