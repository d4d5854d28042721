/*
 * systemd.c - sd_notify and socket activation through libsystemd.
 * See systemd.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "systemd.h"

int systemd_listen_fds(int *fds, int max)
{
	int n = sd_listen_fds(1);

	if (n < 0)
		return -1;
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++)
		fds[i] = SD_LISTEN_FDS_START + i;
	return n;
}

void systemd_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void systemd_reloading(void)
{
	struct timespec ts;

	/* systemd 253+ wants the time of the reload, to tell one from the next. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void systemd_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void systemd_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

long long systemd_watchdog_interval_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	/* Ping at half the period, as sd_watchdog_enabled(3) advises. */
	return (long long)(usec / 2000);
}

void systemd_watchdog_ping(void)
{
	sd_notify(0, "WATCHDOG=1");
}

int systemd_tell(struct systemd_told *t, int ready, const char *status, long long now)
{
	int sent = 0;

	if (!t->ready && ready) {
		systemd_ready(status);
		t->ready = sent = 1;
		snprintf(t->status, sizeof(t->status), "%s", status);
	} else if (t->ready && strcmp(status, t->status) != 0) {
		systemd_status(status);
		snprintf(t->status, sizeof(t->status), "%s", status);
	}
	if (t->watchdog_ms && now - t->last_watchdog_ms >= t->watchdog_ms) {
		systemd_watchdog_ping();
		t->last_watchdog_ms = now;
	}
	return sent;
}

long long systemd_watchdog_due(const struct systemd_told *t, long long now)
{
	long long due = t->last_watchdog_ms + t->watchdog_ms - now;

	if (!t->watchdog_ms)
		return -1;
	return due > 0 ? due : 0;
}
