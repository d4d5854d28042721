/*
 * dev.h - the one seam between the core and development mode.
 *
 * Development mode (verbose error pages, the /_sluice/ debug endpoints,
 * auto-reload of rebuilt modules, a direct HTTP listener) exists only in
 * the dev profile, and only with --dev.  The core calls the functions
 * below and nothing else of it.  The production profile links
 * dev_none.c, whose stubs answer "no" and contain no development code or
 * text at all; the dev profile links dev.c, dev_http.c and dev_relay.c.
 * `make check-prod` proves that the production binary holds none of them.
 */
#ifndef SLUICE_DEV_H
#define SLUICE_DEV_H

#include <stddef.h>

struct generation;
struct modset;
struct sl_request;

/* 1 when this binary has a development mode (the dev profile). */
int dev_built(void);

/*
 * Turn development mode on, before start-up goes on; `http_addr` (or
 * NULL) is where the direct HTTP listener binds, loopback only.  Returns
 * 0, or -1 with one line in `err`.
 */
int dev_enable(const char *http_addr, char *err, size_t errlen);

/* ---- In the master ---- */

/*
 * Start what development mode runs beside the pool: the HTTP listener,
 * relaying to the workers on generation `g`'s socket.  Returns 0 (also
 * when development mode is off), or -1 with one line in `err`.
 */
int dev_master_start(const struct generation *g, char *err, size_t errlen);

/*
 * Watch generation `g`'s module files.  Returns a descriptor the master
 * polls for changes, or -1 when there is none (development mode off).
 */
int dev_master_watch(const struct generation *g);

/*
 * The descriptor from dev_master_start is readable: returns 1 when a
 * module file changed and the master should reload.
 */
int dev_master_changed(void);

/* The outcome of the last reload (NULL: it went well), shown on error pages. */
void dev_reload_result(const char *err);

/* Stop the HTTP listener; the master is leaving. */
void dev_master_stop(void);

/* ---- In a worker ---- */

/* Before a worker's modules run their init: keep what they log. */
void dev_init_begin(void);

/*
 * The modules of `ms` finished their init with `rc` (module_init_all's
 * 0 or -1).  Returns 0 when the worker goes on: the init succeeded, or it
 * failed in development mode, where the worker then answers every
 * request with a page saying which module failed and why (dev_route)
 * until a fixed module is reloaded.  Returns -1 when the worker must exit.
 */
int dev_init_end(const struct modset *ms, int rc);

/*
 * Answer a request for a debug endpoint, or any request after a failed
 * init; 1 if it was one (and answered).
 */
int dev_route(struct sl_request *r);

/*
 * A handler wrote piece `i` of r->refs by reference (sl_write_ref), and
 * r's pieces are about to leave: in development mode, a piece whose bytes
 * changed in between is logged as an error naming the request, since the
 * handler broke sl_write_ref's promise (a buffer on its stack, or one it
 * reused for the next piece) and the client got other bytes than written.
 */
void dev_ref_written(const struct sl_request *r, int i);
void dev_refs_leaving(const struct sl_request *r);

/*
 * Build the body of a verbose error page for `status` into `buf`, with
 * `detail` saying what went wrong.  Returns the length, or 0 to send the
 * terse production page.  Async-signal-safe: crash.c calls it.
 */
size_t dev_error_page(const struct sl_request *r, int status, const char *detail,
		      char *buf, size_t cap, const char **content_type);

#endif
