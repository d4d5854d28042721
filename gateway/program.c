/*
 * program.c - supervised FastCGI programs: starting a copy, and seeing
 * from outside what it does.  See program.h.
 *
 * A copy is started as spawn-fcgi and mod_fcgid start one: the listening
 * socket is descriptor 0 (FCGI_LISTENSOCK_FILENO), and the program calls
 * accept(2) on it itself.  Several copies share that one socket and the
 * kernel gives each connection to one of them.
 *
 * Whether a copy is ready, and between requests, is read from
 * /proc/PID/task/TID/syscall: a thread blocked in accept(0, ...), or in
 * fcntl(0, F_SETLKW) waiting for libfcgi's accept lock, waits for a
 * connection.  The master may read it: the copy is its child, running as
 * the master's user or, with `user`, started by a root master.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "program.h"
#include "worker.h"

/* ---- Starting a copy ------------------------------------------------- */

/*
 * An exec'ed program inherits ignored signals and the signal mask: the
 * master ignores SIGPIPE and the fork blocked everything.  A program
 * started by spawn-fcgi or a shell has neither, so neither has a copy.
 */
static void default_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;

	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);	/* SIGKILL, SIGSTOP, RT internals: refused, fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * The listening socket as descriptor 0.  The master opened it
 * non-blocking, for workers' epoll loops; libfcgi's accept fails on
 * EAGAIN, so the socket is made blocking.  The flag belongs to the open
 * socket, which only program copies accept on in a program pool.
 */
static int listener_as_stdin(int fd)
{
	int flags;

	if (fd != 0 && dup2(fd, 0) < 0)
		return -1;
	flags = fcntl(0, F_GETFL);
	return flags < 0 ? -1 : fcntl(0, F_SETFL, flags & ~O_NONBLOCK);
}

void program_exec(const struct sl_config *cfg, int listen_fd, pid_t master, int index)
{
	const char *path = cfg->program.path;
	char ident[64];

	snprintf(ident, sizeof(ident), "worker %d (pid %d)", index + 1, (int)getpid());
	log_set_ident(ident);

	if (listener_as_stdin(listen_fd) < 0) {
		log_msg(LOG_ERROR, "program %s: cannot make the socket descriptor 0: %s", path,
			strerror(errno));
		_exit(127);
	}
	if (worker_drop_privileges(cfg) < 0)
		_exit(127);
	/* After the switch of user, which clears it.  SIGUSR1 as for a
	 * reload: the request in hand is finished first (program.h). */
	if (prctl(PR_SET_PDEATHSIG, SIGUSR1) < 0 || getppid() != master)
		_exit(0);
	default_signals();
	/* Nothing of the master's but descriptors 0, 1 and 2 reaches the
	 * program, whatever was opened without O_CLOEXEC (and the error log
	 * stays open for the line below if exec fails). */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	execv(path, cfg->program.argv);
	log_msg(LOG_ERROR, "program %s: cannot execute it: %s", path, strerror(errno));
	_exit(127);
}

/* ---- Seeing what a copy does ------------------------------------------ */

/*
 * Does the syscall line of a thread ("43 0x0 0x7ffc... ...": number and
 * arguments, as /proc/PID/task/TID/syscall gives them) say that it
 * waits for a connection on descriptor 0?
 */
static int waits_on_stdin(const char *line)
{
	long nr;
	unsigned long a0, a1;

	if (sscanf(line, "%ld %lx %lx", &nr, &a0, &a1) != 3 || a0 != 0)
		return 0;
#ifdef SYS_accept
	if (nr == SYS_accept)
		return 1;
#endif
	if (nr == SYS_accept4)
		return 1;
	return nr == SYS_fcntl && a1 == F_SETLKW;	/* libfcgi's accept lock */
}

/*
 * One thread: 1 when it waits on descriptor 0, 0 when it does something
 * else, -1 when its line could not be read (EACCES: no permission).
 */
static int look_at_thread(pid_t pid, const char *tid)
{
	char path[320], line[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", (int)pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;	/* a thread that just ended */
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 0)
		return errno == ESRCH ? 0 : -1;
	line[n] = '\0';
	return waits_on_stdin(line);
}

enum program_seen program_look(pid_t pid, pid_t *tid)
{
	enum program_seen seen = PROGRAM_BUSY;
	char path[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? PROGRAM_GONE : PROGRAM_UNKNOWN;
	while ((e = readdir(d))) {
		int r;

		if (e->d_name[0] == '.')
			continue;
		r = look_at_thread(pid, e->d_name);
		if (r < 0) {
			seen = PROGRAM_UNKNOWN;
			break;
		}
		if (r > 0) {
			seen = PROGRAM_ACCEPTING;
			if (tid)
				*tid = (pid_t)atoi(e->d_name);
			break;
		}
	}
	closedir(d);
	return seen;
}

int program_ask_to_leave(pid_t pid)
{
	pid_t tid = pid;

	switch (program_look(pid, &tid)) {
	case PROGRAM_ACCEPTING:
		/* To that thread: a process-wide signal may land on another one,
		 * leaving the accept blocked until the next connection. */
		return (int)syscall(SYS_tgkill, pid, tid, SIGUSR1) < 0 && errno != ESRCH ? -1 : 0;
	case PROGRAM_UNKNOWN:
		return kill(pid, SIGUSR1) < 0 && errno != ESRCH ? -1 : 0;
	case PROGRAM_GONE:
		return 0;
	default:
		return -1;
	}
}
