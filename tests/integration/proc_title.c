/*
 * proc_title.c - what ps shows: the master's generation and worker
 * count, each worker's number and state, and the route a busy worker
 * is in, read from /proc/PID/cmdline as ps reads it.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "harness.h"
#include "logscan.h"

#define PARAMS	"/etc/nginx/fastcgi_params"

static struct sluice_proc sp;
static struct nginx_proc np;

static void setup(void)
{
	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
}

static void teardown(void)
{
	harness_nginx_stop(&np);
	harness_sluice_stop(&sp);
}

/* /proc/PID/cmdline with the NULs between arguments as spaces, trailing ones cut. */
static char *title_of(pid_t pid)
{
	char path[64], *text;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	text = calloc(1, 8192);
	cr_assert_not_null(text);
	f = fopen(path, "r");
	if (f) {
		len = fread(text, 1, 8191, f);
		fclose(f);
	}
	while (len > 0 && text[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		text[i] = text[i] ? text[i] : ' ';
	text[len] = '\0';
	return text;
}

/* Wait up to `ms` for `pid`'s title to start with `prefix`; the last title seen. */
static char *wait_title(pid_t pid, const char *prefix, long ms)
{
	long until = harness_now_ms() + ms;

	for (;;) {
		char *t = title_of(pid);

		if (strncmp(t, prefix, strlen(prefix)) == 0 || harness_now_ms() >= until)
			return t;
		free(t);
		harness_sleep_ms(20);
	}
}

struct hang_job {
	char url[256];
	pthread_t thread;
};

static void *hang_run(void *arg)
{
	struct hang_job *j = arg;
	struct http_reply r;

	if (http_request("GET", j->url, NULL, 0, NULL, &r) == 0)
		http_reply_free(&r);
	return NULL;
}

Test(proc_title, master_and_workers_say_what_they_are_and_do, .init = setup,
     .fini = teardown, .timeout = 60)
{
	char hang[PATH_MAX], body[8192], want[512], *t;
	pid_t pids[8];
	struct hang_job job;
	int n, busy = -1;

	cr_assert_not_null(realpath(BUILD_DIR "/fixtures/hang.so", hang));
	snprintf(body, sizeof(body), "modules = ( { path = \"%s\"; } );\n"
		 "pm = { max_children = 2; };\n", hang);
	cr_assert_eq(harness_sluice_start(&sp, body), 0);
	cr_assert_eq(harness_nginx_start(&np, sp.sock,
					 "location / {\n  include " PARAMS ";\n"
					 "  fastcgi_pass unix:%SOCK%;\n}\n"), 0);

	snprintf(want, sizeof(want), "sluice: master (generation 1, 2 workers) -c %s", sp.conf);
	t = wait_title(sp.pid, want, 3000);
	cr_expect_str_eq(t, want);
	free(t);
	/* ps itself shows the same. */
	{
		char cmd[64], out[1024] = "";
		FILE *ps;

		snprintf(cmd, sizeof(cmd), "ps -o args= -p %d", (int)sp.pid);
		ps = popen(cmd, "r");
		cr_assert_not_null(ps);
		if (!fgets(out, sizeof(out), ps))
			out[0] = '\0';
		pclose(ps);
		out[strcspn(out, "\n")] = '\0';
		cr_expect_str_eq(out, want, "ps shows \"%s\"", out);
	}

	for (long until = harness_now_ms() + 3000; harness_now_ms() < until; harness_sleep_ms(20))
		if ((n = logscan_workers(&sp, pids, 8)) == 2)
			break;
	cr_assert_eq(n, 2, "expected 2 workers");
	for (int i = 0; i < n; i++) {
		char idle[64];
		int index = 0;

		/* A worker is "starting" until its init has run: wait for it
		 * to say which worker it is, then for it to be idle. */
		t = wait_title(pids[i], "sluice: worker ", 3000);
		sscanf(t, "sluice: worker %d", &index);
		free(t);
		snprintf(idle, sizeof(idle), "sluice: worker %d idle", index);
		t = wait_title(pids[i], idle, 3000);
		cr_expect(strcmp(t, "sluice: worker 1 idle") == 0 ||
			  strcmp(t, "sluice: worker 2 idle") == 0, "worker pid %d: \"%s\"",
			  (int)pids[i], t);
		free(t);
	}

	/* One worker in a handler that does not return names its route. */
	snprintf(job.url, sizeof(job.url), "http://127.0.0.1:%d/hang", np.port);
	cr_assert_eq(pthread_create(&job.thread, NULL, hang_run, &job), 0);
	for (long until = harness_now_ms() + 3000; busy < 0 && harness_now_ms() < until;
	     harness_sleep_ms(20))
		for (int i = 0; i < n; i++) {
			t = title_of(pids[i]);
			if (strstr(t, " busy "))
				busy = i;
			free(t);
		}
	cr_assert_geq(busy, 0, "no worker's title says busy");
	t = title_of(pids[busy]);
	cr_expect(strcmp(t, "sluice: worker 1 busy GET /hang") == 0 ||
		  strcmp(t, "sluice: worker 2 busy GET /hang") == 0, "busy title \"%s\"", t);
	free(t);
	/* Ended by the stop in teardown. */
	kill(pids[busy], SIGKILL);
	pthread_join(job.thread, NULL);
}
