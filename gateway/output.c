/*
 * output.c - module stdout and stderr, captured into the error log.
 *
 * Two pipes per worker, read by the master through one epoll set, so the
 * master's poll loop watches a single descriptor however large the pool.
 * Reads are non-blocking and bounded per call; bytes are assembled into
 * lines in a small buffer per stream, allocated when the worker starts
 * and freed when it is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "defaults.h"
#include "io.h"
#include "log.h"
#include "output.h"
#include "scoreboard.h"

/* A line longer than this is logged in pieces, each ending in "...". */
#define OUTPUT_LINE_MAX		1024

/*
 * Lines logged per worker and second.  A module that prints in a loop
 * would otherwise fill the disk through the error log; the count of
 * what is dropped is logged once the second is over.
 */
#define OUTPUT_LINES_PER_SEC	100

/* Bytes read per stream per event, so that one chatty worker cannot hold the master. */
#define OUTPUT_READ_MAX		(64 * 1024)

struct stream {
	int rd;			/* the master's end, -1: none */
	int wr;			/* the worker's end, until the fork is done */
	size_t len;
	char line[OUTPUT_LINE_MAX];
};

struct catcher {
	struct stream s[2];	/* stdout, stderr */
	long long second_ms;	/* start of the current second of the rate limit */
	int lines;		/* logged in it */
	long dropped;		/* dropped in it */
};

static struct {
	int epfd;
	struct catcher *c[SCOREBOARD_SLOTS];
} o = { .epfd = -1 };

static const char *const stream_names[] = { "stdout", "stderr" };

int output_init(void)
{
	o.epfd = epoll_create1(EPOLL_CLOEXEC);
	return o.epfd < 0 ? -1 : 0;
}

int output_fd(void)
{
	return o.epfd;
}

/* Close both ends of a stream's pipe that are open here. */
static void close_ends(const struct stream *s)
{
	if (s->rd >= 0)
		close(s->rd);
	if (s->wr >= 0)
		close(s->wr);
}

static void close_stream(struct stream *s)
{
	if (s->rd >= 0)
		epoll_ctl(o.epfd, EPOLL_CTL_DEL, s->rd, NULL);
	close_ends(s);
	s->rd = s->wr = -1;
}

static void forget(int i)
{
	if (!o.c[i])
		return;
	close_stream(&o.c[i]->s[0]);
	close_stream(&o.c[i]->s[1]);
	free(o.c[i]);
	o.c[i] = NULL;
}

int output_attach(int i)
{
	struct catcher *c;

	forget(i);
	if (o.epfd < 0 || !(c = calloc(1, sizeof(*c))))
		return -1;
	o.c[i] = c;
	c->s[0].rd = c->s[0].wr = c->s[1].rd = c->s[1].wr = -1;
	for (int k = 0; k < 2; k++) {
		int fds[2];
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)(i * 2 + k) };

		if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
			forget(i);
			return -1;
		}
		c->s[k].rd = fds[0];
		c->s[k].wr = fds[1];
		if (epoll_ctl(o.epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
			forget(i);
			return -1;
		}
	}
	return 0;
}

void output_in_child(int i)
{
	struct catcher *c = o.c[i];

	/* The other workers' pipes are closed, so that their ends see the
	 * close when those workers go; the child's copy of the table is
	 * left as it is, since freeing it would only copy pages it shares
	 * with the master (copy-on-write). */
	close(o.epfd);
	for (int j = 0; j < SCOREBOARD_SLOTS; j++)
		if (o.c[j] && j != i) {
			close_ends(&o.c[j]->s[0]);
			close_ends(&o.c[j]->s[1]);
		}
	if (!c)
		return;
	/* The worker's own log lines must not come back through the pipe. */
	log_keep_stderr();
	close(c->s[0].rd);
	close(c->s[1].rd);
	/* dup2 leaves the new descriptors without close-on-exec, as
	 * stdout and stderr should be; the write ends stay non-blocking. */
	dup2(c->s[0].wr, STDOUT_FILENO);
	dup2(c->s[1].wr, STDERR_FILENO);
	close(c->s[0].wr);
	close(c->s[1].wr);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

void output_after_fork(int i, int forked)
{
	if (!o.c[i])
		return;
	if (!forked) {
		forget(i);
		return;
	}
	for (int k = 0; k < 2; k++) {
		close(o.c[i]->s[k].wr);
		o.c[i]->s[k].wr = -1;
	}
}

/* The count of lines the rate limit dropped, once it is known. */
static void report_dropped(int i)
{
	struct catcher *c = o.c[i];

	if (c->dropped)
		log_msg(LOG_WARNING, "worker %d (pid %d): %ld lines of module output dropped "
			"(more than %d a second)", i + 1, (int)scoreboard_slot(i)->pid, c->dropped,
			OUTPUT_LINES_PER_SEC);
	c->dropped = 0;
}

/*
 * Log one line of worker `i`'s stream `k`, within the rate limit.  The
 * request named is the one in the worker's scoreboard entry: the request
 * in hand, or the last one it served when it is idle again by the time
 * the master reads (the output was most likely that request's).  None is
 * named for output from before the first request (module init).
 */
static void emit(int i, int k, const char *text, size_t len, int cut)
{
	struct catcher *c = o.c[i];
	const struct score *sc = scoreboard_slot(i);
	long long now = io_now_ms();
	char id[REQUEST_ID_SIZE];

	if (now - c->second_ms >= 1000) {
		report_dropped(i);
		c->second_ms = now;
		c->lines = 0;
	}
	if (c->lines >= OUTPUT_LINES_PER_SEC) {
		if (c->dropped++ == 0)
			log_msg(LOG_WARNING, "worker %d (pid %d): module output past %d lines a "
				"second; dropping the rest of this second", i + 1, (int)sc->pid,
				OUTPUT_LINES_PER_SEC);
		return;
	}
	c->lines++;
	memcpy(id, sc->request_id, sizeof(id));
	id[sizeof(id) - 1] = '\0';
	log_msg(k ? LOG_WARNING : LOG_NOTICE, "worker %d (pid %d) %s%s%s: %.*s%s", i + 1,
		(int)sc->pid, stream_names[k], id[0] ? ", request " : "", id, (int)len, text,
		cut ? "..." : "");
}

/* Cut what the buffer holds into lines; a full buffer without one is a piece. */
static void split(int i, int k, int flush)
{
	struct stream *s = &o.c[i]->s[k];
	char *start = s->line, *nl;

	while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->line)))) {
		emit(i, k, start, (size_t)(nl - start), 0);
		start = nl + 1;
	}
	s->len -= (size_t)(start - s->line);
	memmove(s->line, start, s->len);
	if (s->len == sizeof(s->line) || (flush && s->len > 0)) {
		emit(i, k, s->line, s->len, !flush);
		s->len = 0;
	}
}

/* Read what stream `k` of worker `i` holds, up to OUTPUT_READ_MAX; -1 at its end. */
static int drain(int i, int k, int flush)
{
	struct stream *s = &o.c[i]->s[k];
	size_t total = 0;
	ssize_t n;

	while (total < OUTPUT_READ_MAX) {
		n = read(s->rd, s->line + s->len, sizeof(s->line) - s->len);
		if (n <= 0)
			break;
		total += (size_t)n;
		s->len += (size_t)n;
		split(i, k, 0);
	}
	if (flush)
		split(i, k, 1);
	return n == 0 ? -1 : 0;
}

void output_events(void)
{
	struct epoll_event ev[64];
	int n = epoll_wait(o.epfd, ev, 64, 0);

	for (int e = 0; e < n; e++) {
		int i = (int)(ev[e].data.u32 / 2), k = (int)(ev[e].data.u32 % 2);

		if (!o.c[i] || o.c[i]->s[k].rd < 0)
			continue;
		/* At the end (every writer gone), stop watching: reap cleans up. */
		if (drain(i, k, 0) < 0)
			epoll_ctl(o.epfd, EPOLL_CTL_DEL, o.c[i]->s[k].rd, NULL);
	}
}

void output_worker_gone(int i)
{
	if (!o.c[i])
		return;
	for (int k = 0; k < 2; k++)
		if (o.c[i]->s[k].rd >= 0)
			drain(i, k, 1);
	report_dropped(i);
	forget(i);
}
