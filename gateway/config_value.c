/*
 * config_value.c - the syntax of config values, apart from libconfig.
 *
 * Everything config.c needs to read a value that libconfig hands over as
 * a plain string or name: numbers with units, addresses, modes, mounts,
 * and the guess behind "did you mean".  Keeping it here leaves config.c
 * with the walk over the file and the rules between keys, and keeps
 * libconfig behind that one door.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_value.h"

/* A unit suffix and what one of it is worth; "" is the bare number. */
struct unit {
	const char *name;
	long long mult;
};

/* The characters of a libconfig setting name. */
static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-*";

/* printf into `why`; returns -1, so that callers can `return say(...)`. */
static int say(char *why, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int say(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- Numbers with units ----------------------------------------------- */

/*
 * Digits followed by exactly one of `units` (a list ended by a NULL
 * name), the product checked against `max`.  Anything else (a sign,
 * spaces, a fraction, an unknown or a second unit) is a syntax error.
 */
static int suffixed(const char *str, const struct unit *units, long long max,
		    long long *out)
{
	const char *p = str;
	const struct unit *u;
	long long v = 0;

	if (*p < '0' || *p > '9')
		return CONFIG_VALUE_SYNTAX;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (*p - '0')) / 10)
			return CONFIG_VALUE_TOO_BIG;
		v = v * 10 + (*p - '0');
	}
	for (u = units; u->name && strcmp(u->name, p) != 0; u++)
		;
	if (!u->name)
		return CONFIG_VALUE_SYNTAX;
	if (v > max / u->mult)
		return CONFIG_VALUE_TOO_BIG;
	*out = v * u->mult;
	return CONFIG_VALUE_OK;
}

int config_value_size(const char *str, long long max, long long *out)
{
	static const struct unit units[] = {
		{ "", 1 }, { "k", 1LL << 10 }, { "K", 1LL << 10 }, { "m", 1LL << 20 },
		{ "M", 1LL << 20 }, { "g", 1LL << 30 }, { "G", 1LL << 30 }, { NULL, 0 },
	};

	return suffixed(str, units, max, out);
}

/*
 * Units are case-sensitive here, unlike sizes: "M" would read as months
 * to some and minutes to others, and "ms" next to "m" must not be guessed.
 */
int config_value_duration(const char *str, long long max_ms, long long *ms)
{
	static const struct unit units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 },
		{ "h", 3600 * 1000 }, { NULL, 0 },
	};

	return suffixed(str, units, max_ms, ms);
}

int config_value_mode(const char *str, mode_t *out)
{
	char *end;
	long m;

	errno = 0;
	m = strtol(str, &end, 8);
	if (*str < '0' || *str > '7' || *end || errno || m > 0777)
		return -1;
	*out = (mode_t)m;
	return 0;
}

/* ---- Addresses and mounts --------------------------------------------- */

/*
 * Is the host `h` (`n` bytes) "localhost" or a name under it, in any
 * case?  RFC 6761, section 6.3, reserves them all for loopback and lets
 * software answer them without a resolver, which we do: a fresh container
 * or chroot has no /etc/hosts, and `--http localhost:8081` must not fail
 * there, nor ever go out to DNS.
 */
static int is_localhost(const char *h, size_t n)
{
	static const char name[] = "localhost";
	const size_t len = sizeof(name) - 1;

	if (n < len || strncasecmp(h + n - len, name, len) != 0)
		return 0;
	return n == len || (n > len + 1 && h[n - len - 1] == '.');
}

const char *config_value_host_port(const char *addr, char *host, size_t hostlen,
				   char port[6])
{
	const char *h = addr, *p, *close;
	size_t n, digits;
	long v;

	if (addr[0] == '[') {
		close = strchr(addr, ']');
		if (!close || close[1] != ':')
			return "an IPv6 address is written [address]:port";
		h = addr + 1;
		n = (size_t)(close - h);
		p = close + 2;
	} else {
		p = strrchr(addr, ':');
		if (!p)
			return "an address is written host:port";
		n = (size_t)(p - addr);
		p++;
		if (memchr(addr, ':', n))
			return "an IPv6 address is written in brackets, [address]:port";
	}
	if (n == 0)
		return "a host is needed before the port (127.0.0.1:9000)";
	/* Other servers read "*" as "every address": we want it spelled out. */
	if (n == 1 && h[0] == '*')
		return "an explicit host is needed (0.0.0.0, [::] or 127.0.0.1)";
	/* IPv4's loopback, which every stack has; [::1] is written as such. */
	if (addr[0] != '[' && is_localhost(h, n)) {
		h = "127.0.0.1";
		n = strlen(h);
	}
	if (n >= hostlen)
		return "the host is too long";
	digits = strspn(p, "0123456789");
	v = digits > 0 && digits <= 5 && !p[digits] ? strtol(p, NULL, 10) : 0;
	if (v < 1 || v > 65535)
		return "the port must be a number between 1 and 65535";
	memcpy(host, h, n);
	host[n] = '\0';
	memcpy(port, p, digits + 1);
	return NULL;
}

/* Does every dot-separated label of `h` (`n` bytes) start with a digit? */
static int looks_numeric(const char *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || h[i - 1] == '.') && (h[i] < '0' || h[i] > '9'))
			return 0;
	return n > 0;
}

/*
 * A host as the resolver would take it, checked strictly: inet_aton reads
 * "10.0.0.300" as 10.0.1.44 and "127.1" as 127.0.0.1, so a host whose
 * every label starts with a digit must be a dotted quad that inet_pton
 * accepts; a bracketed one must be IPv6 (a %zone is left to the
 * resolver); anything else is a name, made of letters, digits, '-' and
 * '.', which config_check resolves.  NULL, or what is wrong.
 */
static const char *host_syntax(const char *addr, const char *host)
{
	static const char name_ok[] = "abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.";
	unsigned char bin[sizeof(struct in6_addr)];
	char v6[INET6_ADDRSTRLEN + 1];

	if (addr[0] == '[') {
		snprintf(v6, sizeof(v6), "%.*s", (int)strcspn(host, "%"), host);
		if (inet_pton(AF_INET6, v6, bin) != 1)
			return "not a valid IPv6 address";
		return NULL;
	}
	if (looks_numeric(host, strlen(host)))
		return inet_pton(AF_INET, host, bin) == 1 ? NULL :
		       "not a valid IPv4 address (four numbers from 0 to 255, 10.0.0.1)";
	if (host[strspn(host, name_ok)] != '\0' || host[0] == '-' || host[0] == '.')
		return "not a valid host name";
	return NULL;
}

/*
 * A TCP address, "host:port" or "[v6]:port".  A numeric host must be a
 * valid address here; a name is resolved by config_check, before start.
 */
static int check_tcp(const char *key, const char *addr, char *why, size_t size)
{
	char host[256], port[6];
	const char *bad = config_value_host_port(addr, host, sizeof(host), port);

	if (bad)
		return say(why, size, "%s: %s, not \"%s\"", key, bad, addr);
	bad = host_syntax(addr, host);
	if (bad)
		return say(why, size, "%s: \"%s\" is %s", key, host, bad);
	return 0;
}

/*
 * "unix:PATH" or a path with a '/' in it is a unix socket; else a ':'
 * makes host:port.  A bare name ("127.0.0.1", "localhost", "app.sock")
 * is neither: it is most often a host whose port was forgotten, which
 * read as a socket file would listen somewhere nobody connects to.
 */
int config_value_address(const char *key, const char *addr, const char **path,
			 char *why, size_t size)
{
	if (strncmp(addr, "unix:", 5) == 0) {
		*path = addr + 5;
		if (**path == '\0')
			return say(why, size, "%s: \"unix:\" needs a socket path after it", key);
		return 0;
	}
	*path = addr;
	if (strchr(addr, '/'))
		return 0;
	*path = NULL;
	if (strchr(addr, ':'))
		return check_tcp(key, addr, why, size);
	return say(why, size, "%s: \"%s\" is neither a unix socket path nor host:port: "
		   "write \"%s:PORT\" for TCP, or \"unix:%s\" (or \"./%s\") for a socket "
		   "in the config's folder", key, addr, addr, addr, addr);
}

/* A mount is "/" or an absolute prefix without a trailing or double '/'. */
int config_value_mount(const char *key, const char *mount, char *why, size_t size)
{
	size_t len = strlen(mount);

	if (mount[0] != '/')
		return say(why, size, "%s must start with '/', not \"%s\"", key, mount);
	if (len > 1 && mount[len - 1] == '/')
		return say(why, size, "%s must not end with '/' (write \"%.*s\"), "
			   "not \"%s\"", key, (int)(len - 1), mount, mount);
	if (strstr(mount, "//"))
		return say(why, size, "%s must not contain \"//\", not \"%s\"", key, mount);
	return 0;
}

/* ---- Unknown keys ----------------------------------------------------- */

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
 * The closest name of the same level (edit distance 2 at most), else the
 * same name at another level ("max_children" at the top is pm's).
 * Returns the name and sets *where to its level, or returns NULL when
 * nothing is close.
 */
const char *config_value_suggest(const struct config_keyset *sets, size_t nsets,
				 const struct config_keyset *here, const char *name,
				 const struct config_keyset **where)
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
	for (size_t i = 0; i < nsets; i++) {
		if (&sets[i] == here || !sets[i].prefix)
			continue;
		for (const char *const *k = sets[i].names; *k; k++) {
			if (strcmp(name, *k) == 0) {
				*where = &sets[i];
				return *k;
			}
		}
	}
	return NULL;
}

/*
 * Keys php-fpm operators type from habit, by their full dotted name, and
 * what sluice has instead.  Each is a better answer than the nearest
 * spelling: "pid" is one letter from "pm" and means something else.
 */
static const struct {
	const char *key, *hint;
} phpfpm_hints[] = {
	{ "listen.allowed_clients", "write listen = { address = \"...\"; "
	  "allowed_clients = \"127.0.0.1, ::1\"; }" },
	{ "listen.acl_users", "write listen = { owner = \"...\"; mode = \"0660\"; }" },
	{ "listen.acl_groups", "write listen = { group = \"...\"; mode = \"0660\"; }" },
	{ "pm.status_path", "the status page has its own socket here: status = "
	  "{ listen = \"/run/sluice/status.sock\"; }, and the web server routes "
	  "/status to it" },
	{ "pm.status_listen", "write status = { listen = \"...\"; }" },
	{ "ping.path", "/ping is answered on the status socket: status = { listen "
	  "= \"...\"; }" },
	{ "ping.response", "/ping answers \"pong\" on the status socket, which "
	  "cannot be changed" },
	{ "catch_workers_output", "workers' stdout and stderr always go to "
	  "error_log, a line at a time" },
	{ "decorate_workers_output", "workers' output lines in error_log always "
	  "name the worker" },
	{ "access.log", "write access_log = \"...\";" },
	{ "access.format", "write access_format = \"...\";" },
	{ "php_value", "there is no PHP here: a module's own settings belong to "
	  "its modules entry" },
	{ "php_flag", "there is no PHP here: a module's own settings belong to "
	  "its modules entry" },
	{ "php_admin_value", "there is no PHP here: a module's own settings belong "
	  "to its modules entry" },
	{ "php_admin_flag", "there is no PHP here: a module's own settings belong "
	  "to its modules entry" },
	{ "security.limit_extensions", "there are no scripts to limit: only the "
	  "modules listed in modules run" },
	{ "process_control_timeout", "write limits = { shutdown_timeout = ...; }" },
	{ "process.max", "write pm = { max_children = ...; }" },
	{ "process.priority", "there is none: start sluice under nice(1) or "
	  "systemd's Nice=" },
	{ "daemonize", "sluice stays in the foreground: run it under systemd, "
	  "supervisord or runit (conf/)" },
	{ "chroot", "there is none: a module is native code, and a chroot does "
	  "not contain it; use systemd's RootDirectory= or a container" },
	{ "prefix", "there is none: relative paths are taken from the config "
	  "file's folder" },
	{ "syslog.facility", "there is no syslog: error_log = \"stderr\" under "
	  "systemd goes to the journal" },
	{ "syslog.ident", "there is no syslog: error_log = \"stderr\" under "
	  "systemd goes to the journal" },
	{ "include", "write @include \"file.conf\" (libconfig's directive)" },
	{ "events.mechanism", "there is none: sluice uses epoll" },
};

const char *config_value_hint(const char *key)
{
	for (size_t i = 0; i < sizeof(phpfpm_hints) / sizeof(phpfpm_hints[0]); i++)
		if (strcmp(phpfpm_hints[i].key, key) == 0)
			return phpfpm_hints[i].hint;
	return NULL;
}

int config_value_dotted_name(const char *line, char *name, size_t size)
{
	size_t n;

	if (!config_value_dotted(line))
		return -1;
	line += strspn(line, " \t");
	n = strspn(line, name_chars);
	n += 1 + strspn(line + n + 1, name_chars);
	if (n >= size)
		return -1;
	memcpy(name, line, n);
	name[n] = '\0';
	return 0;
}

/* ---- The source text -------------------------------------------------- */

int config_value_source_line(const char *file, unsigned line, char *buf, size_t size)
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

/* Decimal or hex, as libconfig writes integers; sign included. */
int config_value_literal(const char *line, const char *name, long long *out)
{
	size_t len = strlen(name);
	const char *p, *end = NULL;
	char *stop;
	int hex;

	for (p = strstr(line, name); p; p = strstr(p + 1, name)) {
		end = p + len + strspn(p + len, " \t");
		if ((p == line || !strchr(name_chars, p[-1])) && (*end == '=' || *end == ':'))
			break;
	}
	if (!p)
		return CONFIG_VALUE_SYNTAX;
	p = end + 1 + strspn(end + 1, " \t");
	hex = (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
	      || (p[0] == '-' && p[1] == '0' && (p[2] == 'x' || p[2] == 'X'));
	errno = 0;
	*out = strtoll(p, &stop, hex ? 16 : 10);
	if (stop == p)
		return CONFIG_VALUE_SYNTAX;
	return errno == ERANGE ? CONFIG_VALUE_TOO_BIG : CONFIG_VALUE_OK;
}

int config_value_dotted(const char *line)
{
	size_t n;

	line += strspn(line, " \t");
	n = strspn(line, name_chars);
	return n > 0 && line[n] == '.' && strspn(line + n + 1, name_chars) > 0;
}
