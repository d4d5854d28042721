/*
 * main.c - command line and start-up, in order.
 *
 * Start-up reads in one place: parse the config, open the log, load the
 * modules (in the master, before any fork, so that a bad module stops
 * start-up), bind the socket, hand over to the master.  Every failure on
 * the way is one line on stderr naming the file and what is wrong.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dev.h"
#include "listen.h"
#include "log.h"
#include "master.h"

#define DEFAULT_CONFIG "/etc/sluice/sluice.conf"

/*
 * The build profile as an ELF note (owner "sluice", type 1), so that a
 * tool can tell a production binary from a development one without
 * running it: `readelf -n sluice`.
 */
static const struct {
	unsigned namesz, descsz, type;
	char name[8];
	char desc[8];
} profile_note __attribute__((used, section(".note.sluice.profile"), aligned(4))) = {
	/* descsz covers the whole padded field, so the note is exactly its size. */
	sizeof("sluice"), 8, 1, "sluice", SLUICE_PROFILE,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice [-t] [-c FILE]\n"
		"  -c, --config FILE  configuration file (default " DEFAULT_CONFIG ")\n"
		"  -t, --test         check the configuration and the modules, then exit\n"
		"      --dev          development mode (dev builds only)\n"
		"      --http ADDR    with --dev: also serve HTTP on a loopback ADDR\n"
		"  -v, --version      print the version and the build profile\n"
		"  -h, --help         this text\n");
}

/* A start-up failure: one line on stderr, and in the log when that is a file. */
static int fail(const struct sl_config *cfg, const char *what)
{
	fprintf(stderr, "sluice: %s\n", what);
	if (strcmp(cfg->error_log, "stderr") != 0)
		log_msg(LOG_ERROR, "%s", what);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "dev", no_argument, NULL, 'D' },
		{ "http", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = DEFAULT_CONFIG, *http = NULL;
	int dev = 0;
	/* Static: it lives as long as the process (leak checkers agree). */
	static struct generation *gen;
	char err[1024];
	int test = 0, opt, fd;

	while ((opt = getopt_long(argc, argv, "c:tvh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 't': test = 1; break;
		case 'v': printf("sluice %s (%s profile)\n", SLUICE_VERSION, SLUICE_PROFILE); return 0;
		case 'h': usage(stdout); return 0;
		case 'D': dev = 1; break;
		case 'H': http = optarg; break;
		default: usage(stderr); return 2;
		}
	}
	if (http && !dev) {
		fprintf(stderr, "sluice: --http goes with --dev\n");
		return 2;
	}
	if (dev && dev_enable(http, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice: --dev: %s\n", err);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "sluice: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_set_ident("master");
	gen = master_load(file, NULL, err, sizeof(err));
	if (!gen) {
		fprintf(stderr, "sluice: %s\n", err);
		return 1;
	}
	if (log_open(gen->cfg.error_log, gen->cfg.log_level) < 0) {
		fprintf(stderr, "sluice: error_log %s: cannot open: %m\n", gen->cfg.error_log);
		return 1;
	}
	if (test) {
		printf("sluice: configuration file %s test is successful\n", file);
		return 0;
	}
	fd = listen_open(&gen->cfg.listen, err, sizeof(err));
	if (fd < 0)
		return fail(&gen->cfg, err);
	if (dev_master_start(gen, err, sizeof(err)) < 0) {
		listen_cleanup(&gen->cfg.listen);
		return fail(&gen->cfg, err);
	}
	log_msg(LOG_NOTICE, "sluice %s (%s profile%s) serving on %s with up to %d workers (pm %s)",
		SLUICE_VERSION, SLUICE_PROFILE, dev ? ", development mode" : "",
		gen->cfg.listen.address, gen->cfg.pm.max_children,
		gen->cfg.pm.mode == PM_STATIC ? "static" :
		gen->cfg.pm.mode == PM_DYNAMIC ? "dynamic" : "ondemand");
	return master_run(gen, fd);
}
