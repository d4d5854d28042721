/*
 * master.c - the master process.
 *
 * It owns the worker table and nothing else touches it.  Signal handlers
 * only write the signal number to a self-pipe; the loop reads it and does
 * the work (nginx and php-fpm do the same), so nothing runs in a handler
 * that is not async-signal-safe.  The master never runs app code: it
 * forks, reaps, counts and signals.
 *
 * The loop waits on three things: the self-pipe, a pipe on which workers
 * ask to be recycled, and (ondemand pools with no idle worker) the
 * listening socket.  A maintenance tick reads the shared scoreboard to
 * size dynamic pools, find requests past their timeouts, and recycle
 * workers past pm.reload_on_rss.
 *
 * Replacing a worker (recycling, a reload) always starts the new one
 * first and stops the old one only once the new one is ready, so capacity
 * never dips; stopping is graceful (the worker finishes what it holds).
 *
 * A pool of supervised programs (program.h) lives in the same table: its
 * copies are exec'ed instead of running worker_main, the master writes
 * their scoreboard entries from what /proc shows, and stop_program asks
 * them to leave between two requests; backoff, recycling and reloads are
 * the workers'.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "crash.h"
#include "dev/dev.h"
#include "handoff.h"
#include "holder.h"
#include "io.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "output.h"
#include "proctitle.h"
#include "program.h"
#include "scoreboard.h"
#include "selfpipe.h"
#include "stats.h"
#include "status.h"
#include "symbols.h"
#include "systemd.h"
#include "trace.h"
#include "worker.h"

/* SIGINT asks for a fast stop: the workers get this long, not shutdown_timeout. */
#define FAST_STOP_MS 1000

/* While a replacement is starting, look at the scoreboard this often. */
#define READY_POLL_MS 20

/* A crash loop logs at most one exit line per this many ms. */
#define EXIT_LOG_INTERVAL_MS 5000

struct slot {
	pid_t pid;			/* 0: free */
	struct generation *gen;
	long long started_ms;
	int stopping;			/* SIGTERM sent: it leaves after its requests */
	int replacing;			/* index + 1 of the worker it replaces, 0: none */
	long long terminate_ms;		/* SIGUSR2 sent at; 0: not */
	long long taken_for;		/* req_start_ms of the long request its connections were taken for */
	char slow_id[REQUEST_ID_SIZE];	/* the request already reported to the slow log */
	long long leave_by_ms;		/* a program copy told to stop: killed past this */
	int asked;			/* a program copy was asked to leave (program.h) */
	long long lifetime_ms;		/* a program copy: replaced once this old; 0: never */
};

static struct rlimit fd_limit;	/* as the master was started: what workers get */

static struct {
	struct generation *gen;		/* the generation in service */
	struct generation *next;	/* a reload's generation, until its workers are ready */
	const struct listener *listeners;
	int nlisteners;
	int notify_fds[2];		/* workers -> master: "replace me" */
	int slowlog_fd;
	struct slot slots[SCOREBOARD_SLOTS];
	int top;			/* slots at or past this index were never used */
	int stopping;
	long long stop_deadline;
	int want;			/* workers the pool should have */
	long long next_spawn_ms;	/* crash-loop backoff: no start before this */
	int fast_exits;			/* consecutive workers that died right after starting */
	long long last_exit_log_ms;
	int exits_unlogged;
	long long last_recycle_ms;
	long long crash_times[MAX_EMERGENCY_RESTART_THRESHOLD];	/* newest first */
	int ncrash;
	long long demand_wait_ms;	/* ondemand: ignore the socket until then */
	unsigned long long served_seen;	/* requests the workers had served at the last look */
	long long in_use_until_ms;	/* look for stuck handlers often until then */
	int dev_fd;			/* development mode's module watch, -1: none */
	struct systemd_told sd;		/* READY=1 for the generation in service, ... */
	const struct listener *status_sock;	/* NULL: no status responder */
	pid_t status_pid;		/* the status responder, 0: none running */
	long long status_spawn_ms;	/* no restart of it before this */
} m;

static int setup_signals(void)
{
	if (selfpipe_init() < 0 || pipe2(m.notify_fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	return 0;
}

/* ---- Generations ---------------------------------------------------- */

struct generation *master_load(const char *file, const struct generation *prev,
			       char *err, size_t errlen)
{
	struct generation *g = calloc(1, sizeof(*g));

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->number = prev ? prev->number + 1 : 1;
	if (config_load(file, &g->cfg, err, errlen) < 0) {
		free(g);
		return NULL;
	}
	if (config_check(&g->cfg, err, errlen) < 0) {
		config_free(&g->cfg);
		free(g);
		return NULL;
	}
	/* Workers accept on a non-blocking socket, programs on a blocking
	 * one, and the two cannot share it for the length of a reload. */
	if (prev && !prev->cfg.program.path != !g->cfg.program.path) {
		snprintf(err, errlen, "%s: the pool changes from %s: that takes a restart",
			 file, prev->cfg.program.path ? "a program to modules"
			 : "modules to a program");
		config_free(&g->cfg);
		free(g);
		return NULL;
	}
	if (module_load_all(&g->cfg, prev ? &prev->modules : NULL, &g->modules,
			    &g->router, err, errlen) < 0) {
		router_free(&g->router);
		config_free(&g->cfg);
		free(g);
		return NULL;
	}
	/* Without memory for them, requests are served uncounted. */
	if (stats_assign(&g->router, &g->route_stats) < 0)
		log_msg(LOG_WARNING, "cannot map the request counters: %s; the metrics "
			"of generation %d stay at zero", strerror(errno), g->number);
	/* New code is mapped: name it for the backtraces of the workers to come. */
	symbols_load();
	return g;
}

/* Workers a pool starts with. */
static int initial_workers(const struct sl_config *cfg)
{
	switch (cfg->pm.mode) {
	case PM_DYNAMIC: return cfg->pm.start_servers;
	case PM_ONDEMAND: return 0;
	default: return cfg->pm.max_children;
	}
}

/* ---- The worker table ----------------------------------------------- */

static int free_slot(void)
{
	for (int i = 0; i < SCOREBOARD_SLOTS; i++)
		if (!m.slots[i].pid)
			return i;
	return -1;
}

/*
 * Fork a child of the master with every signal blocked across the fork,
 * so that the child never runs the master's handlers (it sets its own);
 * the child closes the master's own pipes.  The parent restores its mask
 * from fork_mask once it has done its part.
 */
static sigset_t fork_mask;

/*
 * Workers started together (at start, at a reload) are forked behind a
 * gate: each waits, before it does anything, until the master has forked
 * the last of them and closed the gate's write end.  Let go at once, the
 * first ones take the CPUs from the master while it forks the rest.  And
 * while the gate is shut the master writes as little as it can between
 * forks (closing the workers' ends, the log lines wait for the gate to
 * open): after a fork, each page it writes is first copied, with a TLB
 * shootdown.  On 2 cores, SIGHUP to "generation N serves" with 16
 * workers took 65 to 74 ms (medians of 15 reloads) without the gate and
 * 55 to 58 with it; the master's CPU per reload went from 33-37 ms to
 * 29-30 with the deferral.  A master that dies opens the gate too.
 */
static int gate[2] = { -1, -1 };

/* Forked behind the gate, not yet done with by the master (spawn_done). */
static struct started { int slot, ctl_fd; } batch[SCOREBOARD_SLOTS];
static int nbatch;

static void spawn_done(int i, int ctl_fd);

/* Before forking `n` workers in a row: a gate, if they are several. */
static void gate_shut(int n)
{
	if (n > 1 && gate[0] < 0 && pipe2(gate, O_CLOEXEC) < 0)
		gate[0] = gate[1] = -1;		/* no gate: they start at once */
}

/* Let the batch go, and finish what the master deferred for it. */
static void gate_open(void)
{
	if (gate[0] < 0)
		return;
	close(gate[0]);
	close(gate[1]);
	gate[0] = gate[1] = -1;
	for (int k = 0; k < nbatch; k++)
		spawn_done(batch[k].slot, batch[k].ctl_fd);
	nbatch = 0;
}

/*
 * In a new child: let go of the control channels of the workers forked
 * before it in the batch, which the master has not closed yet (a worker
 * holding another's would keep it open after that one died, and could
 * speak on it), then wait at the gate (end of file once it opens).
 */
static void gate_wait(void)
{
	char b;

	if (gate[0] < 0)
		return;
	for (int k = 0; k < nbatch; k++)
		if (batch[k].ctl_fd >= 0)
			close(batch[k].ctl_fd);
	nbatch = 0;
	close(gate[1]);
	while (read(gate[0], &b, 1) < 0 && errno == EINTR)
		;
	close(gate[0]);
	gate[0] = gate[1] = -1;
}

static pid_t fork_child(void)
{
	sigset_t all;
	pid_t pid;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &fork_mask);
	pid = fork();
	if (pid == 0) {
		gate_wait();
		selfpipe_close();
		close(m.notify_fds[0]);
	}
	return pid;
}

/*
 * The worker's environment: empty with clear_env (php-fpm's default, so
 * that a secret in the master's environment reaches no module by
 * accident), then each `env` entry.  A pass-through entry is read from
 * the master's environment before it is cleared.
 */
static int child_env(const struct sl_config *cfg)
{
	const char *val[MAX_ENV];

	for (int i = 0; i < cfg->nenv; i++)
		val[i] = cfg->env[i].pass ? getenv(cfg->env[i].value) : cfg->env[i].value;
	if (cfg->clear_env && clearenv() != 0)
		return -1;
	for (int i = 0; i < cfg->nenv; i++)
		if (val[i] ? setenv(cfg->env[i].name, val[i], 1) < 0
			   : unsetenv(cfg->env[i].name) < 0)
			return -1;
	return 0;
}

/* Soft and hard limit both, as php-fpm's rlimit_* set them. */
static int child_limit(int resource, long long want)
{
	struct rlimit rl;

	if (want == CONFIG_RLIMIT_KEEP)
		return 0;
	rl.rlim_cur = want == CONFIG_RLIMIT_NONE ? RLIM_INFINITY : (rlim_t)want;
	rl.rlim_max = rl.rlim_cur;
	return setrlimit(resource, &rl);
}

/*
 * In a new worker, before it runs anything: its limits (the master's own
 * descriptor limit was raised for the master alone), its environment and
 * its folder.  config_check made sure these can succeed; if one fails
 * anyway, the worker says which and leaves.
 */
static void child_setup(const struct sl_config *cfg, int i)
{
	const char *what = NULL;

	if (cfg->rlimit_files == CONFIG_RLIMIT_KEEP && fd_limit.rlim_cur)
		setrlimit(RLIMIT_NOFILE, &fd_limit);
	if (child_limit(RLIMIT_NOFILE, cfg->rlimit_files) < 0)
		what = "rlimit_files";
	else if (child_limit(RLIMIT_CORE, cfg->rlimit_core) < 0)
		what = "rlimit_core";
	else if (child_env(cfg) < 0)
		what = "env";
	else if (chdir(cfg->chdir) < 0)
		what = "chdir";
	if (!what)
		return;
	log_msg(LOG_ERROR, "worker %d: cannot apply %s: %s", i + 1, what, strerror(errno));
	_exit(2);
}

/*
 * A program copy's age limit: program.max_lifetime plus up to a tenth
 * more, so that copies started together are not all replaced together.
 * 0: none (module workers, or no max_lifetime).
 */
static long long program_lifetime_ms(const struct sl_config *cfg)
{
	long long ms = cfg->program.max_lifetime * 1000LL;

	return ms ? ms + random() % (ms / 10 + 1) : 0;
}

/*
 * Fork a worker of generation `g`.  Signals are blocked across fork so
 * that the child never runs the master's handler; the child resets them.
 * Returns the slot index, or -1.
 */
static int spawn(struct generation *g)
{
	struct worker_args args = { .gen = g, .listeners = m.listeners,
				    .nlisteners = m.nlisteners, .ctl_fd = -1,
				    .master = getpid(), .notify_fd = m.notify_fds[1] };
	int i = free_slot(), program = g->cfg.program.path != NULL;
	struct score *sc;
	pid_t pid;

	if (i < 0)
		return -1;
	args.index = i;
	/* A program keeps no connection of sluice's: no control channel. */
	if (!program && holder_attach(i, &args.ctl_fd) < 0) {
		log_msg(LOG_ERROR, "cannot make a control channel for a worker: %s", strerror(errno));
		m.next_spawn_ms = io_now_ms() + 1000;
		return -1;
	}
	if (output_attach(i) < 0)
		log_msg(LOG_WARNING, "worker %d: cannot capture its stdout and stderr: %s",
			i + 1, strerror(errno));
	sc = scoreboard_slot(i);
	memset(sc, 0, sizeof(*sc));
	sc->state = SCORE_STARTING;
	sc->generation = g->number;
	sc->program = program;
	pid = fork_child();
	if (pid == 0) {
		if (!program)
			holder_in_child(i);
		output_in_child(i);
		child_setup(&g->cfg, i);
		if (program)
			program_exec(&g->cfg, m.listeners[0].fd, args.master, i);
		worker_main(&args);
	}
	sigprocmask(SIG_SETMASK, &fork_mask, NULL);
	if (pid < 0) {
		log_msg(LOG_ERROR, "fork: %s", strerror(errno));
		if (args.ctl_fd >= 0)
			close(args.ctl_fd);
		output_after_fork(i, 0);
		if (!program)
			holder_detach(i);
		sc->state = SCORE_FREE;
		m.next_spawn_ms = io_now_ms() + 1000;
		return -1;
	}
	sc->pid = pid;
	m.slots[i] = (struct slot){ .pid = pid, .gen = g, .started_ms = io_now_ms(),
				    .lifetime_ms = program_lifetime_ms(&g->cfg) };
	if (i >= m.top)
		m.top = i + 1;
	if (gate[0] >= 0)
		batch[nbatch++] = (struct started){ i, args.ctl_fd };
	else
		spawn_done(i, args.ctl_fd);
	return i;
}

/* After worker `i`'s fork: let go of its ends of the pipes, and say it started. */
static void spawn_done(int i, int ctl_fd)
{
	const struct slot *s = &m.slots[i];

	if (ctl_fd >= 0)
		close(ctl_fd);
	output_after_fork(i, 1);
	if (s->gen->cfg.program.path)
		log_msg(LOG_NOTICE, "worker %d (pid %d) started (generation %d): program %s",
			i + 1, (int)s->pid, s->gen->number, s->gen->cfg.program.path);
	else
		log_msg(LOG_NOTICE, "worker %d (pid %d) started (generation %d)", i + 1,
			(int)s->pid, s->gen->number);
}

static int ready(int i)
{
	int st = scoreboard_slot(i)->state;

	return m.slots[i].pid && (st == SCORE_IDLE || st == SCORE_BUSY);
}

/*
 * Stop a worker the pool no longer needs, gracefully: SIGWINCH tells a
 * serving worker it is replaced (it finishes what it holds and lets its
 * kept-alive connections go gently); one still starting gets SIGTERM.
 */
static void stop_program(int i, long long grace_ms);

static void stop_worker(int i, const char *why)
{
	struct slot *s = &m.slots[i];

	if (!s->pid || s->stopping)
		return;
	log_msg(LOG_INFO, "worker %d (pid %d): stopping (%s)", i + 1, (int)s->pid, why);
	if (scoreboard_slot(i)->program) {
		stop_program(i, s->gen->cfg.limits.shutdown_timeout * 1000LL);
		return;
	}
	s->stopping = 1;
	if (!ready(i)) {
		kill(s->pid, SIGTERM);
		return;
	}
	/* Its kept-alive connections go to the workers that stay, now:
	 * the next request on each is theirs. */
	scoreboard_slot(i)->retiring = 1;
	holder_take(i);
	kill(s->pid, SIGWINCH);
}

/*
 * A worker to give a kept-alive connection to: one of the generation in
 * service that is ready and not leaving, idle if any is, else one whose
 * request in hand is young (it will be free in a moment).  Round robin,
 * so that handed-over connections spread.
 */
static int pick_worker(void)
{
	static int rr;
	long long now = io_now_ms();
	int busy = -1;

	for (int k = 0; k < m.top; k++) {
		int i = (rr + k) % m.top;
		const struct score *sc = scoreboard_slot(i);

		if (!m.slots[i].pid || m.slots[i].stopping || m.slots[i].gen != m.gen ||
		    sc->retiring || !ready(i))
			continue;
		if (sc->state == SCORE_IDLE) {
			rr = i + 1;
			return i;
		}
		if (busy < 0 && now - sc->req_start_ms < STEAL_AFTER_MS)
			busy = i;
	}
	if (busy >= 0)
		rr = busy + 1;
	return busy;
}

/*
 * When worker `i`'s handler is to lose the worker's idle connections: in
 * how many ms it passes STEAL_AFTER_MS (0: now), or -1 if it will not
 * (not busy, on its way out, or already taken from for this request).
 */
static long long steal_due(int i, long long now)
{
	const struct slot *s = &m.slots[i];
	const struct score *sc = scoreboard_slot(i);
	long long left;

	if (!s->pid || s->stopping || sc->state != SCORE_BUSY || sc->program ||
	    s->taken_for == sc->req_start_ms)
		return -1;
	left = sc->req_start_ms + STEAL_AFTER_MS - now;
	return left > 0 ? left : 0;
}

/*
 * A handler past STEAL_AFTER_MS holds its worker: the idle kept-alive
 * connections of that worker go to others, once per long request, so
 * that requests the web server writes to them are not stuck behind it.
 */
static void take_from_stuck(long long now)
{
	for (int i = 0; i < m.top; i++)
		if (steal_due(i, now) == 0) {
			m.slots[i].taken_for = scoreboard_slot(i)->req_start_ms;
			holder_take(i);
		}
}

/* Workers of generation `g` that are not on their way out. */
static int serving(const struct generation *g)
{
	int n = 0;

	for (int i = 0; i < m.top; i++)
		if (m.slots[i].pid && m.slots[i].gen == g && !m.slots[i].stopping)
			n++;
	return n;
}

/* Idle workers of the generation in service; `starting` counts those still starting too. */
static int idle_workers_of(int starting)
{
	int n = 0;

	for (int i = 0; i < m.top; i++) {
		int st = scoreboard_slot(i)->state;

		if (m.slots[i].pid && m.slots[i].gen == m.gen && !m.slots[i].stopping &&
		    (st == SCORE_IDLE || (starting && st == SCORE_STARTING)))
			n++;
	}
	return n;
}

static int idle_workers(void)
{
	return idle_workers_of(0);
}

static int running(void)
{
	int n = 0;

	for (int i = 0; i < m.top; i++)
		n += m.slots[i].pid != 0;
	return n;
}

/* ---- The status responder ------------------------------------------ */

/*
 * Fork the status responder (status.h).  It is no pool worker: it has no
 * slot, no generation and no part in the counts above.  One that dies is
 * started again, at most once a second.
 */

static void spawn_status(long long now)
{
	static struct status_args args;
	pid_t pid;

	if (!m.status_sock || m.status_pid || m.stopping || now < m.status_spawn_ms)
		return;
	args = (struct status_args){ .sock = m.status_sock, .pool = m.listeners,
				     .npool = m.nlisteners, .cfg = &m.gen->cfg,
				     .master = getpid() };
	m.status_spawn_ms = now + 1000;
	pid = fork_child();
	if (pid == 0) {
		close(m.notify_fds[1]);
		status_main(&args);
	}
	sigprocmask(SIG_SETMASK, &fork_mask, NULL);
	if (pid < 0) {
		log_msg(LOG_ERROR, "cannot start the status responder: fork: %s", strerror(errno));
		return;
	}
	m.status_pid = pid;
	log_msg(LOG_NOTICE, "status responder (pid %d) started on %s", (int)pid,
		m.status_sock->address);
}

/* Was `pid` the status responder?  Then note its end (it is restarted by the tick). */
static int reap_status(pid_t pid, int status)
{
	char how[96];

	if (!m.status_pid || pid != m.status_pid)
		return 0;
	m.status_pid = 0;
	if (!m.stopping) {
		master_describe_exit(status, how, sizeof(how));
		log_msg(LOG_WARNING, "status responder (pid %d) %s; starting it again",
			(int)pid, how);
	}
	return 1;
}

static void stop_status(void)
{
	if (!m.status_pid)
		return;
	kill(m.status_pid, SIGKILL);
	waitpid(m.status_pid, NULL, 0);
	m.status_pid = 0;
}

/* ---- Exits ---------------------------------------------------------- */

void master_describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_TERMINATED)
		snprintf(buf, len, "was stopped by request_terminate_timeout");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (SIG%s)%s", WTERMSIG(status),
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?",
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "ended with wait status %d", status);
}

/*
 * php-fpm's emergency restart: when emergency_restart_threshold workers
 * die of a signal within emergency_restart_interval, reload everything
 * (config, modules, workers), on the theory that shared state went bad.
 */
static void master_reload(const char *why);

static void count_crash(long long now)
{
	const struct sl_config *cfg = &m.gen->cfg;
	int th = cfg->emergency_restart_threshold;

	if (th <= 0)
		return;
	memmove(m.crash_times + 1, m.crash_times, sizeof(m.crash_times) - sizeof(m.crash_times[0]));
	m.crash_times[0] = now;
	if (m.ncrash < th)
		m.ncrash++;
	if (m.ncrash >= th && now - m.crash_times[th - 1] <= cfg->emergency_restart_interval * 1000LL) {
		m.ncrash = 0;
		log_msg(LOG_WARNING, "%d workers died of a signal within %ds "
			"(emergency_restart_threshold): reloading", th,
			cfg->emergency_restart_interval);
		master_reload("emergency restart");
	}
}

/*
 * A worker that dies before it is ready (its init crashes or fails)
 * delays the next start, doubling up to MAX_RESPAWN_DELAY_MS, so that a
 * crash loop does not burn a core; one that lived resets the delay.  One
 * that was serving and died in a request is replaced at once, however
 * young: the pool must not stand empty for seconds because two requests
 * crashed in a row (emergency_restart_threshold is for crashes that come
 * in a flood).  In a crash loop the exit lines are rate-limited, with a
 * count of those left out.
 */
static void note_exit(struct slot *s, int i, int status, long long now)
{
	int at_start = scoreboard_slot(i)->state == SCORE_STARTING;
	int fast = at_start && now - s->started_ms < FAST_EXIT_SECONDS * 1000LL && !s->stopping;
	int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	char how[96];

	master_describe_exit(status, how, sizeof(how));
	if (fast) {
		long long delay = 100LL << (m.fast_exits < 6 ? m.fast_exits : 6);

		m.fast_exits++;
		m.next_spawn_ms = now + (delay > MAX_RESPAWN_DELAY_MS ? MAX_RESPAWN_DELAY_MS : delay);
	} else if (!s->stopping) {
		m.fast_exits = 0;
	}
	if (m.fast_exits > 3 && now - m.last_exit_log_ms < EXIT_LOG_INTERVAL_MS) {
		m.exits_unlogged++;
		return;
	}
	log_msg(clean ? LOG_NOTICE : LOG_WARNING, "worker %d (pid %d) %s after %lld ms%s%s",
		i + 1, (int)s->pid, how, now - s->started_ms, at_start ? ", before it was ready" : "",
		!fast || m.fast_exits < 2 ? "" : at_start ? "; workers keep dying at start, backing off"
		: "; workers keep dying within a second of starting, backing off");
	if (m.exits_unlogged)
		log_msg(LOG_WARNING, "(%d more worker exits like it not logged)", m.exits_unlogged);
	m.exits_unlogged = 0;
	m.last_exit_log_ms = now;
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		long long now = io_now_ms();

		/* A late ptrace-stop of a slow worker, not an end (trace.h). */
		if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
			trace_release(pid, status);
			continue;
		}
		if (reap_status(pid, status))
			continue;
		for (int i = 0; i < m.top; i++) {
			struct slot *s = &m.slots[i];

			if (s->pid != pid)
				continue;
			note_exit(s, i, status, now);
			/* A program without libfcgi's handler leaves on the
			 * SIGUSR1 that asked it to: not a crash. */
			if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL &&
			    WTERMSIG(status) != SIGTERM &&
			    !(s->asked && WTERMSIG(status) == SIGUSR1)) {
				scoreboard_pool()->crashes++;
				count_crash(now);
			}
			s->pid = 0;
			scoreboard_slot(i)->state = SCORE_FREE;
			scoreboard_slot(i)->pid = 0;
			scoreboard_slot(i)->retiring = 0;
			/* Its kept-alive connections outlive it. */
			holder_worker_gone(i);
			output_worker_gone(i);
			access_salvage(i);
			break;
		}
	}
}

/* ---- Keeping the pool at size --------------------------------------- */

/*
 * Start workers of the generation in service until it has `want` of
 * them, as the crash-loop backoff allows.  Returns ms until it may try
 * again, or -1.
 */
static int top_up(long long now)
{
	struct generation *g = m.next ? m.next : m.gen;
	int want = m.next ? initial_workers(&g->cfg) : m.want, rc = -1;

	if (now >= m.next_spawn_ms && m.fast_exits == 0)
		gate_shut(want - serving(g));
	while (!m.stopping && serving(g) < want) {
		if (now < m.next_spawn_ms) {
			rc = (int)(m.next_spawn_ms - now);
			break;
		}
		if (spawn(g) < 0) {
			rc = 1000;
			break;
		}
		if (m.fast_exits > 0)
			m.next_spawn_ms = now + 1;	/* one at a time while it keeps failing */
	}
	gate_open();
	return rc;
}

/*
 * php-fpm's "max children reached": the pool wanted another worker and
 * was at pm.max_children.  Counted once per episode, not once per tick.
 */
static int at_max_children;

static void note_max_children(void)
{
	if (!at_max_children)
		scoreboard_pool()->max_children_reached++;
	at_max_children = 2;
}

/*
 * Dynamic pools, php-fpm's rule: fewer idle workers than min_spare, start
 * some (at most max_spawn_rate a tick); more than max_spare, stop one.
 * Ondemand pools: stop workers idle past process_idle_timeout.
 */
static void size_pool(long long now)
{
	const struct sl_config *cfg = &m.gen->cfg;
	int idle = idle_workers_of(1), total = serving(m.gen);

	/* Workers that will soon be idle count as idle: a pool still
	 * starting (start_servers, a spawn in flight) is left to finish. */
	if (total < m.want)
		return;
	if (cfg->pm.mode == PM_DYNAMIC) {
		if (idle == 0 && total >= cfg->pm.max_children)
			note_max_children();
		if (idle < cfg->pm.min_spare_servers && total < cfg->pm.max_children) {
			int add = cfg->pm.min_spare_servers - idle;

			if (add > cfg->pm.max_spawn_rate)
				add = cfg->pm.max_spawn_rate;
			if (total + add > cfg->pm.max_children)
				add = cfg->pm.max_children - total;
			m.want = total + add;
			log_msg(LOG_INFO, "pool: %d idle of %d; starting %d", idle, total, add);
		} else if (idle > cfg->pm.max_spare_servers) {
			for (int i = 0; i < m.top; i++)
				if (m.slots[i].pid && m.slots[i].gen == m.gen && !m.slots[i].stopping &&
				    scoreboard_slot(i)->state == SCORE_IDLE) {
					m.want = total - 1;
					stop_worker(i, "more idle workers than pm.max_spare_servers");
					break;
				}
		}
	} else if (cfg->pm.mode == PM_ONDEMAND) {
		for (int i = 0; i < m.top; i++) {
			struct score *sc = scoreboard_slot(i);

			if (m.slots[i].pid && m.slots[i].gen == m.gen && !m.slots[i].stopping &&
			    sc->state == SCORE_IDLE &&
			    now - sc->idle_since_ms > cfg->pm.process_idle_timeout * 1000LL) {
				m.want = serving(m.gen) - 1;
				stop_worker(i, "idle past pm.process_idle_timeout");
			}
		}
	}
}

/*
 * ondemand: a connection waits and nobody is idle: start a worker.
 * Whatever is decided, the listener is not looked at again for
 * DEMAND_WAIT_MS: the connection stays readable until a worker takes it,
 * and a master that polled it meanwhile (a worker starting, an idle one
 * about to accept, the pool at max_children) would spin.
 */
static void on_demand(long long now)
{
	const struct sl_config *cfg = &m.gen->cfg;

	m.demand_wait_ms = now + DEMAND_WAIT_MS;
	if (idle_workers() > 0)
		return;
	if (serving(m.gen) >= cfg->pm.max_children) {
		note_max_children();
		return;
	}
	m.want = serving(m.gen) + 1;
	log_msg(LOG_INFO, "pool: a connection is waiting and no worker is idle; starting one");
}

/* ---- Recycling ------------------------------------------------------ */

/*
 * Start a replacement for worker `i`; the old one is stopped by
 * finish_replacements once the new one is ready.  Two recycles are at
 * least pm.min_recycle_interval_ms apart.
 */
static void recycle(int i, const char *why, long long now)
{
	struct slot *s = &m.slots[i];
	int n;

	if (!s->pid || s->stopping || s->gen != m.gen || m.stopping)
		return;
	for (int j = 0; j < m.top; j++)
		if (m.slots[j].pid && m.slots[j].replacing == i + 1)
			return;		/* already being replaced */
	if (now - m.last_recycle_ms < m.gen->cfg.pm.min_recycle_interval_ms) {
		s->replacing = -1;	/* asked; retried by the maintenance tick */
		return;
	}
	m.last_recycle_ms = now;
	n = spawn(m.gen);
	if (n < 0)
		return;
	scoreboard_pool()->recycles++;
	m.slots[n].replacing = i + 1;
	log_msg(LOG_NOTICE, "worker %d (pid %d): recycling (%s); worker %d replaces it",
		i + 1, (int)s->pid, why, n + 1);
}

static void read_notifications(long long now)
{
	int idx[64];
	ssize_t n;

	while ((n = read(m.notify_fds[0], idx, sizeof(idx))) > 0)
		for (ssize_t k = 0; k < n / (ssize_t)sizeof(int); k++)
			if (idx[k] >= 0 && idx[k] < SCOREBOARD_SLOTS)
				recycle(idx[k], "pm.max_requests", now);
			/* else NOTIFY_WAKE: being awake was the point */
}

/* Recycles that pm.min_recycle_interval_ms put off, tried again. */
static void retry_recycles(long long now)
{
	for (int i = 0; i < m.top; i++)
		if (m.slots[i].pid && m.slots[i].replacing == -1) {
			m.slots[i].replacing = 0;
			recycle(i, "pm.max_requests", now);
		}
}

/* Stop the workers whose replacement is now ready. */
static void finish_replacements(void)
{
	for (int i = 0; i < m.top; i++) {
		struct slot *s = &m.slots[i];

		if (s->pid && s->replacing > 0 && ready(i)) {
			stop_worker(s->replacing - 1, "replaced");
			s->replacing = 0;
		}
	}
}

/* Resident set size of a process in bytes, from /proc; -1 if unknown. */
static long long rss_of(pid_t pid)
{
	char path[64], buf[128];
	long long pages, resident;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%lld %lld", &pages, &resident) != 2)
		return -1;
	return resident * sysconf(_SC_PAGESIZE);
}

static void check_rss(long long now)
{
	long long limit = m.gen->cfg.pm.reload_on_rss;

	for (int i = 0; limit > 0 && i < m.top; i++) {
		struct slot *s = &m.slots[i];
		long long rss;

		if (!s->pid || s->stopping || s->gen != m.gen)
			continue;
		rss = rss_of(s->pid);
		if (rss > limit) {
			char why[96];

			snprintf(why, sizeof(why), "resident memory %lld MiB over pm.reload_on_rss %lld MiB",
				 rss >> 20, limit >> 20);
			recycle(i, why, now);
		}
	}
}

/* ---- Program copies (program.h) ------------------------------------- */

/*
 * Stop program copy `i` without cutting its request: it is asked to
 * leave once a thread of it waits in accept, which watch_programs looks
 * for every PROGRAM_WATCH_MS, and killed if still there after
 * `grace_ms` (a program that ignores SIGUSR1, or one stuck in a request).
 */
static void stop_program(int i, long long grace_ms)
{
	struct slot *s = &m.slots[i];

	if (s->stopping && s->leave_by_ms && s->leave_by_ms <= io_now_ms() + grace_ms)
		return;		/* already leaving, and sooner */
	s->stopping = 1;
	s->leave_by_ms = io_now_ms() + grace_ms;
	scoreboard_slot(i)->state = SCORE_STOPPING;
	if (!s->asked && program_ask_to_leave(s->pid) == 0)
		s->asked = 1;
}

/*
 * The scoreboard entry of program copy `i`, which the master writes for
 * it from what /proc shows: starting until a thread of it first waits
 * in accept, then idle while one waits there and busy while none does.
 * Where /proc will not say (program.h), a copy alive for
 * FAST_EXIT_SECONDS is taken as ready, and that is logged once.
 */
static void observe_program(int i, long long now)
{
	static int warned;
	struct slot *s = &m.slots[i];
	struct score *sc = scoreboard_slot(i);
	enum program_seen seen = program_look(s->pid, NULL);

	if (seen == PROGRAM_ACCEPTING) {
		if (sc->state == SCORE_STARTING) {
			log_msg(LOG_INFO, "worker %d (pid %d): the program waits in accept, "
				"ready %lld ms after its start", i + 1, (int)s->pid,
				now - s->started_ms);
			m.fast_exits = 0;	/* a copy got going: no crash loop */
		}
		if (sc->state != SCORE_IDLE)
			sc->idle_since_ms = now;
		sc->state = SCORE_IDLE;
	} else if (seen == PROGRAM_BUSY && sc->state != SCORE_STARTING) {
		sc->state = SCORE_BUSY;
	} else if (seen == PROGRAM_UNKNOWN && sc->state == SCORE_STARTING &&
		   now - s->started_ms >= FAST_EXIT_SECONDS * 1000LL) {
		if (!warned++)
			log_msg(LOG_WARNING, "cannot read /proc/%d/task/*/syscall: %s; program "
				"copies are taken as ready %d s after their start, and asked to "
				"leave without waiting for the end of a request", (int)s->pid,
				strerror(errno), FAST_EXIT_SECONDS);
		sc->state = SCORE_IDLE;
	}
}

/*
 * Every loop: copies starting are looked at (a restart is ready as soon
 * as the program accepts), copies told to stop are asked to leave or
 * killed; on the maintenance tick (`all`) every copy is looked at, for
 * the status and for reloads.  Returns how soon to look again, or -1.
 */
static int watch_programs(long long now, int all)
{
	int again = -1;

	for (int i = 0; i < m.top; i++) {
		struct slot *s = &m.slots[i];
		const struct score *sc = scoreboard_slot(i);

		if (!s->pid || !sc->program)
			continue;
		if (s->stopping && !s->asked && program_ask_to_leave(s->pid) == 0) {
			s->asked = 1;
			log_msg(LOG_INFO, "worker %d (pid %d): asked to leave (SIGUSR1), "
				"between two requests", i + 1, (int)s->pid);
		}
		if (s->stopping && s->leave_by_ms && now >= s->leave_by_ms) {
			log_msg(LOG_WARNING, "worker %d (pid %d): the program did not leave "
				"within limits.shutdown_timeout; killing it", i + 1, (int)s->pid);
			kill(s->pid, SIGKILL);
			s->leave_by_ms = 0;
		}
		if (!s->stopping && (all || sc->state == SCORE_STARTING))
			observe_program(i, now);
		if ((s->stopping && !s->asked) || sc->state == SCORE_STARTING)
			again = PROGRAM_WATCH_MS;
	}
	return again;
}

/* program.max_lifetime: copies past their age are replaced, new one first. */
static void recycle(int i, const char *why, long long now);

static void check_lifetimes(long long now)
{
	for (int i = 0; i < m.top; i++) {
		const struct slot *s = &m.slots[i];

		if (s->pid && !s->stopping && s->gen == m.gen && s->lifetime_ms &&
		    now - s->started_ms > s->lifetime_ms)
			recycle(i, "past program.max_lifetime", now);
	}
}

/* ---- Request timeouts ----------------------------------------------- */

/*
 * Name the request the signal is about in the worker's scoreboard entry,
 * then signal; the worker checks the name, so a request that ended in the
 * meantime is never blamed for its successor.  Only
 * request_terminate_timeout signals: ending the request is its job.
 */
static void signal_request(int i, const struct score *sc, int sig)
{
	struct score *w = scoreboard_slot(i);

	memcpy(w->target_id, sc->request_id, sizeof(w->target_id));
	kill(m.slots[i].pid, sig);
}

/*
 * request_slowlog_timeout: one line in the slow log with the request and
 * the worker's backtrace, taken from outside with ptrace (trace.h), so
 * that the handler sees no signal and runs on undisturbed.  Where ptrace
 * is refused (no CAP_SYS_PTRACE, a container's seccomp policy) the line
 * says why, and still names the request.  The same request still in hand
 * after the trace was in hand during it; otherwise the stack may be its
 * successor's, and is not shown.
 */
static void report_slow(int i, const struct score *sc, long long ran)
{
	const struct score *w = scoreboard_slot(i);
	const struct route_stats *route = stats_entry(sc->route);
	char frames[3072], line[4096];
	int rc = trace_backtrace(m.slots[i].pid, frames, sizeof(frames));

	if (rc == 0 && (w->state != SCORE_BUSY ||
			strncmp(w->request_id, sc->request_id, sizeof(w->request_id)) != 0)) {
		snprintf(frames, sizeof(frames), "the request ended while it was traced");
		rc = -1;
	}
	snprintf(line, sizeof(line), "slow request: past request_slowlog_timeout (running %lld ms) "
		 "in request %s, route %s, worker %d (pid %d)%s%s%s", ran, sc->request_id,
		 route ? route->name : "-", i + 1, (int)m.slots[i].pid,
		 rc == 0 ? "; backtrace: " : " (backtrace unavailable: ", frames,
		 rc == 0 ? "" : ")");
	log_signal_safe(m.slowlog_fd, LOG_WARNING, line);
}

static void check_timeouts(long long now)
{
	for (int i = 0; i < m.top; i++) {
		struct slot *s = &m.slots[i];
		const struct sl_config *cfg;
		struct score sc;
		long long ran;

		if (!s->pid)
			continue;
		cfg = &s->gen->cfg;
		sc = *scoreboard_slot(i);
		if (s->terminate_ms && now - s->terminate_ms > TERMINATE_GRACE_MS) {
			/* Only if it still holds the request it was asked to
			 * stop: one that ended it meanwhile is serving another. */
			if (sc.state != SCORE_BUSY ||
			    strncmp(sc.request_id, sc.target_id, sizeof(sc.request_id)) != 0) {
				s->terminate_ms = 0;
				continue;
			}
			log_msg(LOG_WARNING, "worker %d (pid %d) did not stop after "
				"request_terminate_timeout; killing it", i + 1, (int)s->pid);
			kill(s->pid, SIGKILL);
			s->terminate_ms = now;
			continue;
		}
		if (sc.state != SCORE_BUSY && sc.state != SCORE_STOPPING)
			continue;
		sc.request_id[sizeof(sc.request_id) - 1] = '\0';
		ran = now - sc.req_start_ms;
		if (cfg->request_terminate_timeout > 0 && !s->terminate_ms &&
		    ran > cfg->request_terminate_timeout * 1000LL && sc.state == SCORE_BUSY) {
			signal_request(i, &sc, SIGUSR2);
			s->terminate_ms = now;
			scoreboard_pool()->terminate_timeouts++;
		} else if (cfg->request_slowlog_timeout > 0 && sc.state == SCORE_BUSY &&
			   ran > cfg->request_slowlog_timeout * 1000LL &&
			   strcmp(s->slow_id, sc.request_id) != 0) {
			memcpy(s->slow_id, sc.request_id, sizeof(s->slow_id));
			scoreboard_pool()->slow_requests++;
			report_slow(i, &sc, ran);
		}
	}
}

/* ---- Reload --------------------------------------------------------- */

/* The generation in service, as the status responder shows it. */
static void publish_pool(const struct generation *g)
{
	struct pool_score *p = scoreboard_pool();

	p->generation = g->number;
	p->pm_mode = (int)g->cfg.pm.mode;
	p->max_children = g->cfg.pm.max_children;
}

/*
 * SIGHUP: read the config again and load the modules again, checking both
 * before touching any worker.  A bad file keeps the current generation
 * serving.  Otherwise the new generation's workers start on the same
 * listening socket (never closed, never bound again), and the old ones are
 * stopped, gracefully, once the new ones are ready.
 */
/* Do two configs name the same sockets with the same protocols? */
static int same_listeners(const struct sl_config *a, const struct sl_config *b)
{
	if (a->nlisten != b->nlisten)
		return 0;
	for (int i = 0; i < a->nlisten; i++)
		if (strcmp(a->listen[i].address, b->listen[i].address) != 0 ||
		    a->listen[i].protocol != b->listen[i].protocol)
			return 0;
	return 1;
}

static void master_reload(const char *why)
{
	char err[1024];
	struct generation *g;

	if (m.stopping)
		return;
	if (m.next) {
		log_msg(LOG_WARNING, "reload (%s) ignored: generation %d is still starting",
			why, m.next->number);
		return;
	}
	log_msg(LOG_NOTICE, "reloading (%s): reading %s", why, m.gen->cfg.file);
	/* systemd waits for READY=1 after RELOADING=1, whatever the outcome. */
	systemd_reloading();
	m.sd.ready = 0;
	g = master_load(m.gen->cfg.no_file ? NULL : m.gen->cfg.file, m.gen, err, sizeof(err));
	dev_reload_result(g ? NULL : err);
	if (!g) {
		log_msg(LOG_ERROR, "reload failed, still serving generation %d: %s",
			m.gen->number, err);
		return;
	}
	/* The new generation's workers inherit the access log as the new file says. */
	if (access_open(&g->cfg) < 0)
		log_msg(LOG_ERROR, "access_log %s: %s; the access log stays as it was",
			g->cfg.access_log, strerror(errno));
	if (!same_listeners(&g->cfg, &m.gen->cfg))
		log_msg(LOG_WARNING, "listen changed: that takes a restart; the sockets "
			"opened at start serve on");
	m.next = g;
	m.fast_exits = 0;
	m.next_spawn_ms = 0;
}

/*
 * The new generation is ready when all its first workers serve: then the
 * old generation is stopped.  If they die at start instead (a module
 * whose init fails), the reload is abandoned and the old workers serve on.
 */
static void finish_reload(void)
{
	struct generation *g = m.next;
	int want = initial_workers(&g->cfg), ok = 0;

	for (int i = 0; i < m.top; i++)
		if (m.slots[i].gen == g && ready(i))
			ok++;
	if (m.fast_exits >= 3 && ok < want) {
		log_msg(LOG_ERROR, "reload failed: the workers of generation %d die at start; "
			"still serving generation %d", g->number, m.gen->number);
		for (int i = 0; i < m.top; i++)
			if (m.slots[i].gen == g)
				stop_worker(i, "abandoned reload");
		m.next = NULL;
		m.fast_exits = 0;
		m.next_spawn_ms = 0;
		m.sd.ready = 0;	/* READY=1 again: the old generation serves on */
		return;
	}
	if (ok < want)
		return;
	/* The new generation is in service before the old one is told to
	 * leave, so that the connections the old one hands back go to it. */
	g->older = m.gen;
	m.gen = g;
	for (int i = 0; i < m.top; i++)
		if (m.slots[i].pid && m.slots[i].gen != g)
			stop_worker(i, "reloaded");
	log_msg(LOG_NOTICE, "generation %d serves (%d workers); generation %d is leaving",
		g->number, want, g->older->number);
	m.dev_fd = dev_master_watch(g);
	m.want = want;
	m.next = NULL;
	publish_pool(g);
	scoreboard_pool()->reloads++;
}

/* ---- Stopping ------------------------------------------------------- */

static void begin_stop(int sig)
{
	long long grace = sig == SIGINT ? FAST_STOP_MS : m.gen->cfg.limits.shutdown_timeout * 1000LL;

	if (m.stopping)
		return;
	log_msg(LOG_NOTICE, "SIG%s received: stopping; workers finish the request in hand "
		"(up to %lld ms)", sigabbrev_np(sig), grace);
	m.stopping = 1;
	m.stop_deadline = io_now_ms() + grace;
	systemd_stopping();
	for (int i = 0; i < m.top; i++)
		if (m.slots[i].pid && scoreboard_slot(i)->program) {
			stop_program(i, grace);
		} else if (m.slots[i].pid) {
			m.slots[i].stopping = 1;
			kill(m.slots[i].pid, SIGTERM);
		}
}

static void kill_remaining(void)
{
	log_msg(LOG_WARNING, "%d worker(s) still busy after the grace period; killing them",
		running());
	for (int i = 0; i < m.top; i++)
		if (m.slots[i].pid)
			kill(m.slots[i].pid, SIGKILL);
	m.stop_deadline = io_now_ms() + 60000;
}

/* ---- Log rotation --------------------------------------------------- */

/* The slow log, opened again under the same descriptor number. */
static int reopen_slowlog(void)
{
	return m.slowlog_fd < 0 ? 0 : log_reopen_onto(m.slowlog_fd, m.gen->cfg.slowlog);
}

/* Give every live worker the new descriptor of log `which`. */
static void tell_workers(enum handoff_log which, int fd)
{
	struct handoff_msg msg = { .type = HM_REOPEN, .slot = which };

	for (int i = 0; i < m.top; i++)
		if (m.slots[i].pid && holder_tell(i, &msg, fd) < 0)
			log_msg(LOG_WARNING, "worker %d (pid %d): cannot pass it the reopened "
				"%s: %s; it writes to the old file until it is replaced", i + 1,
				(int)m.slots[i].pid, which == HL_ERROR_LOG ? "error_log" : "access_log",
				strerror(errno));
}

/*
 * SIGUSR1, php-fpm's convention: open error_log, access_log and slowlog
 * again, after logrotate (or an operator) moved them away.  Workers get
 * the new descriptors over their control pairs, not a signal: a handler
 * never sees one, and a worker running as another user could not open a
 * root-owned file.  Until a worker has its message, its lines go to the
 * old file, which logrotate keeps until the next rotation: no line is
 * lost or written twice.  A file that cannot be opened leaves that log
 * where it was.
 */
static void reopen_logs(void)
{
	if (log_reopen() < 0)
		log_msg(LOG_ERROR, "SIGUSR1: cannot reopen error_log: %s", strerror(errno));
	else if (log_file_fd() >= 0)
		tell_workers(HL_ERROR_LOG, log_file_fd());
	if (access_reopen() < 0)
		log_msg(LOG_ERROR, "SIGUSR1: cannot reopen access_log: %s", strerror(errno));
	else if (access_fd() >= 0)
		tell_workers(HL_ACCESS_LOG, access_fd());
	if (reopen_slowlog() < 0)
		log_msg(LOG_ERROR, "SIGUSR1: cannot reopen slowlog %s: %s", m.gen->cfg.slowlog,
			strerror(errno));
	log_msg(LOG_NOTICE, "SIGUSR1 received: logs reopened");
}

static void handle_signals(void)
{
	int sig;

	while ((sig = selfpipe_next()) > 0) {
		if (sig == SIGCHLD)
			reap();
		else if (sig == SIGHUP)
			master_reload("SIGHUP");
		else if (sig == SIGUSR1)
			reopen_logs();
		else
			begin_stop(sig);
	}
}

/* ---- The loop ------------------------------------------------------- */

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* "max active processes": the most workers seen busy at one tick. */
static void note_max_active(void)
{
	struct pool_score *p = scoreboard_pool();
	int busy = 0;

	for (int i = 0; i < m.top; i++)
		busy += m.slots[i].pid && scoreboard_slot(i)->state == SCORE_BUSY;
	if (busy > p->max_active)
		p->max_active = busy;
}

/*
 * systemd: READY=1 once the generation in service has its first workers
 * serving (again after a reload), a STATUS= line when the counts change,
 * and the watchdog ping while this loop runs.
 */
static void tell_systemd(long long now)
{
	int idle = 0, busy = 0;
	char status[sizeof(m.sd.status)];

	for (int i = 0; i < m.top; i++) {
		int st = scoreboard_slot(i)->state;

		if (!m.slots[i].pid)
			continue;
		idle += st == SCORE_IDLE;
		busy += st == SCORE_BUSY;
	}
	snprintf(status, sizeof(status), "generation %d: %d workers, %d idle, %d busy",
		 m.gen->number, running(), idle, busy);
	systemd_tell(&m.sd, !m.next && idle + busy >= initial_workers(&m.gen->cfg), status, now);
}

/*
 * "sluice: master (generation 3, 4 workers) -c /etc/sluice/sluice.conf",
 * rewritten when it changes.  The config file tells apart the masters
 * of several pools on one machine, as php-fpm's title does.
 */
static void retitle(void)
{
	static int shown_gen = -1, shown_workers = -1;
	char title[64];
	int n = running();

	if (m.gen->number == shown_gen && n == shown_workers)
		return;
	shown_gen = m.gen->number;
	shown_workers = n;
	snprintf(title, sizeof(title), "master (generation %d, %d worker%s) -c ", shown_gen, n,
		 n == 1 ? "" : "s");
	proctitle_set(title, m.gen->cfg.file, NULL);
}

/*
 * How soon to look again for a handler past STEAL_AFTER_MS.  While the
 * pool is in use (a request running, or one served within
 * DOZE_AFTER_MS): when the soonest running handler passes it, or, with
 * none running, STEAL_AFTER_MS from now, since a handler that starts
 * later cannot pass it sooner.  Each look is a wake-up of the master,
 * which costs about what a few requests do, so they are not spent at a
 * fixed rate.  Otherwise not at all (-1): the master dozes, and says so
 * in the scoreboard, so that the next request to start wakes it.  The
 * flag is set before the last look at the workers and a worker marks
 * itself busy before it looks at the flag (both with full barriers), so
 * a request that starts meanwhile is seen by one or the other.
 */
static int steal_timeout(long long now)
{
	struct pool_score *p = scoreboard_pool();
	unsigned long long served = 0;
	long long soonest = STEAL_AFTER_MS;
	int busy = 0;

	/* A program's connections are its own: nothing to take from it. */
	for (int i = 0; i < m.top; i++)
		if (m.slots[i].pid && !scoreboard_slot(i)->program) {
			long long due = steal_due(i, now);

			busy |= scoreboard_slot(i)->state == SCORE_BUSY;
			served += scoreboard_slot(i)->requests;
			if (due > 0 && due < soonest)
				soonest = due;
		}
	if (busy || served != m.served_seen) {
		m.served_seen = served;
		m.in_use_until_ms = now + DOZE_AFTER_MS;
	}
	if (now < m.in_use_until_ms)
		return (int)soonest;
	__atomic_store_n(&p->master_dozing, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < m.top; i++)
		if (m.slots[i].pid && scoreboard_slot(i)->state == SCORE_BUSY &&
		    !scoreboard_slot(i)->program) {
			__atomic_store_n(&p->master_dozing, 0, __ATOMIC_SEQ_CST);
			return (int)soonest;
		}
	return -1;
}

/* Everything time-driven; returns how long the loop may sleep. */
static int tick(long long *last_tick)
{
	long long now = io_now_ms(), watchdog;
	int timeout, tick_due = now - *last_tick >= MAINTENANCE_TICK_MS;
	int watch = watch_programs(now, tick_due);

	if (m.stopping) {
		long long left = m.stop_deadline - now;

		if (left <= 0)
			kill_remaining();
		return min_timeout(left <= 0 ? 1000 : (int)left, watch);
	}
	if (tick_due) {
		*last_tick = now;
		check_lifetimes(now);
		if (at_max_children)
			at_max_children--;
		note_max_active();
		size_pool(now);
		check_timeouts(now);
		check_rss(now);
		retry_recycles(now);
	}
	finish_replacements();
	if (m.next)
		finish_reload();
	take_from_stuck(now);
	if (holder_dispatch() > 0 && !m.stopping && m.gen->cfg.pm.mode == PM_ONDEMAND &&
	    now >= m.demand_wait_ms)
		on_demand(now);
	tell_systemd(now);
	retitle();
	spawn_status(now);
	timeout = min_timeout(top_up(now), MAINTENANCE_TICK_MS);
	timeout = min_timeout(timeout, watch);
	for (int i = 0; i < m.top; i++)
		if (m.slots[i].pid && m.slots[i].replacing > 0)
			timeout = min_timeout(timeout, READY_POLL_MS);
	if (m.next || !m.sd.ready)
		timeout = min_timeout(timeout, READY_POLL_MS);
	timeout = min_timeout(timeout, steal_timeout(now));
	watchdog = systemd_watchdog_due(&m.sd, now);
	if (watchdog >= 0)
		timeout = min_timeout(timeout, (int)watchdog);
	return timeout;
}

/*
 * The master holds a duplicate of every kept-alive connection of every
 * worker: lift the soft descriptor limit to the hard one.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &fd_limit) < 0)
		return;
	rl = fd_limit;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* "sluice: ", or in a pool of several, "sluice: www ". */
static void title_prefix(const struct sl_config *cfg)
{
	char prefix[POOL_NAME_MAX + 16];

	snprintf(prefix, sizeof(prefix), "sluice: %s%s", cfg->pool ? cfg->pool : "",
		 cfg->pool ? " " : "");
	proctitle_prefix(prefix);
}

int master_run(struct generation *gen, const struct listener *ls, int nls,
	       const struct listener *status)
{
	long long last_tick = 0;

	m.gen = gen;
	m.listeners = ls;
	m.nlisteners = nls;
	m.status_sock = status;
	m.want = initial_workers(&gen->cfg);
	m.slowlog_fd = -1;
	if (gen->cfg.slowlog) {
		m.slowlog_fd = open(gen->cfg.slowlog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (m.slowlog_fd < 0)
			log_msg(LOG_ERROR, "slowlog %s: %s; slow requests go to the error log",
				gen->cfg.slowlog, strerror(errno));
	}
	raise_fd_limit();
	if (scoreboard_init() < 0 || setup_signals() < 0 || holder_init(pick_worker) < 0 ||
	    output_init() < 0) {
		log_msg(LOG_ERROR, "master: cannot start: %s", strerror(errno));
		return 1;
	}
	crash_warm();	/* once here, not in every worker */
	scoreboard_pool()->start_time = (long long)time(NULL);
	publish_pool(gen);
	m.dev_fd = dev_master_watch(gen);
	m.sd.watchdog_ms = systemd_watchdog_interval_ms();
	title_prefix(&gen->cfg);
	while (!m.stopping || running() > 0) {
		struct pollfd p[5 + MAX_LISTEN] = {
			{ .fd = selfpipe_fd(), .events = POLLIN },
			{ .fd = m.notify_fds[0], .events = POLLIN },
			{ .fd = m.stopping ? -1 : m.dev_fd, .events = POLLIN },
			{ .fd = holder_fd(), .events = POLLIN },
			{ .fd = output_fd(), .events = POLLIN },
		};
		int timeout = tick(&last_tick), demand;

		/* ondemand: a waiting connection is what starts a worker. */
		demand = !m.stopping && m.gen->cfg.pm.mode == PM_ONDEMAND &&
			 io_now_ms() >= m.demand_wait_ms;
		for (int i = 0; i < m.nlisteners; i++)
			p[5 + i] = (struct pollfd){ .fd = demand ? m.listeners[i].fd : -1,
						    .events = POLLIN };
		int ready = poll(p, (nfds_t)(5 + m.nlisteners), timeout);

		__atomic_store_n(&scoreboard_pool()->master_dozing, 0, __ATOMIC_RELAXED);
		if (ready <= 0)
			continue;
		if (p[0].revents)
			handle_signals();
		if (p[1].revents)
			read_notifications(io_now_ms());
		if (p[2].revents && dev_master_changed())
			master_reload("a module file changed");
		if (p[3].revents)
			holder_events();
		if (p[4].revents)
			output_events();
		for (int i = 0; i < m.nlisteners; i++)
			if (p[5 + i].revents)
				on_demand(io_now_ms());
	}
	dev_master_stop();
	stop_status();
	listen_cleanup(m.listeners, m.nlisteners);
	if (m.status_sock)
		listen_cleanup(m.status_sock, 1);
	log_msg(LOG_NOTICE, "stopped");
	return 0;
}
