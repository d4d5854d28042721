/*
 * main.c - the sluice binary: sl_serve (serve.c) without a module of its
 * own, so that every module comes from the config, plus `sluice new` and
 * `sluice audit`.
 * A program that is its own sluice calls sl_serve the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "scaffold.h"
#include "sluice_serve.h"

/*
 * The config read without -c or $SLUICE_CONFIG.  The Makefile passes
 * SYSCONFDIR, so that the path follows where `make install` put the
 * config (/usr/local/etc/sluice for PREFIX=/usr/local, /etc/sluice for
 * PREFIX=/usr and the Debian package).
 */
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/sluice/sluice.conf"

int main(int argc, char **argv)
{
	/* mod_fcgid passes no arguments unless a wrapper does: the config may
	 * also come from the environment. */
	struct sl_serve_opts opts = {
		.config = getenv("SLUICE_CONFIG") ? getenv("SLUICE_CONFIG") : DEFAULT_CONFIG,
	};

	if (argc > 1 && strcmp(argv[1], "new") == 0) {
		if (argc < 3 || argc > 4) {
			fprintf(stderr, "usage: sluice new NAME [DIR]\n");
			return 2;
		}
		return scaffold_new(argv[2], argc > 3 ? argv[3] : NULL);
	}
	/* audit has options of its own, so it takes the command line first. */
	if (argc > 1 && strcmp(argv[1], "audit") == 0)
		return audit_main(argc - 1, argv + 1, opts.config);
	return sl_serve(NULL, argc, argv, &opts);
}
