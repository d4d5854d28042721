/*
 * sluice_serve.h - a program that is its own sluice.
 *
 * A program links libsluice (`pkg-config --cflags --libs sluice-serve`)
 * and hands its module descriptor to sl_serve from its own main().  The
 * program then is the master and its pool, with everything the sluice
 * binary has (pm, reload on SIGHUP, recycling, status, logs, systemd
 * notify and socket activation, -t), and nothing else to deploy:
 *
 *	#include <sluice_serve.h>
 *
 *	static int hello(struct sl_request *req)
 *	{
 *		return sl_printf(req, "hello\n");
 *	}
 *
 *	static const struct sl_route routes[] = { { "GET", "/", hello }, { 0 } };
 *	static const struct sl_module app = { .abi = SLUICE_ABI_VERSION,
 *					      .name = "hello", .routes = routes };
 *
 *	int main(int argc, char **argv)
 *	{
 *		struct sl_serve_opts opts = { .listen = "127.0.0.1:9000", .workers = 4 };
 *
 *		return sl_serve(&app, argc, argv, &opts);
 *	}
 *
 * The descriptor need not be called `sluice_module` (nothing looks it up
 * by name); it is what sluice.h describes in every other way.
 */
#ifndef SLUICE_SERVE_H
#define SLUICE_SERVE_H

#include <sluice.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Settings given in code.  Each fills in a key that the config file
 * leaves out: where a file is read, what it says wins, key by key.
 * Zero (or NULL) means "not given".  Leave `reserved` alone: later
 * fields take its slots, so that the struct keeps its size.
 */
struct sl_serve_opts {
	/* The config file read when the command line has no -c; NULL: none,
	 * the settings below are then the whole config. */
	const char *config;
	/* `listen`: "127.0.0.1:9000", "/run/app/app.sock", "unix:app.sock". */
	const char *listen;
	/* `pm.max_children`: the number of workers. */
	int workers;
	void *reserved[8];
};

/*
 * Run `app` as the pool's module, with the command line `argc`/`argv`
 * (that of the sluice binary: -c FILE, -t, -v, -h, `status`, `top`, and
 * --dev and --http in a development build of the library) and the in-code
 * settings `opts` (NULL: none).
 *
 * A config file may leave `modules` out: `app` then serves at "/"
 * without settings.  Or it lists an entry without `path`, which is
 * `app`'s own (its mount and settings), next to modules loaded from
 * files as usual.  `app` NULL is the sluice binary: every module comes
 * from the config.
 *
 * Call it once, from main(), before the program starts any thread: the
 * master forks its workers, and a fork keeps only the calling thread.
 * The descriptor and `opts` must stay valid while it runs (a static
 * descriptor and literal strings do).
 *
 * Returns what main() should return: 0 after a clean stop, 1 when the
 * config or start-up failed (with one line on stderr naming the file and
 * line, or "in-code settings" for a value given here), 2 for a bad
 * command line.  Workers never return from it: they exit.
 *
 * libsluice is a static library: the program carries the sluice it was
 * linked with, of the library's profile (only a development build of
 * the library has --dev).  Modules loaded from files next to `app` need
 * the sl_* symbols exported: `pkg-config --libs sluice-serve` does it.
 */
int sl_serve(const struct sl_module *app, int argc, char **argv,
	     const struct sl_serve_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
