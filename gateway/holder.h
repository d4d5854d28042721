/*
 * holder.h - the master's side of kept-alive connections (handoff.h).
 *
 * The master keeps a duplicate of every kept-alive connection and never
 * reads one.  It gives a connection to another worker when the one that
 * served it cannot go on: it died (crash, kill -9: only a connection in
 * the middle of a request dies with it), it retires (reload, recycle),
 * or it has been stuck in one handler past STEAL_AFTER_MS.  Workers are
 * chosen by the master (`pick`): this file moves connections, it does not
 * know the pool.
 */
#ifndef SLUICE_HOLDER_H
#define SLUICE_HOLDER_H

struct handoff_msg;

/* A worker to give a connection to (its index), or -1 when none can take one now. */
typedef int (*holder_pick_fn)(void);

/* Before the first fork.  0, or -1 with errno. */
int holder_init(holder_pick_fn pick);

/* What the master polls for control messages. */
int holder_fd(void);

/* Before forking worker `i`: its control pair; *child_end is the worker's.  0 or -1. */
int holder_attach(int i, int *child_end);

/* In a new worker, right after fork: close what only the master holds. */
void holder_in_child(int i);

/* The fork of worker `i` failed: forget its pair. */
void holder_detach(int i);

/* Read every waiting control message, and hand out what waits for a worker. */
void holder_events(void);

/* Worker `i` has exited: its idle connections go to others, the rest are closed. */
void holder_worker_gone(int i);

/* Take worker `i`'s idle connections away (it is stuck, or retiring). */
void holder_take(int i);

/* Send worker `i` a message of the master's own (with `fd` unless -1).  0 or -1. */
int holder_tell(int i, const struct handoff_msg *m, int fd);

/* Give connections that wait for a worker to one; returns how many still wait. */
int holder_dispatch(void);

#endif
