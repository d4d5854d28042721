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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "crash.h"
#include "io.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "proto.h"
#include "request.h"
#include "scoreboard.h"
#include "worker.h"

#define MAX_EVENTS 64

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t child_exited;

static struct {
	const struct sl_config *cfg;
	const struct worker_args *args;
	struct score *score;
	int epfd;
	int accepting;
	long long accept_resume_ms;	/* accepts paused after a failure until then; 0: not */
	long long accept_logged_ms;
	int draining;			/* stopping: serve what is pending, then leave */
	unsigned long long retire_at;	/* request count that asks for recycling; 0: never */
	struct sl_request req;
} w;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_child(int sig)
{
	(void)sig;
	child_exited = 1;
}

/*
 * Reap what handlers forked and left behind, so that no zombie piles up
 * under a worker.  Only when SIGCHLD said so: the request path pays no
 * system call for it.  A handler that waits for its own child still gets
 * its status, since it waits before this runs.
 */
static void reap_children(void)
{
	child_exited = 0;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * SIGTERM, SIGQUIT and SIGINT all mean: finish the request in hand, then
 * leave; SIGWINCH (nginx's "gracefully shut down workers") is the
 * master's "you are replaced", which leaves more gently (see drain).  SA_RESTART spares handlers EINTR; epoll_wait is never
 * restarted, so the loop still sees the flag at once.  SIGPIPE stays
 * ignored: a vanished peer is an EPIPE, not a death.  The crash and
 * timeout signals are crash.c's.
 */
static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop, .sa_flags = SA_RESTART };
	sigset_t all;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
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

/*
 * Listening sockets are in the epoll set with EPOLLEXCLUSIVE, so that a
 * new connection wakes one worker, not the whole pool; their event data
 * points into the listener array, a connection's at its struct conn.
 */
static int is_listener(const void *p)
{
	const struct listener *l = p;

	return l >= w.args->listeners && l < w.args->listeners + w.args->nlisteners;
}

static void set_accepting(int on)
{
	if (on == w.accepting || (on && w.draining))
		return;
	for (int i = 0; i < w.args->nlisteners; i++) {
		const struct listener *l = &w.args->listeners[i];
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
					  .data.ptr = (void *)(uintptr_t)l };

		if (on)
			epoll_ctl(w.epfd, EPOLL_CTL_ADD, l->fd, &ev);
		else
			epoll_ctl(w.epfd, EPOLL_CTL_DEL, l->fd, NULL);
	}
	w.accepting = on;
}

static void close_conn(struct conn *c)
{
	conn_put(c);
	if (conn_count() < w.cfg->limits.max_conns && !w.accept_resume_ms)
		set_accepting(1);
}

/*
 * A connection with nothing to do now waits on epoll under a timer.
 * While draining, a kept-alive connection is closed between requests
 * instead (see drain for when).
 */
static void wait_conn(struct conn *c)
{
	const struct sl_config *cfg = w.cfg;
	long long now = io_now_ms();
	int pending = c->st.phase != 0 || c->end > c->start;

	if (w.draining && !pending && c->requests > 0 &&
	    (stop_signal != SIGWINCH || c->requests > c->drain_mark)) {
		close_conn(c);
		return;
	}
	if (pending)
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
 * A connection whose request was answered before its body was all read
 * (refused early, or a bad body) is not closed at once: the peer may
 * still be writing, and a close would make its write fail before it
 * reads the answer.  Our side is shut down for writing (the peer sees the
 * end of the answer), and the connection waits on epoll, its input read
 * and dropped, until the peer closes or LINGER_MS passes (nginx's
 * lingering close).  It costs a descriptor, not a worker.
 */
static void linger(struct conn *c)
{
	/* Our side is done: the peer reads the end of the answer now. */
	shutdown(c->fd, SHUT_WR);
	c->lingering = 1;
	c->start = c->end = 0;
	conn_timer_set(c, TIMER_READ, io_now_ms() + LINGER_MS);
	if (!c->in_epoll) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (epoll_ctl(w.epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
			close_conn(c);
			return;
		}
		c->in_epoll = 1;
	}
}

/* Read and drop what a lingering connection's peer still sends. */
static void discard(struct conn *c)
{
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(c->fd, c->in, CONN_INBUF_SIZE);

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		break;
	}
	close_conn(c);
}

/* The scoreboard sees every request start and end: plain stores, no system call. */
static void score_busy(void)
{
	w.score->req_start_ms = io_now_ms();
	memcpy(w.score->request_id, w.req.id, sizeof(w.score->request_id));
	w.score->state = SCORE_BUSY;
}

static void score_idle(void)
{
	w.score->idle_since_ms = io_now_ms();
	w.score->requests = w.req.served;
	w.score->state = w.draining ? SCORE_STOPPING : SCORE_IDLE;
}

/*
 * Past its pm.max_requests (plus jitter), a worker asks the master for a
 * replacement and serves on; the master stops it once the replacement is
 * ready, so that the pool never has a worker less.
 */
static void maybe_ask_retire(void)
{
	int index = w.args->index;

	if (!w.retire_at || w.req.served < w.retire_at)
		return;
	w.retire_at = 0;
	if (w.args->notify_fd < 0) {
		/* No master to replace us (mod_fcgid starts the next one): leave. */
		stop_signal = SIGTERM;
		return;
	}
	log_msg(LOG_INFO, "served %llu requests (pm.max_requests); asking for a replacement",
		w.req.served);
	if (write(w.args->notify_fd, &index, sizeof(index)) < 0)
		log_msg(LOG_WARNING, "cannot reach the master: %s", strerror(errno));
}

/*
 * Parse and serve every request the buffer holds, then wait for more.
 * Pipelined requests are served in order without returning to epoll.
 */
static void process(struct conn *c)
{
	enum request_end end;

	for (;;) {
		enum proto_rc rc = c->proto->parse(c, &w.req);

		if (rc == PROTO_AGAIN)
			break;
		if (rc == PROTO_CLOSE) {
			close_conn(c);
			return;
		}
		conn_timer_set(c, TIMER_NONE, 0);
		c->requests++;
		score_busy();
		end = request_run(&w.req);
		score_idle();
		maybe_ask_retire();
		if (end == REQUEST_CLOSE) {
			close_conn(c);
			return;
		}
		if (end == REQUEST_LINGER) {
			linger(c);
			return;
		}
		if (c->start == c->end)
			break;
	}
	wait_conn(c);
}

static void on_readable(struct conn *c)
{
	ssize_t n;

	if (c->lingering) {
		discard(c);
		return;
	}
	n = conn_fill(c);

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

/*
 * accept failed for want of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM):
 * the connection is still in the backlog and the listening socket still
 * readable, so retrying at once would spin.  Stop accepting for a moment
 * (the connection waits in the backlog, or another worker takes it) and
 * log it at most once a second.
 */
static void accept_failed(void)
{
	long long now = io_now_ms();

	if (now - w.accept_logged_ms >= 1000) {
		log_msg(LOG_ERROR, "accept: %s; pausing accepts for %d ms", strerror(errno),
			ACCEPT_PAUSE_MS);
		w.accept_logged_ms = now;
	}
	set_accepting(0);
	w.accept_resume_ms = now + ACCEPT_PAUSE_MS;
}

static void accept_one(const struct listener *l)
{
	struct conn *c;
	int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		/* EAGAIN: another worker took it. */
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			accept_failed();
		return;
	}
	c = conn_get(fd, l->proto, w.cfg);
	if (!c) {
		log_msg(LOG_ERROR, "out of memory for a connection; closing it");
		close(fd);
		return;
	}
	if (conn_count() >= w.cfg->limits.max_conns)
		set_accepting(0);
	on_readable(c);
}

/* Milliseconds until `deadline` or the next timer, whichever is first; -1: none. */
static int next_timeout(long long deadline)
{
	long long next = deadline, now = io_now_ms();

	if (w.accept_resume_ms && (next < 0 || w.accept_resume_ms < next))
		next = w.accept_resume_ms;
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
		if (!c->lingering)
			log_msg(LOG_WARNING, "request not received within limits.read_timeout "
				"(%ds); closing the connection", w.cfg->limits.read_timeout);
		close_conn(c);
	}
}

/* One round of the event loop, waiting at most until `deadline` (-1: timers only). */
static void run_once(long long deadline)
{
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(w.epfd, ev, MAX_EVENTS, next_timeout(deadline));

	if (n < 0 && errno != EINTR) {
		log_msg(LOG_ERROR, "epoll_wait: %s", strerror(errno));
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		if (!is_listener(ev[i].data.ptr))
			on_readable(ev[i].data.ptr);
		else if (w.accepting)
			accept_one(ev[i].data.ptr);
	}
	expire_timers();
	if (w.accept_resume_ms && io_now_ms() >= w.accept_resume_ms) {
		w.accept_resume_ms = 0;
		if (conn_count() < w.cfg->limits.max_conns)
			set_accepting(1);
	}
	if (child_exited)
		reap_children();
}

/* Close every kept-alive connection that sits between two requests. */
static void close_idle(void)
{
	struct conn *c = conn_timer_first(TIMER_IDLE), *next;

	for (; c; c = next) {
		next = c->next;
		if (c->requests > 0)
			close_conn(c);
	}
}

static void mark_drain(struct conn *c)
{
	c->drain_mark = c->requests;
}

/*
 * Leave gracefully: stop accepting and let go of the listening socket (so
 * that once every worker has, a new master can bind the path again), close
 * kept-alive connections between requests, and give connections that
 * were accepted but have not sent their request yet a moment to do so.
 * Requests already received are served; the master's shutdown timeout
 * bounds the whole.
 */
static void drain(void)
{
	long long deadline = io_now_ms() + DRAIN_FRESH_MS;

	w.draining = 1;
	w.score->state = SCORE_STOPPING;
	set_accepting(0);
	for (int i = 0; i < w.args->nlisteners; i++)
		close(w.args->listeners[i].fd);
	/*
	 * Replaced (SIGWINCH: a reload or a recycle, the pool serves on):
	 * keep the kept-alive connections a while and close each right after
	 * the response to its next request, so that nginx reads our end of
	 * the connection together with the answer and does not reuse it.
	 * Closing one between requests instead races with a request nginx
	 * may be writing to it at that moment: nginx retries that request
	 * only when it is idempotent.  Stopping (SIGTERM and friends): close
	 * them now.
	 */
	if (stop_signal == SIGWINCH) {
		deadline = io_now_ms() + DRAIN_KEPT_MS;
		conn_each(mark_drain);
	} else {
		close_idle();
	}
	while (conn_count() > 0 && io_now_ms() < deadline)
		run_once(deadline);
	/* A request that arrived as time ran out is served, not cut off. */
	if (conn_count() > 0)
		run_once(0);
}

static void loop(void)
{
	while (!stop_signal)
		run_once(-1);
}

/* A worker's own recycling point: max_requests plus its share of jitter. */
static unsigned long long retire_point(const struct sl_config *cfg)
{
	unsigned jitter = 0;

	if (cfg->pm.max_requests <= 0)
		return 0;
	if (cfg->pm.max_requests_jitter > 0)
		jitter = (unsigned)random() % (unsigned)(cfg->pm.max_requests_jitter + 1);
	return (unsigned long long)cfg->pm.max_requests + jitter;
}

void worker_main(const struct worker_args *args)
{
	const struct sl_config *cfg = &args->gen->cfg;
	char ident[64];

	snprintf(ident, sizeof(ident), "worker %d (pid %d)", args->index + 1, (int)getpid());
	log_set_ident(ident);
	setup_signals();
	/* Leave when the master dies, whatever killed it. */
	if (args->master) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != args->master)
			exit(0);
	}
	w.cfg = cfg;
	w.args = args;
	w.score = scoreboard_slot(args->index);
	srandom((unsigned)getpid() ^ (unsigned)io_now_ms());
	w.retire_at = retire_point(cfg);
	if (drop_privileges(cfg) < 0)
		exit(2);
	if (crash_init(args->index, args->slowlog_fd) < 0 ||
	    request_init(&w.req, cfg, &args->gen->router) < 0) {
		log_msg(LOG_ERROR, "cannot start: %s", strerror(errno));
		exit(2);
	}
	if (module_init_all(&args->gen->modules) < 0)
		exit(3);
	w.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w.epfd < 0) {
		log_msg(LOG_ERROR, "epoll_create1: %s", strerror(errno));
		exit(2);
	}
	set_accepting(1);
	w.score->idle_since_ms = io_now_ms();
	w.score->state = SCORE_IDLE;
	loop();
	drain();
	module_fini_all(&args->gen->modules);
	exit(0);
}
