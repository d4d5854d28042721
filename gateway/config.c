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
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <libconfig.h>

#include "config.h"

/*
 * Bounds the parser accepts where defaults.h has none.  They are wide: they
 * only catch values that can only be typos, and keep the arithmetic done
 * on them later (sums of sizes, seconds * 1000) far from overflow.
 */
#define MAX_BACKLOG	65535		/* the kernel caps it at somaxconn anyway */
#define MAX_BYTES	(1LL << 40)	/* 1 TiB for one request's body or memory */
#define MAX_CONNS	(1 << 20)	/* the kernel's default fs.nr_open */
#define MAX_SECONDS	86400		/* a timeout over a day is a mistake */

/*
 * An extra arena block is never smaller than ARENA_BLOCK_SIZE, so a
 * smaller max_request_memory would refuse every request that needs one.
 */
#define MIN_REQUEST_MEMORY	ARENA_BLOCK_SIZE

/* The state of one config_load call; nothing here outlives it. */
struct loader {
	struct sl_config *cfg;
	char *dir;		/* the config file's folder, absolute */
	char *err;
	size_t errlen;
};

/* The keys each level accepts, for unknown-key errors and suggestions. */
struct keyset {
	const char *prefix;	/* "" at the top, else the group's name */
	const char *const *names;
};

enum { KS_TOP, KS_LISTEN, KS_PM, KS_LIMITS, KS_MODULE };

static const char *const top_keys[] = {
	"error_log", "log_level", "user", "group", "listen", "pm", "limits",
	"modules", NULL
};
static const char *const listen_keys[] = {
	"address", "backlog", "mode", "owner", "group", NULL
};
static const char *const pm_keys[] = {
	"mode", "max_children", "max_requests", NULL
};
static const char *const limits_keys[] = {
	"max_params_bytes", "max_params", "max_header_bytes", "max_body_bytes",
	"max_request_memory", "max_conns", "read_timeout", "write_timeout",
	"idle_timeout", "shutdown_timeout", NULL
};
static const char *const module_keys[] = { "path", "mount", NULL };

static const struct keyset keysets[] = {
	[KS_TOP] = { "", top_keys },
	[KS_LISTEN] = { "listen", listen_keys },
	[KS_PM] = { "pm", pm_keys },
	[KS_LIMITS] = { "limits", limits_keys },
	[KS_MODULE] = { NULL, module_keys },	/* only suggested inside a module */
};

#define NKEYSETS	(sizeof(keysets) / sizeof(keysets[0]))

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

/* Levenshtein distance, capped: names longer than 31 bytes count as far. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[32], i, j, diag, up;

	if (la >= 32 || lb >= 32)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb];
}

/*
 * The key the user probably meant by `name`: the closest name of the same
 * level (edit distance 2 at most), else the same name at another level
 * ("max_children" at the top is pm's).  Returns the name and sets *where
 * to its level, or returns NULL when nothing is close.
 */
static const char *suggest(const struct keyset *here, const char *name,
			   const struct keyset **where)
{
	const char *best = NULL;
	size_t d, bestd = 3;

	*where = here;
	for (const char *const *k = here->names; *k; k++) {
		d = distance(name, *k);
		if (d < bestd) {
			bestd = d;
			best = *k;
		}
	}
	if (best)
		return best;
	for (size_t i = 0; i < NKEYSETS; i++) {
		if (&keysets[i] == here || !keysets[i].prefix)
			continue;
		for (const char *const *k = keysets[i].names; *k; k++) {
			if (strcmp(name, *k) == 0) {
				*where = &keysets[i];
				return *k;
			}
		}
	}
	return NULL;
}

static int known(const char *const *names, const char *name)
{
	for (; *names; names++)
		if (strcmp(*names, name) == 0)
			return 1;
	return 0;
}

/*
 * Refuse any member of `group` that is not in `ks`.  `path` is the
 * group's dotted name as the user sees it ("" at the top, "modules[2]").
 */
static int check_keys(struct loader *ld, const config_setting_t *group,
		      const struct keyset *ks, const char *path)
{
	char hint[160] = "";
	const struct keyset *where;
	const config_setting_t *s;
	const char *name, *want, *prefix;

	for (int i = 0; i < config_setting_length(group); i++) {
		s = config_setting_get_elem(group, (unsigned)i);
		name = config_setting_name(s);
		if (known(ks->names, name))
			continue;
		want = suggest(ks, name, &where);
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

/* The characters of a libconfig setting name. */
static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-*";

/* The part of a dotted key after the last dot: the member's own name. */
static const char *leaf(const char *key)
{
	const char *dot = strrchr(key, '.');

	return dot ? dot + 1 : key;
}

/* Line `line` (1-based) of `file` into buf; -1 when it cannot be had. */
static int source_line(const char *file, unsigned line, char *buf, size_t size)
{
	FILE *fp = fopen(file, "r");
	unsigned n = 0;
	int rc = -1;

	if (!fp)
		return -1;
	while (fgets(buf, (int)size, fp)) {
		if (strchr(buf, '\n') && ++n == line) {
			rc = 0;
			break;
		}
		if (!strchr(buf, '\n') && feof(fp) && ++n == line)
			rc = 0;
	}
	fclose(fp);
	return rc;
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
	char path[PATH_MAX], buf[1024], *p, *end;
	const char *file;
	size_t len;
	long long v;

	file = source_path(ld, config_setting_source_file(s), path, sizeof(path));
	if (!name || source_line(file, config_setting_source_line(s), buf, sizeof(buf)) < 0)
		return 0;
	len = strlen(name);
	for (p = strstr(buf, name); p; p = strstr(p + 1, name)) {
		end = p + len + strspn(p + len, " \t");
		if ((p == buf || !strchr(name_chars, p[-1])) && (*end == '=' || *end == ':'))
			break;
	}
	if (!p)
		return 0;
	p = end + 1 + strspn(end + 1, " \t");
	errno = 0;
	if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
	    || (p[0] == '-' && p[1] == '0' && (p[2] == 'x' || p[2] == 'X')))
		v = strtoll(p, &end, 16);
	else
		v = strtoll(p, &end, 10);
	if (end == p)
		return 0;
	return errno == ERANGE || v != config_setting_get_int64(s);
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
 * A number with an optional unit suffix: "8M", "30s".  `units` lists the
 * suffix letters and `mult` their multipliers.  Anything else (a sign,
 * spaces, a fraction, two letters) is refused.  Returns -1 on bad syntax,
 * -2 when the value exceeds `max`.
 */
static int parse_suffixed(const char *str, const char *units,
			  const long long *mult, long long max, long long *out)
{
	long long v = 0, m = 1;
	const char *p = str, *u;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (*p - '0')) / 10)
			return -2;
		v = v * 10 + (*p - '0');
	}
	if (*p) {
		u = strchr(units, *p);
		if (!u || p[1])
			return -1;
		m = mult[u - units];
	}
	if (v > max / m)
		return -2;
	*out = v * m;
	return 0;
}

/*
 * A byte count: an integer, or a string with an optional binary K, M or
 * G suffix ("64K" is 65536), checked against [min, max].
 */
static int size_value(struct loader *ld, const config_setting_t *s, const char *key,
		      long long min, long long max, long long *out)
{
	static const long long mult[] = { 1LL << 10, 1LL << 10, 1LL << 20,
					  1LL << 20, 1LL << 30, 1LL << 30 };
	const char *str;
	long long v;
	int r;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		if (integer(ld, s, key, &v) < 0)
			return -1;
	} else {
		str = config_setting_get_string(s);
		r = parse_suffixed(str, "kKmMgG", mult, MAX_BYTES, &v);
		if (r == -1)
			return fail(ld, s, "%s must be a size such as 65536, \"64K\", "
				    "\"8M\" or \"1G\", not \"%s\"", key, str);
		if (r == -2)
			return fail(ld, s, "%s must be between %lld and %lld, not \"%s\"",
				    key, min, max, str);
	}
	if (in_range(ld, s, key, v, min, max) < 0)
		return -1;
	*out = v;
	return 0;
}

/* Seconds: an integer, or a string with an s, m or h suffix ("5m"). */
static int seconds_value(struct loader *ld, const config_setting_t *s, const char *key,
			 int *out)
{
	static const long long mult[] = { 1, 60, 3600 };
	const char *str;
	long long v;
	int r;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		if (integer(ld, s, key, &v) < 0)
			return -1;
	} else {
		str = config_setting_get_string(s);
		r = parse_suffixed(str, "smh", mult, MAX_SECONDS, &v);
		if (r == -1)
			return fail(ld, s, "%s must be a duration such as 30, \"30s\", "
				    "\"5m\" or \"1h\", not \"%s\"", key, str);
		if (r == -2)
			return fail(ld, s, "%s must be between 1 and %d seconds, not \"%s\"",
				    key, MAX_SECONDS, str);
	}
	if (in_range(ld, s, key, v, 1, MAX_SECONDS) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* The member of `group` that `key` names, NULL when absent. */
static const config_setting_t *member(const config_setting_t *group, const char *key)
{
	return config_setting_get_member(group, leaf(key));
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

static int get_seconds(struct loader *ld, const config_setting_t *group,
		       const char *key, int *out)
{
	const config_setting_t *s = member(group, key);

	return s ? seconds_value(ld, s, key, out) : 0;
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

/* ---- The sections ---------------------------------------------------- */

/*
 * A TCP address, "host:port" or "[v6]:port".  The host is resolved when
 * the socket is bound; here it only has to be there and not be "*",
 * which other servers read as "every address" and which we want spelled
 * out (0.0.0.0 or [::]).
 */
static int check_tcp(struct loader *ld, const config_setting_t *s, const char *key,
		     const char *addr)
{
	const char *host = addr, *port, *close;
	size_t hostlen;
	long v = 0;

	if (addr[0] == '[') {
		close = strchr(addr, ']');
		if (!close || close[1] != ':')
			return fail(ld, s, "%s: an IPv6 address is written [address]:port, "
				    "not \"%s\"", key, addr);
		host = addr + 1;
		hostlen = (size_t)(close - host);
		port = close + 2;
	} else {
		port = strrchr(addr, ':') + 1;
		hostlen = (size_t)(port - 1 - addr);
		if (memchr(addr, ':', hostlen))
			return fail(ld, s, "%s: an IPv6 address is written in brackets, "
				    "[address]:port, not \"%s\"", key, addr);
	}
	if (hostlen == 0)
		return fail(ld, s, "%s needs a host before the port (127.0.0.1:9000), "
			    "not \"%s\"", key, addr);
	if (hostlen == 1 && host[0] == '*')
		return fail(ld, s, "%s needs an explicit host (0.0.0.0, [::] or "
			    "127.0.0.1), not \"%s\"", key, addr);
	for (const char *p = port; *p; p++) {
		if (*p < '0' || *p > '9' || p - port >= 5)
			return fail(ld, s, "%s: the port must be a number between 1 and "
				    "65535, not \"%s\"", key, port);
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > 65535)
		return fail(ld, s, "%s: the port must be a number between 1 and 65535, "
			    "not \"%s\"", key, port);
	return 0;
}

/*
 * The listening address.  "unix:PATH", a path starting with '/' or '.',
 * or a name without ':' is a unix socket, stored as an absolute path
 * (without "unix:"), relative ones resolved against the config folder;
 * anything else with a ':' is host:port, stored as written.
 */
static int parse_address(struct loader *ld, const config_setting_t *s, const char *key)
{
	const size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	const char *addr, *path;
	size_t len;

	if (string_value(ld, s, key, &addr) < 0)
		return -1;
	path = strncmp(addr, "unix:", 5) == 0 ? addr + 5 : addr;
	if (path == addr && addr[0] != '/' && addr[0] != '.' && strchr(addr, ':')) {
		if (check_tcp(ld, s, key, addr) < 0)
			return -1;
		path = NULL;
	} else if (*path == '\0') {
		return fail(ld, s, "%s: \"unix:\" needs a socket path after it", key);
	}
	ld->cfg->listen.address = path ? resolve(ld, path) : strdup(addr);
	if (!ld->cfg->listen.address)
		return fail_nomem(ld, s);
	len = strlen(ld->cfg->listen.address);
	if (path && len > sun_max)
		return fail(ld, s, "%s: the socket path %s is %zu bytes long, and a "
			    "unix socket path can have at most %zu",
			    key, ld->cfg->listen.address, len, sun_max);
	return 0;
}

/*
 * The socket's permission bits: a string of octal digits ("0660"), or an
 * integer written as chmod takes it (660 and 0660 both mean rw-rw----,
 * since libconfig has no octal literals) or in hex (0x1b0).
 */
static int parse_mode(struct loader *ld, const config_setting_t *group)
{
	const config_setting_t *s = member(group, "listen.mode");
	const char *str;
	char digits[32], *end;
	long long v;
	long m;

	if (!s)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		str = config_setting_get_string(s);
	} else {
		if (integer(ld, s, "listen.mode", &v) < 0)
			return -1;
		if (config_setting_get_format(s) == CONFIG_FORMAT_HEX)
			snprintf(digits, sizeof(digits), "%llo", v);
		else
			snprintf(digits, sizeof(digits), "%lld", v);
		str = digits;
	}
	errno = 0;
	m = strtol(str, &end, 8);
	if (*str < '0' || *str > '7' || *end || errno || m > 0777)
		return fail(ld, s, "listen.mode must be permission bits in octal, such "
			    "as \"0660\", not \"%s\"", str);
	ld->cfg->listen.mode = (mode_t)m;
	return 0;
}

static int parse_listen(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *s = member(root, "listen");
	const config_setting_t *addr;
	struct listen_config *lc = &ld->cfg->listen;

	if (!s)
		return fail(ld, NULL, "listen is missing: say where to accept "
			    "connections, e.g. listen = \"/run/sluice/sluice.sock\";");
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return parse_address(ld, s, "listen");
	if (!config_setting_is_group(s))
		return fail(ld, s, "listen must be an address string or a group, not %s",
			    type_name(s));
	if (check_keys(ld, s, &keysets[KS_LISTEN], "listen") < 0)
		return -1;
	addr = member(s, "listen.address");
	if (!addr)
		return fail(ld, s, "listen.address is missing");
	if (parse_address(ld, addr, "listen.address") < 0
	    || get_int(ld, s, "listen.backlog", 1, MAX_BACKLOG, &lc->backlog) < 0
	    || parse_mode(ld, s) < 0
	    || get_string(ld, s, "listen.owner", &lc->owner) < 0
	    || get_string(ld, s, "listen.group", &lc->group) < 0)
		return -1;
	return 0;
}

static int parse_pm(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *pm, *s;
	const char *mode;

	if (get_group(ld, root, "pm", &pm) < 0)
		return -1;
	if (!pm)
		return 0;
	if (check_keys(ld, pm, &keysets[KS_PM], "pm") < 0)
		return -1;
	s = member(pm, "pm.mode");
	if (s) {
		if (string_value(ld, s, "pm.mode", &mode) < 0)
			return -1;
		if (strcmp(mode, "dynamic") == 0 || strcmp(mode, "ondemand") == 0)
			return fail(ld, s, "pm.mode \"%s\" is not available yet; "
				    "use \"static\"", mode);
		if (strcmp(mode, "static") != 0)
			return fail(ld, s, "pm.mode must be \"static\", not \"%s\"", mode);
	}
	if (get_int(ld, pm, "pm.max_children", 1, MAX_MAX_CHILDREN,
		    &ld->cfg->pm.max_children) < 0
	    || get_int(ld, pm, "pm.max_requests", 0, INT_MAX,
		       &ld->cfg->pm.max_requests) < 0)
		return -1;
	return 0;
}

static int parse_limits(struct loader *ld, const config_setting_t *root)
{
	struct sl_config *cfg = ld->cfg;
	long long params_bytes = (long long)cfg->limits.max_params_bytes;
	long long header_bytes = (long long)cfg->limits.max_header_bytes;
	const config_setting_t *g;

	if (get_group(ld, root, "limits", &g) < 0)
		return -1;
	if (!g)
		return 0;
	if (check_keys(ld, g, &keysets[KS_LIMITS], "limits") < 0)
		return -1;
	if (get_size(ld, g, "limits.max_params_bytes", 1, MAX_MAX_PARAMS_BYTES,
		     &params_bytes) < 0
	    || get_int(ld, g, "limits.max_params", 1, MAX_MAX_PARAMS,
		       &cfg->limits.max_params) < 0
	    || get_size(ld, g, "limits.max_header_bytes", 1, MAX_MAX_HEADER_BYTES,
			&header_bytes) < 0
	    || get_size(ld, g, "limits.max_body_bytes", 1, MAX_BYTES,
			&cfg->limits.max_body_bytes) < 0
	    || get_size(ld, g, "limits.max_request_memory", MIN_REQUEST_MEMORY,
			MAX_BYTES, &cfg->limits.max_request_memory) < 0
	    || get_int(ld, g, "limits.max_conns", 1, MAX_CONNS,
		       &cfg->limits.max_conns) < 0
	    || get_seconds(ld, g, "limits.read_timeout", &cfg->limits.read_timeout) < 0
	    || get_seconds(ld, g, "limits.write_timeout", &cfg->limits.write_timeout) < 0
	    || get_seconds(ld, g, "limits.idle_timeout", &cfg->limits.idle_timeout) < 0
	    || get_seconds(ld, g, "limits.shutdown_timeout",
			   &cfg->limits.shutdown_timeout) < 0)
		return -1;
	cfg->limits.max_params_bytes = (size_t)params_bytes;
	cfg->limits.max_header_bytes = (size_t)header_bytes;
	return 0;
}

/* A mount is "/" or an absolute prefix without a trailing or double '/'. */
static int check_mount(struct loader *ld, const config_setting_t *s, const char *key,
		       const char *mount)
{
	size_t len = strlen(mount);

	if (mount[0] != '/')
		return fail(ld, s, "%s must start with '/', not \"%s\"", key, mount);
	if (len > 1 && mount[len - 1] == '/')
		return fail(ld, s, "%s must not end with '/' (write \"%.*s\"), not \"%s\"",
			    key, (int)(len - 1), mount, mount);
	if (strstr(mount, "//"))
		return fail(ld, s, "%s must not contain \"//\", not \"%s\"", key, mount);
	return 0;
}

static int parse_module(struct loader *ld, const config_setting_t *s, int i)
{
	struct module_config *mc = &ld->cfg->modules[i];
	const config_setting_t *p;
	char where[24], key[32];
	const char *str;

	snprintf(where, sizeof(where), "modules[%d]", i);
	if (!config_setting_is_group(s))
		return fail(ld, s, "%s must be a group ({ path = \"...\"; }), not %s",
			    where, type_name(s));
	if (check_keys(ld, s, &keysets[KS_MODULE], where) < 0)
		return -1;
	mc->line = (int)config_setting_source_line(s);

	snprintf(key, sizeof(key), "modules[%d].path", i);
	p = member(s, key);
	if (!p)
		return fail(ld, s, "%s is missing", key);
	if (string_value(ld, p, key, &str) < 0)
		return -1;
	mc->path = resolve(ld, str);
	if (!mc->path)
		return fail_nomem(ld, p);

	snprintf(key, sizeof(key), "modules[%d].mount", i);
	p = member(s, key);
	str = "/";
	if (p && (string_value(ld, p, key, &str) < 0 || check_mount(ld, p, key, str) < 0))
		return -1;
	mc->mount = strdup(str);
	if (!mc->mount)
		return fail_nomem(ld, p ? p : s);
	return 0;
}

static int parse_modules(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *list = member(root, "modules");
	int n;

	if (!list)
		return fail(ld, NULL, "modules is missing: at least one module is "
			    "required, e.g. modules = ( { path = \"hello.so\"; } );");
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
	return 0;
}

/* error_log, log_level, user and group: the top-level scalars. */
static int parse_process(struct loader *ld, const config_setting_t *root)
{
	struct sl_config *cfg = ld->cfg;
	const config_setting_t *s;
	const char *str;
	int level;

	if (get_string(ld, root, "user", &cfg->user) < 0
	    || get_string(ld, root, "group", &cfg->group) < 0
	    || get_string(ld, root, "error_log", &cfg->error_log) < 0)
		return -1;
	if (strcmp(cfg->error_log, "stderr") != 0 && cfg->error_log[0] != '/') {
		char *abs = resolve(ld, cfg->error_log);

		if (!abs)
			return fail_nomem(ld, member(root, "error_log"));
		free(cfg->error_log);
		cfg->error_log = abs;
	}
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

/* ---- Loading --------------------------------------------------------- */

/* Every default, from defaults.h; the strings are owned like parsed ones. */
static int set_defaults(struct sl_config *cfg, const char *path)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->file = strdup(path);
	cfg->error_log = strdup("stderr");
	if (!cfg->file || !cfg->error_log)
		return -1;
	cfg->log_level = LOG_NOTICE;
	cfg->listen.backlog = DEFAULT_BACKLOG;
	cfg->listen.mode = 0660;
	cfg->pm.mode = PM_STATIC;
	cfg->pm.max_children = DEFAULT_MAX_CHILDREN;
	cfg->pm.max_requests = 0;
	cfg->limits.max_params_bytes = DEFAULT_MAX_PARAMS_BYTES;
	cfg->limits.max_params = DEFAULT_MAX_PARAMS;
	cfg->limits.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
	cfg->limits.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
	cfg->limits.max_request_memory = DEFAULT_MAX_REQUEST_MEMORY;
	cfg->limits.max_conns = DEFAULT_MAX_CONNS;
	cfg->limits.read_timeout = DEFAULT_READ_TIMEOUT;
	cfg->limits.write_timeout = DEFAULT_WRITE_TIMEOUT;
	cfg->limits.idle_timeout = DEFAULT_IDLE_TIMEOUT;
	cfg->limits.shutdown_timeout = DEFAULT_SHUTDOWN_TIMEOUT;
	return 0;
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

/* Does `line` start with a dotted name, as php-fpm's "pm.max_children"? */
static int dotted_key(const char *line)
{
	size_t n;

	line += strspn(line, " \t");
	n = strspn(line, name_chars);
	return n > 0 && line[n] == '.' && strspn(line + n + 1, name_chars) > 0;
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
	const char *hint = "";

	if (line > 0 && source_line(file, (unsigned)line, buf, sizeof(buf)) == 0
	    && dotted_key(buf))
		hint = " (names cannot contain '.': php-fpm's "
		       "\"pm.max_children = 4;\" is \"pm = { max_children = 4; };\" here)";
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

static int parse_root(struct loader *ld, const config_setting_t *root)
{
	if (check_keys(ld, root, &keysets[KS_TOP], "") < 0
	    || parse_process(ld, root) < 0
	    || parse_listen(ld, root) < 0
	    || parse_pm(ld, root) < 0
	    || parse_limits(ld, root) < 0
	    || parse_modules(ld, root) < 0)
		return -1;
	return 0;
}

/*
 * Read `path` into `cfg`: defaults first, then every key of the file,
 * checked.  `cfg` is always left fit for config_free, and on failure it
 * holds nothing (everything is already freed).  Includes (@include) are
 * looked up in the config file's folder.
 */
int config_load(const char *path, struct sl_config *cfg, char *err, size_t errlen)
{
	struct loader ld = { .cfg = cfg, .err = err, .errlen = errlen };
	config_t lc;
	int rc = -1;

	if (errlen)
		err[0] = '\0';
	if (set_defaults(cfg, path) < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		config_free(cfg);
		return -1;
	}
	ld.dir = folder_of(path);
	if (!ld.dir) {
		fail(&ld, NULL, "cannot open: %s", strerror(errno));
		config_free(cfg);
		return -1;
	}
	config_init(&lc);
	config_set_include_dir(&lc, ld.dir);
	if (!config_read_file(&lc, path))
		read_error(&ld, &lc, path);
	else
		rc = parse_root(&ld, config_root_setting(&lc));
	config_destroy(&lc);
	free(ld.dir);
	if (rc < 0)
		config_free(cfg);
	return rc;
}

/*
 * Free what config_load allocated and zero the struct; safe twice.  All
 * module slots are visited, since a failed load may have filled part of
 * the one it stopped on.
 */
void config_free(struct sl_config *cfg)
{
	free(cfg->file);
	free(cfg->user);
	free(cfg->group);
	free(cfg->error_log);
	free(cfg->listen.address);
	free(cfg->listen.owner);
	free(cfg->listen.group);
	for (int i = 0; i < MAX_MODULES; i++) {
		free(cfg->modules[i].path);
		free(cfg->modules[i].mount);
	}
	memset(cfg, 0, sizeof(*cfg));
}
