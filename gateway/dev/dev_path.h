/*
 * dev_path.h - what the development HTTP listener (dev_http.c) decides
 * from a request's target and Host before relaying it: the decoded,
 * normalized path the router sees, and whether the Host is a loopback
 * name.  Pure functions on strings (dev profile only), kept apart from
 * libmicrohttpd so that the fuzz harness drives them alone.
 */
#ifndef SLUICE_DEV_PATH_H
#define SLUICE_DEV_PATH_H

/*
 * The path part of `uri` (up to '?'), %-decoded into `out`, which has
 * room for `uri`.  A malformed escape or an encoded NUL is refused, as
 * nginx refuses them: -1.
 */
int dev_path_decode(const char *uri, char *out);

/*
 * Normalize a decoded path in place as nginx does for $uri (which the
 * router takes from DOCUMENT_URI): "//" becomes "/", "." segments go,
 * ".." removes the segment before it, and a trailing "/" stays.  A path
 * that does not start with '/' or whose ".." climbs above the root is
 * refused: -1.
 */
int dev_path_normalize(char *p);

/*
 * 1 if the Host header `host` (NULL: none) names loopback: localhost,
 * a name under .localhost, 127.x.y.z or [::1], with any port.  Else 0.
 */
int dev_path_loopback_host(const char *host);

#endif
