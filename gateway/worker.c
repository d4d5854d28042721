/*
 * worker.c - the worker's event loop.
 *
 * One epoll set holds the shared listening sockets, a signalfd, the
 * control socket to the master and every connection this worker holds.
 * A worker runs one handler at a time, and nothing else ever waits on a
 * peer: request heads and bodies (up to limits.body_buffer_size) are
 * received by this loop before a handler starts, and output a peer does
 * not take at once is queued and drained by this loop (conn.c), so a slow
 * or absent peer costs memory, never a worker.
 *
 * Kept-alive connections are not this worker's alone (handoff.h): the
 * master holds a duplicate of each, and this worker claims one in the
 * shared table before it reads it.  A connection it may no longer read
 * (taken while a handler ran long, or handed back on retiring) is simply
 * dropped from here; the master has given it to another worker.
 *
 * The request path is meant to be short: a kept-alive request costs
 * epoll_wait, one read and one writev, plus a compare-and-swap and a
 * store in shared memory; a new connection adds accept4 and close.
 *
 * Signals are blocked for good and read from a signalfd by this loop, so
 * that no signal sluice, an operator or systemd sends ever interrupts a
 * handler (no EINTR, no shortened sleep).  Only crash.c's fatal-signal
 * handlers and request_terminate_timeout's SIGUSR2 act asynchronously.
 */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "access.h"
#include "allow.h"
#include "config.h"
#include "conn.h"
#include "crash.h"
#include "dev/dev.h"
#include "handoff.h"
#include "io.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "proctitle.h"
#include "proto.h"
#include "request.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "stats.h"
#include "worker.h"

#define MAX_EVENTS 64

/* The RATE timer list is scanned at most this often. */
#define RATE_SCAN_MS 100

/* A cap or table-full line is logged at most once per this many ms. */
#define CAP_LOG_MS 10000

static struct {
	const struct sl_config *cfg;
	const struct worker_args *args;
	struct score *score;
	int owner;			/* our number in the kept table: index + 1 */
	int epfd;
	int sigfd;
	int ctl;			/* our end of the master's control pair, -1: none */
	int stop;			/* the signal that asked us to stop; 0: serving */
	int draining;
	int accepting;
	long long accept_resume_ms;	/* accepts paused after a failure until then; 0: not */
	long long accept_logged_ms;
	long long cap_logged_ms;
	long long table_logged_ms;
	long long rate_scan_ms;		/* next scan of the RATE list */
	unsigned taken_seen;		/* score->taken when we last looked */
	unsigned long long retire_at;	/* request count that asks for recycling; 0: never */
	struct sl_request req;
} w;

/* Markers for what an epoll event is about, besides connections and listeners. */
static char mark_signal, mark_ctl;

static void process(struct conn *c);
static void wait_conn(struct conn *c);

/* ---- Signals -------------------------------------------------------- */

/* A handler's children start with the mask they would have anywhere. */
static void unblock_in_child(void)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
}

/*
 * SIGTERM, SIGQUIT and SIGINT all mean: finish the request in hand, then
 * leave; SIGWINCH (nginx's "gracefully shut down workers") is the
 * master's "you are replaced": hand kept-alive connections back and
 * leave.  They and SIGCHLD are blocked and read from a signalfd, so a
 * handler never sees them.  SIGHUP, SIGUSR1 (an operator's log-rotation
 * habit, sent to every process of a unit) and SIGPIPE are ignored: an
 * ignored signal is dropped before it can interrupt a system call, and a
 * vanished peer is an EPIPE, not a death.  The crash and timeout signals
 * are crash.c's.
 */
static int setup_signals(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigset_t set;

	sigemptyset(&ign.sa_mask);
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGUSR1, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_SETMASK, &set, NULL);
	pthread_atfork(NULL, NULL, unblock_in_child);
	w.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return w.sigfd < 0 ? -1 : 0;
}

/*
 * Reap what handlers forked and left behind, so that no zombie piles up
 * under a worker.  A handler that waits for its own child still gets its
 * status, since it waits before this runs.
 */
static void on_signals(void)
{
	struct signalfd_siginfo si;

	while (read(w.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		} else if (!w.stop || si.ssi_signo != SIGWINCH) {
			w.stop = (int)si.ssi_signo;
		}
	}
}

/*
 * Become the configured user, for good: after initgroups, setgid and
 * setuid, PR_SET_NO_NEW_PRIVS keeps module code from regaining
 * privileges through a set-user-ID program it executes (it is set in
 * every worker, whoever runs the master).
 */
int worker_drop_privileges(const struct sl_config *cfg)
{
	struct passwd *pw;
	gid_t gid;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_msg(LOG_ERROR, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
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
 * The seccomp allow-list, after the privileges are dropped and the crash
 * handler is in place (it reports a forbidden call), and before any
 * module's init: module code never runs unfiltered.
 */
static int install_sandbox(const struct sl_config *cfg)
{
	char err[256];

	if (sandbox_install((const char *const *)cfg->seccomp_allow, cfg->nseccomp_allow, err,
			    sizeof(err)) < 0) {
		log_msg(LOG_ERROR, "%s", err);
		return -1;
	}
	return 0;
}

/* ---- Accepting ------------------------------------------------------ */

/*
 * Listening sockets are in the epoll set with EPOLLEXCLUSIVE, so that a
 * new connection wakes one worker, not the whole pool; their event data
 * points into the listener array.
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

static void maybe_resume_accepting(void)
{
	if (conn_count() < w.cfg->limits.max_conns && !w.accept_resume_ms)
		set_accepting(1);
}

/* ---- Kept connections (handoff.h) ----------------------------------- */

static int msg_master(int type, const struct conn *c, int fd)
{
	struct handoff_msg m = { .type = type, .slot = c->slot, .tag = c->tag,
				 .listener = c->listener };

	return w.ctl < 0 ? -1 : handoff_send(w.ctl, &m, fd);
}

/*
 * The first time a connection is kept alive, the master gets a duplicate
 * of it: from then on the connection outlives this process.  Costs one
 * message per connection, not per request.  A full table or a lost
 * message leaves the connection ours alone, as it always was.
 */
static void keep(struct conn *c)
{
	long long now;

	if (c->slot >= 0 || w.ctl < 0)
		return;
	c->slot = handoff_alloc(w.owner, &c->tag);
	if (c->slot >= 0 && msg_master(HM_KEPT, c, c->fd) == 0) {
		c->shared = 1;
		return;
	}
	if (c->slot >= 0)
		handoff_set(c->slot, c->tag, KEPT_MASTER, KEPT_FREE);
	c->slot = -1;
	now = io_now_ms();
	if (now - w.table_logged_ms >= CAP_LOG_MS) {
		log_msg(LOG_WARNING, "cannot share a kept-alive connection with the master "
			"(%s); it stays with this worker alone", errno ? strerror(errno) : "table full");
		w.table_logged_ms = now;
	}
}

/* Claim a kept connection before reading it: 0, or -1 when it was taken. */
static int claim(struct conn *c)
{
	if (c->held)
		return 0;
	if (handoff_claim(c->slot, c->tag, w.owner) < 0)
		return -1;
	c->held = 1;
	return 0;
}

static void leave_epoll(struct conn *c)
{
	if (c->in_epoll && c->shared)
		epoll_ctl(w.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->in_epoll = 0;
}

/* Forget a connection another process now holds: no shutdown, no message. */
static void drop(struct conn *c)
{
	leave_epoll(c);
	conn_put(c);
	maybe_resume_accepting();
}

/*
 * Close a connection for good.  A kept one is shut down (other processes
 * may hold duplicates, so close alone would not end it) and the master
 * told to drop its duplicate.  One we had released is claimed first, and
 * left alone if someone else has it now.
 */
static void close_conn(struct conn *c)
{
	if (c->slot < 0) {
		conn_put(c);
		maybe_resume_accepting();
		return;
	}
	if (claim(c) < 0) {
		drop(c);
		return;
	}
	leave_epoll(c);
	shutdown(c->fd, SHUT_RDWR);
	msg_master(HM_CLOSED, c, -1);
	conn_put(c);
	maybe_resume_accepting();
}

/*
 * Hand a connection that sits between requests to the master, who gives
 * it to another worker (we are leaving, or the master asked us to).
 */
static void give_back(struct conn *c)
{
	keep(c);
	if (c->slot < 0) {
		close_conn(c);
		return;
	}
	handoff_set(c->slot, c->tag, KEPT_MASTER, KEPT_IDLE);
	c->held = 0;
	if (msg_master(HM_RETURNED, c, -1) < 0)
		log_msg(LOG_WARNING, "cannot hand a connection back to the master: %s",
			strerror(errno));
	drop(c);
}

/*
 * Connections the master took while a handler ran long are not ours any
 * more: drop them.  One load per request tells whether to look.
 */
static void drop_taken(void)
{
	struct conn *c, *next;

	if (w.score->taken == w.taken_seen)
		return;
	w.taken_seen = w.score->taken;
	for (c = conn_first(); c; c = next) {
		struct kept k;

		next = c->all_next;
		if (c->slot < 0 || c->held)
			continue;
		k = handoff_peek(c->slot);
		if (k.owner != w.owner || k.tag != c->tag)
			drop(c);
	}
}

/* The master gives us a connection (HM_ADOPT). */
static void adopt(const struct handoff_msg *m, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c;

	if (fd < 0)
		return;
	if (m->listener < 0 || m->listener >= w.args->nlisteners ||
	    !(c = conn_get(fd, w.args->listeners[m->listener].proto, w.cfg))) {
		close(fd);
		return;
	}
	c->listener = m->listener;
	c->slot = m->slot;
	c->tag = m->tag;
	c->held = 0;
	c->shared = 1;
	c->requests = 1;
	ev.data.ptr = c;
	if (epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		conn_put(c);
		return;
	}
	c->in_epoll = 1;
	conn_timer_set(c, TIMER_IDLE, io_now_ms() + w.cfg->limits.idle_timeout * 1000LL);
}

/* The master reopened a log (SIGUSR1): its new descriptor replaces ours. */
static void reopened(const struct handoff_msg *m, int fd)
{
	if (m->slot == HL_ERROR_LOG)
		log_adopt(fd);
	else if (m->slot == HL_ACCESS_LOG)
		access_adopt(fd);
	else
		close(fd);
}

static void on_ctl(void)
{
	struct handoff_msg m;
	int fd, rc;

	while ((rc = handoff_recv(w.ctl, &m, &fd)) >= 1) {
		if (m.type == HM_ADOPT && !w.draining && fd >= 0)
			adopt(&m, fd);
		else if (m.type == HM_REOPEN && fd >= 0)
			reopened(&m, fd);
		else if (fd >= 0)
			close(fd);
		else if (m.type == HM_ADOPT)
			log_msg(LOG_ERROR, "a connection handed to this worker was lost: %s",
				strerror(errno));
	}
	if (rc < 0) {
		/* The master is gone: leave, like SIGTERM. */
		epoll_ctl(w.epfd, EPOLL_CTL_DEL, w.ctl, NULL);
		close(w.ctl);
		w.ctl = -1;
		if (!w.stop)
			w.stop = SIGTERM;
	}
}

/* ---- Waiting -------------------------------------------------------- */

static int in_epoll(struct conn *c, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	int op = c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (c->in_epoll && !!(events & EPOLLOUT) == c->want_out)
		return 0;
	if (epoll_ctl(w.epfd, op, c->fd, &ev) < 0) {
		log_msg(LOG_ERROR, "epoll_ctl: %s; closing the connection", strerror(errno));
		return -1;
	}
	c->in_epoll = 1;
	c->want_out = !!(events & EPOLLOUT);
	return 0;
}

/*
 * Before the worker turns to other connections, which read into the
 * shared buffer: this one's unparsed input moves to its own (conn_park).
 * -1 when memory for it is short, and the connection is closed.
 */
static int park(struct conn *c)
{
	if (conn_park(c) == 0)
		return 0;
	log_msg(LOG_ERROR, "out of memory for a connection's input; closing it");
	close_conn(c);
	return -1;
}

/*
 * A connection with nothing to do now waits on epoll under the timer its
 * phase calls for: between requests, the idle timeout (a new connection:
 * the head deadline from its accept); a head, its deadline from its first
 * byte, never extended; a body, read_timeout then limits.min_rate.  One
 * between requests is released in the kept table, or handed back when
 * this worker is leaving.
 */
static void wait_conn(struct conn *c)
{
	const struct sl_config *cfg = w.cfg;
	enum proto_phase ph = c->proto->phase(c);
	long long now = io_last_ms();	/* as in serve */

	if (ph == PHASE_IDLE && (w.draining || w.score->retiring) && c->requests > 0) {
		if (w.stop == SIGWINCH || (w.score->retiring && !w.draining))
			give_back(c);
		else
			close_conn(c);
		return;
	}
	if (park(c) < 0)
		return;
	if (ph == PHASE_IDLE && c->requests > 0) {
		conn_timer_set(c, TIMER_IDLE, now + cfg->limits.idle_timeout * 1000LL);
	} else if (ph != PHASE_BODY) {
		/* A head, or a new connection's first byte: one deadline. */
		if (c->timer != TIMER_HEAD)
			conn_timer_set(c, TIMER_HEAD, now + cfg->limits.read_timeout * 1000LL);
	} else {
		if (c->timer != TIMER_RATE)
			conn_xfer_start(c, c->rx, now);
		conn_timer_set(c, TIMER_RATE, conn_xfer_deadline(c, c->rx, cfg->limits.read_timeout));
	}
	if (ph == PHASE_IDLE) {
		/*
		 * Nothing buffered: release it, so that the master can give
		 * it to another worker if this one dies or gets stuck.  A new
		 * connection whose request has not come yet is shared too (it
		 * costs a message, but nginx writes right behind its connect,
		 * so this is rare): its request is in no worker's hands yet.
		 */
		if (c->requests == 0)
			keep(c);
		if (c->slot >= 0 && c->held) {
			handoff_set(c->slot, c->tag, w.owner, KEPT_IDLE);
			c->held = 0;
		}
	}
	if (in_epoll(c, EPOLLIN) < 0)
		close_conn(c);
}

/*
 * A connection answered before its body was all read (refused early, or
 * a bad body) is not closed at once: the peer may still be writing, and a
 * close would make its write fail before it reads the answer.  Our side
 * is shut down for writing, and the connection waits, its input read and
 * dropped, until the peer closes or LINGER_MS passes (nginx's lingering
 * close).  It costs a descriptor, not a worker.
 */
static void linger(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->lingering = 1;
	c->start = c->end = 0;
	conn_park(c);
	conn_timer_set(c, TIMER_RATE, io_now_ms() + LINGER_MS);
	if (in_epoll(c, EPOLLIN) < 0)
		close_conn(c);
}

/*
 * Read and drop what a lingering connection's peer still sends.  At most
 * 16 reads per wake-up, so that one peer's upload does not hold up the
 * other connections; the rest is read on the next wake-up, never left
 * unread behind a close (which would reset the peer before it has read
 * the answer).
 */
static void discard(struct conn *c)
{
	static unsigned char sink[16384];

	for (int i = 0; i < 16; i++) {
		ssize_t n = read(c->fd, sink, sizeof(sink));

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_conn(c);	/* the peer has closed, or the connection failed */
		return;
	}
}

/* ---- Serving -------------------------------------------------------- */

/* Wake the master: NOTIFY_WAKE on the pipe it reads workers' requests from. */
static void wake_master(void)
{
	static const int wake = NOTIFY_WAKE;

	if (w.args->notify_fd >= 0 && write(w.args->notify_fd, &wake, sizeof(wake)) < 0) {
		/* The pipe is full: the master has plenty to wake it. */
	}
}

/*
 * The master looks for stuck handlers often only while the pool is in
 * use (DOZE_AFTER_MS).  A request that starts while it dozes, in a worker
 * that holds other kept-alive connections, wakes it, once per doze: were
 * this handler to run long, those connections would otherwise wait for
 * the master's next tick before going to another worker.
 */
static void wake_dozing_master(void)
{
	int *dozing = &scoreboard_pool()->master_dozing;

	if (conn_count() < 2 || w.args->notify_fd < 0)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* SCORE_BUSY, then the flag: master.c */
	if (__atomic_load_n(dozing, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(dozing, 0, __ATOMIC_SEQ_CST))
		wake_master();
}

/*
 * The scoreboard sees every request start and end: plain stores, no
 * system call.  The busy title is set once the route is known
 * (request.c), which is before anything that can take time.
 */
static void score_busy(long long now)
{
	w.score->req_start_ms = now;
	memcpy(w.score->request_id, w.req.id, sizeof(w.score->request_id));
	w.score->state = SCORE_BUSY;
	wake_dozing_master();
}

static void score_idle(void)
{
	proctitle_set(w.draining ? "stopping" : "idle", NULL);
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
		w.stop = SIGTERM;
		return;
	}
	log_msg(LOG_INFO, "served %llu requests (pm.max_requests); asking for a replacement",
		w.req.served);
	if (write(w.args->notify_fd, &index, sizeof(index)) < 0)
		log_msg(LOG_WARNING, "cannot reach the master: %s", strerror(errno));
}

/* Output waits for the peer: drain it from the loop, under limits.min_rate. */
static void start_drain(struct conn *c, enum proto_end after)
{
	/* What the peer sent behind (a request, a body left unread) is
	 * kept with a connection that goes on: while it drains, the read
	 * buffer is the other connections'.  One that ends needs none of it. */
	if (after != END_KEEP)
		c->start = c->end;
	else if (c->end > c->start && park(c) < 0)
		return;
	c->after = (int)after;
	conn_xfer_start(c, c->sent, io_now_ms());
	conn_timer_set(c, TIMER_RATE, conn_xfer_deadline(c, c->sent, w.cfg->limits.write_timeout));
	if (in_epoll(c, EPOLLOUT) < 0)
		close_conn(c);
}

/* The response has left: 1 when the connection goes on serving. */
static int after_response(struct conn *c, enum proto_end end)
{
	if (end == END_CLOSE) {
		close_conn(c);
		return 0;
	}
	if (end == END_LINGER) {
		linger(c);
		return 0;
	}
	keep(c);
	return 1;
}

/* Run the request the codec has made ready; what becomes of the connection. */
static enum proto_end serve(struct conn *c)
{
	long long now = io_last_ms();	/* read when epoll_wait returned, or after the last request */
	enum proto_end end;

	if (c->timer != TIMER_RATE)
		conn_xfer_start(c, c->rx, now);
	conn_timer_set(c, TIMER_NONE, 0);
	c->requests++;
	score_busy(now);
	access_start();
	stats_start();
	request_run(&w.req);
	end = c->proto->finish(c, &w.req);
	access_write(&w.req);
	score_idle();
	maybe_ask_retire();
	drop_taken();
	return end;
}

/*
 * Parse and serve every request the buffer holds, then wait for more.
 * Pipelined requests are served in order without returning to epoll;
 * none is parsed while output for an earlier one still waits.
 */
static void process(struct conn *c)
{
	for (;;) {
		enum proto_rc rc = c->proto->parse(c, &w.req);
		enum proto_end end;

		if (rc == PROTO_AGAIN && conn_pending(c) > 0) {
			/* Management answers a peer does not read: stop reading it. */
			start_drain(c, END_KEEP);
			return;
		}
		if (rc == PROTO_AGAIN)
			break;
		if (rc == PROTO_CLOSE) {
			close_conn(c);
			return;
		}
		end = serve(c);
		if (w.req.client_gone) {
			/* Gone, or cut for taking the response too slowly:
			 * what is still queued is for nobody. */
			close_conn(c);
			return;
		}
		if (conn_pending(c) > 0) {
			start_drain(c, end);
			return;
		}
		if (!after_response(c, end))
			return;
		if (c->start == c->end)
			break;
	}
	wait_conn(c);
}

static void on_writable(struct conn *c)
{
	if (conn_drain(c) < 0) {
		log_msg(LOG_INFO, "client gone while its response was queued (%s)", strerror(errno));
		close_conn(c);
		return;
	}
	if (conn_pending(c) > 0) {
		conn_timer_set(c, TIMER_RATE,
			       conn_xfer_deadline(c, c->sent, w.cfg->limits.write_timeout));
		return;
	}
	if (in_epoll(c, EPOLLIN) < 0) {
		close_conn(c);
		return;
	}
	if (after_response(c, (enum proto_end)c->after))
		process(c);
}

static void on_readable(struct conn *c)
{
	ssize_t n;

	if (c->lingering) {
		discard(c);
		return;
	}
	if (claim(c) < 0) {
		drop(c);
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
	if (c->proto->phase(c) != PHASE_IDLE)
		log_msg(LOG_INFO, "peer closed the connection in the middle of a request%s%s",
			n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
	close_conn(c);
}

static void on_conn(struct conn *c, unsigned events)
{
	if (c->dead)
		return;		/* let go of earlier in this batch */
	if (c->want_out) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			on_writable(c);
		return;
	}
	on_readable(c);
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

/* The worker holds limits.max_conns: it stops accepting, and says so. */
static void at_cap(void)
{
	long long now = io_now_ms();

	set_accepting(0);
	if (now - w.cap_logged_ms >= CAP_LOG_MS) {
		log_msg(LOG_WARNING, "holding limits.max_conns (%d) connections; not accepting "
			"more until one closes", w.cfg->limits.max_conns);
		w.cap_logged_ms = now;
	}
}

/*
 * listen.allowed_clients: a peer the listener's list does not name is
 * closed before a byte of it is read, logged (rate-limited) and counted
 * in the pool's status.  Listeners line up with the config's listen list;
 * mod_fcgid's inherited socket has no entry and no list.
 */
static int admitted(const struct listener *l, const struct sockaddr *peer)
{
	int i = (int)(l - w.args->listeners);

	if (i >= w.cfg->nlisten || allow_match(&w.cfg->listen[i].allowed, peer))
		return 1;
	allow_log_refused(l->address, peer);
	__atomic_add_fetch(&scoreboard_pool()->refused_clients, 1, __ATOMIC_RELAXED);
	return 0;
}

static void accept_one(const struct listener *l)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct conn *c;
	int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		/* EAGAIN: another worker took it. */
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			accept_failed();
		return;
	}
	if (!admitted(l, (struct sockaddr *)&peer)) {
		close(fd);
		return;
	}
	c = conn_get(fd, l->proto, w.cfg);
	if (!c) {
		log_msg(LOG_ERROR, "out of memory for a connection; closing it");
		close(fd);
		return;
	}
	c->listener = (int)(l - w.args->listeners);
	if (conn_count() >= w.cfg->limits.max_conns)
		at_cap();
	/* A retiring worker woken for a new connection passes it on unread. */
	if (w.score->retiring && w.ctl >= 0) {
		give_back(c);
		return;
	}
	conn_timer_set(c, TIMER_HEAD, io_now_ms() + w.cfg->limits.read_timeout * 1000LL);
	on_readable(c);
}

/* ---- Timers --------------------------------------------------------- */

/* Milliseconds until `deadline` or the next timer, whichever is first; -1: none. */
static int next_timeout(long long deadline)
{
	long long next = deadline, now = io_last_ms();	/* after the last events */

	if (w.accept_resume_ms && (next < 0 || w.accept_resume_ms < next))
		next = w.accept_resume_ms;
	for (int t = TIMER_IDLE; t <= TIMER_HEAD; t++) {
		struct conn *c = conn_timer_first(t);

		if (c && (next < 0 || c->deadline_ms < next))
			next = c->deadline_ms;
	}
	if (conn_timer_first(TIMER_RATE) && (next < 0 || w.rate_scan_ms < next))
		next = w.rate_scan_ms;
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/* Why a connection on the RATE list ran out of time. */
static void rate_expired(struct conn *c)
{
	if (c->lingering) {
		close_conn(c);
		return;
	}
	if (c->want_out)
		log_msg(LOG_WARNING, "response taken slower than limits.min_rate (%lld bytes/s "
			"after limits.write_timeout %ds); closing the connection",
			w.cfg->limits.min_rate, w.cfg->limits.write_timeout);
	else
		log_msg(LOG_WARNING, "request body slower than limits.min_rate (%lld bytes/s "
			"after limits.read_timeout %ds); closing the connection",
			w.cfg->limits.min_rate, w.cfg->limits.read_timeout);
	close_conn(c);
}

static void expire_timers(void)
{
	long long now = io_last_ms();
	struct conn *c, *next;

	while ((c = conn_timer_first(TIMER_IDLE)) && c->deadline_ms <= now)
		close_conn(c);
	while ((c = conn_timer_first(TIMER_HEAD)) && c->deadline_ms <= now) {
		log_msg(LOG_WARNING, "request head not received within limits.read_timeout "
			"(%ds); closing the connection", w.cfg->limits.read_timeout);
		close_conn(c);
	}
	if (now < w.rate_scan_ms)
		return;
	w.rate_scan_ms = now + RATE_SCAN_MS;
	for (c = conn_timer_first(TIMER_RATE); c; c = next) {
		next = c->next;
		if (c->deadline_ms <= now)
			rate_expired(c);
	}
}

/* ---- The loop ------------------------------------------------------- */

/* One round of the event loop, waiting at most until `deadline` (-1: timers only). */
static void run_once(long long deadline)
{
	struct epoll_event ev[MAX_EVENTS];
	int n = -1;

	/* Access log lines leave before the worker waits: nothing is ready. */
	if (access_pending() && (n = epoll_wait(w.epfd, ev, MAX_EVENTS, 0)) == 0)
		access_flush();
	if (n <= 0)
		n = epoll_wait(w.epfd, ev, MAX_EVENTS, next_timeout(deadline));

	if (n < 0 && errno != EINTR) {
		log_msg(LOG_ERROR, "epoll_wait: %s", strerror(errno));
		exit(1);
	}
	/* The one clock read of a round that serves nothing: what runs
	 * below takes its time from here, or from the end of the last
	 * request served (score_idle), never from before the wait. */
	io_now_ms();
	for (int i = 0; i < n; i++) {
		void *p = ev[i].data.ptr;

		if (p == &mark_signal)
			on_signals();
		else if (p == &mark_ctl)
			on_ctl();
		else if (is_listener(p))
			w.accepting ? accept_one(p) : (void)0;
		else
			on_conn(p, ev[i].events);
	}
	expire_timers();
	conn_bury();
	if (w.accept_resume_ms && io_now_ms() >= w.accept_resume_ms) {
		w.accept_resume_ms = 0;
		maybe_resume_accepting();
	}
}

/*
 * Every connection that sits between requests, with nothing buffered and
 * nothing queued, is handed back (replaced: another worker serves it
 * next) or closed (stopping).
 */
static void let_go_idle(int replaced)
{
	struct conn *c, *next;

	for (c = conn_first(); c; c = next) {
		next = c->all_next;
		if (c->lingering || c->want_out || c->proto->phase(c) != PHASE_IDLE)
			continue;
		if (replaced && w.ctl >= 0)
			give_back(c);
		else if (c->requests > 0)
			close_conn(c);
	}
}

/*
 * Leave gracefully.  Stop accepting and let go of the listening sockets
 * (so that once every worker has, a new master can bind the path again).
 * Replaced (SIGWINCH: a reload or a recycle, the pool serves on): every
 * connection between requests goes back to the master, which gives it to
 * a worker of the new generation, so nothing is closed while the web
 * server may be writing to it; requests in progress are finished first,
 * bounded by their own deadlines and limits.shutdown_timeout.  Stopping
 * (SIGTERM and friends): kept-alive connections are closed, and new ones
 * get DRAIN_FRESH_MS to send the request they were opened for.
 */
static void drain(void)
{
	int replaced = w.stop == SIGWINCH && w.ctl >= 0;
	long long deadline = io_now_ms() +
		(replaced ? w.cfg->limits.shutdown_timeout * 1000LL : DRAIN_FRESH_MS);

	w.draining = 1;
	w.score->state = SCORE_STOPPING;
	proctitle_set("stopping", NULL);
	set_accepting(0);
	for (int i = 0; i < w.args->nlisteners; i++)
		close(w.args->listeners[i].fd);
	let_go_idle(replaced);
	while (conn_count() > 0 && io_now_ms() < deadline)
		run_once(deadline);
	/* A request that arrived as time ran out is served, not cut off. */
	if (conn_count() > 0)
		run_once(0);
	let_go_idle(replaced);
}

static void loop(void)
{
	while (!w.stop)
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

static int watch(int fd, void *mark)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = mark };

	return epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev);
}

/*
 * Leave when the master dies, whatever killed it.  Set after the switch
 * of user: the kernel clears the parent-death signal when credentials
 * change, and a worker running as www-data would otherwise serve on
 * under PID 1.  SIGTERM arrives through the signalfd: the request in
 * hand is finished first.
 */
static void follow_master(pid_t master)
{
	if (!master)
		return;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		exit(0);
}

void worker_main(const struct worker_args *args)
{
	const struct sl_config *cfg = &args->gen->cfg;
	char ident[64];

	const char *pool = cfg->pool ? cfg->pool : "";
	const char *sep = cfg->pool ? " " : "";

	snprintf(ident, sizeof(ident), "%s%sworker %d (pid %d)", pool, sep, args->index + 1,
		 (int)getpid());
	log_set_ident(ident);
	if (args->master) {
		snprintf(ident, sizeof(ident), "sluice: %s%sworker %d ", pool, sep,
			 args->index + 1);
		proctitle_prefix(ident);
	}
	proctitle_set("starting", NULL);
	w.cfg = cfg;
	w.args = args;
	w.owner = args->index + 1;
	w.ctl = args->ctl_fd;
	w.score = scoreboard_slot(args->index);
	stats_worker(w.score, &args->gen->router, args->gen->route_stats);
	access_worker(args->index);
	w.taken_seen = w.score->taken;
	srandom((unsigned)getpid() ^ (unsigned)io_now_ms());
	w.retire_at = retire_point(cfg);
	if (setup_signals() < 0 || worker_drop_privileges(cfg) < 0)
		exit(2);
	follow_master(args->master);
	if (crash_init(args->index, w.ctl) < 0 || conn_init() < 0 ||
	    request_init(&w.req, cfg, &args->gen->router) < 0) {
		log_msg(LOG_ERROR, "cannot start: %s", strerror(errno));
		exit(2);
	}
	if (cfg->seccomp && install_sandbox(cfg) < 0)
		exit(2);
	/* In development mode a failed init leaves the worker serving a page
	 * that says why (dev.h); otherwise it exits, and the master backs off. */
	dev_init_begin();
	if (dev_init_end(&args->gen->modules, module_init_all(&args->gen->modules)) < 0)
		exit(3);
	w.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w.epfd < 0 || watch(w.sigfd, &mark_signal) < 0 ||
	    (w.ctl >= 0 && watch(w.ctl, &mark_ctl) < 0)) {
		log_msg(LOG_ERROR, "epoll: %s", strerror(errno));
		exit(2);
	}
	set_accepting(1);
	w.score->idle_since_ms = io_now_ms();
	w.score->state = SCORE_IDLE;
	/* Ready: a reload or a replacement waiting for this worker goes on
	 * at once instead of at the master's next look. */
	wake_master();
	proctitle_set("idle", NULL);
	loop();
	drain();
	access_flush();
	module_fini_all(&args->gen->modules);
	exit(0);
}
