/*
 * test_io.c - waiting reads and writes on non-blocking sockets: a read
 * that gives up at its deadline, end of stream, bytes that arrive while
 * waiting; a gathered write that gets every byte through a small socket
 * buffer in order, and gives up when the reader stalls or is gone.
 *
 * The side under test is one end of a socketpair, non-blocking as a
 * worker's sockets are; the peer is the other end, blocking, served by a
 * thread where it must read or write while the call under test waits.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io.h"

/*
 * How long a test lets a stalled call wait; how late past that it may
 * give up on a busy machine; and how long a call that must not wait at
 * all may take.
 */
#define WAIT_MS		100
#define LATE_MS		150
#define SLACK_MS	1000

static int sv[2] = { -1, -1 };	/* sv[0]: the side under test; sv[1]: the peer */

static void open_pair(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
}

static void close_pair(void)
{
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
}

static void close_peer(void)
{
	close(sv[1]);
	sv[1] = -1;
}

/* The smallest send buffer the kernel allows, so that writes come out partial. */
static void small_sndbuf(void)
{
	int size = 1;

	cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
}

TestSuite(io, .init = open_pair, .fini = close_pair);

Test(io, read_times_out_on_a_silent_peer)
{
	char buf[16];
	long long t0 = io_now_ms(), elapsed;
	ssize_t n = io_read_wait(sv[0], buf, sizeof(buf), t0 + WAIT_MS);

	elapsed = io_now_ms() - t0;
	cr_assert_eq(n, -1);
	cr_assert_eq(errno, ETIMEDOUT, "errno %d (%s)", errno, strerror(errno));
	cr_assert_geq(elapsed, WAIT_MS, "gave up after %lld ms", elapsed);
	cr_assert_lt(elapsed, WAIT_MS + LATE_MS, "waited %lld ms", elapsed);
}

Test(io, read_returns_zero_at_end_of_stream)
{
	char buf[16];
	long long t0 = io_now_ms();

	close_peer();
	cr_assert_eq(io_read_wait(sv[0], buf, sizeof(buf), t0 + 10000), 0);
	cr_assert_lt(io_now_ms() - t0, SLACK_MS, "waited for a deadline at end of stream");
}

Test(io, read_returns_available_bytes)
{
	char buf[16];

	cr_assert_eq(write(sv[1], "0123456789", 10), 10);
	/* At most `len`, the rest left for the next read. */
	cr_assert_eq(io_read_wait(sv[0], buf, 4, io_now_ms() + 10000), 4);
	cr_assert_eq(memcmp(buf, "0123", 4), 0);
	cr_assert_eq(io_read_wait(sv[0], buf, sizeof(buf), io_now_ms() + 10000), 6);
	cr_assert_eq(memcmp(buf, "456789", 6), 0);
}

/* Bytes already there are read even when the deadline has passed. */
Test(io, read_takes_ready_bytes_after_the_deadline)
{
	char buf[16];

	cr_assert_eq(write(sv[1], "late", 4), 4);
	cr_assert_eq(io_read_wait(sv[0], buf, sizeof(buf), io_now_ms() - 1), 4);
	cr_assert_eq(memcmp(buf, "late", 4), 0);
}

static void *write_later(void *arg)
{
	(void)arg;
	usleep(50 * 1000);
	if (write(sv[1], "later", 5) != 5)
		abort();
	return NULL;
}

Test(io, read_waits_for_the_first_byte)
{
	char buf[16];
	pthread_t t;
	long long t0 = io_now_ms(), elapsed;
	ssize_t n;

	cr_assert_eq(pthread_create(&t, NULL, write_later, NULL), 0);
	n = io_read_wait(sv[0], buf, sizeof(buf), t0 + 10000);
	elapsed = io_now_ms() - t0;
	pthread_join(t, NULL);
	cr_assert_eq(n, 5, "read %zd (%s)", n, n < 0 ? strerror(errno) : "");
	cr_assert_eq(memcmp(buf, "later", 5), 0);
	cr_assert_lt(elapsed, SLACK_MS, "waited %lld ms for bytes sent after 50", elapsed);
}

/* The peer's side: read everything until end of stream. */
struct sink {
	unsigned char *buf;
	size_t len, cap;
	size_t chunk;		/* bytes per read(2), small to make the writer wait */
	size_t stop_after;	/* close after this many bytes; 0: read to the end */
};

static void *drain(void *arg)
{
	struct sink *s = arg;

	for (;;) {
		size_t want = s->cap - s->len < s->chunk ? s->cap - s->len : s->chunk;
		ssize_t n = want ? read(sv[1], s->buf + s->len, want) : 0;

		if (n <= 0)
			break;
		s->len += (size_t)n;
		if (s->stop_after && s->len >= s->stop_after)
			break;
	}
	if (s->stop_after)
		close_peer();
	return NULL;
}

/* Bytes that tell every position of every iovec apart. */
static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len ? len : 1);

	cr_assert_not_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 31 + i / 251 + seed * 101);
	return p;
}

Test(io, writev_all_writes_every_byte_in_order)
{
	size_t sizes[] = { 200000, 1, 0, 70001, 300000, 3 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	struct iovec iov[N];
	unsigned char *parts[N];
	struct sink s = { .chunk = 1000 };
	size_t total = 0, at = 0;
	pthread_t t;

	small_sndbuf();
	for (int i = 0; i < N; i++) {
		parts[i] = pattern(sizes[i], (unsigned)i);
		iov[i] = (struct iovec){ parts[i], sizes[i] };
		total += sizes[i];
	}
	s.cap = total + 1;
	s.buf = malloc(s.cap);
	cr_assert_not_null(s.buf);
	cr_assert_eq(pthread_create(&t, NULL, drain, &s), 0);
	cr_assert_eq(io_writev_all(sv[0], iov, N, 5000), 0, "%s", strerror(errno));
	shutdown(sv[0], SHUT_WR);
	pthread_join(t, NULL);
	cr_assert_eq(s.len, total, "the reader got %zu of %zu bytes", s.len, total);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(memcmp(s.buf + at, parts[i], sizes[i]), 0,
			     "iovec %d arrived wrong", i);
		at += sizes[i];
		free(parts[i]);
	}
	free(s.buf);
}

/* More pieces than one writev(2) takes. */
Test(io, writev_all_takes_more_than_iov_max_pieces)
{
	enum { N = IOV_MAX * 2 + 7 };
	static struct iovec iov[N];
	static unsigned char bytes[N][3];
	struct sink s = { .chunk = 4096, .cap = N * 3 + 1 };
	pthread_t t;

	for (int i = 0; i < N; i++) {
		bytes[i][0] = (unsigned char)i;
		bytes[i][1] = (unsigned char)(i >> 8);
		bytes[i][2] = '.';
		iov[i] = (struct iovec){ bytes[i], 3 };
	}
	s.buf = malloc(s.cap);
	cr_assert_not_null(s.buf);
	cr_assert_eq(pthread_create(&t, NULL, drain, &s), 0);
	cr_assert_eq(io_writev_all(sv[0], iov, N, 5000), 0, "%s", strerror(errno));
	shutdown(sv[0], SHUT_WR);
	pthread_join(t, NULL);
	cr_assert_eq(s.len, (size_t)N * 3);
	cr_assert_eq(memcmp(s.buf, bytes, (size_t)N * 3), 0);
	free(s.buf);
}

Test(io, writev_all_with_nothing_to_write)
{
	static char none[1];
	struct iovec iov[2] = { { none, 0 }, { none, 0 } };
	char b;

	cr_assert_eq(io_writev_all(sv[0], iov, 0, WAIT_MS), 0);
	cr_assert_eq(io_writev_all(sv[0], iov, 2, WAIT_MS), 0);
	close(sv[0]);
	sv[0] = -1;
	cr_assert_eq(read(sv[1], &b, 1), 0, "bytes were written");
}

Test(io, writev_all_times_out_when_the_reader_stalls)
{
	size_t len = 4 << 20;
	unsigned char *big = pattern(len, 1);
	struct iovec iov = { big, len };
	long long t0 = io_now_ms(), elapsed;
	int rc;

	small_sndbuf();
	rc = io_writev_all(sv[0], &iov, 1, WAIT_MS);
	elapsed = io_now_ms() - t0;
	cr_assert_eq(rc, -1);
	cr_assert_eq(errno, ETIMEDOUT, "errno %d (%s)", errno, strerror(errno));
	cr_assert_geq(elapsed, WAIT_MS, "gave up after %lld ms", elapsed);
	cr_assert_lt(elapsed, WAIT_MS + LATE_MS, "waited %lld ms", elapsed);
	free(big);
}

Test(io, writev_all_fails_with_epipe_when_the_reader_is_gone)
{
	static char hello[] = "hello";
	struct iovec iov = { hello, 5 };

	signal(SIGPIPE, SIG_IGN);
	close_peer();
	cr_assert_eq(io_writev_all(sv[0], &iov, 1, 5000), -1);
	cr_assert_eq(errno, EPIPE, "errno %d (%s)", errno, strerror(errno));
}

/* The reader leaves in the middle: the writer learns it at once, not at the timeout. */
Test(io, writev_all_fails_when_the_reader_leaves_mid_transfer)
{
	size_t len = 4 << 20;
	unsigned char *big = pattern(len, 2);
	struct iovec iov = { big, len };
	struct sink s = { .chunk = 1000, .cap = len, .stop_after = 20000 };
	long long t0;
	pthread_t t;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	small_sndbuf();
	s.buf = malloc(s.cap);
	cr_assert_not_null(s.buf);
	cr_assert_eq(pthread_create(&t, NULL, drain, &s), 0);
	t0 = io_now_ms();
	rc = io_writev_all(sv[0], &iov, 1, 10000);
	cr_assert_eq(rc, -1);
	cr_assert(errno == EPIPE || errno == ECONNRESET, "errno %d (%s)", errno, strerror(errno));
	cr_assert_lt(io_now_ms() - t0, SLACK_MS, "waited for the timeout");
	pthread_join(t, NULL);
	cr_assert_eq(memcmp(s.buf, big, s.len), 0);
	free(s.buf);
	free(big);
}
