/*
 * failover.c - two sluice instances behind one nginx, and one of them
 * killed in the middle of a load.
 *
 * nginx runs the shipped conf/nginx/sluice-upstream.conf: its upstream
 * block, with the two example addresses replaced by the two instances'
 * sockets, and its two locations (the application and the health path).
 * Each instance runs the whoami fixture, so every answer names the worker
 * (and through it the instance) that served it.
 *
 * NCLIENTS threads send requests for LOAD_MS; in the middle the first
 * instance, master and workers, is killed with SIGKILL, as a machine
 * that dies would be.  A user must see nginx go on answering from the
 * second instance: only requests that were in flight on the dead one may
 * fail (at most one per client), and every request sent after it died
 * is answered, by the instance that lives.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "harness.h"

#define EXAMPLE		"conf/nginx/sluice-upstream.conf"
#define EXAMPLE_A	"192.0.2.10:9000"
#define EXAMPLE_B	"192.0.2.11:9000"
#define PARAMS		"/etc/nginx/fastcgi_params"
#define NCLIENTS	4
#define LOAD_MS		4000
#define KILL_AT_MS	1500
#define MAX_REQUESTS	100000	/* per client */
#define MAX_WORKERS	16

static struct sluice_proc a, b;
static struct nginx_proc np;

static void setup(void)
{
	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
}

static void teardown(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&a);
	harness_sluice_stop(&b);
}

TestSuite(failover, .init = setup, .fini = teardown, .timeout = 60);

/* ---- The shipped example ------------------------------------------------ */

/* The whole example, malloc'ed. */
static char *read_example(void)
{
	FILE *f = fopen(EXAMPLE, "r");
	char *text = calloc(1, 65536);
	size_t n;

	cr_assert_not_null(f, "cannot open %s", EXAMPLE);
	cr_assert_not_null(text);
	n = fread(text, 1, 65535, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

/* The block that starts with `head` ("upstream sluice_pool {"), braces balanced. */
static void block(const char *text, const char *head, char *out, size_t len)
{
	const char *start = strstr(text, head), *p;
	int depth = 0;

	cr_assert_not_null(start, "%s has no `%s`", EXAMPLE, head);
	for (p = start; *p != '\0'; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			break;
	}
	cr_assert_eq(*p, '}', "%s: unbalanced `%s`", EXAMPLE, head);
	cr_assert_lt((size_t)(p + 1 - start), len);
	snprintf(out, len, "%.*s", (int)(p + 1 - start), start);
}

/* `text` with the first `from` replaced by `to`, which must be there. */
static void replace(char *text, size_t len, const char *from, const char *to)
{
	char *p = strstr(text, from), *rest;

	cr_assert_not_null(p, "%s: no `%s` where the test expects it", EXAMPLE, from);
	rest = strdup(p + strlen(from));
	cr_assert_not_null(rest);
	cr_assert_lt(strlen(text) - strlen(from) + strlen(to), len);
	sprintf(p, "%s%s", to, rest);
	free(rest);
}

/*
 * The upstream of the example on the two instances' sockets, and its two
 * locations with fastcgi_params included by full path (the harness's
 * nginx has its own prefix, where that file does not exist).
 */
static void example_config(char *http, size_t hlen, char *locs, size_t llen)
{
	char *text = read_example(), one[4096], sa[256], sb[256];
	const char *heads[] = { "location / {", "location = /healthz {" };

	block(text, "upstream sluice_pool {", http, hlen);
	snprintf(sa, sizeof(sa), "unix:%s", a.sock);
	snprintf(sb, sizeof(sb), "unix:%s", b.sock);
	replace(http, hlen, EXAMPLE_A, sa);
	replace(http, hlen, EXAMPLE_B, sb);
	cr_assert_not_null(strstr(http, "max_fails="), "%s: no max_fails", EXAMPLE);
	cr_assert_not_null(strstr(http, "fail_timeout="), "%s: no fail_timeout", EXAMPLE);
	locs[0] = '\0';
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		block(text, heads[i], one, sizeof(one));
		replace(one, sizeof(one), "include fastcgi_params;", "include " PARAMS ";");
		cr_assert_lt(strlen(locs) + strlen(one) + 2, llen);
		strcat(locs, one);
		strcat(locs, "\n");
	}
	free(text);
}

/* Both instances (whoami, two workers each) and nginx in front. */
static void start_all(void)
{
	static char http[8192], locs[8192];
	char body[PATH_MAX + 256], so[PATH_MAX];

	cr_assert_not_null(realpath(BUILD_DIR "/fixtures/whoami.so", so), "whoami.so is not built");
	snprintf(body, sizeof(body), "pm = { max_children = 2; };\n"
		 "modules = ( { path = \"%s\"; mount = \"/\"; } );\n", so);
	cr_assert_eq(harness_sluice_start(&a, body), 0, "the first sluice did not start");
	cr_assert_eq(harness_sluice_start(&b, body), 0, "the second sluice did not start");
	example_config(http, sizeof(http), locs, sizeof(locs));
	cr_assert_eq(harness_nginx_start_http(&np, http, locs), 0, "nginx did not start");
}

/* ---- Which instance answered -------------------------------------------- */

/* GET /healthz must answer 200; the worker that did. */
static pid_t health_pid(void)
{
	struct http_reply r;
	char url[128];
	pid_t p;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", np.port);
	cr_assert_eq(http_request("GET", url, NULL, 0, NULL, &r), 0, "GET /healthz: no answer");
	cr_assert_eq(r.status, 200, "GET /healthz: %ld\n%s", r.status, r.body);
	cr_assert_eq(strncmp(r.body, "pid ", 4), 0, "GET /healthz: %s", r.body);
	p = (pid_t)atoi(r.body + 4);
	http_reply_free(&r);
	return p;
}

/* ---- The load ----------------------------------------------------------- */

struct result {
	long long start, end;	/* µs, CLOCK_MONOTONIC */
	pid_t pid;		/* the worker that answered; 0: the request failed */
};

struct client {
	pthread_t thread;
	struct result *res;
	int n;
};

static atomic_int stop_load;

static void *client_run(void *arg)
{
	struct client *c = arg;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", np.port);
	while (!atomic_load(&stop_load) && c->n < MAX_REQUESTS) {
		struct result *r = &c->res[c->n++];
		struct http_reply reply;
		int rc;

		r->start = harness_now_us();
		rc = http_request("GET", url, NULL, 0, NULL, &reply);
		r->end = harness_now_us();
		r->pid = 0;
		if (rc == 0 && reply.status == 200 && strncmp(reply.body, "pid ", 4) == 0)
			r->pid = (pid_t)atoi(reply.body + 4);
		http_reply_free(&reply);
	}
	return NULL;
}

/*
 * SIGKILL to the instance's whole process group (master and workers);
 * returns once none of them runs.  A worker that lost its master is a
 * zombie until the system's reaper gets to it, which may take a while:
 * it no longer serves, so it counts as dead.
 */
static void kill_instance(struct sluice_proc *sp, const pid_t *workers, int n)
{
	cr_assert_eq(kill(-sp->pid, SIGKILL), 0);
	cr_assert_eq(waitpid(sp->pid, NULL, 0), sp->pid);
	for (int i = 0; i < n; i++)
		cr_assert(harness_wait_gone(workers[i], 5000), "worker %d survived SIGKILL",
			  (int)workers[i]);
	sp->pid = 0;
}

Test(failover, nginx_serves_on_when_an_instance_dies)
{
	static struct client clients[NCLIENTS];
	pid_t wa[MAX_WORKERS], wb[MAX_WORKERS];
	int na, nb, from_a = 0, from_b = 0, failed = 0, after = 0, after_a = 0;
	long long t_kill, t_dead;

	start_all();
	na = harness_children(a.pid, wa, MAX_WORKERS, 1);
	nb = harness_children(b.pid, wb, MAX_WORKERS, 1);
	cr_assert(na == 2 && nb == 2, "expected 2 workers each, found %d and %d", na, nb);

	atomic_store(&stop_load, 0);
	for (int i = 0; i < NCLIENTS; i++) {
		clients[i].res = calloc(MAX_REQUESTS, sizeof(struct result));
		cr_assert_not_null(clients[i].res);
		cr_assert_eq(pthread_create(&clients[i].thread, NULL, client_run, &clients[i]), 0);
	}
	harness_sleep_ms(KILL_AT_MS);
	t_kill = harness_now_us();
	kill_instance(&a, wa, na);
	t_dead = harness_now_us();
	harness_sleep_ms(LOAD_MS - KILL_AT_MS);
	atomic_store(&stop_load, 1);
	for (int i = 0; i < NCLIENTS; i++)
		cr_assert_eq(pthread_join(clients[i].thread, NULL), 0);

	for (int i = 0; i < NCLIENTS; i++)
		for (int k = 0; k < clients[i].n; k++) {
			const struct result *r = &clients[i].res[k];

			if (r->pid == 0) {
				failed++;
				cr_assert_lt(r->start, t_dead,
					     "a request sent %lld ms after the instance died failed",
					     (r->start - t_dead) / 1000);
				continue;
			}
			if (r->end < t_kill) {
				from_a += harness_has_pid(wa, na, r->pid);
				from_b += harness_has_pid(wb, nb, r->pid);
			}
			if (r->start > t_dead) {
				after++;
				after_a += !harness_has_pid(wb, nb, r->pid);
			}
		}
	for (int i = 0; i < NCLIENTS; i++)
		free(clients[i].res);
	cr_assert(from_a > 0 && from_b > 0,
		  "before the kill nginx did not balance: %d answers from the first instance, "
		  "%d from the second", from_a, from_b);
	cr_assert_leq(failed, NCLIENTS,
		      "%d requests failed; at most the %d in flight on the dead instance may",
		      failed, NCLIENTS);
	cr_assert_geq(after, 100, "only %d requests answered after the kill", after);
	cr_assert_eq(after_a, 0, "%d answers after the kill came from elsewhere than the "
		     "second instance", after_a);

	/* The health path answers, through the instance that lives. */
	cr_assert(harness_has_pid(wb, nb, health_pid()),
		  "GET /healthz was not answered by the live instance");
}

/* With both instances up, the health path answers from either. */
Test(failover, health_path_answers)
{
	pid_t wa[MAX_WORKERS], wb[MAX_WORKERS], p;
	int na, nb;

	start_all();
	na = harness_children(a.pid, wa, MAX_WORKERS, 1);
	nb = harness_children(b.pid, wb, MAX_WORKERS, 1);
	p = health_pid();
	cr_assert(harness_has_pid(wa, na, p) || harness_has_pid(wb, nb, p),
		  "GET /healthz: answered by pid %d", (int)p);
}
