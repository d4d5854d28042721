/*
 * pools.c - the master of several pools.  See pools.h.
 *
 * Like master.c, signal handlers only write the signal number to a
 * self-pipe and the loop does the work.  A pool's master is this process
 * forked, not exec'ed: it reads its pool from the same file (config.c
 * lays the pool over the top level) and runs master_run as a config
 * without pools would.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "pools.h"
#include "proctitle.h"
#include "selfpipe.h"
#include "systemd.h"

/* A pool master that lived less than this before dying died at start. */
#define FAST_DEATH_MS		10000
/* The delay before starting it again doubles from this, up to the max. */
#define RESTART_DELAY_MS	500
#define MAX_RESTART_DELAY_MS	30000
/*
 * At start, systemd is told the service is ready when every pool serves,
 * or this long after the start if one does not (a module whose workers
 * die at start): the others serve meanwhile, and waiting longer would
 * only have systemd fail them all.
 */
#define READY_WAIT_MS		10000
/* A pool master that does not leave this long after SIGTERM is killed. */
#define STOP_GRACE_EXTRA_MS	5000

struct pool {
	char name[POOL_NAME_MAX + 1];
	pid_t pid;			/* its master; 0: not running */
	int ready;			/* said READY=1 since its start or last reload */
	int removed;			/* gone from the file: stopped, not restarted */
	int back;			/* start again as soon as its master has left */
	long long started_ms;
	long long restart_ms;		/* start it again then; 0: none due */
	int fast_deaths;		/* in a row, each soon after its start */
	char status[96];		/* its last STATUS= */
	struct listener ls[MAX_LISTEN + 1];	/* its sockets, bound here */
	int nls;
	long long grace_ms;		/* its limits.shutdown_timeout */
};

static struct {
	const char *file;
	pool_main_fn pool_main;
	struct pool pools[MAX_POOLS];
	int n;
	int notify_fd;			/* the pool masters' NOTIFY_SOCKET */
	char notify_name[64];
	int starting;			/* the first start: a pool that fails fails all */
	int reload_due;			/* SIGHUP during the start: reload after it */
	long long wait_ms;		/* the start or reload READY=1 is owed for */
	struct systemd_told sd;
	int stopping;
	long long kill_ms;		/* SIGKILL what is left then; 0: not stopping */
	struct generation *checked[MAX_POOLS];	/* -t's, kept until it exits */
	int nchecked;
} t = { .notify_fd = -1 };

/* ---- Checking -------------------------------------------------------- */

/* The pool `name` of `file`, loaded (modules too, with `load`) and checked. */
static int load_pool(const char *file, const char *name, int load, struct sl_config *cfg,
		     char *err, size_t errlen)
{
	struct generation *g;

	if (load) {
		/* master_load reads the pool config_select_pool names. */
		config_select_pool(name);
		g = master_load(file, NULL, err, errlen);
		config_select_pool(NULL);
		if (!g)
			return -1;
		if (t.nchecked < MAX_POOLS)
			t.checked[t.nchecked++] = g;
		*cfg = g->cfg;
		return 0;
	}
	if (config_load_pool(file, name, cfg, err, errlen) < 0)
		return -1;
	if (config_check(cfg, err, errlen) < 0) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* Prefix `err` with the pool it is about. */
static void name_pool(const char *name, char *err, size_t errlen)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", err);
	snprintf(err, errlen, "pool %s: %s", name, tmp);
}

/* Each pool needs a listen, and two pools cannot share an address. */
static int check_addresses(const struct sl_config *cfg, int n, char *err, size_t errlen)
{
	const struct sl_config *c = &cfg[n];

	if (c->nlisten == 0) {
		snprintf(err, errlen, "pool %s: %s: listen is missing: each pool says where it "
			 "accepts connections, e.g. pools = { %s = { listen = \"/run/sluice/%s.sock\"; "
			 "... }; }", c->pool, c->file, c->pool, c->pool);
		return -1;
	}
	for (int i = 0; i < n; i++)
		for (int a = 0; a <= cfg[i].nlisten; a++)
			for (int b = 0; b <= c->nlisten; b++) {
				const struct listen_config *x = a < cfg[i].nlisten ? &cfg[i].listen[a]
							      : &cfg[i].status;
				const struct listen_config *y = b < c->nlisten ? &c->listen[b]
							      : &c->status;

				if (x->address && y->address && strcmp(x->address, y->address) == 0) {
					snprintf(err, errlen, "pool %s: %s: %s is pool %s's address "
						 "too (%s): each pool needs its own", c->pool,
						 y->at ? y->at : c->file, y->address, cfg[i].pool,
						 x->at ? x->at : cfg[i].file);
					return -1;
				}
			}
	return 0;
}

int pools_check(const struct sl_config *top, int load, char *err, size_t errlen)
{
	static struct sl_config cfg[MAX_POOLS];
	int rc = 0, n = 0;

	for (; n < top->pools.n && rc == 0; n++) {
		if (load_pool(top->file, top->pools.name[n], load, &cfg[n], err, errlen) < 0) {
			name_pool(top->pools.name[n], err, errlen);
			rc = -1;
			break;
		}
		rc = check_addresses(cfg, n, err, errlen);
	}
	if (!load)
		for (int i = 0; i < n; i++)
			config_free(&cfg[i]);
	return rc;
}

/* ---- Signals and the notify socket ---------------------------------- */

/*
 * A datagram socket in the abstract namespace, named after this pid, on
 * which the pool masters speak systemd's notify protocol as they would
 * to systemd; the kernel tells which process sent each message.
 */
static int open_notify(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1;
	socklen_t len;

	snprintf(t.notify_name, sizeof(t.notify_name), "@sluice-%d-pools", (int)getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t.notify_name);
	sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(t.notify_name));
	t.notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t.notify_fd < 0 || bind(t.notify_fd, (struct sockaddr *)&sa, len) < 0 ||
	    setsockopt(t.notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return -1;
	return 0;
}

static struct pool *pool_of(pid_t pid)
{
	for (int i = 0; i < t.n; i++)
		if (t.pools[i].pid == pid)
			return &t.pools[i];
	return NULL;
}

/* One message from a pool master: the lines systemd would have read. */
static void heard(struct pool *p, char *msg)
{
	for (char *line = strtok(msg, "\n"); line; line = strtok(NULL, "\n")) {
		if (strcmp(line, "READY=1") == 0)
			p->ready = 1;
		else if (strcmp(line, "RELOADING=1") == 0)
			p->ready = 0;
		else if (strncmp(line, "STATUS=", 7) == 0)
			snprintf(p->status, sizeof(p->status), "%s", line + 7);
	}
}

static void read_notify(void)
{
	char buf[1024];
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct ucred))]; } ctl;
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
			     .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	struct pool *p = NULL;
	ssize_t n;

	while ((n = recvmsg(t.notify_fd, &mh, MSG_DONTWAIT)) >= 0) {
		buf[n] = '\0';
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
				p = pool_of(((struct ucred *)(void *)CMSG_DATA(c))->pid);
		if (p)
			heard(p, buf);
		mh.msg_controllen = sizeof(ctl);
		p = NULL;
	}
}

/* ---- Starting and stopping pools ------------------------------------ */

/* A pool's mistake: in the log, and on stderr while starting. */
static void pool_error(const struct pool *p, const char *err)
{
	log_msg(LOG_ERROR, "pool %s: %s", p->name, err);
	if (t.starting)
		fprintf(stderr, "sluice: pool %s: %s\n", p->name, err);
}

static void unbind_pool(struct pool *p)
{
	listen_cleanup(p->ls, p->nls);
	for (int i = 0; i < p->nls; i++)
		if (!p->ls[i].from_systemd)
			close(p->ls[i].fd);
	p->nls = 0;
}

/* Bind the sockets `cfg` names for pool `p`; -1 with the error logged. */
static int bind_pool(struct pool *p, const struct sl_config *cfg)
{
	char err[1024];

	p->nls = listen_open_all(cfg, p->ls, err, sizeof(err));
	if (p->nls >= 0 && cfg->status.address &&
	    listen_open_one(&cfg->status, &p->ls[p->nls], err, sizeof(err)) == 0)
		p->nls++;
	else if (p->nls >= 0 && cfg->status.address) {
		unbind_pool(p);
		p->nls = -1;
	}
	if (p->nls < 0) {
		p->nls = 0;
		pool_error(p, err);
		return -1;
	}
	return 0;
}

/* Whether `cfg` names the very sockets pool `p` has bound, in order. */
static int same_sockets(const struct pool *p, const struct sl_config *cfg)
{
	if (p->nls != cfg->nlisten + (cfg->status.address != NULL))
		return 0;
	for (int i = 0; i < cfg->nlisten; i++)
		if (strcmp(p->ls[i].address, cfg->listen[i].address) != 0)
			return 0;
	return !cfg->status.address || strcmp(p->ls[cfg->nlisten].address,
					       cfg->status.address) == 0;
}

/*
 * In the child: nothing of this master but its own pool's sockets, which
 * it adopts instead of binding; its notify messages come here; systemd's
 * watchdog is this master's to feed.
 */
static void become_pool(struct pool *p)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;

	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	selfpipe_close();
	close(t.notify_fd);
	for (int i = 0; i < t.n; i++)
		if (&t.pools[i] != p)
			for (int j = 0; j < t.pools[i].nls; j++)
				close(t.pools[i].ls[j].fd);
	listen_take_from_master(p->ls, p->nls);
	setenv("NOTIFY_SOCKET", t.notify_name, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	/* If this master is killed outright, its pools leave as on SIGTERM. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void retry_later(struct pool *p, long long now);

/*
 * Start pool `p`'s master, on the sockets the file names for it now:
 * those bound before if they are the same (a restart keeps them, and the
 * connections waiting in them), else bound anew.
 */
static void start_pool(struct pool *p, long long now)
{
	struct sl_config cfg;
	char err[1024];
	sigset_t all, old;
	pid_t pid;
	int bound;

	if (load_pool(t.file, p->name, 0, &cfg, err, sizeof(err)) < 0) {
		pool_error(p, err);
		retry_later(p, now);
		return;
	}
	if (p->nls > 0 && !same_sockets(p, &cfg)) {
		log_msg(LOG_NOTICE, "pool %s: its listen changed: binding its sockets again",
			p->name);
		unbind_pool(p);
	}
	bound = p->nls > 0 || bind_pool(p, &cfg) == 0;
	p->grace_ms = cfg.limits.shutdown_timeout * 1000LL;
	config_free(&cfg);
	if (!bound) {
		retry_later(p, now);
		return;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		become_pool(p);
		exit(t.pool_main(t.file, p->name));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		log_msg(LOG_ERROR, "pool %s: cannot start its master: %s", p->name, strerror(errno));
		retry_later(p, now);
		return;
	}
	p->pid = pid;
	p->ready = 0;
	p->status[0] = '\0';
	p->started_ms = now;
	p->restart_ms = 0;
}

/* Forget pool `p`: it was removed from the file and its master has left. */
static void drop_pool(struct pool *p)
{
	unbind_pool(p);
	log_msg(LOG_NOTICE, "pool %s removed", p->name);
	*p = t.pools[--t.n];
}

/* The next start of pool `p`, later each time it fails soon after a start. */
static long long backoff(struct pool *p, long long now)
{
	long long delay = 0;

	if (p->started_ms == 0 || now - p->started_ms < FAST_DEATH_MS) {
		delay = RESTART_DELAY_MS << (p->fast_deaths < 6 ? p->fast_deaths : 6);
		if (delay > MAX_RESTART_DELAY_MS)
			delay = MAX_RESTART_DELAY_MS;
		p->fast_deaths++;
	} else {
		p->fast_deaths = 0;
	}
	return delay;
}

/* Pool `p` could not be started (logged): at the first start that fails
 * the start, afterwards it is tried again. */
static void retry_later(struct pool *p, long long now)
{
	if (t.starting) {
		t.starting = -1;
		return;
	}
	p->restart_ms = now + backoff(p, now);
}

/* Pool `p`'s master died: start it again, sooner if it had lived a while. */
static void schedule_restart(struct pool *p, pid_t pid, const char *how, long long now)
{
	long long delay = backoff(p, now);

	log_msg(LOG_ERROR, "pool %s: its master (pid %d) %s; starting it again in %lld ms "
		"(the other pools serve on)", p->name, (int)pid, how, delay);
	p->restart_ms = now + delay;
}

static void reap(long long now)
{
	int status;
	pid_t pid;
	char how[128];

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct pool *p = pool_of(pid);

		if (!p)
			continue;
		master_describe_exit(status, how, sizeof(how));
		p->pid = 0;
		p->ready = 0;
		if (p->removed || t.stopping) {
			log_msg(LOG_NOTICE, "pool %s: its master %s", p->name, how);
			if (p->removed)
				drop_pool(p);
			continue;
		}
		if (p->back) {
			log_msg(LOG_NOTICE, "pool %s: its old master %s; starting it again", p->name,
				how);
			p->back = 0;
			p->restart_ms = now;
			continue;
		}
		if (t.starting) {
			log_msg(LOG_ERROR, "pool %s did not start: its master %s", p->name, how);
			t.starting = -1;
			continue;
		}
		schedule_restart(p, pid, how, now);
	}
}

static void signal_all(int sig)
{
	for (int i = 0; i < t.n; i++)
		if (t.pools[i].pid)
			kill(t.pools[i].pid, sig);
}

static int running(void)
{
	int n = 0;

	for (int i = 0; i < t.n; i++)
		n += t.pools[i].pid != 0;
	return n;
}

/* The longest shutdown_timeout of the pools: what stopping may take. */
static long long longest_grace(void)
{
	long long ms = 0;

	for (int i = 0; i < t.n; i++)
		if (t.pools[i].grace_ms > ms)
			ms = t.pools[i].grace_ms;
	return ms;
}

static void begin_stop(int sig, long long grace_ms)
{
	if (t.stopping)
		return;
	t.stopping = 1;
	t.kill_ms = io_now_ms() + grace_ms + STOP_GRACE_EXTRA_MS;
	systemd_stopping();
	log_msg(LOG_NOTICE, "stopping %d pool%s (SIG%s)", running(), running() == 1 ? "" : "s",
		sigabbrev_np(sig));
	signal_all(sig);
}

/* ---- Reloading ------------------------------------------------------- */

static struct pool *pool_named(const char *name)
{
	for (int i = 0; i < t.n; i++)
		if (strcmp(t.pools[i].name, name) == 0)
			return &t.pools[i];
	return NULL;
}

static int listed(const struct pool_names *names, const char *name)
{
	for (int i = 0; i < names->n; i++)
		if (strcmp(names->name[i], name) == 0)
			return 1;
	return 0;
}

/* Whether the file now names other sockets for pool `p` (not when unreadable). */
static int sockets_changed(const struct pool *p)
{
	struct sl_config cfg;
	char err[1024];
	int changed;

	if (load_pool(t.file, p->name, 0, &cfg, err, sizeof(err)) < 0)
		return 0;	/* its own master says what is wrong */
	changed = !same_sockets(p, &cfg);
	config_free(&cfg);
	return changed;
}

/*
 * SIGHUP: read which pools the file has now.  A pool that stays reloads
 * itself (and on a mistake in its part serves on as it was); a new one
 * starts; a removed one stops gracefully.  A file that cannot be read at
 * all changes nothing.
 */
static void reload(long long now)
{
	static struct sl_config top;
	char err[1024];

	systemd_reloading();
	t.sd.ready = 0;
	t.wait_ms = now;
	if (config_load(t.file, &top, err, sizeof(err)) < 0) {
		log_msg(LOG_ERROR, "reload failed, every pool serves on as it was: %s", err);
		return;
	}
	if (top.pools.n == 0) {
		log_msg(LOG_ERROR, "reload failed, every pool serves on as it was: %s no "
			"longer has pools: going from pools to one pool takes a restart", t.file);
		config_free(&top);
		return;
	}
	log_msg(LOG_NOTICE, "reloading %d pool%s from %s", top.pools.n,
		top.pools.n == 1 ? "" : "s", t.file);
	for (int i = 0; i < t.n; i++) {
		struct pool *p = &t.pools[i];

		if (listed(&top.pools, p->name)) {
			/* Removed by an earlier reload, back before its master left:
			 * started again once it has. */
			if (p->removed) {
				p->removed = 0;
				p->fast_deaths = 0;
				p->back = 1;
				continue;
			}
			if (p->pid && sockets_changed(p)) {
				/* New sockets need a new master: the old one leaves
				 * gracefully, and the pool starts again on them. */
				log_msg(LOG_NOTICE, "pool %s: its listen changed: its master is "
					"replaced", p->name);
				p->back = 1;
				kill(p->pid, SIGQUIT);
			} else if (p->pid) {
				p->ready = 0;
				kill(p->pid, SIGHUP);
			}
			continue;
		}
		p->removed = 1;
		if (p->pid) {
			kill(p->pid, SIGQUIT);
		} else {
			drop_pool(p);
			i--;
		}
	}
	for (int i = 0; i < top.pools.n; i++) {
		struct pool *p;

		if (pool_named(top.pools.name[i]))
			continue;
		/* Pools a reload removed count until their masters have left. */
		if (t.n == MAX_POOLS) {
			log_msg(LOG_ERROR, "pool %s not started: %d pools are running or still "
				"leaving, the most there can be; reload again once the removed "
				"ones have left", top.pools.name[i], MAX_POOLS);
			continue;
		}
		p = &t.pools[t.n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", top.pools.name[i]);
		log_msg(LOG_NOTICE, "pool %s added", p->name);
		start_pool(p, now);	/* or tried again later: logged */
	}
	config_free(&top);
}

/* ---- The loop -------------------------------------------------------- */

static void handle_signals(long long now)
{
	int sig;

	while ((sig = selfpipe_next()) > 0) {
		switch (sig) {
		case SIGCHLD:
			reap(now);
			break;
		case SIGHUP:
			if (t.starting)
				t.reload_due = 1;
			else if (!t.stopping)
				reload(now);
			break;
		case SIGUSR1:
			if (log_reopen() < 0)
				log_msg(LOG_ERROR, "cannot reopen the error log: %s", strerror(errno));
			signal_all(SIGUSR1);
			break;
		case SIGINT:
			begin_stop(SIGINT, 0);
			break;
		default:	/* SIGTERM, SIGQUIT */
			begin_stop(sig, longest_grace());
		}
	}
}

/* READY=1 once every running pool serves; STATUS= their statuses. */
static void tell_systemd(long long now)
{
	char status[sizeof(t.sd.status)] = "";
	int ready = 1;

	for (int i = 0; i < t.n; i++) {
		const struct pool *p = &t.pools[i];

		if (p->removed)
			continue;
		ready &= p->ready || (!p->pid && !t.starting);
		snprintf(status + strlen(status), sizeof(status) - strlen(status), "%s%s: %s",
			 *status ? "; " : "", p->name, p->pid ? (*p->status ? p->status
			 : "starting") : "down, restarting");
	}
	if (!ready && !t.sd.ready && now - t.wait_ms >= READY_WAIT_MS) {
		log_msg(LOG_WARNING, "not every pool serves %d ms after the %s (%s); "
			"telling systemd the service is up", READY_WAIT_MS,
			t.starting ? "start" : "reload", status);
		ready = 1;
	}
	if (systemd_tell(&t.sd, ready, status, now) && t.starting) {
		log_msg(LOG_NOTICE, "%d pool%s serve", t.n, t.n == 1 ? "" : "s");
		t.starting = 0;
	}
}

/* Start the pools whose restart is due; the ms until the next, or -1. */
static int restarts(long long now)
{
	long long next = -1;

	for (int i = 0; i < t.n; i++) {
		struct pool *p = &t.pools[i];

		if (p->pid || !p->restart_ms || t.stopping)
			continue;
		if (p->restart_ms <= now)
			start_pool(p, now);
		else if (next < 0 || p->restart_ms - now < next)
			next = p->restart_ms - now;
	}
	return (int)next;
}

static int timeout(long long now)
{
	int ms = restarts(now);
	long long w = systemd_watchdog_due(&t.sd, now);

	if (w >= 0 && (ms < 0 || w < ms))
		ms = (int)w;
	/* While stopping or starting, look every second. */
	if ((t.stopping || t.starting > 0) && (ms < 0 || ms > 1000))
		ms = 1000;
	return ms;
}

/* Past the grace, what is still running is killed with its workers. */
static void enforce_stop(long long now)
{
	if (!t.stopping || now < t.kill_ms)
		return;
	log_msg(LOG_WARNING, "%d pool master%s still running past the grace: killed",
		running(), running() == 1 ? "" : "s");
	signal_all(SIGKILL);
	t.kill_ms = now + 1000;
}

int pools_run(const struct sl_config *top, pool_main_fn pool_main)
{
	char title[64];
	long long now = io_now_ms();

	t.file = top->file;
	t.pool_main = pool_main;
	if (selfpipe_init() < 0 || open_notify() < 0) {
		log_msg(LOG_ERROR, "master: cannot start: %s", strerror(errno));
		return 1;
	}
	t.sd.watchdog_ms = systemd_watchdog_interval_ms();
	t.starting = 1;
	t.wait_ms = now;
	for (int i = 0; i < top->pools.n && t.starting > 0; i++) {
		snprintf(t.pools[i].name, sizeof(t.pools[i].name), "%s", top->pools.name[i]);
		t.n++;
		start_pool(&t.pools[i], now);
	}
	snprintf(title, sizeof(title), "master (%d pools) -c ", t.n);
	proctitle_prefix("sluice: ");
	proctitle_set(title, t.file, NULL);
	while (!t.stopping || running() > 0) {
		struct pollfd p[2] = {
			{ .fd = selfpipe_fd(), .events = POLLIN },
			{ .fd = t.notify_fd, .events = POLLIN },
		};

		if (t.starting < 0)
			begin_stop(SIGTERM, 0);
		now = io_now_ms();
		if (poll(p, 2, timeout(now)) < 0 && errno != EINTR)
			break;
		now = io_now_ms();
		if (p[1].revents)
			read_notify();
		if (p[0].revents)
			handle_signals(now);
		enforce_stop(now);
		if (!t.stopping)
			tell_systemd(now);
		if (t.reload_due && !t.starting && !t.stopping) {
			t.reload_due = 0;
			reload(now);
		}
	}
	for (int i = 0; i < t.n; i++)
		unbind_pool(&t.pools[i]);
	log_msg(LOG_NOTICE, "stopped");
	return t.starting < 0 ? 1 : 0;
}
