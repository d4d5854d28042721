/*
 * top.h - `sluice top`: the pool seen live, from the status responder.
 *
 * A client of the responder like `sluice status`, so it runs as any user
 * that can reach the status socket, and needs nothing from the master.
 */
#ifndef SLUICE_TOP_H
#define SLUICE_TOP_H

struct sl_config;

/* Shortest and longest refresh interval that `-d` accepts, in ms. */
#define TOP_MIN_INTERVAL_MS 100
#define TOP_MAX_INTERVAL_MS 3600000

/*
 * Show the pool of `cfg` every `interval_ms` until `q`, SIGINT, SIGTERM,
 * SIGHUP or SIGQUIT, then put the terminal back as it was.  When stdout
 * is no terminal, print one frame and return.  Returns the exit status.
 */
int top_run(const struct sl_config *cfg, long interval_ms);

#endif
