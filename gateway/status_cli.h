/*
 * status_cli.h - asking the running status responder from the command
 * line (`sluice status`, `sluice top`).
 */
#ifndef SLUICE_STATUS_CLI_H
#define SLUICE_STATUS_CLI_H

#include <stddef.h>
#include <stdio.h>

/*
 * GET `target` ("/status?json") from the responder at `address` (a
 * socket path or host:port), as nginx would, and write the answer's body
 * to `out`.  The whole exchange ends within a few seconds.  Returns the
 * HTTP status, or -1 with a line naming the address and the cause in
 * `err`.
 */
int status_ask(const char *address, const char *target, FILE *out, char *err, size_t errlen);

#endif
