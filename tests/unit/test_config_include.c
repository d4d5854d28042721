/*
 * test_config_include.c - what a config's @include may name: a regular
 * file, and nothing that would stop libconfig's scanner.
 *
 * Before config_include.c, `@include ""` (found by the config fuzz
 * harness) or an @include naming a folder made libconfig 1.5's scanner
 * call exit(2) inside config_load: `sluice -t` died without a word, and
 * so did a master reloading such a config.  A FIFO blocked the load.
 * Each case here loads through config_load and must come back with a
 * "FILE:LINE:" error, or load as libconfig would.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "config.h"
#include "harness.h"

#define MINIMAL	"listen = \"/run/t.sock\";\nmodules = ( { path = \"/m.so\"; } );\n"

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
	config_free(&cfg);
	harness_remove_dir(dir);
}

TestSuite(config_include, .init = setup, .fini = teardown, .timeout = 20);

/* dir/NAME with the `len` bytes of `text` in it. */
static void put_bytes(const char *name, const char *text, size_t len)
{
	char path[192];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	cr_assert_not_null(fp, "cannot write %s", path);
	cr_assert_eq(fwrite(text, 1, len, fp), len);
	cr_assert_eq(fclose(fp), 0);
}

static void put(const char *name, const char *text)
{
	put_bytes(name, text, strlen(text));
}

static void make(const char *name, int fifo)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(fifo ? mkfifo(path, 0600) : mkdir(path, 0700), 0, "cannot make %s", path);
}

/* Loading `text` fails with "FILE:LINE: " and `needle`; FILE is dir/`file`. */
static void must_fail(const char *text, const char *file, int line, const char *needle)
{
	char prefix[256];

	put("sluice.conf", text);
	snprintf(prefix, sizeof(prefix), "%s/%s:%d: ", dir, file, line);
	cr_assert_eq(config_load(conf, &cfg, err, sizeof(err)), -1, "config accepted:\n%s", text);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0,
		  "error \"%s\" does not start with \"%s\"", err, prefix);
	cr_assert_not_null(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);
}

static void must_load(const char *text)
{
	put("sluice.conf", text);
	cr_assert_eq(config_load(conf, &cfg, err, sizeof(err)), 0, "refused: %s\n%s", err, text);
}

Test(config_include, the_config_folder_itself_is_refused)
{
	/* The fuzzer's input, reduced: the empty name is the folder. */
	must_fail(MINIMAL "@include \"\"\n", "sluice.conf", 3, "@include \"\" names a folder");
}

/*
 * libconfig keeps the name as a C string and drops a lone backslash, so
 * that both of these would name the folder too (the fuzzer's second
 * find was the first one).
 */
Test(config_include, names_libconfig_would_cut_are_refused)
{
	static const char nul[] = MINIMAL "@include \"\0x\"\n";
	char prefix[256];

	put_bytes("sluice.conf", nul, sizeof(nul) - 1);
	snprintf(prefix, sizeof(prefix), "%s/sluice.conf:3: @include name with a NUL byte", dir);
	cr_assert_eq(config_load(conf, &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, prefix);
	must_fail(MINIMAL "@include \"\\x\"\n", "sluice.conf", 3,
		  "a backslash that escapes neither");
}

Test(config_include, a_folder_is_refused_with_its_line)
{
	make("conf.d", 0);
	must_fail(MINIMAL "\n  @include \"conf.d\"\n", "sluice.conf", 4,
		  "@include \"conf.d\" names a folder, not a file");
}

Test(config_include, a_fifo_is_refused_without_opening_it)
{
	make("pipe", 1);
	must_fail("@include \"pipe\"\n" MINIMAL, "sluice.conf", 1, "names a device or FIFO");
}

Test(config_include, a_nested_include_is_checked_in_its_own_file)
{
	make("sub", 0);
	put("limits.conf", "# limits\n\n@include \"sub\"\n");
	must_fail(MINIMAL "@include \"limits.conf\"\n", "limits.conf", 3, "names a folder");
}

Test(config_include, a_file_still_loads)
{
	put("limits.conf", "limits = { max_conns = 7; };\n");
	must_load(MINIMAL "@include \"limits.conf\"\n");
	cr_assert_eq(cfg.limits.max_conns, 7);
}

Test(config_include, includes_in_comments_and_strings_are_text)
{
	make("sub", 0);
	must_load("listen = \"/run/t.sock\";\n# @include \"sub\"\n/*\n@include \"sub\"\n*/\n"
		  "modules = ( { path = \"/m.so\"; settings = { s = \"x\n@include \\\"sub\\\"\n\"; }; } );\n");
}

Test(config_include, a_file_that_includes_itself_stops)
{
	must_fail("@include \"sluice.conf\"\n@include \"sluice.conf\"\n", "sluice.conf", 2,
		  "more than 64 files");
}
