/*
 * scoreboard.h - what each worker is doing, in memory shared with the
 * master.
 *
 * The master maps it before forking and reads it to count idle workers
 * (dynamic and ondemand pools), to find requests past
 * request_terminate_timeout or request_slowlog_timeout, and to name the
 * request in its signals to a worker.  Each worker writes only its own
 * entry, with plain stores and no system call: the request path stays as
 * cheap as it was.  The master only reads, and tolerates a torn read of
 * the text fields (they are for log lines).
 */
#ifndef SLUICE_SCOREBOARD_H
#define SLUICE_SCOREBOARD_H

#include <sys/types.h>

#include "defaults.h"

enum score_state {
	SCORE_FREE,		/* no process */
	SCORE_STARTING,		/* forked, running init */
	SCORE_IDLE,		/* waiting for a request */
	SCORE_BUSY,		/* a handler is running */
	SCORE_STOPPING,		/* finishing up before it exits */
};

struct score {
	pid_t pid;
	int state;			/* enum score_state */
	long long req_start_ms;		/* io_now_ms() when the request in hand began */
	long long idle_since_ms;	/* io_now_ms() when it last became idle */
	unsigned long long requests;	/* served since the worker started */
	char request_id[REQUEST_ID_SIZE];
	char target_id[REQUEST_ID_SIZE];	/* written by the master: the request its
					 * SIGUSR1 or SIGUSR2 is about */
	int retiring;			/* written by the master: hand kept-alive
					 * connections back instead of serving on */
	unsigned taken;			/* bumped by the master each time it takes
					 * idle connections away from this worker */
	int generation;			/* written by the master at fork */
	int route;			/* stats.h entry of the request in hand or the last one */
	long long last_us;		/* how long the last request took */
	int program;			/* written by the master at fork: a supervised
					 * program (program.h), whose entry the master
					 * writes, from what /proc shows; it counts no
					 * requests and names no route */
};

/*
 * The pool as a whole, written only by the master (but for
 * master_dozing and refused_clients), read by the status responder (status.h).  Counters
 * only grow.
 */
struct pool_score {
	long long start_time;		/* time(NULL) when the master started */
	int generation;			/* the generation in service */
	int pm_mode;			/* enum pm_mode of that generation */
	int max_children;
	int max_active;			/* most workers busy at once, seen by the master's tick */
	unsigned long long reloads;	/* generations that took over */
	unsigned long long crashes;	/* workers that died of a signal */
	unsigned long long terminate_timeouts;	/* requests stopped by request_terminate_timeout */
	unsigned long long recycles;	/* workers replaced (pm.max_requests, reload_on_rss) */
	unsigned long long max_children_reached;	/* times the pool wanted more than pm.max_children */
	unsigned long long slow_requests;	/* requests past request_slowlog_timeout */
	unsigned long long refused_clients;	/* connections closed by listen.allowed_clients:
					 * bumped atomically by the workers */
	int master_dozing;		/* set by the master before it sleeps past
					 * STEAL_AFTER_MS; cleared by whoever wakes it
					 * (DOZE_AFTER_MS) */
};

/* What a worker writes on the master's notification pipe besides its own index. */
#define NOTIFY_WAKE (-1)

/* Entries: the largest pool plus room for a whole second generation during a reload. */
#define SCOREBOARD_SLOTS (2 * MAX_MAX_CHILDREN + 2)

/* Map the shared table; called once by the master before the first fork. */
int scoreboard_init(void);

/* Entry `i`, 0 <= i < SCOREBOARD_SLOTS. */
struct score *scoreboard_slot(int i);

/* The pool's counters, in the same mapping. */
struct pool_score *scoreboard_pool(void);

#endif
