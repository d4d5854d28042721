/*
 * response.h - what the request's life asks of its response (response.c).
 */
#ifndef SLUICE_RESPONSE_H
#define SLUICE_RESPONSE_H
#include <stddef.h>

struct sl_request;

/*
 * Hand what is buffered (the head first, if it has not left), then
 * `extra`, to the codec; `last` ends the response.  Returns 0, or -1 with
 * errno EPIPE once the client is gone (logged, and the connection marked
 * to close).
 */
int response_emit(struct sl_request *r, const void *extra, size_t extra_len, int last);

/*
 * Make the response an error response (it leaves with the request's end).
 * In production it is terse: status line, a generic message and the
 * request id, nothing about modules, routes, paths or versions (CWE-209);
 * `detail` goes nowhere, the log has it under the same id.  In
 * development mode the seam may build a verbose page from it.  `allow`,
 * when not NULL, is the Allow header of a 405.
 */
void response_error(struct sl_request *r, int status, const char *allow,
		    const char *detail);

#endif
