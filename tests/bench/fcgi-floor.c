/*
 * fcgi-floor.c - the floor of the benchmark: a FastCGI responder that
 * does nothing but answer.
 *
 * This is a measuring stick, not a product.  It shows what one process
 * must at least spend to take a FastCGI request from nginx and answer
 * it: accept, read the records, write one response, close or wait for
 * the next request.  sluice's cost per request is compared with this.
 * It is written from the FastCGI 1.0 specification alone, in one file,
 * and deliberately leaves out everything a real server needs: no
 * parameter parsing, no limits beyond the record size, no GET_VALUES,
 * no UNKNOWN_TYPE answers, no multiplexing, no logging.
 *
 *	fcgi-floor /path/to/socket [RESPONSE_BYTES]
 *
 * It listens on a unix socket (mode 0666), serves every connection from
 * one epoll loop in a single process, and runs until it is killed.
 * Each request is answered, once its empty STDIN record arrives, with
 * the same fixed response in one write(2):
 *
 *	STDOUT  "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"
 *		"Hello from sluice!\n"
 *	STDOUT  (empty: end of stream)
 *	END_REQUEST  appStatus 0, FCGI_REQUEST_COMPLETE
 *
 * With RESPONSE_BYTES, for the response workloads of `make bench`, the
 * answer is instead a header block and that many bytes of 'x', in
 * STDOUT records of 65528 bytes gathered by writev(2) from one constant
 * block: the size is fixed at start-up because finding it in the
 * request would be work the floor need not do.  Such a response does
 * not fit the socket buffer, so the floor waits in poll(2) for room,
 * holding its other connections: nginx's many connections to a backend
 * of one process wait the same way with sluice's one worker.
 *
 * The body workloads need nothing more: STDIN is read to its end in any
 * case, in records of up to 64 KiB, and skipped.
 *
 * The connection is closed after END_REQUEST unless the BEGIN_REQUEST
 * record carried FCGI_KEEP_CONN (spec 5.1), in which case the next
 * request may follow on it.  Several connections are served at once:
 * with keep-alive nginx holds several upstream connections open, and a
 * server that waited on one of them would stall the others.
 *
 * Being the floor, it takes the shortest road the system allows: a new
 * connection is read as soon as it is accepted, and one that is over
 * after that read never touches epoll (accept4, read, write, close).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* FastCGI 1.0, section 8: record header, types, flags, statuses. */
#define FCGI_VERSION_1		1
#define FCGI_HEADER_LEN		8
#define FCGI_BEGIN_REQUEST	1
#define FCGI_ABORT_REQUEST	2
#define FCGI_END_REQUEST	3
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_KEEP_CONN		1
#define FCGI_REQUEST_COMPLETE	0

/* One whole record fits: header, 65535 bytes of content, 255 of padding. */
#define INBUF_SIZE		(FCGI_HEADER_LEN + 65535 + 255)

#define MAX_EVENTS		64

/* A big response's records: the largest multiple of 8 a record holds. */
#define BIG_RECORD		65528
/* Records per writev(2): 2 iovecs each, within IOV_MAX (1024). */
#define BIG_BATCH		64

static const char body[] =
	"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"
	"Hello from sluice!\n";

static const char big_head[] =
	"Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";

/* RESPONSE_BYTES, or 0 for the hello answer. */
static long long big_size;
static unsigned char big_block[BIG_RECORD];

struct conn {
	struct conn *next;	/* on the free list, once closed */
	int fd;
	int keep;		/* FCGI_KEEP_CONN of the current request */
	size_t len;		/* bytes held in in[] */
	unsigned char in[INBUF_SIZE];
};

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put_header(unsigned char *p, int type, unsigned id,
		       unsigned clen, unsigned plen)
{
	p[0] = FCGI_VERSION_1;
	p[1] = (unsigned char)type;
	put16(p + 2, id);
	put16(p + 4, clen);
	p[6] = (unsigned char)plen;
	p[7] = 0;
}

/*
 * Writes the whole response of request `id` in one write(2): the STDOUT
 * record padded to a multiple of 8 (spec 3.3 recommends it), the empty
 * STDOUT that ends the stream, and END_REQUEST.  The response is far
 * smaller than a socket buffer, so a short write means the peer is gone;
 * it returns -1 then, as on any error.
 */
static int respond(int fd, unsigned id)
{
	unsigned char out[FCGI_HEADER_LEN + sizeof(body) + 8 + 2 * FCGI_HEADER_LEN + 8];
	unsigned clen = sizeof(body) - 1;
	unsigned plen = (8 - clen % 8) % 8;
	size_t n = 0;
	ssize_t w;

	put_header(out, FCGI_STDOUT, id, clen, plen);
	n += FCGI_HEADER_LEN;
	memcpy(out + n, body, clen);
	memset(out + n + clen, 0, plen);
	n += clen + plen;
	put_header(out + n, FCGI_STDOUT, id, 0, 0);
	n += FCGI_HEADER_LEN;
	put_header(out + n, FCGI_END_REQUEST, id, 8, 0);
	n += FCGI_HEADER_LEN;
	memset(out + n, 0, 8);	/* appStatus 0, reserved bytes 0 */
	out[n + 4] = FCGI_REQUEST_COMPLETE;
	n += 8;

	w = write(fd, out, n);
	return w == (ssize_t)n ? 0 : -1;
}

/*
 * Writes all of iov[0..n), waiting in poll(2) whenever the socket is
 * full.  Returns 0, or -1 when the peer is gone.
 */
static int write_all(int fd, struct iovec *iov, int n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w == -1 && errno == EAGAIN) {
			poll(&pfd, 1, -1);
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/*
 * The response of RESPONSE_BYTES: the header block in a record of its
 * own, then the bytes in batches of BIG_BATCH records, then the end of
 * STDOUT and END_REQUEST.  The headers are one record of their own so
 * that every data record is a whole multiple of 8 and needs no padding.
 */
static int respond_big(int fd, unsigned id)
{
	unsigned char hdrs[BIG_BATCH][FCGI_HEADER_LEN], first[FCGI_HEADER_LEN + sizeof(big_head) + 8];
	unsigned char tail[3 * FCGI_HEADER_LEN];
	struct iovec iov[2 * BIG_BATCH];
	unsigned hlen = sizeof(big_head) - 1, hpad = (8 - hlen % 8) % 8;
	long long left = big_size;

	put_header(first, FCGI_STDOUT, id, hlen, hpad);
	memcpy(first + FCGI_HEADER_LEN, big_head, hlen);
	memset(first + FCGI_HEADER_LEN + hlen, 0, hpad);
	iov[0] = (struct iovec){ first, FCGI_HEADER_LEN + hlen + hpad };
	if (write_all(fd, iov, 1) == -1)
		return -1;
	while (left > 0) {
		int n = 0;

		for (; n < BIG_BATCH && left > 0; n++) {
			unsigned clen = left < BIG_RECORD ? (unsigned)left : BIG_RECORD;
			unsigned plen = (8 - clen % 8) % 8;

			put_header(hdrs[n], FCGI_STDOUT, id, clen, plen);
			iov[2 * n] = (struct iovec){ hdrs[n], FCGI_HEADER_LEN };
			iov[2 * n + 1] = (struct iovec){ big_block, clen + plen };
			left -= clen;
		}
		if (write_all(fd, iov, 2 * n) == -1)
			return -1;
	}
	put_header(tail, FCGI_STDOUT, id, 0, 0);
	put_header(tail + FCGI_HEADER_LEN, FCGI_END_REQUEST, id, 8, 0);
	memset(tail + 2 * FCGI_HEADER_LEN, 0, 8);
	iov[0] = (struct iovec){ tail, sizeof(tail) };
	return write_all(fd, iov, 1);
}

/*
 * Acts on one complete record.  Returns 0 to keep reading, 1 when the
 * connection is to be closed in good order (a request answered without
 * FCGI_KEEP_CONN), -1 on a protocol or write error.  PARAMS and STDIN
 * content are skipped: the floor answers without looking at them.
 */
static int on_record(struct conn *c, const unsigned char *rec)
{
	unsigned type = rec[1];
	unsigned id = (unsigned)rec[2] << 8 | rec[3];
	unsigned clen = (unsigned)rec[4] << 8 | rec[5];

	if (rec[0] != FCGI_VERSION_1)
		return -1;
	switch (type) {
	case FCGI_BEGIN_REQUEST:
		if (clen < 8)
			return -1;
		c->keep = rec[FCGI_HEADER_LEN + 2] & FCGI_KEEP_CONN;
		return 0;
	case FCGI_ABORT_REQUEST:
		return -1;
	case FCGI_STDIN:
		if (clen != 0)
			return 0;
		if ((big_size ? respond_big(c->fd, id) : respond(c->fd, id)) == -1)
			return -1;
		return c->keep ? 0 : 1;
	default:
		return 0;
	}
}

/*
 * Consumes every complete record at the front of c->in and keeps the
 * incomplete tail for the next read.  Same return values as on_record.
 */
static int drain(struct conn *c)
{
	size_t off = 0;
	int rc = 0;

	while (rc == 0 && c->len - off >= FCGI_HEADER_LEN) {
		const unsigned char *rec = c->in + off;
		size_t total = FCGI_HEADER_LEN + ((size_t)rec[4] << 8 | rec[5]) + rec[6];

		if (c->len - off < total)
			break;
		rc = on_record(c, rec);
		off += total;
	}
	memmove(c->in, c->in + off, c->len - off);
	c->len -= off;
	return rc;
}

/*
 * Closed connections are kept on a free list and reused, so that the
 * floor does not pay malloc and brk for every connection nginx opens.
 */
static struct conn *free_conns;

static struct conn *conn_new(int fd)
{
	struct conn *c = free_conns;

	if (c != NULL)
		free_conns = c->next;
	else if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	c->fd = fd;
	c->keep = 0;
	c->len = 0;
	return c;
}

static void conn_close(struct conn *c)
{
	close(c->fd);	/* also removes it from the epoll set */
	c->next = free_conns;
	free_conns = c;
}

/*
 * Reads what the socket holds and serves what can be served.  Returns 0
 * while the connection stays open, -1 once it is closed.  epoll is
 * level-triggered, so one read per wake-up is enough: whatever is left
 * wakes us again.  The buffer always has room, since drain() leaves at
 * most one incomplete record behind.
 */
static int on_readable(struct conn *c)
{
	ssize_t r = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);

	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r > 0) {
		c->len += (size_t)r;
		if (drain(c) == 0)
			return 0;
	}
	conn_close(c);
	return -1;
}

/*
 * Accepts every pending connection and reads each one at once: nginx
 * writes its whole request as soon as it connects, so a connection
 * without FCGI_KEEP_CONN is usually answered and closed here, without
 * ever entering the epoll set.  What is still open after that first
 * read is added to the set.
 */
static void on_acceptable(int ep, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		c = conn_new(fd);
		if (c == NULL) {
			close(fd);
			continue;
		}
		if (on_readable(c) == -1)
			continue;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			conn_close(c);
	}
}

/* Binds `path` afresh, world-connectable, with a generous backlog. */
static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    chmod(path, 0666) == -1 || listen(fd, 1024) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[MAX_EVENTS];
	int ep, lfd, n, i;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: %s SOCKET [RESPONSE_BYTES]\n", argv[0]);
		return 2;
	}
	if (argc == 3 && (big_size = strtoll(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "fcgi-floor: %s: not a response size\n", argv[2]);
		return 2;
	}
	memset(big_block, 'x', sizeof(big_block));
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(argv[1]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (lfd == -1 || ep == -1) {
		fprintf(stderr, "fcgi-floor: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	ev.data.ptr = NULL;	/* NULL marks the listening socket */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		return 1;
	for (;;) {
		n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n == -1 && errno != EINTR)
			return 1;
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				on_acceptable(ep, lfd);
			else
				on_readable(evs[i].data.ptr);
		}
	}
}
