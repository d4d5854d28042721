/*
 * cookie.h - the Set-Cookie value sl_set_cookie sends, built and checked
 * apart from the request so that the unit suite can drive it alone.
 */
#ifndef SLUICE_COOKIE_H
#define SLUICE_COOKIE_H

#include <stddef.h>

#include "sluice.h"

/*
 * Longest name plus value accepted: RFC 6265 section 6.1 asks browsers
 * for at least 4096 bytes per cookie, and most stop there.
 */
#define COOKIE_MAX_PAIR	4096

/*
 * The value of a Set-Cookie header for `name`=`value` with `o` (NULL:
 * the defaults) into `buf`; with `clear`, an empty value that expires
 * now.  Returns its length, or -1 with a sentence in `why` saying what is
 * wrong and where (the name, the value, the path or the domain, the byte
 * and its offset).
 */
long cookie_format(char *buf, size_t size, const char *name, const char *value,
		   const struct sl_cookie_opts *o, int clear, char *why, size_t why_size);

/* "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110's IMF-fixdate) for `t`; its length. */
size_t cookie_http_date(char *buf, size_t size, time_t t);

#endif
