/*
 * systemd.c - sd_notify and socket activation through libsystemd.
 * See systemd.h.
 */
#include <stdio.h>
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
