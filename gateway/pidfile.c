/*
 * pidfile.c - the master's pid file.  See pidfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidfile.h"

static char claimed[PATH_MAX];
static pid_t owner;

/* The pid written in `path`, or 0 when there is none to read. */
static pid_t read_pid(const char *path)
{
	char buf[32] = "";
	ssize_t n;
	long v;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v < INT_MAX ? (pid_t)v : 0;
}

/* A process's name, as the kernel keeps it (the program's, not its title). */
static int comm_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	return ok ? 0 : -1;
}

/*
 * Does `pid` run sluice?  A pid file outlives a crash and pids are
 * reused: a live process of another program under that number does not
 * hold the file.
 */
static int is_sluice(pid_t pid)
{
	char mine[32], theirs[32];

	if (pid == getpid() || (kill(pid, 0) < 0 && errno != EPERM))
		return 0;
	return comm_of(getpid(), mine, sizeof(mine)) == 0
	       && comm_of(pid, theirs, sizeof(theirs)) == 0 && strcmp(mine, theirs) == 0;
}

static int write_temp(const char *path, char *tmp, size_t size)
{
	char line[32];
	int fd, len, rc;

	snprintf(tmp, size, "%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	rc = write(fd, line, (size_t)len) == len && fchmod(fd, 0644) == 0 ? 0 : -1;
	if (close(fd) < 0 || rc < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int pidfile_claim(const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8];
	pid_t other = read_pid(path);

	if (other && is_sluice(other)) {
		snprintf(err, errlen, "pid %s: sluice is already running as pid %d",
			 path, (int)other);
		return -1;
	}
	if (write_temp(path, tmp, sizeof(tmp)) < 0) {
		snprintf(err, errlen, "pid %s: cannot write: %s", path, strerror(errno));
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "pid %s: cannot write: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	snprintf(claimed, sizeof(claimed), "%s", path);
	owner = getpid();
	return 0;
}

void pidfile_release(void)
{
	if (!claimed[0] || getpid() != owner || read_pid(claimed) != owner)
		return;
	unlink(claimed);
	claimed[0] = '\0';
}
