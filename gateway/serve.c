/*
 * serve.c - sl_serve (sluice_serve.h): the command line and start-up, in
 * order, for the sluice binary and for every program that is its own
 * sluice.  main.c is a caller like any other, so there is one way in.
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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "dev/dev.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "pidfile.h"
#include "pools.h"
#include "proctitle.h"
#include "proto.h"
#include "scoreboard.h"
#include "sluice_serve.h"
#include "status.h"
#include "top.h"
#include "worker.h"

/*
 * The build profile as an ELF note (owner "sluice", type 1), so that a
 * tool can tell a production binary from a development one without
 * running it: `readelf -n sluice`.  It lives here, beside sl_serve, so
 * that every program linking libsluice carries its library's profile.
 */
static const struct {
	unsigned namesz, descsz, type;
	char name[8];
	char desc[8];
} profile_note __attribute__((used, section(".note.sluice.profile"), aligned(4))) = {
	/* descsz covers the whole padded field, so the note is exactly its size. */
	sizeof("sluice"), 8, 1, "sluice", SLUICE_PROFILE,
};

/* What the command line asked for. */
struct cmdline {
	const char *file;	/* the config file, NULL: the in-code settings alone */
	const char *http;	/* --http ADDR */
	const char *delay;	/* -d SECS */
	const char *verb;	/* "status", "top", or NULL: serve */
	const char *target;	/* status's URL */
	const char *pool;	/* --pool NAME: the pool status and top ask */
	int dev;
	int test;
};

/*
 * `plain`: the sluice binary, which also has `new`.  `file`: the config
 * read without -c, NULL: none (the in-code settings).
 */
static void usage(FILE *f, const char *prog, int plain, const char *file)
{
	fprintf(f,
		"usage: %s [-t] [-c FILE]\n"
		"       %s status [-c FILE] [/status?json | /metrics | /ping | /ready]\n"
		"       %s top [-c FILE] [-d SECONDS]\n"
		"  (with several pools, status and top take --pool NAME)\n"
		"%s"
		"  -c, --config FILE  configuration file (default %s)\n"
		"  -t, --test         check the configuration and the modules, then exit\n"
		"  -d, --delay SECS   with top: seconds between refreshes (default 1)\n"
		"      --dev          development mode (dev builds only)\n"
		"      --http ADDR    with --dev: also serve HTTP on a loopback ADDR\n"
		"  -v, --version      print the version and the build profile\n"
		"  -h, --help         this text\n", prog, prog, prog,
		plain ? "       sluice new NAME [DIR]  write a new module NAME, its test and "
			"Makefile\n"
			"       sluice audit [-c FILE] [--json] [--unit FILE] [--pid PID]  the "
			"deployment\n                     checklist (sluice audit --help)\n" : "",
		file ? file : "none: the settings built into the program");
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
static int ask_pool(const char *file, const char *pool, const char *target,
		    long interval_ms)
{
	static struct sl_config cfg;
	char err[1024], names[MAX_POOLS * (POOL_NAME_MAX + 2)];
	int rc;

	if (config_load_pool(file, pool, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice: %s\n", err);
		return 1;
	}
	if (cfg.pools.n && !pool) {
		config_pool_names(&cfg.pools, names, sizeof(names));
		fprintf(stderr, "sluice: %s has several pools (%s): say which with --pool NAME\n",
			file, names);
		config_free(&cfg);
		return 2;
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

/*
 * Read the options into `cl`.  Returns -1 to go on, or the exit status
 * when the command line is answered (-v, -h) or wrong.
 */
static int parse_options(int argc, char **argv, int plain, struct cmdline *cl)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "dev", no_argument, NULL, 'D' },
		{ "http", required_argument, NULL, 'H' },
		{ "delay", required_argument, NULL, 'd' },
		{ "pool", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int opt;

	while ((opt = getopt_long(argc, argv, "c:tvhd:p:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': cl->file = optarg; break;
		case 't': cl->test = 1; break;
		case 'v': printf("sluice %s (%s profile)\n", SLUICE_VERSION, SLUICE_PROFILE); return 0;
		case 'h': usage(stdout, prog, plain, cl->file); return 0;
		case 'D': cl->dev = 1; break;
		case 'H': cl->http = optarg; break;
		case 'd': cl->delay = optarg; break;
		case 'p': cl->pool = optarg; break;
		default: usage(stderr, prog, plain, cl->file); return 2;
		}
	}
	if (optind < argc && (strcmp(argv[optind], "status") == 0 ||
			      strcmp(argv[optind], "top") == 0)) {
		cl->verb = argv[optind++];
		if (cl->verb[0] == 's')
			cl->target = optind < argc ? argv[optind++] : "/status";
	}
	if (optind < argc) {
		fprintf(stderr, "sluice: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr, prog, plain, cl->file);
		return 2;
	}
	return -1;
}

/* Check the options against each other; -1 to go on, else the exit status. */
static int check_options(struct cmdline *cl)
{
	char err[1024];

	if (cl->http && !cl->dev) {
		fprintf(stderr, "sluice: --http goes with --dev\n");
		return 2;
	}
	if (cl->dev && dev_enable(cl->http, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice: --dev: %s\n", err);
		return 2;
	}
	if (cl->delay && (!cl->verb || strcmp(cl->verb, "top") != 0)) {
		fprintf(stderr, "sluice: -d goes with top\n");
		return 2;
	}
	if (cl->pool && !cl->verb) {
		fprintf(stderr, "sluice: --pool goes with status or top\n");
		return 2;
	}
	return -1;
}

/*
 * What the program gives in code, set before the first config is read:
 * `app` is named after the executable it is built into, found through
 * /proc (argv[0] may be a bare name found in $PATH).
 */
static void set_builtin(const struct sl_module *app, const char *argv0,
			const struct sl_serve_opts *opts)
{
	static char exe[PATH_MAX];
	struct config_builtin b = { 0 };
	ssize_t n;

	if (opts) {
		b.listen = opts->listen;
		b.workers = opts->workers;
	}
	if (app) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		snprintf(exe + (n > 0 ? n : 0), sizeof(exe) - (size_t)(n > 0 ? n : 0), "%s",
			 n > 0 ? "" : argv0);
		b.module = exe;
	}
	config_set_builtin(&b);
	module_set_builtin(app);
}

/* The pool's first log lines: what it listens on and how it runs. */
static void announce(const struct generation *gen, const struct listener *ls, int nls,
		     int dev)
{
	for (int i = 0; i < nls; i++)
		log_msg(LOG_NOTICE, "listening on %s (%s%s)", ls[i].address, ls[i].proto->name,
			!ls[i].from_systemd ? "" : listen_passed_by_master()
			? ", socket from the master" : ", socket from systemd");
	log_msg(LOG_NOTICE, "sluice %s (%s profile%s) with up to %d workers (pm %s)",
		SLUICE_VERSION, SLUICE_PROFILE, dev ? ", development mode" : "",
		gen->cfg.pm.max_children,
		gen->cfg.pm.mode == PM_STATIC ? "static" :
		gen->cfg.pm.mode == PM_DYNAMIC ? "dynamic" : "ondemand");
}

/* The config is loaded and checked: open what it names and run the pool. */
static int run_pool(struct generation *gen, int fcgid, int dev)
{
	/* Static: they live as long as the process (leak checkers agree). */
	static struct listener listeners[MAX_LISTEN], status;
	char err[1024];
	int nls, rc;

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
	/* In a pool of several, the pid file is the master of pools'. */
	if (gen->cfg.pid_file && !gen->cfg.pool &&
	    pidfile_claim(gen->cfg.pid_file, err, sizeof(err)) < 0)
		return fail(&gen->cfg, err);
	nls = listen_open_all(&gen->cfg, listeners, err, sizeof(err));
	if (nls < 0)
		return refuse(&gen->cfg, err, listeners, 0);
	if (gen->cfg.status.address &&
	    listen_open_one(&gen->cfg.status, &status, err, sizeof(err)) < 0)
		return refuse(&gen->cfg, err, listeners, nls);
	if (dev_master_start(gen, err, sizeof(err)) < 0)
		return refuse(&gen->cfg, err, listeners, nls);
	announce(gen, listeners, nls, dev);
	rc = master_run(gen, listeners, nls, gen->cfg.status.address ? &status : NULL);
	pidfile_release();
	return rc;
}

/*
 * A pool's own master, in a child of the master of pools (pools.h): its
 * keys are the pool's, its sockets handed over, its log lines named.
 */
static int serve_one_pool(const char *file, const char *pool)
{
	/* Static: it lives as long as the process (leak checkers agree). */
	static struct generation *gen;
	char err[1024], ident[POOL_NAME_MAX + 8];

	snprintf(ident, sizeof(ident), "%s master", pool);
	log_set_ident(ident);
	config_select_pool(pool);
	gen = master_load(file, NULL, err, sizeof(err));
	if (!gen) {
		log_msg(LOG_ERROR, "cannot start: %s", err);
		fprintf(stderr, "sluice: pool %s: %s\n", pool, err);
		return 1;
	}
	return run_pool(gen, 0, 0);
}

/*
 * A file with pools: -t checks each pool (modules too), and a start binds
 * every pool's sockets and runs a master for each (pools.c).
 */
static int start_pools(const struct cmdline *cl, struct sl_config *top, int fcgid)
{
	char err[1024];
	int rc;

	if (fcgid || cl->dev) {
		fprintf(stderr, "sluice: %s has pools: %s runs one pool; give it a config "
			"without pools\n", top->file, fcgid ? "under mod_fcgid, sluice"
			: "development mode (--dev)");
		return 1;
	}
	if (pools_check(top, cl->test, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice: %s\n", err);
		return 1;
	}
	if (cl->test) {
		printf("sluice: configuration file %s test is successful (%d pools)\n",
		       top->file, top->pools.n);
		return 0;
	}
	if (log_open(top->error_log, top->log_level) < 0) {
		fprintf(stderr, "sluice: error_log %s: cannot open: %m\n", top->error_log);
		return 1;
	}
	if (top->pid_file && pidfile_claim(top->pid_file, err, sizeof(err)) < 0)
		return fail(top, err);
	log_msg(LOG_NOTICE, "sluice %s (%s profile) with %d pools from %s", SLUICE_VERSION,
		SLUICE_PROFILE, top->pools.n, top->file);
	rc = pools_run(top, serve_one_pool);
	pidfile_release();
	return rc;
}

/* Load the config and the modules, then -t's answer or the pool. */
static int start(const struct cmdline *cl)
{
	/* Static: they live as long as the process (leak checkers agree). */
	static struct generation *gen;
	static struct sl_config top;
	const char *name = cl->file ? cl->file : CONFIG_IN_CODE;
	char err[1024];
	int fcgid;

	log_set_ident("master");
	fcgid = !cl->dev && !cl->test && started_by_fcgid();
	config_check_listeners(!fcgid);
	/* The top level first: whether the file has pools. */
	if (config_load(cl->file, &top, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice: %s\n", err);
		return 1;
	}
	if (top.pools.n)
		return start_pools(cl, &top, fcgid);
	config_free(&top);
	gen = master_load(cl->file, NULL, err, sizeof(err));
	if (!gen) {
		fprintf(stderr, "sluice: %s\n", err);
		return 1;
	}
	if (gen->cfg.nlisten == 0 && !fcgid) {
		fprintf(stderr, "sluice: %s: listen is missing: say where to accept connections, "
			"e.g. listen = \"/run/sluice/sluice.sock\"; (only under mod_fcgid, which "
			"hands sluice its socket, may it be left out)\n", name);
		return 1;
	}
	if (fcgid && gen->cfg.program.path) {
		fprintf(stderr, "sluice: %s: program is set, but mod_fcgid started sluice as "
			"its application: let mod_fcgid start %s itself, or run sluice on its "
			"own listen to supervise it\n", name, gen->cfg.program.path);
		return 1;
	}
	/* Everything that could be checked was: -t stops before the first
	 * file is created. */
	if (cl->test) {
		printf(cl->file ? "sluice: configuration file %s test is successful\n"
			: "sluice: %s test is successful\n", name);
		return 0;
	}
	return run_pool(gen, fcgid, cl->dev);
}

int sl_serve(const struct sl_module *app, int argc, char **argv,
	     const struct sl_serve_opts *opts)
{
	struct cmdline cl = { .file = opts ? opts->config : NULL };
	long ms;
	int rc;

	proctitle_init(argc, &argv);
	rc = parse_options(argc, argv, !app, &cl);
	if (rc < 0)
		rc = check_options(&cl);
	if (rc >= 0)
		return rc;
	set_builtin(app, argv[0], opts);
	if (!cl.file && !app) {
		fprintf(stderr, "sluice: no config file: give one with -c FILE\n");
		return 2;
	}
	if (cl.verb && strcmp(cl.verb, "top") == 0) {
		ms = parse_delay(cl.delay ? cl.delay : "1");
		return ms < 0 ? 2 : ask_pool(cl.file, cl.pool, NULL, ms);
	}
	if (cl.verb)
		return ask_pool(cl.file, cl.pool, cl.target, 0);
	return start(&cl);
}
