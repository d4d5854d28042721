/*
 * test_config_builtin.c - what a program that is its own sluice gives in
 * code (config_set_builtin, module_set_builtin): in-code settings fill in
 * what the file leaves out and lose to what it writes, key by key; they
 * are the whole config without a file; a wrong one is refused naming
 * "in-code settings"; the program's module is the entry without path, or
 * alone at "/" when the file has no modules, and is routed without any
 * file to open.
 *
 * Criterion runs each test in its own process, so the settings one test
 * gives never reach another.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "harness.h"
#include "module.h"
#include "router.h"
#include "sluice.h"

#define PROGRAM "/usr/bin/hello"

static char dir[64], conf[128], err[512];
static struct sl_config cfg;

static int handler(struct sl_request *req)
{
	(void)req;
	return 0;
}

static const struct sl_route routes[] = { { "GET", "/hello/:name", handler }, { 0 } };
static const struct sl_module app = { .abi = SLUICE_ABI_VERSION, .name = "app",
				      .routes = routes };

static void setup(void)
{
	cr_assert_eq(harness_make_real_dir(dir, sizeof(dir)), 0);
	snprintf(conf, sizeof(conf), "%s/app.conf", dir);
}

static void teardown(void)
{
	config_free(&cfg);
	harness_remove_dir(dir);
}

TestSuite(config_builtin, .init = setup, .fini = teardown);

static void give(const char *listen, int workers)
{
	config_set_builtin(&(struct config_builtin){ .listen = listen, .workers = workers,
						      .module = PROGRAM });
}

/* Write `text` as the config and load it. */
static int load(const char *text)
{
	FILE *f = fopen(conf, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	return config_load(conf, &cfg, err, sizeof(err));
}

Test(config_builtin, in_code_settings_alone_are_a_config)
{
	give("127.0.0.1:9000", 4);
	cr_assert_eq(config_load(NULL, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert(cfg.no_file);
	cr_assert_str_eq(cfg.file, CONFIG_IN_CODE);
	cr_assert_eq(cfg.nlisten, 1);
	cr_assert_str_eq(cfg.listen[0].address, "127.0.0.1:9000");
	cr_assert_eq(cfg.pm.max_children, 4);
	cr_assert_eq(cfg.nmodules, 1);
	cr_assert(cfg.modules[0].builtin);
	cr_assert_str_eq(cfg.modules[0].path, PROGRAM);
	cr_assert_str_eq(cfg.modules[0].mount, "/");
	cr_assert_eq(cfg.modules[0].nsettings, 0);
}

Test(config_builtin, the_file_wins_key_by_key)
{
	char sock[128];

	give("127.0.0.1:9000", 4);
	cr_assert_eq(load("listen = \"unix:app.sock\";\n"), 0, "%s", err);
	cr_assert(!cfg.no_file);
	cr_assert_eq(cfg.nlisten, 1);
	snprintf(sock, sizeof(sock), "%s/app.sock", dir);
	cr_assert_str_eq(cfg.listen[0].address, sock, "the file's listen wins");
	cr_assert_eq(cfg.pm.max_children, 4, "workers fill in the pm the file leaves out");
	config_free(&cfg);

	cr_assert_eq(load("pm = { mode = \"dynamic\"; max_children = 8; start_servers = 2; };\n"),
		     0, "%s", err);
	cr_assert_str_eq(cfg.listen[0].address, "127.0.0.1:9000");
	cr_assert_eq(cfg.pm.max_children, 8);
	cr_assert_eq(cfg.pm.mode, PM_DYNAMIC);
}

Test(config_builtin, a_wrong_in_code_value_names_the_in_code_settings)
{
	give("nonsense", 0);
	cr_assert_eq(config_load(NULL, &cfg, err, sizeof(err)), -1);
	cr_assert(strncmp(err, CONFIG_IN_CODE ": listen: ", strlen(CONFIG_IN_CODE) + 10) == 0,
		  "%s", err);

	give("127.0.0.1:9000", 100000);
	cr_assert_eq(load("error_log = \"stderr\";\n"), -1);
	cr_assert(strncmp(err, CONFIG_IN_CODE ": pm.max_children must be between 1 and",
			  strlen(CONFIG_IN_CODE) + 39) == 0, "%s", err);
}

Test(config_builtin, the_entry_without_path_is_the_programs_module)
{
	give("127.0.0.1:9000", 0);
	cr_assert_eq(load("modules = ( { path = \"/m.so\"; mount = \"/m\"; },\n"
			  "            { mount = \"/app\"; settings = { x = 1; }; } );\n"),
		     0, "%s", err);
	cr_assert_eq(cfg.nmodules, 2);
	cr_assert(!cfg.modules[0].builtin);
	cr_assert(cfg.modules[1].builtin);
	cr_assert_str_eq(cfg.modules[1].path, PROGRAM);
	cr_assert_str_eq(cfg.modules[1].mount, "/app");
	cr_assert_eq(cfg.modules[1].nsettings, 1);
}

Test(config_builtin, one_entry_without_path_and_no_fewer)
{
	char want[256];

	give(NULL, 0);
	cr_assert_eq(load("listen = \"/run/a.sock\";\n"
			  "modules = ( { mount = \"/a\"; },\n"
			  "            { mount = \"/b\"; } );\n"), -1);
	snprintf(want, sizeof(want), "%s:3: modules[1].path is missing: modules[0] is already "
		 "the program's own module", conf);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);

	cr_assert_eq(load("listen = \"/run/a.sock\";\n"
			  "modules = ( { path = \"/m.so\"; } );\n"), -1);
	snprintf(want, sizeof(want), "%s:2: modules names no entry for the program's own module",
		 conf);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
}

Test(config_builtin, a_plain_sluice_still_wants_path_and_modules)
{
	char want[256];

	cr_assert_eq(load("listen = \"/run/a.sock\";\nmodules = ( { mount = \"/a\"; } );\n"), -1);
	snprintf(want, sizeof(want), "%s:2: modules[0].path is missing", conf);
	cr_assert_str_eq(err, want);
	cr_assert_eq(load("listen = \"/run/a.sock\";\n"), -1);
	cr_assert(strstr(err, "modules is missing"), "%s", err);
}

Test(config_builtin, the_programs_module_is_routed_without_a_file)
{
	struct modset ms;
	struct router rt = { 0 };
	struct match m;

	give("127.0.0.1:9000", 0);
	module_set_builtin(&app);
	cr_assert_eq(load("modules = ( { mount = \"/api\"; } );\n"), 0, "%s", err);
	cr_assert_eq(module_load_all(&cfg, NULL, &ms, &rt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ms.n, 1);
	cr_assert_eq(ms.mods[0], &app);
	cr_assert_null(ms.handles[0]);
	cr_assert_eq(router_match(&rt, "GET", "/api/hello/x", &m, NULL, 0), ROUTER_FOUND);
	cr_assert_eq(m.route->handler, handler);
	router_free(&rt);
}

Test(config_builtin, a_descriptor_of_another_abi_is_refused_at_load)
{
	static const struct sl_module old = { .abi = 1, .name = "old", .routes = routes };
	struct modset ms;
	struct router rt = { 0 };
	char want[256];

	give("127.0.0.1:9000", 0);
	module_set_builtin(&old);
	cr_assert_eq(config_load(NULL, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(module_load_all(&cfg, NULL, &ms, &rt, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), CONFIG_IN_CODE ": module built into %s: the program's own "
		 "module must say .abi = SLUICE_ABI_VERSION", PROGRAM);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	router_free(&rt);
}
