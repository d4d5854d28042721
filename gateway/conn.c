/*
 * conn.c - the connection pool and the idle/read timer lists.  See conn.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

/*
 * Structs kept for reuse.  Bounded so that a burst of connections does
 * not pin its memory (about 65 KiB each) for the worker's life.
 */
#define POOL_KEEP 64

static struct conn *pool;
static int npool;
static int nopen;

/* Heads and tails of the timer lists, indexed by enum conn_timer. */
static struct conn *heads[3], *tails[3];

struct conn *conn_get(int fd, const struct proto *proto, const struct sl_config *cfg)
{
	struct conn *c = pool;

	if (c) {
		pool = c->next;
		npool--;
	} else {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->in = malloc(CONN_INBUF_SIZE);
		if (!c->in) {
			free(c);
			return NULL;
		}
	}
	c->fd = fd;
	c->proto = proto;
	c->cfg = cfg;
	c->in_epoll = 0;
	c->close_after = 0;
	c->lingering = 0;
	c->requests = 0;
	c->drain_mark = 0;
	c->start = c->end = 0;
	c->params_len = 0;
	memset(&c->st, 0, sizeof(c->st));
	c->timer = TIMER_NONE;
	c->prev = c->next = NULL;
	nopen++;
	return c;
}

void conn_put(struct conn *c)
{
	conn_timer_set(c, TIMER_NONE, 0);
	close(c->fd);	/* also drops it from epoll */
	c->fd = -1;
	nopen--;
	if (npool >= POOL_KEEP) {
		free(c->params);
		free(c->in);
		free(c);
		return;
	}
	c->next = pool;
	pool = c;
	npool++;
}

void conn_each(void (*fn)(struct conn *c))
{
	for (int t = TIMER_IDLE; t <= TIMER_READ; t++)
		for (struct conn *c = heads[t], *next; c; c = next) {
			next = c->next;
			fn(c);
		}
}

int conn_count(void)
{
	return nopen;
}

static void unlink_timer(struct conn *c)
{
	if (c->timer == TIMER_NONE)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		heads[c->timer] = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		tails[c->timer] = c->prev;
	c->prev = c->next = NULL;
	c->timer = TIMER_NONE;
}

void conn_timer_set(struct conn *c, enum conn_timer t, long long deadline_ms)
{
	unlink_timer(c);
	if (t == TIMER_NONE)
		return;
	c->timer = t;
	c->deadline_ms = deadline_ms;
	c->prev = tails[t];
	if (tails[t])
		tails[t]->next = c;
	else
		heads[t] = c;
	tails[t] = c;
}

struct conn *conn_timer_first(enum conn_timer t)
{
	return heads[t];
}

void conn_compact(struct conn *c)
{
	if (c->start == 0)
		return;
	memmove(c->in, c->in + c->start, c->end - c->start);
	c->end -= c->start;
	c->start = 0;
}

ssize_t conn_fill(struct conn *c)
{
	ssize_t n;

	/* Rewind an empty buffer for free; move a partial record down only
	 * when the free tail gets short, so small requests never memmove. */
	if (c->start == c->end)
		c->start = c->end = 0;
	else if (c->end > CONN_INBUF_SIZE / 2)
		conn_compact(c);
	do
		n = read(c->fd, c->in + c->end, CONN_INBUF_SIZE - c->end);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		c->end += (size_t)n;
	return n;
}
