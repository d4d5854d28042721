/*
 * main.c - command line and start-up, in order.
 *
 * Start-up reads in one place: parse the config and check it against the
 * system, load the modules (in the master, before any fork, so that a bad
 * module stops start-up), then, unless -t asked only for that, open the
 * logs, claim the pid file, bind the socket, hand over to the master.
 * Every failure on the way is one line on stderr naming the file and
 * what is wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "audit.h"
#include "config.h"
#include "dev/dev.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "pidfile.h"
#include "proctitle.h"
#include "proto.h"
#include "scaffold.h"
#include "scoreboard.h"
#include "status.h"
#include "top.h"
#include "worker.h"

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
		"       sluice status [-c FILE] [/status?json | /metrics | /ping | /ready]\n"
		"       sluice top [-c FILE] [-d SECONDS]\n"
		"       sluice new NAME [DIR]  write a new module NAME, its test and Makefile\n"
		"       sluice audit [-c FILE] [--json] [--unit FILE] [--pid PID]  the deployment\n"
		"                     checklist (sluice audit --help)\n"
		"  -c, --config FILE  configuration file (default $SLUICE_CONFIG, else\n"
		"                     " DEFAULT_CONFIG ")\n"
		"  -t, --test         check the configuration and the modules, then exit\n"
		"  -d, --delay SECS   with top: seconds between refreshes (default 1)\n"
		"      --dev          development mode (dev builds only)\n"
		"      --http ADDR    with --dev: also serve HTTP on a loopback ADDR\n"
		"  -v, --version      print the version and the build profile\n"
		"  -h, --help         this text\n");
}

/*
 * mod_fcgid starts the application itself, with an already-listening
 * socket as descriptor 0 (FCGI_LISTENSOCK_FILENO): getpeername on it fails
 * with ENOTCONN, and it accepts connections.
 */
static int started_by_fcgid(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), optlen = sizeof(int);
	int listening = 0;

	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0 || errno != ENOTCONN)
		return 0;
	return getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) == 0 && listening;
}

/*
 * Under mod_fcgid, sluice is a single responder: mod_fcgid decides how
 * many processes run and restarts them, so there is no master and no
 * pool; this process serves the socket on descriptor 0 itself, and leaves
 * cleanly, between requests, on SIGTERM.  The config's listen addresses
 * are not used.
 */
static int serve_fcgid(struct generation *gen)
{
	static struct listener l = { .fd = 0, .proto = &proto_fcgi, .address = "fd 0 (mod_fcgid)" };
	struct worker_args args = { .gen = gen, .listeners = &l, .nlisteners = 1,
				    .index = 0, .master = 0, .notify_fd = -1, .ctl_fd = -1 };

	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	log_set_ident("responder");
	proctitle_prefix("sluice: responder ");
	if (scoreboard_init() < 0) {
		fprintf(stderr, "sluice: cannot map the scoreboard: %m\n");
		return 1;
	}
	log_msg(LOG_NOTICE, "sluice %s (%s profile) started by mod_fcgid: serving fd 0 "
		"as a single responder (pid %d)", SLUICE_VERSION, SLUICE_PROFILE, (int)getpid());
	worker_main(&args);
}

/* A start-up failure: one line on stderr, and in the log when that is a file. */
static int fail(const struct sl_config *cfg, const char *what)
{
	fprintf(stderr, "sluice: %s\n", what);
	if (strcmp(cfg->error_log, "stderr") != 0)
		log_msg(LOG_ERROR, "%s", what);
	return 1;
}

/* A failure once the pid file is claimed and `n` listeners are bound. */
static int refuse(const struct sl_config *cfg, const char *what,
		  const struct listener *ls, int n)
{
	listen_cleanup(ls, n);
	pidfile_release();
	return fail(cfg, what);
}

/*
 * `sluice status` and `sluice top`: only the config is read, for the
 * status socket's address; the running pool answers.  `interval_ms` > 0
 * asks for the live view.
 */
static int ask_pool(const char *file, const char *target, long interval_ms)
{
	static struct sl_config cfg;
	char err[1024];
	int rc;

	if (config_load(file, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice: %s\n", err);
		return 1;
	}
	rc = interval_ms > 0 ? top_run(&cfg, interval_ms) : status_print(&cfg, target);
	config_free(&cfg);
	return rc;
}

/* `-d SECONDS` of `sluice top`, in ms; -1 after saying what is wrong. */
static long parse_delay(const char *arg)
{
	char *end;
	double secs;

	errno = 0;
	secs = strtod(arg, &end);
	if (errno || end == arg || *end || secs * 1000 < TOP_MIN_INTERVAL_MS ||
	    secs * 1000 > TOP_MAX_INTERVAL_MS) {
		fprintf(stderr, "sluice: -d \"%s\": want seconds between %g and %g\n", arg,
			TOP_MIN_INTERVAL_MS / 1000.0, TOP_MAX_INTERVAL_MS / 1000.0);
		return -1;
	}
	return (long)(secs * 1000);
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
		{ "delay", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	/* mod_fcgid passes no arguments unless a wrapper does: the config may
	 * also come from the environment. */
	const char *file = getenv("SLUICE_CONFIG") ? getenv("SLUICE_CONFIG") : DEFAULT_CONFIG;
	const char *http = NULL, *delay = NULL;
	int dev = 0;
	/* Static: it lives as long as the process (leak checkers agree). */
	static struct generation *gen;
	static struct listener listeners[MAX_LISTEN], status;
	char err[1024];
	int test = 0, fcgid, opt, nls, rc;

	proctitle_init(argc, &argv);
	/* audit has options of its own, so it takes the command line first. */
	if (argc > 1 && strcmp(argv[1], "audit") == 0)
		return audit_main(argc - 1, argv + 1, file);
	while ((opt = getopt_long(argc, argv, "c:tvhd:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 't': test = 1; break;
		case 'v': printf("sluice %s (%s profile)\n", SLUICE_VERSION, SLUICE_PROFILE); return 0;
		case 'h': usage(stdout); return 0;
		case 'D': dev = 1; break;
		case 'H': http = optarg; break;
		case 'd': delay = optarg; break;
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
	if (optind < argc && strcmp(argv[optind], "top") == 0) {
		long ms = parse_delay(delay ? delay : "1");

		return ms < 0 ? 2 : ask_pool(file, NULL, ms);
	}
	if (delay) {
		fprintf(stderr, "sluice: -d goes with top\n");
		return 2;
	}
	if (optind < argc && strcmp(argv[optind], "new") == 0) {
		if (optind + 1 >= argc || optind + 3 < argc) {
			usage(stderr);
			return 2;
		}
		return scaffold_new(argv[optind + 1], optind + 2 < argc ? argv[optind + 2] : NULL);
	}
	if (optind < argc && strcmp(argv[optind], "status") == 0)
		return ask_pool(file, optind + 1 < argc ? argv[optind + 1] : "/status", 0);
	if (optind < argc) {
		fprintf(stderr, "sluice: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_set_ident("master");
	fcgid = !dev && !test && started_by_fcgid();
	config_check_listeners(!fcgid);
	gen = master_load(file, NULL, err, sizeof(err));
	if (!gen) {
		fprintf(stderr, "sluice: %s\n", err);
		return 1;
	}
	if (gen->cfg.nlisten == 0 && !fcgid) {
		fprintf(stderr, "sluice: %s: listen is missing: say where to accept connections, "
			"e.g. listen = \"/run/sluice/sluice.sock\"; (only under mod_fcgid, which "
			"hands sluice its socket, may it be left out)\n", file);
		return 1;
	}
	/* Everything that could be checked was: -t stops before the first
	 * file is created. */
	if (test) {
		printf("sluice: configuration file %s test is successful\n", file);
		return 0;
	}
	if (log_open(gen->cfg.error_log, gen->cfg.log_level) < 0) {
		fprintf(stderr, "sluice: error_log %s: cannot open: %m\n", gen->cfg.error_log);
		return 1;
	}
	if (access_open(&gen->cfg) < 0) {
		fprintf(stderr, "sluice: access_log %s: cannot open: %m\n", gen->cfg.access_log);
		return 1;
	}
	if (fcgid)
		return serve_fcgid(gen);
	if (gen->cfg.pid_file && pidfile_claim(gen->cfg.pid_file, err, sizeof(err)) < 0)
		return fail(&gen->cfg, err);
	nls = listen_open_all(&gen->cfg, listeners, err, sizeof(err));
	if (nls < 0)
		return refuse(&gen->cfg, err, listeners, 0);
	if (gen->cfg.status.address &&
	    listen_open_one(&gen->cfg.status, &status, err, sizeof(err)) < 0)
		return refuse(&gen->cfg, err, listeners, nls);
	if (dev_master_start(gen, err, sizeof(err)) < 0)
		return refuse(&gen->cfg, err, listeners, nls);
	for (int i = 0; i < nls; i++)
		log_msg(LOG_NOTICE, "listening on %s (%s%s)", listeners[i].address,
			listeners[i].proto->name,
			listeners[i].from_systemd ? ", socket from systemd" : "");
	log_msg(LOG_NOTICE, "sluice %s (%s profile%s) with up to %d workers (pm %s)",
		SLUICE_VERSION, SLUICE_PROFILE, dev ? ", development mode" : "",
		gen->cfg.pm.max_children,
		gen->cfg.pm.mode == PM_STATIC ? "static" :
		gen->cfg.pm.mode == PM_DYNAMIC ? "dynamic" : "ondemand");
	rc = master_run(gen, listeners, nls, gen->cfg.status.address ? &status : NULL);
	pidfile_release();
	return rc;
}
