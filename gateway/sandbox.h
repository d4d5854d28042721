/*
 * sandbox.h - the workers' optional seccomp allow-list (the only user of
 * libseccomp).
 *
 * With `seccomp = true;` each worker, after it has dropped its
 * privileges and before any module's init runs, allows itself only the
 * system calls a server and its modules need (SANDBOX_DEFAULT in
 * sandbox.c, plus the config's `seccomp_allow`).  Any other system call
 * traps: the crash handler logs which call it was and the request in
 * hand, answers that request with 502 when nothing was sent yet, and the
 * worker dies of SIGSYS, which the master reports and replaces like any
 * crash.  Killing rather than failing the call with EPERM is the choice:
 * a module that tries something it was never meant to do is compromised
 * or broken, and should not carry on with an error it may ignore.
 */
#ifndef SLUICE_SANDBOX_H
#define SLUICE_SANDBOX_H

#include <stddef.h>

/* Whether libseccomp knows a system call by this name on this machine. */
int sandbox_known(const char *name);

/*
 * Install the filter in this process: the default list plus the `n`
 * names of `extra`.  0, or -1 with why in `err`.
 */
int sandbox_install(const char *const *extra, int n, char *err, size_t errlen);

/* Whether signal `sig` with `si_code` is the filter's trap.  Async-signal-safe. */
int sandbox_trapped(int sig, int si_code);

/*
 * The name of system call `nr`, for the crash handler: async-signal-safe
 * (a table built by sandbox_install); "unknown" outside it.
 */
const char *sandbox_syscall_name(int nr);

#endif
