/*
 * handoff.c - the shared ownership table and the messages that move
 * kept-alive connections between the master and its workers.  See
 * handoff.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "defaults.h"
#include "handoff.h"

/* How long a sender waits for room in a full socket buffer. */
#define SEND_WAIT_MS 200

struct table {
	_Atomic int span;
	_Atomic uint64_t word[KEPT_SLOTS];
};

static struct table *tab;

static uint64_t pack(uint32_t tag, int owner, int state)
{
	return (uint64_t)tag << 32 | (uint64_t)(uint16_t)owner << 16 | (uint16_t)state;
}

static struct kept unpack(uint64_t w)
{
	return (struct kept){ .tag = (uint32_t)(w >> 32), .owner = (int)(w >> 16 & 0xffff),
			      .state = (int)(w & 0xffff) };
}

int handoff_init(void)
{
	/* Shared and anonymous: inherited by every fork, zero (all FREE). */
	void *p = mmap(NULL, sizeof(struct table), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	tab = p;
	return 0;
}

int handoff_span(void)
{
	return tab ? atomic_load(&tab->span) : 0;
}

struct kept handoff_peek(int slot)
{
	return unpack(atomic_load(&tab->word[slot]));
}

int handoff_alloc(int owner, uint32_t *tag)
{
	if (!tab)
		return -1;
	for (int i = 0; i < KEPT_SLOTS; i++) {
		uint64_t w = atomic_load_explicit(&tab->word[i], memory_order_relaxed);
		struct kept k = unpack(w);

		if (k.state != KEPT_FREE)
			continue;
		if (!atomic_compare_exchange_strong(&tab->word[i], &w,
						    pack(k.tag + 1, owner, KEPT_BUSY)))
			continue;
		*tag = k.tag + 1;
		for (int s = atomic_load(&tab->span); s <= i; s = atomic_load(&tab->span))
			if (atomic_compare_exchange_weak(&tab->span, &s, i + 1))
				break;
		return i;
	}
	return -1;
}

int handoff_claim(int slot, uint32_t tag, int owner)
{
	uint64_t idle = pack(tag, owner, KEPT_IDLE);

	return atomic_compare_exchange_strong(&tab->word[slot], &idle,
					      pack(tag, owner, KEPT_BUSY)) ? 0 : -1;
}

void handoff_set(int slot, uint32_t tag, int owner, int state)
{
	atomic_store(&tab->word[slot], pack(tag, owner, state));
}

int handoff_take(int slot, int from)
{
	uint64_t w = atomic_load(&tab->word[slot]);
	struct kept k = unpack(w);

	if (k.state != KEPT_IDLE || k.owner != from)
		return -1;
	return atomic_compare_exchange_strong(&tab->word[slot], &w,
					      pack(k.tag, KEPT_MASTER, KEPT_IDLE)) ? 0 : -1;
}

void handoff_free(int slot)
{
	struct kept k = handoff_peek(slot);

	atomic_store(&tab->word[slot], pack(k.tag, KEPT_MASTER, KEPT_FREE));
}

/* ---- Messages ------------------------------------------------------- */

int handoff_pair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
}

int handoff_send(int sock, const struct handoff_msg *m, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)(uintptr_t)m, sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	for (int tries = 0;; tries++) {
		struct pollfd p = { .fd = sock, .events = POLLOUT };

		if (sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(*m))
			return 0;
		if ((errno != EAGAIN && errno != EINTR) || tries == 1)
			return -1;
		poll(&p, 1, SEND_WAIT_MS);
	}
}

int handoff_recv(int sock, struct handoff_msg *m, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	/* A descriptor the kernel could not install (we are out of them) is
	 * dropped with MSG_CTRUNC: say so rather than pass a message that
	 * looks as if it never had one. */
	if (mh.msg_flags & MSG_CTRUNC) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = EMFILE;
		return 2;
	}
	if (n != (ssize_t)sizeof(*m)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -1;
	}
	return 1;
}
