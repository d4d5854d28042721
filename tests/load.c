/*
 * load.c - the bounded HTTP load generator of load.h.
 *
 * One thread drives every client through one libcurl multi handle.  Each
 * client is an easy handle that is added again as soon as its request
 * ends, so the connection it used stays alive for the next request (the
 * multi handle keeps up to `clients` connections).  Samples go into an
 * array of max_requests entries allocated up front: the thread never
 * allocates while it runs, and the count of requests is bounded by it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "harness.h"
#include "load.h"

struct client {
	CURL *easy;
	int busy;		/* a request of this client is in flight */
	long long due_us;	/* when idle: when its next request may start */
	struct load_sample *s;	/* the sample of the request in flight */
	size_t got;		/* body bytes seen so far */
};

static size_t keep_head(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct client *c = arg;
	size_t n = size * nmemb;

	if (c->got < LOAD_HEAD - 1) {
		size_t room = LOAD_HEAD - 1 - c->got;
		size_t take = n < room ? n : room;

		memcpy(c->s->head + c->got, ptr, take);
		c->s->head[c->got + take] = '\0';
	}
	c->got += n;
	return n;
}

static CURL *client_easy(const struct load *l, struct client *c, struct curl_slist *hdrs)
{
	CURL *e = curl_easy_init();

	if (e == NULL)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, l->o.url);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, l->o.timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_head);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(l->o.method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, l->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)l->o.body_len);
	} else if (strcmp(l->o.method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, l->o.method);
	}
	return e;
}

/* Whether another request may start now. */
static int may_start(struct load *l, long long t0_us)
{
	return !atomic_load(&l->stop) && l->n < l->o.max_requests &&
	       harness_now_us() - t0_us < l->o.duration_ms * 1000LL;
}

static void start_one(struct load *l, CURLM *m, struct client *c)
{
	c->s = &l->samples[l->n++];
	memset(c->s, 0, sizeof(*c->s));
	c->got = 0;
	c->s->start_us = harness_now_us();
	c->busy = 1;
	curl_multi_add_handle(m, c->easy);
}

/* Start the idle clients whose pause is over; how many started. */
static int start_due(struct load *l, CURLM *m, struct client *clients, long long t0)
{
	long long now = harness_now_us();
	int n = 0;

	for (int i = 0; i < l->o.clients; i++) {
		if (clients[i].busy || clients[i].due_us > now || !may_start(l, t0))
			continue;
		start_one(l, m, &clients[i]);
		n++;
	}
	return n;
}

/* Whether an idle client will still start a request later. */
static int any_due(struct load *l, const struct client *clients, long long t0)
{
	for (int i = 0; i < l->o.clients; i++)
		if (!clients[i].busy && may_start(l, t0))
			return 1;
	return 0;
}

static void finish_one(struct load *l, CURLM *m, CURLMsg *msg)
{
	struct client *c = NULL;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
	c->s->end_us = harness_now_us();
	c->s->curl_code = (int)msg->data.result;
	if (msg->data.result == CURLE_OK)
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &c->s->status);
	curl_multi_remove_handle(m, msg->easy_handle);
	c->busy = 0;
	c->due_us = c->s->end_us + l->o.pace_ms * 1000LL;
	atomic_fetch_add(&l->done, 1);
}

static void *load_run(void *arg)
{
	struct load *l = arg;
	struct client clients[LOAD_MAX_CLIENTS];
	struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
	CURLM *m = curl_multi_init();
	long long t0 = harness_now_us();
	int running = 0, queued, i;
	CURLMsg *msg;

	memset(clients, 0, sizeof(clients));
	if (m == NULL || hdrs == NULL) {
		l->error = 1;
		goto out;
	}
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)l->o.clients);
	for (i = 0; i < l->o.clients; i++) {
		clients[i].easy = client_easy(l, &clients[i], hdrs);
		if (clients[i].easy == NULL) {
			l->error = 1;
			goto out;
		}
	}
	do {
		running += start_due(l, m, clients, t0);
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &queued)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				finish_one(l, m, msg);
		running += start_due(l, m, clients, t0);
		if (running > 0 || any_due(l, clients, t0))
			curl_multi_poll(m, NULL, 0, l->o.pace_ms > 0 ? 2 : 20, NULL);
	} while (running > 0 || any_due(l, clients, t0));
out:
	for (i = 0; i < LOAD_MAX_CLIENTS; i++)
		if (clients[i].easy != NULL)
			curl_easy_cleanup(clients[i].easy);
	if (m != NULL)
		curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	return NULL;
}

int load_start(struct load *l, const struct load_opts *o)
{
	memset(l, 0, sizeof(*l));
	if (o->clients < 1 || o->clients > LOAD_MAX_CLIENTS || o->max_requests < 1)
		return -1;
	l->o = *o;
	snprintf(l->url, sizeof(l->url), "%s", o->url);
	l->o.url = l->url;
	l->samples = calloc((size_t)o->max_requests, sizeof(*l->samples));
	l->body = malloc(o->body_len + 1);
	if (l->samples == NULL || l->body == NULL)
		return -1;
	memset(l->body, 'x', o->body_len);
	l->body[o->body_len] = '\0';
	if (pthread_create(&l->thread, NULL, load_run, l) != 0)
		return -1;
	l->running = 1;
	return 0;
}

void load_stop(struct load *l)
{
	atomic_store(&l->stop, 1);
	load_wait(l);
}

void load_wait(struct load *l)
{
	if (l->running)
		pthread_join(l->thread, NULL);
	l->running = 0;
}

void load_free(struct load *l)
{
	load_stop(l);
	free(l->samples);
	free(l->body);
	l->samples = NULL;
	l->body = NULL;
	l->n = 0;
}

static int failed(const struct load_sample *s)
{
	return s->curl_code != CURLE_OK || s->status < 200 || s->status > 299;
}

long load_failed(const struct load *l)
{
	long n = 0;

	for (long i = 0; i < l->n; i++)
		n += failed(&l->samples[i]);
	return n;
}

long load_with_status(const struct load *l, long status)
{
	long n = 0;

	for (long i = 0; i < l->n; i++)
		n += l->samples[i].status == status;
	return n;
}

long load_slower_than(const struct load *l, long long us)
{
	long n = 0;

	for (long i = 0; i < l->n; i++)
		n += l->samples[i].end_us - l->samples[i].start_us > us;
	return n;
}

void load_describe_slow(const struct load *l, long long us, long long base_us, int max,
			char *buf, size_t len)
{
	size_t at = 0;
	int shown = 0;

	if (len)
		buf[0] = '\0';
	for (long i = 0; i < l->n && shown < max && at < len; i++) {
		const struct load_sample *s = &l->samples[i];

		if (s->end_us - s->start_us <= us)
			continue;
		at += (size_t)snprintf(buf + at, len - at, "%s+%lld ms: %lld ms", shown ? ", " : "",
				       (s->start_us - base_us) / 1000, (s->end_us - s->start_us) / 1000);
		shown++;
	}
}

long load_answered_since(const struct load *l, long long since_us, const char *prefix)
{
	long n = 0;

	for (long i = 0; i < l->n; i++)
		n += l->samples[i].start_us >= since_us &&
		     strncmp(l->samples[i].head, prefix, strlen(prefix)) == 0;
	return n;
}

static int by_value(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

long long load_percentile_us(const struct load *l, double pct)
{
	long long *lat, v;
	long k;

	if (l->n == 0 || (lat = malloc((size_t)l->n * sizeof(*lat))) == NULL)
		return -1;
	for (long i = 0; i < l->n; i++)
		lat[i] = l->samples[i].end_us - l->samples[i].start_us;
	qsort(lat, (size_t)l->n, sizeof(*lat), by_value);
	k = (long)((double)(l->n - 1) * pct / 100.0 + 0.5);
	v = lat[k];
	free(lat);
	return v;
}

char *load_summary(const struct load *l, char *buf, size_t len)
{
	const struct load_sample *first = NULL;
	long transport = load_with_status(l, 0);
	int n;

	for (long i = 0; i < l->n && first == NULL; i++)
		if (failed(&l->samples[i]))
			first = &l->samples[i];
	n = snprintf(buf, len, "%s %s x%d: %ld requests, %ld failed (%ld without response, "
		     "%ld x 502, %ld x 503, %ld x 504); latency p50 %lld us, p99 %lld us, "
		     "max %lld us", l->o.method, l->o.url, l->o.clients, l->n, load_failed(l),
		     transport, load_with_status(l, 502), load_with_status(l, 503),
		     load_with_status(l, 504), load_percentile_us(l, 50),
		     load_percentile_us(l, 99), load_percentile_us(l, 100));
	if (first != NULL && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "; first failure: %s, status %ld, body \"%s\"",
			 curl_easy_strerror((CURLcode)first->curl_code), first->status,
			 first->head);
	if (l->error && n > 0 && (size_t)n < len)
		snprintf(buf + strlen(buf), len - strlen(buf), "; libcurl could not be set up");
	return buf;
}
