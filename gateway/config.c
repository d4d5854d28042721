/*
 * config.c - the configuration file, read once into a struct sl_config.
 *
 * This is the only file that sees libconfig.  It parses the file, refuses
 * any key it does not know (with a suggestion when the name looks like a
 * typo), any value of the wrong type and any number out of range, and
 * resolves relative paths against the config file's folder, so that
 * nothing later depends on the directory sluice was started from.
 *
 * Every error is one line, "FILE:LINE: what is wrong", naming the key by
 * its dotted path ("pm.max_children", "modules[1].mount").  An error that
 * belongs to the whole file (it cannot be read, a required key is
 * missing) has no line: "FILE: what is wrong".
 *
 * Every key is a row of the table in config_keys.c: its type, range and
 * default.  The keys of plain types are read by one loop over it
 * (parse_keys); the rest by a function each, below.  The syntax of single
 * values (sizes, durations, addresses, modes) and the "did you mean"
 * guesses live in config_value.c; this file walks the settings and holds
 * the rules between keys, php-fpm's among them.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <libconfig.h>

#include "access.h"
#include "config.h"
#include "config_include.h"
#include "config_pools.h"
#include "config_keys.h"
#include "config_value.h"
#include "header.h"
#include "sandbox.h"

/*
 * A worker's own resident memory is a megabyte or more, so a smaller
 * pm.reload_on_rss would recycle every worker without end: it is read as
 * a unit mistake ("256" meant as uWSGI's megabytes).
 */
#define MIN_RELOAD_ON_RSS	(1LL << 20)


/* The state of one config_load call; nothing here outlives it. */
struct loader {
	struct sl_config *cfg;
	char *dir;		/* the config file's folder, absolute */
	char *err;
	size_t errlen;
};

/* What the program gives in code (sl_serve); zero: a plain sluice. */
static struct config_builtin builtin;

/* The pool config_load reads from a file with pools; NULL: the top level. */
static const char *selected_pool;

void config_select_pool(const char *name)
{
	selected_pool = name;
}

void config_set_builtin(const struct config_builtin *b)
{
	builtin = *b;
}

/* ---- Reporting ------------------------------------------------------- */

/*
 * The path of the file that `file` (a name libconfig recorded, NULL for
 * the main file) refers to.  libconfig records an included file by the
 * name written in @include, which it looked up in the config's folder:
 * give the path that can be opened from anywhere, in `buf` if needed.
 */
static const char *source_path(const struct loader *ld, const char *file,
			       char *buf, size_t size)
{
	if (!file || strcmp(file, ld->cfg->file) == 0)
		return ld->cfg->file;
	if (file[0] == '/')
		return file;
	snprintf(buf, size, "%s/%s", ld->dir, file);
	return buf;
}

/*
 * Write "FILE:LINE: message" (or "FILE: message" when `s` is NULL) into
 * the caller's buffer.  Returns -1, so that callers can `return fail(...)`.
 */
static int fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	char buf[PATH_MAX];
	const char *file;
	va_list ap;
	int n;

	if (ld->errlen == 0)
		return -1;
	file = source_path(ld, s ? config_setting_source_file(s) : NULL, buf, sizeof(buf));
	/* Only a setting added from the program's code has no line. */
	if (s && config_setting_source_line(s) == 0)
		file = CONFIG_IN_CODE;
	if (s && config_setting_source_line(s) > 0)
		n = snprintf(ld->err, ld->errlen, "%s:%u: ", file,
			     (unsigned)config_setting_source_line(s));
	else
		n = snprintf(ld->err, ld->errlen, "%s: ", file);
	if (n < 0 || (size_t)n >= ld->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_nomem(struct loader *ld, const config_setting_t *s)
{
	return fail(ld, s, "out of memory");
}

/*
 * Keep "FILE:LINE" of setting `s` in *at, for the checks config_check
 * makes once the whole file is read.  An absent setting leaves *at NULL.
 */
static int note_origin(struct loader *ld, const config_setting_t *s, char **at)
{
	char buf[PATH_MAX];

	if (!s)
		return 0;
	free(*at);
	if (config_setting_source_line(s) == 0)
		*at = strdup(CONFIG_IN_CODE);
	else if (asprintf(at, "%s:%u", source_path(ld, config_setting_source_file(s), buf,
						    sizeof(buf)),
			  (unsigned)config_setting_source_line(s)) < 0)
		*at = NULL;
	if (!*at)
		return fail_nomem(ld, s);
	return 0;
}

/* "a string", "a group", ... for "X must be an integer, not a string". */
static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:	return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:	return "an integer";
	case CONFIG_TYPE_FLOAT:	return "a fraction";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL:	return "a boolean";
	case CONFIG_TYPE_ARRAY:	return "an array";
	case CONFIG_TYPE_LIST:	return "a list";
	default:		return "empty";
	}
}

/* ---- Unknown keys ---------------------------------------------------- */

static int known(const char *const *names, const char *name)
{
	for (; *names; names++)
		if (strcmp(*names, name) == 0)
			return 1;
	return 0;
}

/*
 * Refuse any member of `group` that the table (config_keys.h) does not
 * give to `keys`, the group's name there ("" at the top, "modules").
 * `path` is the group's dotted name as the user sees it ("modules[2]").
 */
static int check_keys(struct loader *ld, const config_setting_t *group,
		      const char *keys, const char *path)
{
	const struct config_keyset *ks = config_keys_set(keys);
	char hint[160] = "";
	const struct config_keyset *where, *sets;
	const config_setting_t *s;
	const char *name, *want, *prefix;
	size_t nsets;

	for (int i = 0; i < config_setting_length(group); i++) {
		s = config_setting_get_elem(group, (unsigned)i);
		name = config_setting_name(s);
		if (known(ks->names, name))
			continue;
		snprintf(hint, sizeof(hint), "%s%s%s", path, *path ? "." : "", name);
		if (config_value_hint(hint))
			return fail(ld, s, "unknown key \"%s\": %s", hint,
				    config_value_hint(hint));
		hint[0] = '\0';
		sets = config_keys_sets(&nsets);
		want = config_value_suggest(sets, nsets, ks, name, &where);
		if (want) {
			prefix = where == ks ? path : where->prefix;
			snprintf(hint, sizeof(hint), " (did you mean \"%s%s%s\"?)",
				 prefix, *prefix ? "." : "", want);
		}
		return fail(ld, s, "unknown key \"%s%s%s\"%s", path, *path ? "." : "",
			    name, hint);
	}
	return 0;
}

/* ---- Values ---------------------------------------------------------- */

/* The part of a dotted key after the last dot: the member's own name. */
static const char *leaf(const char *key)
{
	const char *dot = strrchr(key, '.');

	return dot ? dot + 1 : key;
}

/* The member of `group` that `key` names, NULL when absent. */
static const config_setting_t *member(const config_setting_t *group, const char *key)
{
	return config_setting_get_member(group, leaf(key));
}

/*
 * libconfig 1.5 reads an integer literal that does not fit in 32 bits as
 * the wrapped value, without a word (5000000000 becomes 705032704),
 * unless it ends in L.  Read the literal again from the source line and
 * say whether it disagrees with the value libconfig gave, so that such a
 * number is refused rather than silently misread.
 */
static int int_wrapped(const struct loader *ld, const config_setting_t *s)
{
	const char *name = config_setting_name(s);
	char path[PATH_MAX], line[1024];
	const char *file;
	long long v;
	int r;

	file = source_path(ld, config_setting_source_file(s), path, sizeof(path));
	if (!name || config_value_source_line(file, config_setting_source_line(s),
					      line, sizeof(line)) < 0)
		return 0;
	r = config_value_literal(line, name, &v);
	return r == CONFIG_VALUE_TOO_BIG
	       || (r == CONFIG_VALUE_OK && v != config_setting_get_int64(s));
}

/*
 * The integer in `s` into *out.  Strings are the caller's business; here
 * anything but an integer is an error.
 */
static int integer(struct loader *ld, const config_setting_t *s, const char *key,
		   long long *out)
{
	int type = config_setting_type(s);

	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
		return fail(ld, s, "%s must be an integer, not %s", key, type_name(s));
	if (type == CONFIG_TYPE_INT && int_wrapped(ld, s))
		return fail(ld, s, "%s is too large for a plain integer: write it "
			    "with an L suffix (5000000000L) or as a string", key);
	*out = config_setting_get_int64(s);
	return 0;
}

static int in_range(struct loader *ld, const config_setting_t *s, const char *key,
		    long long v, long long min, long long max)
{
	if (v < min || v > max)
		return fail(ld, s, "%s must be between %lld and %lld, not %lld",
			    key, min, max, v);
	return 0;
}

/*
 * A byte count: an integer, or a string with an optional binary K, M or
 * G suffix ("64K" is 65536), checked against [min, max].
 */
static int size_value(struct loader *ld, const config_setting_t *s, const char *key,
		      long long min, long long max, long long *out)
{
	const char *str;
	long long v;
	int r;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		if (integer(ld, s, key, &v) < 0)
			return -1;
	} else {
		str = config_setting_get_string(s);
		r = config_value_size(str, MAX_BYTES, &v);
		if (r == CONFIG_VALUE_SYNTAX)
			return fail(ld, s, "%s must be a size such as 65536, \"64K\", "
				    "\"8M\" or \"1G\", not \"%s\"", key, str);
		if (r == CONFIG_VALUE_TOO_BIG)
			return fail(ld, s, "%s must be between %lld and %lld, not \"%s\"",
				    key, min, max, str);
	}
	if (in_range(ld, s, key, v, min, max) < 0)
		return -1;
	*out = v;
	return 0;
}

/*
 * A duration into *ms: an integer of seconds, or a string with an ms, s,
 * m or h suffix, between `min` seconds and a day.  A key that counts in
 * `whole` seconds refuses "1500ms" rather than round it.
 */
static int duration_value(struct loader *ld, const config_setting_t *s, const char *key,
			  int min, int whole, long long *ms)
{
	const char *str;
	long long v;
	int r;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		if (integer(ld, s, key, &v) < 0 || in_range(ld, s, key, v, min, MAX_SECONDS) < 0)
			return -1;
		*ms = v * 1000;
		return 0;
	}
	str = config_setting_get_string(s);
	r = config_value_duration(str, MAX_MS, ms);
	if (r == CONFIG_VALUE_SYNTAX)
		return fail(ld, s, "%s must be a duration such as %s, not \"%s\"", key,
			    whole ? "30, \"30s\", \"5m\" or \"1h\""
				  : "1, \"500ms\", \"2s\" or \"1m\"", str);
	if (r == CONFIG_VALUE_TOO_BIG)
		return fail(ld, s, "%s must be between %d and %d seconds, not \"%s\"",
			    key, min, MAX_SECONDS, str);
	if (whole && *ms % 1000)
		return fail(ld, s, "%s is a whole number of seconds, not \"%s\"", key, str);
	return in_range(ld, s, key, *ms / 1000, min, MAX_SECONDS);
}

/* An optional integer in [min, max]; *out keeps its default when absent. */
static int get_int(struct loader *ld, const config_setting_t *group, const char *key,
		   long long min, long long max, int *out)
{
	const config_setting_t *s = member(group, key);
	long long v;

	if (!s)
		return 0;
	if (integer(ld, s, key, &v) < 0 || in_range(ld, s, key, v, min, max) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int get_size(struct loader *ld, const config_setting_t *group, const char *key,
		    long long min, long long max, long long *out)
{
	const config_setting_t *s = member(group, key);

	return s ? size_value(ld, s, key, min, max, out) : 0;
}

/* Whole seconds, at least `min` (0 where 0 means off), at most a day. */
static int get_seconds(struct loader *ld, const config_setting_t *group,
		       const char *key, int min, int *out)
{
	const config_setting_t *s = member(group, key);
	long long ms;

	if (!s)
		return 0;
	if (duration_value(ld, s, key, min, 1, &ms) < 0)
		return -1;
	*out = (int)(ms / 1000);
	return 0;
}

/* Milliseconds, from 0 to a day. */
static int get_ms(struct loader *ld, const config_setting_t *group, const char *key,
		  int *out)
{
	const config_setting_t *s = member(group, key);
	long long ms;

	if (!s)
		return 0;
	if (duration_value(ld, s, key, 0, 0, &ms) < 0)
		return -1;
	*out = (int)ms;
	return 0;
}

/* A non-empty string from `s`. */
static int string_value(struct loader *ld, const config_setting_t *s, const char *key,
			const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(ld, s, "%s must be a string, not %s", key, type_name(s));
	*out = config_setting_get_string(s);
	if (**out == '\0')
		return fail(ld, s, "%s must not be empty", key);
	return 0;
}

/* An optional non-empty string, copied into *out (replacing its default). */
static int get_string(struct loader *ld, const config_setting_t *group, const char *key,
		      char **out)
{
	const config_setting_t *s = member(group, key);
	const char *str;
	char *copy;

	if (!s)
		return 0;
	if (string_value(ld, s, key, &str) < 0)
		return -1;
	copy = strdup(str);
	if (!copy)
		return fail_nomem(ld, s);
	free(*out);
	*out = copy;
	return 0;
}

/* An optional group; NULL in *out when absent. */
static int get_group(struct loader *ld, const config_setting_t *parent, const char *key,
		     const config_setting_t **out)
{
	const config_setting_t *s = member(parent, key);

	*out = NULL;
	if (s && !config_setting_is_group(s))
		return fail(ld, s, "%s must be a group ({ ... }), not %s", key, type_name(s));
	*out = s;
	return 0;
}

/* `path` as is when absolute, else below the config file's folder. */
static char *resolve(const struct loader *ld, const char *path)
{
	char *out;

	if (path[0] == '/')
		return strdup(path);
	if (asprintf(&out, "%s%s%s", ld->dir,
		     ld->dir[strlen(ld->dir) - 1] == '/' ? "" : "/", path) < 0)
		return NULL;
	return out;
}

/*
 * An optional log file path into *out, a relative one resolved against
 * the config folder; "stderr" is kept as written, for the caller to take
 * or refuse.
 */
static int get_path(struct loader *ld, const config_setting_t *group, const char *key,
		    char **out)
{
	char *abs;

	if (get_string(ld, group, key, out) < 0)
		return -1;
	if (!*out || (*out)[0] == '/' || strcmp(*out, "stderr") == 0)
		return 0;
	abs = resolve(ld, *out);
	if (!abs)
		return fail_nomem(ld, member(group, key));
	free(*out);
	*out = abs;
	return 0;
}

/*
 * A string that `false` turns off: *out keeps its default when the key is
 * absent, and becomes NULL for false.
 */
static int get_string_or_off(struct loader *ld, const config_setting_t *group,
			     const char *key, char **out)
{
	const config_setting_t *s = member(group, key);

	if (s && config_setting_type(s) == CONFIG_TYPE_BOOL) {
		if (config_setting_get_bool(s))
			return fail(ld, s, "%s is a name, or false to turn it off; "
				    "true means nothing", key);
		free(*out);
		*out = NULL;
		return 0;
	}
	return get_string(ld, group, key, out);
}

/* An optional true or false; *out keeps its default when absent. */
static int get_bool(struct loader *ld, const config_setting_t *group, const char *key,
		    int *out)
{
	const config_setting_t *s = member(group, key);

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(ld, s, "%s must be true or false, not %s", key, type_name(s));
	*out = config_setting_get_bool(s);
	return 0;
}

/*
 * The socket's permission bits: a string of octal digits ("0660"), or an
 * integer written as chmod takes it (660 and 0660 both mean rw-rw----,
 * since libconfig has no octal literals) or in hex (0x1b0).
 */
static int get_mode(struct loader *ld, const config_setting_t *group, const char *key,
		    mode_t *out)
{
	const config_setting_t *s = member(group, key);
	const char *str;
	char digits[32];
	long long v;

	if (!s)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		str = config_setting_get_string(s);
	} else {
		if (integer(ld, s, key, &v) < 0)
			return -1;
		if (config_setting_get_format(s) == CONFIG_FORMAT_HEX)
			snprintf(digits, sizeof(digits), "%llo", v);
		else
			snprintf(digits, sizeof(digits), "%lld", v);
		str = digits;
	}
	if (config_value_mode(str, out) < 0)
		return fail(ld, s, "%s must be permission bits in octal, such "
			    "as \"0660\", not \"%s\"", key, str);
	return 0;
}

/*
 * One plain key (config_keys_plain) of `group` into its field of `base`,
 * which keeps the default when the key is absent.  Numbers of 8 bytes
 * are long long or size_t fields, read and written as long long.
 */
static int parse_key(struct loader *ld, const config_setting_t *group, const char *key,
		     const struct config_key *k, void *base)
{
	char *at = (char *)base + k->offset;
	long long v;
	int rc;

	switch (k->type) {
	case CK_INT:
		return get_int(ld, group, key, k->min, k->max, (int *)(void *)at);
	case CK_SIZE:
		memcpy(&v, at, sizeof(v));
		rc = get_size(ld, group, key, k->min, k->max, &v);
		memcpy(at, &v, sizeof(v));
		return rc;
	case CK_SECONDS:
		return get_seconds(ld, group, key, (int)k->min, (int *)(void *)at);
	case CK_MS:
		return get_ms(ld, group, key, (int *)(void *)at);
	case CK_STRING:
		return get_string(ld, group, key, (char **)(void *)at);
	case CK_PATH:
		return get_path(ld, group, key, (char **)(void *)at);
	case CK_NAME_OR_OFF:
		return get_string_or_off(ld, group, key, (char **)(void *)at);
	case CK_BOOL:
		return get_bool(ld, group, key, (int *)(void *)at);
	case CK_MODE:
		return get_mode(ld, group, key, (mode_t *)(void *)at);
	default:
		return 0;	/* read by a function of its own */
	}
}

/*
 * Keep where each key of `keys` that config_check looks at was written,
 * for its errors (config.h, enum config_at).
 */
static int note_origins(struct loader *ld, const config_setting_t *group, const char *keys)
{
	const struct config_key *table;
	size_t n;

	table = config_keys(&n);
	for (size_t i = 0; i < n; i++)
		if (table[i].at != AT_NONE && strcmp(table[i].group, keys) == 0
		    && note_origin(ld, config_setting_get_member(group, table[i].name),
				   &ld->cfg->at[table[i].at]) < 0)
			return -1;
	return 0;
}

/*
 * Every plain key the table gives `keys` ("pm", "" at the top), from the
 * libconfig group `group` into `base`, in the table's order.  `path` is
 * how messages name the group: "pm", "listen[1]", "" at the top.
 */
static int parse_keys(struct loader *ld, const config_setting_t *group, const char *keys,
		      const char *path, void *base)
{
	const struct config_key *table;
	char key[96];
	size_t n;

	table = config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i].group, keys) != 0 || !config_keys_plain(&table[i]))
			continue;
		snprintf(key, sizeof(key), "%s%s%s", path, *path ? "." : "", table[i].name);
		if (parse_key(ld, group, key, &table[i], base) < 0)
			return -1;
	}
	return note_origins(ld, group, keys);
}

/* ---- listen ---------------------------------------------------------- */

/*
 * The listening address: a unix socket is stored as an absolute path
 * (without "unix:"), a relative one resolved against the config folder;
 * host:port is stored as written.
 */
static int parse_address(struct loader *ld, const config_setting_t *s, const char *key,
			 struct listen_config *lc)
{
	const size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	const char *addr, *path;
	char why[256];
	size_t len;

	if (string_value(ld, s, key, &addr) < 0)
		return -1;
	if (config_value_address(key, addr, &path, why, sizeof(why)) < 0)
		return fail(ld, s, "%s", why);
	if (note_origin(ld, s, &lc->at) < 0)
		return -1;
	lc->address = path ? resolve(ld, path) : strdup(addr);
	if (!lc->address)
		return fail_nomem(ld, s);
	len = strlen(lc->address);
	if (path && len > sun_max)
		return fail(ld, s, "%s: the socket path %s is %zu bytes long, and a "
			    "unix socket path can have at most %zu",
			    key, lc->address, len, sun_max);
	for (int i = 0; i < ld->cfg->nlisten; i++)
		if (&ld->cfg->listen[i] != lc && strcmp(ld->cfg->listen[i].address, lc->address) == 0)
			return fail(ld, s, "%s: %s is already a listen address", key, lc->address);
	return 0;
}

static int parse_protocol(struct loader *ld, const config_setting_t *group, const char *key,
			  struct listen_config *lc)
{
	const config_setting_t *s = member(group, key);
	const char *name;

	if (!s)
		return 0;
	if (string_value(ld, s, key, &name) < 0)
		return -1;
	if (strcmp(name, "fastcgi") == 0)
		lc->protocol = LISTEN_FASTCGI;
	else if (strcmp(name, "uwsgi") == 0)
		lc->protocol = LISTEN_UWSGI;
	else
		return fail(ld, s, "%s must be \"fastcgi\" or \"uwsgi\", not \"%s\"", key, name);
	return 0;
}

/*
 * listen.allowed_clients, php-fpm's list of the addresses a TCP listener
 * serves.  A unix socket has no peer address to compare: who may connect
 * to it is its mode, owner and group, so the key is refused there rather
 * than ignored.
 */
static int parse_allowed(struct loader *ld, const config_setting_t *group, const char *key,
			 struct listen_config *lc)
{
	const config_setting_t *s = member(group, key);
	const char *list;
	char why[256];

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(ld, s, "%s must be a string of addresses, such as "
			    "\"127.0.0.1, ::1\", not %s", key, type_name(s));
	list = config_setting_get_string(s);
	if (lc->address[0] == '/')
		return fail(ld, s, "%s applies to TCP listeners; %s is a unix socket, "
			    "whose mode, owner and group say who may connect", key, lc->address);
	if (allow_parse(list, &lc->allowed, why, sizeof(why)) < 0)
		return fail(ld, s, "%s %s", key, why);
	return 0;
}

/*
 * One listener: an address string, or a group.  `name` is how messages
 * call it: "listen", or "listen[1]" inside a list.
 */
static int parse_listener(struct loader *ld, const config_setting_t *s, const char *name)
{
	struct listen_config *lc = &ld->cfg->listen[ld->cfg->nlisten++];
	const config_setting_t *addr;
	char key[3][48];

	if (config_keys_listener_defaults("listen", lc) < 0)
		return fail_nomem(ld, s);
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return parse_address(ld, s, name, lc);
	if (!config_setting_is_group(s))
		return fail(ld, s, "%s must be an address string or a group, not %s",
			    name, type_name(s));
	if (check_keys(ld, s, "listen", name) < 0)
		return -1;
	snprintf(key[0], sizeof(key[0]), "%s.address", name);
	snprintf(key[1], sizeof(key[1]), "%s.protocol", name);
	snprintf(key[2], sizeof(key[2]), "%s.allowed_clients", name);
	addr = member(s, key[0]);
	if (!addr)
		return fail(ld, s, "%s is missing", key[0]);
	if (parse_address(ld, addr, key[0], lc) < 0
	    || parse_protocol(ld, s, key[1], lc) < 0
	    || parse_keys(ld, s, "listen", name, lc) < 0
	    || parse_allowed(ld, s, key[2], lc) < 0)
		return -1;
	return 0;
}

/*
 * `listen` is one listener (a string or a group) or a list of them, each
 * with its own protocol: listen = ( "/run/a.sock", { address = "/run/b.sock";
 * protocol = "uwsgi"; } ).  It may be left out here: a sluice started by
 * mod_fcgid is handed its socket, and main.c asks for `listen` otherwise.
 */
static int parse_listen(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *s = member(root, "listen");
	char name[32];
	int n;

	if (!s)
		return 0;
	if (!config_setting_is_list(s))
		return parse_listener(ld, s, "listen");
	n = config_setting_length(s);
	if (n == 0)
		return fail(ld, s, "listen is an empty list: give at least one address");
	if (n > MAX_LISTEN)
		return fail(ld, s, "listen has %d addresses; at most %d are served", n, MAX_LISTEN);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "listen[%d]", i);
		if (parse_listener(ld, config_setting_get_elem(s, (unsigned)i), name) < 0)
			return -1;
	}
	return 0;
}

/*
 * `status = { listen = "/run/sluice/status.sock"; mode = "0660"; }`: the
 * status responder's FastCGI socket (status.h).  Off when left out.
 */
static int parse_status(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *s = member(root, "status"), *addr;
	struct listen_config *lc = &ld->cfg->status;

	/* The status socket has no backlog or protocol key: a listener's defaults. */
	lc->backlog = DEFAULT_BACKLOG;
	lc->protocol = LISTEN_FASTCGI;
	if (config_keys_listener_defaults("status", lc) < 0)
		return fail_nomem(ld, s);
	if (!s)
		return 0;
	if (!config_setting_is_group(s))
		return fail(ld, s, "status must be a group, such as status = { listen = "
			    "\"/run/sluice/status.sock\"; }, not %s", type_name(s));
	if (check_keys(ld, s, "status", "status") < 0)
		return -1;
	addr = member(s, "status.listen");
	if (!addr)
		return fail(ld, s, "status.listen is missing: say where the status "
			    "responder accepts connections");
	if (parse_address(ld, addr, "status.listen", lc) < 0
	    || parse_keys(ld, s, "status", "status", lc) < 0)
		return -1;
	return 0;
}

/* ---- pm -------------------------------------------------------------- */

static int parse_pm_mode(struct loader *ld, const config_setting_t *pm)
{
	static const char *const modes[] = {
		[PM_STATIC] = "static", [PM_DYNAMIC] = "dynamic", [PM_ONDEMAND] = "ondemand",
	};
	const config_setting_t *s = member(pm, "pm.mode");
	const char *mode;

	if (!s)
		return 0;
	if (string_value(ld, s, "pm.mode", &mode) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(mode, modes[i]) == 0) {
			ld->cfg->pm.mode = (enum pm_mode)i;
			return 0;
		}
	}
	return fail(ld, s, "pm.mode must be \"static\", \"dynamic\" or \"ondemand\", "
		    "not \"%s\"", mode);
}

/*
 * The rules between the keys that replace workers by fresh ones.  Like
 * php-fpm, keys of another mode (spare servers in a static pool) are
 * accepted and range-checked, then ignored.
 */
static int check_recycling(struct loader *ld, const config_setting_t *pm)
{
	struct sl_config *cfg = ld->cfg;

	if (cfg->pm.max_requests_jitter > INT_MAX - cfg->pm.max_requests)
		return fail(ld, member(pm, "pm.max_requests_jitter"), "pm.max_requests (%d) "
			    "plus pm.max_requests_jitter (%d) must be at most %d",
			    cfg->pm.max_requests, cfg->pm.max_requests_jitter, INT_MAX);
	if (cfg->pm.reload_on_rss > 0 && cfg->pm.reload_on_rss < MIN_RELOAD_ON_RSS)
		return fail(ld, member(pm, "pm.reload_on_rss"), "pm.reload_on_rss is in "
			    "bytes, and %lld is less than a worker's own size: write a size "
			    "such as \"256M\", or 0 for off", cfg->pm.reload_on_rss);
	return 0;
}

static int written(const config_setting_t *pm, const char *key)
{
	return pm && member(pm, key);
}

/*
 * php-fpm has no defaults for the spare counts; ours (defaults.h) are cut
 * to max_children in a smaller pool, so that a small dynamic pool needs
 * no more than its mode.  start_servers, unless written, is php-fpm's
 * min_spare + (max_spare - min_spare) / 2.
 */
static void pm_defaults(struct sl_config *cfg, const config_setting_t *pm)
{
	if (!written(pm, "pm.max_spare_servers")
	    && cfg->pm.max_spare_servers > cfg->pm.max_children)
		cfg->pm.max_spare_servers = cfg->pm.max_children;
	if (!written(pm, "pm.min_spare_servers")
	    && cfg->pm.min_spare_servers > cfg->pm.max_spare_servers)
		cfg->pm.min_spare_servers = cfg->pm.max_spare_servers;
	if (!written(pm, "pm.start_servers"))
		cfg->pm.start_servers = cfg->pm.min_spare_servers
			+ (cfg->pm.max_spare_servers - cfg->pm.min_spare_servers) / 2;
}

/* "pm.max_children (4)", or "pm.max_children (2, the default)". */
static const char *shown(const config_setting_t *pm, const char *key, int v,
			 char *buf, size_t size)
{
	snprintf(buf, size, "%s (%d%s)", key, v, member(pm, key) ? "" : ", the default");
	return buf;
}

/*
 * "`a` must be `rel` `b`" was broken: say so at the line of `a`, or of
 * `b` when `a` was not written.
 */
static int conflict(struct loader *ld, const config_setting_t *pm, const char *a, int va,
		    const char *rel, const char *b, int vb)
{
	const config_setting_t *at = member(pm, a) ? member(pm, a) : member(pm, b);
	char sa[64], sb[64];

	return fail(ld, at ? at : pm, "%s must be %s %s", shown(pm, a, va, sa, sizeof(sa)),
		    rel, shown(pm, b, vb, sb, sizeof(sb)));
}

/* php-fpm's checks of a dynamic pool (fpm_conf.c), errors here. */
static int check_dynamic(struct loader *ld, const config_setting_t *pm)
{
	int children = ld->cfg->pm.max_children, start = ld->cfg->pm.start_servers;
	int min = ld->cfg->pm.min_spare_servers, max = ld->cfg->pm.max_spare_servers;

	if (min > children)
		return conflict(ld, pm, "pm.min_spare_servers", min, "at most",
				"pm.max_children", children);
	if (max > children)
		return conflict(ld, pm, "pm.max_spare_servers", max, "at most",
				"pm.max_children", children);
	if (max < min)
		return conflict(ld, pm, "pm.max_spare_servers", max, "at least",
				"pm.min_spare_servers", min);
	if (start < min)
		return conflict(ld, pm, "pm.start_servers", start, "at least",
				"pm.min_spare_servers", min);
	if (start > max)
		return conflict(ld, pm, "pm.start_servers", start, "at most",
				"pm.max_spare_servers", max);
	return 0;
}

/*
 * Every key first, then the defaults that depend on them, then the rules
 * between them: pm.max_children may come after the spare counts.
 */
static int parse_pm(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *pm;

	if (get_group(ld, root, "pm", &pm) < 0)
		return -1;
	if (pm && (check_keys(ld, pm, "pm", "pm") < 0
		   || parse_pm_mode(ld, pm) < 0
		   || parse_keys(ld, pm, "pm", "pm", ld->cfg) < 0
		   || check_recycling(ld, pm) < 0))
		return -1;
	pm_defaults(ld->cfg, pm);
	if (ld->cfg->pm.mode == PM_DYNAMIC)
		return check_dynamic(ld, pm);
	return 0;
}

/* ---- The request watchdog -------------------------------------------- */

/*
 * The rules of php-fpm's top-level request_*_timeout, slowlog and
 * emergency_restart_*, read with the other plain keys (parse_process).
 * A slowlog timeout at or past the terminate timeout would never fire, so
 * php-fpm's warning is an error here.
 */
static int parse_watchdog(struct loader *ld, const config_setting_t *root)
{
	struct sl_config *cfg = ld->cfg;

	if (cfg->slowlog && strcmp(cfg->slowlog, "stderr") == 0)
		return fail(ld, member(root, "slowlog"), "slowlog must be a file; leave it "
			    "unset to write slow-request reports to error_log");
	if (cfg->request_terminate_timeout > 0
	    && cfg->request_slowlog_timeout >= cfg->request_terminate_timeout)
		return fail(ld, member(root, "request_slowlog_timeout"),
			    "request_slowlog_timeout (%ds) must be less than "
			    "request_terminate_timeout (%ds), or requests are stopped "
			    "before they are reported slow", cfg->request_slowlog_timeout,
			    cfg->request_terminate_timeout);
	return 0;
}

/* ---- limits and modules ---------------------------------------------- */

/* limits = { ... }: every key plain, with no rule between them. */
static int parse_limits(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *g;

	if (get_group(ld, root, "limits", &g) < 0)
		return -1;
	if (!g)
		return 0;
	if (check_keys(ld, g, "limits", "limits") < 0
	    || parse_keys(ld, g, "limits", "limits", ld->cfg) < 0)
		return -1;
	return 0;
}

/*
 * One member of a module's settings group, kept with its type and its
 * place in the file: the module says which type it wants only in init.
 */
static int parse_setting(struct loader *ld, const config_setting_t *s, const char *key,
			 struct module_setting *ms)
{
	char buf[PATH_MAX];
	long long v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		ms->type = SETTING_STRING;
		ms->v.str = strdup(config_setting_get_string(s));
		if (!ms->v.str)
			return fail_nomem(ld, s);
		break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		if (integer(ld, s, key, &v) < 0)
			return -1;
		ms->type = SETTING_INT;
		ms->v.i = v;
		break;
	case CONFIG_TYPE_FLOAT:
		ms->type = SETTING_DOUBLE;
		ms->v.d = config_setting_get_float(s);
		break;
	case CONFIG_TYPE_BOOL:
		ms->type = SETTING_BOOL;
		ms->v.b = config_setting_get_bool(s);
		break;
	default:
		return fail(ld, s, "%s must be a string, an integer, a fraction or a "
			    "boolean, not %s", key, type_name(s));
	}
	ms->name = strdup(config_setting_name(s));
	ms->file = strdup(source_path(ld, config_setting_source_file(s), buf, sizeof(buf)));
	ms->line = (int)config_setting_source_line(s);
	if (!ms->name || !ms->file)
		return fail_nomem(ld, s);
	return 0;
}

/*
 * settings = { db = "/var/lib/notes.db"; page_size = 20; }: any keys, as
 * the module defines them, of any scalar type.
 */
static int parse_settings(struct loader *ld, const config_setting_t *entry, int i)
{
	struct module_config *mc = &ld->cfg->modules[i];
	const config_setting_t *g;
	char key[160];
	int n;

	snprintf(key, sizeof(key), "modules[%d].settings", i);
	if (get_group(ld, entry, key, &g) < 0)
		return -1;
	if (!g)
		return 0;
	n = config_setting_length(g);
	mc->settings = calloc((size_t)n + 1, sizeof(*mc->settings));
	if (!mc->settings)
		return fail_nomem(ld, g);
	for (int j = 0; j < n; j++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)j);

		snprintf(key, sizeof(key), "modules[%d].settings.%s", i, config_setting_name(s));
		mc->nsettings = j + 1;
		if (parse_setting(ld, s, key, &mc->settings[j]) < 0)
			return -1;
	}
	return 0;
}

/* The index of the entry that is the program's own module, or -1. */
static int builtin_entry(const struct loader *ld)
{
	for (int i = 0; i < ld->cfg->nmodules; i++)
		if (ld->cfg->modules[i].builtin)
			return i;
	return -1;
}

/*
 * A program that serves itself and whose config has no `modules`: its
 * own module, alone, at "/", without settings.
 */
static int builtin_alone(struct loader *ld)
{
	struct module_config *mc = &ld->cfg->modules[0];

	mc->builtin = 1;
	mc->path = strdup(builtin.module);
	mc->mount = strdup("/");
	if (!mc->path || !mc->mount)
		return fail_nomem(ld, NULL);
	ld->cfg->nmodules = 1;
	return 0;
}

static int parse_module(struct loader *ld, const config_setting_t *s, int i)
{
	struct module_config *mc = &ld->cfg->modules[i];
	const config_setting_t *p;
	char where[24], key[32], why[256];
	const char *str;

	snprintf(where, sizeof(where), "modules[%d]", i);
	if (!config_setting_is_group(s))
		return fail(ld, s, "%s must be a group ({ path = \"...\"; }), not %s",
			    where, type_name(s));
	if (check_keys(ld, s, "modules", where) < 0)
		return -1;
	mc->line = (int)config_setting_source_line(s);

	snprintf(key, sizeof(key), "modules[%d].path", i);
	p = member(s, key);
	if (!p && !builtin.module)
		return fail(ld, s, "%s is missing", key);
	if (!p && builtin_entry(ld) >= 0)
		return fail(ld, s, "%s is missing: modules[%d] is already the program's own "
			    "module (the entry without path), and there is only one",
			    key, builtin_entry(ld));
	if (p && string_value(ld, p, key, &str) < 0)
		return -1;
	mc->builtin = !p;
	mc->path = p ? resolve(ld, str) : strdup(builtin.module);
	if (!mc->path)
		return fail_nomem(ld, p ? p : s);

	snprintf(key, sizeof(key), "modules[%d].mount", i);
	p = member(s, key);
	str = "/";
	if (p && string_value(ld, p, key, &str) < 0)
		return -1;
	if (p && config_value_mount(key, str, why, sizeof(why)) < 0)
		return fail(ld, p, "%s", why);
	mc->mount = strdup(str);
	if (!mc->mount)
		return fail_nomem(ld, p ? p : s);
	return parse_settings(ld, s, i);
}

static int parse_modules(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *list = member(root, "modules");
	int n;

	if (!list && builtin.module)
		return builtin_alone(ld);
	if (!list && ld->cfg->program.path)
		return 0;
	if (!list)
		return fail(ld, NULL, "modules is missing: at least one module is "
			    "required, e.g. modules = ( { path = \"hello.so\"; } ); (or a "
			    "program = { path = \"...\"; } to supervise)");
	if (ld->cfg->program.path)
		return fail(ld, list, "modules and program are two kinds of pool, and a "
			    "pool runs one of them: keep one, or run each in a pool of its own "
			    "(pools = { app = { modules = ...; }; legacy = { program = ...; }; })");
	if (!config_setting_is_list(list))
		return fail(ld, list, "modules must be a list of groups, "
			    "( { path = \"...\"; }, ... ), not %s", type_name(list));
	n = config_setting_length(list);
	if (n == 0)
		return fail(ld, list, "modules is empty: at least one module is required");
	for (int i = 0; i < n; i++) {
		if (i == MAX_MODULES)
			return fail(ld, config_setting_get_elem(list, (unsigned)i),
				    "too many modules: at most %d", MAX_MODULES);
		if (parse_module(ld, config_setting_get_elem(list, (unsigned)i), i) < 0)
			return -1;
		ld->cfg->nmodules = i + 1;
	}
	if (builtin.module && builtin_entry(ld) < 0)
		return fail(ld, list, "modules names no entry for the program's own module: "
			    "add one without path, e.g. { mount = \"/\"; }");
	return 0;
}

/*
 * request_id = { param = "HTTP_X_REQUEST_ID"; header = "X-Request-Id"; }:
 * the parameter an incoming id is taken from, and the response header it
 * is sent back in; false turns either off.
 */
static int parse_request_id(struct loader *ld, const config_setting_t *root)
{
	struct sl_config *cfg = ld->cfg;
	const config_setting_t *g;

	if (get_group(ld, root, "request_id", &g) < 0 || !g)
		return 0;
	if (check_keys(ld, g, "request_id", "request_id") < 0
	    || parse_keys(ld, g, "request_id", "request_id", cfg) < 0)
		return -1;
	if (cfg->request_id_header && (!header_name_ok(cfg->request_id_header) ||
				       strlen(cfg->request_id_header) > REQUEST_ID_HEADER_MAX))
		return fail(ld, member(g, "request_id.header"), "request_id.header \"%s\" is "
			    "not a header name (up to %d letters, digits and !#$%%&'*+-.^_`|~)",
			    cfg->request_id_header, REQUEST_ID_HEADER_MAX);
	return 0;
}

/*
 * access_log (a file; unset: no access log) and access_format, read with
 * the other plain keys and checked here, so that a bad format is refused
 * at start with its line, not met by the first request.
 */
static int parse_access(struct loader *ld, const config_setting_t *root)
{
	struct sl_config *cfg = ld->cfg;
	char why[256];

	if (cfg->access_log && strcmp(cfg->access_log, "stderr") == 0)
		return fail(ld, member(root, "access_log"), "access_log must be a file; "
			    "leave it unset for no access log");
	if (access_format_check(cfg->access_format, why, sizeof(why)) < 0)
		return fail(ld, member(root, "access_format"), "access_format: %s", why);
	return parse_request_id(ld, root);
}

/*
 * The plain top-level keys, all read here (config_keys.h), with where
 * those config_check looks at were written; then the rule between user
 * and group, and the log level.  The rules of the other top-level keys
 * come with their concern below.
 */
static int parse_process(struct loader *ld, const config_setting_t *root)
{
	struct sl_config *cfg = ld->cfg;
	const config_setting_t *s;
	const char *str;
	int level;

	if (parse_keys(ld, root, "", "", cfg) < 0)
		return -1;
	/* Workers switch to `user`, taking `group` as its group: alone, a
	 * group would be ignored. */
	if (cfg->group && !cfg->user)
		return fail(ld, member(root, "group"), "group is set without user: workers "
			    "change group only with user (user = \"www-data\";)");
	s = member(root, "log_level");
	if (!s)
		return 0;
	if (string_value(ld, s, "log_level", &str) < 0)
		return -1;
	level = log_level_parse(str);
	if (level < 0)
		return fail(ld, s, "log_level must be error, warning, notice, info or "
			    "debug, not \"%s\"", str);
	cfg->log_level = (enum log_level)level;
	return 0;
}

/* ---- How workers start ---------------------------------------------- */

/*
 * env = { NAME = "value"; PATH = "$PATH"; }: a value that is exactly "$"
 * and a variable name is the master's value of that variable (absent in
 * the master, absent in the worker); any other value is taken literally,
 * with no expansion inside it.
 */
static int parse_env_entry(struct loader *ld, const config_setting_t *s, struct env_config *e)
{
	const char *name = config_setting_name(s), *value;
	char key[96];

	snprintf(key, sizeof(key), "env.%s", name);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(ld, s, "%s must be a string, not %s", key, type_name(s));
	if (strchr(name, '-') || strchr(name, '*'))
		return fail(ld, s, "%s: an environment variable's name is letters, digits "
			    "and '_'", key);
	value = config_setting_get_string(s);
	e->pass = value[0] == '$' && value[1] && !value[1 + strspn(value + 1,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")];
	e->name = strdup(name);
	e->value = strdup(e->pass ? value + 1 : value);
	if (!e->name || !e->value)
		return fail_nomem(ld, s);
	return 0;
}

static int parse_env(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *g;
	int n;

	if (get_group(ld, root, "env", &g) < 0)
		return -1;
	n = g ? config_setting_length(g) : 0;
	if (n > MAX_ENV)
		return fail(ld, g, "env has %d variables; at most %d can be set (or set "
			    "clear_env = false; to pass the master's whole environment)",
			    n, MAX_ENV);
	for (int i = 0; i < n; i++) {
		if (parse_env_entry(ld, config_setting_get_elem(g, (unsigned)i),
				    &ld->cfg->env[i]) < 0)
			return -1;
		ld->cfg->nenv = i + 1;
	}
	return 0;
}

/* rlimit_core: bytes as a size, or "unlimited". */
static int parse_rlimit_core(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *s = member(root, "rlimit_core");
	const struct config_key *k;

	if (s && config_setting_type(s) == CONFIG_TYPE_STRING
	    && strcmp(config_setting_get_string(s), "unlimited") == 0) {
		ld->cfg->rlimit_core = CONFIG_RLIMIT_NONE;
		return 0;
	}
	k = config_keys_find("", "rlimit_core");
	return get_size(ld, root, "rlimit_core", k->min, k->max, &ld->cfg->rlimit_core);
}

/*
 * php-fpm's clear_env, env, chdir, rlimit_files and rlimit_core: what
 * each worker process starts with (clear_env and chdir are plain keys,
 * read in parse_process).  The master applies them in the child, between
 * fork and the worker's start.
 */
static int parse_workers(struct loader *ld, const config_setting_t *root)
{
	struct sl_config *cfg = ld->cfg;
	const struct config_key *k = config_keys_find("", "rlimit_files");
	int files = -1;

	if (parse_env(ld, root) < 0
	    || get_int(ld, root, "rlimit_files", k->min, k->max, &files) < 0
	    || parse_rlimit_core(ld, root) < 0)
		return -1;
	if (files > 0)
		cfg->rlimit_files = files;
	if (cfg->chdir[0] != '/')
		return fail(ld, member(root, "chdir"), "chdir must be an absolute path, "
			    "not \"%s\"", cfg->chdir);
	if (cfg->pid_file && strcmp(cfg->pid_file, "stderr") == 0)
		return fail(ld, member(root, "pid"), "pid must be a file path");
	return 0;
}

/* ---- A supervised program ------------------------------------------ */

/* program.args: a list or an array of strings, argv[1] onwards. */
static int parse_program_args(struct loader *ld, const config_setting_t *g)
{
	struct program_config *pc = &ld->cfg->program;
	const config_setting_t *s = member(g, "program.args");
	int n;

	if (!s)
		return 0;
	if (!config_setting_is_aggregate(s) || config_setting_is_group(s))
		return fail(ld, s, "program.args must be a list of strings, such as "
			    "[ \"-c\", \"app.ini\" ], not %s", type_name(s));
	n = config_setting_length(s);
	if (n > MAX_PROGRAM_ARGS)
		return fail(ld, s, "program.args has %d arguments; at most %d can be given",
			    n, MAX_PROGRAM_ARGS);
	for (int i = 0; i < n; i++) {
		const config_setting_t *a = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(a) != CONFIG_TYPE_STRING)
			return fail(ld, a, "program.args[%d] must be a string, not %s", i,
				    type_name(a));
		pc->argv[i + 1] = strdup(config_setting_get_string(a));
		if (!pc->argv[i + 1])
			return fail_nomem(ld, a);
	}
	return 0;
}

/*
 * What a program pool cannot do, refused rather than ignored: sluice
 * does not see a program's requests (it accepts on descriptor 0
 * itself), so nothing that counts, times or logs requests applies, and
 * a pool sized by idle workers cannot be either.  A program has one
 * descriptor 0: one FastCGI listener.
 */
static int check_program_pool(struct loader *ld, const config_setting_t *root)
{
	const struct sl_config *cfg = ld->cfg;
	const config_setting_t *pm = member(root, "pm");
	static const char *const unseen[] = {
		"request_terminate_timeout", "request_slowlog_timeout", "slowlog",
		"access_log", "access_format", "request_id",
	};
	const config_setting_t *limits = member(root, "limits");

	if (cfg->pm.mode != PM_STATIC)
		return fail(ld, member(pm, "pm.mode"), "pm.mode must be \"static\" with a "
			    "program: sluice cannot see which copies are idle enough to size "
			    "the pool by them (pm.max_children copies run)");
	if (cfg->pm.max_requests > 0)
		return fail(ld, member(pm, "pm.max_requests"), "pm.max_requests cannot "
			    "apply to a program, which accepts its connections itself: sluice "
			    "never sees its requests to count them; recycle it with "
			    "pm.reload_on_rss or program.max_lifetime");
	for (size_t i = 0; i < sizeof(unseen) / sizeof(unseen[0]); i++)
		if (member(root, unseen[i]))
			return fail(ld, member(root, unseen[i]), "%s does not apply to a "
				    "program: sluice does not see the requests of a program, "
				    "which accepts its connections itself", unseen[i]);
	/* limits.shutdown_timeout is how long copies get to leave; the rest
	 * bound what sluice's own codec reads and writes. */
	for (int i = 0; limits && i < config_setting_length(limits); i++) {
		const config_setting_t *s = config_setting_get_elem(limits, (unsigned)i);

		if (strcmp(config_setting_name(s), "shutdown_timeout") != 0)
			return fail(ld, s, "limits.%s does not apply to a program, which "
				    "reads and writes its connections itself (only "
				    "limits.shutdown_timeout does)", config_setting_name(s));
	}
	if (cfg->nlisten > 1)
		return fail(ld, member(root, "listen"), "a program has one listening "
			    "socket, its descriptor 0: give listen one address");
	if (cfg->nlisten == 1 && cfg->listen[0].protocol != LISTEN_FASTCGI)
		return fail(ld, member(root, "listen"), "a program speaks FastCGI on its "
			    "descriptor 0: listen.protocol must be \"fastcgi\"");
	if (cfg->nlisten == 1 && cfg->listen[0].allowed.n > 0)
		return fail(ld, member(root, "listen"), "listen.allowed_clients cannot "
			    "apply to a program, which accepts its connections itself: "
			    "sluice never sees who connects (let the firewall or a unix "
			    "socket decide)");
	if (member(root, "seccomp") || member(root, "seccomp_allow"))
		return fail(ld, member(root, member(root, "seccomp") ? "seccomp" : "seccomp_allow"),
			    "seccomp applies to sluice's workers, not to a program it "
			    "starts: a program's own system calls are its own");
	return 0;
}

/*
 * program = { path = "/usr/lib/cgi-bin/app.fcgi"; args = [ ... ];
 * max_lifetime = "1h"; }: a FastCGI program to supervise, started as
 * spawn-fcgi and mod_fcgid start one (program.c).
 */
static int parse_program(struct loader *ld, const config_setting_t *root)
{
	struct program_config *pc = &ld->cfg->program;
	const config_setting_t *g, *p;
	const char *str;

	if (get_group(ld, root, "program", &g) < 0)
		return -1;
	if (!g)
		return 0;
	if (check_keys(ld, g, "program", "program") < 0)
		return -1;
	p = member(g, "program.path");
	if (!p)
		return fail(ld, g, "program.path is missing: name the executable to run");
	if (string_value(ld, p, "program.path", &str) < 0)
		return -1;
	pc->path = resolve(ld, str);
	if (!pc->path)
		return fail_nomem(ld, p);
	pc->argv[0] = strdup(pc->path);
	if (!pc->argv[0])
		return fail_nomem(ld, p);
	if (parse_program_args(ld, g) < 0
	    || parse_keys(ld, g, "program", "program", ld->cfg) < 0)
		return -1;
	return check_program_pool(ld, root);
}

/*
 * `seccomp = true;` and `seccomp_allow = [ "name", ... ];`: the workers'
 * allow-list (sandbox.h).  A name libseccomp does not know is refused
 * here, with its line, rather than skipped by every worker.
 */
static int parse_seccomp(struct loader *ld, const config_setting_t *root)
{
	struct sl_config *cfg = ld->cfg;
	const config_setting_t *list = member(root, "seccomp_allow");
	int n = list ? config_setting_length(list) : 0;

	if (list && config_setting_type(list) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(list) != CONFIG_TYPE_LIST)
		return fail(ld, list, "seccomp_allow must be a list of system call names, "
			    "such as [ \"ptrace\" ], not %s", type_name(list));
	if (n > MAX_SECCOMP_ALLOW)
		return fail(ld, list, "seccomp_allow names %d system calls; at most %d", n,
			    MAX_SECCOMP_ALLOW);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const char *name;

		if (string_value(ld, e, "seccomp_allow", &name) < 0)
			return -1;
		if (!sandbox_known(name))
			return fail(ld, e, "seccomp_allow: \"%s\" is not a system call on this "
				    "machine", name);
		cfg->seccomp_allow[i] = strdup(name);
		if (!cfg->seccomp_allow[i])
			return fail_nomem(ld, e);
		cfg->nseccomp_allow = i + 1;
	}
	if (n && !cfg->seccomp)
		return fail(ld, list, "seccomp_allow without seccomp = true; allows nothing: "
			    "every system call already is");
	return 0;
}

/* ---- Loading --------------------------------------------------------- */

/*
 * Every default of the table (config_keys.h), whose strings are owned
 * like parsed ones.  Listeners take theirs as they are read.
 */
static int set_defaults(struct sl_config *cfg, const char *path)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->file = strdup(path);
	if (!cfg->file)
		return -1;
	return config_keys_defaults(cfg);
}

/* The absolute folder of `path`, malloc'ed; NULL with errno on failure. */
static char *folder_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *abs;

	if (!slash)
		return realpath(".", NULL);
	dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return NULL;
	abs = realpath(dir, NULL);
	free(dir);
	return abs;
}

/*
 * The hint for a php-fpm line that libconfig cannot read: "a.b = v" is
 * `a = { b = v; }` here, unless php-fpm's a.b has no such equivalent
 * (config_value_hint), and "env[NAME] = v" is `env = { NAME = "v"; }`.
 */
static void dotted_hint(const char *line, char *name, size_t namelen, char *hint,
			size_t size)
{
	const char *dot, *fpm;

	if (strncmp(line + strspn(line, " \t"), "env[", 4) == 0) {
		snprintf(hint, size, " (php-fpm's env[NAME] = value is env = { NAME = "
			 "\"value\"; } here)");
		return;
	}
	if (config_value_dotted_name(line, name, namelen) < 0)
		return;
	fpm = config_value_hint(name);
	dot = strchr(name, '.');
	if (fpm)
		snprintf(hint, size, " (php-fpm's %s: %s)", name, fpm);
	else
		snprintf(hint, size, " (names cannot contain '.': php-fpm's \"%s = ...;\" "
			 "is \"%.*s = { %s = ...; };\" here)", name, (int)(dot - name), name,
			 dot + 1);
}

/*
 * A syntax error, as libconfig reports it, with a hint for the one
 * mistake every php-fpm user makes: dotted names are groups here.
 */
static int syntax_error(struct loader *ld, const config_t *lc)
{
	char path[PATH_MAX], buf[1024];
	const char *file = source_path(ld, config_error_file(lc), path, sizeof(path));
	int line = config_error_line(lc);
	char name[64], hint[512] = "";

	if (line > 0 && config_value_source_line(file, (unsigned)line, buf, sizeof(buf)) == 0)
		dotted_hint(buf, name, sizeof(name), hint, sizeof(hint));
	if (ld->errlen)
		snprintf(ld->err, ld->errlen, "%s:%d: %s%s", file, line,
			 config_error_text(lc), hint);
	return -1;
}

/*
 * libconfig says only "file I/O error" when it cannot read the file; find
 * the reason ourselves, so that the line says "No such file or directory"
 * or "Permission denied".
 */
static int read_error(struct loader *ld, const config_t *lc, const char *path)
{
	struct stat st;
	FILE *fp;

	if (config_error_type(lc) != CONFIG_ERR_FILE_IO)
		return syntax_error(ld, lc);
	fp = fopen(path, "r");
	if (!fp)
		return fail(ld, NULL, "cannot open: %s", strerror(errno));
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode))
		errno = EISDIR;
	else
		errno = EIO;
	fclose(fp);
	return fail(ld, NULL, "cannot open: %s", strerror(errno));
}

/*
 * The program's in-code settings, added to the parsed tree where the file
 * has no such key, so that they are checked like written ones (their
 * errors name CONFIG_IN_CODE: an added setting has no line).
 */
static int add_builtin(struct loader *ld, config_setting_t *root)
{
	config_setting_t *s, *pm = config_setting_get_member(root, "pm");

	if (builtin.listen && !config_setting_get_member(root, "listen")) {
		s = config_setting_add(root, "listen", CONFIG_TYPE_STRING);
		if (!s || !config_setting_set_string(s, builtin.listen))
			return fail_nomem(ld, NULL);
	}
	if (builtin.workers == 0 || (pm && !config_setting_is_group(pm)))
		return 0;
	if (!pm)
		pm = config_setting_add(root, "pm", CONFIG_TYPE_GROUP);
	if (pm && config_setting_get_member(pm, "max_children"))
		return 0;
	s = pm ? config_setting_add(pm, "max_children", CONFIG_TYPE_INT) : NULL;
	if (!s || !config_setting_set_int(s, builtin.workers))
		return fail_nomem(ld, NULL);
	return 0;
}

/*
 * A file with pools: the pool asked for, laid over the top level, or with
 * none asked for, the top level alone (what the master itself reads).
 */
static int apply_pools(struct loader *ld, config_setting_t *root)
{
	char why[512];
	const config_setting_t *bad = config_pools_apply(root, selected_pool,
							 &ld->cfg->pools, why, sizeof(why));

	if (bad)
		return fail(ld, bad == root ? NULL : bad, "%s", why);
	if (selected_pool) {
		ld->cfg->pool = strdup(selected_pool);
		if (!ld->cfg->pool)
			return fail_nomem(ld, NULL);
	}
	return 0;
}

static int parse_root(struct loader *ld, config_setting_t *root)
{
	int whole;

	if (apply_pools(ld, root) < 0)
		return -1;
	/* The top level of a file with pools, which its master reads, has
	 * none of a pool's own keys. */
	whole = !ld->cfg->pools.n || ld->cfg->pool;
	if ((whole && add_builtin(ld, root) < 0)
	    || check_keys(ld, root, "", "") < 0
	    || parse_process(ld, root) < 0
	    || (whole && parse_listen(ld, root) < 0)
	    || (whole && parse_status(ld, root) < 0)
	    || parse_pm(ld, root) < 0
	    || parse_watchdog(ld, root) < 0
	    || parse_limits(ld, root) < 0
	    || parse_access(ld, root) < 0
	    || parse_workers(ld, root) < 0
	    || (whole && parse_program(ld, root) < 0)
	    || parse_seccomp(ld, root) < 0
	    || (whole && parse_modules(ld, root) < 0))
		return -1;
	return 0;
}

/*
 * Read `path` into `cfg`: defaults first, then every key of the file,
 * checked; without a file (NULL), the in-code settings alone.  `cfg` is always left fit for config_free, and on failure it
 * holds nothing (everything is already freed).  Includes (@include) are
 * looked up in the config file's folder, and must name regular files
 * (config_include.h says why).
 */
int config_load(const char *path, struct sl_config *cfg, char *err, size_t errlen)
{
	struct loader ld = { .cfg = cfg, .err = err, .errlen = errlen };
	config_t lc;
	int rc = -1;

	if (errlen)
		err[0] = '\0';
	if (set_defaults(cfg, path ? path : CONFIG_IN_CODE) < 0) {
		snprintf(err, errlen, "%s: out of memory", path ? path : CONFIG_IN_CODE);
		config_free(cfg);
		return -1;
	}
	cfg->no_file = !path;
	/* Without a file, relative paths are taken from the working folder. */
	ld.dir = folder_of(path ? path : "./");
	if (!ld.dir) {
		fail(&ld, NULL, "cannot open: %s", strerror(errno));
		config_free(cfg);
		return -1;
	}
	if (config_include_check(path, ld.dir, err, errlen) < 0) {
		free(ld.dir);
		config_free(cfg);
		return -1;
	}
	config_init(&lc);
	config_set_include_dir(&lc, ld.dir);
	if (path ? !config_read_file(&lc, path) : !config_read_string(&lc, ""))
		read_error(&ld, &lc, path);
	else
		rc = parse_root(&ld, config_root_setting(&lc));
	config_destroy(&lc);
	free(ld.dir);
	if (rc < 0)
		config_free(cfg);
	return rc;
}

int config_load_pool(const char *path, const char *pool, struct sl_config *cfg, char *err,
		     size_t errlen)
{
	const char *was = selected_pool;
	int rc;

	selected_pool = pool;
	rc = config_load(path, cfg, err, errlen);
	selected_pool = was;
	return rc;
}

static void free_settings(struct module_config *mc)
{
	for (int i = 0; i < mc->nsettings; i++) {
		if (mc->settings[i].type == SETTING_STRING)
			free(mc->settings[i].v.str);
		free(mc->settings[i].name);
		free(mc->settings[i].file);
	}
	free(mc->settings);
}

static void free_listen(struct listen_config *lc)
{
	free(lc->address);
	free(lc->owner);
	free(lc->group);
	free(lc->at);
}

/*
 * Free what config_load allocated and zero the struct; safe twice.  All
 * module slots are visited, since a failed load may have filled part of
 * the one it stopped on.
 */
void config_free(struct sl_config *cfg)
{
	free(cfg->file);
	free(cfg->pool);
	free(cfg->user);
	free(cfg->group);
	free(cfg->error_log);
	free(cfg->slowlog);
	free(cfg->access_log);
	free(cfg->access_format);
	free(cfg->request_id_param);
	free(cfg->request_id_header);
	free(cfg->pid_file);
	free(cfg->chdir);
	for (int i = 0; i < MAX_ENV; i++) {
		free(cfg->env[i].name);
		free(cfg->env[i].value);
	}
	for (int i = 0; i < AT_COUNT; i++)
		free(cfg->at[i]);
	for (int i = 0; i < MAX_SECCOMP_ALLOW; i++)
		free(cfg->seccomp_allow[i]);
	for (int i = 0; i < MAX_LISTEN; i++)
		free_listen(&cfg->listen[i]);
	free_listen(&cfg->status);
	free(cfg->program.path);
	for (int i = 0; i < MAX_PROGRAM_ARGS + 2; i++)
		free(cfg->program.argv[i]);
	for (int i = 0; i < MAX_MODULES; i++) {
		free(cfg->modules[i].path);
		free(cfg->modules[i].mount);
		free_settings(&cfg->modules[i]);
	}
	memset(cfg, 0, sizeof(*cfg));
}
