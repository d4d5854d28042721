/*
 * config_value.h - the syntax of config values, apart from libconfig.
 *
 * config.c walks the file with libconfig and hands the strings it finds
 * here: sizes ("64K"), durations ("500ms", "30s"), listen addresses,
 * socket modes, mounts, the text of a source line, and the "did you
 * mean" of an unknown key.  Nothing here knows about settings or files
 * beyond reading one line; a message written into `why` is the part of an
 * error that comes after "FILE:LINE: ".
 */
#ifndef SLUICE_CONFIG_VALUE_H
#define SLUICE_CONFIG_VALUE_H

#include <stddef.h>
#include <sys/types.h>

/* Parsing a number with a unit has three outcomes. */
enum config_value_status {
	CONFIG_VALUE_OK = 0,
	CONFIG_VALUE_SYNTAX = -1,	/* not this kind of value at all */
	CONFIG_VALUE_TOO_BIG = -2,	/* well written, but above the maximum */
};

/* The keys one level of the file accepts. */
struct config_keyset {
	const char *prefix;		/* "" at the top, else the group's name;
					   NULL: never suggested from another level */
	const char *const *names;	/* NULL-terminated */
};

/* Sizes: digits with an optional K, M or G (binary, either case). */
int config_value_size(const char *str, long long max, long long *out);

/*
 * Durations into milliseconds: digits alone are seconds, or digits with
 * an ms, s, m or h suffix ("500ms", "30s", "5m", "1h").
 */
int config_value_duration(const char *str, long long max_ms, long long *ms);

/* Permission bits written as octal digits, "0660"; 0 or -1. */
int config_value_mode(const char *str, mode_t *out);

/*
 * A listen address: "unix:PATH" or a path containing '/' is a unix
 * socket, "host:port" or "[v6]:port" is TCP (a numeric host checked
 * strictly), and a bare name is refused.  Returns 0 and sets *path to the
 * unix socket path (after any "unix:"), or to NULL for a host:port that
 * passed its checks; -1 with the reason in `why`.
 */
int config_value_address(const char *key, const char *addr, const char **path,
			 char *why, size_t size);

/*
 * Split "host:port" or "[v6]:port" (an IPv6 host must be bracketed, so
 * that its colons are not taken for the port's; "*" is refused, as every
 * address must be spelled out; the port is 1 to 65535 in digits only).
 * "localhost" and any name under ".localhost" give the host "127.0.0.1",
 * without asking the resolver (RFC 6761, 6.3).  Returns NULL with `host`
 * and `port` filled, or a phrase saying what is wrong.  Used by the config, the listener and the development listener,
 * so that all three read an address the same way.
 */
const char *config_value_host_port(const char *addr, char *host, size_t hostlen,
				   char port[6]);

/* A module mount, "/" or "/api"; 0, or -1 with the reason in `why`. */
int config_value_mount(const char *key, const char *mount, char *why, size_t size);

/* The key that `name`, unknown at level `here`, probably stands for. */
const char *config_value_suggest(const struct config_keyset *sets, size_t nsets,
				 const struct config_keyset *here, const char *name,
				 const struct config_keyset **where);

/*
 * What sluice has instead of php-fpm's `key` (its full dotted name,
 * "pm.status_path"), as a phrase; NULL when it is not one of php-fpm's.
 */
const char *config_value_hint(const char *key);

/* The dotted name ("listen.owner") `line` starts with, into `name`; 0 or -1. */
int config_value_dotted_name(const char *line, char *name, size_t size);

/* Line `line` (1-based) of `file` into `buf`; 0, or -1 when it cannot be had. */
int config_value_source_line(const char *file, unsigned line, char *buf, size_t size);

/*
 * The integer literal written after "name =" (or "name:") in `line`:
 * CONFIG_VALUE_OK with *out, CONFIG_VALUE_SYNTAX when there is none,
 * CONFIG_VALUE_TOO_BIG when it does not fit in a long long.
 */
int config_value_literal(const char *line, const char *name, long long *out);

/* Does `line` start with a dotted name, as php-fpm's "pm.max_children"? */
int config_value_dotted(const char *line);

#endif
