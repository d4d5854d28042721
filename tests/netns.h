/*
 * netns.h - network namespaces that stand in for machines in integration
 * suites.  Each is a network stack of its own (loopback, addresses,
 * routes, ports), joined to another by a veth pair on private addresses,
 * so that several sluice instances listen on one port on "different
 * hosts", nginx reaches them over TCP, and a host's link can be cut,
 * without touching the machine's own network.  Needs root.
 *
 * A namespace is held by a descriptor only, never named in /run/netns:
 * the kernel frees it, veth ends included, once the descriptor is closed
 * and the last process in it has exited, so a test that dies leaves
 * nothing behind.  A process forked by the calling thread starts in the
 * namespace that thread is in: enter a namespace, then start sluice or
 * nginx (or the load generator's thread) there.  Nothing here asserts:
 * 0 or -1, and the reason on stderr.
 */
#ifndef SLUICE_TEST_NETNS_H
#define SLUICE_TEST_NETNS_H

#include <sys/types.h>

struct netns {
	int fd;			/* /proc/thread-self/ns/net of the namespace; -1: none */
};

/*
 * A new namespace with its loopback up.  The calling thread is left in
 * the namespace it was in.
 */
int netns_make(struct netns *ns);

/* The namespace the calling thread is in now (to come back to it). */
int netns_current(struct netns *ns);

/* Move the calling thread into `ns`. */
int netns_enter(const struct netns *ns);

/*
 * harness_spawn of `argv` (output appended to `out`) from inside `ns`,
 * the calling thread staying where it was: the pid, or -1.
 */
pid_t netns_spawn(const struct netns *ns, char *const argv[], const char *out);

/*
 * `ip ARGS` (words separated by spaces, /sbin/ip) run in `ns`, within
 * 5 s; 0 when it exited with status 0.
 */
int netns_ip(const struct netns *ns, const char *args);

/*
 * A veth pair from `a` (interface `a_if`, address `a_cidr` such as
 * "10.77.1.1/24") to `b` (`b_if`, `b_cidr`), both ends up.
 */
int netns_link(const struct netns *a, const char *a_if, const char *a_cidr,
	       const struct netns *b, const char *b_if, const char *b_cidr);

/*
 * TCP connections in the calling thread's namespace that are established
 * to IPv4 `addr`:`port` (from /proc/thread-self/net/tcp); -1 when the
 * table cannot be read.
 */
int netns_tcp_established(const char *addr, int port);

/* Close the descriptor (the namespace goes once nothing runs in it). */
void netns_close(struct netns *ns);

#endif
