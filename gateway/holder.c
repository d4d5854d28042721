/*
 * holder.c - the master keeps every kept-alive connection alive across
 * its workers' deaths and departures.  See holder.h and handoff.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "defaults.h"
#include "handoff.h"
#include "holder.h"
#include "log.h"
#include "scoreboard.h"

static struct {
	holder_pick_fn pick;
	int epfd;
	int ctl[SCOREBOARD_SLOTS];	/* the master's end of each worker's pair, -1: none */
	int *dup;			/* [KEPT_SLOTS] our duplicate of each kept connection */
	int *listener;			/* [KEPT_SLOTS] the listener it came from */
	int *pending;			/* entries we own that wait for a worker */
	unsigned char *queued;		/* [KEPT_SLOTS] on `pending` */
	int npending;
} h;

int holder_init(holder_pick_fn pick)
{
	h.pick = pick;
	h.dup = malloc(KEPT_SLOTS * sizeof(int));
	h.listener = calloc(KEPT_SLOTS, sizeof(int));
	h.pending = malloc(KEPT_SLOTS * sizeof(int));
	h.queued = calloc(KEPT_SLOTS, 1);
	if (!h.dup || !h.listener || !h.pending || !h.queued || handoff_init() < 0)
		return -1;
	for (int i = 0; i < KEPT_SLOTS; i++)
		h.dup[i] = -1;
	for (int i = 0; i < SCOREBOARD_SLOTS; i++)
		h.ctl[i] = -1;
	h.epfd = epoll_create1(EPOLL_CLOEXEC);
	return h.epfd < 0 ? -1 : 0;
}

int holder_fd(void)
{
	return h.epfd;
}

int holder_attach(int i, int *child_end)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
	int fds[2];

	if (handoff_pair(fds) < 0)
		return -1;
	if (epoll_ctl(h.epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	h.ctl[i] = fds[0];
	*child_end = fds[1];
	return 0;
}

void holder_in_child(int i)
{
	int span = handoff_span();

	(void)i;
	close(h.epfd);
	for (int k = 0; k < SCOREBOARD_SLOTS; k++)
		if (h.ctl[k] >= 0)
			close(h.ctl[k]);
	for (int s = 0; s < span; s++)
		if (h.dup[s] >= 0)
			close(h.dup[s]);
}

static void forget_ctl(int i)
{
	if (h.ctl[i] < 0)
		return;
	epoll_ctl(h.epfd, EPOLL_CTL_DEL, h.ctl[i], NULL);
	close(h.ctl[i]);
	h.ctl[i] = -1;
}

void holder_detach(int i)
{
	forget_ctl(i);
}

static void enqueue(int slot)
{
	if (h.queued[slot])
		return;
	h.queued[slot] = 1;
	h.pending[h.npending++] = slot;
}

/* Close our duplicate for good, and free the entry. */
static void release(int slot, int shut)
{
	if (h.dup[slot] >= 0) {
		/* Workers that once held it may still have copies: shut it
		 * down so that the web server sees the end now. */
		if (shut)
			shutdown(h.dup[slot], SHUT_RDWR);
		close(h.dup[slot]);
		h.dup[slot] = -1;
	}
	handoff_free(slot);
}

static void on_message(int i, const struct handoff_msg *m, int fd)
{
	if (m->slot < 0 || m->slot >= KEPT_SLOTS) {
		if (fd >= 0)
			close(fd);
		return;
	}
	switch (m->type) {
	case HM_KEPT:
		if (h.dup[m->slot] >= 0)
			close(h.dup[m->slot]);
		h.dup[m->slot] = fd;
		h.listener[m->slot] = m->listener;
		if (fd < 0)
			log_msg(LOG_WARNING, "worker %d kept a connection but its descriptor did not "
				"arrive (out of descriptors?); it is not protected", i + 1);
		return;
	case HM_CLOSED:
		if (handoff_peek(m->slot).tag == m->tag)
			release(m->slot, 0);
		break;
	case HM_RETURNED:
		if (handoff_peek(m->slot).tag == m->tag)
			enqueue(m->slot);
		break;
	default:
		break;
	}
	if (fd >= 0)
		close(fd);
}

/* Every message worker `i` has sent; its pair is dropped at its end. */
static void read_worker(int i)
{
	struct handoff_msg m;
	int fd, rc;

	while ((rc = handoff_recv(h.ctl[i], &m, &fd)) >= 1)
		on_message(i, &m, fd);
	if (rc < 0)
		epoll_ctl(h.epfd, EPOLL_CTL_DEL, h.ctl[i], NULL);
}

void holder_events(void)
{
	struct epoll_event ev[64];
	int n;

	while ((n = epoll_wait(h.epfd, ev, 64, 0)) > 0)
		for (int k = 0; k < n; k++)
			if (h.ctl[ev[k].data.u32] >= 0)
				read_worker((int)ev[k].data.u32);
	holder_dispatch();
}

void holder_worker_gone(int i)
{
	int span = handoff_span();

	if (h.ctl[i] >= 0)
		read_worker(i);
	forget_ctl(i);
	for (int s = 0; s < span; s++) {
		struct kept k = handoff_peek(s);

		if (k.owner != i + 1 || k.state == KEPT_FREE)
			continue;
		/* Idle: it outlives the worker.  Busy: it died in the middle
		 * of a request, and that request with it. */
		if (k.state == KEPT_IDLE && h.dup[s] >= 0 && handoff_take(s, i + 1) == 0)
			enqueue(s);
		else
			release(s, 1);
	}
	holder_dispatch();
}

void holder_take(int i)
{
	int span = handoff_span(), n = 0;

	for (int s = 0; s < span; s++) {
		struct kept k = handoff_peek(s);

		if (k.owner == i + 1 && k.state == KEPT_IDLE && h.dup[s] >= 0 &&
		    handoff_take(s, i + 1) == 0) {
			enqueue(s);
			n++;
		}
	}
	if (n)
		__atomic_add_fetch(&scoreboard_slot(i)->taken, 1, __ATOMIC_SEQ_CST);
	holder_dispatch();
}

/* Give entry `slot` (ours, idle) to worker `to`: 0, or -1 to try later. */
static int give(int slot, int to)
{
	struct kept k = handoff_peek(slot);
	struct handoff_msg m = { .type = HM_ADOPT, .slot = slot, .tag = k.tag,
				 .listener = h.listener[slot] };

	if (h.ctl[to] < 0)
		return -1;
	handoff_set(slot, k.tag, to + 1, KEPT_IDLE);
	if (handoff_send(h.ctl[to], &m, h.dup[slot]) == 0)
		return 0;
	handoff_set(slot, k.tag, KEPT_MASTER, KEPT_IDLE);
	return -1;
}

int holder_dispatch(void)
{
	int kept = 0;

	for (int k = 0; k < h.npending; k++) {
		int slot = h.pending[k], to;
		struct kept e = handoff_peek(slot);

		if (e.owner != KEPT_MASTER || e.state != KEPT_IDLE) {
			h.queued[slot] = 0;
			continue;
		}
		if (h.dup[slot] < 0) {
			h.queued[slot] = 0;
			release(slot, 0);
			continue;
		}
		if ((to = h.pick()) < 0 || give(slot, to) < 0) {
			h.pending[kept++] = slot;
			continue;
		}
		h.queued[slot] = 0;
	}
	h.npending = kept;
	return kept;
}

int holder_tell(int i, const struct handoff_msg *m, int fd)
{
	if (i < 0 || i >= SCOREBOARD_SLOTS || h.ctl[i] < 0) {
		errno = EBADF;
		return -1;
	}
	return handoff_send(h.ctl[i], m, fd);
}
