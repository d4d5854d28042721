/*
 * config.h - the configuration as a plain struct.
 *
 * config.c is the only file that sees libconfig: it parses the file once,
 * in the master, checks every key, type and range, and fills this struct.
 * Every error names the file and line.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "allow.h"
#include "defaults.h"
#include "log.h"

enum pm_mode { PM_STATIC, PM_DYNAMIC, PM_ONDEMAND };

/* The wire protocol a listener speaks: nginx's fastcgi_pass or uwsgi_pass. */
enum listen_protocol { LISTEN_FASTCGI, LISTEN_UWSGI };

struct listen_config {
	char *address;		/* "/path.sock", "unix:/path.sock", "host:port", "[::1]:port" */
	enum listen_protocol protocol;
	int backlog;
	mode_t mode;		/* unix sockets only */
	char *owner;		/* unix sockets only, NULL: leave as created */
	char *group;
	struct allow_list allowed;	/* TCP only; empty: every client */
	char *at;		/* "FILE:LINE" of the address, for config_check */
};

/* The types a module setting may have: libconfig's scalars. */
enum setting_type { SETTING_STRING, SETTING_INT, SETTING_DOUBLE, SETTING_BOOL };

/*
 * One key of a module's `settings` group.  Its type is checked only when
 * the module asks for it (module.c), so it keeps where it was written.
 */
struct module_setting {
	char *name;
	enum setting_type type;
	union {
		char *str;
		long long i;
		double d;
		int b;
	} v;
	char *file;		/* the file it was written in (an @include's, maybe) */
	int line;
};

struct module_config {
	char *path;		/* resolved against the config file's folder */
	int builtin;		/* the program's own module (sl_serve): path is the program */
	char *mount;		/* URL prefix the module's routes live under, "/" by default */
	int line;		/* where it was declared, for load errors */
	struct module_setting *settings;	/* in file order, malloc'ed */
	int nsettings;
};

/* One `env` entry: the worker's variable `name` is `value`, or, when
 * `pass` is set, the master's own value of variable `value`. */
struct env_config {
	char *name;
	char *value;
	int pass;
};

/*
 * A FastCGI program that sluice supervises instead of running modules
 * (program.c): an unchanged libfcgi or spawn-fcgi program, started
 * pm.max_children times with the listening socket as descriptor 0.
 */
struct program_config {
	char *path;		/* the executable, absolute; NULL: a module pool */
	char *argv[MAX_PROGRAM_ARGS + 2];	/* path, program.args..., NULL */
	int max_lifetime;	/* seconds a copy serves before it is replaced; 0: off */
};

/* A limit that is written "unlimited"; -1 (CONFIG_RLIMIT_KEEP): as the master's. */
#define CONFIG_RLIMIT_KEEP	(-1LL)
#define CONFIG_RLIMIT_NONE	LLONG_MAX

/*
 * Where a key that config_check looks at was written, as "FILE:LINE"
 * (NULL when it was not written): the system is asked about it only
 * after the file is parsed, and the error must still name the line.
 * AT_NONE, the unused slot 0, is what the keys config_check does not
 * look at have in the table of keys (config_keys.h).
 */
enum config_at {
	AT_NONE, AT_USER, AT_GROUP, AT_ERROR_LOG, AT_ACCESS_LOG, AT_SLOWLOG, AT_PID,
	AT_CHDIR, AT_RLIMIT_FILES, AT_RLIMIT_CORE, AT_PROGRAM, AT_COUNT
};

/* A pool's name (config_pools.h) shows in logs and process titles. */
#define POOL_NAME_MAX	32
#define MAX_POOLS	16

struct pool_names {
	char name[MAX_POOLS][POOL_NAME_MAX + 1];
	int n;
};

struct sl_config {
	char *file;		/* the config file, as given, or CONFIG_IN_CODE */
	char *pool;		/* the pool these keys are of (config_select_pool), NULL: none */
	struct pool_names pools;	/* the file's pools; n = 0: it has none */
	int no_file;		/* in-code settings only: a reload reads no file */
	char *user;		/* workers drop to this user, NULL: stay */
	char *group;
	char *error_log;	/* "stderr" or a file path */
	enum log_level log_level;
	char *pid_file;		/* written by the master; NULL: none */

	/* How each worker process starts, php-fpm's pool keys. */
	int clear_env;		/* start from an empty environment plus `env` */
	struct env_config env[MAX_ENV];
	int nenv;
	char *chdir;		/* absolute; "/" by default */
	long long rlimit_files;	/* RLIMIT_NOFILE, or CONFIG_RLIMIT_KEEP */
	long long rlimit_core;	/* RLIMIT_CORE in bytes, _KEEP or _NONE */
	int seccomp;		/* workers install sandbox.h's allow-list */
	char *seccomp_allow[MAX_SECCOMP_ALLOW];	/* system calls it adds */
	int nseccomp_allow;

	struct listen_config listen[MAX_LISTEN];	/* in config order */
	int nlisten;					/* 0 when the file has no listen */
	struct listen_config status;	/* the status responder's socket; address NULL: off */

	struct {
		enum pm_mode mode;
		int max_children;
		int start_servers;		/* dynamic: workers at start */
		int min_spare_servers;		/* dynamic: fewer idle ones than this, spawn */
		int max_spare_servers;		/* dynamic: more idle ones than this, retire one */
		int max_spawn_rate;		/* dynamic: most workers started per second */
		int process_idle_timeout;	/* ondemand: seconds before an idle worker leaves */
		int max_requests;		/* 0: never recycle */
		int max_requests_jitter;	/* each worker adds 0..jitter to max_requests */
		int min_recycle_interval_ms;	/* at least this long between two recycles */
		long long reload_on_rss;	/* bytes; 0: off */
	} pm;

	int request_terminate_timeout;		/* seconds; 0: off */
	int request_slowlog_timeout;		/* seconds; 0: off */
	char *slowlog;				/* file for slow-request backtraces; NULL: error log */
	int emergency_restart_threshold;	/* 0: off */
	int emergency_restart_interval;		/* seconds */

	char *access_log;			/* file; NULL: no access log */
	char *access_format;			/* access.h's fields */
	char *request_id_param;			/* an incoming id's parameter; NULL: never */
	char *request_id_header;		/* the response header with the id; NULL: none */

	struct {
		size_t max_params_bytes;
		int max_params;
		size_t max_header_bytes;
		long long max_body_bytes;
		long long max_request_memory;
		int max_conns;
		int read_timeout;	/* seconds: a request head, whole, from its first byte */
		int write_timeout;	/* seconds of grace before min_rate applies to a response */
		int idle_timeout;
		int shutdown_timeout;
		long long min_rate;	/* bytes/s bodies and responses must average; 0: off */
		size_t body_buffer_size;	/* bodies up to this arrive whole before the handler */
		long long max_temp_file_size;	/* response bytes queued on disk per connection */
	} limits;

	struct module_config modules[MAX_MODULES];
	int nmodules;
	struct program_config program;	/* path NULL: none, modules serve */

	char *at[AT_COUNT];
};

/* How messages name the settings a program gives sl_serve in code. */
#define CONFIG_IN_CODE "in-code settings"

/*
 * What a program that serves itself (sl_serve) says in code.  They fill
 * in what the config file leaves out, key by key: the file wins.
 */
struct config_builtin {
	const char *listen;	/* `listen` where the file has none; NULL: none */
	int workers;		/* pm.max_children where the file has none; 0: none */
	const char *module;	/* the program's path: its own module is built in; NULL: none */
};

/*
 * Set, once at start-up, what every later config_load fills in.  With a
 * built-in module, `modules` may be left out (the program's module then
 * serves at "/"), and the one entry without `path` is the program's own.
 */
void config_set_builtin(const struct config_builtin *b);

/*
 * Which pool of a file with `pools` every later config_load reads: the
 * top level with that pool's keys laid over it.  NULL (the default): a
 * file with pools yields the top-level keys and the pools' names alone.
 */
void config_select_pool(const char *name);

/*
 * Parse `path` into `cfg`; a NULL `path` reads no file, only what
 * config_set_builtin gave.  On failure returns -1 and writes one line
 * "FILE:LINE: what is wrong" into `err`.  The struct owns its strings;
 * config_free releases them.
 */
int config_load(const char *path, struct sl_config *cfg, char *err, size_t errlen);

/* config_load of pool `pool` of `path` alone, whatever config_select_pool set. */
int config_load_pool(const char *path, const char *pool, struct sl_config *cfg, char *err,
		     size_t errlen);

/* The pools' names, joined with ", " into `buf`. */
void config_pool_names(const struct pool_names *names, char *buf, size_t len);
void config_free(struct sl_config *cfg);

/*
 * Ask the system about what `cfg` names, without changing anything: the
 * users and groups exist (and the master is root, which alone can become
 * them), host names resolve, the folders of sockets, logs and the pid
 * file exist and are writable, chdir is a folder, rlimits can be had.
 * What would otherwise fail after start (or in every worker, in a loop)
 * fails here, before anything is bound or forked.  Returns 0, or -1 with
 * "FILE:LINE: what is wrong" in `err`.  config_check.c.
 */
int config_check(const struct sl_config *cfg, char *err, size_t errlen);

/* Whether config_check looks at the listen addresses (not under mod_fcgid). */
void config_check_listeners(int used);

#endif
