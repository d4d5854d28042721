/*
 * io.c - reads and writes that wait for a non-blocking socket, with a
 * deadline.  See io.h.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

static long long last_ms;

long long io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	last_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return last_ms;
}

long long io_last_ms(void)
{
	return last_ms;
}

/* Wait for `events` on fd until deadline; 0 when ready, -1 with errno. */
static int wait_fd(int fd, short events, long long deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		long long left = deadline_ms - io_now_ms();
		int n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

int io_wait_readable(int fd, long long deadline_ms)
{
	return wait_fd(fd, POLLIN, deadline_ms);
}

int io_wait_writable(int fd, long long deadline_ms)
{
	return wait_fd(fd, POLLOUT, deadline_ms);
}

ssize_t io_read_wait(int fd, void *buf, size_t len, long long deadline_ms)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		if (wait_fd(fd, POLLIN, deadline_ms) < 0)
			return -1;
	}
}

/* Drop `n` written bytes from the front of the iovec array. */
static void advance(struct iovec **iov, int *iovcnt, size_t n)
{
	while (*iovcnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
	if (*iovcnt > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

int io_writev_all(int fd, struct iovec *iov, int iovcnt, int timeout_ms)
{
	long long deadline = io_now_ms() + timeout_ms;

	while (iovcnt > 0) {
		ssize_t n = writev(fd, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt);

		if (n >= 0) {
			advance(&iov, &iovcnt, (size_t)n);
			/* Each write that makes progress buys a fresh timeout:
			 * it bounds a stall, not a long transfer. */
			deadline = io_now_ms() + timeout_ms;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline) < 0)
			return -1;
	}
	return 0;
}
