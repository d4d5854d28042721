/*
 * single_binary.c - programs that are their own sluice (sluice_serve.h),
 * as their authors and operators meet them: the sample apps/single/hello
 * serves through the real nginx from a config file that gives its own
 * module's settings (and a module loaded from a file next to it), a
 * SIGHUP reloads them into new workers, and systemd's socket activation
 * hands it its socket; -t on a bad config names the file and line; the
 * production build holds no development code (and the check says so of
 * the dev build); the README's example, cut out of README.md and built
 * with its own command line, serves with its in-code settings alone,
 * without any config file; and what `make install` installs is enough
 * to build one.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define HELLO BUILD_DIR "/single/hello"

/* A literal as exec's argv wants it. */
#define ARG(s) ((char *)(uintptr_t)(s))

static char dir[128], out[192], conf[192], sock[192];
static struct nginx_proc np;
static pid_t app;

static void setup(void)
{
	cr_assert_eq(harness_make_real_dir(dir, sizeof(dir)), 0);
	snprintf(out, sizeof(out), "%s/out.txt", dir);
	snprintf(conf, sizeof(conf), "%s/app.conf", dir);
	snprintf(sock, sizeof(sock), "%s/app.sock", dir);
}

static void teardown(void)
{
	if (app > 0)
		harness_stop_pid(app, SIGTERM);
	app = 0;
	harness_nginx_stop(&np);
	harness_remove_dir(dir);
}

TestSuite(single_binary, .init = setup, .fini = teardown, .timeout = 60);

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/*
 * The sample's config: its own module (no path) with a greeting, and
 * the hello sample module loaded from its file at /so, which resolves
 * the sl_* API against the program.
 */
static void write_conf(const char *greeting)
{
	char text[PATH_MAX + 1024], so[PATH_MAX];

	cr_assert_not_null(realpath(BUILD_DIR "/apps/hello.so", so));
	snprintf(text, sizeof(text),
		 "listen = { address = \"%s\"; mode = \"0666\"; };\n"
		 "pm = { max_children = 2; };\n"
		 "modules = ( { mount = \"/\"; settings = { greeting = \"%s\"; }; },\n"
		 "            { path = \"%s\"; mount = \"/so\"; } );\n",
		 sock, greeting, so);
	write_file(conf, text);
}

/* Start `argv` and wait until it accepts on `sock`, through nginx too. */
static void start(char *const argv[])
{
	app = harness_spawn(argv, out, NULL, NULL);
	cr_assert_gt(app, 0);
	if (harness_wait_socket(app, sock) != 0) {
		char *text = harness_read_file(out);

		cr_assert_fail("%s never listened on %s:\n%s", argv[0], sock, text);
	}
	cr_assert_eq(harness_nginx_start(&np, sock, HARNESS_KEEPALIVE_LOCATION), 0);
}

/* GET `path` through nginx: the body, which must come with 200. */
static char *get(const char *path)
{
	struct http_reply r;
	char url[256];
	char *body;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", np.port, path);
	cr_assert_eq(http_request("GET", url, NULL, 0, NULL, &r), 0, "GET %s failed", url);
	cr_assert_eq(r.status, 200, "GET %s: %ld %s", url, r.status, r.body);
	body = strdup(r.body);
	http_reply_free(&r);
	return body;
}

/* The worker pid a sample's answer names. */
static pid_t worker_of(const char *body)
{
	const char *at = strstr(body, "(worker ");

	cr_assert_not_null(at, "no worker in \"%s\"", body);
	return (pid_t)atoi(at + 8);
}

/* Wait up to `ms` for `needle` in the program's output. */
static int output_has(const char *needle, int ms)
{
	for (long end = harness_now_ms() + ms;; harness_sleep_ms(20)) {
		char *text = harness_read_file(out);
		int found = strstr(text, needle) != NULL;

		free(text);
		if (found)
			return 1;
		if (harness_now_ms() > end)
			return 0;
	}
}

Test(single_binary, serves_its_config_and_reloads_it_on_sighup)
{
	char *argv[] = { ARG(HELLO), ARG("-c"), conf, NULL };
	char *body, *text, want[256];
	pid_t first, ppid = 0;

	write_conf("Howdy");
	start(argv);
	body = get("/anything");
	cr_assert(strncmp(body, "Howdy from a single binary", 26) == 0, "%s", body);
	/* The program itself is the master: the worker is its child. */
	first = worker_of(body);
	cr_assert_neq(harness_proc_state(first, &ppid), 0);
	cr_assert_eq(ppid, app, "worker %d's parent is %d, not the program %d", first, ppid, app);
	free(body);
	body = get("/so/x");
	cr_assert_str_eq(body, "Hello from sluice!\n");
	free(body);
	/* The file's listen won over the sample's in-code 127.0.0.1:9000. */
	text = harness_read_file(out);
	snprintf(want, sizeof(want), "listening on %s (fastcgi)", sock);
	cr_assert(strstr(text, want), "%s", text);
	cr_assert_null(strstr(text, "9000"), "%s", text);
	free(text);

	write_conf("Hello again");
	cr_assert_eq(kill(app, SIGHUP), 0);
	cr_assert(output_has("generation 2 serves", 10000), "no reload:\n%s",
		  harness_read_file(out));
	body = get("/");
	cr_assert(strncmp(body, "Hello again from a single binary", 32) == 0, "%s", body);
	cr_assert_neq(worker_of(body), first, "the old worker still answers: %s", body);
	free(body);
	cr_assert(!harness_proc_gone(app), "the program left after the reload");
}

/* Run `argv` to its end, output in `out`: its exit status, or -1. */
static int run(char *const argv[])
{
	pid_t pid = harness_spawn(argv, out, NULL, NULL);
	int status;

	cr_assert_gt(pid, 0);
	status = harness_wait_exit(pid, 30000);
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(single_binary, test_flag_names_the_file_and_line)
{
	char *argv[] = { ARG(HELLO), ARG("-t"), ARG("-c"), conf, NULL };
	char *bare[] = { ARG(HELLO), ARG("-t"), NULL };
	char want[256], *text;

	write_file(conf, "listen = \"127.0.0.1:9\";\n"
			 "modules = ( { mount = \"/\"; } );\n"
			 "pm = { max_chidren = 3; };\n");
	cr_assert_eq(run(argv), 1);
	snprintf(want, sizeof(want), "%s:3: unknown key \"pm.max_chidren\"", conf);
	text = harness_read_file(out);
	cr_assert(strstr(text, want), "expected \"%s\" in:\n%s", want, text);
	free(text);

	/* Two entries without path: only one can be the program's module. */
	write_file(conf, "listen = \"127.0.0.1:9\";\n"
			 "modules = ( { mount = \"/a\"; },\n"
			 "            { mount = \"/b\"; } );\n");
	cr_assert_eq(run(argv), 1);
	snprintf(want, sizeof(want), "%s:3: modules[1].path is missing", conf);
	text = harness_read_file(out);
	cr_assert(strstr(text, want), "expected \"%s\" in:\n%s", want, text);
	free(text);

	/* No file at all: the in-code settings are the config. */
	cr_assert_eq(run(bare), 0, "%s", harness_read_file(out));
	text = harness_read_file(out);
	cr_assert(strstr(text, "in-code settings test is successful"), "%s", text);
	free(text);
}

/* tests/check-prod.sh on `bin`: its exit status, its output in `out`. */
static int check_prod(const char *bin)
{
	char *argv[] = { ARG("tests/check-prod.sh"), ARG(bin), ARG(BUILD_ROOT "/prod/obj"),
			 ARG(BUILD_ROOT "/dev/obj/gateway/dev/dev.o"),
			 ARG(BUILD_ROOT "/dev/obj/gateway/dev/dev_http.o"), NULL };

	return run(argv);
}

Test(single_binary, production_build_has_no_development_code)
{
	char *dev[] = { ARG(BUILD_ROOT "/prod/single/hello"), ARG("--dev"), ARG("-t"), NULL };
	char *text;

	cr_assert_eq(check_prod(BUILD_ROOT "/prod/single/hello"), 0, "%s",
		     harness_read_file(out));
	/* The same check finds the development build of the library. */
	cr_assert_eq(truncate(out, 0), 0);
	cr_assert_eq(check_prod(BUILD_ROOT "/dev/single/hello"), 1, "%s",
		     harness_read_file(out));
	text = harness_read_file(out);
	cr_assert(strstr(text, "contains functions of the development sources"), "%s", text);
	free(text);

	cr_assert_eq(truncate(out, 0), 0);
	cr_assert_eq(run(dev), 2);
	text = harness_read_file(out);
	cr_assert(strstr(text, "this build has no development mode"), "%s", text);
	free(text);
	/* Linked against the development library, the same program has it. */
	dev[0] = ARG(BUILD_ROOT "/dev/single/hello");
	cr_assert_eq(run(dev), 0, "%s", harness_read_file(out));
}

/* The first ```c block of the "Single-binary apps" section, malloc'ed. */
static char *readme_example(void)
{
	char *text = harness_read_file("README.md"), *start, *end, *src;

	start = strstr(text, "## Single-binary apps");
	cr_assert_not_null(start, "README.md has no \"Single-binary apps\" section");
	start = strstr(start, "```c\n");
	cr_assert_not_null(start, "the section has no C example");
	start += 5;
	end = strstr(start, "```");
	cr_assert_not_null(end);
	*end = '\0';
	src = strdup(start);
	free(text);
	return src;
}

/*
 * The README's example with its address moved to a private socket, so
 * that suites running side by side never share a port; built with the
 * README's command line (and -Werror, so that a warning counts), run
 * with no argument at all.
 */
Test(single_binary, readme_example_serves_with_in_code_settings_alone)
{
	char *src = readme_example(), *moved, path[256], cmd[1024], *body;
	char bin[256];
	char *argv[] = { bin, NULL };
	pid_t kids[16];

	cr_assert(strstr(src, "\"127.0.0.1:9000\""), "the example no longer listens on "
		  "127.0.0.1:9000:\n%s", src);
	moved = harness_replace(src, "\"127.0.0.1:9000\"", "\"unix:APP_SOCK\"");
	free(src);
	src = harness_replace(moved, "APP_SOCK", sock);
	free(moved);
	snprintf(path, sizeof(path), "%s/hello.c", dir);
	write_file(path, src);
	free(src);
	snprintf(bin, sizeof(bin), "%s/hello", dir);
	snprintf(cmd, sizeof(cmd), "export PKG_CONFIG_PATH=" BUILD_DIR "/pkgconfig; "
		 "cc -O2 -Wall -Werror -o %s %s $(pkg-config --cflags --libs sluice-serve) "
		 ">%s 2>&1", bin, path, out);
	cr_assert_eq(system(cmd), 0, "%s\n%s", cmd, harness_read_file(out));

	start(argv);
	body = get("/hello/world");
	cr_assert_str_eq(body, "hello, world\n");
	free(body);
	/* .workers = 4: the pool has four workers. */
	for (long end = harness_now_ms() + 5000; harness_children(app, kids, 16, 0) != 4 &&
	     harness_now_ms() < end;)
		harness_sleep_ms(20);
	cr_assert_eq(harness_children(app, kids, 16, 0), 4);
}

/*
 * What `make install` puts in place is enough to build one: the header,
 * the archive, its export list and sluice-serve.pc, found through
 * pkg-config under DESTDIR (PKG_CONFIG_SYSROOT_DIR moves its -I and -L
 * there).  The production build must be complete: install builds
 * nothing then.
 */
Test(single_binary, make_install_is_enough_to_build_one)
{
	char cmd[2048];
	char bin[256];
	char *argv[] = { bin, ARG("-t"), NULL };

	snprintf(cmd, sizeof(cmd), "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "
		 "make -s --no-print-directory BUILDROOT=" BUILD_ROOT
		 " PROFILE=prod install DESTDIR=%s/root >%s 2>&1", dir, out);
	cr_assert_eq(system(cmd), 0, "%s\n%s", cmd, harness_read_file(out));
	snprintf(bin, sizeof(bin), "%s/hello", dir);
	snprintf(cmd, sizeof(cmd), "export PKG_CONFIG_SYSROOT_DIR=%s/root "
		 "PKG_CONFIG_LIBDIR=%s/root/usr/local/share/pkgconfig; "
		 "cc -O2 -Wall -Werror -o %s apps/single/hello.c "
		 "$(pkg-config --cflags --libs sluice-serve) >%s 2>&1", dir, dir, bin, out);
	cr_assert_eq(system(cmd), 0, "%s\n%s", cmd, harness_read_file(out));
	cr_assert_eq(run(argv), 0, "%s", harness_read_file(out));
	cr_assert(strstr(harness_read_file(out), "in-code settings test is successful"));
}

/*
 * Socket activation, as the sluice binary has it: systemd-socket-activate
 * binds the socket and, on the first connection, execs the program with
 * it as fd 3; the program serves on it instead of binding its own (its
 * log says so), through nginx.  env -u: no notify socket or descriptors
 * of the test's own environment leak in.
 */
Test(single_binary, serves_a_socket_from_systemd)
{
	char *argv[] = { ARG("/usr/bin/env"), ARG("-u"), ARG("LISTEN_FDS"), ARG("-u"),
			 ARG("LISTEN_PID"), ARG("-u"), ARG("LISTEN_FDNAMES"), ARG("-u"),
			 ARG("NOTIFY_SOCKET"), ARG("/usr/bin/systemd-socket-activate"), ARG("-l"),
			 sock, ARG(HELLO), ARG("-c"), conf, NULL };
	char want[256], *body;

	write_conf("Activated");
	start(argv);
	body = get("/");
	cr_assert(strncmp(body, "Activated from a single binary", 30) == 0, "%s", body);
	free(body);
	snprintf(want, sizeof(want), "listening on %s (fastcgi, socket from systemd)", sock);
	cr_assert(output_has(want, 5000), "%s", harness_read_file(out));
}
