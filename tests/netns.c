/*
 * netns.c - the network namespaces of netns.h.
 *
 * A namespace is made by unshare(CLONE_NEWNET) in the calling thread,
 * which is then moved back with setns(): only the descriptor of the new
 * namespace is kept.  Interfaces and addresses are set by iproute2's
 * `ip`, forked by a thread that has entered the namespace first; a veth
 * end is sent to another namespace through that namespace's descriptor,
 * named to `ip` by its /proc path (ip takes a path where it takes a
 * namespace name).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>

#include "harness.h"
#include "netns.h"

#define IP_BIN		"/sbin/ip"
#define IP_MAX_WORDS	24
#define IP_TIMEOUT_MS	5000
#define TCP_ESTABLISHED_STATE	1	/* include/net/tcp_states.h */

static int open_current(void)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fprintf(stderr, "netns: /proc/thread-self/ns/net: %s\n", strerror(errno));
	return fd;
}

int netns_current(struct netns *ns)
{
	ns->fd = open_current();
	return ns->fd < 0 ? -1 : 0;
}

int netns_enter(const struct netns *ns)
{
	if (setns(ns->fd, CLONE_NEWNET) == 0)
		return 0;
	fprintf(stderr, "netns: setns: %s\n", strerror(errno));
	return -1;
}

void netns_close(struct netns *ns)
{
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
}

int netns_make(struct netns *ns)
{
	struct netns back;
	int rc = -1;

	ns->fd = -1;
	if (netns_current(&back) == -1)
		return -1;
	if (unshare(CLONE_NEWNET) != 0)
		fprintf(stderr, "netns: unshare(CLONE_NEWNET): %s\n", strerror(errno));
	else
		ns->fd = open_current();
	/* Back first: whatever happened, the thread must not stay behind. */
	if (netns_enter(&back) == 0 && ns->fd >= 0)
		rc = netns_ip(ns, "link set lo up");
	netns_close(&back);
	if (rc == -1)
		netns_close(ns);
	return rc;
}

pid_t netns_spawn(const struct netns *ns, char *const argv[], const char *out)
{
	struct netns back;
	pid_t pid = -1;

	if (netns_current(&back) == -1)
		return -1;
	if (netns_enter(ns) == 0) {
		pid = harness_spawn(argv, out, NULL, NULL);
		if (netns_enter(&back) == -1) {
			/* A thread left in the wrong namespace would mislead
			 * every later step of the test: give up on it. */
			abort();
		}
	}
	netns_close(&back);
	return pid;
}

int netns_ip(const struct netns *ns, const char *args)
{
	char buf[512], *argv[IP_MAX_WORDS + 2], *save = NULL, bin[] = IP_BIN;
	int n = 0, status;
	pid_t pid;

	if (snprintf(buf, sizeof(buf), "%s", args) >= (int)sizeof(buf))
		return -1;
	argv[n++] = bin;
	for (char *w = strtok_r(buf, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
		if (n > IP_MAX_WORDS)
			return -1;
		argv[n++] = w;
	}
	argv[n] = NULL;
	pid = netns_spawn(ns, argv, "/dev/stderr");
	if (pid < 0)
		return -1;
	status = harness_wait_exit(pid, IP_TIMEOUT_MS);
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "netns: `ip %s` failed (wait status %#x)\n", args, status);
	return -1;
}

int netns_link(const struct netns *a, const char *a_if, const char *a_cidr,
	       const struct netns *b, const char *b_if, const char *b_cidr)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "link add %s type veth peer name %s netns /proc/%d/fd/%d",
		 a_if, b_if, (int)getpid(), b->fd);
	if (netns_ip(a, cmd) == -1)
		return -1;
	snprintf(cmd, sizeof(cmd), "addr add %s dev %s", a_cidr, a_if);
	if (netns_ip(a, cmd) == -1)
		return -1;
	snprintf(cmd, sizeof(cmd), "addr add %s dev %s", b_cidr, b_if);
	if (netns_ip(b, cmd) == -1)
		return -1;
	snprintf(cmd, sizeof(cmd), "link set %s up", a_if);
	if (netns_ip(a, cmd) == -1)
		return -1;
	snprintf(cmd, sizeof(cmd), "link set %s up", b_if);
	return netns_ip(b, cmd);
}

/*
 * /proc/net/tcp prints each address as the 32-bit word it is in memory
 * (network order read as a host integer) and each port as a number.
 */
int netns_tcp_established(const char *addr, int port)
{
	FILE *f = fopen("/proc/thread-self/net/tcp", "r");
	struct in_addr want;
	char line[512];
	unsigned rem_addr, rem_port, state;
	int n = 0;

	if (f == NULL || inet_pton(AF_INET, addr, &want) != 1) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " %*u: %*x:%*x %x:%x %x", &rem_addr, &rem_port, &state) == 3 &&
		    rem_addr == want.s_addr && rem_port == (unsigned)port &&
		    state == TCP_ESTABLISHED_STATE)
			n++;
	fclose(f);
	return n;
}
