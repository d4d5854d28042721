/*
 * config_check.c - what the system says about a parsed config.
 *
 * config.c checks the file against itself; this file asks the system
 * about what the file names: users, groups, host names, folders, limits.
 * It changes nothing (no file is created, no socket bound), so that
 * `sluice -t` has no side effects, and it runs before the master binds
 * or forks, so that a mistake is one line naming its file and line
 * rather than a worker that dies at every start.
 */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_value.h"
#include "perm.h"

/* "AT: message", AT being "FILE:LINE" or the config file; returns -1. */
static int say(const struct sl_config *cfg, const char *at, char *err, size_t errlen,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int say(const struct sl_config *cfg, const char *at, char *err, size_t errlen,
	       const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s: ", at ? at : cfg->file);

	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Can a file be created at `path`, or the one there be written?  NULL,
 * or why not.  Nothing is created: the folder is looked at instead.
 */
static const char *writable(const char *path, char *why, size_t size)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (access(path, F_OK) == 0) {
		if (access(path, W_OK) == 0)
			return NULL;
		snprintf(why, size, "cannot write %s: %s", path, strerror(errno));
		return why;
	}
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(dir, &st) < 0) {
		snprintf(why, size, "the folder %s: %s", dir, strerror(errno));
		return why;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, size, "%s is not a folder", dir);
		return why;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(why, size, "cannot create files in %s: %s", dir, strerror(errno));
		return why;
	}
	return NULL;
}

static int check_file(const struct sl_config *cfg, enum config_at at, const char *key,
		      const char *path, char *err, size_t errlen)
{
	char why[4200];

	if (!path || strcmp(path, "stderr") == 0 || !writable(path, why, sizeof(why)))
		return 0;
	return say(cfg, cfg->at[at], err, errlen, "%s: %s", key, why);
}

/*
 * user and group: the master must be root to become them (a non-root
 * master would run its workers as itself, which is not what was asked),
 * and they must exist.
 */
static int check_user(const struct sl_config *cfg, char *err, size_t errlen)
{
	if (!cfg->user)
		return 0;
	if (geteuid() != 0)
		return say(cfg, cfg->at[AT_USER], err, errlen, "user \"%s\" is set, but "
			   "sluice runs as uid %d, not root, and only root can switch its "
			   "workers to another user: start it as root, or remove user",
			   cfg->user, (int)geteuid());
	if (!getpwnam(cfg->user))
		return say(cfg, cfg->at[AT_USER], err, errlen, "user \"%s\" does not exist",
			   cfg->user);
	if (cfg->group && !getgrnam(cfg->group))
		return say(cfg, cfg->at[AT_GROUP], err, errlen, "group \"%s\" does not exist",
			   cfg->group);
	return 0;
}

/*
 * A listener's socket file: its folder exists, no one but the folders'
 * owners can put another file in its place (perm.h), and nothing else
 * is in the way.
 */
static int check_unix(const struct sl_config *cfg, const struct listen_config *lc,
		      const char *path, char *err, size_t errlen)
{
	char why[4200];
	struct stat st;

	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return say(cfg, lc->at, err, errlen, "listen %s: a file that is not "
			   "a socket is in the way", path);
	if ((lstat(path, &st) < 0 && writable(path, why, sizeof(why)))
	    || perm_check_folders(path, why, sizeof(why)))
		return say(cfg, lc->at, err, errlen, "listen %s: %s", path, why);
	return 0;
}

static int check_listener(const struct sl_config *cfg, const struct listen_config *lc,
			  char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res;
	char host[256], port[6];
	int rc;

	if (!lc->address)
		return 0;
	if (lc->address[0] == '/')
		return check_unix(cfg, lc, lc->address, err, errlen);
	if (config_value_host_port(lc->address, host, sizeof(host), port))
		return 0;	/* config.c refused it already */
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return say(cfg, lc->at, err, errlen, "listen %s: cannot resolve \"%s\": %s",
			   lc->address, host, gai_strerror(rc));
	freeaddrinfo(res);
	return 0;
}

/* The socket's owner and group, which listen.c sets after binding. */
static int check_owner(const struct sl_config *cfg, const struct listen_config *lc,
		       char *err, size_t errlen)
{
	if (lc->owner && !getpwnam(lc->owner))
		return say(cfg, lc->at, err, errlen, "listen %s: owner \"%s\" does not exist",
			   lc->address, lc->owner);
	if (lc->group && !getgrnam(lc->group))
		return say(cfg, lc->at, err, errlen, "listen %s: group \"%s\" does not exist",
			   lc->address, lc->group);
	return 0;
}

/* Only root raises a hard limit: a larger one would fail in every worker. */
static int check_rlimit(const struct sl_config *cfg, enum config_at at, const char *key,
			int resource, long long want, char *err, size_t errlen)
{
	struct rlimit rl;
	rlim_t v = want == CONFIG_RLIMIT_NONE ? RLIM_INFINITY : (rlim_t)want;

	if (want == CONFIG_RLIMIT_KEEP || geteuid() == 0 || getrlimit(resource, &rl) < 0)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && v > rl.rlim_max)
		return say(cfg, cfg->at[at], err, errlen, "%s is above the hard limit of "
			   "%llu, which only root can raise", key,
			   (unsigned long long)rl.rlim_max);
	return 0;
}

static int check_chdir(const struct sl_config *cfg, char *err, size_t errlen)
{
	struct stat st;

	if (stat(cfg->chdir, &st) < 0)
		return say(cfg, cfg->at[AT_CHDIR], err, errlen, "chdir %s: %s", cfg->chdir,
			   strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return say(cfg, cfg->at[AT_CHDIR], err, errlen, "chdir %s: not a folder",
			   cfg->chdir);
	return 0;
}

/*
 * May the workers' user run `st`?  The owner's, the group's or the
 * others' execute bit, as the kernel picks them (root needs any one).
 */
static int can_execute(const struct sl_config *cfg, const struct stat *st)
{
	struct passwd *pw = cfg->user ? getpwnam(cfg->user) : NULL;
	struct group *gr = cfg->group ? getgrnam(cfg->group) : NULL;
	uid_t uid = pw ? pw->pw_uid : geteuid();
	gid_t gid = gr ? gr->gr_gid : pw ? pw->pw_gid : getegid();

	if (uid == 0)
		return (st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
	if (st->st_uid == uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (st->st_gid == gid)
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

/*
 * program.path: a regular file the workers' user may execute, which
 * nobody but its owners can change (the same rule as a module's file),
 * so that a copy never fails at exec, at every start, in a loop.
 */
static int check_program(const struct sl_config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->program.path, *at = cfg->at[AT_PROGRAM];
	char why[4200];
	struct stat st;

	if (!path)
		return 0;
	if (stat(path, &st) < 0)
		return say(cfg, at, err, errlen, "program.path %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return say(cfg, at, err, errlen, "program.path %s: not a regular file", path);
	if (!can_execute(cfg, &st))
		return say(cfg, at, err, errlen, "program.path %s (mode %04o): %s cannot "
			   "execute it", path, (unsigned)(st.st_mode & 07777),
			   cfg->user ? cfg->user : "sluice's own user");
	if (perm_check_file(path, &st, why, sizeof(why))
	    || perm_check_folders(path, why, sizeof(why)))
		return say(cfg, at, err, errlen, "program.path: %s", why);
	return 0;
}

/* Under mod_fcgid the socket is descriptor 0 and the listen addresses go unused. */
static int listeners_used = 1;

void config_check_listeners(int used)
{
	listeners_used = used;
}

int config_check(const struct sl_config *cfg, char *err, size_t errlen)
{
	if (check_user(cfg, err, errlen) < 0
	    || check_file(cfg, AT_ERROR_LOG, "error_log", cfg->error_log, err, errlen) < 0
	    || check_file(cfg, AT_ACCESS_LOG, "access_log", cfg->access_log, err, errlen) < 0
	    || check_file(cfg, AT_SLOWLOG, "slowlog", cfg->slowlog, err, errlen) < 0
	    || check_file(cfg, AT_PID, "pid", cfg->pid_file, err, errlen) < 0
	    || check_chdir(cfg, err, errlen) < 0
	    || check_program(cfg, err, errlen) < 0
	    || check_rlimit(cfg, AT_RLIMIT_FILES, "rlimit_files", RLIMIT_NOFILE,
			    cfg->rlimit_files, err, errlen) < 0
	    || check_rlimit(cfg, AT_RLIMIT_CORE, "rlimit_core", RLIMIT_CORE,
			    cfg->rlimit_core, err, errlen) < 0)
		return -1;
	for (int i = 0; i < cfg->nlisten && listeners_used; i++)
		if (check_listener(cfg, &cfg->listen[i], err, errlen) < 0
		    || check_owner(cfg, &cfg->listen[i], err, errlen) < 0)
			return -1;
	if (listeners_used && (check_listener(cfg, &cfg->status, err, errlen) < 0
			       || check_owner(cfg, &cfg->status, err, errlen) < 0))
		return -1;
	return 0;
}
