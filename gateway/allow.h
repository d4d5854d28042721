/*
 * allow.h - listen.allowed_clients: the peers a TCP listener serves.
 *
 * php-fpm's key, with php-fpm's syntax: a comma-separated list of IPv4
 * and IPv6 addresses.  A connection from any other address is closed as
 * soon as it is accepted, before a byte of it is read, and counted.
 * Unix sockets have no peer address; their mode, owner and group say
 * who may connect, and the config refuses the key on them.
 */
#ifndef SLUICE_ALLOW_H
#define SLUICE_ALLOW_H

#include <stddef.h>
#include <sys/socket.h>

#include "defaults.h"

struct allow_addr {
	sa_family_t family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network order; 4 bytes used for AF_INET */
};

/* n == 0: no list, every client is served. */
struct allow_list {
	int n;
	struct allow_addr addr[MAX_ALLOWED_CLIENTS];
};

/*
 * Parse "127.0.0.1, ::1, [fd00::2]" into `out`.  Returns 0, or -1 with
 * the entry that is wrong and why in `why` ("\"10.0.0.300\" is not an
 * IPv4 or IPv6 address").  An empty list is an error: leaving the key out
 * is how every client is allowed.
 */
int allow_parse(const char *list, struct allow_list *out, char *why, size_t whylen);

/*
 * Whether the peer `sa` may be served: 1 when the list is empty or holds
 * its address, else 0.  An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is
 * compared as the IPv4 address it is.
 */
int allow_match(const struct allow_list *al, const struct sockaddr *sa);

/*
 * Log that listener `address` refused peer `sa`, at most one line per
 * REFUSED_LOG_MS in this process, the line counting those refused since
 * the last one; the rest are only counted.
 */
void allow_log_refused(const char *address, const struct sockaddr *sa);

#endif
