/*
 * test_module.c - loading modules as the master does: a good module's
 * routes end up in the router, each kind of bad module is refused with
 * one line naming the config file, line, module and problem, and a
 * failed load leaves nothing of itself loaded; on reload, an unchanged
 * file is shared and a changed one is loaded anew; init runs in config
 * order and a failing init unwinds the ones before it.
 *
 * Modules are the fixtures built under BUILD_DIR.  Criterion runs each
 * test in its own process, so what one test loads is gone for the next.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "module.h"
#include "router.h"
#include "sluice.h"

#define FIX(name)	BUILD_DIR "/fixtures/" name
#define HELLO_SO	BUILD_DIR "/apps/hello.so"
#define CONF		"/etc/sluice/test.conf"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/sluice-module-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char path[320];
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

TestSuite(module, .init = setup, .fini = teardown);

/* A config naming `n` modules, declared on lines 10, 20, 30... */
static void make_config(struct sl_config *cfg, const char *const *paths, int n)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->file = (char *)(uintptr_t)CONF;
	cfg->nmodules = n;
	for (int i = 0; i < n; i++)
		cfg->modules[i] = (struct module_config){
			.path = (char *)(uintptr_t)paths[i],
			.mount = (char *)(uintptr_t)"/",
			.line = 10 * (i + 1),
		};
}

/* Module copies loaded now: sluice loads each from /proc/self/fd/N. */
static int count_copy(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (info->dlpi_name && strncmp(info->dlpi_name, "/proc/self/fd/", 14) == 0)
		(*(int *)data)++;
	return 0;
}

static int loaded_copies(void)
{
	int n = 0;

	dl_iterate_phdr(count_copy, &n);
	return n;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/* The whole of file `path`, malloc'ed; its size in *len. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;

	cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
	buf = malloc(1 << 20);
	cr_assert_not_null(buf);
	*len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	return buf;
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	unsigned char *buf = slurp(from, &len);
	FILE *fp = fopen(to, "wb");

	cr_assert_not_null(fp, "%s: %s", to, strerror(errno));
	cr_assert_eq(fwrite(buf, 1, len, fp), len);
	cr_assert_eq(fclose(fp), 0);
	free(buf);
}

/* Does the code at `addr` come from a copy of file `path`, byte for byte? */
static int code_is_from(const void *addr, const char *path)
{
	Dl_info info;
	size_t a, b;
	unsigned char *x, *y;
	int same;

	cr_assert_neq(dladdr(addr, &info), 0);
	x = slurp(info.dli_fname, &a);
	y = slurp(path, &b);
	same = a == b && memcmp(x, y, a) == 0;
	free(x);
	free(y);
	return same;
}

/* The handler the router holds for (method, path); fails the test when none. */
static sl_handler routed(const struct router *rt, const char *method, const char *path)
{
	struct match m;

	cr_assert_eq(router_match(rt, method, path, &m, NULL, 0), ROUTER_FOUND,
		     "%s %s is not routed", method, path);
	return m.route->handler;
}

Test(module, hello_loads_and_is_routed)
{
	const char *paths[] = { HELLO_SO };
	struct sl_config cfg;
	struct modset ms;
	struct router rt = { 0 };
	char err[512] = "";

	make_config(&cfg, paths, 1);
	cfg.modules[0].mount = (char *)(uintptr_t)"/app";
	cr_assert_eq(module_load_all(&cfg, NULL, &ms, &rt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ms.n, 1);
	cr_assert_str_eq(ms.mods[0]->name, "hello");
	cr_assert_eq(ms.shared[0], 0);
	cr_assert_eq(routed(&rt, "GET", "/app/anything"), ms.mods[0]->handler);
	cr_assert_eq(routed(&rt, "POST", "/app"), ms.mods[0]->handler);
	cr_assert_eq(router_match(&rt, "GET", "/other", &(struct match){ 0 }, NULL, 0),
		     ROUTER_NOT_FOUND, "a route outside the mount point");
	cr_assert_eq(loaded_copies(), 1);
	router_free(&rt);
}

Test(module, routes_of_every_module_with_their_index)
{
	const char *paths[] = { HELLO_SO, FIX("ver1.so") };
	struct sl_config cfg;
	struct modset ms;
	struct router rt = { 0 };
	struct match m;
	char err[512] = "";

	make_config(&cfg, paths, 2);
	cfg.modules[0].mount = (char *)(uintptr_t)"/hello";
	cr_assert_eq(module_load_all(&cfg, NULL, &ms, &rt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ms.n, 2);
	cr_assert_str_eq(ms.mods[1]->name, "ver");
	cr_assert_eq(router_match(&rt, "GET", "/ver", &m, NULL, 0), ROUTER_FOUND);
	cr_assert_eq(m.route->handler, ms.mods[1]->routes[0].handler);
	cr_assert_eq(m.route->module, 1);
	cr_assert_eq(router_match(&rt, "GET", "/hello/x", &m, NULL, 0), ROUTER_FOUND);
	cr_assert_eq(m.route->module, 0);
	router_free(&rt);
}

/*
 * Load hello.so (line 10) and then `bad` (line 20): the load fails with
 * one line "CONF:20: module BAD: ..." holding `needle`, and neither
 * module stays loaded.
 */
static void expect_refused(const char *bad, const char *needle)
{
	const char *paths[] = { HELLO_SO, bad };
	struct sl_config cfg;
	struct modset ms;
	struct router rt = { 0 };
	char err[512] = "", prefix[256];
	int before = loaded_copies();

	make_config(&cfg, paths, 2);
	cr_assert_eq(module_load_all(&cfg, NULL, &ms, &rt, err, sizeof(err)), -1,
		     "%s was accepted", bad);
	snprintf(prefix, sizeof(prefix), CONF ":20: module %s: ", bad);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "\"%s\" does not start with \"%s\"",
		     err, prefix);
	cr_assert_not_null(strstr(err, needle), "\"%s\" does not say \"%s\"", err, needle);
	cr_assert_null(strchr(err, '\n'), "more than one line: \"%s\"", err);
	cr_assert_null(strstr(err, "/proc/self/fd"), "names the private copy: \"%s\"", err);
	cr_assert_eq(ms.n, 0);
	cr_assert_eq(loaded_copies(), before, "a module of the failed load stayed loaded");
	router_free(&rt);
}

Test(module, bad_abi_is_refused_naming_both_abis)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "built for module ABI %u, this sluice has ABI %u",
		 SLUICE_ABI_VERSION + 1, SLUICE_ABI_VERSION);
	expect_refused(FIX("bad_abi.so"), needle);
}

Test(module, missing_descriptor_is_refused)
{
	expect_refused(FIX("no_descriptor.so"), "exports no sluice_module descriptor");
}

Test(module, unresolved_symbol_is_refused_naming_it)
{
	expect_refused(FIX("unresolved.so"), "cannot load: " FIX("unresolved.so")
		       ": undefined symbol: sluice_fixture_missing_symbol");
}

Test(module, bad_route_is_refused_naming_the_pattern)
{
	expect_refused(FIX("bad_route.so"), "users/:id");
}

Test(module, missing_file_is_refused)
{
	expect_refused(FIX("no_such_module.so"), "cannot load: No such file or directory");
}

/* A file that is not a shared object at all. */
Test(module, non_elf_file_is_refused)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/junk.so", dir);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs("not an ELF file\n", fp);
	fclose(fp);
	expect_refused(path, "cannot load: ");
}

/*
 * A refused module leaves nothing behind in the master, which may go on
 * serving with its old set and retry reloads any number of times: not
 * even the descriptor of its private copy.
 */
Test(module, failed_loads_leave_no_descriptor_open)
{
	const char *paths[] = { HELLO_SO, FIX("bad_abi.so") };
	struct sl_config cfg;
	struct modset ms;
	char err[512];
	int before = open_fds();

	make_config(&cfg, paths, 2);
	for (int i = 0; i < 3; i++) {
		struct router rt = { 0 };

		cr_assert_eq(module_load_all(&cfg, NULL, &ms, &rt, err, sizeof(err)), -1);
		router_free(&rt);
	}
	cr_assert_eq(open_fds(), before, "%d descriptors more after 3 failed loads",
		     open_fds() - before);
}

Test(module, unchanged_files_are_shared_on_reload)
{
	const char *paths[] = { HELLO_SO, FIX("ver1.so") };
	struct sl_config cfg;
	struct modset old, new;
	struct router rt_old = { 0 }, rt_new = { 0 };
	char err[512] = "";

	make_config(&cfg, paths, 2);
	cr_assert_eq(module_load_all(&cfg, NULL, &old, &rt_old, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(module_load_all(&cfg, &old, &new, &rt_new, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(new.shared[i], 1, "module %d not shared", i);
		cr_assert_eq(new.handles[i], old.handles[i]);
		cr_assert_eq(new.mods[i], old.mods[i]);
	}
	cr_assert_eq(loaded_copies(), 2, "an unchanged module was loaded twice");
	cr_assert_eq(routed(&rt_new, "GET", "/ver"), routed(&rt_old, "GET", "/ver"));
	router_free(&rt_old);
	router_free(&rt_new);
}

/*
 * Load `path` (a copy of ver1.so) into `old`, let `change` put ver2.so in
 * its place, and reload: the module is loaded anew, the new router runs
 * ver2's code, and the old set still runs ver1's.
 */
static void expect_reloaded(const char *path, void (*change)(const char *path))
{
	const char *paths[] = { HELLO_SO, path };
	struct sl_config cfg;
	struct modset old, new;
	struct router rt_old = { 0 }, rt_new = { 0 };
	char err[512] = "";
	sl_handler h_old, h_new;

	copy_file(FIX("ver1.so"), path);
	make_config(&cfg, paths, 2);
	cr_assert_eq(module_load_all(&cfg, NULL, &old, &rt_old, err, sizeof(err)), 0, "%s", err);
	h_old = routed(&rt_old, "GET", "/ver");
	cr_assert(code_is_from((const void *)(uintptr_t)h_old, FIX("ver1.so")));

	change(path);
	cr_assert_eq(module_load_all(&cfg, &old, &new, &rt_new, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(new.shared[0], 1, "the unchanged hello.so was not shared");
	cr_assert_eq(new.shared[1], 0, "the changed module was taken for the old one");
	cr_assert_neq(new.handles[1], old.handles[1]);
	h_new = routed(&rt_new, "GET", "/ver");
	cr_assert_neq(h_new, h_old);
	cr_assert_eq(h_new, new.mods[1]->routes[0].handler);
	cr_assert(code_is_from((const void *)(uintptr_t)h_new, FIX("ver2.so")),
		  "the router does not hold the new file's code");
	/* The set in service is left alone: old workers still run it. */
	cr_assert(code_is_from((const void *)(uintptr_t)h_old, FIX("ver1.so")));
	cr_assert_eq(loaded_copies(), 3);
	router_free(&rt_old);
	router_free(&rt_new);
}

/* A rebuild that writes a new file and renames it into place. */
static void replace_by_rename(const char *path)
{
	char tmp[160];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	copy_file(FIX("ver2.so"), tmp);
	cr_assert_eq(rename(tmp, path), 0);
}

/*
 * rsync's way: a new file renamed into place, with the old file's
 * modification time (ver1.so and ver2.so have one size).
 */
static void replace_keeping_mtime(const char *path)
{
	char tmp[160];
	struct stat st;
	struct timespec times[2];

	cr_assert_eq(stat(path, &st), 0);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	copy_file(FIX("ver2.so"), tmp);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	cr_assert_eq(utimensat(AT_FDCWD, tmp, times, 0), 0);
	cr_assert_eq(rename(tmp, path), 0);
}

/* `cp ver2.so ver.so`: the same inode, rewritten (ver1.so and ver2.so have one size). */
static void overwrite_in_place(const char *path)
{
	struct stat before, after;

	cr_assert_eq(stat(path, &before), 0);
	usleep(20 * 1000);	/* past the file system's timestamp granularity */
	copy_file(FIX("ver2.so"), path);
	cr_assert_eq(stat(path, &after), 0);
	cr_assert_eq(before.st_ino, after.st_ino);
}

Test(module, file_replaced_by_rename_is_loaded_anew)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/ver.so", dir);
	expect_reloaded(path, replace_by_rename);
}

Test(module, file_replaced_with_the_same_mtime_is_loaded_anew)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/ver.so", dir);
	expect_reloaded(path, replace_keeping_mtime);
}

Test(module, file_overwritten_in_place_is_loaded_anew)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/ver.so", dir);
	expect_reloaded(path, overwrite_in_place);
}

/* A reload that fails must not unload what the set in service shares with it. */
Test(module, failed_reload_leaves_the_set_in_service)
{
	const char *good[] = { HELLO_SO }, *bad[] = { HELLO_SO, FIX("bad_abi.so") };
	struct sl_config cfg_good, cfg_bad;
	struct modset old, new;
	struct router rt_old = { 0 }, rt_new = { 0 };
	char err[512] = "";

	make_config(&cfg_good, good, 1);
	make_config(&cfg_bad, bad, 2);
	cr_assert_eq(module_load_all(&cfg_good, NULL, &old, &rt_old, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(module_load_all(&cfg_bad, &old, &new, &rt_new, err, sizeof(err)), -1);
	cr_assert_eq(loaded_copies(), 1, "the shared hello.so was unloaded");
	cr_assert_eq(dlsym(old.handles[0], "sluice_module"), old.mods[0]);
	cr_assert_str_eq(old.mods[0]->name, "hello");
	router_free(&rt_old);
	router_free(&rt_new);
}

/* ---- init and fini ---------------------------------------------------- */

static char trail[64];

static void note(const char *what)
{
	strcat(trail, what);
}

static int init_a(struct sl_context *ctx) { (void)ctx; note("+a"); return 0; }
static int init_b(struct sl_context *ctx) { (void)ctx; note("+b"); return 0; }
static int init_c(struct sl_context *ctx) { (void)ctx; note("+c"); return 0; }
static int init_bad(struct sl_context *ctx) { (void)ctx; note("+bad"); return -1; }
static void fini_a(struct sl_context *ctx) { (void)ctx; note("-a"); }
static void fini_c(struct sl_context *ctx) { (void)ctx; note("-c"); }
static void fini_bad(struct sl_context *ctx) { (void)ctx; note("-bad"); }

static const struct sl_module mod_a = { .abi = SLUICE_ABI_VERSION, .name = "a",
					.init = init_a, .fini = fini_a };
/* b has an init and no fini; nofn has neither. */
static const struct sl_module mod_b = { .abi = SLUICE_ABI_VERSION, .name = "b",
					.init = init_b };
static const struct sl_module mod_c = { .abi = SLUICE_ABI_VERSION, .name = "c",
					.init = init_c, .fini = fini_c };
static const struct sl_module mod_nofn = { .abi = SLUICE_ABI_VERSION, .name = "nofn" };
static const struct sl_module mod_bad = { .abi = SLUICE_ABI_VERSION, .name = "bad",
					  .init = init_bad, .fini = fini_bad };

/* Every module of a hand-made set is mounted at /m<index>, without settings. */
static struct module_config confs[4];
static char mounts[4][16];

static void make_set(struct modset *ms, const struct sl_module *const *mods, int n)
{
	memset(ms, 0, sizeof(*ms));
	for (int i = 0; i < n; i++) {
		snprintf(mounts[i], sizeof(mounts[i]), "/m%d", i);
		confs[i] = (struct module_config){ .path = (char *)(uintptr_t)"/x.so",
						   .mount = mounts[i], .line = 10 * (i + 1) };
		ms->mods[i] = mods[i];
		ms->conf[i] = &confs[i];
	}
	ms->n = n;
	trail[0] = '\0';
}

Test(module, init_in_config_order_fini_in_reverse)
{
	const struct sl_module *mods[] = { &mod_a, &mod_nofn, &mod_b, &mod_c };
	struct modset ms;

	make_set(&ms, mods, 4);
	cr_assert_eq(module_init_all(&ms), 0);
	cr_assert_str_eq(trail, "+a+b+c");
	module_fini_all(&ms);
	cr_assert_str_eq(trail, "+a+b+c-c-a");
	/* Finalised once only. */
	module_fini_all(&ms);
	cr_assert_str_eq(trail, "+a+b+c-c-a");
}

Test(module, failed_init_finalises_the_modules_before_it)
{
	const struct sl_module *mods[] = { &mod_a, &mod_c, &mod_bad, &mod_b };
	struct modset ms;

	make_set(&ms, mods, 4);
	cr_assert_eq(module_init_all(&ms), -1);
	/* b, after the failure, never starts; bad itself is not finalised. */
	cr_assert_str_eq(trail, "+a+c+bad-c-a");
	module_fini_all(&ms);
	cr_assert_str_eq(trail, "+a+c+bad-c-a", "finalised twice");
}

Test(module, names_of_the_active_set)
{
	const struct sl_module *mods[] = { &mod_a, &mod_c };
	struct modset ms;

	make_set(&ms, mods, 2);
	cr_assert_eq(module_init_all(&ms), 0);
	cr_assert_str_eq(module_name(0), "a");
	cr_assert_str_eq(module_name(1), "c");
	cr_assert_str_eq(module_name(2), "?");
	cr_assert_str_eq(module_name(-1), "?");
	module_fini_all(&ms);
}

/* The real fixture, loaded like any module: the failure is logged by name. */
Test(module, init_fails_fixture_is_logged)
{
	const char *paths[] = { HELLO_SO, FIX("init_fails.so") };
	struct sl_config cfg;
	struct modset ms;
	struct router rt = { 0 };
	char err[512] = "", logpath[128];
	size_t len;
	unsigned char *text;

	snprintf(logpath, sizeof(logpath), "%s/error.log", dir);
	cr_assert_eq(log_open(logpath, LOG_NOTICE), 0);
	make_config(&cfg, paths, 2);
	cfg.modules[1].mount = (char *)(uintptr_t)"/if";
	cr_assert_eq(module_load_all(&cfg, NULL, &ms, &rt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(module_init_all(&ms), -1);
	cr_assert_eq(ms.ninited, 0);
	text = slurp(logpath, &len);
	text[len < (1 << 20) ? len : len - 1] = '\0';
	cr_assert_not_null(strstr((char *)text, "[error] sluice: module init_fails: init failed\n"),
			   "log: %s", text);
	free(text);
	router_free(&rt);
}

/* ---- The init context ------------------------------------------------- */

/* Open dir/error.log as the error log; its path into `path`. */
static void log_here(char *path, size_t len)
{
	snprintf(path, len, "%s/error.log", dir);
	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
}

/* The error log so far, malloc'ed and NUL-terminated. */
static char *log_text(const char *path)
{
	size_t len;
	unsigned char *text = slurp(path, &len);

	text[len < (1 << 20) ? len : len - 1] = '\0';
	return (char *)text;
}

/* config.h's strings are the loader's and not const; these are never freed. */
#define STR(literal)	((char *)(uintptr_t)(literal))

static struct module_setting notes_settings[] = {
	{ .name = STR("db"), .type = SETTING_STRING, .v.str = STR("/var/lib/notes.db"),
	  .file = STR("/etc/sluice/notes.conf"), .line = 7 },
	{ .name = STR("page_size"), .type = SETTING_INT, .v.i = 20, .file = STR(CONF), .line = 12 },
	{ .name = STR("ratio"), .type = SETTING_DOUBLE, .v.d = 0.25, .file = STR(CONF), .line = 13 },
	{ .name = STR("whole"), .type = SETTING_INT, .v.i = 3, .file = STR(CONF), .line = 14 },
	{ .name = STR("debug"), .type = SETTING_BOOL, .v.b = 1, .file = STR(CONF), .line = 15 },
};

/* What notes_init read, in one line. */
static char seen[512];

static int notes_init(struct sl_context *ctx)
{
	snprintf(seen, sizeof(seen), "%s@%s db=%s page_size=%lld ratio=%g whole=%g debug=%d "
		 "absent=%s/%lld/%g/%d", sl_context_name(ctx), sl_context_mount(ctx),
		 sl_setting_str(ctx, "db", "?"), sl_setting_int(ctx, "page_size", -1),
		 sl_setting_double(ctx, "ratio", -1), sl_setting_double(ctx, "whole", -1),
		 sl_setting_bool(ctx, "debug", 0), sl_setting_str(ctx, "nope", "def"),
		 sl_setting_int(ctx, "nope", 7), sl_setting_double(ctx, "nope", 1.5),
		 sl_setting_bool(ctx, "nope", 1));
	sl_log(NULL, SL_LOG_NOTICE, "init says hello");
	return 0;
}

static void notes_fini(struct sl_context *ctx)
{
	sl_log(NULL, SL_LOG_WARNING, "fini of %s", sl_context_name(ctx));
}

/* Reads page_size as a string and db as an integer: two mistakes. */
static int wrong_init(struct sl_context *ctx)
{
	snprintf(seen, sizeof(seen), "%s %lld", sl_setting_str(ctx, "page_size", "dflt"),
		 sl_setting_int(ctx, "db", 99));
	note("+wrong");
	return 0;
}

static void wrong_fini(struct sl_context *ctx)
{
	(void)ctx;
	note("-wrong");
}

static const struct sl_module mod_notes = { .abi = SLUICE_ABI_VERSION, .name = "notes",
					    .init = notes_init, .fini = notes_fini };
static const struct sl_module mod_wrong = { .abi = SLUICE_ABI_VERSION, .name = "wrong",
					    .init = wrong_init, .fini = wrong_fini };

Test(module, init_reads_settings_name_and_mount_and_logs)
{
	const struct sl_module *mods[] = { &mod_a, &mod_notes };
	struct modset ms;
	char logpath[128], *text;

	log_here(logpath, sizeof(logpath));
	make_set(&ms, mods, 2);
	confs[1].settings = notes_settings;
	confs[1].nsettings = sizeof(notes_settings) / sizeof(notes_settings[0]);
	cr_assert_eq(module_init_all(&ms), 0);
	cr_assert_str_eq(seen, "notes@/m1 db=/var/lib/notes.db page_size=20 ratio=0.25 "
			 "whole=3 debug=1 absent=def/7/1.5/1");
	cr_assert_null(module_running(), "a module is still running after init");
	module_fini_all(&ms);
	text = log_text(logpath);
	cr_assert_not_null(strstr(text, "[notice] sluice: module notes: init says hello\n"),
			   "log: %s", text);
	cr_assert_not_null(strstr(text, "[warning] sluice: module notes: fini of notes\n"),
			   "log: %s", text);
	free(text);
}

/*
 * A setting of the wrong type: each is logged with the line it was
 * written on, the default is used, and the init fails once it returns,
 * after the module's own fini and those of the modules before it.
 */
Test(module, wrong_setting_type_fails_init_naming_file_and_line)
{
	const struct sl_module *mods[] = { &mod_a, &mod_wrong, &mod_c };
	struct modset ms;
	char logpath[128], *text;

	log_here(logpath, sizeof(logpath));
	make_set(&ms, mods, 3);
	confs[1].settings = notes_settings;
	confs[1].nsettings = sizeof(notes_settings) / sizeof(notes_settings[0]);
	cr_assert_eq(module_init_all(&ms), -1);
	cr_assert_str_eq(seen, "dflt 99", "the defaults were not used");
	cr_assert_str_eq(trail, "+a+wrong-wrong-a");
	text = log_text(logpath);
	cr_assert_not_null(strstr(text, "[error] sluice: " CONF ":12: modules[1].settings."
				  "page_size must be a string, not an integer (module wrong reads "
				  "it with sl_setting_str)\n"), "log: %s", text);
	cr_assert_not_null(strstr(text, "[error] sluice: /etc/sluice/notes.conf:7: "
				  "modules[1].settings.db must be an integer, not a string "
				  "(module wrong reads it with sl_setting_int)\n"), "log: %s", text);
	cr_assert_not_null(strstr(text, "[error] sluice: module wrong: init failed: 2 of its "
				  "settings have the wrong type (see above)\n"), "log: %s", text);
	free(text);
}

/* Outside init, fini and any request, sl_log(NULL) still writes its line. */
Test(module, log_without_request_outside_init)
{
	char logpath[128], *text;

	log_here(logpath, sizeof(logpath));
	sl_log(NULL, SL_LOG_ERROR, "from nowhere %d", 42);
	text = log_text(logpath);
	cr_assert_not_null(strstr(text, "[error] sluice: module ?: from nowhere 42\n"),
			   "log: %s", text);
	free(text);
}

/* ---- ABI and languages ------------------------------------------------ */

/* Load `path` alone at `mount`; the test fails when it is refused. */
static void load_alone(const char *path, const char *mount, struct modset *ms,
		       struct router *rt)
{
	const char *paths[] = { path };
	static struct sl_config cfg;
	char err[512] = "";

	make_config(&cfg, paths, 1);
	cfg.modules[0].mount = (char *)(uintptr_t)mount;
	cr_assert_eq(module_load_all(&cfg, NULL, ms, rt, err, sizeof(err)), 0, "%s", err);
}

/* An ABI 1 module loads, and its init and fini are called without a context. */
Test(module, abi1_module_loads_and_is_initialised_the_old_way)
{
	struct modset ms;
	struct router rt = { 0 };
	int *inits, *finis;

	load_alone(FIX("abi1.so"), "/", &ms, &rt);
	cr_assert_str_eq(ms.mods[0]->name, "abi1");
	cr_assert_eq(ms.mods[0]->abi, 1);
	cr_assert_eq(routed(&rt, "GET", "/old"), ms.mods[0]->routes[0].handler);
	inits = dlsym(ms.handles[0], "abi1_fixture_inits");
	finis = dlsym(ms.handles[0], "abi1_fixture_finis");
	cr_assert(inits && finis);
	cr_assert_eq(module_init_all(&ms), 0);
	cr_assert_eq(*inits, 1);
	cr_assert_eq(*finis, 0);
	module_fini_all(&ms);
	cr_assert_eq(*finis, 1);
	router_free(&rt);
}

Test(module, reserved_slot_set_is_refused)
{
	expect_refused(FIX("reserved.so"), "its descriptor gives a field this sluice does not "
		       "know (reserved slot 2)");
}

/* Built with g++ and hidden visibility: found, routed, initialised. */
Test(module, cxx_module_loads_and_inits)
{
	struct modset ms;
	struct router rt = { 0 };
	char logpath[128], *text;

	log_here(logpath, sizeof(logpath));
	load_alone(FIX("cxx.so"), "/cxx", &ms, &rt);
	cr_assert_str_eq(ms.mods[0]->name, "cxx");
	cr_assert_eq(routed(&rt, "GET", "/cxx/bob"), ms.mods[0]->routes[0].handler);
	cr_assert_eq(module_init_all(&ms), 0);
	module_fini_all(&ms);
	text = log_text(logpath);
	cr_assert_not_null(strstr(text, "module cxx: C++ init, greeting as \"hello\"\n"),
			   "log: %s", text);
	free(text);
	router_free(&rt);
}

Test(module, hidden_visibility_module_loads)
{
	struct modset ms;
	struct router rt = { 0 };

	load_alone(FIX("hidden.so"), "/h", &ms, &rt);
	cr_assert_str_eq(ms.mods[0]->name, "hidden");
	cr_assert_eq(routed(&rt, "GET", "/h/x"), ms.mods[0]->handler);
	router_free(&rt);
}

/* ---- Who may write a module ------------------------------------------ */

/* A copy of hello.so in the test folder, with `mode`; its path in `path`. */
static void hello_copy(char *path, size_t len, mode_t mode)
{
	snprintf(path, len, "%s/hello.so", dir);
	copy_file(HELLO_SO, path);
	cr_assert_eq(chmod(path, mode), 0);
}

/* Does `path` load alone? */
static void expect_loaded(const char *path)
{
	const char *paths[] = { path };
	struct sl_config cfg;
	struct modset ms;
	struct router rt = { 0 };
	char err[1024] = "";

	make_config(&cfg, paths, 1);
	cr_assert_eq(module_load_all(&cfg, NULL, &ms, &rt, err, sizeof(err)), 0, "%s", err);
	router_free(&rt);
}

/* The master runs a module's constructors as root: a file others could rewrite is refused. */
Test(module, module_others_can_write_is_refused_naming_its_mode)
{
	char path[128];

	hello_copy(path, sizeof(path), 0666);
	expect_refused(path, "(mode 0666) can be written by anyone");
	cr_assert_eq(chmod(path, 0664), 0);
	expect_refused(path, "(mode 0664) can be written by its group");
	cr_assert_eq(chmod(path, 0755), 0);
	expect_loaded(path);
}

/* A folder others can write to lets them put another file in the module's place. */
Test(module, module_in_a_folder_others_can_write_is_refused)
{
	char path[128], needle[160];

	hello_copy(path, sizeof(path), 0755);
	cr_assert_eq(chmod(dir, 0777), 0);
	snprintf(needle, sizeof(needle), "the folder %s (mode 0777) can be written by anyone",
		 dir);
	expect_refused(path, needle);
	cr_assert_eq(chmod(dir, 01777), 0);
	expect_loaded(path);
	cr_assert_eq(chmod(dir, 0700), 0);
}
