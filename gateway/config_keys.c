/*
 * config_keys.c - the table of config keys, and what is read from it
 * without libconfig: defaults, the known keys of each group, and the
 * effective config as lines of text.
 *
 * A key is added here, once, and in README.md's configuration table
 * (test_config_keys.c checks that both name the same keys).  A key of a
 * plain type is then parsed, range-checked, defaulted, suggested and
 * shown with nothing more to write; one with rules of its own also needs
 * its function in config.c.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys.h"

/* Where a key's value lives: a field of struct sl_config or of a listener. */
#define CFG(f)	offsetof(struct sl_config, f), sizeof(((struct sl_config *)0)->f)
#define LC(f)	offsetof(struct listen_config, f), sizeof(((struct listen_config *)0)->f)
/* A value that is not one field: a list, a group, an array of strings. */
#define CFGX(f)	offsetof(struct sl_config, f), 0
#define LCX(f)	offsetof(struct listen_config, f), 0
#define NOWHERE	0, 0

/* Numbers are stored as int or as 8 bytes (long long, size_t): nothing else. */
_Static_assert(sizeof(size_t) == sizeof(long long), "size_t fields are stored as long long");

static const struct config_key table[] = {
	/* group, name, type, where, min, max, default, default string, doc, origin */
	{ "", "error_log", CK_PATH, CFG(error_log), 0, 0, 0, "stderr", "\"stderr\" or a file, appended", AT_ERROR_LOG },
	{ "", "log_level", CK_LOG_LEVEL, CFG(log_level), 0, 0, LOG_NOTICE, NULL, "error, warning, notice, info or debug", AT_NONE },
	{ "", "user", CK_STRING, CFG(user), 0, 0, 0, NULL, "the user workers switch to", AT_USER },
	{ "", "group", CK_STRING, CFG(group), 0, 0, 0, NULL, "the group workers switch to, with user", AT_GROUP },
	{ "", "listen", CK_LISTEN, NOWHERE, 0, 0, 0, NULL, "the addresses served: one, a group, or a list", AT_NONE },
	{ "", "pm", CK_GROUP, NOWHERE, 0, 0, 0, NULL, "the worker pool", AT_NONE },
	{ "", "limits", CK_GROUP, NOWHERE, 0, 0, 0, NULL, "what one request or connection may take", AT_NONE },
	{ "", "modules", CK_MODULES, NOWHERE, 0, 0, 0, NULL, "the modules served, ( { path = \"x.so\"; }, ... )", AT_NONE },
	{ "", "request_terminate_timeout", CK_SECONDS, CFG(request_terminate_timeout), 0, MAX_SECONDS, 0, NULL, "seconds a handler may run; 0: off", AT_NONE },
	{ "", "request_slowlog_timeout", CK_SECONDS, CFG(request_slowlog_timeout), 0, MAX_SECONDS, 0, NULL, "seconds before a running handler's backtrace is logged; 0: off", AT_NONE },
	{ "", "slowlog", CK_PATH, CFG(slowlog), 0, 0, 0, NULL, "file for slow-request backtraces; unset: error_log", AT_SLOWLOG },
	{ "", "emergency_restart_threshold", CK_INT, CFG(emergency_restart_threshold), 0, MAX_EMERGENCY_RESTART_THRESHOLD, 0, NULL, "workers dying of a signal within the interval that reload all; 0: off", AT_NONE },
	{ "", "emergency_restart_interval", CK_SECONDS, CFG(emergency_restart_interval), 1, MAX_SECONDS, DEFAULT_EMERGENCY_RESTART_INTERVAL, NULL, "seconds, for emergency_restart_threshold", AT_NONE },
	{ "", "access_log", CK_PATH, CFG(access_log), 0, 0, 0, NULL, "file for one line per request; unset: none", AT_ACCESS_LOG },
	{ "", "access_format", CK_STRING, CFG(access_format), 0, 0, 0, DEFAULT_ACCESS_FORMAT, "the access log's line, php-fpm's letters", AT_NONE },
	{ "", "request_id", CK_GROUP, NOWHERE, 0, 0, 0, NULL, "where a request's id comes from and goes", AT_NONE },
	{ "", "status", CK_GROUP, NOWHERE, 0, 0, 0, NULL, "the status responder's socket; unset: off", AT_NONE },
	{ "", "pid", CK_PATH, CFG(pid_file), 0, 0, 0, NULL, "the file the master writes its pid into", AT_PID },
	{ "", "clear_env", CK_BOOL, CFG(clear_env), 0, 1, 1, NULL, "workers start from an empty environment plus env", AT_NONE },
	{ "", "env", CK_ENV, NOWHERE, 0, 0, 0, NULL, "variables for the workers; \"$NAME\": the master's", AT_NONE },
	{ "", "chdir", CK_STRING, CFG(chdir), 0, 0, 0, "/", "the folder workers run in", AT_CHDIR },
	{ "", "rlimit_files", CK_RLIMIT, CFG(rlimit_files), 1, MAX_CONNS, CONFIG_RLIMIT_KEEP, NULL, "workers' open file limit", AT_RLIMIT_FILES },
	/* No core by default: a worker's core holds requests' secrets. */
	{ "", "rlimit_core", CK_RLIMIT, CFG(rlimit_core), 0, MAX_BYTES, 0, NULL, "workers' core file size, or \"unlimited\"", AT_RLIMIT_CORE },
	{ "", "program", CK_GROUP, NOWHERE, 0, 0, 0, NULL, "a FastCGI program to supervise instead of modules", AT_NONE },
	{ "", "seccomp", CK_BOOL, CFG(seccomp), 0, 1, 0, NULL, "workers install a system call allow-list", AT_NONE },
	{ "", "seccomp_allow", CK_SYSCALLS, CFGX(seccomp_allow), 0, 0, 0, NULL, "system calls added to the allow-list", AT_NONE },
	{ "", "pools", CK_POOLS, NOWHERE, 0, 0, 0, NULL, "several pools, each its own keys over the top level's", AT_NONE },

	{ "listen", "address", CK_ADDRESS, LC(address), 0, 0, 0, NULL, "unix:PATH, a path with a '/', or host:port", AT_NONE },
	{ "listen", "protocol", CK_PROTOCOL, LC(protocol), 0, 0, LISTEN_FASTCGI, NULL, "fastcgi or uwsgi", AT_NONE },
	{ "listen", "backlog", CK_INT, LC(backlog), 1, MAX_BACKLOG, DEFAULT_BACKLOG, NULL, "the listen queue length", AT_NONE },
	{ "listen", "mode", CK_MODE, LC(mode), 0, 0777, 0660, NULL, "unix socket permissions", AT_NONE },
	{ "listen", "owner", CK_STRING, LC(owner), 0, 0, 0, NULL, "unix socket owner", AT_NONE },
	{ "listen", "group", CK_STRING, LC(group), 0, 0, 0, NULL, "unix socket group", AT_NONE },
	{ "listen", "allowed_clients", CK_ALLOWED, LCX(allowed), 0, 0, 0, NULL, "TCP only: the client addresses served", AT_NONE },

	{ "pm", "mode", CK_PM_MODE, CFG(pm.mode), 0, 0, PM_STATIC, NULL, "static, dynamic or ondemand", AT_NONE },
	{ "pm", "max_children", CK_INT, CFG(pm.max_children), 1, MAX_MAX_CHILDREN, DEFAULT_MAX_CHILDREN, NULL, "the most workers at once", AT_NONE },
	{ "pm", "start_servers", CK_INT, CFG(pm.start_servers), 1, MAX_MAX_CHILDREN, 0, NULL, "dynamic: workers at start (php-fpm's formula)", AT_NONE },
	{ "pm", "min_spare_servers", CK_INT, CFG(pm.min_spare_servers), 1, MAX_MAX_CHILDREN, DEFAULT_MIN_SPARE, NULL, "dynamic: fewer idle workers, start more", AT_NONE },
	{ "pm", "max_spare_servers", CK_INT, CFG(pm.max_spare_servers), 1, MAX_MAX_CHILDREN, DEFAULT_MAX_SPARE, NULL, "dynamic: more idle workers, stop one", AT_NONE },
	{ "pm", "max_spawn_rate", CK_INT, CFG(pm.max_spawn_rate), 1, MAX_MAX_CHILDREN, DEFAULT_MAX_SPAWN_RATE, NULL, "dynamic: most workers started per second", AT_NONE },
	{ "pm", "process_idle_timeout", CK_SECONDS, CFG(pm.process_idle_timeout), 1, MAX_SECONDS, DEFAULT_PROCESS_IDLE_TIMEOUT, NULL, "ondemand: seconds before an idle worker leaves", AT_NONE },
	{ "pm", "max_requests", CK_INT, CFG(pm.max_requests), 0, INT_MAX, 0, NULL, "requests before a worker is replaced; 0: never", AT_NONE },
	{ "pm", "max_requests_jitter", CK_INT, CFG(pm.max_requests_jitter), 0, INT_MAX, DEFAULT_MAX_REQUESTS_JITTER, NULL, "each worker adds 0..jitter to max_requests", AT_NONE },
	{ "pm", "min_recycle_interval", CK_MS, CFG(pm.min_recycle_interval_ms), 0, MAX_MS, DEFAULT_MIN_RECYCLE_INTERVAL_MS, NULL, "at least this long between two recycles", AT_NONE },
	{ "pm", "reload_on_rss", CK_SIZE, CFG(pm.reload_on_rss), 0, MAX_BYTES, 0, NULL, "replace a worker past this resident size; 0: off", AT_NONE },

	{ "limits", "max_params_bytes", CK_SIZE, CFG(limits.max_params_bytes), 1, MAX_MAX_PARAMS_BYTES, DEFAULT_MAX_PARAMS_BYTES, NULL, "bytes of parameters per request", AT_NONE },
	{ "limits", "max_params", CK_INT, CFG(limits.max_params), 1, MAX_MAX_PARAMS, DEFAULT_MAX_PARAMS, NULL, "parameters per request", AT_NONE },
	{ "limits", "max_header_bytes", CK_SIZE, CFG(limits.max_header_bytes), 1, MAX_MAX_HEADER_BYTES, DEFAULT_MAX_HEADER_BYTES, NULL, "bytes of response head a handler may build", AT_NONE },
	{ "limits", "max_body_bytes", CK_SIZE, CFG(limits.max_body_bytes), 1, MAX_BYTES, DEFAULT_MAX_BODY_BYTES, NULL, "request body size", AT_NONE },
	{ "limits", "max_request_memory", CK_SIZE, CFG(limits.max_request_memory), MIN_REQUEST_MEMORY, MAX_BYTES, DEFAULT_MAX_REQUEST_MEMORY, NULL, "sl_alloc memory per request", AT_NONE },
	{ "limits", "max_conns", CK_INT, CFG(limits.max_conns), 1, MAX_CONNS, DEFAULT_MAX_CONNS, NULL, "connections one worker holds", AT_NONE },
	{ "limits", "read_timeout", CK_SECONDS, CFG(limits.read_timeout), 1, MAX_SECONDS, DEFAULT_READ_TIMEOUT, NULL, "seconds for a whole request head", AT_NONE },
	{ "limits", "write_timeout", CK_SECONDS, CFG(limits.write_timeout), 1, MAX_SECONDS, DEFAULT_WRITE_TIMEOUT, NULL, "seconds of grace before min_rate applies to a response", AT_NONE },
	{ "limits", "idle_timeout", CK_SECONDS, CFG(limits.idle_timeout), 1, MAX_SECONDS, DEFAULT_IDLE_TIMEOUT, NULL, "seconds an idle kept-alive connection is kept", AT_NONE },
	{ "limits", "shutdown_timeout", CK_SECONDS, CFG(limits.shutdown_timeout), 1, MAX_SECONDS, DEFAULT_SHUTDOWN_TIMEOUT, NULL, "seconds workers get to finish when stopped", AT_NONE },
	{ "limits", "min_rate", CK_SIZE, CFG(limits.min_rate), 0, MAX_MIN_RATE, DEFAULT_MIN_RATE, NULL, "bytes a second bodies and responses must average", AT_NONE },
	{ "limits", "body_buffer_size", CK_SIZE, CFG(limits.body_buffer_size), 0, MAX_BODY_BUFFER_SIZE, DEFAULT_BODY_BUFFER_SIZE, NULL, "bodies up to this arrive whole before the handler", AT_NONE },
	{ "limits", "max_temp_file_size", CK_SIZE, CFG(limits.max_temp_file_size), 0, MAX_BYTES, DEFAULT_MAX_TEMP_FILE_SIZE, NULL, "response bytes one connection may queue on disk", AT_NONE },

	{ "modules", "path", CK_MODULES, NOWHERE, 0, 0, 0, NULL, "the module's .so", AT_NONE },
	{ "modules", "mount", CK_MODULES, NOWHERE, 0, 0, 0, "/", "the URL prefix of its routes", AT_NONE },
	{ "modules", "settings", CK_MODULES, NOWHERE, 0, 0, 0, NULL, "keys the module reads in init", AT_NONE },

	{ "request_id", "param", CK_NAME_OR_OFF, CFG(request_id_param), 0, 0, 0, DEFAULT_REQUEST_ID_PARAM, "the parameter an incoming id is taken from", AT_NONE },
	{ "request_id", "header", CK_NAME_OR_OFF, CFG(request_id_header), 0, 0, 0, DEFAULT_REQUEST_ID_HEADER, "the response header that carries the id", AT_NONE },

	{ "status", "listen", CK_ADDRESS, LC(address), 0, 0, 0, NULL, "the status responder's FastCGI socket", AT_NONE },
	{ "status", "mode", CK_MODE, LC(mode), 0, 0777, 0660, NULL, "unix socket permissions", AT_NONE },
	{ "status", "owner", CK_STRING, LC(owner), 0, 0, 0, NULL, "unix socket owner", AT_NONE },
	{ "status", "group", CK_STRING, LC(group), 0, 0, 0, NULL, "unix socket group", AT_NONE },

	{ "program", "path", CK_EXECUTABLE, CFG(program.path), 0, 0, 0, NULL, "the executable to supervise", AT_PROGRAM },
	{ "program", "args", CK_ARGS, CFGX(program.argv), 0, 0, 0, NULL, "its arguments, argv[1] onwards", AT_NONE },
	{ "program", "max_lifetime", CK_SECONDS, CFG(program.max_lifetime), 0, MAX_SECONDS, 0, NULL, "seconds before a copy is replaced; 0: never", AT_NONE },
};

#define NKEYS	(sizeof(table) / sizeof(table[0]))

/*
 * The table's groups: each a level of the file, with the keys it accepts.
 * A module's keys have no prefix in their set: they are suggested only
 * inside a module, never for a key written elsewhere.
 */
static const char *const groups[] = { "", "listen", "pm", "limits", "modules",
				      "request_id", "status", "program" };

#define NGROUPS		(sizeof(groups) / sizeof(groups[0]))
#define MAX_GROUP_KEYS	32

const struct config_key *config_keys(size_t *n)
{
	*n = NKEYS;
	return table;
}

const struct config_key *config_keys_find(const char *group, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(table[i].group, group) == 0 && strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

int config_keys_plain(const struct config_key *k)
{
	return k->type <= CK_MODE;
}

/* ---- Known keys ------------------------------------------------------- */

static const char *names[NGROUPS][MAX_GROUP_KEYS + 1];
static struct config_keyset sets[NGROUPS];

/*
 * Fill the name lists from the table on first use.  Writing the same
 * pointers again is harmless, so there is nothing to guard.
 */
static void fill_sets(void)
{
	for (size_t g = 0; g < NGROUPS; g++) {
		size_t n = 0;

		for (size_t i = 0; i < NKEYS && n < MAX_GROUP_KEYS; i++)
			if (strcmp(table[i].group, groups[g]) == 0)
				names[g][n++] = table[i].name;
		names[g][n] = NULL;
		sets[g].prefix = strcmp(groups[g], "modules") == 0 ? NULL : groups[g];
		sets[g].names = names[g];
	}
}

const struct config_keyset *config_keys_sets(size_t *n)
{
	if (!sets[0].names)
		fill_sets();
	*n = NGROUPS;
	return sets;
}

const struct config_keyset *config_keys_set(const char *group)
{
	size_t n;

	config_keys_sets(&n);
	for (size_t g = 0; g < n; g++)
		if (strcmp(groups[g], group) == 0)
			return &sets[g];
	return NULL;
}

/* ---- Values in the struct --------------------------------------------- */

/* Store number `v` in `k`'s field of `base`, an int or 8 bytes wide. */
static void store(const struct config_key *k, void *base, long long v)
{
	char *at = (char *)base + k->offset;
	int i = (int)v;

	if (k->width == sizeof(int))
		memcpy(at, &i, sizeof(i));
	else
		memcpy(at, &v, sizeof(v));
}

static long long fetch(const struct config_key *k, const void *base)
{
	const char *at = (const char *)base + k->offset;
	long long v;
	int i;

	if (k->width == sizeof(int)) {
		memcpy(&i, at, sizeof(i));
		return i;
	}
	memcpy(&v, at, sizeof(v));
	return v;
}

static int is_string(const struct config_key *k)
{
	return k->type == CK_STRING || k->type == CK_PATH || k->type == CK_NAME_OR_OFF
	       || k->type == CK_ADDRESS || k->type == CK_EXECUTABLE;
}

static const char *string_of(const struct config_key *k, const void *base)
{
	const char *s;

	memcpy(&s, (const char *)base + k->offset, sizeof(s));
	return s;
}

/* Whether the keys of `group` are fields of a struct listen_config. */
static int of_listener(const char *group)
{
	return strcmp(group, "listen") == 0 || strcmp(group, "status") == 0;
}

/*
 * The default of every key that is one field of `base` and whose group
 * `want` accepts (`want` NULL: every group whose keys are sl_config's).
 */
static int defaults(const char *want, void *base)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &table[i];
		char **s = (char **)(void *)((char *)base + k->offset);

		if (k->width == 0 || (want ? strcmp(k->group, want) != 0 : of_listener(k->group)))
			continue;
		if (!is_string(k)) {
			store(k, base, k->def);
		} else if (k->def_str) {
			free(*s);
			*s = strdup(k->def_str);
			if (!*s)
				return -1;
		}
	}
	return 0;
}

int config_keys_defaults(struct sl_config *cfg)
{
	return defaults(NULL, cfg);
}

int config_keys_listener_defaults(const char *group, struct listen_config *lc)
{
	return defaults(group, lc);
}

/* ---- The effective config, as text ------------------------------------ */

/* Where show's lines go, and the text of the one being built. */
struct shower {
	const struct sl_config *cfg;
	void (*line)(void *arg, const char *text);
	void *arg;
	char buf[2048];
	size_t len;
};

static void add(struct shower *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct shower *sh, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sh->len >= sizeof(sh->buf))
		return;
	va_start(ap, fmt);
	n = vsnprintf(sh->buf + sh->len, sizeof(sh->buf) - sh->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		sh->len += (size_t)n;
}

/* End the line being built with `k`'s doc, and hand it over. */
static void emit(struct shower *sh, const struct config_key *k)
{
	if (k->doc)
		add(sh, "  # %s", k->doc);
	if (sh->len >= sizeof(sh->buf))
		sh->len = sizeof(sh->buf) - 1;
	sh->buf[sh->len] = '\0';
	sh->line(sh->arg, sh->buf);
	sh->len = 0;
}

/* `s` as libconfig reads a string: quoted, its quotes and backslashes escaped. */
static void add_string(struct shower *sh, const char *s, const char *none)
{
	if (!s) {
		add(sh, "%s", none);
		return;
	}
	add(sh, "\"");
	for (; *s; s++)
		add(sh, "%s%c", *s == '"' || *s == '\\' ? "\\" : "", *s);
	add(sh, "\"");
}

/* A NULL-ended array of strings as [ "a", "b" ]. */
static void add_strings(struct shower *sh, char *const *v, int n)
{
	add(sh, "[");
	for (int i = 0; i < n && v[i]; i++)
		add(sh, "%s \"%s\"", i ? "," : "", v[i]);
	add(sh, " ]");
}

static void add_allowed(struct shower *sh, const struct allow_list *al)
{
	char ip[INET6_ADDRSTRLEN];

	if (al->n == 0) {
		add(sh, "(every client)");
		return;
	}
	add(sh, "\"");
	for (int i = 0; i < al->n; i++) {
		inet_ntop(al->addr[i].family, al->addr[i].addr, ip, sizeof(ip));
		add(sh, "%s%s", i ? ", " : "", ip);
	}
	add(sh, "\"");
}

static void add_rlimit(struct shower *sh, long long v)
{
	if (v == CONFIG_RLIMIT_KEEP)
		add(sh, "(the master's)");
	else if (v == CONFIG_RLIMIT_NONE)
		add(sh, "\"unlimited\"");
	else
		add(sh, "%lld", v);
}

/* The value of a key that is one field of `base`, as the file would write it. */
static void add_value(struct shower *sh, const struct config_key *k, const void *base)
{
	static const char *const levels[] = { "error", "warning", "notice", "info", "debug" };
	static const char *const modes[] = { "static", "dynamic", "ondemand" };
	static const char *const protocols[] = { "fastcgi", "uwsgi" };
	long long v = k->width && !is_string(k) ? fetch(k, base) : 0;

	switch (k->type) {
	case CK_INT: case CK_SIZE: case CK_SECONDS:
		add(sh, "%lld", v);
		break;
	case CK_MS:
		add(sh, "\"%lldms\"", v);
		break;
	case CK_STRING: case CK_PATH: case CK_ADDRESS: case CK_EXECUTABLE:
		add_string(sh, string_of(k, base), "(unset)");
		break;
	case CK_NAME_OR_OFF:
		add_string(sh, string_of(k, base), "false");
		break;
	case CK_BOOL:
		add(sh, "%s", v ? "true" : "false");
		break;
	case CK_MODE:
		add(sh, "\"%04llo\"", (unsigned long long)v);
		break;
	case CK_LOG_LEVEL:
		add(sh, "\"%s\"", levels[v]);
		break;
	case CK_PM_MODE:
		add(sh, "\"%s\"", modes[v]);
		break;
	case CK_PROTOCOL:
		add(sh, "\"%s\"", protocols[v]);
		break;
	case CK_RLIMIT:
		add_rlimit(sh, v);
		break;
	case CK_ALLOWED:
		add_allowed(sh, (const struct allow_list *)(const void *)((const char *)base + k->offset));
		break;
	case CK_SYSCALLS:
		add_strings(sh, sh->cfg->seccomp_allow, sh->cfg->nseccomp_allow);
		break;
	case CK_ARGS:
		add_strings(sh, sh->cfg->program.argv + (sh->cfg->program.path ? 1 : 0),
			    MAX_PROGRAM_ARGS + 1);
		break;
	default:
		add(sh, "(see below)");
		break;
	}
}

static void show_group(struct shower *sh, const char *group, const char *prefix,
		       const void *base);

static void show_env(struct shower *sh, const struct config_key *k)
{
	const struct sl_config *c = sh->cfg;

	if (c->nenv == 0) {
		add(sh, "env = { }");
		emit(sh, k);
	}
	for (int i = 0; i < c->nenv; i++) {
		add(sh, "env.%s = \"%s%s\"", c->env[i].name, c->env[i].pass ? "$" : "",
		    c->env[i].value);
		emit(sh, k);
	}
}

static void show_modules(struct shower *sh, const struct config_key *k)
{
	const struct sl_config *c = sh->cfg;

	if (c->nmodules == 0) {
		add(sh, "modules = ( )");
		emit(sh, k);
	}
	for (int i = 0; i < c->nmodules; i++) {
		const struct module_config *mc = &c->modules[i];

		add(sh, "modules[%d] = { path = \"%s\"; mount = \"%s\"; settings = {", i,
		    mc->path, mc->mount);
		for (int j = 0; j < mc->nsettings; j++)
			add(sh, " %s;", mc->settings[j].name);
		add(sh, " }; }%s", mc->builtin ? " (the program's own)" : "");
		emit(sh, k);
	}
}

/* The file's pools, and which of them these keys are. */
static void show_pools(struct shower *sh, const struct config_key *k)
{
	const struct sl_config *c = sh->cfg;

	add(sh, "pools = %s", c->pools.n ? "" : "(none)");
	for (int i = 0; i < c->pools.n; i++)
		add(sh, "%s%s", i ? ", " : "", c->pools.name[i]);
	if (c->pool)
		add(sh, " (these keys are pool %s's)", c->pool);
	emit(sh, k);
}

static void show_listen(struct shower *sh, const struct config_key *k)
{
	const struct sl_config *c = sh->cfg;
	char prefix[32];

	if (c->nlisten == 0) {
		add(sh, "listen = (unset: the socket is handed over)");
		emit(sh, k);
	}
	for (int i = 0; i < c->nlisten; i++) {
		if (c->nlisten == 1)
			snprintf(prefix, sizeof(prefix), "listen.");
		else
			snprintf(prefix, sizeof(prefix), "listen[%d].", i);
		show_group(sh, "listen", prefix, &c->listen[i]);
	}
}

/* One top-level key that is more than one field. */
static void show_compound(struct shower *sh, const struct config_key *k)
{
	char prefix[32];

	if (k->type == CK_LISTEN)
		show_listen(sh, k);
	else if (k->type == CK_MODULES)
		show_modules(sh, k);
	else if (k->type == CK_ENV)
		show_env(sh, k);
	else if (k->type == CK_POOLS)
		show_pools(sh, k);
	else if (strcmp(k->name, "status") == 0 && sh->cfg->status.address)
		show_group(sh, "status", "status.", &sh->cfg->status);
	else if (strcmp(k->name, "status") == 0) {
		add(sh, "status = (unset)");
		emit(sh, k);
	} else {
		snprintf(prefix, sizeof(prefix), "%s.", k->name);
		show_group(sh, k->name, prefix, sh->cfg);
	}
}

static void show_group(struct shower *sh, const char *group, const char *prefix,
		       const void *base)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &table[i];

		if (strcmp(k->group, group) != 0)
			continue;
		if (k->type == CK_GROUP || k->type == CK_LISTEN || k->type == CK_ENV
		    || k->type == CK_MODULES || k->type == CK_POOLS) {
			show_compound(sh, k);
			continue;
		}
		add(sh, "%s%s = ", prefix, k->name);
		add_value(sh, k, base);
		emit(sh, k);
	}
}

void config_keys_show(const struct sl_config *cfg,
		      void (*line)(void *arg, const char *text), void *arg)
{
	struct shower sh = { .cfg = cfg, .line = line, .arg = arg };

	add(&sh, "file = \"%s\"", cfg->file);
	sh.line(arg, sh.buf);
	sh.len = 0;
	show_group(&sh, "", "", cfg);
}
