/*
 * test_config_pools.c - a pool's keys: the top level with the pool's own
 * laid over them (groups key by key, lists whole), the master's keys kept
 * out of pools and each pool's keys out of the top, the pools' names,
 * and the lines errors name for inherited and merged keys.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "harness.h"

static char dir[64];
static char conf[128];
static struct sl_config cfg;
static char err[512];

static void setup(void)
{
	cr_assert_eq(harness_make_real_dir(dir, sizeof(dir)), 0);
	snprintf(conf, sizeof(conf), "%s/sluice.conf", dir);
}

static void teardown(void)
{
	config_select_pool(NULL);
	config_free(&cfg);
	harness_remove_dir(dir);
}

TestSuite(config_pools, .init = setup, .fini = teardown);

/* Write `text` and load pool `pool` of it (NULL: the top level). */
static int load(const char *text, const char *pool)
{
	FILE *fp = fopen(conf, "w");

	cr_assert_not_null(fp);
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
	config_select_pool(pool);
	return config_load(conf, &cfg, err, sizeof(err));
}

/* The error must be "CONF:LINE: ..." containing `what`. */
static void refused_at(int line, const char *what)
{
	char want[256];

	snprintf(want, sizeof(want), "%s:%d: ", conf, line);
	cr_expect_eq(strncmp(err, want, strlen(want)), 0, "\"%s\" does not start with \"%s\"",
		     err, want);
	cr_expect_not_null(strstr(err, what), "\"%s\" does not say \"%s\"", err, what);
}

static const char two[] =
	"user = \"nobody\";\n"					/* 1 */
	"pm = { mode = \"dynamic\"; max_children = 8; };\n"	/* 2 */
	"limits = { max_body_bytes = \"1M\"; read_timeout = 7; };\n"	/* 3 */
	"env = { A = \"top\"; };\n"				/* 4 */
	"pools = {\n"						/* 5 */
	"  www = { listen = \"/run/www.sock\";\n"		/* 6 */
	"          modules = ( { path = \"/www.so\"; } ); };\n"	/* 7 */
	"  api = { listen = ( \"/run/api.sock\", \"127.0.0.1:9001\" );\n"	/* 8 */
	"          user = \"daemon\";\n"			/* 9 */
	"          pm = { max_children = 16; };\n"		/* 10 */
	"          limits = { max_body_bytes = \"16M\"; };\n"	/* 11 */
	"          env = { B = \"api\"; };\n"			/* 12 */
	"          modules = ( { path = \"/api.so\"; mount = \"/api\"; } ); };\n"	/* 13 */
	"};\n";

Test(config_pools, the_top_level_lists_the_pools_and_has_no_pool_keys)
{
	cr_assert_eq(load(two, NULL), 0, "%s", err);
	cr_expect_eq(cfg.pools.n, 2);
	cr_expect_str_eq(cfg.pools.name[0], "www");
	cr_expect_str_eq(cfg.pools.name[1], "api");
	cr_expect_null(cfg.pool);
	cr_expect_eq(cfg.nlisten, 0);
	cr_expect_eq(cfg.nmodules, 0);
	cr_expect_eq(cfg.pm.max_children, 8);
}

Test(config_pools, a_pool_inherits_what_it_leaves_out)
{
	cr_assert_eq(load(two, "www"), 0, "%s", err);
	cr_expect_str_eq(cfg.pool, "www");
	cr_expect_eq(cfg.pools.n, 2);
	cr_expect_str_eq(cfg.user, "nobody");
	cr_expect_eq(cfg.pm.mode, PM_DYNAMIC);
	cr_expect_eq(cfg.pm.max_children, 8);
	cr_expect_eq(cfg.limits.max_body_bytes, 1 << 20);
	cr_expect_eq(cfg.nlisten, 1);
	cr_expect_str_eq(cfg.listen[0].address, "/run/www.sock");
	cr_expect_eq(cfg.nmodules, 1);
	cr_expect_str_eq(cfg.modules[0].path, "/www.so");
	cr_expect_eq(cfg.nenv, 1);
	cr_expect_str_eq(cfg.env[0].name, "A");
}

Test(config_pools, groups_merge_key_by_key_and_the_rest_is_replaced)
{
	cr_assert_eq(load(two, "api"), 0, "%s", err);
	cr_expect_str_eq(cfg.user, "daemon");
	cr_expect_eq(cfg.pm.mode, PM_DYNAMIC, "pm.mode is the top level's");
	cr_expect_eq(cfg.pm.max_children, 16);
	cr_expect_eq(cfg.limits.max_body_bytes, 16 << 20);
	cr_expect_eq(cfg.limits.read_timeout, 7, "limits.read_timeout is the top level's");
	/* env is a group too: both variables. */
	cr_expect_eq(cfg.nenv, 2);
	cr_expect_eq(cfg.nlisten, 2);
	cr_expect_str_eq(cfg.listen[1].address, "127.0.0.1:9001");
	cr_expect_str_eq(cfg.modules[0].mount, "/api");
}

Test(config_pools, errors_name_the_line_the_key_was_written_on)
{
	/* Inherited from the top (line 2), wrong in the pool's merge. */
	cr_assert_lt(load("pm = { max_children = 0; };\n"
			  "pools = { a = { listen = \"/run/a.sock\";\n"
			  "  modules = ( { path = \"/a.so\"; } ); }; };\n", "a"), 0);
	refused_at(1, "pm.max_children");
	config_free(&cfg);
	/* Written in the pool (line 3), merged into the top's pm group. */
	cr_assert_lt(load("pm = { max_children = 4; };\n"
			  "pools = { a = { listen = \"/run/a.sock\";\n"
			  "  pm = { start_servers = \"x\"; };\n"
			  "  modules = ( { path = \"/a.so\"; } ); }; };\n", "a"), 0);
	refused_at(3, "pm.start_servers");
	config_free(&cfg);
	/* A module's settings keep their lines too. */
	cr_assert_lt(load("pools = { a = { listen = \"/run/a.sock\";\n"
			  "  modules = ( { path = \"/a.so\";\n"
			  "                wrong = 1; } ); }; };\n", "a"), 0);
	refused_at(3, "wrong");
}

Test(config_pools, the_masters_keys_stay_at_the_top)
{
	cr_assert_lt(load("pools = {\n  a = { log_level = \"debug\"; };\n};\n", NULL), 0);
	refused_at(2, "pools.a.log_level: log_level is the master's");
	config_free(&cfg);
	cr_assert_lt(load("pools = {\n  a = { pid = \"x.pid\"; };\n};\n", "a"), 0);
	refused_at(2, "pools.a.pid");
}

Test(config_pools, each_pools_keys_stay_in_the_pools)
{
	static const char *const own[] = { "listen = \"/run/x.sock\";",
		"status = { listen = \"/run/s.sock\"; };", "modules = ( { path = \"/a.so\"; } );",
		"program = { path = \"/bin/true\"; };" };
	char text[512];

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		snprintf(text, sizeof(text), "%s\npools = { a = { }; };\n", own[i]);
		cr_assert_lt(load(text, NULL), 0, "accepted at the top: %s", own[i]);
		refused_at(1, "with pools, each pool has its own");
		config_free(&cfg);
	}
}

Test(config_pools, malformed_pools_are_refused)
{
	cr_assert_lt(load("pools = ( );\n", NULL), 0);
	refused_at(1, "pools: want a group");
	config_free(&cfg);
	cr_assert_lt(load("pools = { };\n", NULL), 0);
	refused_at(1, "pools: want a group");
	config_free(&cfg);
	cr_assert_lt(load("pools = {\n  a = \"x\";\n};\n", NULL), 0);
	refused_at(2, "pools.a: want a group");
	config_free(&cfg);
	cr_assert_lt(load("pools = {\n  a = { pools = { }; };\n};\n", NULL), 0);
	refused_at(2, "pools do not nest");
	config_free(&cfg);
	cr_assert_lt(load("pools = { a = { }; b = { }; };\n", "c"), 0);
	refused_at(1, "no pool \"c\" (there are: a, b)");
	config_free(&cfg);
	cr_assert_lt(load("pools = { abcdefghijklmnopqrstuvwxyz0123456789 = { }; };\n", NULL), 0);
	refused_at(1, "at most 32");
}

Test(config_pools, a_file_without_pools_has_none_to_select)
{
	cr_assert_eq(load("listen = \"/run/t.sock\";\nmodules = ( { path = \"/m.so\"; } );\n",
			  NULL), 0, "%s", err);
	cr_expect_eq(cfg.pools.n, 0);
	config_free(&cfg);
	cr_assert_lt(load("listen = \"/run/t.sock\";\nmodules = ( { path = \"/m.so\"; } );\n",
			  "www"), 0);
	cr_expect_not_null(strstr(err, "has no pools, so no pool \"www\""), "%s", err);
}
