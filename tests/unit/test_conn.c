/*
 * test_conn.c - the connection pool and timer lists of conn.c: a struct
 * handed back comes out again reset, the timer lists keep insertion
 * order, conn_each sees every waiting connection, and the input buffer
 * is filled from a real socket and compacted.
 *
 * Connections sit on one end of a socketpair; the test holds the other
 * end as the peer.  Criterion runs each test in its own process, so the
 * pool and the lists start empty every time.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"

/* A connection on a non-blocking socketpair; *peer gets the other end. */
static struct conn *open_conn(int *peer)
{
	int sv[2];
	struct conn *c;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	c = conn_get(sv[0], NULL, NULL);
	cr_assert_not_null(c);
	cr_assert_eq(c->fd, sv[0]);
	if (peer)
		*peer = sv[1];
	else
		close(sv[1]);
	return c;
}

TestSuite(conn);

Test(conn, get_starts_clean)
{
	struct conn *c = open_conn(NULL);

	cr_assert_not_null(c->in);
	cr_assert_eq(c->start, 0);
	cr_assert_eq(c->end, 0);
	cr_assert_eq(c->requests, 0);
	cr_assert_eq(c->timer, TIMER_NONE);
	cr_assert_eq(c->close_after, 0);
	cr_assert_eq(c->lingering, 0);
	cr_assert_eq(c->in_epoll, 0);
	cr_assert_eq(conn_count(), 1);
	conn_put(c);
}

/* conn_put closes the socket: the peer sees end of stream. */
Test(conn, put_closes_the_socket)
{
	int peer;
	struct conn *c = open_conn(&peer);
	char b;

	conn_put(c);
	cr_assert_eq(read(peer, &b, 1), 0);
	close(peer);
}

/* A put-then-get hands back the same struct and buffer, with nothing of its last life. */
Test(conn, pooled_struct_is_reused_and_reset)
{
	struct conn *c = open_conn(NULL), *d;
	unsigned char *in = c->in;
	static const struct sl_config cfg;
	int fd2, sv[2];

	c->start = 5;
	c->end = 17;
	c->requests = 9;
	c->drain_mark = 3;
	c->lingering = 1;
	c->close_after = 1;
	c->in_epoll = 1;
	c->params_len = 100;
	c->st.phase = 2;
	c->st.req_id = 7;
	c->st.body_left = 1000;
	conn_timer_set(c, TIMER_READ, 1234);
	conn_put(c);
	cr_assert_eq(conn_count(), 0);
	cr_assert_null(conn_timer_first(TIMER_READ), "a put connection stayed on its timer list");

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fd2 = sv[0];
	d = conn_get(fd2, NULL, &cfg);
	cr_assert_eq(d, c, "the pooled struct was not reused");
	cr_assert_eq(d->in, in, "the pooled buffer was not reused");
	cr_assert_eq(d->fd, fd2);
	cr_assert_eq(d->cfg, &cfg);
	cr_assert_eq(d->start, 0);
	cr_assert_eq(d->end, 0);
	cr_assert_eq(d->requests, 0);
	cr_assert_eq(d->drain_mark, 0);
	cr_assert_eq(d->lingering, 0);
	cr_assert_eq(d->close_after, 0);
	cr_assert_eq(d->in_epoll, 0);
	cr_assert_eq(d->params_len, 0);
	cr_assert_eq(d->st.phase, 0);
	cr_assert_eq(d->st.req_id, 0);
	cr_assert_eq(d->st.body_left, 0);
	cr_assert_eq(d->timer, TIMER_NONE);
	cr_assert_eq(conn_count(), 1);
	conn_put(d);
	close(sv[1]);
}

Test(conn, count_leaves_out_pooled_structs)
{
	struct conn *a = open_conn(NULL), *b = open_conn(NULL), *c = open_conn(NULL);

	cr_assert_eq(conn_count(), 3);
	conn_put(b);
	cr_assert_eq(conn_count(), 2);
	b = open_conn(NULL);
	cr_assert_eq(conn_count(), 3);
	conn_put(a);
	conn_put(b);
	conn_put(c);
	cr_assert_eq(conn_count(), 0);
}

/* The list as conn_each would walk it, `t` only, into `got`; its length. */
static int walk(enum conn_timer t, struct conn **got, int max)
{
	int n = 0;

	for (struct conn *c = conn_timer_first(t); c && n < max; c = c->next)
		got[n++] = c;
	return n;
}

Test(conn, timer_list_keeps_insertion_order)
{
	struct conn *a = open_conn(NULL), *b = open_conn(NULL), *c = open_conn(NULL), *got[8];

	cr_assert_null(conn_timer_first(TIMER_IDLE));
	conn_timer_set(a, TIMER_IDLE, 100);
	conn_timer_set(b, TIMER_IDLE, 200);
	conn_timer_set(c, TIMER_IDLE, 300);
	cr_assert_eq(conn_timer_first(TIMER_IDLE), a);
	cr_assert_eq(a->deadline_ms, 100);
	cr_assert_eq(walk(TIMER_IDLE, got, 8), 3);
	cr_assert(got[0] == a && got[1] == b && got[2] == c);
	cr_assert_null(conn_timer_first(TIMER_READ));

	/* Setting again re-appends: the deadline is new, so it goes last. */
	conn_timer_set(a, TIMER_IDLE, 400);
	cr_assert_eq(conn_timer_first(TIMER_IDLE), b);
	cr_assert_eq(walk(TIMER_IDLE, got, 8), 3);
	cr_assert(got[0] == b && got[1] == c && got[2] == a);
	cr_assert_eq(a->deadline_ms, 400);
	conn_put(a);
	conn_put(b);
	conn_put(c);
}

Test(conn, moving_between_lists)
{
	struct conn *a = open_conn(NULL), *b = open_conn(NULL), *c = open_conn(NULL), *got[8];

	conn_timer_set(a, TIMER_IDLE, 1);
	conn_timer_set(b, TIMER_IDLE, 2);
	conn_timer_set(c, TIMER_IDLE, 3);

	/* Out of the middle of one list, onto the other. */
	conn_timer_set(b, TIMER_READ, 50);
	cr_assert_eq(b->timer, TIMER_READ);
	cr_assert_eq(conn_timer_first(TIMER_READ), b);
	cr_assert_eq(walk(TIMER_READ, got, 8), 1);
	cr_assert_eq(walk(TIMER_IDLE, got, 8), 2);
	cr_assert(got[0] == a && got[1] == c);

	/* The head, then the tail. */
	conn_timer_set(a, TIMER_READ, 60);
	cr_assert_eq(conn_timer_first(TIMER_IDLE), c);
	cr_assert_eq(walk(TIMER_READ, got, 8), 2);
	cr_assert(got[0] == b && got[1] == a);
	conn_timer_set(c, TIMER_NONE, 0);
	cr_assert_eq(c->timer, TIMER_NONE);
	cr_assert_null(conn_timer_first(TIMER_IDLE));

	/* A list emptied and filled again starts from its new head. */
	conn_timer_set(c, TIMER_IDLE, 70);
	cr_assert_eq(walk(TIMER_IDLE, got, 8), 1);
	cr_assert_eq(got[0], c);
	conn_timer_set(b, TIMER_NONE, 0);
	conn_timer_set(a, TIMER_NONE, 0);
	cr_assert_null(conn_timer_first(TIMER_READ));
	conn_put(a);
	conn_put(b);
	conn_put(c);
}

static struct conn *seen[16];
static int nseen;

static void record(struct conn *c)
{
	seen[nseen++] = c;
}

Test(conn, each_visits_every_connection_on_a_timer)
{
	struct conn *a = open_conn(NULL), *b = open_conn(NULL), *c = open_conn(NULL);
	struct conn *d = open_conn(NULL), *off = open_conn(NULL);
	struct conn *want[] = { a, b, c, d };

	conn_timer_set(a, TIMER_IDLE, 1);
	conn_timer_set(b, TIMER_READ, 1);
	conn_timer_set(c, TIMER_IDLE, 2);
	conn_timer_set(d, TIMER_READ, 2);
	(void)off;	/* on no list: busy with a request */
	conn_each(record);
	cr_assert_eq(nseen, 4);
	for (int i = 0; i < nseen; i++)
		cr_assert_neq(seen[i], off, "a connection on no timer was visited");
	for (int k = 0; k < 4; k++) {
		int found = 0;

		for (int i = 0; i < nseen; i++)
			found += seen[i] == want[k];
		cr_assert_eq(found, 1, "connection visited %d times", found);
	}
	conn_put(a);
	conn_put(b);
	conn_put(c);
	conn_put(d);
	conn_put(off);
}

Test(conn, compact_moves_the_unread_bytes_to_the_front)
{
	struct conn *c = open_conn(NULL);

	memcpy(c->in, "consumedPARTIAL", 15);
	c->start = 8;
	c->end = 15;
	conn_compact(c);
	cr_assert_eq(c->start, 0);
	cr_assert_eq(c->end, 7);
	cr_assert_eq(memcmp(c->in, "PARTIAL", 7), 0);

	/* Nothing consumed: nothing moves. */
	conn_compact(c);
	cr_assert_eq(c->start, 0);
	cr_assert_eq(c->end, 7);
	cr_assert_eq(memcmp(c->in, "PARTIAL", 7), 0);
	conn_put(c);
}

Test(conn, fill_reads_what_the_socket_has)
{
	int peer;
	struct conn *c = open_conn(&peer);

	errno = 0;
	cr_assert_eq(conn_fill(c), -1);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(write(peer, "hello", 5), 5);
	cr_assert_eq(conn_fill(c), 5);
	cr_assert_eq(c->end - c->start, 5);
	cr_assert_eq(memcmp(c->in + c->start, "hello", 5), 0);
	/* More input is appended after what is not consumed yet. */
	c->start += 2;
	cr_assert_eq(write(peer, "world", 5), 5);
	cr_assert_eq(conn_fill(c), 5);
	cr_assert_eq(c->end - c->start, 8);
	cr_assert_eq(memcmp(c->in + c->start, "lloworld", 8), 0);
	close(peer);
	cr_assert_eq(conn_fill(c), 0, "no end of stream after the peer closed");
	conn_put(c);
}

/* Everything consumed: the next input lands in a buffer with all its room. */
Test(conn, fill_after_everything_was_consumed)
{
	int peer;
	struct conn *c = open_conn(&peer);

	c->start = c->end = CONN_INBUF_SIZE;
	cr_assert_eq(write(peer, "next", 4), 4);
	cr_assert_eq(conn_fill(c), 4);
	cr_assert_eq(c->end - c->start, 4);
	cr_assert_eq(memcmp(c->in + c->start, "next", 4), 0);
	close(peer);
	conn_put(c);
}

/* A partial record near the end of the buffer is moved to the front before reading. */
Test(conn, fill_compacts_a_partial_record)
{
	int peer;
	struct conn *c = open_conn(&peer);
	char more[100];

	memset(more, 'm', sizeof(more));
	c->end = CONN_INBUF_SIZE - 5;
	c->start = c->end - 10;
	memcpy(c->in + c->start, "0123456789", 10);
	cr_assert_eq(write(peer, more, sizeof(more)), (ssize_t)sizeof(more));
	cr_assert_eq(conn_fill(c), (ssize_t)sizeof(more), "only the 5 free bytes were read");
	cr_assert_eq(c->start, 0);
	cr_assert_eq(c->end, 110);
	cr_assert_eq(memcmp(c->in, "0123456789", 10), 0);
	cr_assert_eq(memcmp(c->in + 10, more, sizeof(more)), 0);
	close(peer);
	conn_put(c);
}

/* A buffer filled to its last byte, part of it consumed, still reads. */
Test(conn, full_buffer_still_reads)
{
	int peer;
	struct conn *c = open_conn(&peer);

	c->start = 100;
	c->end = CONN_INBUF_SIZE;
	memset(c->in, 'x', CONN_INBUF_SIZE);
	c->in[100] = 'A';
	c->in[CONN_INBUF_SIZE - 1] = 'Z';
	cr_assert_eq(write(peer, "tail", 4), 4);
	cr_assert_eq(conn_fill(c), 4, "a full buffer read nothing (or took it for end of stream)");
	cr_assert_eq(c->end - c->start, CONN_INBUF_SIZE - 100 + 4);
	cr_assert_eq(c->in[c->start], 'A');
	cr_assert_eq(c->in[c->end - 5], 'Z');
	cr_assert_eq(memcmp(c->in + c->end - 4, "tail", 4), 0);
	close(peer);
	conn_put(c);
}
