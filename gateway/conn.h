/*
 * conn.h - a client connection held by a worker.
 *
 * A worker holds many connections (kept-alive ones from nginx's upstream
 * pool) but serves one request at a time; an idle connection costs a
 * file descriptor and this struct, never a worker.  Structs are pooled:
 * their buffers are allocated once and reused, so accepting a connection
 * in steady state does not call malloc.
 *
 * conn.c owns the pool and the timer lists; the protocol codec owns the
 * `st` fields and the buffers' contents; worker.c decides when a
 * connection is read, served and closed.
 */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "defaults.h"

struct proto;
struct sl_config;

/* Which timer list a connection is on. */
enum conn_timer { TIMER_NONE, TIMER_IDLE, TIMER_READ };

struct conn {
	int fd;
	const struct proto *proto;
	const struct sl_config *cfg;
	unsigned in_epoll : 1;
	unsigned close_after : 1;	/* set by the codec: close once the response is done */
	unsigned lingering : 1;		/* answered; dropping input until the peer closes */
	unsigned long requests;		/* served on this connection */
	unsigned long drain_mark;	/* `requests` when its worker began to leave */

	/* Unparsed input is in[start, end). */
	unsigned char *in;
	size_t start, end;

	/* Parameters gathered across records until their stream ends. */
	unsigned char *params;
	size_t params_len, params_cap;

	/* Codec state (FastCGI: the request in progress on this connection). */
	struct {
		int phase;
		uint16_t req_id;
		unsigned keep : 1;
		unsigned params_over : 1;	/* the cap was hit: gathering stopped */
		size_t body_left;		/* content bytes left in the current STDIN record */
		size_t pad_left;		/* padding bytes left after it */
		long long body_seen;
	} st;

	/* Timer list links; lists are ordered by deadline. */
	enum conn_timer timer;
	long long deadline_ms;
	struct conn *prev, *next;
};

/*
 * A connection struct for `fd`, from the pool or newly allocated with its
 * input buffer.  NULL on ENOMEM.
 */
struct conn *conn_get(int fd, const struct proto *proto, const struct sl_config *cfg);

/* Close the socket and return the struct to the pool. */
void conn_put(struct conn *c);

/*
 * Put `c` on timer list `t` (or on none) with the given deadline.  Every
 * connection on one list has the same timeout, so appending keeps a list
 * ordered and the first entry is always the next to expire.
 */
void conn_timer_set(struct conn *c, enum conn_timer t, long long deadline_ms);
struct conn *conn_timer_first(enum conn_timer t);

/* Call `fn` on every connection waiting on a timer (all of them, between requests). */
void conn_each(void (*fn)(struct conn *c));

/* Connections open in this worker (not counting pooled ones). */
int conn_count(void);

/* Move consumed bytes out of the way so that a whole record fits. */
void conn_compact(struct conn *c);

/*
 * Read what the socket has into the free end of the buffer: one read(2).
 * Returns the count, 0 at end of stream, -1 with errno (EAGAIN too).
 */
ssize_t conn_fill(struct conn *c);

#endif
