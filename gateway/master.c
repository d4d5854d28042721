/*
 * master.c - the master process.
 *
 * It owns the worker table and nothing else touches it.  Signal handlers
 * only write the signal number to a self-pipe; the loop reads it and does
 * the work (nginx and php-fpm do the same), so nothing runs in a handler
 * that is not async-signal-safe.
 *
 * A worker that exits is logged with its pid and status and replaced.
 * One that dies right after its start (a crashing init, a bad
 * environment) is replaced after a delay that doubles each time, so a
 * crash loop does not burn a core; the delay resets once a worker lives.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "io.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "worker.h"

/* SIGINT asks for a fast stop: the workers get this long, not shutdown_timeout. */
#define FAST_STOP_MS 1000

struct slot {
	pid_t pid;		/* 0: not running */
	long long started_ms;
	long long respawn_ms;	/* when to start it again; 0: now */
	int fast_exits;		/* consecutive exits within FAST_EXIT_SECONDS */
};

static int sigpipe_fds[2] = { -1, -1 };

static struct {
	const struct sl_config *cfg;
	const struct router *rt;
	int listen_fd;
	struct slot *slots;
	int nslots;
	int stopping;
	long long stop_deadline;
} m;

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (write(sigpipe_fds[1], &b, 1) < 0) {
		/* The pipe is full: enough signals are already queued. */
	}
	errno = saved;
}

static int setup_signals(void)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	if (pipe2(sigpipe_fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

/*
 * Fork worker `i`.  Signals are blocked across fork so that the child
 * never runs the master's handler; the child resets them itself.
 */
static void spawn(int i)
{
	struct slot *s = &m.slots[i];
	sigset_t all, old;
	pid_t master = getpid(), pid;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(sigpipe_fds[0]);
		close(sigpipe_fds[1]);
		worker_main(m.cfg, m.rt, m.listen_fd, i + 1, master);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		log_msg(LOG_ERROR, "fork for worker %d: %s; retrying in 1s", i + 1, strerror(errno));
		s->respawn_ms = io_now_ms() + 1000;
		return;
	}
	s->pid = pid;
	s->started_ms = io_now_ms();
	s->respawn_ms = 0;
	log_msg(LOG_NOTICE, "worker %d (pid %d) started", i + 1, (int)pid);
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (SIG%s)%s", WTERMSIG(status),
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?",
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "ended with wait status %d", status);
}

/* Schedule the replacement of a worker that just exited. */
static void schedule_respawn(struct slot *s, long long now)
{
	if (now - s->started_ms < FAST_EXIT_SECONDS * 1000LL) {
		long long delay = 100LL << (s->fast_exits < 6 ? s->fast_exits : 6);

		if (delay > MAX_RESPAWN_DELAY_MS)
			delay = MAX_RESPAWN_DELAY_MS;
		s->fast_exits++;
		s->respawn_ms = now + delay;
		if (s->fast_exits > 1)
			log_msg(LOG_WARNING, "worker died %d times right after starting; "
				"next start in %lld ms", s->fast_exits, delay);
	} else {
		s->fast_exits = 0;
		s->respawn_ms = now;
	}
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		long long now = io_now_ms();
		char how[96];

		for (int i = 0; i < m.nslots; i++) {
			struct slot *s = &m.slots[i];

			if (s->pid != pid)
				continue;
			describe_exit(status, how, sizeof(how));
			log_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? LOG_NOTICE : LOG_WARNING,
				"worker %d (pid %d) %s after %lld ms", i + 1, (int)pid, how,
				now - s->started_ms);
			s->pid = 0;
			if (!m.stopping)
				schedule_respawn(s, now);
		}
	}
}

static int running(void)
{
	int n = 0;

	for (int i = 0; i < m.nslots; i++)
		n += m.slots[i].pid != 0;
	return n;
}

static void signal_workers(int sig)
{
	for (int i = 0; i < m.nslots; i++)
		if (m.slots[i].pid)
			kill(m.slots[i].pid, sig);
}

static void begin_stop(int sig)
{
	long long grace = sig == SIGINT ? FAST_STOP_MS : m.cfg->limits.shutdown_timeout * 1000LL;

	if (m.stopping)
		return;
	log_msg(LOG_NOTICE, "SIG%s received: stopping; workers finish the request in hand "
		"(up to %lld ms)", sigabbrev_np(sig), grace);
	m.stopping = 1;
	m.stop_deadline = io_now_ms() + grace;
	signal_workers(SIGTERM);
}

static void handle_signals(void)
{
	unsigned char buf[64];
	ssize_t n;

	while ((n = read(sigpipe_fds[0], buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == SIGCHLD)
				reap();
			else if (buf[i] == SIGHUP)
				log_msg(LOG_NOTICE, "SIGHUP received: reloading is not available "
					"in this version; ignoring");
			else
				begin_stop(buf[i]);
		}
}

/* Start every slot whose time has come; returns ms until the next one, or -1. */
static int spawn_due(void)
{
	long long now = io_now_ms(), next = -1;

	for (int i = 0; i < m.nslots && !m.stopping; i++) {
		struct slot *s = &m.slots[i];

		if (s->pid)
			continue;
		if (s->respawn_ms <= now)
			spawn(i);
		else if (next < 0 || s->respawn_ms < next)
			next = s->respawn_ms;
	}
	return next < 0 ? -1 : (int)(next - now);
}

static int poll_timeout(int respawn_in)
{
	long long left;

	if (!m.stopping)
		return respawn_in;
	left = m.stop_deadline - io_now_ms();
	return left < 0 ? 0 : (int)left;
}

int master_run(const struct sl_config *cfg, const struct router *rt, int listen_fd)
{
	struct pollfd p;

	m.cfg = cfg;
	m.rt = rt;
	m.listen_fd = listen_fd;
	m.nslots = cfg->pm.max_children;
	m.slots = calloc((size_t)m.nslots, sizeof(*m.slots));
	if (!m.slots || setup_signals() < 0) {
		log_msg(LOG_ERROR, "master: cannot start: %s", strerror(errno));
		return 1;
	}
	p = (struct pollfd){ .fd = sigpipe_fds[0], .events = POLLIN };
	while (!m.stopping || running() > 0) {
		int timeout = poll_timeout(spawn_due());

		if (m.stopping && timeout == 0) {
			log_msg(LOG_WARNING, "%d worker(s) still busy after the grace period; killing them",
				running());
			signal_workers(SIGKILL);
			m.stop_deadline = io_now_ms() + 60000;
		}
		if (poll(&p, 1, timeout) > 0)
			handle_signals();
	}
	listen_cleanup(&cfg->listen);
	log_msg(LOG_NOTICE, "stopped");
	free(m.slots);
	return 0;
}
