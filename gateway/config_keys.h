/*
 * config_keys.h - every config key, declared once.
 *
 * One row per key, in the manner of nginx's ngx_command_t and php-fpm's
 * ini_vars: its group, name, type, where it lives in the struct, its
 * range, its default and a line of documentation.  From this table come
 * the parsing of plain values (config.c), the defaults, the known keys
 * behind unknown-key errors and "did you mean", and the effective config
 * the development pages show.  README.md's configuration table documents
 * the same keys, and a unit test holds the two together.
 *
 * Keys whose reading has rules of its own (addresses, the pool's mode,
 * modules, env, ...) are rows too, of a type that config.c parses by hand:
 * they are known, defaulted and shown from here like the rest.
 */
#ifndef SLUICE_CONFIG_KEYS_H
#define SLUICE_CONFIG_KEYS_H

#include <stddef.h>

#include "config.h"
#include "config_value.h"

/*
 * Bounds the parser accepts where defaults.h has none.  They are wide: they
 * only catch values that can only be typos, and keep the arithmetic done
 * on them later (sums of sizes, seconds * 1000) far from overflow.
 */
#define MAX_BACKLOG	65535		/* the kernel caps it at somaxconn anyway */
#define MAX_BYTES	(1LL << 40)	/* 1 TiB for one request's body or memory */
#define MAX_CONNS	(1 << 20)	/* the kernel's default fs.nr_open */
#define MAX_SECONDS	86400		/* a timeout over a day is a mistake */
#define MAX_MS		(MAX_SECONDS * 1000LL)

/*
 * An extra arena block is never smaller than ARENA_BLOCK_SIZE, so a
 * smaller max_request_memory would refuse every request that needs one.
 */
#define MIN_REQUEST_MEMORY	ARENA_BLOCK_SIZE

enum config_key_type {
	/* Read by config.c's one loop over the table. */
	CK_INT,		/* an integer in [min, max] */
	CK_SIZE,	/* bytes: an integer or "64K", in [min, max] */
	CK_SECONDS,	/* whole seconds, or "30s", "5m", from min to a day */
	CK_MS,		/* milliseconds, "500ms" or "2s", up to a day */
	CK_STRING,	/* a non-empty string */
	CK_PATH,	/* a file, relative to the config's folder, or "stderr" */
	CK_NAME_OR_OFF,	/* a non-empty string, or false for none */
	CK_BOOL,	/* true or false */
	CK_MODE,	/* permission bits, "0660" */
	/* Read by a function of their own in config.c. */
	CK_GROUP,	/* a group of the keys whose group is this key's name */
	CK_LOG_LEVEL,
	CK_PM_MODE,
	CK_RLIMIT,	/* a number, CONFIG_RLIMIT_KEEP or _NONE */
	CK_ADDRESS,	/* a listen address */
	CK_LISTEN,	/* one address or group, or a list of them */
	CK_PROTOCOL,
	CK_ALLOWED,	/* listen.allowed_clients */
	CK_ENV,
	CK_SYSCALLS,	/* seccomp_allow */
	CK_EXECUTABLE,	/* program.path */
	CK_ARGS,	/* program.args */
	CK_MODULES,	/* the modules list, and each entry's keys */
	CK_POOLS,	/* pools, a group per pool (config_pools.h) */
};

/*
 * One key.  `offset` and `width` place its value in struct sl_config, or
 * in a struct listen_config for the keys of listen and status; a width of
 * 0 means the value is not one field (a list, a group).  `def` is the
 * default of a number, `def_str` of a string (NULL: unset).
 */
struct config_key {
	const char *group;		/* "" at the top, "pm", "limits", ... */
	const char *name;
	enum config_key_type type;
	size_t offset;
	size_t width;
	long long min, max;
	long long def;
	const char *def_str;
	const char *doc;
	enum config_at at;	/* the cfg->at slot of where it was written, or AT_NONE */
};

/* The table, in the order keys are read and suggested; `*n` rows. */
const struct config_key *config_keys(size_t *n);

/* The row of `group`'s key `name`; NULL when there is none. */
const struct config_key *config_keys_find(const char *group, const char *name);

/* Whether config.c's loop reads `k` (else a function of its own does). */
int config_keys_plain(const struct config_key *k);

/*
 * The keys each group accepts, for check_keys and config_value_suggest:
 * `*n` sets, the one of `group` found with config_keys_set.
 */
const struct config_keyset *config_keys_sets(size_t *n);
const struct config_keyset *config_keys_set(const char *group);

/*
 * Set the default of every key that is one field of `cfg`, of any group
 * but a listener's; strings are strdup'ed.  Returns -1 when out of memory.
 */
int config_keys_defaults(struct sl_config *cfg);

/* The same for one listener, of group "listen" or "status". */
int config_keys_listener_defaults(const char *group, struct listen_config *lc);

/*
 * Call `line` once for each key of `cfg` with its effective value, as
 * "group.name = value  # doc", groups of listeners and modules once per
 * entry: the whole configuration sluice runs with.
 */
void config_keys_show(const struct sl_config *cfg,
		      void (*line)(void *arg, const char *text), void *arg);

#endif
