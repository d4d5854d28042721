/*
 * audit_rules.c - the rules `sluice audit` applies to the config, to
 * this binary and to the modules the config names.  See audit.h.
 *
 * Each rule is one function that adds findings; each finding says what
 * is wrong in this deployment, why it matters and the fix.  A rule that
 * finds nothing wrong adds nothing, or an info line where the reader
 * would otherwise wonder whether it looked.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "audit.h"
#include "config_value.h"
#include "elf.h"
#include "perm.h"

/* The unix socket path of a configured address, NULL for TCP. */
static const char *socket_path(const char *address)
{
	return address[0] == '/' ? address : NULL;
}

/* ---- The binary -------------------------------------------------------- */

static void check_profile(struct audit *a, const char *what, const char *path)
{
	struct elf_facts f;
	char err[512];

	if (elf_inspect(path, &f, err, sizeof(err)) < 0) {
		audit_add(a, "dev-build", AUDIT_INFO, "", "", "cannot read %s: %s", what, err);
		return;
	}
	if (strcmp(f.profile, "prod") != 0)
		audit_add(a, "dev-build", AUDIT_HIGH,
			  "a development build carries sanitizers, verbose error pages and "
			  "debug endpoints that show requests, config and code to whoever "
			  "can reach it",
			  "install the production build (`make`, or the Debian package)",
			  "%s is a \"%s\" build, not \"prod\"", what, f.profile[0] ? f.profile : "unknown");
}

void audit_rules_binary(struct audit *a)
{
	check_profile(a, "this sluice", a->self);
	if (a->proc && a->proc->exe[0])
		check_profile(a, "the running master's binary", a->proc->exe);
	if (a->unit && a->unit->dev)
		audit_add(a, "dev-build", AUDIT_HIGH,
			  "--dev serves the debug pages and detailed error pages",
			  "remove --dev from ExecStart=", "%s starts sluice with --dev",
			  a->unit->path);
}

/* ---- Who the workers are ------------------------------------------------ */

static const char *const root_why =
	"module code runs in the workers: as root, any bug in it owns the machine";
static const char *const root_fix =
	"set user = \"sluice\"; (and group) in the config, or User= in the unit";

static void rule_root(struct audit *a)
{
	const char *user = a->cfg->user;

	if (user && strcmp(user, "root") == 0) {
		audit_add(a, "root-workers", AUDIT_HIGH, root_why, root_fix,
			  "user = \"root\": the workers run as root");
		return;
	}
	if (user)
		return;
	if (a->unit && (!a->unit->user[0] || strcmp(a->unit->user, "root") == 0))
		audit_add(a, "root-workers", AUDIT_HIGH, root_why, root_fix,
			  "%s has no User= other than root and the config sets no user: "
			  "the workers run as root", a->unit->path);
	else if (!a->unit && !a->proc)
		audit_add(a, "root-workers", AUDIT_INFO, "", "",
			  "the config sets no user: the workers run as whoever starts sluice "
			  "(give --unit or a running instance to check)");
}

/* ---- Listeners ------------------------------------------------------------ */

/* Whether every address `host` stands for is a loopback one. */
static int loopback_only(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *r;
	int only = 1;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	for (r = res; r; r = r->ai_next) {
		if (r->ai_family == AF_INET)
			only &= (ntohl(((struct sockaddr_in *)r->ai_addr)->sin_addr.s_addr) >> 24) == 127;
		else if (r->ai_family == AF_INET6)
			only &= IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)r->ai_addr)->sin6_addr);
		else
			only = 0;
	}
	freeaddrinfo(res);
	return only;
}

static void rule_tcp(struct audit *a, const struct listen_config *lc)
{
	char host[256], port[6];

	if (config_value_host_port(lc->address, host, sizeof(host), port) || loopback_only(host))
		return;
	if (lc->allowed.n > 0)
		audit_add(a, "tcp-open", AUDIT_INFO, "", "",
			  "listen %s is reachable from other hosts; allowed_clients limits it "
			  "to %d address%s", lc->address, lc->allowed.n, lc->allowed.n == 1 ? "" : "es");
	else
		audit_add(a, "tcp-open", AUDIT_HIGH,
			  "whoever reaches the port can send any FastCGI request, with any "
			  "REMOTE_ADDR, HTTPS or header the application trusts",
			  "bind 127.0.0.1, or set allowed_clients = \"ADDRESS OF THE WEB "
			  "SERVER\"; in that listen group (and firewall the port)",
			  "listen %s accepts connections from any host and has no allowed_clients",
			  lc->address);
}

static void rule_socket(struct audit *a, const char *key, const struct listen_config *lc)
{
	const char *path = socket_path(lc->address);
	char why[1024];
	struct stat st;

	if (!path)
		return;
	if (lc->mode & S_IWOTH)
		audit_add(a, "world-writable-socket", AUDIT_MEDIUM,
			  "every local user, not only the web server, can send requests to the "
			  "socket, with any parameters the application trusts",
			  "set mode = \"0660\"; and give the socket to the web server's group",
			  "%s %s has mode %04o", key, path, (unsigned)lc->mode);
	else if (lstat(path, &st) == 0 && (st.st_mode & S_IWOTH))
		audit_add(a, "world-writable-socket", AUDIT_MEDIUM,
			  "every local user can connect to the socket as it is now",
			  "restart sluice so that it sets mode again, and find what changed it",
			  "%s %s is mode %04o on disk", key, path, (unsigned)(st.st_mode & 07777));
	if (perm_check_folders(path, why, sizeof(why)))
		audit_add(a, "world-writable-socket", AUDIT_HIGH,
			  "another user can put a socket or a symlink of their own in its place "
			  "and receive the web server's requests, or steer the root master",
			  "make each folder up to / writable by its owner only (or sticky), "
			  "e.g. /run/sluice 0750", "%s %s: %s", key, path, why);
}

static void rule_listeners(struct audit *a)
{
	char key[32];

	for (int i = 0; i < a->cfg->nlisten; i++) {
		snprintf(key, sizeof(key), a->cfg->nlisten > 1 ? "listen[%d]" : "listen", i);
		rule_tcp(a, &a->cfg->listen[i]);
		rule_socket(a, key, &a->cfg->listen[i]);
	}
	if (a->cfg->status.address)
		rule_socket(a, "status.listen", &a->cfg->status);
}

/* ---- Limits -------------------------------------------------------------- */

static void rule_limits(struct audit *a)
{
	const struct sl_config *c = a->cfg;

	/* A supervised program's requests are its own: neither key applies. */
	if (c->program.path) {
		if (c->program.max_lifetime == 0 && c->pm.reload_on_rss == 0)
			audit_add(a, "no-recycling", AUDIT_LOW,
				  "a program that leaks memory or file descriptors grows without "
				  "bound until the machine runs out",
				  "set program = { max_lifetime = 3600; ... }; or pm.reload_on_rss",
				  "program.max_lifetime and pm.reload_on_rss are 0: the program's "
				  "copies are never replaced");
	} else if (c->request_terminate_timeout == 0)
		audit_add(a, "no-terminate-timeout", AUDIT_MEDIUM,
			  "a handler that never returns holds its worker forever; a few such "
			  "requests take the whole pool",
			  "set request_terminate_timeout = 60; (seconds, above your slowest "
			  "legitimate request)", "request_terminate_timeout is 0 (off)");
	if (!c->program.path && c->pm.max_requests == 0 && c->pm.reload_on_rss == 0)
		audit_add(a, "no-recycling", AUDIT_LOW,
			  "a module that leaks memory or file descriptors grows without bound "
			  "until the machine runs out",
			  "set pm = { max_requests = 10000; max_requests_jitter = 1000; }; or "
			  "pm.reload_on_rss", "pm.max_requests and pm.reload_on_rss are 0: workers "
			  "are never replaced");
	if (c->rlimit_core != 0)
		audit_add(a, "core-dumps", AUDIT_MEDIUM,
			  "a core file holds the requests in memory: passwords, cookies, "
			  "personal data, written to disk",
			  "remove rlimit_core (the default is 0), or set it only while "
			  "debugging, with kernel.core_pattern pointing to a private folder",
			  "rlimit_core = %s: workers dump core", c->rlimit_core == CONFIG_RLIMIT_NONE
			  ? "\"unlimited\"" : c->rlimit_core == CONFIG_RLIMIT_KEEP ? "the master's"
			  : "a size");
}

void audit_rules_config(struct audit *a)
{
	rule_root(a);
	rule_listeners(a);
	rule_limits(a);
}

/* ---- Modules -------------------------------------------------------------- */

static const char *const hardening_fix =
	"build it with -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 "
	"-Wl,-z,relro,-z,now (as `make` builds the samples)";

static void module_build(struct audit *a, const char *path, const struct elf_facts *f)
{
	if (!f->pie)
		audit_add(a, "module-hardening", AUDIT_MEDIUM,
			  "text relocations make its code writable while it loads and defeat "
			  "address randomisation", hardening_fix,
			  "module %s is not position independent (text relocations)", path);
	if (!f->relro || !f->bind_now)
		audit_add(a, "module-hardening", f->relro ? AUDIT_LOW : AUDIT_MEDIUM,
			  "its GOT stays writable, a classic target for turning a memory bug "
			  "into code execution", hardening_fix,
			  "module %s has %s RELRO", path, f->relro ? "only partial" : "no");
	if (f->canary == ELF_NO)
		audit_add(a, "module-hardening", AUDIT_MEDIUM,
			  "a stack buffer overflow in it goes undetected and can take over the "
			  "worker", hardening_fix,
			  "module %s was built without a stack protector", path);
	else if (f->canary == ELF_UNKNOWN)
		audit_add(a, "module-hardening", AUDIT_INFO, "", "",
			  "module %s: no function has a stack canary, and the file does not say "
			  "how it was compiled", path);
}

static void module_owner(struct audit *a, const char *path, const struct stat *st)
{
	char why[1024];

	if (st->st_uid != 0)
		audit_add(a, "module-writable", AUDIT_HIGH,
			  "its owner can change the code every worker runs, and the master "
			  "loads it as root", "chown root: the module (and install it with "
			  "mode 0644)", "module %s belongs to uid %u, not root", path,
			  (unsigned)st->st_uid);
	else if (perm_check_file(path, st, why, sizeof(why)))
		audit_add(a, "module-writable", AUDIT_HIGH,
			  "another user can change the code every worker runs",
			  "chmod go-w the module", "module %s", why);
	if (perm_check_folders(path, why, sizeof(why)))
		audit_add(a, "module-writable", AUDIT_HIGH,
			  "another user can put a module of their own in its place",
			  "make its folders writable by root only", "module %s: %s", path, why);
}

void audit_rules_modules(struct audit *a)
{
	for (int i = 0; i < a->cfg->nmodules; i++) {
		const char *path = a->cfg->modules[i].path;
		struct elf_facts f;
		struct stat st;
		char err[512];

		if (stat(path, &st) < 0 || elf_inspect(path, &f, err, sizeof(err)) < 0) {
			audit_add(a, "module-hardening", AUDIT_MEDIUM,
				  "sluice will refuse to start without it",
				  "install the module, or fix its path in modules",
				  "module %s cannot be read", path);
			continue;
		}
		module_build(a, path, &f);
		module_owner(a, path, &st);
	}
}
