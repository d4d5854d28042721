/*
 * worker.c - the worker's event loop.
 *
 * One epoll set holds the shared listening socket and every connection
 * this worker has accepted.  A worker runs one request at a time, but it
 * serves whichever of its connections has a request: an idle kept-alive
 * connection costs a file descriptor, never a worker.  The listening
 * socket is registered with EPOLLEXCLUSIVE so that a new connection wakes
 * one worker, not the whole pool.
 *
 * The request path is meant to be short: a kept-alive request costs
 * epoll_wait, one read and one writev; a new connection adds accept4 and
 * close (the first read is tried at once, since nginx sends the request
 * right behind its connect).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "io.h"
#include "log.h"
#include "module.h"
#include "proto.h"
#include "request.h"
#include "worker.h"

#define MAX_EVENTS 64

static volatile sig_atomic_t stop_signal;

static struct {
	const struct sl_config *cfg;
	int listen_fd;
	int epfd;
	int accepting;
	struct sl_request req;
} w;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/*
 * SIGTERM, SIGQUIT and SIGINT all mean: finish the request in hand, then
 * leave.  SA_RESTART spares handlers EINTR; epoll_wait is never
 * restarted, so the loop still sees the flag at once.  SIGPIPE
 * stays ignored (inherited): a vanished peer is an EPIPE, not a death.
 */
static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop, .sa_flags = SA_RESTART };
	sigset_t all;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
}

/* Become the configured user and group; only possible when started as root. */
static int drop_privileges(const struct sl_config *cfg)
{
	struct passwd *pw;
	gid_t gid;

	if (!cfg->user || geteuid() != 0)
		return 0;
	pw = getpwnam(cfg->user);
	if (!pw) {
		log_msg(LOG_ERROR, "user \"%s\" does not exist", cfg->user);
		return -1;
	}
	gid = pw->pw_gid;
	if (cfg->group) {
		struct group *gr = getgrnam(cfg->group);

		if (!gr) {
			log_msg(LOG_ERROR, "group \"%s\" does not exist", cfg->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (initgroups(cfg->user, gid) < 0 || setgid(gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_msg(LOG_ERROR, "cannot become user %s: %s", cfg->user, strerror(errno));
		return -1;
	}
	return 0;
}

static void set_accepting(int on)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL };

	if (on == w.accepting)
		return;
	if (on)
		epoll_ctl(w.epfd, EPOLL_CTL_ADD, w.listen_fd, &ev);
	else
		epoll_ctl(w.epfd, EPOLL_CTL_DEL, w.listen_fd, NULL);
	w.accepting = on;
}

static void close_conn(struct conn *c)
{
	conn_put(c);
	if (!stop_signal && conn_count() < w.cfg->limits.max_conns)
		set_accepting(1);
}

/* A connection with nothing to do now waits on epoll under a timer. */
static void wait_conn(struct conn *c)
{
	const struct sl_config *cfg = w.cfg;
	long long now = io_now_ms();

	if (c->st.phase != 0 || c->end > c->start)
		conn_timer_set(c, TIMER_READ, now + cfg->limits.read_timeout * 1000LL);
	else
		conn_timer_set(c, TIMER_IDLE, now + cfg->limits.idle_timeout * 1000LL);
	if (!c->in_epoll) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (epoll_ctl(w.epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
			log_msg(LOG_ERROR, "epoll_ctl: %s; closing the connection", strerror(errno));
			close_conn(c);
			return;
		}
		c->in_epoll = 1;
	}
}

/*
 * Parse and serve every request the buffer holds, then wait for more.
 * Pipelined requests are served in order without returning to epoll.
 */
static void process(struct conn *c)
{
	for (;;) {
		enum proto_rc rc = c->proto->parse(c, &w.req);

		if (rc == PROTO_AGAIN)
			break;
		if (rc == PROTO_CLOSE) {
			close_conn(c);
			return;
		}
		conn_timer_set(c, TIMER_NONE, 0);
		if (request_run(&w.req) < 0) {
			close_conn(c);
			return;
		}
		if (c->start == c->end)
			break;
	}
	wait_conn(c);
}

static void on_readable(struct conn *c)
{
	ssize_t n = conn_fill(c);

	if (n > 0) {
		process(c);
		return;
	}
	if (n < 0 && errno == EAGAIN) {
		wait_conn(c);
		return;
	}
	if (c->st.phase != 0 || c->end > c->start)
		log_msg(LOG_INFO, "peer closed the connection in the middle of a request%s%s",
			n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
	close_conn(c);
}

static void accept_one(void)
{
	struct conn *c;
	int fd = accept4(w.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		/* EAGAIN: another worker took it.  EMFILE and friends: logged,
		 * and the connection waits in the backlog for a free slot. */
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_msg(LOG_ERROR, "accept: %s", strerror(errno));
		return;
	}
	c = conn_get(fd, &proto_fcgi, w.cfg);
	if (!c) {
		log_msg(LOG_ERROR, "out of memory for a connection; closing it");
		close(fd);
		return;
	}
	if (conn_count() >= w.cfg->limits.max_conns)
		set_accepting(0);
	on_readable(c);
}

/* Milliseconds until the next timer expires, -1 if none. */
static int next_timeout(void)
{
	long long next = -1, now = io_now_ms();

	for (int t = TIMER_IDLE; t <= TIMER_READ; t++) {
		struct conn *c = conn_timer_first(t);

		if (c && (next < 0 || c->deadline_ms < next))
			next = c->deadline_ms;
	}
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void expire_timers(void)
{
	long long now = io_now_ms();
	struct conn *c;

	while ((c = conn_timer_first(TIMER_IDLE)) && c->deadline_ms <= now)
		close_conn(c);
	while ((c = conn_timer_first(TIMER_READ)) && c->deadline_ms <= now) {
		log_msg(LOG_WARNING, "request not received within limits.read_timeout (%ds); "
			"closing the connection", w.cfg->limits.read_timeout);
		close_conn(c);
	}
}

static void loop(void)
{
	const struct sl_config *cfg = w.cfg;
	struct epoll_event ev[MAX_EVENTS];

	while (!stop_signal) {
		int n = epoll_wait(w.epfd, ev, MAX_EVENTS, next_timeout());

		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERROR, "epoll_wait: %s", strerror(errno));
			return;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr)
				on_readable(ev[i].data.ptr);
			else if (w.accepting)
				accept_one();
		}
		expire_timers();
		if (cfg->pm.max_requests > 0 && w.req.served >= (unsigned long long)cfg->pm.max_requests) {
			log_msg(LOG_NOTICE, "served pm.max_requests (%d) requests; recycling",
				cfg->pm.max_requests);
			return;
		}
	}
}

void worker_main(const struct sl_config *cfg, const struct router *rt, int listen_fd,
		 int slot, pid_t master)
{
	char ident[64];

	snprintf(ident, sizeof(ident), "worker %d (pid %d)", slot, (int)getpid());
	log_set_ident(ident);
	setup_signals();
	/* Leave when the master dies, whatever killed it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		exit(0);
	w.cfg = cfg;
	w.listen_fd = listen_fd;
	if (drop_privileges(cfg) < 0)
		exit(2);
	if (request_init(&w.req, cfg, rt) < 0) {
		log_msg(LOG_ERROR, "out of memory at start");
		exit(2);
	}
	if (module_init_all() < 0)
		exit(3);
	w.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w.epfd < 0) {
		log_msg(LOG_ERROR, "epoll_create1: %s", strerror(errno));
		exit(2);
	}
	set_accepting(1);
	loop();
	module_fini_all();
	exit(0);
}
