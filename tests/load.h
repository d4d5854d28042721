/*
 * load.h - a bounded HTTP load generator for integration suites: N
 * clients in parallel, each on a kept-alive connection, sending GETs or
 * POSTs of a given body size through the web server in front of sluice,
 * for a given time or count, whichever ends first.
 *
 * It runs on a thread of its own (libcurl's multi interface: one thread
 * drives every client), so that a test can crash, kill, reload or
 * signal sluice while the load runs, then stop it and count what the
 * clients saw: every response's status, start and end times and first
 * bytes are kept, so that a suite can count failures, latencies, or
 * answers of a kind after a moment of its choosing.  Nothing here
 * asserts: suites assert on the counts with their own messages.
 *
 * Call curl_global_init once (in the suite's setup) before load_start.
 */
#ifndef SLUICE_TEST_LOAD_H
#define SLUICE_TEST_LOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

/* What to send, how many at once, and for how long at most. */
struct load_opts {
	const char *url;
	const char *method;	/* "GET" or "POST" */
	size_t body_len;	/* POST: a body of this many bytes ('x') */
	int clients;		/* requests in flight at once, 1..LOAD_MAX_CLIENTS */
	long duration_ms;	/* no request starts after this long */
	long max_requests;	/* nor once this many have started */
	long timeout_ms;	/* per request; past it, a transport failure */
	long pace_ms;		/* each client waits this long between its requests
				 * (0: none), so that kept-alive connections also
				 * sit idle, as they do at a moderate rate */
};

#define LOAD_MAX_CLIENTS	64
#define LOAD_HEAD		24	/* bytes of each body kept */

/* One request as a client saw it. */
struct load_sample {
	long long start_us, end_us;	/* harness_now_us() */
	long status;			/* HTTP status; 0 when none came */
	int curl_code;			/* CURLE_OK or why the transport failed */
	char head[LOAD_HEAD];		/* the first bytes of the body, NUL-terminated */
};

struct load {
	struct load_opts o;
	char url[1024];		/* o.url points here */
	pthread_t thread;
	int running;
	atomic_int stop;	/* set by load_stop */
	atomic_long done;	/* requests finished so far */
	struct load_sample *samples;	/* max_requests of them, `n` filled */
	long n;
	char *body;		/* the POST body */
	int error;		/* libcurl could not be set up */
};

/*
 * Start the clients on a thread: 0, or -1 (nothing started).  The URL
 * is copied.  The load
 * ends by itself after duration_ms or max_requests; load_stop ends it
 * sooner.
 */
int load_start(struct load *l, const struct load_opts *o);

/*
 * Start no more requests, wait for those in flight (each bounded by its
 * timeout) and join the thread.  The samples stay until load_free.
 */
void load_stop(struct load *l);

/* load_stop once the load has ended by itself (duration or count). */
void load_wait(struct load *l);

void load_free(struct load *l);

/* Requests that got no HTTP response, or a status outside 200..299. */
long load_failed(const struct load *l);

/* Requests that got `status` (0: no HTTP response at all). */
long load_with_status(const struct load *l, long status);

/* Requests that took longer than `us` microseconds, whatever their outcome. */
long load_slower_than(const struct load *l, long long us);

/*
 * Into `buf`: the requests slower than `us`, each as "+START ms: TOOK ms"
 * with its start counted from `base_us` (harness_now_us()), at most
 * `max` of them; so that a failure says when in the run they waited.
 */
void load_describe_slow(const struct load *l, long long us, long long base_us, int max,
			char *buf, size_t len);

/*
 * Requests that started at or after `since_us` (harness_now_us()) and
 * whose body starts with `prefix`.
 */
long load_answered_since(const struct load *l, long long since_us, const char *prefix);

/* The `pct` percentile (0..100) of the latencies in microseconds; -1 if none. */
long long load_percentile_us(const struct load *l, double pct);

/*
 * One line for a test's log: requests, failures by kind, p50 / p99 / max,
 * and the first failure seen.  Into `buf`, which is returned.
 */
char *load_summary(const struct load *l, char *buf, size_t len);

#endif
