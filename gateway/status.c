/*
 * status.c - the status responder.  See status.h.
 *
 * It drives the same FastCGI codec and the same request code as a worker,
 * with a router of four built-in handlers, one connection at a time:
 * every answer is built from shared memory in microseconds, and a peer
 * that stalls is dropped after STATUS_IO_MS.  Everything it shows is read
 * without locks; a counter may be one request behind another.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "io.h"
#include "listen.h"
#include "log.h"
#include "proto.h"
#include "request.h"
#include "router.h"
#include "scoreboard.h"
#include "stats.h"
#include "status.h"
#include "worker.h"

/* A status peer gets this long to send its request and take the answer. */
#define STATUS_IO_MS 1000

/* The responder's nice value (workers run at 0). */
#define STATUS_NICE -10

/* The listen queues are sampled this often, for "max listen queue". */
#define QUEUE_SAMPLE_MS 1000

static struct {
	const struct status_args *args;
	struct router router;
	struct sl_request req;
	unsigned max_queue[MAX_LISTEN];
	int openmetrics;		/* the metrics being written are OpenMetrics 1.0 */
} s;

static const char *const state_names[] = {
	[SCORE_FREE] = "free", [SCORE_STARTING] = "starting", [SCORE_IDLE] = "idle",
	[SCORE_BUSY] = "busy", [SCORE_STOPPING] = "stopping",
};

/* ---- What is shown -------------------------------------------------- */

struct worker_view {
	int index;
	pid_t pid;
	int state;
	int generation;
	unsigned long long requests;
	const char *route;
	long long duration_ms;		/* of the request in hand, else of the last one */
	double cpu_s;
	long long rss;			/* bytes; -1: unknown */
	int program;			/* a supervised program: its requests are unseen */
};

struct queue_view {
	unsigned queued, backlog, max;
	int known;
};

struct view {
	struct pool_score pool;
	int idle, active, starting, stopping, total, ready;
	unsigned long long accepted;
	struct queue_view q[MAX_LISTEN];
	struct worker_view w[SCOREBOARD_SLOTS];
	int nw;
};

/* User plus system CPU seconds and resident bytes of `pid`, from /proc. */
static void proc_usage(pid_t pid, double *cpu, long long *rss)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long long pages, res;
	FILE *f;

	*cpu = 0;
	*rss = -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re"))) {
		/* Fields 14 and 15 (utime, stime), counted after the ")" of the name. */
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			   &ut, &st) == 2)
			*cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%lld %lld", &pages, &res) == 2)
			*rss = res * sysconf(_SC_PAGESIZE);
		fclose(f);
	}
}

static void sample_queues(void)
{
	for (int i = 0; i < s.args->npool; i++) {
		unsigned q, b;

		if (listen_queue(s.args->pool[i].fd, &q, &b) == 0 && q > s.max_queue[i])
			s.max_queue[i] = q;
	}
}

static void view_worker(struct view *v, int i, const struct score *sc, long long now)
{
	struct worker_view *w = &v->w[v->nw++];
	const struct route_stats *e = stats_entry(sc->route);

	w->index = i;
	w->pid = sc->pid;
	w->state = sc->state >= SCORE_FREE && sc->state <= SCORE_STOPPING ? sc->state : SCORE_FREE;
	w->generation = sc->generation;
	w->requests = sc->requests;
	w->route = sc->requests == 0 && w->state != SCORE_BUSY ? "-" : e ? e->name : "-";
	w->duration_ms = w->state == SCORE_BUSY ? now - sc->req_start_ms : sc->last_us / 1000;
	w->program = sc->program;
	proc_usage(sc->pid, &w->cpu_s, &w->rss);
}

static void take_view(struct view *v, int with_workers)
{
	long long now = io_now_ms();

	memset(v, 0, sizeof(*v));
	v->pool = *scoreboard_pool();
	for (int i = 0; i < SCOREBOARD_SLOTS; i++) {
		struct score sc = *scoreboard_slot(i);

		if (!sc.pid)
			continue;
		v->total++;
		v->idle += sc.state == SCORE_IDLE;
		v->active += sc.state == SCORE_BUSY;
		v->starting += sc.state == SCORE_STARTING;
		v->stopping += sc.state == SCORE_STOPPING;
		v->ready += sc.generation == v->pool.generation &&
			    (sc.state == SCORE_IDLE || sc.state == SCORE_BUSY);
		if (with_workers)
			view_worker(v, i, &sc, now);
	}
	for (int i = 0; i < STATS_ROUTES; i++) {
		const struct route_stats *e = stats_entry(i);

		for (int c = 0; e && c < 5; c++)
			v->accepted += e->by_class[c];
	}
	sample_queues();
	for (int i = 0; i < s.args->npool; i++) {
		struct queue_view *q = &v->q[i];

		q->known = listen_queue(s.args->pool[i].fd, &q->queued, &q->backlog) == 0;
		q->max = s.max_queue[i];
	}
}

static const char *pm_name(int mode)
{
	return mode == PM_DYNAMIC ? "dynamic" : mode == PM_ONDEMAND ? "ondemand" : "static";
}

/*
 * The pool's name: its own in a file with pools, else the config file's
 * name without folder or extension.
 */
static void pool_name(char *buf, size_t len)
{
	const char *f = strrchr(s.args->cfg->file, '/');
	char *dot;

	if (s.args->cfg->pool) {
		snprintf(buf, len, "%s", s.args->cfg->pool);
		return;
	}
	snprintf(buf, len, "%s", f ? f + 1 : s.args->cfg->file);
	if ((dot = strrchr(buf, '.')) && dot != buf)
		*dot = '\0';
}

/* Sums over the listeners, as php-fpm's one-socket fields. */
static void queue_totals(const struct view *v, unsigned long long t[3])
{
	t[0] = t[1] = t[2] = 0;
	for (int i = 0; i < s.args->npool; i++) {
		t[0] += v->q[i].queued;
		t[1] += v->q[i].max;
		t[2] += v->q[i].backlog;
	}
}

/* ---- Text ----------------------------------------------------------- */

static void text_pool(struct sl_request *r, const struct view *v)
{
	char name[64], started[64];
	time_t t = (time_t)v->pool.start_time;
	unsigned long long q[3];
	struct tm tm;

	pool_name(name, sizeof(name));
	localtime_r(&t, &tm);
	strftime(started, sizeof(started), "%d/%b/%Y:%H:%M:%S %z", &tm);
	queue_totals(v, q);
	sl_printf(r, "pool:                 %s\n"
		  "process manager:      %s\n"
		  "start time:           %s\n"
		  "start since:          %lld\n"
		  "accepted conn:        %llu\n"
		  "listen queue:         %llu\n"
		  "max listen queue:     %llu\n"
		  "listen queue len:     %llu\n"
		  "idle processes:       %d\n"
		  "active processes:     %d\n"
		  "total processes:      %d\n"
		  "max active processes: %d\n"
		  "max children reached: %llu\n"
		  "slow requests:        %llu\n"
		  "generation:           %d\n"
		  "reloads:              %llu\n"
		  "crashes:              %llu\n"
		  "terminate timeouts:   %llu\n"
		  "recycles:             %llu\n"
		  "refused clients:      %llu\n",
		  name, pm_name(v->pool.pm_mode), started,
		  (long long)time(NULL) - v->pool.start_time, v->accepted, q[0], q[1], q[2],
		  v->idle, v->active, v->total, v->pool.max_active,
		  v->pool.max_children_reached, v->pool.slow_requests, v->pool.generation,
		  v->pool.reloads, v->pool.crashes, v->pool.terminate_timeouts,
		  v->pool.recycles, v->pool.refused_clients);
}

static void text_workers(struct sl_request *r, const struct view *v)
{
	sl_printf(r, "\n%-6s %-8s %-4s %-8s %10s %10s %8s %10s  %s\n", "worker", "pid", "gen",
		  "state", "requests", "duration", "cpu", "rss", "route");
	for (int i = 0; i < v->nw; i++) {
		const struct worker_view *w = &v->w[i];

		/* A program accepts its own connections: what it served is unseen. */
		if (w->program) {
			sl_printf(r, "%-6d %-8d %-4d %-8s %10s %10s %7.2fs %8lldkB  %s\n",
				  w->index + 1, (int)w->pid, w->generation, state_names[w->state],
				  "-", "-", w->cpu_s, w->rss < 0 ? -1 : w->rss >> 10, "(program)");
			continue;
		}
		sl_printf(r, "%-6d %-8d %-4d %-8s %10llu %8lldms %7.2fs %8lldkB  %s\n",
			  w->index + 1, (int)w->pid, w->generation, state_names[w->state],
			  w->requests, w->duration_ms, w->cpu_s, w->rss < 0 ? -1 : w->rss >> 10,
			  w->route);
	}
}

/* ---- JSON ----------------------------------------------------------- */

static void json_string(struct sl_request *r, const char *str)
{
	sl_puts(r, "\"");
	for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
		if (*p == '"' || *p == '\\')
			sl_printf(r, "\\%c", *p);
		else if (*p < 0x20)
			sl_printf(r, "\\u%04x", *p);
		else
			sl_write(r, p, 1);
	}
	sl_puts(r, "\"");
}

static void json_pool(struct sl_request *r, const struct view *v)
{
	char name[64];
	unsigned long long q[3];

	pool_name(name, sizeof(name));
	queue_totals(v, q);
	sl_puts(r, "{\"pool\":");
	json_string(r, name);
	sl_printf(r, ",\"process manager\":\"%s\",\"start time\":%lld,\"start since\":%lld,"
		  "\"accepted conn\":%llu,\"listen queue\":%llu,\"max listen queue\":%llu,"
		  "\"listen queue len\":%llu,\"idle processes\":%d,\"active processes\":%d,"
		  "\"total processes\":%d,\"max active processes\":%d,"
		  "\"max children reached\":%llu,\"slow requests\":%llu,\"generation\":%d,"
		  "\"reloads\":%llu,\"crashes\":%llu,\"terminate timeouts\":%llu,"
		  "\"recycles\":%llu,\"refused clients\":%llu,\"ready\":%s",
		  pm_name(v->pool.pm_mode), v->pool.start_time,
		  (long long)time(NULL) - v->pool.start_time, v->accepted, q[0], q[1], q[2],
		  v->idle, v->active, v->total, v->pool.max_active,
		  v->pool.max_children_reached, v->pool.slow_requests, v->pool.generation,
		  v->pool.reloads, v->pool.crashes, v->pool.terminate_timeouts,
		  v->pool.recycles, v->pool.refused_clients, v->ready ? "true" : "false");
}

static void json_workers(struct sl_request *r, const struct view *v)
{
	sl_puts(r, ",\"processes\":[");
	for (int i = 0; i < v->nw; i++) {
		const struct worker_view *w = &v->w[i];

		sl_printf(r, "%s{\"worker\":%d,\"pid\":%d,\"generation\":%d,\"state\":\"%s\",",
			  i ? "," : "", w->index + 1, (int)w->pid, w->generation,
			  state_names[w->state]);
		if (w->program) {
			sl_puts(r, "\"program\":true,\"requests\":null,\"route\":null,"
				"\"request duration ms\":null");
		} else {
			sl_printf(r, "\"requests\":%llu,\"route\":", w->requests);
			json_string(r, w->route);
			sl_printf(r, ",\"request duration ms\":%lld", w->duration_ms);
		}
		sl_printf(r, ",\"cpu seconds\":%.2f,\"rss bytes\":%lld}", w->cpu_s, w->rss);
	}
	sl_puts(r, "]}\n");
}

static int h_status(struct sl_request *r)
{
	const char *q = sl_query(r);
	static struct view v;

	take_view(&v, 1);
	if (q && strstr(q, "json")) {
		sl_add_header(r, "Content-Type", "application/json");
		json_pool(r, &v);
		json_workers(r, &v);
	} else {
		text_pool(r, &v);
		text_workers(r, &v);
	}
	return 0;
}

/* ---- Prometheus and OpenMetrics -------------------------------------- */

/*
 * The two formats differ only in the metadata and the end: OpenMetrics
 * names a counter's family without "_total" (its samples keep it), may
 * give a family's unit, and ends with "# EOF".
 */

/* A label value, escaped as the exposition format asks (\\, \", \n). */
static void label(struct sl_request *r, const char *str)
{
	for (const char *p = str; *p; p++) {
		if (*p == '\\' || *p == '"')
			sl_printf(r, "\\%c", *p);
		else if (*p == '\n')
			sl_puts(r, "\\n");
		else
			sl_write(r, p, 1);
	}
}

/* `name`: the family's name, a counter's without "_total"; `unit` may be NULL. */
static void family(struct sl_request *r, const char *name, const char *type, const char *unit,
		   const char *help)
{
	const char *total = !s.openmetrics && strcmp(type, "counter") == 0 ? "_total" : "";

	sl_printf(r, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, total, help, name, total, type);
	if (s.openmetrics && unit)
		sl_printf(r, "# UNIT %s %s\n", name, unit);
}

static void metric(struct sl_request *r, const char *name, const char *type, const char *unit,
		   const char *help, unsigned long long value)
{
	family(r, name, type, unit, help);
	sl_printf(r, "%s%s %llu\n", name, strcmp(type, "counter") == 0 ? "_total" : "", value);
}

/* A route entry counts when it has a name and has seen a request. */
static int counted(const struct route_stats *e)
{
	unsigned long long n = 0;

	for (int c = 0; c < 5; c++)
		n += e->by_class[c];
	return e->name[0] && n > 0;
}

static void metrics_requests(struct sl_request *r)
{
	family(r, "sluice_requests", "counter", NULL,
	       "Requests answered, by route pattern and status class.");
	for (int i = 0; i < STATS_ROUTES; i++) {
		const struct route_stats *e = stats_entry(i);

		if (!e || !counted(e))
			continue;
		for (int c = 0; c < 5; c++) {
			sl_puts(r, "sluice_requests_total{route=\"");
			label(r, e->name);
			sl_printf(r, "\",code=\"%dxx\"} %llu\n", c + 1, e->by_class[c]);
		}
	}
}

static void histogram(struct sl_request *r, const struct route_stats *e)
{
	unsigned long long cum = 0;

	for (int b = 0; b <= STATS_BUCKETS; b++) {
		cum += e->le[b];
		sl_puts(r, "sluice_request_duration_seconds_bucket{route=\"");
		label(r, e->name);
		if (b < STATS_BUCKETS)
			sl_printf(r, "\",le=\"%g\"} %llu\n", stats_bounds[b], cum);
		else
			sl_printf(r, "\",le=\"+Inf\"} %llu\n", cum);
	}
	sl_puts(r, "sluice_request_duration_seconds_sum{route=\"");
	label(r, e->name);
	sl_printf(r, "\"} %.6f\n", (double)e->sum_us / 1e6);
	sl_puts(r, "sluice_request_duration_seconds_count{route=\"");
	label(r, e->name);
	sl_printf(r, "\"} %llu\n", cum);
}

static void metrics_durations(struct sl_request *r)
{
	family(r, "sluice_request_duration_seconds", "histogram", "seconds",
	       "Time from a request's start to the end of its response, by route pattern.");
	for (int i = 0; i < STATS_ROUTES; i++) {
		const struct route_stats *e = stats_entry(i);

		if (e && counted(e))
			histogram(r, e);
	}
}

static void metrics_pool(struct sl_request *r, const struct view *v)
{
	family(r, "sluice_workers", "gauge", NULL, "Worker processes, by state.");
	sl_printf(r, "sluice_workers{state=\"starting\"} %d\nsluice_workers{state=\"idle\"} %d\n"
		  "sluice_workers{state=\"busy\"} %d\nsluice_workers{state=\"stopping\"} %d\n",
		  v->starting, v->idle, v->active, v->stopping);
	family(r, "sluice_listen_queue", "gauge", NULL,
	       "Connections waiting in a listening socket's accept queue.");
	for (int i = 0; i < s.args->npool; i++) {
		sl_puts(r, "sluice_listen_queue{listener=\"");
		label(r, s.args->pool[i].address);
		sl_printf(r, "\"} %u\n", v->q[i].queued);
	}
	family(r, "sluice_listen_queue_max", "gauge", NULL,
	       "Most connections seen waiting in the accept queue since the status responder started.");
	for (int i = 0; i < s.args->npool; i++) {
		sl_puts(r, "sluice_listen_queue_max{listener=\"");
		label(r, s.args->pool[i].address);
		sl_printf(r, "\"} %u\n", v->q[i].max);
	}
	family(r, "sluice_listen_backlog", "gauge", NULL, "The accept queue's length limit.");
	for (int i = 0; i < s.args->npool; i++) {
		sl_puts(r, "sluice_listen_backlog{listener=\"");
		label(r, s.args->pool[i].address);
		sl_printf(r, "\"} %u\n", v->q[i].backlog);
	}
	metric(r, "sluice_generation", "gauge", NULL, "The generation in service (1, then +1 a reload).",
	       (unsigned long long)v->pool.generation);
	metric(r, "sluice_start_time_seconds", "gauge", "seconds", "When the master started, in Unix time.",
	       (unsigned long long)v->pool.start_time);
	metric(r, "sluice_max_active_workers", "gauge", NULL, "Most workers seen busy at once.",
	       (unsigned long long)v->pool.max_active);
	metric(r, "sluice_worker_crashes", "counter", NULL, "Workers that died of a signal.",
	       v->pool.crashes);
	metric(r, "sluice_request_timeouts", "counter", NULL,
	       "Requests stopped by request_terminate_timeout.", v->pool.terminate_timeouts);
	metric(r, "sluice_slow_requests", "counter", NULL,
	       "Requests that ran past request_slowlog_timeout.", v->pool.slow_requests);
	metric(r, "sluice_reloads", "counter", NULL, "Reloads that put a new generation in service.",
	       v->pool.reloads);
	metric(r, "sluice_recycles", "counter", NULL,
	       "Workers replaced for pm.max_requests or pm.reload_on_rss.", v->pool.recycles);
	metric(r, "sluice_max_children_reached", "counter", NULL,
	       "Times the pool wanted a worker more than pm.max_children allows.",
	       v->pool.max_children_reached);
	metric(r, "sluice_refused_clients", "counter", NULL,
	       "Connections closed by listen.allowed_clients.", v->pool.refused_clients);
}

/*
 * Each worker's CPU time and resident memory, read from /proc here and
 * not by the worker: its request path makes no system call to count.  A
 * slot's new process starts its counter again from zero, which a
 * counter's reader takes as a reset.
 */
static void metrics_workers(struct sl_request *r, const struct view *v)
{
	family(r, "sluice_worker_cpu_seconds", "counter", "seconds",
	       "CPU time (user and system) of the worker process, from /proc.");
	for (int i = 0; i < v->nw; i++)
		sl_printf(r, "sluice_worker_cpu_seconds_total{worker=\"%d\"} %.2f\n",
			  v->w[i].index + 1, v->w[i].cpu_s);
	family(r, "sluice_worker_resident_memory_bytes", "gauge", "bytes",
	       "Resident memory of the worker process, from /proc.");
	for (int i = 0; i < v->nw; i++)
		if (v->w[i].rss >= 0)
			sl_printf(r, "sluice_worker_resident_memory_bytes{worker=\"%d\"} %lld\n",
				  v->w[i].index + 1, v->w[i].rss);
}

/* Skip blanks (HTTP's OWS) at `p`. */
static const char *ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * Whether one media range of an Accept header (`p`, `len` bytes) takes
 * OpenMetrics 1.0: its type, a version of 1.0.0 or none (0.0.1 was the
 * same text under its draft name), and a q above zero.
 */
static int takes_openmetrics(const char *p, size_t len)
{
	static const char type[] = "application/openmetrics-text";
	char range[256], *param, *save;

	snprintf(range, sizeof(range), "%.*s", (int)len, ows(p));
	param = strtok_r(range, ";", &save);
	if (!param || strncasecmp(param, type, sizeof(type) - 1) != 0 ||
	    *ows(param + sizeof(type) - 1))
		return 0;
	while ((param = strtok_r(NULL, ";", &save))) {
		const char *kv = ows(param);

		if (strncasecmp(kv, "q=", 2) == 0 && strtod(kv + 2, NULL) <= 0)
			return 0;
		if (strncasecmp(kv, "version=", 8) == 0 &&
		    strncmp(kv + 8, "1.0.0", 5) != 0 && strncmp(kv + 8, "0.0.1", 5) != 0)
			return 0;
	}
	return 1;
}

/* Whether the scraper's Accept header asks for OpenMetrics (Prometheus does). */
static int wants_openmetrics(const struct sl_request *r)
{
	const char *accept = sl_param(r, "HTTP_ACCEPT");

	for (const char *p = accept; p && *p;) {
		size_t len = strcspn(p, ",");

		if (takes_openmetrics(p, len))
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

static int h_metrics(struct sl_request *r)
{
	static struct view v;

	take_view(&v, 1);
	s.openmetrics = wants_openmetrics(r);
	sl_add_header(r, "Content-Type", s.openmetrics ?
		      "application/openmetrics-text; version=1.0.0; charset=utf-8" :
		      "text/plain; version=0.0.4; charset=utf-8");
	metrics_requests(r);
	metrics_durations(r);
	metrics_pool(r, &v);
	metrics_workers(r, &v);
	if (s.openmetrics)
		sl_puts(r, "# EOF\n");
	return 0;
}

/* ---- Ping and readiness --------------------------------------------- */

static int h_ping(struct sl_request *r)
{
	return sl_puts(r, "pong\n");
}

static int h_ready(struct sl_request *r)
{
	static struct view v;

	take_view(&v, 0);
	if (v.ready)
		return sl_printf(r, "ready: %d worker(s) of generation %d\n", v.ready,
				 v.pool.generation);
	sl_set_status(r, 503);
	return sl_printf(r, "not ready: no worker of generation %d is serving\n",
			 v.pool.generation);
}

/* ---- The loop ------------------------------------------------------- */

/* Wait for `events` on `fd` until `deadline`; 0 when ready. */
static int wait_for(int fd, short events, long long deadline)
{
	return events == POLLIN ? io_wait_readable(fd, deadline) : io_wait_writable(fd, deadline);
}

/*
 * One connection: read a request, answer it, close.  The web server
 * opens a new connection for the next one (FCGI_KEEP_CONN or not: the
 * application may close after END_REQUEST, section 3.5).
 */
static void serve_one(int fd)
{
	struct conn *c = conn_get(fd, s.args->sock->proto, s.args->cfg);
	long long deadline = io_now_ms() + STATUS_IO_MS;
	enum proto_rc rc;

	if (!c) {
		close(fd);
		return;
	}
	while ((rc = c->proto->parse(c, &s.req)) == PROTO_AGAIN) {
		if (wait_for(fd, POLLIN, deadline) < 0 || conn_fill(c) <= 0)
			break;
	}
	if (rc == PROTO_REQUEST) {
		request_run(&s.req);
		c->proto->finish(c, &s.req);
	}
	while (conn_pending(c) > 0 && conn_drain(c) == 0 && conn_pending(c) > 0)
		if (wait_for(fd, POLLOUT, deadline) < 0)
			break;
	conn_put(c);
	conn_bury();
}

static int add_routes(char *err, size_t errlen)
{
	static const struct { const char *path; sl_handler h; } routes[] = {
		{ "/status", h_status }, { "/metrics", h_metrics },
		{ "/ping", h_ping }, { "/ready", h_ready },
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (router_add(&s.router, "GET", "/", routes[i].path, routes[i].h, 0,
			       err, errlen) < 0 ||
		    router_add(&s.router, "HEAD", "/", routes[i].path, routes[i].h, 0,
			       err, errlen) < 0)
			return -1;
	return 0;
}

/*
 * Only the master ends the responder: with SIGKILL when it stops, or by
 * dying (the parent-death signal).  The signals an operator or systemd
 * sends to the whole group (SIGTERM, SIGHUP, ...) are ignored, so that
 * the status answers until the master's last worker has left.
 */
static void reset_signals(void)
{
	static const int ignored[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2,
				       SIGWINCH, SIGPIPE };
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;

	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		sigaction(ignored[i], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int ours(int fd)
{
	if (fd <= STDERR_FILENO || fd == s.args->sock->fd)
		return 1;
	for (int i = 0; i < s.args->npool; i++)
		if (fd == s.args->pool[i].fd)
			return 1;
	return 0;
}

/*
 * Close every socket inherited from the master but the status socket and
 * the pool's listeners (whose queues it measures).  The master holds the
 * workers' control channels and a duplicate of every kept-alive
 * connection: a copy left open here would keep a connection alive after
 * sluice let go of it.  Files (the error log) stay.
 */
static void close_foreign_sockets(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d) || ours(fd))
			continue;
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
			close(fd);
	}
	closedir(d);
}

void status_main(const struct status_args *args)
{
	char err[256];
	long long next_sample = 0;

	s.args = args;
	log_set_ident("status");
	reset_signals();
	close_foreign_sockets();
	/* Ahead of workers that spin, when allowed: its answers take
	 * microseconds of CPU and are wanted most when the pool is stuck. */
	setpriority(PRIO_PROCESS, 0, STATUS_NICE);
	/* The workers' identity: it reads their /proc entries, nothing of
	 * root's.  The parent-death signal is set after the switch, which
	 * clears it. */
	if (worker_drop_privileges(args->cfg) < 0)
		exit(2);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != args->master)
		exit(0);
	if (conn_init() < 0 || add_routes(err, sizeof(err)) < 0 ||
	    request_init(&s.req, args->cfg, &s.router) < 0) {
		log_msg(LOG_ERROR, "status responder cannot start: %s", errno ? strerror(errno) : err);
		exit(2);
	}
	for (;;) {
		struct pollfd p = { .fd = args->sock->fd, .events = POLLIN };
		long long now = io_now_ms();
		int fd;

		if (now >= next_sample) {
			sample_queues();
			next_sample = now + QUEUE_SAMPLE_MS;
		}
		if (poll(&p, 1, QUEUE_SAMPLE_MS) <= 0)
			continue;
		fd = accept4(args->sock->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			serve_one(fd);
	}
}
