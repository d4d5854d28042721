/*
 * test_config.c - the config file: the shipped example, every default,
 * every address form, size and duration syntax, path resolution, the
 * pool's rules between keys (php-fpm's), the request watchdog's keys,
 * and the one-line "FILE:LINE: what is wrong" of every error.
 *
 * Each test writes its config into a private mkdtemp folder and loads it
 * from there, so relative paths resolve against that folder.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "config.h"
#include "harness.h"

/* The smallest valid config: the two required keys. */
#define LISTEN	"listen = \"/run/t.sock\";\n"
#define MODULES	"modules = ( { path = \"/m.so\"; } );\n"
#define MINIMAL	LISTEN MODULES

static char dir[64];		/* this test's folder, as realpath gives it */
static char conf[128];		/* dir/sluice.conf */
static struct sl_config cfg;
static char err[512];

static void setup(void)
{
	cr_assert_eq(harness_make_real_dir(dir, sizeof(dir)), 0);
	snprintf(conf, sizeof(conf), "%s/sluice.conf", dir);
}

static void teardown(void)
{
	config_free(&cfg);
	harness_remove_dir(dir);
}

TestSuite(config, .init = setup, .fini = teardown);

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	cr_assert_not_null(fp, "cannot write %s", path);
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
}

/* Write `text` as dir/sluice.conf and load it into cfg. */
static int load(const char *text)
{
	write_file(conf, text);
	return config_load(conf, &cfg, err, sizeof(err));
}

static void must_load(const char *text)
{
	cr_assert_eq(load(text), 0, "config refused: %s\n--- config:\n%s", err, text);
}

/*
 * Loading `text` must fail with one line that starts with
 * "DIR/sluice.conf:LINE: " (or "DIR/sluice.conf: " when line is 0) and
 * contains `needle`; and must leave cfg empty.
 */
static void must_fail(const char *text, int line, const char *needle)
{
	char prefix[192];

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", conf, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", conf);
	cr_assert_eq(load(text), -1, "config accepted, wanted \"%s\"\n--- config:\n%s",
		     needle, text);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0,
		  "error \"%s\" does not start with \"%s\"", err, prefix);
	cr_assert_not_null(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);
	cr_assert_null(strchr(err, '\n'), "error is more than one line: \"%s\"", err);
	cr_assert_null(cfg.file, "a failed load left strings behind");
	cr_assert_null(cfg.listen[0].address);
	cr_assert_eq(cfg.nmodules, 0);
}

/* A config made of MINIMAL with `fmt` appended (keys that are not set there). */
static const char *with(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *with(const char *fmt, ...)
{
	static char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	return buf;
}

/* ---- The shipped example --------------------------------------------- */

Test(config, example_loads)
{
	cr_assert_eq(config_load("conf/sluice.conf", &cfg, err, sizeof(err)), 0,
		     "conf/sluice.conf: %s", err);
	cr_assert_str_eq(cfg.file, "conf/sluice.conf");
	cr_assert_str_eq(cfg.error_log, "/var/log/sluice/error.log");
	cr_assert_eq(cfg.log_level, LOG_NOTICE);
	/* Started by sluice.service as the user sluice: nothing to switch
	 * to or give away, which only root could do. */
	cr_assert_null(cfg.user);
	cr_assert_null(cfg.group);
	cr_assert_str_eq(cfg.listen[0].address, "/run/sluice/sluice.sock");
	cr_assert_eq(cfg.listen[0].mode, 0660);
	cr_assert_null(cfg.listen[0].owner);
	cr_assert_null(cfg.listen[0].group);
	cr_assert_eq(cfg.pm.mode, PM_DYNAMIC);
	cr_assert_eq(cfg.pm.max_children, 8);
	cr_assert_eq(cfg.request_terminate_timeout, 60);
	cr_assert_eq(cfg.request_slowlog_timeout, 0);
	cr_assert_null(cfg.slowlog);
	cr_assert_eq(cfg.emergency_restart_threshold, 10);
	cr_assert_eq(cfg.nmodules, 1);
	cr_assert_str_eq(cfg.modules[0].path, "/usr/local/lib/sluice/hello.so");
	cr_assert_str_eq(cfg.modules[0].mount, "/");
}

/*
 * The example says "every value below is the default" of its limits and
 * of pm but for mode, max_children and the recycling, and shows the default of
 * log_level, backlog, mode and emergency_restart_interval: check that
 * what it documents is what sluice does without it.
 */
Test(config, example_shows_the_real_defaults)
{
	struct sl_config ex;

	cr_assert_eq(config_load("conf/sluice.conf", &ex, err, sizeof(err)), 0, "%s", err);
	must_load(MINIMAL "pm = { mode = \"dynamic\"; max_children = 8; max_requests = 10000;\n"
		  "       max_requests_jitter = 1000; };\n");
	cr_assert_eq(memcmp(&ex.limits, &cfg.limits, sizeof(cfg.limits)), 0,
		     "conf/sluice.conf's limits are not the defaults");
	cr_assert_eq(memcmp(&ex.pm, &cfg.pm, sizeof(cfg.pm)), 0,
		     "conf/sluice.conf's pm is not the defaults for 8 dynamic children");
	cr_assert_eq(ex.log_level, cfg.log_level);
	cr_assert_eq(ex.listen[0].backlog, cfg.listen[0].backlog);
	cr_assert_eq(ex.listen[0].mode, cfg.listen[0].mode);
	cr_assert_eq(ex.listen[0].protocol, cfg.listen[0].protocol);
	cr_assert_eq(ex.emergency_restart_interval, cfg.emergency_restart_interval);
	cr_assert_str_eq(ex.modules[0].mount, cfg.modules[0].mount);
	config_free(&ex);
}

/*
 * The example's "#key = value;" lines are settings left off: with the
 * '#' removed they must load and mean what they say.
 */
Test(config, example_settings_left_off_are_valid)
{
	char line[512], text[16384];
	size_t n = 0, at;
	int off = 0;
	FILE *fp = fopen("conf/sluice.conf", "r");

	cr_assert_not_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		at = strspn(line, " \t");
		if (line[at] == '#' && line[at + 1] >= 'a' && line[at + 1] <= 'z') {
			memmove(line + at, line + at + 1, strlen(line + at));
			off++;
		}
		cr_assert(n + strlen(line) < sizeof(text));
		memcpy(text + n, line, strlen(line) + 1);
		n += strlen(line);
	}
	fclose(fp);
	cr_assert_geq(off, 2, "conf/sluice.conf has fewer settings left off than expected");
	must_load(text);
	cr_assert_eq(cfg.request_slowlog_timeout, 5);
	cr_assert_str_eq(cfg.slowlog, "/var/log/sluice/slow.log");
}

/* ---- Defaults --------------------------------------------------------- */

Test(config, defaults)
{
	must_load(MINIMAL);
	cr_assert_str_eq(cfg.file, conf);
	cr_assert_str_eq(cfg.error_log, "stderr");
	cr_assert_eq(cfg.log_level, LOG_NOTICE);
	cr_assert_null(cfg.user);
	cr_assert_null(cfg.group);
	cr_assert_str_eq(cfg.listen[0].address, "/run/t.sock");
	cr_assert_eq(cfg.listen[0].backlog, DEFAULT_BACKLOG);
	cr_assert_eq(cfg.listen[0].mode, 0660);
	cr_assert_null(cfg.listen[0].owner);
	cr_assert_null(cfg.listen[0].group);
	cr_assert_eq(cfg.pm.mode, PM_STATIC);
	cr_assert_eq(cfg.pm.max_children, DEFAULT_MAX_CHILDREN);
	cr_assert_eq(cfg.pm.max_requests, 0);
	cr_assert_eq(cfg.pm.max_spawn_rate, DEFAULT_MAX_SPAWN_RATE);
	cr_assert_eq(cfg.pm.process_idle_timeout, DEFAULT_PROCESS_IDLE_TIMEOUT);
	cr_assert_eq(cfg.pm.max_requests_jitter, DEFAULT_MAX_REQUESTS_JITTER);
	cr_assert_eq(cfg.pm.min_recycle_interval_ms, DEFAULT_MIN_RECYCLE_INTERVAL_MS);
	cr_assert_eq(cfg.pm.reload_on_rss, 0);
	cr_assert_eq(cfg.request_terminate_timeout, 0);
	cr_assert_eq(cfg.request_slowlog_timeout, 0);
	cr_assert_null(cfg.slowlog);
	cr_assert_eq(cfg.emergency_restart_threshold, 0);
	cr_assert_eq(cfg.emergency_restart_interval, 60);
	cr_assert_eq(cfg.limits.max_params_bytes, DEFAULT_MAX_PARAMS_BYTES);
	cr_assert_eq(cfg.limits.max_params, DEFAULT_MAX_PARAMS);
	cr_assert_eq(cfg.limits.max_header_bytes, DEFAULT_MAX_HEADER_BYTES);
	cr_assert_eq(cfg.limits.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
	cr_assert_eq(cfg.limits.max_request_memory, DEFAULT_MAX_REQUEST_MEMORY);
	cr_assert_eq(cfg.limits.max_conns, DEFAULT_MAX_CONNS);
	cr_assert_eq(cfg.limits.read_timeout, DEFAULT_READ_TIMEOUT);
	cr_assert_eq(cfg.limits.write_timeout, DEFAULT_WRITE_TIMEOUT);
	cr_assert_eq(cfg.limits.idle_timeout, DEFAULT_IDLE_TIMEOUT);
	cr_assert_eq(cfg.limits.shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
	cr_assert_eq(cfg.clear_env, 1);
	cr_assert_eq(cfg.nenv, 0);
	cr_assert_str_eq(cfg.chdir, "/");
	cr_assert_eq(cfg.rlimit_files, CONFIG_RLIMIT_KEEP);
	cr_assert_eq(cfg.rlimit_core, 0);
	cr_assert_null(cfg.pid_file);
	cr_assert_eq(cfg.nmodules, 1);
	cr_assert_str_eq(cfg.modules[0].path, "/m.so");
	cr_assert_str_eq(cfg.modules[0].mount, "/");
}

Test(config, empty_groups_keep_defaults)
{
	must_load(MINIMAL "pm = { };\nlimits = { };\n");
	cr_assert_eq(cfg.pm.max_children, DEFAULT_MAX_CHILDREN);
	cr_assert_eq(cfg.limits.read_timeout, DEFAULT_READ_TIMEOUT);
}

Test(config, every_key_set)
{
	must_load("error_log = \"/var/log/s.log\";\n"
		  "log_level = \"debug\";\n"
		  "user = \"nobody\";\n"
		  "group = \"nogroup\";\n"
		  "listen = { address = \"127.0.0.1:9000\"; backlog = 128; mode = \"0600\";\n"
		  "  owner = \"o\"; group = \"g\"; };\n"
		  "pm = { mode = \"dynamic\"; max_children = 16; max_requests = 1000;\n"
		  "  start_servers = 4; min_spare_servers = 2; max_spare_servers = 6;\n"
		  "  max_spawn_rate = 8; process_idle_timeout = 20; max_requests_jitter = 50;\n"
		  "  min_recycle_interval = \"250ms\"; reload_on_rss = \"256M\"; };\n"
		  "request_terminate_timeout = 30;\n"
		  "request_slowlog_timeout = 5;\n"
		  "slowlog = \"/var/log/slow.log\";\n"
		  "emergency_restart_threshold = 5;\n"
		  "emergency_restart_interval = 120;\n"
		  "limits = { max_params_bytes = 1024; max_params = 64; max_header_bytes = 8192;\n"
		  "  max_body_bytes = 100; max_request_memory = 1048576; max_conns = 10;\n"
		  "  read_timeout = 1; write_timeout = 2; idle_timeout = 3; shutdown_timeout = 4; };\n"
		  MODULES);
	cr_assert_str_eq(cfg.error_log, "/var/log/s.log");
	cr_assert_eq(cfg.log_level, LOG_DEBUG);
	cr_assert_str_eq(cfg.user, "nobody");
	cr_assert_str_eq(cfg.group, "nogroup");
	cr_assert_str_eq(cfg.listen[0].address, "127.0.0.1:9000");
	cr_assert_eq(cfg.listen[0].backlog, 128);
	cr_assert_eq(cfg.listen[0].mode, 0600);
	cr_assert_str_eq(cfg.listen[0].owner, "o");
	cr_assert_str_eq(cfg.listen[0].group, "g");
	cr_assert_eq(cfg.pm.mode, PM_DYNAMIC);
	cr_assert_eq(cfg.pm.max_children, 16);
	cr_assert_eq(cfg.pm.max_requests, 1000);
	cr_assert_eq(cfg.pm.start_servers, 4);
	cr_assert_eq(cfg.pm.min_spare_servers, 2);
	cr_assert_eq(cfg.pm.max_spare_servers, 6);
	cr_assert_eq(cfg.pm.max_spawn_rate, 8);
	cr_assert_eq(cfg.pm.process_idle_timeout, 20);
	cr_assert_eq(cfg.pm.max_requests_jitter, 50);
	cr_assert_eq(cfg.pm.min_recycle_interval_ms, 250);
	cr_assert_eq(cfg.pm.reload_on_rss, 256LL << 20);
	cr_assert_eq(cfg.request_terminate_timeout, 30);
	cr_assert_eq(cfg.request_slowlog_timeout, 5);
	cr_assert_str_eq(cfg.slowlog, "/var/log/slow.log");
	cr_assert_eq(cfg.emergency_restart_threshold, 5);
	cr_assert_eq(cfg.emergency_restart_interval, 120);
	cr_assert_eq(cfg.limits.max_params_bytes, 1024);
	cr_assert_eq(cfg.limits.max_params, 64);
	cr_assert_eq(cfg.limits.max_header_bytes, 8192);
	cr_assert_eq(cfg.limits.max_body_bytes, 100);
	cr_assert_eq(cfg.limits.max_request_memory, 1048576);
	cr_assert_eq(cfg.limits.max_conns, 10);
	cr_assert_eq(cfg.limits.read_timeout, 1);
	cr_assert_eq(cfg.limits.write_timeout, 2);
	cr_assert_eq(cfg.limits.idle_timeout, 3);
	cr_assert_eq(cfg.limits.shutdown_timeout, 4);
}

/* A second load starts from the defaults, not from the first one's values. */
Test(config, loads_are_independent)
{
	must_load("user = \"nobody\";\npm = { max_children = 9; };\n" MINIMAL);
	config_free(&cfg);
	must_load(MINIMAL);
	cr_assert_null(cfg.user);
	cr_assert_eq(cfg.pm.max_children, DEFAULT_MAX_CHILDREN);
}

Test(config, log_levels)
{
	static const char *const names[] = { "error", "warning", "notice", "info", "debug" };

	for (int i = 0; i < 5; i++) {
		must_load(with(MINIMAL "log_level = \"%s\";\n", names[i]));
		cr_assert_eq((int)cfg.log_level, i, "log_level \"%s\"", names[i]);
		config_free(&cfg);
	}
	must_fail(MINIMAL "log_level = \"verbose\";\n", 3,
		  "log_level must be error, warning, notice, info or debug, not \"verbose\"");
}

Test(config, error_log_paths)
{
	must_load(MINIMAL "error_log = \"logs/error.log\";\n");
	cr_assert_str_eq(cfg.error_log, with("%s/logs/error.log", dir));
	config_free(&cfg);
	must_load(MINIMAL "error_log = \"/var/log/e.log\";\n");
	cr_assert_str_eq(cfg.error_log, "/var/log/e.log");
	config_free(&cfg);
	must_load(MINIMAL "error_log = \"stderr\";\n");
	cr_assert_str_eq(cfg.error_log, "stderr");
	config_free(&cfg);
	must_fail(MINIMAL "error_log = \"\";\n", 3, "error_log must not be empty");
}

/* ---- listen ----------------------------------------------------------- */

/* php-fpm's allowed_clients: TCP only, addresses only, each wrong entry named. */
Test(config, listen_allowed_clients)
{
	must_load("listen = { address = \"0.0.0.0:9000\"; allowed_clients = \"127.0.0.1, ::1\"; };\n"
		  MODULES);
	cr_assert_eq(cfg.listen[0].allowed.n, 2);
	cr_assert_eq(cfg.listen[0].allowed.addr[1].family, AF_INET6);
	config_free(&cfg);
	must_load("listen = \"0.0.0.0:9000\";\n" MODULES);
	cr_assert_eq(cfg.listen[0].allowed.n, 0);
	config_free(&cfg);
	must_fail("listen = { address = \"0.0.0.0:9000\";\n allowed_clients = \"10.0.0.300\"; };\n"
		  MODULES, 2, "listen.allowed_clients \"10.0.0.300\" is not an IPv4 or IPv6 address");
	must_fail("listen = ( \"/a.sock\", { address = \"0.0.0.0:9000\";\n"
		  " allowed_clients = \"127.0.0.1,,::1\"; } );\n" MODULES, 2,
		  "listen[1].allowed_clients an empty entry");
	must_fail("listen = { address = \"/a.sock\";\n allowed_clients = \"127.0.0.1\"; };\n"
		  MODULES, 2, "listen.allowed_clients applies to TCP listeners; /a.sock is a unix socket");
	must_fail("listen = { address = \"0.0.0.0:9000\"; allowed_clients = [\"127.0.0.1\"]; };\n"
		  MODULES, 1, "listen.allowed_clients must be a string of addresses");
}

/* The seccomp keys: a boolean, and names libseccomp knows, each wrong one at its line. */
Test(config, seccomp_keys)
{
	must_load(MINIMAL "seccomp = true;\nseccomp_allow = [ \"ptrace\", \"mount\" ];\n");
	cr_assert_eq(cfg.seccomp, 1);
	cr_assert_eq(cfg.nseccomp_allow, 2);
	cr_assert_str_eq(cfg.seccomp_allow[1], "mount");
	config_free(&cfg);
	must_load(MINIMAL);
	cr_assert_eq(cfg.seccomp, 0);
	config_free(&cfg);
	must_fail(MINIMAL "seccomp = \"on\";\n", 3, "seccomp must be true or false");
	must_fail(MINIMAL "seccomp = true;\nseccomp_allow = [ \"ptrace\",\n \"pttrace\" ];\n", 5,
		  "seccomp_allow: \"pttrace\" is not a system call on this machine");
	must_fail(MINIMAL "seccomp_allow = [ \"ptrace\" ];\n", 3,
		  "seccomp_allow without seccomp = true");
	must_fail(MINIMAL "seccomp = true; seccomp_allow = \"ptrace\";\n", 3,
		  "seccomp_allow must be a list of system call names");
}

Test(config, listen_shorthand)
{
	must_load("listen = \"127.0.0.1:9000\";\n" MODULES);
	cr_assert_str_eq(cfg.listen[0].address, "127.0.0.1:9000");
	cr_assert_eq(cfg.listen[0].backlog, DEFAULT_BACKLOG);
	cr_assert_eq(cfg.listen[0].mode, 0660);
}

Test(config, address_forms)
{
	/* `in_dir`: the address is `want` below the config's folder. */
	static const struct { const char *given, *want; int in_dir; } forms[] = {
		{ "/run/sluice/s.sock", "/run/sluice/s.sock", 0 },
		{ "unix:/run/sluice/s.sock", "/run/sluice/s.sock", 0 },
		{ "unix:s.sock", "s.sock", 1 },
		{ "./run/s.sock", "./run/s.sock", 1 },
		{ "../s.sock", "../s.sock", 1 },
		{ "127.0.0.1:9000", "127.0.0.1:9000", 0 },
		{ "0.0.0.0:1", "0.0.0.0:1", 0 },
		{ "localhost:65535", "localhost:65535", 0 },
		{ "[::1]:9000", "[::1]:9000", 0 },
		{ "[::]:9000", "[::]:9000", 0 },
	};
	char want[256];

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		must_load(with(MODULES "listen = { address = \"%s\"; };\n", forms[i].given));
		snprintf(want, sizeof(want), "%s%s%s", forms[i].in_dir ? dir : "",
			 forms[i].in_dir ? "/" : "", forms[i].want);
		cr_assert_str_eq(cfg.listen[0].address, want, "address \"%s\"", forms[i].given);
		config_free(&cfg);
	}
}

Test(config, bad_addresses)
{
	static const struct { const char *given, *needle; } bad[] = {
		{ "*:9000", "listen.address: an explicit host is needed" },
		{ ":9000", "listen.address: a host is needed before the port" },
		{ "127.0.0.1:0", "port must be a number between 1 and 65535, not \"127.0.0.1:0\"" },
		{ "127.0.0.1:65536", "port must be a number between 1 and 65535" },
		{ "127.0.0.1:123456", "port must be a number between 1 and 65535" },
		{ "127.0.0.1:90x0", "port must be a number between 1 and 65535, not \"127.0.0.1:90x0\"" },
		{ "127.0.0.1:", "port must be a number between 1 and 65535" },
		{ "127.0.0.1:+90", "port must be a number" },
		{ "::1:9000", "an IPv6 address is written in brackets" },
		{ "[::1]9000", "an IPv6 address is written [address]:port" },
		{ "[::1", "an IPv6 address is written [address]:port" },
		{ "unix:", "\"unix:\" needs a socket path" },
		{ "10.0.0.300:39001", "\"10.0.0.300\" is not a valid IPv4 address" },
		{ "127.1:9000", "\"127.1\" is not a valid IPv4 address" },
		{ "0x7f000001:9000", "not a valid IPv4 address" },
		{ "[::1::2]:9000", "\"::1::2\" is not a valid IPv6 address" },
		{ "[127.0.0.1]:9000", "not a valid IPv6 address" },
		{ "bad_host!:9000", "\"bad_host!\" is not a valid host name" },
		{ "", "listen.address must not be empty" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_fail(with(MODULES "listen = {\n address = \"%s\";\n};\n", bad[i].given),
			  3, bad[i].needle);
}

/*
 * A bare name is neither a socket path nor host:port: the error names
 * both spellings, so that a forgotten port is not a socket file in the
 * config's folder.
 */
Test(config, bare_names_are_refused)
{
	static const char *const bare[] = { "127.0.0.1", "localhost", "sluice.sock" };

	for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		must_fail(with(MODULES "listen = \"%s\";\n", bare[i]), 2,
			  "is neither a unix socket path nor host:port");
		cr_assert_not_null(strstr(err, with("\"%s:PORT\"", bare[i])), "%s", err);
		cr_assert_not_null(strstr(err, with("\"unix:%s\"", bare[i])), "%s", err);
	}
	must_fail(MODULES "status = {\n listen = \"status.sock\";\n};\n", 3,
		  "status.listen: \"status.sock\" is neither");
}

Test(config, unix_path_length)
{
	char path[200];

	/* 107 bytes is what sun_path holds with its NUL. */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	must_load(with(MODULES "listen = \"%s\";\n", path));
	cr_assert_eq(strlen(cfg.listen[0].address), 107);
	config_free(&cfg);

	path[107] = 'a';
	path[108] = '\0';
	must_fail(with(MODULES "listen = \"%s\";\n", path), 2,
		  "listen: the socket path /aaa");
	cr_assert_not_null(strstr(err, "is 108 bytes long"), "%s", err);

	/* A relative path counts once resolved. */
	memset(path, 'b', 100);
	path[100] = '\0';
	must_fail(with(MODULES "listen = \"unix:%s\";\n", path), 2, "at most 107");
}

Test(config, listen_missing_or_wrong)
{
	/* No listen at all loads (mod_fcgid hands sluice its socket);
	 * main.c refuses it otherwise: see startup::no_listen_is_refused. */
	cr_assert_eq(load(MODULES), 0, "%s", err);
	cr_assert_eq(cfg.nlisten, 0);
	config_free(&cfg);
	must_fail(MODULES "\nlisten = 9000;\n", 3,
		  "listen must be an address string or a group, not an integer");
	must_fail(MODULES "listen = {\n  backlog = 10;\n};\n", 2, "listen.address is missing");
	must_fail(MODULES "listen = { address = 5; };\n", 2,
		  "listen.address must be a string, not an integer");
}

Test(config, listen_mode)
{
	static const struct { const char *given; int want; } ok[] = {
		{ "\"0660\"", 0660 }, { "\"0600\"", 0600 }, { "\"660\"", 0660 },
		{ "\"0777\"", 0777 }, { "\"0\"", 0 },
		{ "0660", 0660 }, { "400", 0400 }, { "0x1b0", 0660 }, { "0x1FF", 0777 },
	};
	static const char *const bad[] = {
		"\"0869\"", "\"01777\"", "\"rw-rw----\"", "\"\"", "\"-660\"", "888", "1000",
		"-1", "0x200",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		must_load(with(MODULES "listen = { address = \"/s\"; mode = %s; };\n",
			       ok[i].given));
		cr_assert_eq(cfg.listen[0].mode, (mode_t)ok[i].want, "mode = %s gave %o",
			     ok[i].given, cfg.listen[0].mode);
		config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_fail(with(MODULES "listen = {\n address = \"/s\";\n mode = %s;\n};\n",
			       bad[i]), 4, "listen.mode must be permission bits in octal");
	must_fail(MODULES "listen = {\n address = \"/s\";\n mode = 1.5;\n};\n", 4,
		  "listen.mode must be an integer, not a fraction");
}

Test(config, listen_backlog_owner_group)
{
	must_fail(MODULES "listen = {\n address = \"/s\";\n backlog = 0;\n};\n", 4,
		  "listen.backlog must be between 1 and 65535, not 0");
	must_fail(MODULES "listen = {\n address = \"/s\";\n backlog = 65536;\n};\n", 4,
		  "listen.backlog must be between 1 and 65535, not 65536");
	must_fail(MODULES "listen = {\n address = \"/s\";\n owner = \"\";\n};\n", 4,
		  "listen.owner must not be empty");
	must_fail(MODULES "listen = {\n address = \"/s\";\n group = 33;\n};\n", 4,
		  "listen.group must be a string, not an integer");
}

/* ---- Several listeners ------------------------------------------------- */

Test(config, listen_list_of_strings_and_groups)
{
	char want[192];

	must_load(MODULES
		  "listen = (\n"
		  "  \"unix:a.sock\",\n"
		  "  { address = \"/run/b.sock\"; protocol = \"uwsgi\"; mode = \"0600\"; },\n"
		  "  { address = \"127.0.0.1:9000\"; protocol = \"fastcgi\"; backlog = 64; },\n"
		  "  \"unix:/run/d.sock\",\n"
		  "  { address = \"[::1]:9001\"; owner = \"o\"; }\n"
		  ");\n");
	cr_assert_eq(cfg.nlisten, 5);
	snprintf(want, sizeof(want), "%s/a.sock", dir);
	cr_assert_str_eq(cfg.listen[0].address, want);
	cr_assert_eq(cfg.listen[0].protocol, LISTEN_FASTCGI);
	cr_assert_eq(cfg.listen[0].mode, 0660);
	cr_assert_eq(cfg.listen[0].backlog, DEFAULT_BACKLOG);
	cr_assert_str_eq(cfg.listen[1].address, "/run/b.sock");
	cr_assert_eq(cfg.listen[1].protocol, LISTEN_UWSGI);
	cr_assert_eq(cfg.listen[1].mode, 0600);
	cr_assert_eq(cfg.listen[1].backlog, DEFAULT_BACKLOG);
	cr_assert_str_eq(cfg.listen[2].address, "127.0.0.1:9000");
	cr_assert_eq(cfg.listen[2].protocol, LISTEN_FASTCGI);
	cr_assert_eq(cfg.listen[2].backlog, 64);
	cr_assert_eq(cfg.listen[2].mode, 0660);
	cr_assert_str_eq(cfg.listen[3].address, "/run/d.sock");
	cr_assert_eq(cfg.listen[3].protocol, LISTEN_FASTCGI);
	cr_assert_str_eq(cfg.listen[4].address, "[::1]:9001");
	cr_assert_eq(cfg.listen[4].protocol, LISTEN_FASTCGI);
	cr_assert_str_eq(cfg.listen[4].owner, "o");
	cr_assert_null(cfg.listen[4].group);
	/* Settings of one listener do not leak into the next. */
	cr_assert_null(cfg.listen[0].owner);
	cr_assert_null(cfg.listen[1].owner);
}

Test(config, listen_protocols)
{
	static const struct {
		const char *listen;
		enum listen_protocol want;
	} cases[] = {
		{ "\"/s\"", LISTEN_FASTCGI },
		{ "{ address = \"/s\"; }", LISTEN_FASTCGI },
		{ "{ address = \"/s\"; protocol = \"fastcgi\"; }", LISTEN_FASTCGI },
		{ "{ address = \"/s\"; protocol = \"uwsgi\"; }", LISTEN_UWSGI },
		{ "( { address = \"/s\"; protocol = \"uwsgi\"; } )", LISTEN_UWSGI },
		{ "( \"/s\" )", LISTEN_FASTCGI },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		must_load(with(MODULES "listen = %s;\n", cases[i].listen));
		cr_assert_eq(cfg.nlisten, 1, "listen = %s", cases[i].listen);
		cr_assert_eq(cfg.listen[0].protocol, cases[i].want, "listen = %s",
			     cases[i].listen);
		cr_assert_str_eq(cfg.listen[0].address, "/s");
		config_free(&cfg);
	}
}

Test(config, listen_bad_protocol)
{
	must_fail(MODULES
		  "listen = (\n"
		  "  \"/a.sock\",\n"
		  "  { address = \"/b.sock\";\n"
		  "    protocol = \"uwsgi2\"; }\n"
		  ");\n", 5,
		  "listen[1].protocol must be \"fastcgi\" or \"uwsgi\", not \"uwsgi2\"");
	must_fail(MODULES "listen = {\n address = \"/s\";\n protocol = \"http\";\n};\n", 4,
		  "listen.protocol must be \"fastcgi\" or \"uwsgi\", not \"http\"");
	must_fail(MODULES "listen = (\n  { address = \"/s\";\n    protocol = 1; }\n);\n", 4,
		  "listen[0].protocol must be a string, not an integer");
	must_fail(MODULES "listen = (\n  { address = \"/s\";\n    protocol = \"\"; }\n);\n", 4,
		  "listen[0].protocol must not be empty");
}

Test(config, listen_duplicate_addresses)
{
	must_fail(MODULES "listen = (\n  \"/a.sock\",\n  \"/a.sock\",\n  \"/b.sock\"\n);\n", 4,
		  "listen[1]: /a.sock is already a listen address");
	/* The same socket however it is written, whatever the protocol. */
	must_fail(MODULES
		  "listen = (\n"
		  "  \"/a.sock\",\n"
		  "  { address = \"unix:/a.sock\"; protocol = \"uwsgi\"; }\n"
		  ");\n", 4,
		  "listen[1].address: /a.sock is already a listen address");
	must_fail(with(MODULES "listen = (\n  \"unix:a.sock\",\n  \"%s/a.sock\",\n  \"/b\"\n);\n",
		       dir), 4,
		  "is already a listen address");
	must_fail(MODULES
		  "listen = (\n"
		  "  \"127.0.0.1:9000\",\n"
		  "  \"/b.sock\",\n"
		  "  { address = \"127.0.0.1:9000\"; protocol = \"uwsgi\"; }\n"
		  ");\n", 5,
		  "listen[2].address: 127.0.0.1:9000 is already a listen address");
}

Test(config, listen_empty_list)
{
	must_fail(MODULES "\nlisten = ( );\n", 3,
		  "listen is an empty list: give at least one address");
}

/* A config with a listen list of `n` groups, protocols alternating. */
static const char *listen_list(int n)
{
	static char text[4096];
	size_t len = (size_t)snprintf(text, sizeof(text), MODULES "listen = (\n");

	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"  { address = \"/s%d\"; protocol = \"%s\"; }%s\n",
					i, i % 2 ? "uwsgi" : "fastcgi", i + 1 < n ? "," : "");
	snprintf(text + len, sizeof(text) - len, ");\n");
	return text;
}

Test(config, listen_count)
{
	must_load(listen_list(MAX_LISTEN));
	cr_assert_eq(cfg.nlisten, MAX_LISTEN);
	cr_assert_str_eq(cfg.listen[MAX_LISTEN - 1].address, "/s7");
	cr_assert_eq(cfg.listen[MAX_LISTEN - 1].protocol, LISTEN_UWSGI);
	config_free(&cfg);
	must_fail(listen_list(MAX_LISTEN + 1), 2, "listen has 9 addresses; at most 8 are served");
}

/* Inside a list, every message names the listener by its index. */
Test(config, listen_list_errors_name_the_entry)
{
	must_fail(MODULES "listen = (\n  \"/a\",\n  { address = \"/b\";\n    adress = \"/c\"; }\n);\n",
		  5, "unknown key \"listen[1].adress\" (did you mean \"listen[1].address\"?)");
	must_fail(MODULES "listen = (\n  \"/a\",\n  { backlog = 10; }\n);\n", 4,
		  "listen[1].address is missing");
	must_fail(MODULES "listen = (\n  \"/a\",\n  \"/b\",\n  { address = \"/c\";\n"
		  "    backlog = 0; }\n);\n", 6,
		  "listen[2].backlog must be between 1 and 65535, not 0");
	must_fail(MODULES "listen = (\n  { address = \"/c\";\n    mode = \"0999\"; }\n);\n", 4,
		  "listen[0].mode must be permission bits in octal");
	must_fail(MODULES "listen = (\n  { address = \"/c\";\n    owner = \"\"; }\n);\n", 4,
		  "listen[0].owner must not be empty");
	must_fail(MODULES "listen = (\n  \"/a\",\n  9000,\n  \"/b\"\n);\n", 4,
		  "listen[1] must be an address string or a group, not an integer");
	must_fail(MODULES "listen = (\n  \"/a\",\n  ( \"/b\" )\n);\n", 4,
		  "listen[1] must be an address string or a group, not a list");
	must_fail(MODULES "listen = (\n  \"*:9000\",\n  \"/b\"\n);\n", 3,
		  "listen[0]: ");
	must_fail(MODULES "listen = (\n  \"/a\",\n  { address = \"\"; }\n);\n", 4,
		  "listen[1].address must not be empty");
}

/*
 * conf/sluice.conf shows a second, uwsgi listener in a comment ("#\t"
 * lines from "listen = (" to ");"): with the comment marks removed it
 * must load and mean what it says.
 */
Test(config, example_uwsgi_listener_loads)
{
	char line[512], text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), MODULES);
	int in = 0, done = 0;
	FILE *fp = fopen("conf/sluice.conf", "r");

	cr_assert_not_null(fp);
	while (!done && fgets(line, sizeof(line), fp)) {
		if (strncmp(line, "#\tlisten = (", 12) == 0)
			in = 1;
		if (!in)
			continue;
		cr_assert_eq(strncmp(line, "#\t", 2), 0, "the example is cut: %s", line);
		done = strncmp(line, "#\t);", 4) == 0;
		cr_assert_lt(n + strlen(line), sizeof(text));
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", line + 2);
	}
	fclose(fp);
	cr_assert(done, "conf/sluice.conf has no commented `listen = ( ... );` example");
	must_load(text);
	cr_assert_eq(cfg.nlisten, 2);
	cr_assert_str_eq(cfg.listen[0].address, "/run/sluice/sluice.sock");
	cr_assert_eq(cfg.listen[0].protocol, LISTEN_FASTCGI);
	cr_assert_str_eq(cfg.listen[1].address, "/run/sluice/uwsgi.sock");
	cr_assert_eq(cfg.listen[1].protocol, LISTEN_UWSGI);
	cr_assert_eq(cfg.listen[1].mode, 0660);
	cr_assert_null(cfg.listen[1].owner);
	cr_assert_null(cfg.listen[1].group);
}

/* ---- pm --------------------------------------------------------------- */

Test(config, pm_modes)
{
	static const struct { const char *name; enum pm_mode mode; } modes[] = {
		{ "static", PM_STATIC }, { "dynamic", PM_DYNAMIC }, { "ondemand", PM_ONDEMAND },
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		must_load(with(MINIMAL "pm = { mode = \"%s\"; };\n", modes[i].name));
		cr_assert_eq(cfg.pm.mode, modes[i].mode, "pm.mode \"%s\"", modes[i].name);
		config_free(&cfg);
	}
	must_fail(MINIMAL "pm = {\n mode = \"fixed\";\n};\n", 4,
		  "pm.mode must be \"static\", \"dynamic\" or \"ondemand\", not \"fixed\"");
	must_fail(MINIMAL "pm = {\n mode = \"Dynamic\";\n};\n", 4, "not \"Dynamic\"");
	must_fail(MINIMAL "pm = {\n mode = 1;\n};\n", 4, "pm.mode must be a string");
}

Test(config, pm_ranges)
{
	char want[96];

	must_fail(MINIMAL "pm = {\n max_children = 0;\n};\n", 4,
		  "pm.max_children must be between 1 and 4096, not 0");
	snprintf(want, sizeof(want), "pm.max_children must be between 1 and %d, not %d",
		 MAX_MAX_CHILDREN, MAX_MAX_CHILDREN + 1);
	must_fail(with(MINIMAL "pm = {\n max_children = %d;\n};\n", MAX_MAX_CHILDREN + 1),
		  4, want);
	must_fail(MINIMAL "pm = {\n max_children = \"4\";\n};\n", 4,
		  "pm.max_children must be an integer, not a string");
	must_fail(MINIMAL "pm = {\n max_requests = -1;\n};\n", 4,
		  "pm.max_requests must be between 0 and");
	must_fail(MINIMAL "pm = 4;\n", 3, "pm must be a group ({ ... }), not an integer");

	must_load(with(MINIMAL "pm = { max_children = %d; max_requests = 0; };\n",
		       MAX_MAX_CHILDREN));
	cr_assert_eq(cfg.pm.max_children, MAX_MAX_CHILDREN);
	cr_assert_eq(cfg.pm.max_requests, 0);
}

/* Each pool key has its own bounds, whatever the mode. */
Test(config, pm_pool_ranges)
{
	static const struct { const char *set, *needle; } bad[] = {
		{ "start_servers = 0", "pm.start_servers must be between 1 and 4096, not 0" },
		{ "start_servers = 4097", "pm.start_servers must be between 1 and 4096, not 4097" },
		{ "min_spare_servers = 0", "pm.min_spare_servers must be between 1 and 4096, not 0" },
		{ "min_spare_servers = -1", "pm.min_spare_servers must be between 1 and 4096, not -1" },
		{ "max_spare_servers = 0", "pm.max_spare_servers must be between 1 and 4096, not 0" },
		{ "max_spare_servers = 4097", "pm.max_spare_servers must be between 1 and 4096" },
		{ "max_spawn_rate = 0", "pm.max_spawn_rate must be between 1 and 4096, not 0" },
		{ "max_spawn_rate = 4097", "pm.max_spawn_rate must be between 1 and 4096, not 4097" },
		{ "max_spawn_rate = \"32\"", "pm.max_spawn_rate must be an integer, not a string" },
		{ "process_idle_timeout = 0", "pm.process_idle_timeout must be between 1 and 86400, not 0" },
		{ "process_idle_timeout = \"0s\"", "pm.process_idle_timeout must be between 1 and 86400, not 0" },
		{ "process_idle_timeout = \"500ms\"", "pm.process_idle_timeout is a whole number of seconds, not \"500ms\"" },
		{ "process_idle_timeout = \"10x\"", "pm.process_idle_timeout must be a duration such as 30" },
		{ "process_idle_timeout = 86401", "pm.process_idle_timeout must be between 1 and 86400, not 86401" },
	};
	static const char *const modes[] = { "static", "dynamic", "ondemand" };

	for (size_t m = 0; m < 3; m++)
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			must_fail(with(MINIMAL "pm = {\n mode = \"%s\";\n max_children = 8;\n"
				       " %s;\n};\n", modes[m], bad[i].set), 6, bad[i].needle);

	must_load(MINIMAL "pm = { mode = \"ondemand\"; process_idle_timeout = \"2m\"; };\n");
	cr_assert_eq(cfg.pm.process_idle_timeout, 120);
	config_free(&cfg);
	must_load(MINIMAL "pm = { mode = \"ondemand\"; process_idle_timeout = \"3000ms\"; };\n");
	cr_assert_eq(cfg.pm.process_idle_timeout, 3);
	config_free(&cfg);
	must_load(MINIMAL "pm = { max_children = 4096; max_spawn_rate = 4096; };\n");
	cr_assert_eq(cfg.pm.max_spawn_rate, 4096);
}

/*
 * php-fpm has no spare defaults; ours are cut to a smaller pool, and
 * start_servers is php-fpm's min_spare + (max_spare - min_spare) / 2.
 */
Test(config, pm_spare_defaults)
{
	static const struct { const char *pm; int min, max, start; } cases[] = {
		{ "max_children = 8;", DEFAULT_MIN_SPARE, DEFAULT_MAX_SPARE, 2 },
		{ "", 1, 2, 1 },		/* DEFAULT_MAX_CHILDREN is 2 */
		{ "max_children = 1;", 1, 1, 1 },
		{ "max_children = 3;", 1, 3, 2 },
		{ "max_children = 20; min_spare_servers = 2; max_spare_servers = 9;", 2, 9, 5 },
		{ "max_children = 20; max_spare_servers = 10;", 1, 10, 5 },
		{ "max_children = 20; min_spare_servers = 3;", 3, 3, 3 },
		{ "max_children = 20; start_servers = 3;", 1, 3, 3 },
	};

	cr_assert_eq(DEFAULT_MIN_SPARE, 1);
	cr_assert_eq(DEFAULT_MAX_SPARE, 3);
	cr_assert_eq(DEFAULT_MAX_CHILDREN, 2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		must_load(with(MINIMAL "pm = { mode = \"dynamic\"; %s };\n", cases[i].pm));
		cr_assert_eq(cfg.pm.min_spare_servers, cases[i].min, "{ %s } min %d",
			     cases[i].pm, cfg.pm.min_spare_servers);
		cr_assert_eq(cfg.pm.max_spare_servers, cases[i].max, "{ %s } max %d",
			     cases[i].pm, cfg.pm.max_spare_servers);
		cr_assert_eq(cfg.pm.start_servers, cases[i].start, "{ %s } start %d",
			     cases[i].pm, cfg.pm.start_servers);
		config_free(&cfg);
	}
}

/*
 * php-fpm's checks of a dynamic pool, as errors at the line of the key
 * that breaks them (a default is named as such), wherever max_children
 * is written.
 */
Test(config, pm_dynamic_rules)
{
	static const struct { const char *keys; int line; const char *msg; } bad[] = {
		{ "max_children = 4;\n min_spare_servers = 5;\n max_spare_servers = 6;\n", 6,
		  "pm.min_spare_servers (5) must be at most pm.max_children (4)" },
		{ "min_spare_servers = 5;\n max_spare_servers = 6;\n max_children = 4;\n", 5,
		  "pm.min_spare_servers (5) must be at most pm.max_children (4)" },
		{ "min_spare_servers = 3;\n", 5,
		  "pm.min_spare_servers (3) must be at most pm.max_children (2, the default)" },
		{ "max_children = 4;\n max_spare_servers = 5;\n", 6,
		  "pm.max_spare_servers (5) must be at most pm.max_children (4)" },
		{ "max_children = 8;\n min_spare_servers = 3;\n max_spare_servers = 2;\n", 7,
		  "pm.max_spare_servers (2) must be at least pm.min_spare_servers (3)" },
		{ "max_children = 8;\n min_spare_servers = 4;\n", 6,
		  "pm.max_spare_servers (3, the default) must be at least pm.min_spare_servers (4)" },
		{ "max_children = 8;\n max_spare_servers = 2;\n min_spare_servers = 5;\n", 6,
		  "pm.max_spare_servers (2) must be at least pm.min_spare_servers (5)" },
		{ "max_children = 8;\n min_spare_servers = 2;\n max_spare_servers = 4;\n"
		  " start_servers = 1;\n", 8,
		  "pm.start_servers (1) must be at least pm.min_spare_servers (2)" },
		{ "max_children = 8;\n start_servers = 4;\n", 6,
		  "pm.start_servers (4) must be at most pm.max_spare_servers (3, the default)" },
		{ "max_children = 8;\n max_spare_servers = 4;\n start_servers = 5;\n", 7,
		  "pm.start_servers (5) must be at most pm.max_spare_servers (4)" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_fail(with(MINIMAL "pm = {\n mode = \"dynamic\";\n %s};\n", bad[i].keys),
			  bad[i].line, bad[i].msg);

	/* The bounds themselves are allowed. */
	must_load(MINIMAL "pm = { mode = \"dynamic\"; max_children = 4; min_spare_servers = 4;\n"
		  "  max_spare_servers = 4; start_servers = 4; };\n");
	cr_assert_eq(cfg.pm.start_servers, 4);
}

/* php-fpm ignores the dynamic keys of other modes; so do we, past their ranges. */
Test(config, pm_dynamic_rules_only_for_dynamic)
{
	static const char *const modes[] = { "static", "ondemand" };

	for (size_t m = 0; m < 2; m++) {
		must_load(with(MINIMAL "pm = { mode = \"%s\"; max_children = 2;\n"
			       "  min_spare_servers = 5; max_spare_servers = 3; start_servers = 9; };\n",
			       modes[m]));
		cr_assert_eq(cfg.pm.min_spare_servers, 5);
		cr_assert_eq(cfg.pm.max_spare_servers, 3);
		cr_assert_eq(cfg.pm.start_servers, 9);
		config_free(&cfg);
	}
}

Test(config, pm_recycling)
{
	static const struct { const char *set, *needle; } bad[] = {
		{ "max_requests_jitter = -1", "pm.max_requests_jitter must be between 0 and 2147483647, not -1" },
		{ "max_requests_jitter = \"5\"", "pm.max_requests_jitter must be an integer, not a string" },
		{ "max_requests = 2147483000;\n max_requests_jitter = 648",
		  "pm.max_requests (2147483000) plus pm.max_requests_jitter (648) must be at most 2147483647" },
		{ "reload_on_rss = -1", "pm.reload_on_rss must be between 0 and 1099511627776, not -1" },
		{ "reload_on_rss = \"2048G\"", "pm.reload_on_rss must be between 0 and 1099511627776, not \"2048G\"" },
		{ "reload_on_rss = \"256MB\"", "pm.reload_on_rss must be a size such as 65536" },
		{ "reload_on_rss = 256", "pm.reload_on_rss is in bytes, and 256 is less than a "
					 "worker's own size: write a size such as \"256M\", or 0 for off" },
		{ "reload_on_rss = \"1023K\"", "pm.reload_on_rss is in bytes, and 1047552 is less" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_fail(with(MINIMAL "pm = {\n %s;\n};\n", bad[i].set),
			  strchr(bad[i].set, '\n') ? 5 : 4, bad[i].needle);

	must_load(MINIMAL "pm = { max_requests = 500; max_requests_jitter = 50;\n"
		  "  reload_on_rss = \"1M\"; };\n");
	cr_assert_eq(cfg.pm.max_requests, 500);
	cr_assert_eq(cfg.pm.max_requests_jitter, 50);
	cr_assert_eq(cfg.pm.reload_on_rss, 1LL << 20);
	config_free(&cfg);
	must_load(MINIMAL "pm = { max_requests = 2147483000; max_requests_jitter = 647;\n"
		  "  reload_on_rss = 0; };\n");
	cr_assert_eq(cfg.pm.max_requests_jitter, 647);
	cr_assert_eq(cfg.pm.reload_on_rss, 0);
	config_free(&cfg);
	must_load(MINIMAL "pm = { reload_on_rss = \"5G\"; };\n");
	cr_assert_eq(cfg.pm.reload_on_rss, 5LL << 30);
}

/* pm.min_recycle_interval is kept in milliseconds: the one "ms" key. */
Test(config, ms_durations)
{
	static const struct { const char *given; int want; } ok[] = {
		{ "0", 0 }, { "2", 2000 }, { "\"500ms\"", 500 }, { "\"0ms\"", 0 },
		{ "\"2s\"", 2000 }, { "\"1m\"", 60000 }, { "\"1h\"", 3600000 },
		{ "\"3\"", 3000 }, { "\"1500ms\"", 1500 }, { "\"86400000ms\"", 86400000 },
		{ "\"24h\"", 86400000 }, { "86400", 86400000 },
	};
	static const struct { const char *given, *needle; } bad[] = {
		{ "\"500x\"", "pm.min_recycle_interval must be a duration such as 1, \"500ms\", "
			      "\"2s\" or \"1m\", not \"500x\"" },
		{ "\"500MS\"", "not \"500MS\"" }, { "\"ms\"", "not \"ms\"" },
		{ "\"500 ms\"", "not \"500 ms\"" }, { "\"1.5s\"", "not \"1.5s\"" },
		{ "\"500mss\"", "not \"500mss\"" }, { "\"-500ms\"", "not \"-500ms\"" },
		{ "-1", "pm.min_recycle_interval must be between 0 and 86400, not -1" },
		{ "86401", "pm.min_recycle_interval must be between 0 and 86400, not 86401" },
		{ "\"86400001ms\"", "pm.min_recycle_interval must be between 0 and 86400 seconds, "
				    "not \"86400001ms\"" },
		{ "\"25h\"", "must be between 0 and 86400 seconds, not \"25h\"" },
		{ "0.5", "pm.min_recycle_interval must be an integer, not a fraction" },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		must_load(with(MINIMAL "pm = { min_recycle_interval = %s; };\n", ok[i].given));
		cr_assert_eq(cfg.pm.min_recycle_interval_ms, ok[i].want, "%s gave %d",
			     ok[i].given, cfg.pm.min_recycle_interval_ms);
		config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_fail(with(MINIMAL "pm = {\n min_recycle_interval = %s;\n};\n", bad[i].given),
			  4, bad[i].needle);
}

/* ---- The request watchdog ---------------------------------------------- */

/* request_*_timeout: whole seconds like the limits, but 0 is "off". */
Test(config, request_timeouts)
{
	static const char *const keys[] = { "request_terminate_timeout", "request_slowlog_timeout" };
	static const struct { const char *given; int want; } ok[] = {
		{ "0", 0 }, { "\"0s\"", 0 }, { "30", 30 }, { "\"1m\"", 60 }, { "\"2000ms\"", 2 },
		{ "86400", 86400 },
	};
	static const struct { const char *given, *needle; } bad[] = {
		{ "-1", "must be between 0 and 86400, not -1" },
		{ "86401", "must be between 0 and 86400, not 86401" },
		{ "\"25h\"", "must be between 0 and 86400 seconds, not \"25h\"" },
		{ "\"1500ms\"", "is a whole number of seconds, not \"1500ms\"" },
		{ "\"soon\"", "must be a duration such as 30, \"30s\", \"5m\" or \"1h\", not \"soon\"" },
		{ "true", "must be an integer, not a boolean" },
	};

	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			must_load(with(MINIMAL "%s = %s;\n", keys[k], ok[i].given));
			cr_assert_eq(k ? cfg.request_slowlog_timeout : cfg.request_terminate_timeout,
				     ok[i].want, "%s = %s", keys[k], ok[i].given);
			config_free(&cfg);
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			must_fail(with(MINIMAL "\n%s = %s;\n", keys[k], bad[i].given), 4,
				  bad[i].needle);
			cr_assert(strncmp(err + strlen(conf) + 4, keys[k], strlen(keys[k])) == 0,
				  "error does not start with the key: %s", err);
		}
	}
}

/* A slowlog timeout at or past the terminate timeout would never fire. */
Test(config, slowlog_timeout_below_terminate_timeout)
{
	must_fail(MINIMAL "request_terminate_timeout = 30;\nrequest_slowlog_timeout = 30;\n", 4,
		  "request_slowlog_timeout (30s) must be less than request_terminate_timeout (30s)");
	must_fail(MINIMAL "request_slowlog_timeout = \"2m\";\nrequest_terminate_timeout = 60;\n", 3,
		  "request_slowlog_timeout (120s) must be less than request_terminate_timeout (60s)");

	must_load(MINIMAL "request_terminate_timeout = 30;\nrequest_slowlog_timeout = 29;\n");
	cr_assert_eq(cfg.request_slowlog_timeout, 29);
	config_free(&cfg);
	must_load(MINIMAL "request_terminate_timeout = 0;\nrequest_slowlog_timeout = 600;\n");
	cr_assert_eq(cfg.request_slowlog_timeout, 600);
	config_free(&cfg);
	must_load(MINIMAL "request_terminate_timeout = 5;\nrequest_slowlog_timeout = 0;\n");
	cr_assert_eq(cfg.request_terminate_timeout, 5);
}

Test(config, slowlog_paths)
{
	must_load(MINIMAL "slowlog = \"logs/slow.log\";\n");
	cr_assert_str_eq(cfg.slowlog, with("%s/logs/slow.log", dir));
	config_free(&cfg);
	must_load(MINIMAL "slowlog = \"/var/log/slow.log\";\n");
	cr_assert_str_eq(cfg.slowlog, "/var/log/slow.log");
	config_free(&cfg);
	must_fail(MINIMAL "slowlog = \"stderr\";\n", 3, "slowlog must be a file; leave it unset "
		  "to write slow-request reports to error_log");
	must_fail(MINIMAL "slowlog = \"\";\n", 3, "slowlog must not be empty");
	must_fail(MINIMAL "slowlog = 1;\n", 3, "slowlog must be a string, not an integer");
}

Test(config, emergency_restart)
{
	must_load(MINIMAL "emergency_restart_threshold = 64;\nemergency_restart_interval = \"5m\";\n");
	cr_assert_eq(cfg.emergency_restart_threshold, 64);
	cr_assert_eq(cfg.emergency_restart_interval, 300);
	config_free(&cfg);
	must_load(MINIMAL "emergency_restart_threshold = 0;\n");
	cr_assert_eq(cfg.emergency_restart_threshold, 0);
	cr_assert_eq(cfg.emergency_restart_interval, 60);
	config_free(&cfg);

	must_fail(MINIMAL "emergency_restart_threshold = 65;\n", 3,
		  "emergency_restart_threshold must be between 0 and 64, not 65");
	must_fail(MINIMAL "emergency_restart_threshold = -1;\n", 3,
		  "emergency_restart_threshold must be between 0 and 64, not -1");
	must_fail(MINIMAL "emergency_restart_interval = 0;\n", 3,
		  "emergency_restart_interval must be between 1 and 86400, not 0");
	must_fail(MINIMAL "emergency_restart_interval = \"1d\";\n", 3,
		  "emergency_restart_interval must be a duration such as 30");
	must_fail(MINIMAL "emergency_restart_interval = \"90500ms\";\n", 3,
		  "emergency_restart_interval is a whole number of seconds");
}

/* ---- limits: sizes and durations -------------------------------------- */

Test(config, sizes)
{
	static const struct { const char *given; long long want; } ok[] = {
		{ "1", 1 }, { "\"1\"", 1 }, { "\"64K\"", 65536 }, { "\"64k\"", 65536 },
		{ "\"8M\"", 8LL << 20 }, { "\"8m\"", 8LL << 20 }, { "\"1G\"", 1LL << 30 },
		{ "\"5G\"", 5LL << 30 }, { "5000000000L", 5000000000LL },
		{ "0x100", 256 }, { "\"1024G\"", 1LL << 40 },
	};
	static const struct { const char *given, *needle; } bad[] = {
		{ "\"8MB\"", "must be a size such as 65536, \"64K\", \"8M\" or \"1G\", not \"8MB\"" },
		{ "\"8X\"", "not \"8X\"" }, { "\"M\"", "not \"M\"" }, { "\"\"", "not \"\"" },
		{ "\"-1\"", "not \"-1\"" }, { "\" 8M\"", "not \" 8M\"" },
		{ "\"8 M\"", "not \"8 M\"" }, { "\"8.5M\"", "not \"8.5M\"" },
		{ "\"0x10\"", "not \"0x10\"" },
		{ "1.5", "limits.max_body_bytes must be an integer, not a fraction" },
		{ "true", "must be an integer, not a boolean" },
		{ "0", "limits.max_body_bytes must be between 1 and 1099511627776, not 0" },
		{ "\"0K\"", "must be between 1 and 1099511627776, not 0" },
		{ "-5", "not -5" },
		{ "\"1025G\"", "must be between 1 and 1099511627776, not \"1025G\"" },
		{ "\"99999999999999999999\"", "must be between 1 and 1099511627776" },
		/* libconfig 1.5 would wrap this to 705032704 without a word. */
		{ "5000000000", "limits.max_body_bytes is too large for a plain integer" },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		must_load(with(MINIMAL "limits = { max_body_bytes = %s; };\n", ok[i].given));
		cr_assert_eq(cfg.limits.max_body_bytes, ok[i].want, "%s gave %lld",
			     ok[i].given, cfg.limits.max_body_bytes);
		config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_fail(with(MINIMAL "limits = {\n max_body_bytes = %s;\n};\n", bad[i].given),
			  4, bad[i].needle);
}

Test(config, durations)
{
	static const struct { const char *given; int want; } ok[] = {
		{ "45", 45 }, { "\"45\"", 45 }, { "\"30s\"", 30 }, { "\"5m\"", 300 },
		{ "\"1h\"", 3600 }, { "\"24h\"", 86400 }, { "86400", 86400 },
		{ "\"2000ms\"", 2 }, { "\"86400000ms\"", 86400 },
	};
	static const struct { const char *given, *needle; } bad[] = {
		{ "\"30x\"", "limits.read_timeout must be a duration such as 30, \"30s\", "
			     "\"5m\" or \"1h\", not \"30x\"" },
		{ "\"1d\"", "not \"1d\"" }, { "\"5 m\"", "not \"5 m\"" }, { "\"\"", "not \"\"" },
		{ "\"30S\"", "not \"30S\"" }, { "\"1.5h\"", "not \"1.5h\"" },
		{ "0", "limits.read_timeout must be between 1 and 86400, not 0" },
		{ "\"0s\"", "must be between 1 and 86400, not 0" },
		{ "86401", "must be between 1 and 86400, not 86401" },
		{ "\"25h\"", "must be between 1 and 86400 seconds, not \"25h\"" },
		{ "2.5", "must be an integer, not a fraction" },
		{ "\"1500ms\"", "limits.read_timeout is a whole number of seconds, not \"1500ms\"" },
		{ "\"999ms\"", "is a whole number of seconds, not \"999ms\"" },
		{ "\"0ms\"", "must be between 1 and 86400, not 0" },
		{ "\"86401000ms\"", "must be between 1 and 86400 seconds, not \"86401000ms\"" },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		must_load(with(MINIMAL "limits = { read_timeout = %s; };\n", ok[i].given));
		cr_assert_eq(cfg.limits.read_timeout, ok[i].want, "%s gave %d",
			     ok[i].given, cfg.limits.read_timeout);
		config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_fail(with(MINIMAL "limits = {\n read_timeout = %s;\n};\n", bad[i].given),
			  4, bad[i].needle);
}

/* Each limit names itself in its range error, and has its own bounds. */
Test(config, limit_ranges)
{
	static const struct { const char *set, *needle; } bad[] = {
		{ "max_params_bytes = 0", "limits.max_params_bytes must be between 1 and 1048576, not 0" },
		{ "max_params_bytes = \"2M\"", "limits.max_params_bytes must be between 1 and 1048576, not 2097152" },
		{ "max_params = 0", "limits.max_params must be between 1 and 8192, not 0" },
		{ "max_params = 8193", "limits.max_params must be between 1 and 8192, not 8193" },
		{ "max_header_bytes = \"65K\"", "limits.max_header_bytes must be between 1 and 65536, not 66560" },
		{ "max_request_memory = \"63K\"", "limits.max_request_memory must be between 65536 and" },
		{ "max_conns = 0", "limits.max_conns must be between 1 and" },
		{ "max_conns = \"10\"", "limits.max_conns must be an integer, not a string" },
		{ "write_timeout = 0", "limits.write_timeout must be between 1 and 86400" },
		{ "idle_timeout = \"x\"", "limits.idle_timeout must be a duration" },
		{ "shutdown_timeout = -1", "limits.shutdown_timeout must be between 1 and 86400" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_fail(with(MINIMAL "limits = {\n %s;\n};\n", bad[i].set), 4, bad[i].needle);
	must_fail(MINIMAL "limits = ( );\n", 3, "limits must be a group");
}

/* ---- modules ---------------------------------------------------------- */

Test(config, module_paths_resolve_against_the_config_folder)
{
	must_load(LISTEN "modules = (\n"
		  "  { path = \"../build/prod/apps/hello.so\"; },\n"
		  "  { path = \"apps/echo.so\"; mount = \"/echo\"; },\n"
		  "  { path = \"/abs/routes.so\"; mount = \"/api/v1\"; }\n"
		  ");\n");
	cr_assert_eq(cfg.nmodules, 3);
	cr_assert_str_eq(cfg.modules[0].path, with("%s/../build/prod/apps/hello.so", dir));
	cr_assert_str_eq(cfg.modules[1].path, with("%s/apps/echo.so", dir));
	cr_assert_str_eq(cfg.modules[2].path, "/abs/routes.so");
	cr_assert_str_eq(cfg.modules[0].mount, "/");
	cr_assert_str_eq(cfg.modules[1].mount, "/echo");
	cr_assert_str_eq(cfg.modules[2].mount, "/api/v1");
	cr_assert_eq(cfg.modules[0].line, 3);
	cr_assert_eq(cfg.modules[1].line, 4);
	cr_assert_eq(cfg.modules[2].line, 5);
}

/* A config given by a relative name still resolves against its folder. */
Test(config, relative_config_path)
{
	write_file(conf, LISTEN "modules = ( { path = \"hello.so\"; } );\n");
	cr_assert_eq(chdir("/"), 0);
	cr_assert_eq(config_load(conf + 1, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.modules[0].path, with("%s/hello.so", dir));
}

Test(config, module_errors)
{
	must_fail(LISTEN, 0, "modules is missing: at least one module is required");
	must_fail(LISTEN "modules = ( );\n", 2, "modules is empty");
	must_fail(LISTEN "modules = { path = \"/m.so\"; };\n", 2, "modules must be a list of groups");
	must_fail(LISTEN "modules = (\n \"/m.so\",\n { path = \"/b.so\"; }\n);\n", 3,
		  "modules[0] must be a group ({ path = \"...\"; }), not a string");
	must_fail(LISTEN "modules = (\n { path = \"/a.so\"; },\n { mount = \"/b\"; }\n);\n", 4,
		  "modules[1].path is missing");
	must_fail(LISTEN "modules = ( {\n path = \"\";\n} );\n", 3,
		  "modules[0].path must not be empty");
	must_fail(LISTEN "modules = ( {\n path = 1;\n} );\n", 3,
		  "modules[0].path must be a string, not an integer");
}

Test(config, mounts)
{
	static const struct { const char *mount, *needle; } bad[] = {
		{ "api", "modules[0].mount must start with '/', not \"api\"" },
		{ "", "modules[0].mount must not be empty" },
		{ "/api/", "modules[0].mount must not end with '/' (write \"/api\"), not \"/api/\"" },
		{ "//", "must not end with '/'" },
		{ "/a//b", "modules[0].mount must not contain \"//\"" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_fail(with(LISTEN "modules = ( {\n path = \"/m.so\";\n mount = \"%s\";\n} );\n",
			       bad[i].mount), 4, bad[i].needle);
}

Test(config, module_count)
{
	char text[8192];
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), LISTEN "modules = (\n");
	for (int i = 0; i < MAX_MODULES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "{ path = \"/m%d.so\"; mount = \"/m%d\"; },\n", i, i);
	cr_assert(n < sizeof(text) - 64);
	memcpy(text + n - 2, "\n);\n", 5);
	must_load(text);
	cr_assert_eq(cfg.nmodules, MAX_MODULES);
	cr_assert_str_eq(cfg.modules[MAX_MODULES - 1].mount, with("/m%d", MAX_MODULES - 1));
	config_free(&cfg);

	/* One more, on its own line (the 3 + MAX_MODULES th). */
	snprintf(text + n - 2, sizeof(text) - n + 2, ",\n{ path = \"/x.so\"; }\n);\n");
	must_fail(text, 3 + MAX_MODULES, "too many modules: at most 64");
}

/* ---- Module settings -------------------------------------------------- */

/* The setting `name` of module `m`, failing the test when it is absent. */
static const struct module_setting *setting(int m, const char *name)
{
	for (int i = 0; i < cfg.modules[m].nsettings; i++)
		if (strcmp(cfg.modules[m].settings[i].name, name) == 0)
			return &cfg.modules[m].settings[i];
	cr_assert_fail("modules[%d] has no setting %s", m, name);
	return NULL;
}

Test(config, module_settings_keep_type_value_and_line)
{
	const struct module_setting *s;
	char inc[160];

	snprintf(inc, sizeof(inc), "%s/more.conf", dir);
	write_file(inc, "extra = \"from the include\";\n");
	must_load(LISTEN "modules = (\n"
		  " { path = \"/a.so\"; mount = \"/notes\";\n"
		  "   settings = {\n"
		  "     db = \"/var/lib/notes.db\";\n"
		  "     page_size = 20;\n"
		  "     big = 5000000000L;\n"
		  "     ratio = 0.25;\n"
		  "     debug = true;\n"
		  "     empty = \"\";\n"
		  "     @include \"more.conf\"\n"
		  "   };\n"
		  " },\n"
		  " { path = \"/b.so\"; }\n"
		  ");\n");
	cr_assert_eq(cfg.modules[0].nsettings, 7);
	cr_assert_eq(cfg.modules[1].nsettings, 0, "a module without settings has some");
	s = setting(0, "db");
	cr_assert_eq(s->type, SETTING_STRING);
	cr_assert_str_eq(s->v.str, "/var/lib/notes.db");
	cr_assert_str_eq(s->file, conf);
	cr_assert_eq(s->line, 5);
	s = setting(0, "page_size");
	cr_assert_eq(s->type, SETTING_INT);
	cr_assert_eq(s->v.i, 20);
	cr_assert_eq(s->line, 6);
	cr_assert_eq(setting(0, "big")->v.i, 5000000000LL);
	s = setting(0, "ratio");
	cr_assert_eq(s->type, SETTING_DOUBLE);
	cr_assert_float_eq(s->v.d, 0.25, 1e-12);
	s = setting(0, "debug");
	cr_assert_eq(s->type, SETTING_BOOL);
	cr_assert_eq(s->v.b, 1);
	cr_assert_str_eq(setting(0, "empty")->v.str, "");
	/* An included setting names the file it was written in. */
	s = setting(0, "extra");
	cr_assert_str_eq(s->file, inc);
	cr_assert_eq(s->line, 1);
}

Test(config, module_settings_errors)
{
	must_fail(LISTEN "modules = ( {\n path = \"/m.so\";\n settings = 3;\n} );\n", 4,
		  "modules[0].settings must be a group ({ ... }), not an integer");
	must_fail(LISTEN "modules = ( { path = \"/m.so\"; settings = {\n a = 1;\n"
		  " nested = { b = 2; };\n}; } );\n", 4,
		  "modules[0].settings.nested must be a string, an integer, a fraction or a "
		  "boolean, not a group");
	must_fail(LISTEN "modules = ( { path = \"/m.so\"; settings = {\n list = [ 1, 2 ];\n"
		  "}; } );\n", 3, "modules[0].settings.list must be a string, an integer, a "
		  "fraction or a boolean, not an array");
	must_fail(LISTEN "modules = ( { path = \"/m.so\"; settings = {\n"
		  " n = 5000000000;\n}; } );\n", 3,
		  "modules[0].settings.n is too large for a plain integer");
	/* Keys outside settings are still the loader's and still checked. */
	must_fail(LISTEN "modules = ( {\n path = \"/m.so\";\n db = \"/x.db\";\n} );\n", 4,
		  "unknown key \"modules[0].db\"");
	must_fail(LISTEN "modules = ( {\n path = \"/m.so\";\n setting = { a = 1; };\n} );\n",
		  4, "unknown key \"modules[0].setting\" (did you mean \"modules[0].settings\"?)");
}

/* ---- Unknown keys ----------------------------------------------------- */

Test(config, unknown_keys)
{
	must_fail(MODULES "listn = \"/s\";\n", 2,
		  "unknown key \"listn\" (did you mean \"listen\"?)");
	must_fail(MINIMAL "max_children = 4;\n", 3,
		  "unknown key \"max_children\" (did you mean \"pm.max_children\"?)");
	must_fail(MINIMAL "frobnicate = 1;\n", 3, "unknown key \"frobnicate\"");
	cr_assert_null(strstr(err, "did you mean"), "%s", err);
	must_fail(MODULES "listen = {\n address = \"/s\";\n adress = \"/t\";\n};\n", 4,
		  "unknown key \"listen.adress\" (did you mean \"listen.address\"?)");
	must_fail(MINIMAL "pm = {\n max_chilren = 4;\n};\n", 4,
		  "unknown key \"pm.max_chilren\" (did you mean \"pm.max_children\"?)");
	must_fail(MINIMAL "limits = {\n read_timout = 4;\n};\n", 4,
		  "unknown key \"limits.read_timout\" (did you mean \"limits.read_timeout\"?)");
	must_fail(MINIMAL "pm = {\n max_conns = 4;\n};\n", 4,
		  "unknown key \"pm.max_conns\" (did you mean \"limits.max_conns\"?)");
	must_fail(LISTEN "modules = (\n { path = \"/a.so\"; },\n { path = \"/b.so\";\n"
		  "   mout = \"/b\"; }\n);\n", 5,
		  "unknown key \"modules[1].mout\" (did you mean \"modules[1].mount\"?)");

	/* The new keys, misspelt or at the wrong level. */
	must_fail(MINIMAL "pm = {\n start_server = 2;\n};\n", 4,
		  "unknown key \"pm.start_server\" (did you mean \"pm.start_servers\"?)");
	must_fail(MINIMAL "pm = {\n process_idle_timout = 2;\n};\n", 4,
		  "(did you mean \"pm.process_idle_timeout\"?)");
	must_fail(MINIMAL "pm = {\n min_recycle_intervall = 2;\n};\n", 4,
		  "(did you mean \"pm.min_recycle_interval\"?)");
	must_fail(MINIMAL "pm = {\n request_terminate_timeout = 2;\n};\n", 4,
		  "unknown key \"pm.request_terminate_timeout\" "
		  "(did you mean \"request_terminate_timeout\"?)");
	must_fail(MINIMAL "limits = {\n request_slowlog_timeout = 2;\n};\n", 4,
		  "(did you mean \"request_slowlog_timeout\"?)");
	must_fail(MINIMAL "max_spare_servers = 4;\n", 3,
		  "unknown key \"max_spare_servers\" (did you mean \"pm.max_spare_servers\"?)");
	must_fail(MINIMAL "emergency_restart_treshold = 4;\n", 3,
		  "(did you mean \"emergency_restart_threshold\"?)");
	must_fail(MINIMAL "slow_log = \"/s\";\n", 3, "(did you mean \"slowlog\"?)");
}

/* The key check runs first: a typo is reported as such, not as "missing". */
/*
 * php-fpm's keys get what sluice has instead, not the nearest spelling
 * ("pid" is a key here; "ping.path" is not "pm.path").
 */
Test(config, phpfpm_keys_get_a_hint)
{
	must_fail(MINIMAL "catch_workers_output = true;\n", 3,
		  "unknown key \"catch_workers_output\": workers' stdout and stderr always go");
	must_fail(MINIMAL "php_admin_value = { memory_limit = \"1G\"; };\n", 3,
		  "\"php_admin_value\": there is no PHP here");
	must_fail(MINIMAL "pm = { status_path = \"/status\"; };\n", 3,
		  "\"pm.status_path\": the status page has its own socket here");
	must_fail(MINIMAL "daemonize = false;\n", 3, "sluice stays in the foreground");
}

/* Written php-fpm's way, dotted, the same hints come with the syntax error. */
Test(config, phpfpm_dotted_lines_get_a_hint)
{
	must_fail(MINIMAL "listen.allowed_clients = \"127.0.0.1\";\n", 3,
		  "(php-fpm's listen.allowed_clients: write listen = { address = \"...\"; "
		  "allowed_clients = \"127.0.0.1, ::1\"; }");
	must_fail(MINIMAL "ping.path = \"/ping\";\n", 3, "/ping is answered on the status socket");
	must_fail(MINIMAL "access.log = \"/a.log\";\n", 3, "write access_log = ");
	must_fail(MINIMAL "listen.owner = \"www-data\";\n", 3,
		  "php-fpm's \"listen.owner = ...;\" is \"listen = { owner = ...; };\" here");
	must_fail(MINIMAL "env[PATH] = $PATH\n", 3, "env = { NAME = \"value\"; }");
}

/* ---- How workers start ------------------------------------------------ */

Test(config, worker_knobs)
{
	must_load(MINIMAL "clear_env = false;\nchdir = \"/srv\";\nrlimit_files = 4096;\n"
		  "rlimit_core = \"unlimited\";\npid = \"run/sluice.pid\";\n"
		  "env = { PATH = \"$PATH\"; APP_MODE = \"prod\"; PRICE = \"$5 and $PATH\"; };\n");
	cr_assert_eq(cfg.clear_env, 0);
	cr_assert_str_eq(cfg.chdir, "/srv");
	cr_assert_eq(cfg.rlimit_files, 4096);
	cr_assert_eq(cfg.rlimit_core, CONFIG_RLIMIT_NONE);
	cr_assert_str_eq(cfg.pid_file, with("%s/run/sluice.pid", dir));
	cr_assert_eq(cfg.nenv, 3);
	cr_assert_str_eq(cfg.env[0].name, "PATH");
	cr_assert_str_eq(cfg.env[0].value, "PATH");
	cr_assert_eq(cfg.env[0].pass, 1);
	cr_assert_str_eq(cfg.env[1].value, "prod");
	cr_assert_eq(cfg.env[1].pass, 0);
	cr_assert_str_eq(cfg.env[2].value, "$5 and $PATH", "only a whole $NAME passes through");
	cr_assert_eq(cfg.env[2].pass, 0);
	config_free(&cfg);
	must_load(MINIMAL "rlimit_core = \"1G\";\n");
	cr_assert_eq(cfg.rlimit_core, 1LL << 30);
}

Test(config, worker_knobs_refused)
{
	must_fail(MINIMAL "clear_env = \"no\";\n", 3, "clear_env must be true or false, not a string");
	must_fail(MINIMAL "chdir = \"srv\";\n", 3, "chdir must be an absolute path, not \"srv\"");
	must_fail(MINIMAL "rlimit_files = 0;\n", 3, "rlimit_files must be between 1 and");
	must_fail(MINIMAL "rlimit_core = \"lots\";\n", 3, "rlimit_core must be a size");
	must_fail(MINIMAL "env = { PORT = 80; };\n", 3, "env.PORT must be a string, not an integer");
	must_fail(MINIMAL "env = [ \"A=b\" ];\n", 3, "env must be a group");
	must_fail(MINIMAL "pid = \"stderr\";\n", 3, "pid must be a file path");
	must_fail(MINIMAL "\ngroup = \"www-data\";\n", 4, "group is set without user");
}

Test(config, unknown_key_before_missing_key)
{
	must_fail("modles = ( { path = \"/m.so\"; } );\n", 1,
		  "unknown key \"modles\" (did you mean \"modules\"?)");
}

Test(config, wrong_types)
{
	must_fail(MINIMAL "user = 33;\n", 3, "user must be a string, not an integer");
	must_fail(MINIMAL "group = [ \"a\" ];\n", 3, "group must be a string, not an array");
	must_fail(MINIMAL "log_level = { };\n", 3, "log_level must be a string, not a group");
}

/* ---- The file itself -------------------------------------------------- */

Test(config, syntax_errors)
{
	must_fail(MINIMAL "\nuser = ;\n", 4, "syntax error");
	must_fail("user = \"x\";\nuser = \"y\";\n" MINIMAL, 2, "duplicate setting name");
	must_fail(MINIMAL "pm.max_children = 4;\n", 3,
		  "syntax error (names cannot contain '.': php-fpm's");
}

Test(config, brief_example_messages)
{
	/* Loaded by a relative name, the messages carry that name. */
	write_file(conf, MODULES "listn = \"/s\";\n");
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(config_load("sluice.conf", &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "sluice.conf:2: unknown key \"listn\" (did you mean \"listen\"?)");
}

Test(config, missing_file)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/nope.conf", dir);
	cr_assert_eq(config_load(path, &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, with("%s: cannot open: No such file or directory", path));
	cr_assert_null(cfg.file);
	config_free(&cfg);

	snprintf(path, sizeof(path), "%s/no/such/folder.conf", dir);
	cr_assert_eq(config_load(path, &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, with("%s: cannot open: No such file or directory", path));

	cr_assert_eq(config_load(dir, &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, with("%s: cannot open: Is a directory", dir));
}

Test(config, unreadable_file)
{
	if (geteuid() == 0) {
		teardown();	/* a skipped test does not run .fini */
		cr_skip_test("root reads every file");
	}
	write_file(conf, MINIMAL);
	cr_assert_eq(chmod(conf, 0), 0);
	cr_assert_eq(config_load(conf, &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, with("%s: cannot open: Permission denied", conf));
}

/* @include looks in the config's folder, and errors name the included file. */
Test(config, includes)
{
	char inc[192];

	snprintf(inc, sizeof(inc), "%s/limits.conf", dir);
	write_file(inc, "limits = { max_conns = 7; };\n");
	must_load(MINIMAL "@include \"limits.conf\"\n");
	cr_assert_eq(cfg.limits.max_conns, 7);
	config_free(&cfg);

	write_file(inc, "\nlimits = { max_conns = 0; };\n");
	cr_assert_eq(load(MINIMAL "@include \"limits.conf\"\n"), -1);
	cr_assert(strncmp(err, with("%s:2: ", inc), strlen(inc) + 4) == 0, "%s", err);
	cr_assert_not_null(strstr(err, "limits.max_conns must be between 1 and"), "%s", err);

	/* A rule between pm keys names the line in the included file. */
	write_file(inc, "pm = {\n mode = \"dynamic\";\n max_children = 4;\n"
		   " max_spare_servers = 5;\n};\n");
	cr_assert_eq(load(MINIMAL "@include \"limits.conf\"\n"), -1);
	cr_assert(strncmp(err, with("%s:4: ", inc), strlen(inc) + 4) == 0, "%s", err);
	cr_assert_not_null(strstr(err, "pm.max_spare_servers (5) must be at most "
				  "pm.max_children (4)"), "%s", err);
}

/* A short buffer gets a cut, terminated message, never an overflow. */
Test(config, short_error_buffer)
{
	char small[12];

	memset(small, 'z', sizeof(small));
	write_file(conf, "listn = 1;\n");
	cr_assert_eq(config_load(conf, &cfg, small, sizeof(small)), -1);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(strncmp(small, conf, sizeof(small) - 1), 0);
	cr_assert_eq(config_load(conf, &cfg, NULL, 0), -1);
}

Test(config, free_is_idempotent)
{
	must_load(MINIMAL);
	config_free(&cfg);
	config_free(&cfg);
	cr_assert_null(cfg.file);
	cr_assert_eq(cfg.nmodules, 0);
}

/* ---- Access log and request ids --------------------------------------- */

Test(config, access_log_and_request_id_defaults)
{
	must_load(MINIMAL);
	cr_assert_null(cfg.access_log);
	cr_assert_str_eq(cfg.access_format, DEFAULT_ACCESS_FORMAT);
	cr_assert_str_eq(cfg.request_id_param, "HTTP_X_REQUEST_ID");
	cr_assert_str_eq(cfg.request_id_header, "X-Request-Id");
}

Test(config, access_log_and_request_id_set_and_turned_off)
{
	char want[256];

	must_load(with(MINIMAL "access_log = \"logs/access.log\";\n"
		       "access_format = \"%%m %%{ms}d %%{User-Agent}i\";\n"
		       "request_id = { param = \"HTTP_X_TRACE\"; header = false; };\n"));
	snprintf(want, sizeof(want), "%s/logs/access.log", dir);
	cr_assert_str_eq(cfg.access_log, want);
	cr_assert_str_eq(cfg.access_format, "%m %{ms}d %{User-Agent}i");
	cr_assert_str_eq(cfg.request_id_param, "HTTP_X_TRACE");
	cr_assert_null(cfg.request_id_header);
	config_free(&cfg);
	must_load(with(MINIMAL "request_id = { param = false; };\n"));
	cr_assert_null(cfg.request_id_param);
	cr_assert_str_eq(cfg.request_id_header, "X-Request-Id");
}

Test(config, access_format_and_request_id_errors_name_their_line)
{
	int line = 1;

	for (const char *p = MINIMAL; *p; p++)
		line += *p == '\n';
	must_fail(with(MINIMAL "access_format = \"%%m %%{ms\";\n"), line, "access_format:");
	must_fail(with(MINIMAL "access_format = \"%%{ks}d\";\n"), line, "the unit is s, ms or us");
	must_fail(with(MINIMAL "access_format = \"%%e\";\n"), line, "%e needs a name");
	must_fail(with(MINIMAL "access_log = \"stderr\";\n"), line, "access_log must be a file");
	must_fail(with(MINIMAL "request_id = { header = \"X Bad\"; };\n"), line,
		  "request_id.header \"X Bad\" is not a header name");
	must_fail(with(MINIMAL "request_id = { header = true; };\n"), line, "true means nothing");
	must_fail(with(MINIMAL "request_id = { parm = \"X\"; };\n"), line, "param");
}

/* ---- status ----------------------------------------------------------- */

Test(config, status_is_off_by_default)
{
	must_load(MINIMAL);
	cr_assert_null(cfg.status.address);
}

Test(config, status_listen_is_resolved_and_has_a_mode)
{
	char want[256];

	must_load(with(MINIMAL "status = { listen = \"unix:status.sock\"; mode = \"0600\"; };\n"));
	snprintf(want, sizeof(want), "%s/status.sock", dir);
	cr_assert_str_eq(cfg.status.address, want);
	cr_assert_eq(cfg.status.mode, 0600);
	cr_assert_eq(cfg.status.protocol, LISTEN_FASTCGI);
}

Test(config, status_errors_name_the_line)
{
	must_fail(MINIMAL "status = \"/run/s.sock\";\n", 3, "status must be a group");
	must_fail(MINIMAL "status = {\n mode = \"0600\"; };\n", 3, "status.listen is missing");
	must_fail(MINIMAL "status = {\n listen = \"/run/s.sock\";\n lisen = 1; };\n", 5,
		  "did you mean \"status.listen\"");
	must_fail(MINIMAL "status = {\n listen = 5; };\n", 4, "status.listen");
	must_fail(MINIMAL "status = {\n listen = \"/run/s.sock\";\n mode = \"999\"; };\n", 5,
		  "status.mode must be permission bits");
}

Test(config, status_cannot_share_a_pool_address)
{
	must_fail(MINIMAL "status = {\n listen = \"/run/t.sock\"; };\n", 4,
		  "is already a listen address");
}
