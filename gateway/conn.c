/*
 * conn.c - connection buffers, the output queue and the timer lists.
 * See conn.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "io.h"

/*
 * Pending input up to this size is moved to the shared buffer before a
 * read, so that the read can take a whole record at once; a bigger
 * remainder (a large record trickling in) is read in place instead, so
 * that a trickle costs no copying.
 */
#define MOVE_TO_SHARED 4096

/* A connection's own buffers start at this size and double. */
#define OWN_MIN 1024

static unsigned char *shared;	/* CONN_READ_SIZE bytes, the worker's read buffer */
static struct conn *holder;	/* the connection whose input it holds, or NULL */
static int nopen;
static struct conn *all;
static struct conn *graveyard;	/* let go of, freed by conn_bury */

/* Heads and tails of the timer lists. */
static struct conn *heads[TIMER_COUNT], *tails[TIMER_COUNT];

int conn_init(void)
{
	if (!shared)
		shared = malloc(CONN_READ_SIZE);
	return shared ? 0 : -1;
}

struct conn *conn_get(int fd, const struct proto *proto, const struct sl_config *cfg)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->proto = proto;
	c->cfg = cfg;
	c->slot = -1;
	c->held = 1;
	c->out.file = -1;
	c->all_next = all;
	if (all)
		all->all_prev = c;
	all = c;
	nopen++;
	return c;
}

/*
 * A connection let go of is freed only by conn_bury, once the event loop
 * is done with the batch of events in hand: another event of the same
 * batch may still point at it, and finds it marked dead.
 */
void conn_forget(struct conn *c)
{
	if (c->dead)
		return;
	conn_timer_set(c, TIMER_NONE, 0);
	conn_out_reset(c);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	if (holder == c)
		holder = NULL;
	free(c->own);
	free(c->params);
	free(c->body);
	c->own = c->in = c->params = c->body = NULL;
	c->fd = -1;
	c->dead = 1;
	c->next = graveyard;
	graveyard = c;
	nopen--;
}

void conn_put(struct conn *c)
{
	if (!c->dead && c->fd >= 0)
		close(c->fd);
	conn_forget(c);
}

void conn_bury(void)
{
	while (graveyard) {
		struct conn *c = graveyard;

		graveyard = c->next;
		free(c);
	}
}

struct conn *conn_first(void)
{
	return all;
}

int conn_count(void)
{
	return nopen;
}

/* ---- Timers --------------------------------------------------------- */

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
	/* The RATE list is scanned, not ordered: a new deadline keeps the
	 * place.  On an ordered list the entry moves to the end. */
	if (c->timer == t && t == TIMER_RATE) {
		c->deadline_ms = deadline_ms;
		return;
	}
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

/* ---- Input ---------------------------------------------------------- */

static size_t cap_of(const struct conn *c)
{
	return c->in == shared ? CONN_READ_SIZE : c->own_cap;
}

/*
 * Grow the connection's own buffer towards `need` bytes: up to one whole
 * record, never smaller than it is (conn_park may have made it bigger, to
 * keep what a read of the shared buffer left).
 */
static int grow_own(struct conn *c, size_t need)
{
	size_t cap = c->own_cap ? c->own_cap : OWN_MIN;
	size_t max = c->own_cap > CONN_INBUF_SIZE ? c->own_cap : CONN_INBUF_SIZE;
	unsigned char *p;

	while (cap < need)
		cap *= 2;
	if (cap > max)
		cap = max;
	p = realloc(c->own, cap);
	if (!p)
		return -1;
	if (c->in == c->own)
		c->in = p;
	c->own = p;
	c->own_cap = cap;
	return 0;
}

static void compact(struct conn *c)
{
	if (c->start == 0)
		return;
	memmove(c->in, c->in + c->start, c->end - c->start);
	c->end -= c->start;
	c->start = 0;
}

int conn_reserve(struct conn *c, size_t need)
{
	if (need > CONN_INBUF_SIZE) {
		errno = ENOBUFS;
		return -1;
	}
	if (cap_of(c) - c->start >= need)
		return 0;
	compact(c);
	if (cap_of(c) >= need)
		return 0;
	/* Only an own buffer is short of a record: the shared one holds any. */
	return grow_own(c, need);
}

/*
 * `c` is about to read into the shared buffer: unread input another
 * connection left there moves to that one's own buffer first.  The
 * worker parks a connection before it turns from it (conn_park), so this
 * is the guard for a path that forgets: a request made of another peer's
 * bytes is far worse than a copy.  -1 (ENOMEM) when it cannot move them.
 */
static int take_shared(struct conn *c)
{
	struct conn *h = holder;

	if (h && h != c && h->in == shared && h->end > h->start && conn_park(h) < 0)
		return -1;
	holder = c;
	return 0;
}

ssize_t conn_fill(struct conn *c)
{
	size_t pending = c->end - c->start;
	ssize_t n;

	/* Every case but the last below reads into the shared buffer. */
	if ((pending == 0 || c->in == shared || pending <= MOVE_TO_SHARED) && take_shared(c) < 0)
		return -1;
	if (pending == 0) {
		c->in = shared;
		c->start = c->end = 0;
	} else if (c->in != shared && pending <= MOVE_TO_SHARED) {
		memcpy(shared, c->in + c->start, pending);
		c->in = shared;
		c->start = 0;
		c->end = pending;
	} else if (c->in == shared) {
		if (c->end > CONN_READ_SIZE / 2)
			compact(c);
	} else {
		compact(c);
		if (c->own_cap - c->end < MOVE_TO_SHARED && grow_own(c, c->own_cap * 2) < 0)
			return -1;
	}
	if (cap_of(c) == c->end) {
		errno = ENOBUFS;
		return -1;
	}
	do
		n = read(c->fd, c->in + c->end, cap_of(c) - c->end);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		c->end += (size_t)n;
		c->rx += n;
	}
	return n;
}

int conn_park(struct conn *c)
{
	size_t pending = c->end - c->start;

	if (pending == 0) {
		free(c->own);
		c->own = c->in = NULL;
		c->own_cap = 0;
		c->start = c->end = 0;
		return 0;
	}
	if (c->in != shared) {
		/* A big record was consumed and a little is left: do not keep
		 * the big buffer for it while the connection waits. */
		if (c->own_cap <= OWN_MIN || pending > c->own_cap / 4)
			return 0;
	}
	if (c->own_cap < pending || c->own_cap > OWN_MIN) {
		unsigned char *old = c->own;
		size_t cap = OWN_MIN;
		unsigned char *p;

		while (cap < pending)
			cap *= 2;
		p = malloc(cap);
		if (!p)
			return c->in == shared ? -1 : 0;
		memcpy(p, c->in + c->start, pending);
		free(old);
		c->own = c->in = p;
		c->own_cap = cap;
	} else {
		memcpy(c->own, shared + c->start, pending);
		c->in = c->own;
	}
	c->start = 0;
	c->end = pending;
	return 0;
}

/* ---- Parameter buffers ---------------------------------------------- */

/* The first size of a parameter buffer: nginx's usual set fits in it. */
#define PARAMS_FIRST_CAP 4096

/*
 * The largest buffer kept as the spare: a request with a hundred headers
 * (8 KiB of parameters) then reuses one instead of a malloc and a free
 * each time, and a worker pins at most two such buffers.
 */
#define PARAMS_SPARE_MAX (16 * 1024)

/*
 * Parameter buffers are decoded in place (fcgi.c, uwsgi.c), so the one of
 * the request being served is held until the next request is decoded,
 * when it becomes the spare: a worker serves one request after another,
 * and a malloc and a free for each were a visible part of their cost.
 * Only one spare, of up to PARAMS_SPARE_MAX, so that idle connections and
 * a rare large request pin nothing.
 */
struct params_buf {
	unsigned char *buf;
	size_t cap;
};
static struct params_buf spare, held;

static void to_spare(struct params_buf b)
{
	if (!spare.buf && b.cap <= PARAMS_SPARE_MAX)
		spare = b;
	else
		free(b.buf);
}

int conn_params_room(struct conn *c, size_t need, size_t max)
{
	size_t cap;
	unsigned char *p;

	if (!c->params && spare.buf) {
		c->params = spare.buf;
		c->params_cap = spare.cap;
		spare.buf = NULL;
	}
	if (need < c->params_cap)
		return 0;
	cap = c->params_cap ? c->params_cap : PARAMS_FIRST_CAP;
	while (cap <= need)
		cap *= 2;
	if (cap > max + 1)
		cap = max + 1;
	p = realloc(c->params, cap);
	if (!p)
		return -1;
	c->params = p;
	c->params_cap = cap;
	return 0;
}

void conn_hold_params(struct conn *c)
{
	to_spare(held);
	held = (struct params_buf){ c->params, c->params_cap };
	c->params = NULL;
	c->params_len = c->params_cap = 0;
}

int conn_grow(unsigned char **buf, size_t *cap, size_t need, size_t max)
{
	size_t want = *cap ? *cap : OWN_MIN;
	unsigned char *p;

	if (need > max) {
		errno = EFBIG;
		return -1;
	}
	if (need <= *cap)
		return 0;
	while (want < need)
		want *= 2;
	if (want > max)
		want = max;
	p = realloc(*buf, want);
	if (!p)
		return -1;
	*buf = p;
	*cap = want;
	return 0;
}

int conn_append(unsigned char **buf, size_t *len, size_t *cap, const void *data,
		size_t n, size_t max)
{
	if (n > max - *len) {
		errno = EFBIG;
		return -1;
	}
	if (conn_grow(buf, cap, *len + n, max) < 0)
		return -1;
	memcpy(*buf + *len, data, n);
	*len += n;
	return 0;
}

/* ---- Output --------------------------------------------------------- */

long long conn_pending(const struct conn *c)
{
	return (long long)(c->out.len - c->out.off) + (long long)(c->out.flen - c->out.foff);
}

void conn_out_reset(struct conn *c)
{
	free(c->out.mem);
	if (c->out.file >= 0)
		close(c->out.file);
	c->out = (struct outq){ .file = -1 };
}

/* An unlinked temporary file for what a slow reader has not taken yet. */
static int spill_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	/* A file system without O_TMPFILE: make one and unlink it at once. */
	if (snprintf(path, sizeof(path), "%s/sluice-out.XXXXXX", dir) >= (int)sizeof(path))
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static int queue(struct conn *c, const void *data, size_t n)
{
	struct outq *q = &c->out;

	if (q->file < 0 && q->len - q->off + n <= OUTQ_MEM_MAX) {
		if (q->off > 0) {
			memmove(q->mem, q->mem + q->off, q->len - q->off);
			q->len -= q->off;
			q->off = 0;
		}
		return conn_append(&q->mem, &q->len, &q->cap, data, n, OUTQ_MEM_MAX);
	}
	if (q->file < 0 && (q->file = spill_file()) < 0)
		return -1;
	while (n > 0) {
		ssize_t w = write(q->file, data, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data = (const char *)data + w;
		n -= (size_t)w;
		q->flen += w;
	}
	return 0;
}

int conn_drain(struct conn *c)
{
	struct outq *q = &c->out;

	while (conn_pending(c) > 0) {
		ssize_t n;

		if (q->off < q->len)
			n = write(c->fd, q->mem + q->off, q->len - q->off);
		else
			n = sendfile(c->fd, q->file, &q->foff, (size_t)(q->flen - q->foff));
		if (n > 0) {
			if (q->off < q->len)
				q->off += (size_t)n;
			c->sent += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n == 0)
			errno = EPIPE;
		return -1;
	}
	/* Empty: give the memory and the file back. */
	conn_out_reset(c);
	return 0;
}

/*
 * When a transfer that began at `start_ms` with `mark` bytes, and stands
 * at `now_mark`, falls below limits.min_rate after `grace_s` seconds.
 */
static long long rate_deadline(const struct conn *c, long long start_ms, long long mark,
			       long long now_mark, int grace_s)
{
	long long rate = c->cfg->limits.min_rate;
	long long d = start_ms + grace_s * 1000LL;

	if (rate > 0)
		d += (now_mark - mark) * 1000 / rate;
	return d;
}

/* Bytes in the rest of `iov`, `skip` of the first already written. */
static size_t rest_of(const struct iovec *iov, int iovcnt, size_t skip)
{
	size_t n = 0;

	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len - (i == 0 ? skip : 0);
	return n;
}

/* May `n` more bytes be queued: in memory, or in the file within its limit? */
static int may_queue(const struct conn *c, size_t n)
{
	const struct outq *q = &c->out;

	if (q->file < 0 && q->len - q->off + n <= OUTQ_MEM_MAX)
		return 1;
	return (long long)q->flen + (long long)n <= c->cfg->limits.max_temp_file_size;
}

/*
 * The response would pass limits.max_temp_file_size: take the peer's
 * pace instead, as nginx does past fastcgi_max_temp_file_size.  Waits
 * until the queue has gone (or, with nothing queued, until the socket
 * takes more), for as long as the peer averages limits.min_rate after a
 * grace of write_timeout, counted from the first wait of this request.
 * 0, or -1 with errno (ETIMEDOUT: the peer is too slow).
 */
static int wait_for_room(struct conn *c)
{
	struct outq *q = &c->out;
	int grace = c->cfg->limits.write_timeout;

	if (!q->wait_ms || q->wait_req != c->requests) {
		q->wait_ms = io_now_ms();
		q->wait_mark = c->sent;
		q->wait_req = c->requests;
	}
	do {
		long long deadline = rate_deadline(c, q->wait_ms, q->wait_mark, c->sent, grace);

		if (io_wait_writable(c->fd, deadline) < 0)
			return -1;
		if (conn_drain(c) < 0)
			return -1;
	} while (conn_pending(c) > 0);
	return 0;
}

/*
 * The socket is full: give a peer that reads at memory speed (nginx)
 * SPILL_WAIT_MS to make room, rather than queue what it has not taken
 * and spill past OUTQ_MEM_MAX (defaults.h).  A peer that lets that pass
 * is slow: for the rest of this request it is not waited for again, and
 * the queue takes its pace.  0 when the socket takes more; -1 with errno
 * (ETIMEDOUT: slow, now or before).
 */
static int wait_briefly(struct conn *c)
{
	struct outq *q = &c->out;

	if (q->slow_req == c->requests + 1) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (io_wait_writable(c->fd, io_now_ms() + SPILL_WAIT_MS) == 0)
		return 0;
	if (errno == ETIMEDOUT)
		q->slow_req = c->requests + 1;
	return -1;
}

/* Output is still queued from an earlier write: wait_briefly for the
 * peer to take it.  0 (taken, or the peer is slow), or -1 with errno. */
static int wait_for_reader(struct conn *c)
{
	while (conn_pending(c) > 0) {
		if (wait_briefly(c) < 0)
			return errno == ETIMEDOUT ? 0 : -1;
		if (conn_drain(c) < 0)
			return -1;
	}
	return 0;
}

int conn_send(struct conn *c, const struct iovec *iov, int iovcnt, int more)
{
	int i = 0;
	size_t skip = 0;	/* bytes of iov[i] already written */

	if (conn_pending(c) > 0 && (conn_drain(c) < 0 || wait_for_reader(c) < 0))
		return -1;
again:
	while (i < iovcnt && conn_pending(c) == 0) {
		struct iovec part[64];
		const struct iovec *v = iov + i;
		int nv = iovcnt - i;
		ssize_t n;

		/* The caller's vector as it is, unless a write stopped inside
		 * one of its pieces, or it is longer than one writev takes. */
		if (skip || nv > 64) {
			nv = nv > 64 ? 64 : nv;
			for (int k = 0; k < nv; k++)
				part[k] = iov[i + k];
			part[0].iov_base = (char *)part[0].iov_base + skip;
			part[0].iov_len -= skip;
			v = part;
		}
		n = writev(c->fd, v, nv);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Full: wait rather than copy what more is coming
			 * after, or what would spill past memory. */
			if (errno == EAGAIN &&
			    (more || rest_of(iov + i, iovcnt - i, skip) > OUTQ_MEM_MAX) &&
			    wait_briefly(c) == 0)
				continue;
			if (errno == EAGAIN || errno == ETIMEDOUT)
				break;
			return -1;
		}
		c->sent += n;
		while (i < iovcnt && (size_t)n >= iov[i].iov_len - skip) {
			n -= (ssize_t)(iov[i].iov_len - skip);
			skip = 0;
			i++;
		}
		skip += (size_t)n;
	}
	if (i < iovcnt && !may_queue(c, rest_of(iov + i, iovcnt - i, skip))) {
		if (wait_for_room(c) < 0)
			return -1;
		goto again;
	}
	for (; i < iovcnt; i++, skip = 0)
		if (iov[i].iov_len > skip &&
		    queue(c, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip) < 0)
			return -1;
	return 0;
}

/* ---- Transfer deadlines --------------------------------------------- */

void conn_xfer_start(struct conn *c, long long mark, long long now)
{
	c->xfer_start_ms = now;
	c->xfer_mark = mark;
}

long long conn_xfer_deadline(const struct conn *c, long long now_mark, int grace_s)
{
	return rate_deadline(c, c->xfer_start_ms, c->xfer_mark, now_mark, grace_s);
}
