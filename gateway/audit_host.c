/*
 * audit_host.c - what `sluice audit` learns outside the config: the
 * systemd unit file, the running instance in /proc, and dpkg and apt
 * about the libraries.  See audit.h.
 *
 * Programs are run with fork and exec and a fixed argument list, never
 * through a shell, since library names come from files on disk.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "elf.h"
#include "status_cli.h"

/* ---- The unit file -------------------------------------------------------- */

int audit_read_unit(const char *path, struct audit_unit *u, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	memset(u, 0, sizeof(*u));
	snprintf(u->path, sizeof(u->path), "%s", path);
	if (!f) {
		snprintf(err, errlen, "--unit %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "ExecStart=", 10) == 0 && strstr(line, "--dev"))
			u->dev = 1;
		else if (strncmp(line, "User=", 5) == 0)
			snprintf(u->user, sizeof(u->user), "%.63s", line + 5);
	}
	fclose(f);
	return 0;
}

/* ---- The running instance ------------------------------------------------- */

/* The parent and the comm of `pid`, from /proc/PID/stat; -1 if it is gone. */
static int proc_stat(pid_t pid, pid_t *ppid, char *comm, size_t len)
{
	char path[64], buf[512], *open, *close;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	open = strchr(buf, '(');
	close = strrchr(buf, ')');
	if (!open || !close || close < open)
		return -1;
	if (comm)
		snprintf(comm, len, "%.*s", (int)(close - open - 1), open + 1);
	return sscanf(close + 1, " %*c %d", ppid) == 1 ? 0 : -1;
}

/* Whether /proc/PID/cmdline starts with `prefix` (a process title). */
static int titled(pid_t pid, const char *prefix)
{
	char path[64], buf[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strncmp(buf, prefix, strlen(prefix)) == 0;
}

static void find_workers(struct audit_proc *p)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d)) && p->nworkers < AUDIT_MAX_WORKERS) {
		pid_t pid = (pid_t)atoi(e->d_name), ppid;

		if (pid > 0 && proc_stat(pid, &ppid, NULL, 0) == 0 && ppid == p->master &&
		    titled(pid, "sluice: worker"))
			p->workers[p->nworkers++] = pid;
	}
	if (d)
		closedir(d);
}

/* The master from the config's pid file, or as the parent of a worker the status socket names. */
static pid_t master_of(const struct sl_config *cfg)
{
	char buf[65536], err[256], *at;
	pid_t pid = 0, ppid;
	FILE *f;

	if (cfg->pid_file && (f = fopen(cfg->pid_file, "r"))) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
		if (pid > 0)
			return pid;
	}
	if (!cfg->status.address || !(f = fmemopen(buf, sizeof(buf), "w")))
		return 0;
	memset(buf, 0, sizeof(buf));
	if (status_ask(cfg->status.address, "/status?json", f, err, sizeof(err)) != 200)
		pid = 0;
	fclose(f);
	buf[sizeof(buf) - 1] = '\0';
	at = strstr(buf, "\"pid\":");
	if (at && (pid = (pid_t)atoi(at + 6)) > 0 && proc_stat(pid, &ppid, NULL, 0) == 0)
		return ppid;
	return 0;
}

int audit_find_proc(const struct sl_config *cfg, pid_t pid, struct audit_proc *p,
		    char *err, size_t errlen)
{
	char path[64];
	ssize_t n;

	memset(p, 0, sizeof(*p));
	p->master = pid ? pid : master_of(cfg);
	if (p->master <= 0 ||
	    proc_stat(p->master, &p->parent, NULL, 0) < 0) {
		snprintf(err, errlen, "no sluice master with pid %d", (int)p->master);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->master);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';
	if (proc_stat(p->parent, &(pid_t){ 0 }, p->parent_name, sizeof(p->parent_name)) < 0)
		snprintf(p->parent_name, sizeof(p->parent_name), "?");
	find_workers(p);
	return 0;
}

/* A number from /proc/PID/status ("Uid:") or /proc/PID/limits ("Max core file size"). */
static long long proc_field(pid_t pid, const char *file, const char *name)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, name, strlen(name)) == 0) {
			const char *s = line + strlen(name);

			s += strspn(s, " \t:");
			v = strncmp(s, "unlimited", 9) == 0 ? -2 : atoll(s);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

static const char *const managers[] = {
	"systemd", "supervisord", "runsv", "s6-supervise", "tini", "dumb-init", "containerd-shim",
	NULL
};

static void rule_manager(struct audit *a)
{
	const struct audit_proc *p = a->proc;

	if (!p) {
		if (a->unit)
			audit_add(a, "no-process-manager", AUDIT_INFO, "", "",
				  "started by systemd through %s", a->unit->path);
		else
			audit_add(a, "no-process-manager", AUDIT_INFO, "", "",
				  "no running instance or unit given: who starts sluice was not "
				  "checked");
		return;
	}
	for (int i = 0; managers[i]; i++)
		if (strncmp(p->parent_name, managers[i], strlen(managers[i])) == 0) {
			audit_add(a, "no-process-manager", AUDIT_INFO, "", "",
				  "master %d is run by %s (pid %d)", (int)p->master,
				  p->parent_name, (int)p->parent);
			return;
		}
	audit_add(a, "no-process-manager", AUDIT_LOW,
		  "nothing restarts sluice if the master dies or the machine reboots, and "
		  "its output goes nowhere anyone reads",
		  "run it under systemd (conf/systemd/sluice.service) or supervisord "
		  "(conf/supervisor/sluice.conf)",
		  "master %d was started by %s (pid %d), not a process manager", (int)p->master,
		  p->parent_name, (int)p->parent);
}

static void rule_workers(struct audit *a)
{
	const struct audit_proc *p = a->proc;
	int root = 0, dumps = 0;

	/* One finding each, for the first worker found so: the pool shares a config. */
	for (int i = 0; p && i < p->nworkers; i++) {
		pid_t pid = p->workers[i];
		long long core = proc_field(pid, "limits", "Max core file size");

		if (!root && proc_field(pid, "status", "Uid:") == 0) {
			root = 1;
			audit_add(a, "root-workers", AUDIT_HIGH,
				  "module code runs in the workers: as root, any bug in it owns "
				  "the machine", "set user = \"sluice\"; in the config, or User= in "
				  "the unit", "worker pid %d runs as root", (int)pid);
		}
		if (!dumps && core != 0 && core != -1) {
			dumps = 1;
			audit_add(a, "core-dumps", AUDIT_MEDIUM,
				  "a core file holds the requests in memory, written to disk",
				  "set rlimit_core = 0; (the default)",
				  "worker pid %d may dump core (limit %s)", (int)pid,
				  core == -2 ? "unlimited" : "above 0");
		}
	}
}

void audit_rules_host(struct audit *a)
{
	rule_manager(a);
	rule_workers(a);
}
