/*
 * scaffold.c - `sluice new NAME [DIR]`: a module that builds, passes its
 * own test and loads in sluice from the first `make test`.
 *
 * The four files are templates below, with @NAME@ standing for the
 * module's name.  The module shows the shape every module has: settings
 * read once in init, a route table, and handlers written with the
 * request helpers; its test runs those handlers through the test client
 * (sluice_test.h), so that an author starts from a passing test.
 *
 * Nothing is overwritten: every target is checked before the first is
 * written, and each is created with O_EXCL, so that a second run, or a
 * race with an editor, fails instead of losing work.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scaffold.h"

static const char module_c[] =
"/*\n"
" * @NAME@.c - a sluice module.\n"
" *\n"
" *\tGET /\t\t\tthe greeting, as text\n"
" *\tGET /hello/:who\t\tthe greeting for `who`, as JSON\n"
" *\n"
" * Settings (the `settings` group of its entry in sluice.conf):\n"
" *\n"
" *\tgreeting = \"Hello\";\t\twhat it says\n"
" */\n"
"#include <sluice.h>\n"
"\n"
"static const char *greeting;\n"
"\n"
"/* Once per worker, before any request: read the settings. */\n"
"static int @NAME@_init(struct sl_context *ctx)\n"
"{\n"
"\tgreeting = sl_setting_str(ctx, \"greeting\", \"Hello\");\n"
"\tsl_log(NULL, SL_LOG_INFO, \"greeting is \\\"%s\\\"\", greeting);\n"
"\treturn 0;\n"
"}\n"
"\n"
"static int index_page(struct sl_request *req)\n"
"{\n"
"\treturn sl_printf(req, \"%s from @NAME@\\n\", greeting);\n"
"}\n"
"\n"
"static int hello(struct sl_request *req)\n"
"{\n"
"\tsl_add_header(req, \"Content-Type\", \"application/json\");\n"
"\tsl_puts(req, \"{\\\"greeting\\\":\");\n"
"\tsl_write_json_string(req, greeting);\n"
"\tsl_puts(req, \",\\\"who\\\":\");\n"
"\tsl_write_json_string(req, sl_capture(req, \"who\"));\n"
"\treturn sl_puts(req, \"}\\n\");\n"
"}\n"
"\n"
"static const struct sl_route routes[] = {\n"
"\t{ \"GET\", \"/\", index_page },\n"
"\t{ \"GET\", \"/hello/:who\", hello },\n"
"\t{ 0 }\n"
"};\n"
"\n"
"SLUICE_MODULE = {\n"
"\t.abi = SLUICE_ABI_VERSION,\n"
"\t.name = \"@NAME@\",\n"
"\t.init = @NAME@_init,\n"
"\t.routes = routes,\n"
"};\n";

static const char test_c[] =
"/*\n"
" * test_@NAME@.c - @NAME@'s handlers, run in-process by sluice's test\n"
" * client: no server and no web server needed.  `make test` runs it.\n"
" */\n"
"#include <string.h>\n"
"\n"
"#include <criterion/criterion.h>\n"
"#include <sluice_test.h>\n"
"\n"
"static struct slt *t;\n"
"\n"
"static void start(void)\n"
"{\n"
"\tt = slt_open(\"./@NAME@.so\", NULL, \"greeting = \\\"Hi\\\";\");\n"
"\tcr_assert_not_null(t, \"%s\", slt_error());\n"
"}\n"
"\n"
"static void stop(void)\n"
"{\n"
"\tslt_close(t);\n"
"}\n"
"\n"
"TestSuite(@NAME@, .init = start, .fini = stop);\n"
"\n"
"Test(@NAME@, index_uses_the_setting)\n"
"{\n"
"\tconst struct slt_response *r = slt_get(t, \"/\");\n"
"\n"
"\tcr_assert_not_null(r, \"%s\", slt_error());\n"
"\tcr_expect_eq(r->status, 200);\n"
"\tcr_expect_str_eq(r->body, \"Hi from @NAME@\\n\");\n"
"}\n"
"\n"
"Test(@NAME@, hello_is_json)\n"
"{\n"
"\tconst struct slt_response *r = slt_get(t, \"/hello/a%22b\");\n"
"\n"
"\tcr_assert_not_null(r, \"%s\", slt_error());\n"
"\tcr_expect_eq(r->status, 200);\n"
"\tcr_expect_str_eq(slt_response_header(t, \"Content-Type\", 0), \"application/json\");\n"
"\tcr_expect_str_eq(r->body, \"{\\\"greeting\\\":\\\"Hi\\\",\\\"who\\\":\\\"a\\\\\\\"b\\\"}\\n\");\n"
"}\n"
"\n"
"Test(@NAME@, unknown_path_is_404)\n"
"{\n"
"\tconst struct slt_response *r = slt_get(t, \"/nowhere\");\n"
"\n"
"\tcr_assert_not_null(r, \"%s\", slt_error());\n"
"\tcr_expect_eq(r->status, 404);\n"
"}\n";

static const char makefile[] =
"# @NAME@: a sluice module.\n"
"#\n"
"#   make          @NAME@.so\n"
"#   make test     build and run test_@NAME@ (Criterion, sluice's test client)\n"
"#\n"
"# The header and the test client come from the installed sluice-dev\n"
"# (pkg-config sluice and sluice-test), or, with SLUICE_SRC=path/to/sluice,\n"
"# from a built sluice source tree (its include/, and SLUICE_BUILD, by\n"
"# default its build/prod/).\n"
"\n"
"CC      ?= cc\n"
"CFLAGS  ?= -O2 -g\n"
"CFLAGS  += -std=c11 -Wall -Wextra -Werror\n"
"\n"
"ifdef SLUICE_SRC\n"
"SLUICE_CFLAGS := -I$(SLUICE_SRC)/include\n"
"SLUICE_BUILD ?= $(SLUICE_SRC)/build/prod\n"
"SLUICE_TEST_LIBS := $(shell PKG_CONFIG_PATH=$(SLUICE_BUILD)/pkgconfig \\\n"
"                    pkg-config --libs sluice-test)\n"
"else\n"
"SLUICE_CFLAGS := $(shell pkg-config --cflags sluice)\n"
"SLUICE_TEST_LIBS := $(shell pkg-config --libs sluice-test)\n"
"endif\n"
"\n"
".PHONY: all test clean\n"
"all: @NAME@.so\n"
"\n"
"@NAME@.so: @NAME@.c\n"
"\t$(CC) $(SLUICE_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ $<\n"
"\n"
"test_@NAME@: test_@NAME@.c\n"
"\t$(CC) $(SLUICE_CFLAGS) $(CFLAGS) -o $@ $< $(SLUICE_TEST_LIBS) -lcriterion $(LDLIBS)\n"
"\n"
"test: @NAME@.so test_@NAME@\n"
"\t./test_@NAME@\n"
"\n"
"clean:\n"
"\trm -f @NAME@.so test_@NAME@\n";

static const char conf[] =
"# @NAME@: an entry of the `modules` list in sluice.conf, e.g.\n"
"#\n"
"#\tmodules = ( { ... }, <this entry> );\n"
"#\n"
"# `path` is relative to sluice.conf's folder unless absolute.\n"
"{\n"
"\tpath = \"@NAME@.so\";\n"
"\tmount = \"/@NAME@\";\n"
"\tsettings = {\n"
"\t\tgreeting = \"Hello\";\n"
"\t};\n"
"}\n";

static const struct {
	const char *pattern;	/* the file name, @NAME@ replaced */
	const char *text;
} files[] = {
	{ "@NAME@.c", module_c },
	{ "test_@NAME@.c", test_c },
	{ "Makefile", makefile },
	{ "@NAME@.conf", conf },
};

#define NFILES (sizeof(files) / sizeof(files[0]))

static int valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SCAFFOLD_NAME_MAX || isdigit((unsigned char)name[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return 0;
	return 1;
}

/* `text` with every @NAME@ replaced, into `f`. */
static void expand(FILE *f, const char *text, const char *name)
{
	const char *at;

	while ((at = strstr(text, "@NAME@"))) {
		fwrite(text, 1, (size_t)(at - text), f);
		fputs(name, f);
		text = at + 6;
	}
	fputs(text, f);
}

static void path_of(char *buf, size_t len, const char *dir, size_t i, const char *name)
{
	char file[SCAFFOLD_NAME_MAX + 16];
	FILE *f = fmemopen(file, sizeof(file), "w");

	expand(f, files[i].pattern, name);
	fclose(f);
	snprintf(buf, len, "%s/%s", dir, file);
}

static int write_file(const char *path, const char *text, const char *name)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	if (!f) {
		fprintf(stderr, "sluice new: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	expand(f, text, name);
	if (fclose(f) != 0) {
		fprintf(stderr, "sluice new: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int scaffold_new(const char *name, const char *dir)
{
	char path[4096];

	if (!valid_name(name)) {
		fprintf(stderr, "sluice new: \"%s\" is not a module name: want a C identifier "
			"(a letter or '_', then letters, digits or '_'), at most %d characters\n",
			name, SCAFFOLD_NAME_MAX);
		return 1;
	}
	dir = dir ? dir : ".";
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "sluice new: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < NFILES; i++) {
		path_of(path, sizeof(path), dir, i, name);
		if (access(path, F_OK) == 0) {
			fprintf(stderr, "sluice new: %s exists already; nothing was written\n", path);
			return 1;
		}
	}
	for (size_t i = 0; i < NFILES; i++) {
		path_of(path, sizeof(path), dir, i, name);
		if (write_file(path, files[i].text, name) < 0)
			return 1;
		printf("%s\n", path);
	}
	printf("next: cd %s && make test\n", dir);
	return 0;
}
