/*
 * hello.c - the smallest sluice module.
 *
 * A module with a single handler instead of a route table gets every
 * request under the path it is mounted at, whatever the method.  Mounted
 * at "/", this one answers everything with the same line.
 *
 *	cc -shared -fPIC -I include -o hello.so apps/hello.c
 */
#include <sluice.h>

/*
 * Nothing to set: the status defaults to 200 and the content type to
 * "text/plain; charset=utf-8".  sl_puts returns -1 only when the client
 * is gone, which is also what the handler should then report.
 */
static int hello(struct sl_request *req)
{
	return sl_puts(req, "Hello from sluice!\n");
}

SLUICE_MODULE = {
	.abi = SLUICE_ABI_VERSION,
	.name = "hello",
	.handler = hello,
};
