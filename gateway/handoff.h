/*
 * handoff.h - kept-alive connections shared by the master and its workers.
 *
 * A worker serves a connection, but the master keeps a duplicate of every
 * kept-alive one (taken once, when the connection is first kept), so that
 * the connection outlives the worker: after a crash, a kill -9, a reload,
 * a recycle, or a handler that runs long, the master gives it to another
 * worker with whatever the web server already wrote still in the socket.
 *
 * Who may read a connection is one word per connection in shared memory:
 * a tag (bumped each time the entry is reused, so that a stale copy can
 * never claim a newer connection), an owner (a worker's scoreboard index
 * plus one, or 0 for the master) and a state.  Exactly one process reads
 * a connection at a time, by compare-and-swap:
 *
 *   IDLE  between requests, nothing buffered anywhere but in the socket:
 *         its owner may claim it (IDLE -> BUSY) to read, and the master
 *         may take it away (owner -> 0) from a worker that is stuck in a
 *         handler, retiring or dead;
 *   BUSY  its owner is reading or answering it: nobody else touches it.
 *
 * The fast path pays one compare-and-swap and one store per request, no
 * system call.  The slow paths (a first keep, a close, a hand-over) are
 * messages on a per-worker SOCK_SEQPACKET pair, descriptors passed with
 * SCM_RIGHTS.
 */
#ifndef SLUICE_HANDOFF_H
#define SLUICE_HANDOFF_H

#include <stdint.h>

enum kept_state { KEPT_FREE, KEPT_IDLE, KEPT_BUSY };

#define KEPT_MASTER 0	/* the owner that is no worker */

struct kept {
	uint32_t tag;
	int owner;		/* worker index + 1, or KEPT_MASTER */
	int state;		/* enum kept_state */
};

/* Map the table; the master, once, before the first fork.  0 or -1. */
int handoff_init(void);

/* Entries in use lie below this index. */
int handoff_span(void);

/* A snapshot of entry `slot`. */
struct kept handoff_peek(int slot);

/*
 * A free entry for a connection worker `owner` is about to keep, BUSY in
 * its hands, its tag in *tag.  -1 when the table is full.
 */
int handoff_alloc(int owner, uint32_t *tag);

/* IDLE -> BUSY for `owner`: 0 when it is still ours, -1 when it was taken. */
int handoff_claim(int slot, uint32_t tag, int owner);

/* Set an entry we hold (BUSY, or the master's) to `owner` and `state`. */
void handoff_set(int slot, uint32_t tag, int owner, int state);

/*
 * The master takes an IDLE entry away from worker `from` (a live one that
 * is stuck or retiring, or a dead one): 0 when it did, -1 when the entry
 * is not IDLE with that owner any more.
 */
int handoff_take(int slot, int from);

/* Free the entry (the master, once it closed its duplicate). */
void handoff_free(int slot);

/* ---- Messages ------------------------------------------------------- */

enum handoff_type {
	HM_KEPT = 1,	/* worker -> master: a connection is now kept, here is a duplicate */
	HM_CLOSED,	/* worker -> master: I closed it; drop your duplicate */
	HM_RETURNED,	/* worker -> master: IDLE and yours (owner 0), give it to another */
	HM_ADOPT,	/* master -> worker: it is yours (IDLE), here is the descriptor */
	HM_REOPEN,	/* master -> worker: a log was reopened (SIGUSR1), here is the
			 * new descriptor; `slot` says which log (enum handoff_log) */
};

enum handoff_log { HL_ERROR_LOG, HL_ACCESS_LOG };

struct handoff_msg {
	int type;
	int slot;
	uint32_t tag;
	int listener;		/* the listener it came from: which protocol it speaks */
};

/* A socket pair for one worker: [0] the master's end, [1] the worker's.  0 or -1. */
int handoff_pair(int fds[2]);

/*
 * Send a message, with descriptor `fd` attached when it is not -1.
 * Waits at most a moment for room (the peer reads promptly).  0 or -1.
 */
int handoff_send(int sock, const struct handoff_msg *m, int fd);

/*
 * Receive one message; *fd gets the attached descriptor or -1.  Returns
 * 1, 0 when none is waiting, -1 at the end (the peer is gone) or on error,
 * and 2 for a message whose descriptor was lost (we are out of them:
 * errno EMFILE) - the message itself is valid.
 */
int handoff_recv(int sock, struct handoff_msg *m, int *fd);

#endif
