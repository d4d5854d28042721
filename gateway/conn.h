/*
 * conn.h - a client connection held by a worker.
 *
 * A worker holds many connections (kept-alive ones from nginx's upstream
 * pool, and new ones whose request is still arriving) but runs one
 * handler at a time.  What a connection costs while it waits is this
 * struct and the bytes it has actually been sent: input is read into one
 * buffer shared by the whole worker, and only what is left over (part of
 * a record) is copied to a buffer of the connection's own, sized to it
 * and freed as soon as it is consumed.  So 1,000 half-sent requests cost
 * about what they sent, not 1,000 read buffers (CONN_READ_SIZE).
 *
 * Output that the peer does not take at once is queued here, in memory
 * up to OUTQ_MEM_MAX and then in an unlinked temporary file, and drained
 * by the event loop: a slow reader costs memory or disk, never a worker.
 *
 * conn.c owns the buffers, the output queue and the timer lists; the
 * codec owns `pstate` and the meaning of the bytes; worker.c decides
 * when a connection is read, served, handed over and closed.
 */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "defaults.h"

struct proto;
struct sl_config;

/*
 * Which timer list a connection is on.  IDLE and HEAD lists have one
 * timeout each, so appending keeps them ordered; RATE deadlines move with
 * the bytes transferred (limits.min_rate), so that list is scanned.
 */
enum conn_timer { TIMER_NONE, TIMER_IDLE, TIMER_HEAD, TIMER_RATE, TIMER_COUNT };

/* Room for a codec's private state (each codec checks that it fits). */
#define PROTO_STATE_SIZE 64

struct outq {
	unsigned char *mem;	/* queued bytes are mem[off, len) ... */
	size_t off, len, cap;
	int file;		/* ... then file[foff, flen) once spilled; -1: none */
	off_t foff, flen;
	/* Waiting for the peer past limits.max_temp_file_size: since when,
	 * at what byte count, in which request of the connection (0: not). */
	long long wait_ms, wait_mark;
	unsigned long wait_req;
	/* 1 + the request of the connection whose peer let SPILL_WAIT_MS pass
	 * without taking queued output (0: none): it is not waited for again. */
	unsigned long slow_req;
};

struct conn {
	int fd;
	const struct proto *proto;
	const struct sl_config *cfg;
	unsigned in_epoll : 1;
	unsigned want_out : 1;		/* registered for EPOLLOUT: draining output */
	unsigned lingering : 1;		/* answered; dropping input until the peer closes */
	unsigned shared : 1;		/* other processes may hold it: leave epoll before close */
	unsigned dead : 1;		/* let go of; freed once the event batch is done */
	unsigned held : 1;		/* ours to read: not kept, or kept and claimed (BUSY) */
	int listener;			/* index of the listener it came from */
	int after;			/* enum proto_end, applied once the output is drained */
	int slot;			/* entry in the kept table (handoff.h), -1: none */
	uint32_t tag;
	unsigned long requests;		/* served on this connection */
	long long rx;			/* bytes read since the connection was opened */

	/* Unparsed input is in[start, end): the worker's shared buffer
	 * while an event is handled, else the connection's own, or none. */
	unsigned char *in;
	size_t start, end;
	unsigned char *own;		/* the connection's own buffer, NULL: none */
	size_t own_cap;

	/* A request being received: its raw parameters, and its body so far. */
	unsigned char *params;
	size_t params_len, params_cap;
	unsigned char *body;
	size_t body_len, body_off, body_cap;

	struct outq out;

	/* What the current transfer's deadline is measured from. */
	long long xfer_start_ms;
	long long xfer_mark;		/* bytes (rx, or sent) when it began */
	long long sent;			/* bytes written since the connection was opened */

	_Alignas(8) unsigned char pstate[PROTO_STATE_SIZE];

	/* Timer list links. */
	enum conn_timer timer;
	long long deadline_ms;
	struct conn *prev, *next;
	/* Every open connection of the worker. */
	struct conn *all_prev, *all_next;
};

/*
 * Set up the worker's shared input buffer; once per worker.  0 or -1.
 */
int conn_init(void);

/* A connection struct for `fd`; NULL on ENOMEM. */
struct conn *conn_get(int fd, const struct proto *proto, const struct sl_config *cfg);

/*
 * Close the socket and let go of the connection: its buffers are freed
 * now, the struct by conn_bury once the event batch in hand is done.
 */
void conn_put(struct conn *c);

/* Let go of it without closing `fd` (it was handed to another process). */
void conn_forget(struct conn *c);

/* Free what was let go of: the event loop calls it between batches. */
void conn_bury(void);

void conn_timer_set(struct conn *c, enum conn_timer t, long long deadline_ms);
struct conn *conn_timer_first(enum conn_timer t);

/* The first of every open connection (follow all_next). */
struct conn *conn_first(void);

/* Connections open in this worker. */
int conn_count(void);

/*
 * Read what the socket has: one read(2), into the worker's shared buffer
 * when nothing is pending, else after the pending bytes.  Returns the
 * count, 0 at end of stream, -1 with errno (EAGAIN too).
 */
ssize_t conn_fill(struct conn *c);

/*
 * Make room for a record of `need` bytes at in[start]: the codec calls
 * it when a record is bigger than what the buffer can hold after start.
 */
int conn_reserve(struct conn *c, size_t need);

/*
 * The event is handled: whatever input is left moves out of the shared
 * buffer into the connection's own (sized to it), or the own buffer is
 * freed when nothing is left.  The worker calls it before it turns to
 * other connections, which read into the shared buffer: when this one
 * waits for input, and when its output is left to drain.  0, or -1 on
 * ENOMEM.  conn_fill parks the connection whose input the shared buffer
 * still holds before another reads into it, as a guard for a path that
 * forgets.
 */
int conn_park(struct conn *c);

/*
 * Room in c->params for `need` bytes of a request's parameters and one
 * more, for the NUL that decoding in place writes after the last value;
 * `max` (limits.max_params_bytes) bounds it.  The worker's spare buffer
 * is taken first.  0, or -1 when memory is short.
 */
int conn_params_room(struct conn *c, size_t need, size_t max);

/* c->params now backs the strings of the request being served: it is
 * held (and c->params emptied) until the next request is decoded. */
void conn_hold_params(struct conn *c);

/*
 * Make a growing buffer (doubling, capped at `max`) hold at least `need`
 * bytes: 0, or -1 (ENOMEM, EFBIG).
 */
int conn_grow(unsigned char **buf, size_t *cap, size_t need, size_t max);

/* Append `n` bytes to a growing buffer, capped at `max`: 0, or -1 (ENOMEM, EFBIG). */
int conn_append(unsigned char **buf, size_t *len, size_t *cap, const void *data,
		size_t n, size_t max);

/*
 * Send `iov`: what the socket takes now is written, the rest is queued
 * (and anything already queued goes first).  `more`: the response goes
 * on after these bytes, so a full socket is waited for (SPILL_WAIT_MS,
 * as the next call would wait anyway) rather than the rest copied to the
 * queue; the last bytes of a response are queued, so that the worker is
 * free at once.  Returns 0, or -1 with errno when the peer is gone or the
 * queue cannot grow.
 */
int conn_send(struct conn *c, const struct iovec *iov, int iovcnt, int more);

/* Write what is queued, as far as the socket takes it: 0, or -1 with errno. */
int conn_drain(struct conn *c);

/* Bytes still queued for the peer. */
long long conn_pending(const struct conn *c);

/* Drop the queue (the connection is being closed). */
void conn_out_reset(struct conn *c);

/* Start measuring a transfer (a body, a response) for limits.min_rate. */
void conn_xfer_start(struct conn *c, long long mark, long long now);

/* Its deadline: grace seconds, then min_rate bytes a second. */
long long conn_xfer_deadline(const struct conn *c, long long now_mark, int grace_s);

#endif
