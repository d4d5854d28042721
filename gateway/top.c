/*
 * top.c - `sluice top`: a live view of the pool in a terminal.  See top.h.
 *
 * Every interval it asks the status responder for /status?json, the same
 * answer `sluice status` prints, and draws one screen: the pool, then a
 * row per worker.  Rates (requests per second, a worker's CPU share) are
 * differences between two successive answers, so the responder keeps no
 * state for it and any number of views may run.  The screen is drawn
 * with plain ANSI sequences on the alternate screen; the terminal's modes
 * are saved first and put back on every way out.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "io.h"
#include "scoreboard.h"
#include "stats.h"
#include "status_cli.h"
#include "top.h"

/* Longest line drawn; a wider terminal gets blank space past it. */
#define TOP_LINE 256

struct top_worker {
	int worker;
	int pid;
	int generation;
	char state[12];
	unsigned long long requests;
	char route[STATS_NAME];
	long long duration_ms;
	double cpu_s;
	long long rss;
	int program;		/* a supervised program: requests and route unseen */
};

struct top_sample {
	long long at_ms;
	char pool[64];
	int generation, idle, active, total;
	unsigned long long accepted;
	long long start_since, queue, max_queue, queue_len;
	struct top_worker w[SCOREBOARD_SLOTS];
	int nw;
};

static volatile sig_atomic_t got_quit, got_winch, got_tstp;

/* ---- Reading the responder's JSON ----------------------------------- */

/*
 * The status JSON is sluice's own: flat objects of numbers and strings,
 * and one array of them.  These read just that, by key, within
 * [from, to); a string value's quotes are escaped, so a key's text can
 * only match a key.
 */
static const char *json_at(const char *from, const char *to, const char *key)
{
	char pat[64];
	size_t n = (size_t)snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = memmem(from, (size_t)(to - from), pat, n);

	return p ? p + n : NULL;
}

static long long json_ll(const char *from, const char *to, const char *key)
{
	const char *p = json_at(from, to, key);

	return p ? strtoll(p, NULL, 10) : -1;
}

static double json_double(const char *from, const char *to, const char *key)
{
	const char *p = json_at(from, to, key);

	return p ? strtod(p, NULL) : 0;
}

/* A string value into `buf`; an escaped control character shows as '?'. */
static void json_str(const char *from, const char *to, const char *key, char *buf, size_t len)
{
	const char *p = json_at(from, to, key);
	size_t n = 0;

	if (p && *p == '"') {
		for (p++; *p && *p != '"' && n + 1 < len; p++) {
			if (*p == '\\' && p[1] == 'u') {
				buf[n++] = '?';
				p += 5;
				continue;
			}
			if (*p == '\\' && p[1])
				p++;
			buf[n++] = *p;
		}
	}
	buf[n] = '\0';
}

/* The end of the object that opens at `p`, past strings that hold braces. */
static const char *object_end(const char *p)
{
	for (p++; *p && *p != '}'; p++)
		if (*p == '"')
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
	return p;
}

static void read_worker(struct top_worker *w, const char *from, const char *to)
{
	w->worker = (int)json_ll(from, to, "worker");
	w->pid = (int)json_ll(from, to, "pid");
	w->generation = (int)json_ll(from, to, "generation");
	json_str(from, to, "state", w->state, sizeof(w->state));
	w->requests = (unsigned long long)json_ll(from, to, "requests");
	json_str(from, to, "route", w->route, sizeof(w->route));
	w->duration_ms = json_ll(from, to, "request duration ms");
	w->cpu_s = json_double(from, to, "cpu seconds");
	w->rss = json_ll(from, to, "rss bytes");
	w->program = json_at(from, to, "program") != NULL;
}

/* Fill `t` from the JSON `js`; -1 when it is not the status object. */
static int read_sample(struct top_sample *t, const char *js)
{
	const char *procs = strstr(js, "\"processes\":[");
	const char *p;

	if (!procs || !json_at(js, procs, "accepted conn"))
		return -1;
	json_str(js, procs, "pool", t->pool, sizeof(t->pool));
	t->generation = (int)json_ll(js, procs, "generation");
	t->idle = (int)json_ll(js, procs, "idle processes");
	t->active = (int)json_ll(js, procs, "active processes");
	t->total = (int)json_ll(js, procs, "total processes");
	t->accepted = (unsigned long long)json_ll(js, procs, "accepted conn");
	t->start_since = json_ll(js, procs, "start since");
	t->queue = json_ll(js, procs, "listen queue");
	t->max_queue = json_ll(js, procs, "max listen queue");
	t->queue_len = json_ll(js, procs, "listen queue len");
	t->nw = 0;
	for (p = strchr(procs, '['); (p = strchr(p, '{')) && t->nw < SCOREBOARD_SLOTS;) {
		const char *close = object_end(p);

		read_worker(&t->w[t->nw++], p, close);
		if (!*close)
			break;
		p = close;
	}
	return 0;
}

/* Ask the responder for a sample; -1 with the cause in `err`. */
static int take_sample(const struct sl_config *cfg, struct top_sample *t, char *err, size_t len)
{
	char *js = NULL;
	size_t jslen = 0;
	FILE *f = open_memstream(&js, &jslen);
	int status, rc = -1;

	if (!f) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	status = status_ask(cfg->status.address, "/status?json", f, err, len);
	fclose(f);
	if (status >= 0 && status != 200)
		snprintf(err, len, "status %s: answered %d", cfg->status.address, status);
	else if (status == 200 && read_sample(t, js) < 0)
		snprintf(err, len, "status %s: the answer is not sluice's status JSON",
			 cfg->status.address);
	else if (status == 200)
		rc = 0;
	t->at_ms = io_now_ms();
	free(js);
	return rc;
}

/* ---- Drawing -------------------------------------------------------- */

struct frame {
	char line[64][TOP_LINE];
	int n, max;
};

static void put(struct frame *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct frame *f, const char *fmt, ...)
{
	va_list ap;

	if (f->n >= f->max)
		return;
	va_start(ap, fmt);
	vsnprintf(f->line[f->n++], TOP_LINE, fmt, ap);
	va_end(ap);
}

static void human_ms(char *buf, size_t len, long long ms)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 10000)
		snprintf(buf, len, "%lldms", ms);
	else if (ms < 600000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000);
	else
		snprintf(buf, len, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
}

static void human_bytes(char *buf, size_t len, long long b)
{
	if (b < 0)
		snprintf(buf, len, "-");
	else if (b < 10LL << 20)
		snprintf(buf, len, "%lldK", b >> 10);
	else
		snprintf(buf, len, "%.1fM", (double)b / (1 << 20));
}

/* The worker of `prev` that is the same process as `w`, or NULL. */
static const struct top_worker *same_worker(const struct top_sample *prev,
					    const struct top_worker *w)
{
	for (int i = 0; prev && i < prev->nw; i++)
		if (prev->w[i].worker == w->worker && prev->w[i].pid == w->pid)
			return &prev->w[i];
	return NULL;
}

static void draw_header(struct frame *f, const struct top_sample *t,
			const struct top_sample *prev)
{
	char rate[32] = "-", clock[16];
	time_t now = time(NULL);
	struct tm tm;
	long long up = t->start_since;

	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (prev && t->at_ms > prev->at_ms && t->accepted >= prev->accepted)
		snprintf(rate, sizeof(rate), "%.1f", (double)(t->accepted - prev->accepted) *
			 1000.0 / (double)(t->at_ms - prev->at_ms));
	put(f, "sluice top - pool %s, generation %d, up %lldd %02lld:%02lld:%02lld    %s  (q: quit)",
	    t->pool, t->generation, up / 86400, up / 3600 % 24, up / 60 % 60, up % 60, clock);
	put(f, "workers: %d total, %d idle, %d busy   accepted: %llu   req/s: %s   "
	    "listen queue: %lld (max %lld, len %lld)", t->total, t->idle, t->active, t->accepted,
	    rate, t->queue, t->max_queue, t->queue_len);
	put(f, "%s", "");
	put(f, "%6s %8s %3s %-8s %9s %-30s %9s %5s %8s %7s", "WORKER", "PID", "GEN", "STATE",
	    "REQS", "ROUTE", "DURATION", "CPU%", "CPU", "RSS");
}

static void draw_worker(struct frame *f, const struct top_worker *w,
			const struct top_sample *t, const struct top_sample *prev)
{
	const struct top_worker *was = same_worker(prev, w);
	char dur[32], rss[32], share[32] = "-", reqs[24] = "-";

	if (w->program)
		snprintf(dur, sizeof(dur), "-");
	else
		human_ms(dur, sizeof(dur), w->duration_ms);
	if (!w->program)
		snprintf(reqs, sizeof(reqs), "%llu", w->requests);
	human_bytes(rss, sizeof(rss), w->rss);
	if (was && t->at_ms > prev->at_ms && w->cpu_s >= was->cpu_s)
		snprintf(share, sizeof(share), "%.0f", (w->cpu_s - was->cpu_s) * 100000.0 /
			 (double)(t->at_ms - prev->at_ms));
	put(f, "%6d %8d %3d %-8s %9s %-30.30s %9s %5s %7.2fs %7s", w->worker, w->pid,
	    w->generation, w->state, reqs, w->program ? "(program)" : w->route, dur, share,
	    w->cpu_s, rss);
}

/*
 * One screen into `f`: the sample `t` against the one before (`prev`,
 * NULL on the first), or the error that kept a sample from being taken.
 */
static void draw(struct frame *f, const struct top_sample *t, const struct top_sample *prev,
		 const char *err)
{
	f->n = 0;
	if (err) {
		put(f, "sluice top - %s", err);
		put(f, "retrying every interval (q: quit)");
		return;
	}
	draw_header(f, t, prev);
	for (int i = 0; i < t->nw; i++)
		draw_worker(f, &t->w[i], t, prev);
}

/* ---- The terminal --------------------------------------------------- */

static struct termios saved_modes;
static int have_modes;

static void put_tty(const char *seq)
{
	(void)!write(STDOUT_FILENO, seq, strlen(seq));
}

/* Keys one at a time, unechoed; Ctrl-C still interrupts. */
static void term_enter(void)
{
	struct termios raw;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_modes) == 0) {
		have_modes = 1;
		raw = saved_modes;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	/* The alternate screen, so that the shell's screen comes back; no cursor. */
	put_tty("\033[?1049h\033[?25l");
}

static void term_leave(void)
{
	put_tty("\033[?25h\033[?1049l");
	if (have_modes)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_modes);
}

/* Rows and columns, 24x80 when the terminal does not say. */
static void term_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* Draw `f` from the top-left corner, each line cut to the width, in one write. */
static void paint(const struct frame *f)
{
	static char out[sizeof(((struct frame *)0)->line) + 4096];
	size_t at = 0;
	int rows, cols;

	term_size(&rows, &cols);
	at += (size_t)snprintf(out + at, sizeof(out) - at, "\033[H");
	for (int i = 0; i < f->n && i < rows; i++)
		at += (size_t)snprintf(out + at, sizeof(out) - at, "%.*s\033[K%s", cols,
				       f->line[i], i + 1 < f->n && i + 1 < rows ? "\r\n" : "");
	at += (size_t)snprintf(out + at, sizeof(out) - at, "\033[J");
	(void)!write(STDOUT_FILENO, out, at < sizeof(out) ? at : sizeof(out) - 1);
}

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else if (sig == SIGTSTP)
		got_tstp = 1;
	else
		got_quit = 1;
}

/*
 * The signals the view handles, blocked but inside ppoll(), so that one
 * that comes between two checks of the flags is not slept through.
 */
static void catch_signals(sigset_t *waitmask)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, waitmask);
}

/* 1 when a key asks to quit; reads what is waiting, never blocks. */
static int quit_key(void)
{
	char keys[64];
	ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));

	for (ssize_t i = 0; i < n; i++)
		if (keys[i] == 'q' || keys[i] == 'Q')
			return 1;
	return 0;
}

/* Ctrl-Z: give the terminal back while stopped, take it again after. */
static void suspend(void)
{
	got_tstp = 0;
	term_leave();
	kill(getpid(), SIGSTOP);
	term_enter();
}

/* ---- The loop ------------------------------------------------------- */

static struct top_sample samples[2];
static struct frame frame = { .max = 64 };

/* Not a terminal: one frame as plain lines, for scripts. */
static int print_once(const struct sl_config *cfg)
{
	char err[512];

	if (take_sample(cfg, &samples[0], err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice: %s\n", err);
		return 1;
	}
	frame.n = 0;
	draw(&frame, &samples[0], NULL, NULL);
	for (int i = 0; i < frame.n; i++)
		printf("%s\n", frame.line[i]);
	return 0;
}

static void refresh(const struct sl_config *cfg, int *cur, int *have_prev)
{
	char err[512];
	int ok = take_sample(cfg, &samples[*cur], err, sizeof(err)) == 0;

	draw(&frame, &samples[*cur], *have_prev ? &samples[!*cur] : NULL, ok ? NULL : err);
	paint(&frame);
	*have_prev = ok;
	if (ok)
		*cur = !*cur;
}

int top_run(const struct sl_config *cfg, long interval_ms)
{
	int keys = isatty(STDIN_FILENO), cur = 0, have_prev = 0;
	long long next = 0;
	sigset_t waitmask;

	if (!cfg->status.address) {
		fprintf(stderr, "sluice: %s has no status.listen: the status responder is off\n",
			cfg->file);
		return 1;
	}
	if (!isatty(STDOUT_FILENO))
		return print_once(cfg);
	catch_signals(&waitmask);
	term_enter();
	while (!got_quit) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		long long now = io_now_ms();
		struct timespec ts;

		if (got_tstp)
			suspend();
		if (now >= next || got_winch) {
			got_winch = 0;
			refresh(cfg, &cur, &have_prev);
			next = io_now_ms() + interval_ms;
			now = io_now_ms();
		}
		ts.tv_sec = (next - now) / 1000;
		ts.tv_nsec = (next - now) % 1000 * 1000000;
		if (ppoll(&p, keys ? 1 : 0, &ts, &waitmask) > 0 && quit_key())
			break;
	}
	term_leave();
	return 0;
}
