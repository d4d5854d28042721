/*
 * codec.h - what the codec harnesses share: a connection driven through
 * its proto table the way the worker loop drives it, fed from the input
 * in chunks the fuzzer chooses.
 *
 * Input layout: byte 0 gives how many chunk sizes follow (1 to 8, in its
 * low 3 bits); each of those bytes is a size (1 to 256); the rest is the
 * byte stream a web server sent, cut into chunks of those sizes in turn.
 * The chunks go into a SOCK_SEQPACKET socketpair, so that each read(2)
 * the connection does (conn_fill) takes exactly one chunk, then the
 * sending side is shut: a read past the input sees the peer gone and
 * never waits.  A chunk is at most MOVE_TO_SHARED-sized (conn.c), the
 * least room conn_fill reads into, so none is ever cut short.
 *
 * Between reads the connection's leftover is parked (conn_park) as the
 * worker parks it between events.  Every parsed request is run by
 * request_run: a route per method reads the body through the codec's
 * read_body in small pieces and answers through the real encoder with
 * a head and part of the body, so the response framing runs too; its
 * bytes are read off the peer's end and dropped.  A kept connection
 * goes on to the next request until the input is spent.
 */
#ifndef SLUICE_FUZZ_CODEC_H
#define SLUICE_FUZZ_CODEC_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "config.h"
#include "conn.h"
#include "defaults.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "request.h"
#include "router.h"
#include "sluice.h"

/* The largest chunk: conn_fill always has this much room (conn.c). */
#define FUZZ_CHUNK_MAX 4096

/* Chunks of the chosen sizes before the rest goes in FUZZ_CHUNK_MAX pieces. */
#define FUZZ_CHUNKS 64

/* Reads the whole body in 7-byte pieces, then answers with some of it. */
static int fuzz_handler(struct sl_request *r)
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

/* Once per process: limits as shipped, a route for every method, quiet logs. */
static inline struct fuzz_codec *fuzz_codec(void)
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
	if (router_add(&f.router, NULL, "/", "/*", fuzz_handler, 0, err, sizeof(err)) < 0 ||
	    request_init(&f.req, &f.cfg, &f.router) < 0)
		abort();
	ready = 1;
	return &f;
}

/* Cut `data` into chunks as its prefix says and queue them on `fd`; -1: skip. */
static int fuzz_send_chunks(int fd, const uint8_t *data, size_t size)
{
	size_t nsizes, i = 0, chunks = 0;
	const uint8_t *sizes;

	if (size < 2)
		return -1;
	nsizes = (size_t)(data[0] & 7) + 1;
	if (size < 1 + nsizes)
		return -1;
	sizes = data + 1;
	data += 1 + nsizes;
	size -= 1 + nsizes;
	while (size > 0) {
		size_t n = chunks < FUZZ_CHUNKS ? (size_t)sizes[i++ % nsizes] + 1 : FUZZ_CHUNK_MAX;

		if (n > size)
			n = size;
		if (write(fd, data, n) != (ssize_t)n)
			return -1;
		data += n;
		size -= n;
		chunks++;
	}
	return shutdown(fd, SHUT_WR);
}

/* Drop what the codec wrote to the peer, so that its sends never queue for long. */
static void fuzz_drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * Serve the connection until it closes or its input is spent, as
 * worker.c's process() does: parse, run each request, ask the codec
 * what becomes of the connection.  Returns the requests run.
 */
static int fuzz_serve(struct fuzz_codec *f, struct conn *c, int peer)
{
	int served = 0;

	for (;;) {
		enum proto_rc rc = c->proto->parse(c, &f->req);

		if (rc == PROTO_CLOSE)
			break;
		if (rc == PROTO_AGAIN) {
			ssize_t n;

			if (conn_park(c) < 0)
				break;
			n = conn_fill(c);
			if (n <= 0)
				break;	/* input spent (or EAGAIN: nothing more comes) */
			continue;
		}
		conn_xfer_start(c, c->rx, io_now_ms());
		c->requests++;
		request_run(&f->req);
		served++;
		fuzz_drain(peer);
		if (f->req.client_gone || c->proto->finish(c, &f->req) != END_KEEP)
			break;
	}
	fuzz_drain(peer);
	return served;
}

/* One input on a fresh connection speaking `proto`. */
static inline int fuzz_codec_input(const struct proto *proto, const uint8_t *data, size_t size)
{
	struct fuzz_codec *f = fuzz_codec();
	struct conn *c;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (fuzz_send_chunks(sv[1], data, size) < 0 ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	c = conn_get(sv[0], proto, &f->cfg);
	if (!c)
		abort();
	if (conn_fill(c) > 0)
		fuzz_serve(f, c, sv[1]);
	conn_put(c);
	conn_bury();
	close(sv[1]);
	return 0;
}

#endif
