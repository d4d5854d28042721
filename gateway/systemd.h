/*
 * systemd.h - what sluice tells systemd, and the sockets systemd hands it.
 *
 * systemd.c is the only file that includes <systemd/sd-daemon.h>: it
 * speaks the notify protocol through libsystemd's sd_notify and takes
 * socket-activated descriptors through sd_listen_fds.  Without systemd
 * (no $NOTIFY_SOCKET, no $LISTEN_FDS) every call here does nothing.
 */
#ifndef SLUICE_SYSTEMD_H
#define SLUICE_SYSTEMD_H

/*
 * The listening sockets systemd passed in (socket activation), in `fds`
 * (at most `max`).  Returns their number, 0 when none were passed, -1
 * when $LISTEN_FDS is malformed.  Clears the variables, so that workers
 * and anything they start do not see them.
 */
int systemd_listen_fds(int *fds, int max);

/* READY=1 with a STATUS= line: the first workers serve. */
void systemd_ready(const char *status);

/* RELOADING=1 with MONOTONIC_USEC=: a reload has begun. */
void systemd_reloading(void);

/* STOPPING=1: shutting down. */
void systemd_stopping(void);

/* STATUS=...: the pool's live counts, shown by `systemctl status`. */
void systemd_status(const char *status);

/*
 * The watchdog: milliseconds between WATCHDOG=1 pings the master owes
 * (half of WatchdogSec=), or 0 when the watchdog is off; and the ping.
 */
long long systemd_watchdog_interval_ms(void);
void systemd_watchdog_ping(void);

/*
 * What a master has told systemd: READY=1 (cleared for the next one by a
 * reload), the last STATUS=, and the watchdog's period and last ping.
 */
struct systemd_told {
	int ready;
	char status[256];
	long long watchdog_ms;		/* half of WatchdogSec=; 0: off */
	long long last_watchdog_ms;
};

/*
 * Tell systemd `status`: with READY=1 when `ready` and it was not yet
 * told, as a plain STATUS= when it changed since; and ping the watchdog
 * when due.  Returns 1 when READY=1 was sent now.
 */
int systemd_tell(struct systemd_told *t, int ready, const char *status, long long now);

/* Milliseconds until the watchdog's next ping is due (0: now), or -1: off. */
long long systemd_watchdog_due(const struct systemd_told *t, long long now);

#endif
