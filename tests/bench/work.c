/*
 * work.c - the sluice module of the bench's workloads.
 *
 * One handler, mounted at "/", does each workload's work the way a
 * module author would, through include/sluice.h only:
 *
 *	/hello		the hello line (also the 100-header workload)
 *	/body		reads the request body to its end, answers its size
 *	/resp/N		answers N bytes of 'x' (N a multiple of 64 KiB or less)
 *	/respcopy/N	the same, through sl_write
 *
 * The body is read through a fixed buffer, never kept whole: a 16 MB
 * upload must not make the worker 16 MB bigger.  The response is written
 * from one constant 64 KiB block for the same reason, by reference
 * (sl_write_ref), as the block outlives the request: the floor and
 * uWSGI's handler send theirs without a copy too.  /respcopy/N writes the
 * same bytes through sl_write, for comparing the two by hand.
 */
#include <stdlib.h>
#include <string.h>

#include <sluice.h>

#define CHUNK 65536

static char block[CHUNK];

static int body(struct sl_request *req)
{
	static char buf[CHUNK];
	long long total = 0;
	ssize_t n;

	while ((n = sl_read(req, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0)
		return -1;
	return sl_printf(req, "read %lld bytes\n", total);
}

static int resp(struct sl_request *req, const char *size,
		int (*write)(struct sl_request *, const void *, size_t))
{
	long long left = strtoll(size, NULL, 10);

	if (left <= 0)
		return sl_error(req, 400);
	sl_add_header(req, "Content-Type", "application/octet-stream");
	while (left > 0) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;

		if (write(req, block, n) == -1)
			return -1;
		left -= (long long)n;
	}
	return 0;
}

static int work(struct sl_request *req)
{
	const char *path = sl_path(req);

	if (strcmp(path, "/body") == 0)
		return body(req);
	if (strncmp(path, "/resp/", 6) == 0)
		return resp(req, path + 6, sl_write_ref);
	if (strncmp(path, "/respcopy/", 10) == 0)
		return resp(req, path + 10, sl_write);
	return sl_puts(req, "Hello from sluice!\n");
}

static int work_init(struct sl_context *ctx)
{
	(void)ctx;
	memset(block, 'x', sizeof(block));
	return 0;
}

SLUICE_MODULE = {
	.abi = SLUICE_ABI_VERSION,
	.name = "bench-work",
	.init = work_init,
	.handler = work,
};
