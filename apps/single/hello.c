/*
 * hello.c - a single-binary app: the program is its own sluice, master
 * and pool, with nothing else to deploy.
 *
 *	cc -I include -o hello apps/single/hello.c $(pkg-config --libs sluice-serve)
 *	./hello                  FastCGI on 127.0.0.1:9000, 2 workers
 *	./hello -c hello.conf    a config file: what it says wins
 *
 * In a config file, the entry without `path` is this program's own
 * module: modules = ( { mount = "/"; settings = { greeting = "hi"; }; } );
 */
#include <unistd.h>

#include <sluice_serve.h>

static const char *greeting;

/* Strings from the settings stay valid until fini. */
static int hello_init(struct sl_context *ctx)
{
	greeting = sl_setting_str(ctx, "greeting", "Hello");
	return 0;
}

/* The worker's pid shows which worker, and which generation, answered. */
static int hello(struct sl_request *req)
{
	return sl_printf(req, "%s from a single binary (worker %d)\n", greeting, (int)getpid());
}

static const struct sl_module app = {
	.abi = SLUICE_ABI_VERSION,
	.name = "hello",
	.init = hello_init,
	.handler = hello,
};

int main(int argc, char **argv)
{
	const struct sl_serve_opts opts = { .listen = "127.0.0.1:9000", .workers = 2 };

	return sl_serve(&app, argc, argv, &opts);
}
