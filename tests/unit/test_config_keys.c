/*
 * test_config_keys.c - the table of config keys: README.md's configuration
 * table (from which sluice.conf(5) is made) names exactly the table's
 * keys, with the table's defaults, and the effective config shows every
 * one of them.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_keys.h"
#include "config_value.h"
#include "harness.h"

#define MAX_DOCUMENTED	128

/*
 * The keys README.md's configuration table documents, by dotted name, each
 * with its default cell as written (`"64K"`, unset, ...).
 */
static char documented[MAX_DOCUMENTED][64];
static char defaults[MAX_DOCUMENTED][128];
static int ndocumented;

/* The key names written in backquotes in the first cell of `row`. */
static void read_row(const char *row)
{
	const char *end = strstr(row + 1, " | "), *p = row, *q, *cell_end;

	cr_assert_not_null(end, "a row without cells: %.60s", row);
	cell_end = strstr(end + 3, " | ");
	cr_assert_not_null(cell_end, "a row without a default: %.60s", row);
	while ((p = strchr(p, '`')) && p < end) {
		q = strchr(p + 1, '`');
		cr_assert(q && q < end, "an unclosed ` in: %.60s", row);
		cr_assert_lt(ndocumented, MAX_DOCUMENTED);
		snprintf(defaults[ndocumented], sizeof(defaults[0]), "%.*s",
			 (int)(cell_end - end - 3), end + 3);
		snprintf(documented[ndocumented++], sizeof(documented[0]), "%.*s",
			 (int)(q - p - 1), p + 1);
		p = q + 1;
	}
}

/* Read the rows of README.md's "## Configuration" table. */
static void read_readme(void)
{
	char *text = harness_read_file("README.md"), *start, *end, *line;

	cr_assert_not_null(text, "cannot read README.md");
	start = strstr(text, "\n## Configuration\n");
	cr_assert_not_null(start, "README.md has no \"Configuration\" section");
	end = strstr(start + 1, "\n## ");
	if (end)
		*end = '\0';
	ndocumented = 0;
	for (line = start; (line = strstr(line, "\n| `")); line++)
		read_row(line + 1);
	cr_assert_gt(ndocumented, 0, "README.md's configuration table has no keys");
	free(text);
}

TestSuite(config_keys, .init = read_readme);

static int is_documented(const char *name)
{
	for (int i = 0; i < ndocumented; i++)
		if (strcmp(documented[i], name) == 0)
			return 1;
	return 0;
}

/* A group's rows all start "group.": it is documented by its keys. */
static int group_documented(const char *group)
{
	size_t len = strlen(group);

	for (int i = 0; i < ndocumented; i++)
		if (strncmp(documented[i], group, len) == 0 && documented[i][len] == '.')
			return 1;
	return 0;
}

static void dotted(const struct config_key *k, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", k->group, *k->group ? "." : "", k->name);
}

Test(config_keys, every_key_is_in_the_readme)
{
	const struct config_key *keys;
	char name[64];
	size_t n;

	keys = config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		dotted(&keys[i], name, sizeof(name));
		if (keys[i].type == CK_GROUP) {
			cr_expect(group_documented(name), "README.md documents no key of %s", name);
			continue;
		}
		/* A module entry's keys are documented in the `modules` row. */
		if (strcmp(keys[i].group, "modules") == 0)
			strcpy(name, "modules");
		cr_expect(is_documented(name), "%s is not in README.md's configuration table",
			  name);
	}
}

Test(config_keys, every_readme_key_is_in_the_table)
{
	const struct config_key *keys;
	char name[64];
	size_t n;
	int found;

	keys = config_keys(&n);
	for (int d = 0; d < ndocumented; d++) {
		found = 0;
		for (size_t i = 0; i < n && !found; i++) {
			dotted(&keys[i], name, sizeof(name));
			found = strcmp(name, documented[d]) == 0;
		}
		cr_expect(found, "README.md documents %s, which config_keys.c does not have",
			  documented[d]);
	}
}

/* Each group's keys, as check_keys knows them, are the table's, all of them. */
Test(config_keys, known_keys_come_from_the_table)
{
	const struct config_keyset *set;
	const struct config_key *keys;
	size_t n;
	int has;

	keys = config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		set = config_keys_set(keys[i].group);
		cr_assert_not_null(set, "no known keys for group \"%s\"", keys[i].group);
		has = 0;
		for (const char *const *k = set->names; *k; k++)
			has += strcmp(*k, keys[i].name) == 0;
		cr_expect_eq(has, 1, "%s.%s is known %d times", keys[i].group, keys[i].name, has);
	}
	cr_assert_str_eq(config_keys_set("pm")->prefix, "pm");
	cr_assert_null(config_keys_set("modules")->prefix, "a module's keys are "
		       "suggested only inside a module");
	cr_assert_null(config_keys_set("nosuch"));
}

/*
 * A README default cell as the value it stands for: backquotes and
 * libconfig's quotes off, \" and \\ unescaped; "unset" is NULL.
 */
static const char *readme_value(const char *cell, char *buf, size_t size)
{
	size_t len = strlen(cell), j = 0;

	if (strcmp(cell, "unset") == 0)
		return NULL;
	if (len >= 2 && cell[0] == '`' && cell[len - 1] == '`') {
		cell++;
		len -= 2;
	}
	if (len >= 2 && cell[0] == '"' && cell[len - 1] == '"') {
		cell++;
		len -= 2;
	}
	for (size_t i = 0; i < len && j + 1 < size; i++) {
		if (cell[i] == '\\' && i + 1 < len)
			i++;
		buf[j++] = cell[i];
	}
	buf[j] = '\0';
	return buf;
}

/* The number `value` stands for as a key of type `type`; -1 if none. */
static long long readme_number(int type, const char *value)
{
	long long v;
	char *end;

	if (type == CK_SIZE)
		return config_value_size(value, LLONG_MAX, &v) == CONFIG_VALUE_OK ? v : -1;
	if (type == CK_MS || type == CK_SECONDS) {
		if (config_value_duration(value, LLONG_MAX, &v) != CONFIG_VALUE_OK)
			return -1;
		return type == CK_MS ? v : v / 1000;
	}
	if (type == CK_BOOL)
		return strcmp(value, "true") == 0 ? 1 : strcmp(value, "false") == 0 ? 0 : -1;
	v = strtoll(value, &end, type == CK_MODE ? 8 : 10);
	return *end ? -1 : v;
}

/*
 * README.md says the default the table gives each plain key, so that the
 * documentation (and sluice.conf(5), made from it) cannot drift from it.
 */
Test(config_keys, readme_defaults_are_the_table_defaults)
{
	const struct config_key *keys;
	char name[64], buf[128];
	const char *value;
	size_t n;
	int d;

	keys = config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		/* start_servers' default is php-fpm's formula, not a number. */
		if (!config_keys_plain(&keys[i]) || strcmp(keys[i].name, "start_servers") == 0)
			continue;
		dotted(&keys[i], name, sizeof(name));
		for (d = 0; d < ndocumented && strcmp(documented[d], name) != 0; d++)
			;
		if (d == ndocumented)
			continue;	/* every_key_is_in_the_readme says so */
		value = readme_value(defaults[d], buf, sizeof(buf));
		if (keys[i].type == CK_STRING || keys[i].type == CK_PATH
		    || keys[i].type == CK_NAME_OR_OFF) {
			cr_expect((!value && !keys[i].def_str) || (value && keys[i].def_str
				  && strcmp(value, keys[i].def_str) == 0),
				  "%s: README.md's default is %s, the table's \"%s\"", name,
				  defaults[d], keys[i].def_str ? keys[i].def_str : "(unset)");
			continue;
		}
		cr_expect(value && readme_number(keys[i].type, value) == keys[i].def,
			  "%s: README.md's default is %s, the table's %lld", name, defaults[d],
			  keys[i].def);
	}
}

struct shown {
	char text[16384];
	size_t len;
};

static void collect(void *arg, const char *line)
{
	struct shown *sh = arg;
	int n = snprintf(sh->text + sh->len, sizeof(sh->text) - sh->len, "%s\n", line);

	cr_assert(n > 0 && (size_t)n < sizeof(sh->text) - sh->len, "the config is too long");
	sh->len += (size_t)n;
}

/* The effective config, as the development pages show it, has every key. */
Test(config_keys, show_has_every_key_with_its_value)
{
	char dir[64], conf[128], err[512], name[80];
	struct sl_config cfg;
	struct shown *sh = calloc(1, sizeof(*sh));
	const struct config_key *keys;
	FILE *fp;
	size_t n;

	cr_assert_not_null(sh);
	cr_assert_eq(harness_make_real_dir(dir, sizeof(dir)), 0);
	snprintf(conf, sizeof(conf), "%s/sluice.conf", dir);
	fp = fopen(conf, "w");
	cr_assert_not_null(fp);
	fputs("listen = \"/run/t.sock\";\nmodules = ( { path = \"/m.so\"; } );\n"
	      "pm = { reload_on_rss = \"256M\"; };\nlimits = { min_rate = 100; };\n"
	      "env = { APP = \"x\"; };\n", fp);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(config_load(conf, &cfg, err, sizeof(err)), 0, "%s", err);
	config_keys_show(&cfg, collect, sh);
	keys = config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		if (!config_keys_plain(&keys[i]) || strcmp(keys[i].group, "status") == 0)
			continue;
		snprintf(name, sizeof(name), "\n%s%s%s = ", keys[i].group,
			 *keys[i].group ? "." : "", keys[i].name);
		cr_expect_not_null(strstr(sh->text, name), "%s is not shown in:\n%s", name + 1,
				   sh->text);
	}
	cr_expect_not_null(strstr(sh->text, "\npm.reload_on_rss = 268435456"), "%s", sh->text);
	cr_expect_not_null(strstr(sh->text, "\nlimits.min_rate = 100"), "%s", sh->text);
	cr_expect_not_null(strstr(sh->text, "\nlisten.address = \"/run/t.sock\""), "%s", sh->text);
	cr_expect_not_null(strstr(sh->text, "\nenv.APP = \"x\""), "%s", sh->text);
	cr_expect_not_null(strstr(sh->text, "\nmodules[0] = { path = \"/m.so\"; mount = \"/\";"),
			   "%s", sh->text);
	config_free(&cfg);
	harness_remove_dir(dir);
	free(sh);
}
