/*
 * logscan.c - lines of a log, as logscan.h describes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "logscan.h"

/* Calls `found` on each line holding `a` and `b` until it returns nonzero. */
static int each_line(const char *text, const char *a, const char *b,
		     int (*found)(const char *line, size_t len, void *arg), void *arg)
{
	const char *line = text;
	char *copy;
	size_t len;
	int stop;

	while (*line != '\0') {
		const char *end = strchr(line, '\n');

		len = end != NULL ? (size_t)(end - line) : strlen(line);
		copy = strndup(line, len);
		if (copy == NULL)
			return -1;
		stop = strstr(copy, a) != NULL && (b == NULL || strstr(copy, b) != NULL) &&
		       found(copy, len, arg);
		free(copy);
		if (stop)
			return 1;
		if (end == NULL)
			break;
		line = end + 1;
	}
	return 0;
}

static int count_one(const char *line, size_t len, void *arg)
{
	(void)line;
	(void)len;
	(*(int *)arg)++;
	return 0;
}

static int keep_first(const char *line, size_t len, void *arg)
{
	*(char **)arg = strndup(line, len);
	return 1;
}

int logscan_count(const char *text, const char *a, const char *b)
{
	int n = 0;

	each_line(text, a, b, count_one, &n);
	return n;
}

char *logscan_line(const char *text, const char *a, const char *b)
{
	char *line = NULL;

	each_line(text, a, b, keep_first, &line);
	return line;
}

char *logscan_wait(const struct sluice_proc *sp, const char *a, const char *b, long ms)
{
	long deadline = harness_now_ms() + ms;
	char *log, *line;

	for (;;) {
		log = harness_sluice_log(sp);
		line = logscan_line(log, a, b);
		free(log);
		if (line != NULL || harness_now_ms() >= deadline)
			return line;
		harness_sleep_ms(20);
	}
}

int logscan_reload(const struct sluice_proc *sp, int g, long ms)
{
	char needle[64], *line;

	if (kill(sp->pid, SIGHUP) != 0)
		return -1;
	snprintf(needle, sizeof(needle), "generation %d serves", g);
	line = logscan_wait(sp, needle, NULL, ms);
	free(line);
	return line != NULL ? 0 : -1;
}

const char *logscan_tail(const struct sluice_proc *sp, size_t max)
{
	static char tail[16384];
	char *log = harness_sluice_log(sp);
	size_t len = strlen(log);

	if (max > sizeof(tail) - 1)
		max = sizeof(tail) - 1;
	strcpy(tail, len > max ? log + len - max : log);
	free(log);
	return tail;
}

int logscan_workers(const struct sluice_proc *sp, pid_t *out, int max)
{
	pid_t kids[256];
	int n = harness_children(sp->pid, kids, 256, 0), k = 0;
	char *log = harness_sluice_log(sp), tag[48];

	for (int i = 0; i < n && k < max; i++) {
		/* "worker 1 (pid N) started (generation 1)"; the status
		 * responder's line goes on "started on". */
		snprintf(tag, sizeof(tag), "(pid %d) started (generation", (int)kids[i]);
		if (strstr(log, tag) != NULL)
			out[k++] = kids[i];
	}
	free(log);
	return k;
}
