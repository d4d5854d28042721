/*
 * dev_http.h - the development HTTP listener (dev profile only).
 *
 * With `sluice --dev --http 127.0.0.1:8081` the master forks one more
 * process that speaks HTTP/1.1 on a loopback address, so that a
 * developer can use curl and a browser without nginx.  It runs no app
 * code: each HTTP request is relayed over FastCGI to sluice's own
 * listening socket, where the ordinary workers answer it exactly as they
 * would answer nginx.
 */
#ifndef SLUICE_DEV_HTTP_H
#define SLUICE_DEV_HTTP_H

#include <stddef.h>
#include <sys/types.h>

/*
 * 0 if `addr` ("127.0.0.1:8081", "[::1]:8081", "localhost:8081") is a
 * loopback host:port, else -1 with one line in `err` saying that the
 * development listener binds loopback addresses only and naming the
 * address.  Names are resolved with getaddrinfo and EVERY result must be
 * loopback (127.0.0.0/8 or ::1): a name that also resolves elsewhere is
 * refused, and so are the wildcard addresses, port 0 and anything that
 * is not host:port.
 */
int dev_http_check(const char *addr, char *err, size_t errlen);

/*
 * Fork the listener process: bind `http_addr` (checked again), then
 * serve until SIGTERM (or SIGINT, SIGQUIT) or the master's death
 * (PR_SET_PDEATHSIG).  `fcgi_addr` is where the workers listen, as in
 * the config's listen.address ("/path.sock", "unix:/path.sock",
 * "host:port").
 *
 * The socket is bound in the parent before forking, and the child
 * reports through a pipe whether its HTTP server started, so that every
 * failure ("address in use", a bad `fcgi_addr`) comes back here as one
 * line in `err` and no half-started child is left.  Apart from the
 * loopback refusal, which names the address as dev_http_check does,
 * `err` does not repeat `http_addr`: the caller names it ("cannot bind:
 * Address already in use").  Returns the child's pid (the caller reaps
 * it), or -1.
 */
pid_t dev_http_spawn(const char *http_addr, const char *fcgi_addr, char *err, size_t errlen);

#endif
