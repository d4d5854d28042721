/*
 * sandbox.c - the workers' seccomp allow-list.  See sandbox.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <seccomp.h>

#include "sandbox.h"

/*
 * What a worker does between requests and what modules commonly need:
 * files and sockets (a module may talk to a database, locally or over
 * the network), memory, time, signals to itself, threads, and the
 * descriptors the worker passes to the master.  Left out on purpose,
 * among others: execve and fork (a module runs no programs), ptrace and
 * process_vm_* (no reading other processes), mount, chroot, pivot_root,
 * setns and unshare, module loading, bpf, perf_event_open, keyctl,
 * reboot, the clock setters, and every set*id call (the worker has
 * already become its user).  `seccomp_allow` adds to it.
 */
static const char *const SANDBOX_DEFAULT[] = {
	/* files */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"open", "openat", "close", "lseek", "stat", "fstat", "lstat", "newfstatat", "statx",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64",
	"fcntl", "flock", "fsync", "fdatasync", "ftruncate", "fallocate", "rename",
	"renameat", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir",
	"fchmod", "fchown", "utimensat", "getcwd", "umask", "dup", "dup2", "dup3",
	"pipe", "pipe2", "sendfile", "copy_file_range", "statfs", "fstatfs",
	"ioctl", "fadvise64", "memfd_create",
	/* sockets */
	"socket", "connect", "accept", "accept4", "bind", "listen", "shutdown",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	"getsockname", "getpeername", "getsockopt", "setsockopt", "socketpair",
	/* waiting */
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "signalfd4",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	/* memory */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore",
	"mlock", "munlock",
	/* time */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep",
	/* signals, to itself */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait",
	"sigaltstack", "kill", "tgkill", "tkill", "restart_syscall", "pause",
	/* the process and its threads */
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"getgroups", "getresuid", "getresgid", "uname", "sysinfo", "getrlimit",
	"prlimit64", "getrusage", "times", "prctl", "arch_prctl", "sched_yield",
	"sched_getaffinity", "getrandom", "futex", "set_robust_list",
	"get_robust_list", "set_tid_address", "rseq", "clone", "clone3", "wait4",
	"membarrier", "exit", "exit_group",
};

/* si_code of a SIGSYS sent by a seccomp trap (linux/signal.h's
 * SYS_SECCOMP, which glibc's headers do not give). */
#define TRAP_SI_CODE 1

#define NSYSCALLS 1024		/* above the highest number on any Linux arch today */

static const char *names[NSYSCALLS];

int sandbox_known(const char *name)
{
	return seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}

/*
 * Names for the crash handler, which may not allocate: resolved now,
 * while the process still may.  libseccomp's strings are kept.
 */
static void name_table(void)
{
	for (int nr = 0; nr < NSYSCALLS; nr++)
		if (!names[nr])
			names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

int sandbox_trapped(int sig, int si_code)
{
	return sig == SIGSYS && si_code == TRAP_SI_CODE;
}

const char *sandbox_syscall_name(int nr)
{
	return nr >= 0 && nr < NSYSCALLS && names[nr] ? names[nr] : "unknown";
}

/* Allow `name`; a name this kernel's architecture lacks is skipped. */
static int allow(scmp_filter_ctx ctx, const char *name, char *err, size_t errlen)
{
	int nr = seccomp_syscall_resolve_name(name), rc;

	if (nr == __NR_SCMP_ERROR)
		return 0;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	if (rc < 0 && rc != -EEXIST) {
		snprintf(err, errlen, "seccomp: cannot allow %s: %s", name, strerror(-rc));
		return -1;
	}
	return 0;
}

int sandbox_install(const char *const *extra, int n, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int rc = -1;

	if (!ctx) {
		snprintf(err, errlen, "seccomp: cannot make a filter");
		return -1;
	}
	name_table();
	for (size_t i = 0; i < sizeof(SANDBOX_DEFAULT) / sizeof(SANDBOX_DEFAULT[0]); i++)
		if (allow(ctx, SANDBOX_DEFAULT[i], err, errlen) < 0)
			goto out;
	for (int i = 0; i < n; i++)
		if (allow(ctx, extra[i], err, errlen) < 0)
			goto out;
	/* Every thread of the worker, should a module's library have started one. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (rc = seccomp_load(ctx)) < 0) {
		snprintf(err, errlen, "seccomp: cannot load the filter: %s", strerror(-rc));
		rc = -1;
	}
out:
	seccomp_release(ctx);
	return rc;
}
