/*
 * status_counters.c - the pool counters of the status responder, each
 * driven by its real cause and read back exactly, from /status?json
 * (parsed by the real jq) and from /metrics:
 *
 *	listen queue, max listen queue	connections left waiting behind two
 *					busy workers, counted by the kernel
 *					through ss(8) as well
 *	max children reached		dynamic and ondemand pools driven past
 *					pm.max_children
 *	slow requests			a request past request_slowlog_timeout
 *	terminate timeouts		a request past request_terminate_timeout
 *
 * The handlers are tests/fixtures/hang.c's /sleep?ms=N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "check.h"
#include "fcgi_client.h"
#include "harness.h"
#include "logscan.h"
#include "modules_conf.h"

#define STATUS_CONF	"status = { listen = \"unix:status.sock\"; };\n"
#define STATIC_2	"pm = { mode = \"static\"; max_children = 2; };\n"

static struct sluice_proc sp;
static char status_sock[256];

static void teardown(void)
{
	harness_sluice_stop(&sp);
}

/* ---- Requests held open ------------------------------------------------ */

/* Open a connection to the pool and send GET `uri` on it; the answer is read later. */
static void send_get(struct fcgi_conn *c, const char *uri)
{
	struct fcgi_buf params = { 0 }, req = { 0 };

	fcgi_client_params(&params, "GET", uri, NULL);
	fcgi_client_request(&req, 1, 0, &params, NULL, 0);
	cr_assert_eq(fcgi_client_open(c, sp.sock), 0, "cannot connect to %s", sp.sock);
	cr_assert_eq(fcgi_client_send(c, req.p, req.len), 0, "cannot send GET %s", uri);
	fcgi_client_buf_free(&params);
	fcgi_client_buf_free(&req);
}

/*
 * The HTTP status of the answer on `c` within `ms` (-1: none came), and
 * its CGI output into `out` (when not NULL, malloc'ed).  Closes `c`.
 */
static int answer(struct fcgi_conn *c, int ms, char **out)
{
	struct fcgi_resp rs;
	int st = -1;

	fcgi_client_read_response(c, 1, &rs, ms);
	if (rs.end == FC_R_END) {
		fcgi_client_buf_byte(&rs.out, 0);
		st = 200;
		if (strncmp((const char *)rs.out.p, "Status: ", 8) == 0)
			st = atoi((const char *)rs.out.p + 8);
		if (out)
			*out = strdup((const char *)rs.out.p);
	}
	fcgi_client_resp_free(&rs);
	fcgi_client_close(c);
	return st;
}

/* ---- The counters, as each format shows them ------------------------- */

enum { QUEUE, MAX_QUEUE, MAX_CHILDREN, SLOW, TIMEOUTS, BUSY, NCOUNTERS };

/* A value wanted that is not looked at. */
#define ANY (-1)

/* Each counter's key in /status?json and its sample in /metrics (up to its '{' or ' '). */
static const struct {
	const char *json, *metric;
} names[NCOUNTERS] = {
	[QUEUE] = { "listen queue", "sluice_listen_queue{" },
	[MAX_QUEUE] = { "max listen queue", "sluice_listen_queue_max{" },
	[MAX_CHILDREN] = { "max children reached", "sluice_max_children_reached_total " },
	[SLOW] = { "slow requests", "sluice_slow_requests_total " },
	[TIMEOUTS] = { "terminate timeouts", "sluice_request_timeouts_total " },
	[BUSY] = { "active processes", "sluice_workers{state=\"busy\"}" },
};

/* What the responder answers `uri` with, body only (malloc'ed). */
static char *status_body(const char *uri)
{
	char *out = NULL, *body;

	cr_assert_eq(harness_fcgi_get(status_sock, uri, &out), 0, "%s: %s", uri,
		     out ? out : "no answer");
	body = strstr(out, "\r\n\r\n");
	cr_assert_not_null(body, "%s: no end of head in %s", uri, out);
	memmove(out, body + 4, strlen(body + 4) + 1);
	return out;
}

/* The counters from /status?json, read by jq in one pass. */
static void json_counters(long long *v)
{
	char path[256], cmd[1024], line[256] = "";
	char *json = status_body("/status?json");
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/status.json", sp.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(json, f);
	fclose(f);
	n = (size_t)snprintf(cmd, sizeof(cmd), "jq -r '[");
	for (int i = 0; i < NCOUNTERS; i++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s.\"%s\"", i ? ", " : "",
				      names[i].json);
	snprintf(cmd + n, sizeof(cmd) - n, "] | @tsv' %s", path);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	pclose(f);
	n = 0;
	for (char *p = line, *end; n < NCOUNTERS; p = end, n++) {
		v[n] = strtoll(p, &end, 10);
		if (end == p)
			break;
	}
	cr_assert_eq(n, NCOUNTERS, "jq could not read the counters of: %s", json);
	free(json);
}

/* The value of the first sample of `name` in an exposition. */
static long long sample(const char *text, const char *name)
{
	char key[128];
	const char *at, *eol;

	snprintf(key, sizeof(key), "\n%s", name);
	at = strstr(text, key);
	cr_assert_not_null(at, "no sample %s in:\n%s", name, text);
	eol = strchr(at + 1, '\n');
	cr_assert_not_null(eol);
	while (eol > at && eol[-1] != ' ')
		eol--;
	return atoll(eol);
}

static void metrics_counters(long long *v)
{
	char *m = status_body("/metrics");

	for (int i = 0; i < NCOUNTERS; i++)
		v[i] = sample(m, names[i].metric);
	free(m);
}

/* Both formats show what `want` holds (ANY: not looked at). */
static void expect_counters(const long long *want)
{
	long long got[2][NCOUNTERS];
	static const char *const from[] = { "/status?json", "/metrics" };

	json_counters(got[0]);
	metrics_counters(got[1]);
	for (int f = 0; f < 2; f++)
		for (int i = 0; i < NCOUNTERS; i++)
			cr_expect(want[i] == ANY || got[f][i] == want[i],
				  "%s: %s is %lld, want %lld", from[f], names[i].json, got[f][i],
				  want[i]);
}

/*
 * The harness knew sluice was up when a connection to the pool was
 * accepted by the kernel: that connection waits for a worker to take it
 * (and is "max listen queue" 1 from then on).  Wait for it to be taken.
 */
static void start_settled(void)
{
	long long v[NCOUNTERS] = { [QUEUE] = 1 };

	for (long end = harness_now_ms() + 5000; harness_now_ms() < end; harness_sleep_ms(20)) {
		json_counters(v);
		if (v[QUEUE] == 0)
			return;
	}
	cr_assert_fail("the listen queue did not empty after start: %lld", v[QUEUE]);
}

static void start(const char *settings)
{
	static const char *const mods[] = { "hang /", NULL };
	cr_assert_eq(modules_conf_start(&sp, NULL, settings, mods), 0, "sluice did not start");
	snprintf(status_sock, sizeof(status_sock), "%s/status.sock", sp.dir);
	cr_assert_eq(harness_wait_socket(sp.pid, status_sock), 0, "no status socket");
	start_settled();
}

/* Wait up to 5 s for `n` workers to show busy. */
static void wait_busy(long long n)
{
	long long v[NCOUNTERS] = { 0 };

	for (long end = harness_now_ms() + 5000; harness_now_ms() < end; harness_sleep_ms(20)) {
		json_counters(v);
		if (v[BUSY] == n)
			return;
	}
	cr_assert_fail("%lld workers busy after 5 s, want %lld", v[BUSY], n);
}

/* Wait up to `ms` for "max children reached" to be `n`; the last value read. */
static long long wait_max_children(long long n, long ms)
{
	long long v[NCOUNTERS] = { 0 };
	long end = harness_now_ms() + ms;

	do {
		json_counters(v);
		if (v[MAX_CHILDREN] == n)
			break;
		harness_sleep_ms(50);
	} while (harness_now_ms() < end);
	return v[MAX_CHILDREN];
}

/*
 * The accept queue of the listening unix socket `path` as ss(8) reads it
 * from the kernel (sock_diag, as sluice does): its Recv-Q.  -1: not found.
 */
static long ss_queue(const char *path)
{
	char cmd[512], line[512];
	long q = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ss -xlnH src %s", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (fgets(line, sizeof(line), p) && sscanf(line, "%*s %*s %ld", &q) != 1)
		q = -1;
	pclose(p);
	return q;
}

/* ---- The listen queue -------------------------------------------------- */

/*
 * Both workers held in a handler, one after the other so that each takes
 * one, then `n` connections that nobody can accept.  The held requests
 * sleep `ms`.
 */
static void fill_queue(struct fcgi_conn *held, struct fcgi_conn *queued, int n, long ms)
{
	char uri[64];

	snprintf(uri, sizeof(uri), "/sleep?ms=%ld", ms);
	for (int i = 0; i < 2; i++) {
		send_get(&held[i], uri);
		wait_busy(i + 1);
	}
	for (int i = 0; i < n; i++)
		send_get(&queued[i], "/sleep?ms=0");
	cr_assert_eq(ss_queue(sp.sock), n, "the kernel shows %ld connections waiting, want %d",
		     ss_queue(sp.sock), n);
}

/* Every held and queued request is answered once the handlers end. */
static void drain_queue(struct fcgi_conn *held, struct fcgi_conn *queued, int n)
{
	for (int i = 0; i < 2; i++)
		cr_assert_eq(answer(&held[i], 10000, NULL), 200, "held request %d", i + 1);
	for (int i = 0; i < n; i++)
		cr_assert_eq(answer(&queued[i], 10000, NULL), 200, "queued request %d", i + 1);
	cr_assert_eq(ss_queue(sp.sock), 0, "connections still wait after all were answered");
}

/*
 * Three connections wait for 2.5 s while nobody asks: the responder's
 * own once-a-second sampling must keep that peak.  Then five wait, and
 * the answer given meanwhile shows them.  After each spell the queue is
 * back to 0 and "max listen queue" holds the peak.
 */
Test(status_counters, listen_queue_counts_the_connections_waiting, .fini = teardown,
     .timeout = 60)
{
	struct fcgi_conn held[2], queued[5];
	long long want[NCOUNTERS] = { [MAX_QUEUE] = ANY, [BUSY] = 0 };

	start(STATUS_CONF STATIC_2);
	expect_counters(want);

	fill_queue(held, queued, 3, 4000);
	harness_sleep_ms(2500);
	drain_queue(held, queued, 3);
	want[MAX_QUEUE] = 3;
	want[BUSY] = ANY;
	expect_counters(want);

	fill_queue(held, queued, 5, 3000);
	want[QUEUE] = want[MAX_QUEUE] = 5;
	want[BUSY] = 2;
	expect_counters(want);
	drain_queue(held, queued, 5);
	want[QUEUE] = 0;
	want[BUSY] = ANY;
	expect_counters(want);
}

/* ---- Max children reached ---------------------------------------------- */

/*
 * Three requests of 1.5 s for a pool of at most two workers: while the
 * third waits, the pool wants a worker it may not start.  That is one
 * episode, counted once; every request is answered.  (The third waits in
 * the listen queue: its peak is the listen queue test's business.)
 */
static void drive_past_max_children(const char *pm)
{
	long long want[NCOUNTERS] = { [MAX_QUEUE] = ANY, [BUSY] = 0 };
	struct fcgi_conn c[3];
	char settings[512];

	snprintf(settings, sizeof(settings), "%s%s", STATUS_CONF, pm);
	start(settings);
	expect_counters(want);
	for (int i = 0; i < 2; i++) {
		send_get(&c[i], "/sleep?ms=1500");
		wait_busy(i + 1);
	}
	send_get(&c[2], "/sleep?ms=1500");
	cr_assert_eq(wait_max_children(1, 1200), 1, "max children reached: %lld, want 1",
		     wait_max_children(1, 0));
	for (int i = 0; i < 3; i++)
		cr_assert_eq(answer(&c[i], 10000, NULL), 200, "request %d", i + 1);
	harness_sleep_ms(600);	/* past the episode: the pool is idle again */
	want[MAX_CHILDREN] = 1;
	want[MAX_QUEUE] = want[BUSY] = ANY;
	expect_counters(want);
}

Test(status_counters, max_children_reached_in_a_dynamic_pool, .fini = teardown, .timeout = 30)
{
	drive_past_max_children("pm = { mode = \"dynamic\"; max_children = 2; start_servers = 1; "
				"min_spare_servers = 1; max_spare_servers = 1; };\n");
}

Test(status_counters, max_children_reached_in_an_ondemand_pool, .fini = teardown,
     .timeout = 30)
{
	drive_past_max_children("pm = { mode = \"ondemand\"; max_children = 2; };\n");
}

/* ---- Slow requests and terminate timeouts ------------------------------ */

/* The value of response header `name` in CGI output `out`, malloc'ed. */
static char *header(const char *out, const char *name)
{
	char key[64];
	const char *at;

	snprintf(key, sizeof(key), "%s: ", name);
	at = strstr(out, key);
	cr_assert_not_null(at, "no %s in %s", name, out);
	at += strlen(key);
	return strndup(at, strcspn(at, "\r\n"));
}

/* 1.5 s against request_slowlog_timeout = 1: counted once, and one line in the slow log. */
Test(status_counters, a_slow_request_is_counted_and_logged, .fini = teardown, .timeout = 30)
{
	long long want[NCOUNTERS] = { [MAX_QUEUE] = ANY, [BUSY] = 0 };
	struct fcgi_conn c;
	char path[256], *out = NULL, *id, *log;

	start(STATUS_CONF STATIC_2 "request_slowlog_timeout = 1;\nslowlog = \"slow.log\";\n");
	expect_counters(want);
	send_get(&c, "/sleep?ms=1500");
	cr_assert_eq(answer(&c, 10000, &out), 200, "%s", out ? out : "no answer");
	id = header(out, "X-Request-Id");
	send_get(&c, "/sleep?ms=0");
	cr_assert_eq(answer(&c, 10000, NULL), 200);
	want[SLOW] = 1;
	expect_counters(want);
	snprintf(path, sizeof(path), "%s/slow.log", sp.dir);
	log = harness_read_file(path);
	cr_assert_eq(logscan_count(log, "slow request: past request_slowlog_timeout", id), 1,
		     "no slow log line for request %s in:\n%s", id, log);
	free(log);
	free(id);
	free(out);
}

/*
 * 3 s against request_terminate_timeout = 1, with one worker: counted
 * once, the client gets a 5xx, and the worker's replacement serves the
 * next request.
 */
Test(status_counters, a_terminated_request_is_counted, .fini = teardown, .timeout = 30)
{
	long long want[NCOUNTERS] = { [MAX_QUEUE] = ANY, [BUSY] = 0 };
	struct fcgi_conn c;
	int st;

	start(STATUS_CONF "pm = { mode = \"static\"; max_children = 1; };\n"
	      "request_terminate_timeout = 1;\n");
	expect_counters(want);
	send_get(&c, "/sleep?ms=3000");
	st = answer(&c, 10000, NULL);
	cr_assert(st >= 500 && st <= 599, "the terminated request got %d", st);
	send_get(&c, "/sleep?ms=0");
	cr_assert_eq(answer(&c, 10000, NULL), 200, "the next request was not served:\n%s",
		     logscan_tail(&sp, 2000));
	want[TIMEOUTS] = 1;
	expect_counters(want);
}
