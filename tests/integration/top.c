/*
 * top.c - `sluice top` in a real terminal: tmux, at a fixed size, runs
 * it against a running pool; the screen tmux holds is read back with
 * `capture-pane`.  The rows must name the real workers' pids and the
 * route a busy one is in; `q`, SIGINT and SIGTERM must end it with the
 * terminal as it was (modes, cursor, main screen).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fcgi_client.h"
#include "harness.h"
#include "modules_conf.h"

#define POOL_CONF "status = { listen = \"unix:status.sock\"; };\n" \
		  "pm = { mode = \"static\"; max_children = 2; };\n"

static struct sluice_proc sp;
static char tmux_sock[256];

static void start(void)
{
	static const char *const mods[] = { "hang /", NULL };
	char path[256];

	cr_assert_eq(modules_conf_start(&sp, NULL, POOL_CONF, mods), 0, "sluice did not start");
	snprintf(path, sizeof(path), "%s/status.sock", sp.dir);
	cr_assert_eq(harness_wait_socket(sp.pid, path), 0, "no status socket");
	snprintf(tmux_sock, sizeof(tmux_sock), "%s/tmux.sock", sp.dir);
}

/* Run `tmux -S SOCK ARGS`; what it printed (malloc'ed) and its exit status. */
static char *tmux(int *rc, const char *fmt, ...)
{
	char args[1024], cmd[1400], *out = NULL;
	size_t len = 0;
	va_list ap;
	FILE *f, *mem = open_memstream(&out, &len);
	int c;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "tmux -S %s -f /dev/null %s 2>&1", tmux_sock, args);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while ((c = fgetc(f)) != EOF)
		fputc(c, mem);
	c = pclose(f);
	fclose(mem);
	if (rc)
		*rc = c;
	return out;
}

static void teardown(void)
{
	if (tmux_sock[0])
		free(tmux(NULL, "kill-server"));
	tmux_sock[0] = '\0';
	harness_sluice_stop(&sp);
}

/*
 * `sluice top` in a detached 120x30 session "top", inside a shell that
 * saves the terminal's modes before and after it, and says how it ended.
 */
static void start_top(void)
{
	char script[256], text[1024];
	FILE *f;
	int rc;
	char *out;

	snprintf(script, sizeof(script), "%s/run-top.sh", sp.dir);
	snprintf(text, sizeof(text),
		 "stty -g > %s/modes.before\n%s/sluice top -c %s\necho \"top exited $?\"\n"
		 "stty -g > %s/modes.after\nexec sleep 60\n", sp.dir, BUILD_DIR, sp.conf, sp.dir);
	f = fopen(script, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	out = tmux(&rc, "new-session -d -s top -x 120 -y 30 'sh %s'", script);
	cr_assert_eq(rc, 0, "tmux: %s", out);
	free(out);
}

/* The screen of the session, once it shows every one of `needles` (up to `ms`). */
static char *wait_screen(int ms, const char *const *needles)
{
	char *screen = NULL;

	for (long end = harness_now_ms() + ms; harness_now_ms() < end; harness_sleep_ms(100)) {
		int all = 1;

		free(screen);
		screen = tmux(NULL, "capture-pane -p -t top");
		for (const char *const *n = needles; *n; n++)
			all = all && strstr(screen, *n);
		if (all)
			return screen;
	}
	cr_assert_fail("the screen never showed \"%s\"...:\n%s", needles[0], screen);
	return NULL;
}

/* "alternate_on cursor_flag" of the pane: "1 0" while top draws, "0 1" after. */
static char *pane_modes(void)
{
	char *out = tmux(NULL, "display-message -p -t top '#{alternate_on} #{cursor_flag}'");

	out[strcspn(out, "\n")] = '\0';
	return out;
}

/* The worker processes of the pool: the master's children titled as workers. */
static int worker_pids(pid_t *pids)
{
	pid_t kids[16];
	int n = harness_children(sp.pid, kids, 16, 0), w = 0;

	for (int i = 0; i < n; i++) {
		char path[64], *cmd;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)kids[i]);
		cmd = harness_read_file(path);
		if (cmd && strncmp(cmd, "sluice: worker ", 15) == 0)
			pids[w++] = kids[i];
		free(cmd);
	}
	return w;
}

/* Top has ended and given the terminal back as it found it. */
static void check_restored(const char *how)
{
	static const char *const exited[] = { "top exited 0", NULL };
	char before[256], after[256], *a, *b, *modes;

	free(wait_screen(5000, exited));
	modes = pane_modes();
	cr_assert_str_eq(modes, "0 1", "%s: alternate screen and cursor after top: %s", how, modes);
	free(modes);
	snprintf(before, sizeof(before), "%s/modes.before", sp.dir);
	snprintf(after, sizeof(after), "%s/modes.after", sp.dir);
	b = harness_read_file(before);
	a = harness_read_file(after);
	cr_assert(a && b && *b, "%s: no saved terminal modes", how);
	cr_assert_str_eq(a, b, "%s: the terminal's modes changed", how);
	free(a);
	free(b);
}

/* The screen's line that holds `needle`, malloc'ed. */
static char *line_with(const char *screen, const char *needle)
{
	const char *at = strstr(screen, needle), *start = at;

	cr_assert_not_null(at, "no \"%s\" on the screen:\n%s", needle, screen);
	while (start > screen && start[-1] != '\n')
		start--;
	return strndup(start, strcspn(start, "\n"));
}

Test(top, shows_the_workers_and_what_they_do, .fini = teardown, .timeout = 40)
{
	const char *needles[8] = { "sluice top - pool sluice, generation 1", "accepted: 3 ", NULL };
	struct fcgi_buf params = { 0 }, req = { 0 };
	char pidtext[2][16], *screen, *row, *modes, *out;
	struct fcgi_conn slow;
	pid_t pids[4];
	int n = 0;

	start();
	for (long end = harness_now_ms() + 5000; n < 2 && harness_now_ms() < end;
	     harness_sleep_ms(50))
		n = worker_pids(pids);
	cr_assert_eq(n, 2, "the pool's 2 workers did not start");
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(harness_fcgi_get(sp.sock, "/sleep?ms=1", &out), 0, "%s", out);
		free(out);
	}
	start_top();
	for (int i = 0; i < 2; i++) {
		snprintf(pidtext[i], sizeof(pidtext[i]), " %d ", (int)pids[i]);
		needles[2 + i] = pidtext[i];
	}
	screen = wait_screen(5000, needles);
	cr_assert(strstr(screen, "workers: 2 total, 2 idle, 0 busy"), "%s", screen);
	cr_assert(strstr(screen, "req/s: "), "%s", screen);
	free(screen);
	modes = pane_modes();
	cr_assert_str_eq(modes, "1 0", "top should draw on the alternate screen, no cursor");
	free(modes);

	/* A handler that sleeps 4 s: its worker shows busy, in its route. */
	fcgi_client_params(&params, "GET", "/sleep?ms=4000", NULL);
	fcgi_client_request(&req, 1, 0, &params, NULL, 0);
	cr_assert_eq(fcgi_client_open(&slow, sp.sock), 0);
	cr_assert_eq(fcgi_client_send(&slow, req.p, req.len), 0);
	{
		static const char *const busy[] = { "1 busy", "GET /sleep", NULL };

		screen = wait_screen(3000, busy);
	}
	row = line_with(screen, "GET /sleep");
	cr_assert(strstr(row, "busy"), "the row of the sleeping request: %s", row);
	cr_assert(strstr(row, pidtext[0]) || strstr(row, pidtext[1]),
		  "the busy row names no worker pid (%d, %d): %s", (int)pids[0], (int)pids[1], row);
	fprintf(stderr, "top: busy row: %s\n", row);
	free(row);
	free(screen);

	free(tmux(NULL, "send-keys -t top q"));
	check_restored("q");
	fcgi_client_close(&slow);
	fcgi_client_buf_free(&params);
	fcgi_client_buf_free(&req);
}

/* The pid of `sluice top`, the child of the pane's shell. */
static pid_t top_pid(void)
{
	char *out = tmux(NULL, "display-message -p -t top '#{pane_pid}'");
	pid_t shell = (pid_t)atoi(out), kid = 0;

	free(out);
	for (long end = harness_now_ms() + 5000; harness_now_ms() < end && kid <= 0;
	     harness_sleep_ms(50))
		if (harness_children(shell, &kid, 1, 0) != 1)
			kid = 0;
	cr_assert_gt(kid, 0, "no sluice top under the pane's shell");
	return kid;
}

static void ends_on(int sig, const char *name)
{
	static const char *const drawn[] = { "sluice top - pool", "STATE", NULL };
	pid_t pid;

	start_top();
	free(wait_screen(5000, drawn));
	pid = top_pid();
	cr_assert_eq(kill(pid, sig), 0);
	check_restored(name);
	free(tmux(NULL, "kill-session -t top"));
}

Test(top, sigint_and_sigterm_give_the_terminal_back, .fini = teardown, .timeout = 40)
{
	start();
	ends_on(SIGINT, "SIGINT");
	ends_on(SIGTERM, "SIGTERM");
}

/* Not a terminal: one frame, plain text, and exit. */
Test(top, prints_one_frame_to_a_pipe, .fini = teardown, .timeout = 20)
{
	char cmd[512], line[512], all[8192] = "";
	pid_t pids[4];
	FILE *f;
	int n = 0;

	start();
	for (long end = harness_now_ms() + 5000; n < 2 && harness_now_ms() < end;
	     harness_sleep_ms(50))
		n = worker_pids(pids);
	cr_assert_eq(n, 2);
	snprintf(cmd, sizeof(cmd), "timeout 10 %s/sluice top -c %s", BUILD_DIR, sp.conf);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		strncat(all, line, sizeof(all) - strlen(all) - 1);
	cr_assert_eq(pclose(f), 0, "%s: %s", cmd, all);
	cr_assert(strncmp(all, "sluice top - pool sluice, generation 1", 38) == 0, "%s", all);
	cr_assert_null(strchr(all, '\033'), "escape sequences in a pipe: %s", all);
	for (int i = 0; i < 2; i++) {
		snprintf(line, sizeof(line), " %d ", (int)pids[i]);
		cr_assert(strstr(all, line), "worker pid %d missing: %s", (int)pids[i], all);
	}
}
