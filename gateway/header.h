/*
 * header.h - HTTP header and status facts shared by the request code and
 * the protocol codecs: what a valid response header is, how a CGI
 * parameter name maps to an HTTP header name, and reason phrases.
 */
#ifndef SLUICE_HEADER_H
#define SLUICE_HEADER_H

#include <stddef.h>

/* 1 if `name` is a non-empty RFC 9110 token (tchar only), else 0. */
int header_name_ok(const char *name);

/*
 * 1 if the `len` bytes of `value` may be sent: no CR, LF or NUL (response
 * splitting), nor any other control character but HTAB; bytes 0x80-0xFF
 * (obs-text) are allowed.  Else 0.
 */
int header_value_ok(const char *value, size_t len);

/*
 * 1 if the CGI parameter `param` carries the HTTP header `name`:
 * "HTTP_USER_AGENT" carries "user-agent" (case-insensitive, '-' matching
 * '_'), and "CONTENT_TYPE" / "CONTENT_LENGTH" carry "Content-Type" and
 * "Content-Length" (CGI passes those two without the HTTP_ prefix).
 */
int header_param_is(const char *param, const char *name);

/* "OK" for 200, "Not Found" for 404, ...; "Unknown" for codes without one. */
const char *http_reason(int status);

/*
 * The first line of a response head, "PREFIX<status> <reason>\r\n", where
 * the prefix is the protocol's ("Status: " for FastCGI's CGI-style head,
 * "HTTP/1.1 " for uwsgi's raw one).  Returns its length (cut to fit
 * `size`).  Async-signal-safe.
 */
size_t header_status_line(char *buf, size_t size, const char *prefix, int status,
			  const char *reason);

/*
 * The same, for every response a worker sends: the last line made is
 * kept, and a response with the same prefix, status and reason (most are
 * "200 OK") copies it.  Not async-signal-safe (the kept line); the crash
 * handlers use header_status_line.
 */
size_t header_status_line_kept(char *buf, size_t size, const char *prefix, int status,
			       const char *reason);

/*
 * A whole head for a canned answer: the status line, Content-Type,
 * Content-Length and the blank line.  Returns its length, or 0 when it
 * does not fit `size`.  Async-signal-safe (the crash handlers use it).
 */
size_t header_canned_head(char *buf, size_t size, const char *prefix, int status,
			  const char *reason, const char *type, size_t body_len);

#endif
