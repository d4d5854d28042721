/*
 * headlines.h - the response head a handler builds, as "Name: value\r\n"
 * lines: which names may appear once only, which belong to sluice, and
 * removing a line.
 */
#ifndef SLUICE_HEADLINES_H
#define SLUICE_HEADLINES_H

#include <stddef.h>

/*
 * 1 if a response carries at most one `name` header (case-insensitive):
 * adding it again replaces the first.  Set-Cookie and list-valued fields
 * (Vary, Cache-Control, Link, ...) are not: each addition is a line.
 */
int headlines_single(const char *name);

/*
 * 1 if sluice or the protocol writes `name` itself, so that a module's
 * line would contradict it: Status (FastCGI's status line), and the
 * framing of the connection (Transfer-Encoding, Connection, Keep-Alive,
 * Upgrade), which is the web server's business.
 */
int headlines_reserved(const char *name);

/*
 * The line of `name` in the `len` bytes of `head`: its offset, with its
 * length (CRLF included) in *line_len, or -1 when there is none.
 */
long headlines_find(const char *head, size_t len, const char *name, size_t *line_len);

/* Remove every `name` line from `head`; the new length. */
size_t headlines_remove(char *head, size_t len, const char *name);

#endif
