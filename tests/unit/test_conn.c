/*
 * test_conn.c - what conn.c promises the worker loop, observed from the
 * outside: the bytes a peer sees and what a waiting connection costs.
 *
 *   - conn_put closes the socket (the peer reads end of stream), while
 *     conn_forget leaves it open for the process it was handed to; the
 *     count and the all-list follow every get, put and forget.  A struct
 *     let go of stays readable, marked dead, until conn_bury, and letting
 *     it go again (a later event of the same batch) closes nothing and
 *     counts nothing: by then its descriptor number may be a new
 *     connection's.
 *   - The IDLE and HEAD timer lists stay in append order, so the first is
 *     the one that expires first; TIMER_NONE unlinks from anywhere in a
 *     list, and a connection moves between lists whole.
 *   - Input: every byte the peer wrote comes out of in[start, end) once,
 *     in order, whatever the codec leaves unconsumed between events and
 *     however a record larger than the leftover trickles in.  A parked
 *     connection holds no buffer when nothing is left, and a buffer sized
 *     to the leftover otherwise: 1,000 connections that each sent part of
 *     a request cost about 1,000 small buffers, not 1,000 x 64 KiB.
 *   - Output to a peer that does not read is queued, does not hold the
 *     worker (beyond the short SPILL_WAIT_MS), spills to a file past
 *     OUTQ_MEM_MAX so that memory stays bounded, and is delivered whole
 *     and in order once the peer reads; a peer that reads at memory
 *     speed gets a big response without a file; a gone peer is EPIPE,
 *     not a signal.
 *   - The min_rate deadline arithmetic, and conn_append's and conn_grow's cap.
 *
 * The connection is one end of a socketpair, non-blocking as a worker's
 * sockets are; the test holds the other end as the peer.  Criterion runs
 * each test in its own process, so the lists and the shared buffer start
 * empty every time.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"

/* The byte at stream offset `i` of every pattern the tests send. */
static unsigned char pat(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

static void fill_pattern(unsigned char *p, size_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(from + i);
}

/* Offset of the first byte of p[0, n) that is not pat(from + i), or n. */
static size_t pattern_mismatch(const unsigned char *p, size_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(from + i))
			return i;
	return n;
}

/*
 * A connection on a socketpair: its end non-blocking, the peer's end
 * blocking (so that the test's writes go whole); *peer gets the peer, or
 * it is closed when peer is NULL.
 */
static struct conn *open_conn(int *peer, const struct sl_config *cfg)
{
	static struct sl_config defaults = {
		.limits.max_temp_file_size = DEFAULT_MAX_TEMP_FILE_SIZE,
	};
	int sv[2];
	struct conn *c;

	if (!cfg)
		cfg = &defaults;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	c = conn_get(sv[0], NULL, cfg);
	cr_assert_not_null(c);
	if (peer)
		*peer = sv[1];
	else
		close(sv[1]);
	return c;
}

static void write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		cr_assert_gt(w, 0, "write to the peer: %s", strerror(errno));
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static int fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/*
 * What the tests let go of is freed as the event loop would, between
 * batches.  The timeout turns a socket that wrongly stays open (a read
 * that would wait forever) into a failure.
 */
TestSuite(conn, .fini = conn_bury, .timeout = 30);

/* ---- Lifetime --------------------------------------------------------- */

Test(conn, get_starts_clean)
{
	static const struct sl_config cfg;
	struct conn *c = open_conn(NULL, &cfg);

	cr_assert_eq(c->cfg, &cfg);
	cr_assert_eq(c->slot, -1, "a new connection is in no kept-table entry");
	cr_assert_eq(c->held, 1, "a new connection is ours to read");
	cr_assert_eq(c->out.file, -1);
	cr_assert_eq(conn_pending(c), 0);
	cr_assert_null(c->own, "a new connection holds no input buffer");
	cr_assert_eq(c->end - c->start, 0);
	cr_assert_eq(c->timer, TIMER_NONE);
	cr_assert_eq(c->rx, 0);
	cr_assert_eq(c->sent, 0);
	cr_assert_eq(conn_count(), 1);
	conn_put(c);
	cr_assert_eq(conn_count(), 0);
}

Test(conn, count_follows_get_put_and_forget)
{
	struct conn *a = open_conn(NULL, NULL), *b = open_conn(NULL, NULL);
	struct conn *c = open_conn(NULL, NULL);
	int fd = c->fd;

	cr_assert_eq(conn_count(), 3);
	conn_put(b);
	cr_assert_eq(conn_count(), 2);
	conn_forget(c);
	cr_assert_eq(conn_count(), 1);
	b = open_conn(NULL, NULL);
	cr_assert_eq(conn_count(), 2);
	conn_put(a);
	conn_put(b);
	cr_assert_eq(conn_count(), 0);
	close(fd);
}

/* conn_put closes the socket: the peer reads end of stream. */
Test(conn, put_closes_the_socket)
{
	int peer;
	struct conn *c = open_conn(&peer, NULL);
	int fd = c->fd;
	char b;

	conn_put(c);
	cr_assert_eq(read(peer, &b, 1), 0, "the peer did not see end of stream");
	cr_assert_not(fd_is_open(fd));
	close(peer);
}

/* conn_forget frees the struct only: the socket still carries bytes both ways. */
Test(conn, forget_leaves_the_socket_open)
{
	int peer;
	struct conn *c = open_conn(&peer, NULL);
	int fd = c->fd;
	char b[3] = "";

	conn_timer_set(c, TIMER_IDLE, 10);
	conn_forget(c);
	cr_assert_null(conn_timer_first(TIMER_IDLE), "a forgotten connection stayed on its timer list");
	cr_assert(fd_is_open(fd), "conn_forget closed the descriptor");
	write_all(peer, "hi", 2);
	cr_assert_eq(read(fd, b, 2), 2);
	cr_assert_str_eq(b, "hi");
	write_all(fd, "ok", 2);
	cr_assert_eq(read(peer, b, 2), 2);
	cr_assert_str_eq(b, "ok");
	close(fd);
	close(peer);
}

/*
 * Two events of one batch both end their connection: the second put finds
 * it dead and must not close the descriptor number, which a connection
 * accepted in between may already have, nor count it closed twice.
 */
Test(conn, second_put_in_a_batch_closes_nothing)
{
	int peer, peer2;
	struct conn *c = open_conn(&peer, NULL), *d;
	int fd = c->fd;
	char b;

	conn_put(c);
	cr_assert(c->dead, "a put connection is not marked dead for the rest of the batch");
	cr_assert_eq(conn_count(), 0);
	d = open_conn(&peer2, NULL);
	cr_assert_eq(d->fd, fd, "the test needs the descriptor number reused");
	conn_put(c);
	conn_forget(c);
	cr_assert(fd_is_open(fd), "a second put closed another connection's socket");
	cr_assert_eq(conn_count(), 1, "a dead connection was counted closed twice");
	cr_assert_eq(conn_first(), d);
	cr_assert_null(d->all_next);
	write_all(peer2, "x", 1);
	cr_assert_eq(read(fd, &b, 1), 1);
	conn_bury();
	cr_assert_eq(conn_first(), d, "conn_bury touched an open connection");
	conn_put(d);
	close(peer);
	close(peer2);
}

/* Walk the all-list into got[]; also checks that all_prev mirrors all_next. */
static int walk_all(struct conn **got, int max)
{
	int n = 0;

	for (struct conn *c = conn_first(), *prev = NULL; c; prev = c, c = c->all_next) {
		cr_assert_lt(n, max, "the all-list is longer than the connections open (a cycle?)");
		cr_assert_eq(c->all_prev, prev, "all_prev does not mirror all_next");
		got[n++] = c;
	}
	return n;
}

static int holds(struct conn **set, int n, const struct conn *c)
{
	for (int i = 0; i < n; i++)
		if (set[i] == c)
			return 1;
	return 0;
}

/* The all-list holds exactly the open connections, whichever was closed. */
Test(conn, all_list_sees_every_open_connection)
{
	struct conn *c[6], *got[16];
	int n, fd;

	cr_assert_null(conn_first());
	for (int i = 0; i < 6; i++)
		c[i] = open_conn(NULL, NULL);
	/* Drop the newest, the oldest and one between: every position. */
	conn_put(c[5]);
	conn_put(c[0]);
	fd = c[2]->fd;
	conn_forget(c[2]);
	close(fd);
	n = walk_all(got, 16);
	cr_assert_eq(n, 3);
	cr_assert_eq(n, conn_count());
	for (int i = 1; i < 5; i++)
		if (i != 2)
			cr_assert(holds(got, n, c[i]), "open connection %d is not on the all-list", i);
	conn_put(c[1]);
	conn_put(c[3]);
	conn_put(c[4]);
	cr_assert_null(conn_first());
}

/* ---- Timer lists ------------------------------------------------------- */

/* The list `t` into got[]; checks the back links as it goes. */
static int walk_timer(enum conn_timer t, struct conn **got, int max)
{
	int n = 0;

	for (struct conn *c = conn_timer_first(t), *prev = NULL; c; prev = c, c = c->next) {
		cr_assert_lt(n, max, "timer list %d is longer than expected (a cycle?)", t);
		cr_assert_eq(c->prev, prev, "prev does not mirror next on list %d", t);
		cr_assert_eq(c->timer, t);
		got[n++] = c;
	}
	return n;
}

static void expect_list(enum conn_timer t, struct conn **want, int n)
{
	struct conn *got[16];

	cr_assert_eq(walk_timer(t, got, 16), n, "list %d has the wrong length", t);
	for (int i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "list %d: entry %d out of order", t, i);
}

Test(conn, idle_and_head_lists_keep_append_order)
{
	struct conn *a = open_conn(NULL, NULL), *b = open_conn(NULL, NULL);
	struct conn *c = open_conn(NULL, NULL), *d = open_conn(NULL, NULL);

	cr_assert_null(conn_timer_first(TIMER_IDLE));
	conn_timer_set(a, TIMER_IDLE, 100);
	conn_timer_set(b, TIMER_IDLE, 200);
	conn_timer_set(c, TIMER_IDLE, 300);
	conn_timer_set(d, TIMER_HEAD, 150);
	expect_list(TIMER_IDLE, (struct conn *[]){ a, b, c }, 3);
	expect_list(TIMER_HEAD, (struct conn *[]){ d }, 1);
	cr_assert_eq(conn_timer_first(TIMER_IDLE)->deadline_ms, 100, "the first is not the earliest");

	/* A new deadline on the same ordered list is the latest: it goes last. */
	conn_timer_set(a, TIMER_IDLE, 400);
	expect_list(TIMER_IDLE, (struct conn *[]){ b, c, a }, 3);
	cr_assert_eq(a->deadline_ms, 400);
	cr_assert_eq(conn_timer_first(TIMER_IDLE)->deadline_ms, 200);
	conn_put(a);
	conn_put(b);
	conn_put(c);
	conn_put(d);
	cr_assert_null(conn_timer_first(TIMER_IDLE), "a put connection stayed on its list");
	cr_assert_null(conn_timer_first(TIMER_HEAD), "a put connection stayed on its list");
}

/* TIMER_NONE unlinks the head, a middle entry and the tail alike. */
Test(conn, none_unlinks_from_any_position)
{
	struct conn *c[5];

	for (int i = 0; i < 5; i++) {
		c[i] = open_conn(NULL, NULL);
		conn_timer_set(c[i], TIMER_IDLE, 100 + i);
	}
	conn_timer_set(c[2], TIMER_NONE, 0);
	expect_list(TIMER_IDLE, (struct conn *[]){ c[0], c[1], c[3], c[4] }, 4);
	conn_timer_set(c[0], TIMER_NONE, 0);
	expect_list(TIMER_IDLE, (struct conn *[]){ c[1], c[3], c[4] }, 3);
	conn_timer_set(c[4], TIMER_NONE, 0);
	expect_list(TIMER_IDLE, (struct conn *[]){ c[1], c[3] }, 2);
	cr_assert_eq(c[2]->timer, TIMER_NONE);
	cr_assert_null(c[2]->next);
	cr_assert_null(c[2]->prev);
	/* Unlinked ones can join again, at the end. */
	conn_timer_set(c[0], TIMER_IDLE, 200);
	expect_list(TIMER_IDLE, (struct conn *[]){ c[1], c[3], c[0] }, 3);
	conn_timer_set(c[1], TIMER_NONE, 0);
	conn_timer_set(c[3], TIMER_NONE, 0);
	conn_timer_set(c[0], TIMER_NONE, 0);
	cr_assert_null(conn_timer_first(TIMER_IDLE));
	/* Setting NONE twice is harmless. */
	conn_timer_set(c[0], TIMER_NONE, 0);
	for (int i = 0; i < 5; i++)
		conn_put(c[i]);
}

/* A connection moves between lists whole: off the old one, last on the new. */
Test(conn, moves_between_lists)
{
	struct conn *a = open_conn(NULL, NULL), *b = open_conn(NULL, NULL);
	struct conn *c = open_conn(NULL, NULL);

	conn_timer_set(a, TIMER_HEAD, 10);
	conn_timer_set(b, TIMER_HEAD, 20);
	conn_timer_set(c, TIMER_IDLE, 5);
	conn_timer_set(a, TIMER_IDLE, 30);
	expect_list(TIMER_HEAD, (struct conn *[]){ b }, 1);
	expect_list(TIMER_IDLE, (struct conn *[]){ c, a }, 2);
	conn_timer_set(b, TIMER_RATE, 99);
	cr_assert_null(conn_timer_first(TIMER_HEAD));
	expect_list(TIMER_RATE, (struct conn *[]){ b }, 1);
	conn_timer_set(a, TIMER_RATE, 50);
	expect_list(TIMER_RATE, (struct conn *[]){ b, a }, 2);
	expect_list(TIMER_IDLE, (struct conn *[]){ c }, 1);
	/* On the scanned RATE list a new deadline need not move the entry,
	 * but it must be the one the scan sees. */
	conn_timer_set(b, TIMER_RATE, 7);
	cr_assert_eq(b->deadline_ms, 7);
	cr_assert_eq(walk_timer(TIMER_RATE, (struct conn *[4]){ 0 }, 4), 2);
	conn_put(a);
	conn_put(b);
	conn_put(c);
	cr_assert_null(conn_timer_first(TIMER_RATE));
	cr_assert_null(conn_timer_first(TIMER_IDLE));
}

/* ---- Input ------------------------------------------------------------- */

/* One event's reads: conn_fill until the socket is empty; the bytes read. */
static size_t fill_all(struct conn *c)
{
	size_t total = 0;
	ssize_t n;

	while ((n = conn_fill(c)) > 0)
		total += (size_t)n;
	cr_assert(n < 0 && errno == EAGAIN, "conn_fill: %zd (%s), expected EAGAIN",
		  n, n < 0 ? strerror(errno) : "end of stream");
	return total;
}

/* All consumed: parking leaves the connection no buffer of its own. */
Test(conn, park_frees_when_everything_was_consumed)
{
	unsigned char buf[300];
	int peer;
	struct conn *c;

	cr_assert_eq(conn_init(), 0);
	c = open_conn(&peer, NULL);
	fill_pattern(buf, 0, sizeof(buf));
	write_all(peer, buf, sizeof(buf));
	cr_assert_eq(fill_all(c), sizeof(buf));
	cr_assert_eq(c->rx, (long long)sizeof(buf));
	cr_assert_eq(c->end - c->start, sizeof(buf));
	cr_assert_eq(pattern_mismatch(c->in + c->start, 0, sizeof(buf)), sizeof(buf));
	cr_assert_null(c->own, "the read went to a buffer of the connection's own, not the shared one");
	c->start = c->end;
	cr_assert_eq(conn_park(c), 0);
	cr_assert_null(c->own);
	cr_assert_eq(c->own_cap, 0);
	cr_assert_eq(c->end - c->start, 0);
	conn_put(c);
	close(peer);
}

/*
 * A read of the shared buffer can leave more than one record unread (a
 * peer that writes requests back to back).  Parked, it gets a buffer of
 * its own bigger than a record; reads that follow must keep every byte,
 * and a full buffer must say so, not shrink under what it holds.
 */
Test(conn, parked_remainder_bigger_than_a_record_keeps_every_byte)
{
	enum { PENDING = CONN_INBUF_SIZE + 4000, MORE = 80000, PIECE = 4096 };
	unsigned char *src = malloc(PENDING + MORE);
	size_t sent = PENDING;
	int peer, full = 0;
	struct conn *c;

	cr_assert_eq(conn_init(), 0);
	c = open_conn(&peer, NULL);
	fill_pattern(src, 0, PENDING + MORE);
	write_all(peer, src, PENDING);
	cr_assert_eq(fill_all(c), PENDING);
	cr_assert_eq(conn_park(c), 0);
	cr_assert_eq(c->in, c->own);
	cr_assert_geq(c->own_cap, (size_t)PENDING);
	while (sent < PENDING + MORE && !full) {
		size_t k = PENDING + MORE - sent < PIECE ? PENDING + MORE - sent : PIECE;
		ssize_t n;

		write_all(peer, src + sent, k);
		sent += k;
		while ((n = conn_fill(c)) > 0)
			;
		cr_assert(n < 0 && (errno == EAGAIN || errno == ENOBUFS), "conn_fill: %zd (%s)",
			  n, n < 0 ? strerror(errno) : "end of stream");
		full = errno == ENOBUFS;
		cr_assert_leq(c->end, c->own_cap);
		cr_assert_eq(pattern_mismatch(c->in, 0, c->end), c->end, "a byte was lost");
	}
	cr_assert_geq(c->end, (size_t)PENDING + PIECE);
	conn_put(c);
	close(peer);
	free(src);
}

/*
 * A connection left with unread input in the shared buffer, unparked,
 * keeps it when another one reads: it is moved out first.  And one let go
 * of while it held the buffer is not touched again.
 */
Test(conn, unparked_input_survives_another_connections_read)
{
	enum { A_LEN = 3000, B_LEN = 5000 };
	unsigned char *src = malloc(B_LEN);
	int pa, pb;
	struct conn *a, *b;

	cr_assert_eq(conn_init(), 0);
	a = open_conn(&pa, NULL);
	b = open_conn(&pb, NULL);
	fill_pattern(src, 0, B_LEN);
	write_all(pa, src, A_LEN);
	cr_assert_eq(fill_all(a), A_LEN);
	a->start = 100;			/* a codec took a little of it */
	memset(src, 0xee, B_LEN);	/* other bytes, over where a's lie */
	write_all(pb, src, B_LEN);
	cr_assert_eq(fill_all(b), B_LEN);
	cr_assert_neq(a->in, b->in, "both read into one buffer");
	cr_assert_eq(a->end - a->start, (size_t)A_LEN - 100);
	cr_assert_eq(pattern_mismatch(a->in + a->start, 100, A_LEN - 100), A_LEN - 100,
		     "a's unread input was overwritten");

	conn_put(b);			/* b held the buffer */
	conn_bury();
	close(pb);
	write_all(pa, src, 10);
	cr_assert_eq(conn_fill(a), 10);
	conn_put(a);
	close(pa);
	free(src);
}

/*
 * The parameter buffer of a request with a hundred headers (8 KiB) is
 * the spare of the request after next: held while its request runs, then
 * kept, not freed and taken anew.  One of 64 KiB is not kept.
 */
Test(conn, params_buffer_of_a_hundred_headers_is_reused)
{
	static const char mark[] = "kept across requests";
	unsigned char *first;
	int peer;
	struct conn *c;

	cr_assert_eq(conn_init(), 0);
	c = open_conn(&peer, NULL);
	cr_assert_eq(conn_params_room(c, 8000, 65536), 0);
	first = c->params;
	memcpy(first, mark, sizeof(mark));
	conn_hold_params(c);			/* request 1 runs */
	cr_assert_eq(conn_params_room(c, 8000, 65536), 0);
	cr_assert_neq(c->params, first, "the held buffer was taken while held");
	conn_hold_params(c);			/* request 2 runs; 1's buffer is spare */
	cr_assert_eq(conn_params_room(c, 8000, 65536), 0);
	cr_assert_eq(c->params, first, "request 3 did not get request 1's buffer");
	cr_assert_eq(memcmp(c->params, mark, sizeof(mark)), 0);
	conn_hold_params(c);

	cr_assert_eq(conn_params_room(c, 60000, 65536), 0);
	cr_assert_geq(c->params_cap, (size_t)60001);
	conn_hold_params(c);
	cr_assert_eq(conn_params_room(c, 100, 65536), 0);
	conn_hold_params(c);
	cr_assert_eq(conn_params_room(c, 100, 65536), 0);
	cr_assert_leq(c->params_cap, (size_t)16384, "a 64 KiB buffer was kept as the spare");
	conn_hold_params(c);
	conn_put(c);
	close(peer);
}

/* A leftover is kept, intact, in a buffer sized to it; the next read follows it. */
Test(conn, park_keeps_a_leftover_in_a_small_buffer)
{
	unsigned char buf[1000];
	int peer;
	struct conn *c;

	cr_assert_eq(conn_init(), 0);
	c = open_conn(&peer, NULL);
	fill_pattern(buf, 0, sizeof(buf));
	write_all(peer, buf, 900);
	cr_assert_eq(fill_all(c), 900);
	c->start += 800;
	cr_assert_eq(conn_park(c), 0);
	cr_assert_not_null(c->own);
	cr_assert_eq(c->in, c->own, "the leftover is not in the connection's own buffer");
	cr_assert_geq(c->own_cap, 100);
	cr_assert_leq(c->own_cap, 4096, "a 100-byte leftover holds a %zu-byte buffer", c->own_cap);
	cr_assert_eq(c->end - c->start, 100);
	cr_assert_eq(pattern_mismatch(c->in + c->start, 800, 100), 100, "the leftover was damaged");

	write_all(peer, buf + 900, 100);
	cr_assert_eq(fill_all(c), 100);
	cr_assert_eq(c->end - c->start, 200);
	cr_assert_eq(pattern_mismatch(c->in + c->start, 800, 200), 200,
		     "the new bytes do not follow the leftover");
	cr_assert_eq(c->rx, 1000);
	c->start = c->end;
	cr_assert_eq(conn_park(c), 0);
	cr_assert_null(c->own, "a consumed leftover kept its buffer");
	conn_put(c);
	close(peer);
}

/*
 * A connection that once received a big record and is then left with a
 * small leftover (the next request's first bytes after a 64 KiB STDIN
 * record) must not keep the big buffer while it waits.
 */
Test(conn, small_leftover_after_a_big_record_holds_a_small_buffer)
{
	enum { BIG = 40000 };
	unsigned char *buf = malloc(BIG + 100);
	int peer;
	struct conn *c;

	cr_assert_eq(conn_init(), 0);
	c = open_conn(&peer, NULL);
	fill_pattern(buf, 0, BIG + 100);
	write_all(peer, buf, BIG / 2);
	fill_all(c);
	cr_assert_eq(conn_park(c), 0);		/* half a record waits */
	write_all(peer, buf + BIG / 2, BIG / 2 + 100);
	fill_all(c);
	cr_assert_eq(c->end - c->start, BIG + 100);
	cr_assert_eq(pattern_mismatch(c->in + c->start, 0, BIG + 100), BIG + 100);
	c->start += BIG;			/* the record is consumed */
	cr_assert_eq(conn_park(c), 0);
	cr_assert_eq(c->end - c->start, 100);
	cr_assert_eq(pattern_mismatch(c->in + c->start, BIG, 100), 100);
	cr_assert_leq(c->own_cap, 4096, "a 100-byte leftover holds a %zu-byte buffer", c->own_cap);
	conn_put(c);
	close(peer);
	free(buf);
}

/*
 * 70,000 bytes arrive in 7,000-byte pieces; after each event the codec
 * leaves a varying tail unconsumed (none, a byte, around the size where
 * conn.c switches strategy, a large part).  Everything that start..end
 * exposes, consumed in order, must be the stream itself.
 */
Test(conn, stream_survives_any_leftover)
{
	enum { TOTAL = 70000, PIECE = 7000 };
	static const size_t keep[] = { 0, 1, 100, 4095, 4096, 4097, 6000, 30000, 65000 };
	unsigned char *src = malloc(TOTAL), *got = malloc(TOTAL);
	size_t ngot = 0;
	int peer;
	struct conn *c;

	cr_assert_eq(conn_init(), 0);
	c = open_conn(&peer, NULL);
	fill_pattern(src, 0, TOTAL);
	for (size_t off = 0, ev = 0; off < TOTAL; off += PIECE, ev++) {
		size_t left;

		write_all(peer, src + off, PIECE);
		fill_all(c);
		left = c->end - c->start;
		if (left > keep[ev % 9])
			left = keep[ev % 9];
		memcpy(got + ngot, c->in + c->start, c->end - c->start - left);
		ngot += c->end - c->start - left;
		c->start = c->end - left;
		cr_assert_eq(conn_park(c), 0);
		cr_assert_eq(c->end - c->start, left);
	}
	close(peer);
	while (conn_fill(c) > 0)
		;
	memcpy(got + ngot, c->in + c->start, c->end - c->start);
	ngot += c->end - c->start;
	cr_assert_eq(ngot, TOTAL, "%zu bytes came out of %d", ngot, TOTAL);
	cr_assert_eq(pattern_mismatch(got, 0, TOTAL), TOTAL, "byte %zu differs",
		     pattern_mismatch(got, 0, TOTAL));
	cr_assert_eq(c->rx, TOTAL);
	conn_put(c);
	free(src);
	free(got);
}

/*
 * One event reads the shared buffer full, the codec takes every record
 * but the first bytes of the next header (too few to know its size, so
 * nothing to reserve), and reads again: the read must find room, with
 * those bytes still first.
 */
Test(conn, read_after_a_full_buffer_keeps_a_partial_header)
{
	enum { TOTAL = CONN_READ_SIZE + 5000, TAIL = 3, PIECE = 32768 };
	unsigned char *src = malloc(TOTAL);
	size_t sent = 0;
	ssize_t n;
	int peer;
	struct conn *c;

	cr_assert_eq(conn_init(), 0);
	c = open_conn(&peer, NULL);
	fill_pattern(src, 0, TOTAL);
	/* Fed in pieces: the whole would not fit in the socket's buffer. */
	while (c->end < CONN_READ_SIZE) {
		size_t k = TOTAL - sent < PIECE ? TOTAL - sent : PIECE;

		write_all(peer, src + sent, k);
		sent += k;
		cr_assert_gt(conn_fill(c), 0, "the shared buffer did not fill");
	}
	cr_assert_eq(c->start, 0);
	write_all(peer, src + sent, TOTAL - sent);
	c->start = c->end - TAIL;
	n = conn_fill(c);
	cr_assert_gt(n, 0, "no room to read after %d bytes at the end of a full buffer: %s",
		     TAIL, n < 0 ? strerror(errno) : "end of stream");
	fill_all(c);
	cr_assert_eq(c->end - c->start, TAIL + 5000);
	cr_assert_eq(pattern_mismatch(c->in + c->start, CONN_READ_SIZE - TAIL, TAIL + 5000), TAIL + 5000);
	conn_put(c);
	close(peer);
	free(src);
}

/*
 * Records up to the largest FastCGI one (CONN_INBUF_SIZE) trickle in
 * 1,000 bytes per event.  The codec, as fcgi.c does, calls conn_reserve
 * for a record that is not whole yet and consumes it once it is: each
 * record must then lie whole and intact at in[start].
 */
Test(conn, large_record_grows_the_buffer_without_losing_bytes)
{
	static const size_t rec[] = { 100, CONN_INBUF_SIZE, 5000, 40000, 1, CONN_INBUF_SIZE - 1, 3 };
	enum { NREC = sizeof(rec) / sizeof(rec[0]), PIECE = 1000 };
	size_t total = 0, pos = 0, r = 0;
	unsigned char *src;
	int peer;
	struct conn *c;

	for (int i = 0; i < NREC; i++)
		total += rec[i];
	src = malloc(total);
	fill_pattern(src, 0, total);
	cr_assert_eq(conn_init(), 0);
	c = open_conn(&peer, NULL);
	for (size_t off = 0; off < total; off += PIECE) {
		ssize_t n;

		write_all(peer, src + off, off + PIECE <= total ? PIECE : total - off);
		/* One event: read, take the whole records, make room, read again. */
		while ((n = conn_fill(c)) > 0) {
			while (r < NREC && c->end - c->start >= rec[r]) {
				size_t bad = pattern_mismatch(c->in + c->start, pos, rec[r]);

				cr_assert_eq(bad, rec[r], "record %zu (%zu bytes) damaged at byte %zu",
					     r, rec[r], bad);
				c->start += rec[r];
				pos += rec[r++];
			}
			if (r < NREC)
				cr_assert_eq(conn_reserve(c, rec[r]), 0,
					     "no room for a %zu-byte record", rec[r]);
		}
		cr_assert(n < 0 && errno == EAGAIN, "conn_fill: %zd (%s)", n,
			  n < 0 ? strerror(errno) : "end of stream");
		cr_assert_eq(conn_park(c), 0);
	}
	cr_assert_eq(r, NREC, "%zu of %d records came out", r, NREC);
	cr_assert_eq(c->rx, (long long)total);
	cr_assert_null(c->own, "everything was consumed, yet a buffer is kept");
	conn_put(c);
	close(peer);
	free(src);
}

/*
 * 1,000 connections that each sent 200 bytes of a request they have not
 * finished cost about 1,000 x (the struct + 1 KiB), not 1,000 read
 * buffers: each holds a buffer of at most OWN_MIN-ish size, with its own
 * bytes in it.
 */
Test(conn, a_thousand_parked_leftovers_stay_small)
{
	enum { N = 1000, SENT = 1200, LEFT = 200 };
	static struct conn *c[N];
	static int peer[N];
	unsigned char buf[SENT];
	size_t own_total = 0;

	cr_assert_eq(conn_init(), 0);
	for (int i = 0; i < N; i++) {
		c[i] = open_conn(&peer[i], NULL);
		fill_pattern(buf, (size_t)i * 10, SENT);
		write_all(peer[i], buf, SENT);
		cr_assert_eq(fill_all(c[i]), SENT);
		c[i]->start = c[i]->end - LEFT;
		cr_assert_eq(conn_park(c[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(c[i]->end - c[i]->start, LEFT);
		cr_assert_eq(pattern_mismatch(c[i]->in + c[i]->start, (size_t)i * 10 + SENT - LEFT, LEFT),
			     LEFT, "connection %d holds someone else's bytes", i);
		cr_assert_leq(c[i]->own_cap, 1024, "connection %d holds %zu bytes for a %d-byte leftover",
			      i, c[i]->own_cap, LEFT);
		own_total += c[i]->own_cap;
	}
	cr_log_info("1000 parked connections: %zu bytes of structs, %zu of buffers",
		    N * sizeof(struct conn), own_total);
	cr_assert_leq(own_total, (size_t)N * 1024);
	cr_assert_eq(conn_count(), N);
	for (int i = 0; i < N; i++) {
		conn_put(c[i]);
		close(peer[i]);
	}
}

/* ---- Output ------------------------------------------------------------ */

/* The smallest send buffer the kernel allows, so that the queue fills fast. */
static void small_sndbuf(int fd)
{
	int size = 1;

	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
}

/* Read what the peer can take now, without waiting, checking the pattern. */
static size_t peer_read(int peer, size_t from)
{
	unsigned char buf[16384];
	size_t got = 0;
	ssize_t n;

	while ((n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		cr_assert_eq(pattern_mismatch(buf, from + got, (size_t)n), (size_t)n,
			     "the peer got a wrong byte at offset %zu",
			     from + got + pattern_mismatch(buf, from + got, (size_t)n));
		got += (size_t)n;
	}
	return got;
}

/* Send [from, from + n) of the pattern in 16 KiB pieces, three iovecs each. */
static void send_pattern(struct conn *c, size_t from, size_t n)
{
	static unsigned char buf[16384];

	for (size_t off = 0; off < n; off += sizeof(buf)) {
		size_t len = n - off < sizeof(buf) ? n - off : sizeof(buf);
		struct iovec iov[3] = {
			{ buf, len / 3 }, { buf + len / 3, 0 }, { buf + len / 3, len - len / 3 },
		};

		fill_pattern(buf, from + off, len);
		cr_assert_eq(conn_send(c, iov, 3, 0), 0, "conn_send: %s", strerror(errno));
		cr_assert_leq(c->out.cap, OUTQ_MEM_MAX, "the memory queue grew to %zu bytes", c->out.cap);
	}
}

/* Peer reads, worker drains, until `total` bytes have arrived. */
static void deliver(struct conn *c, int peer, size_t *got, size_t total)
{
	for (int rounds = 0; *got < total; rounds++) {
		cr_assert_lt(rounds, 1000000, "stuck at %zu of %zu bytes", *got, total);
		*got += peer_read(peer, *got);
		cr_assert_eq(conn_drain(c), 0, "conn_drain: %s", strerror(errno));
	}
}

/* Send [from, from + n) of the pattern as one iovec (`more` as conn_send's); how long it took. */
static long long send_one(struct conn *c, size_t from, size_t n, int more)
{
	unsigned char *buf = malloc(n);
	struct iovec iov = { buf, n };
	struct timespec t0, t1;

	fill_pattern(buf, from, n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(conn_send(c, &iov, 1, more), 0, "conn_send: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(buf);
	cr_assert_leq(c->out.cap, OUTQ_MEM_MAX, "the memory queue grew to %zu bytes", c->out.cap);
	return (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

/*
 * A peer that does not read: conn_send returns at once (or after the
 * short SPILL_WAIT_MS), the queue goes to a file past OUTQ_MEM_MAX with
 * memory capped, and once the peer reads, every byte arrives in order
 * and the queue gives its memory and its file back.
 */
Test(conn, slow_reader_spills_to_a_file_and_gets_every_byte)
{
	const size_t half = OUTQ_MEM_MAX / 2, big = 4 * OUTQ_MEM_MAX, more = OUTQ_MEM_MAX + 12345;
	size_t got = 0, total = 0;
	long long ms;
	int peer, spill;
	struct conn *c;

	c = open_conn(&peer, NULL);
	small_sndbuf(c->fd);
	send_pattern(c, total, half);
	total += half;
	cr_assert_gt(conn_pending(c), 0, "a stalled peer took %zu bytes (is SO_SNDBUF honoured?)", half);
	cr_assert_lt(c->out.file, 0, "spilled before OUTQ_MEM_MAX");

	ms = send_one(c, total, big, 0);
	total += big;
	cr_assert_lt(ms, 20 * SPILL_WAIT_MS, "conn_send waited %lld ms for a reader that does not read", ms);
	cr_assert_geq(c->out.file, 0, "%lld bytes queued, none in a file", conn_pending(c));
	cr_assert_gt(conn_pending(c), OUTQ_MEM_MAX);
	send_pattern(c, total, half);	/* behind what is in the file */
	total += half;
	cr_assert_eq((long long)total, c->sent + conn_pending(c), "bytes were lost or doubled");
	spill = c->out.file;

	/* Part of it goes; more is sent behind what is still queued. */
	got += peer_read(peer, 0);
	cr_assert_eq(conn_drain(c), 0);
	send_pattern(c, total, more);
	total += more;
	deliver(c, peer, &got, total);
	cr_assert_eq(got, total);
	cr_assert_eq(conn_pending(c), 0);
	cr_assert_eq(c->sent, (long long)total);
	cr_assert_null(c->out.mem, "the drained queue kept its memory");
	cr_assert_eq(c->out.cap, 0);
	cr_assert_eq(c->out.file, -1);
	cr_assert_not(fd_is_open(spill), "the spill file was left open");

	/* The queue is empty: the next send goes straight to the socket. */
	send_pattern(c, total, 1000);
	cr_assert_eq(conn_pending(c), 0);
	got += peer_read(peer, got);
	cr_assert_eq(got, total + 1000);
	conn_put(c);
	close(peer);
}

struct reader {
	int fd;
	size_t want, got;
	int bad;	/* 1 + offset of the first wrong byte, 0: none */
};

/* A peer that reads as fast as it can (nginx on the same machine). */
static void *read_fast(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[65536];
	ssize_t n;

	while (r->got < r->want && (n = read(r->fd, buf, sizeof(buf))) > 0) {
		size_t at = pattern_mismatch(buf, r->got, (size_t)n);

		if (at < (size_t)n && !r->bad)
			r->bad = 1 + (int)(r->got + at);
		r->got += (size_t)n;
	}
	return NULL;
}

/* Drain what is queued to the reader of `r`, then check it got every byte in order. */
static void finish_fast_reader(struct conn *c, int peer, struct reader *r, pthread_t th)
{
	for (int i = 0; conn_pending(c) > 0; i++) {
		cr_assert_lt(i, 100000, "the queue never drained");
		cr_assert_eq(conn_drain(c), 0, "conn_drain: %s", strerror(errno));
		if (conn_pending(c) > 0)
			usleep(100);
	}
	pthread_join(th, NULL);
	cr_assert_eq(r->got, r->want);
	cr_assert_eq(r->bad, 0, "the reader got a wrong byte at offset %d", r->bad - 1);
	conn_put(c);
	close(peer);
}

/*
 * One big response to a reader at memory speed; every byte must arrive.
 * Returns 1 when it went out without a spill file.
 */
static int send_to_fast_reader(size_t total)
{
	struct reader r = { .want = total };
	pthread_t th;
	int peer, spilled;
	struct conn *c = open_conn(&peer, NULL);

	r.fd = peer;
	small_sndbuf(c->fd);	/* the socket fills many times over: each time, wait or spill */
	cr_assert_eq(pthread_create(&th, NULL, read_fast, &r), 0);
	send_one(c, 0, total, 0);
	spilled = c->out.file >= 0;
	finish_fast_reader(c, peer, &r, th);
	return !spilled;
}

/*
 * The same response as codecs send it: one record's worth per conn_send
 * (32 KiB), the last with `more` 0.  With `more` 0 throughout, each finds
 * the one before still queued.  Returns 1 when it went out without a
 * spill file (and, with `more`, without the memory queue: nothing but
 * the end copied).
 */
static int send_records_to_fast_reader(size_t total, int more)
{
	struct reader r = { .want = total };
	pthread_t th;
	int peer, spilled = 0;
	struct conn *c = open_conn(&peer, NULL);

	r.fd = peer;
	small_sndbuf(c->fd);
	cr_assert_eq(pthread_create(&th, NULL, read_fast, &r), 0);
	for (size_t off = 0; off < total; off += 32768) {
		send_one(c, off, 32768, more && off + 32768 < total);
		spilled |= c->out.file >= 0 || (more && off + 32768 < total && c->out.cap > 0);
	}
	finish_fast_reader(c, peer, &r, th);
	return !spilled;
}

/*
 * A peer that reads at memory speed is waited for, not spilled to disk:
 * a response many times OUTQ_MEM_MAX goes out with no file.  The wait is
 * SPILL_WAIT_MS, so on a machine too loaded to schedule the reader that
 * soon a spill is right; three tries keep the test about conn.c.
 */
Test(conn, fast_reader_gets_a_big_response_without_a_file)
{
	int tries = 0;

	while (tries < 3 && !send_to_fast_reader(16 * OUTQ_MEM_MAX))
		tries++;
	cr_assert_lt(tries, 3, "a reader at memory speed got a spill file %d times out of %d", tries, tries);
	if (tries > 0)
		cr_log_warn("the fast reader was spilled %d times (a loaded machine?)", tries);
}

/* The same, sent a record at a time: each send waits for the queue before its own. */
Test(conn, fast_reader_gets_a_response_sent_by_records_without_a_file)
{
	int tries = 0;

	while (tries < 3 && !send_records_to_fast_reader(64 * OUTQ_MEM_MAX, 0))
		tries++;
	cr_assert_lt(tries, 3, "a reader at memory speed got a spill file %d times out of %d", tries, tries);
	if (tries > 0)
		cr_log_warn("the fast reader was spilled %d times (a loaded machine?)", tries);
}

/*
 * The same with `more` until the end, as codecs send a response the
 * handler is still writing: a full socket is waited for in place, so
 * nothing is copied to the queue (a copy costs as much as the write).
 */
Test(conn, records_with_more_to_come_are_not_copied_to_the_queue)
{
	int tries = 0;

	while (tries < 3 && !send_records_to_fast_reader(64 * OUTQ_MEM_MAX, 1))
		tries++;
	cr_assert_lt(tries, 3, "a reader at memory speed got its records queued %d times out of %d",
		     tries, tries);
	if (tries > 0)
		cr_log_warn("the fast reader was queued for %d times (a loaded machine?)", tries);
}

/*
 * A peer that does not read, with more to come: the first send waits
 * SPILL_WAIT_MS and queues; the peer is slow from then on, so the next
 * send of the same request queues at once.
 */
Test(conn, a_stalled_peer_is_waited_for_once_per_request)
{
	long long first, second;
	int peer;
	struct conn *c = open_conn(&peer, NULL);

	small_sndbuf(c->fd);
	first = send_one(c, 0, OUTQ_MEM_MAX / 4, 1);
	cr_assert_gt(conn_pending(c), 0, "a stalled peer took %d bytes", OUTQ_MEM_MAX / 4);
	cr_assert_geq(first, SPILL_WAIT_MS - 1, "conn_send gave the peer %lld ms, not SPILL_WAIT_MS",
		      first);
	second = send_one(c, OUTQ_MEM_MAX / 4, OUTQ_MEM_MAX / 4, 1);
	cr_assert_lt(second, SPILL_WAIT_MS, "a peer already found slow was waited for %lld ms",
		     second);
	cr_assert_eq(c->sent + conn_pending(c), OUTQ_MEM_MAX / 2, "bytes were lost or doubled");
	conn_put(c);
	close(peer);
}

/* A gone peer: conn_send and conn_drain say EPIPE (workers ignore SIGPIPE). */
Test(conn, send_to_a_closed_peer_is_epipe)
{
	char hello[] = "hello";
	struct iovec iov = { hello, 5 };
	int peer;
	struct conn *c;

	signal(SIGPIPE, SIG_IGN);
	c = open_conn(&peer, NULL);
	close(peer);
	errno = 0;
	cr_assert_eq(conn_send(c, &iov, 1, 0), -1);
	cr_assert_eq(errno, EPIPE, "errno %d (%s)", errno, strerror(errno));
	conn_put(c);

	c = open_conn(&peer, NULL);
	small_sndbuf(c->fd);
	send_pattern(c, 0, 64 * 1024);
	cr_assert_gt(conn_pending(c), 0);
	close(peer);
	errno = 0;
	cr_assert_eq(conn_drain(c), -1);
	cr_assert(errno == EPIPE || errno == ECONNRESET, "errno %d (%s)", errno, strerror(errno));
	errno = 0;
	cr_assert_eq(conn_send(c, &iov, 1, 0), -1, "a send behind a failed queue succeeded");
	conn_put(c);
}

/* ---- Transfer deadlines and conn_append --------------------------------- */

Test(conn, xfer_deadline_is_grace_plus_bytes_over_min_rate)
{
	struct sl_config cfg = { 0 };
	struct conn *c = open_conn(NULL, &cfg);

	cfg.limits.min_rate = 500;
	conn_xfer_start(c, 5000, 10000);
	cr_assert_eq(conn_xfer_deadline(c, 5000, 30), 10000 + 30000, "no bytes yet: grace only");
	cr_assert_eq(conn_xfer_deadline(c, 6000, 30), 10000 + 30000 + 2000,
		     "1000 bytes at 500 B/s must buy 2 s");
	cr_assert_eq(conn_xfer_deadline(c, 5000 + 8LL * 500 * 3600, 30), 10000 + 30000 + 8LL * 3600 * 1000,
		     "an 8-hour transfer overflowed");
	cr_assert_eq(conn_xfer_deadline(c, 6000, 0), 10000 + 2000);

	cfg.limits.min_rate = 0;
	cr_assert_eq(conn_xfer_deadline(c, 5000 + (1LL << 40), 30), 10000 + 30000,
		     "min_rate 0 must mean grace only");
	conn_put(c);
}

Test(conn, append_caps_at_max_with_efbig)
{
	unsigned char *buf = NULL, data[3000];
	size_t len = 0, cap = 0;

	fill_pattern(data, 0, sizeof(data));
	cr_assert_eq(conn_append(&buf, &len, &cap, data, 2000, 5000), 0);
	cr_assert_eq(conn_append(&buf, &len, &cap, data + 2000, 1000, 5000), 0);
	cr_assert_eq(conn_append(&buf, &len, &cap, data, 2000, 5000), 0);
	cr_assert_eq(len, 5000, "appends up to max exactly are allowed");
	cr_assert_leq(cap, 5000, "the buffer grew past max");
	errno = 0;
	cr_assert_eq(conn_append(&buf, &len, &cap, data, 1, 5000), -1);
	cr_assert_eq(errno, EFBIG);
	cr_assert_eq(len, 5000, "a refused append changed the length");
	cr_assert_eq(pattern_mismatch(buf, 0, 3000), 3000);
	cr_assert_eq(pattern_mismatch(buf + 3000, 0, 2000), 2000);
	free(buf);
}

Test(conn, grow_makes_room_keeps_content_and_caps_at_max)
{
	unsigned char *buf = NULL, data[1500];
	size_t len = 0, cap = 0;

	fill_pattern(data, 0, sizeof(data));
	cr_assert_eq(conn_append(&buf, &len, &cap, data, sizeof(data), 5000), 0);
	cr_assert_eq(conn_grow(&buf, &cap, 4000, 5000), 0);
	cr_assert_geq(cap, 4000, "conn_grow left less room than asked");
	cr_assert_leq(cap, 5000, "the buffer grew past max");
	cr_assert_eq(len, sizeof(data), "conn_grow changed the length");
	cr_assert_eq(pattern_mismatch(buf, 0, sizeof(data)), sizeof(data));
	errno = 0;
	cr_assert_eq(conn_grow(&buf, &cap, 5001, 5000), -1);
	cr_assert_eq(errno, EFBIG);
	cr_assert_leq(cap, 5000, "a refused growth changed the buffer");
	free(buf);
}
