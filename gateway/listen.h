/*
 * listen.h - the listening socket, bound by the master before it forks.
 */
#ifndef SLUICE_LISTEN_H
#define SLUICE_LISTEN_H

#include <stddef.h>

struct listen_config;

/*
 * Bind and listen on the configured address: a unix socket (given mode,
 * owner and group; a stale socket file left by a dead instance is
 * removed, anything else in the way is an error) or TCP host:port.
 * Returns the fd (non-blocking, close-on-exec), or -1 with one line in
 * `err` naming the address.
 */
int listen_open(const struct listen_config *lc, char *err, size_t errlen);

/* Remove the unix socket file, if the address is one. */
void listen_cleanup(const struct listen_config *lc);

#endif
