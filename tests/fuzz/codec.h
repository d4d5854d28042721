/*
 * codec.h - what the codec harnesses share: a connection driven through
 * its proto table the way the worker loop drives it, fed from the input
 * in chunks the fuzzer chooses.
 *
 * Input layout: byte 0 gives how many chunk sizes follow (1 to 8, in its
 * low 3 bits); each of those bytes is a size (1 to 256); the rest is the
 * byte stream a web server sent, cut into chunks of those sizes in turn
 * (after FUZZ_CHUNKS of them, the rest in FUZZ_CHUNK_MAX pieces).
 *
 * The connection is a real descriptor (a socketpair's end, dup'ed for
 * each input, since conn_put closes it), but its reads and writes are
 * served in memory: the harness is linked with --wrap for read, write,
 * writev, sendfile and poll (Makefile), and the wrappers answer for
 * that one descriptor as a stream socket would: each read(2) gives at
 * most the next chunk (less when the connection's buffer has less room,
 * the rest coming next), a read past the input sees the peer gone (0),
 * every write is taken whole and dropped, and the socket is always
 * ready.  So conn_fill, the codec and the encoder run unchanged, without
 * the two system calls a chunk would otherwise cost, which in a virtual
 * machine are most of the time an input takes.
 *
 * Between reads the connection's leftover is parked (conn_park) as the
 * worker parks it between events.  Every parsed request is run by
 * request_run: the handler reads the body through the codec's read_body
 * and answers through the real encoder, so the response framing runs
 * too.  A kept connection goes on to the next request until the input
 * is spent.
 */
#ifndef SLUICE_FUZZ_CODEC_H
#define SLUICE_FUZZ_CODEC_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "config.h"
#include "conn.h"
#include "defaults.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "request.h"
#include "router.h"
#include "sluice.h"

/* The chunk the rest of the input goes in, as a web server's larger writes. */
#define FUZZ_CHUNK_MAX 4096

/* Chunks of the chosen sizes before the rest goes in FUZZ_CHUNK_MAX pieces. */
#define FUZZ_CHUNKS 64

/* Reads the whole body in 7-byte pieces, then answers with some of it. */
static inline int fuzz_handler(struct sl_request *r)
{
	char buf[7], keep[64];
	size_t kept = 0;
	ssize_t n;

	while ((n = sl_read(r, buf, sizeof(buf))) > 0) {
		size_t take = (size_t)n < sizeof(keep) - kept ? (size_t)n : sizeof(keep) - kept;

		memcpy(keep + kept, buf, take);
		kept += take;
	}
	if (n < 0)
		return -1;
	sl_add_header(r, "X-Fuzz", sl_method(r));
	sl_printf(r, "%s %s %zu\n", sl_method(r), sl_path(r), sl_param_count(r));
	return sl_write(r, keep, kept);
}

struct fuzz_codec {
	struct sl_config cfg;
	struct router router;
	struct sl_request req;
};

/*
 * Once per process: limits as shipped, `handler` on a route for every
 * method and path, quiet logs.
 */
static inline struct fuzz_codec *fuzz_codec(sl_handler handler)
{
	static struct fuzz_codec f;
	static int ready;
	char err[256];

	if (ready)
		return &f;
	if (log_open("/dev/null", LOG_DEBUG) < 0 || conn_init() < 0)
		abort();
	f.cfg.limits.max_params_bytes = DEFAULT_MAX_PARAMS_BYTES;
	f.cfg.limits.max_params = DEFAULT_MAX_PARAMS;
	f.cfg.limits.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
	f.cfg.limits.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
	f.cfg.limits.body_buffer_size = DEFAULT_BODY_BUFFER_SIZE;
	f.cfg.limits.max_request_memory = DEFAULT_MAX_REQUEST_MEMORY;
	f.cfg.limits.max_conns = DEFAULT_MAX_CONNS;
	f.cfg.limits.read_timeout = 1;
	f.cfg.limits.write_timeout = 1;
	f.cfg.limits.idle_timeout = DEFAULT_IDLE_TIMEOUT;
	f.cfg.pm.max_children = 1;
	if (router_add(&f.router, NULL, "/", "/*", handler, 0, err, sizeof(err)) < 0 ||
	    request_init(&f.req, &f.cfg, &f.router) < 0)
		abort();
	ready = 1;
	return &f;
}

/* ---- The connection's other end, in memory ---------------------------- */

struct fuzz_wire {
	int fd;			/* the connection's descriptor; -1 between inputs */
	const uint8_t *sizes, *data;
	size_t nsizes, chunks, left;
	size_t chunk_left;	/* what the current chunk still holds */
	size_t sent;		/* response bytes the codec wrote */
};

static struct fuzz_wire wire = { .fd = -1 };

ssize_t __real_read(int fd, void *buf, size_t len);
ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __real_writev(int fd, const struct iovec *iov, int n);
ssize_t __real_sendfile(int out, int in, off_t *off, size_t len);
int __real_poll(struct pollfd *p, nfds_t n, int ms);
ssize_t __wrap_read(int fd, void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
ssize_t __wrap_writev(int fd, const struct iovec *iov, int n);
ssize_t __wrap_sendfile(int out, int in, off_t *off, size_t len);
int __wrap_poll(struct pollfd *p, nfds_t n, int ms);

ssize_t __wrap_read(int fd, void *buf, size_t len)
{
	size_t n;

	if (fd < 0 || fd != wire.fd)
		return __real_read(fd, buf, len);
	if (wire.chunk_left == 0 && wire.left > 0) {
		n = wire.chunks < FUZZ_CHUNKS
		    ? (size_t)wire.sizes[wire.chunks % wire.nsizes] + 1 : FUZZ_CHUNK_MAX;
		wire.chunk_left = n < wire.left ? n : wire.left;
		wire.chunks++;
	}
	n = wire.chunk_left < len ? wire.chunk_left : len;
	memcpy(buf, wire.data, n);
	wire.data += n;
	wire.left -= n;
	wire.chunk_left -= n;
	return (ssize_t)n;
}

ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
	if (fd < 0 || fd != wire.fd)
		return __real_write(fd, buf, len);
	wire.sent += len;
	return (ssize_t)len;
}

ssize_t __wrap_writev(int fd, const struct iovec *iov, int n)
{
	size_t total = 0;

	if (fd < 0 || fd != wire.fd)
		return __real_writev(fd, iov, n);
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	wire.sent += total;
	return (ssize_t)total;
}

/* The file's bytes are not read: only the offset moves, as it would. */
ssize_t __wrap_sendfile(int out, int in, off_t *off, size_t len)
{
	if (out < 0 || out != wire.fd)
		return __real_sendfile(out, in, off, len);
	if (off)
		*off += (off_t)len;
	wire.sent += len;
	return (ssize_t)len;
}

int __wrap_poll(struct pollfd *p, nfds_t n, int ms)
{
	if (n != 1 || p->fd < 0 || p->fd != wire.fd)
		return __real_poll(p, n, ms);
	p->revents = p->events;
	return 1;
}

/* Take the chunk prefix off `data`; -1 when the input is too short to have one. */
static int fuzz_wire_load(const uint8_t *data, size_t size)
{
	size_t nsizes;

	if (size < 2)
		return -1;
	nsizes = (size_t)(data[0] & 7) + 1;
	if (size < 1 + nsizes)
		return -1;
	wire.sizes = data + 1;
	wire.nsizes = nsizes;
	wire.data = data + 1 + nsizes;
	wire.left = size - 1 - nsizes;
	wire.chunks = wire.chunk_left = wire.sent = 0;
	return 0;
}

/*
 * Serve the connection until it closes or its input is spent, as
 * worker.c's process() does: parse, run each request, ask the codec
 * what becomes of the connection.  Returns the requests run.
 */
/*
 * What a decoder promises the request, refused or not: every parameter it
 * kept is a C string of exactly its length, no NUL inside, a NUL after.
 */
static inline void fuzz_check_params(const struct sl_request *r)
{
	for (size_t i = 0; i < r->nparams; i++) {
		const struct param *p = &r->params[i];

		if (strlen(p->name) != p->name_len || strlen(p->value) != p->value_len)
			abort();
	}
}

static int fuzz_serve(struct fuzz_codec *f, struct conn *c)
{
	int served = 0;

	for (;;) {
		enum proto_rc rc = c->proto->parse(c, &f->req);

		if (rc == PROTO_CLOSE)
			break;
		if (rc == PROTO_AGAIN) {
			if (conn_park(c) < 0 || conn_fill(c) <= 0)
				break;	/* input spent */
			continue;
		}
		fuzz_check_params(&f->req);
		conn_xfer_start(c, c->rx, io_now_ms());
		c->requests++;
		request_run(&f->req);
		served++;
		if (f->req.client_gone || c->proto->finish(c, &f->req) != END_KEEP)
			break;
	}
	return served;
}

/* One input on a fresh connection speaking `proto`, each request run by `handler`. */
static inline int fuzz_codec_input(const struct proto *proto, sl_handler handler,
				   const uint8_t *data, size_t size)
{
	static int sv[2] = { -1, -1 };
	struct fuzz_codec *f = fuzz_codec(handler);
	struct conn *c;

	if (sv[0] < 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (fuzz_wire_load(data, size) < 0)
		return 0;
	wire.fd = fcntl(sv[0], F_DUPFD_CLOEXEC, 0);
	if (wire.fd < 0)
		abort();
	c = conn_get(wire.fd, proto, &f->cfg);
	if (!c)
		abort();
	if (conn_fill(c) > 0)
		fuzz_serve(f, c);
	conn_put(c);		/* closes wire.fd */
	conn_bury();
	wire.fd = -1;
	return 0;
}

#endif
