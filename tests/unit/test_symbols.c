/*
 * test_symbols.c - naming code addresses as a backtrace shows them:
 * static functions of the executable and of a module (which dladdr and
 * backtrace_symbols cannot name), "file+0xoffset" inside an object where
 * no function covers the address, bare hex outside every object, and
 * buffers of any size left NUL-terminated and never overrun.
 *
 * Each test runs in its own process (Criterion forks), so a module one
 * test loads is not seen by the next.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "module.h"
#include "router.h"
#include "sluice.h"
#include "symbols.h"

#define CRASH_SO	BUILD_DIR "/fixtures/crash.so"

static volatile int sink;

/* A static function of the executable with a body of some length. */
static __attribute__((noinline)) void symbols_test_target(int n)
{
	for (int i = 0; i < n; i++)
		sink += i * 3;
}

static char out[256];

/*
 * The name symbols_format gives `addr`, less the " at file.c:12" that the
 * dev profile adds from DWARF (dev_mode's suite checks that part): these
 * tests are about the symbol tables, the same in both profiles.
 */
static const char *fmt(uintptr_t addr)
{
	size_t n = symbols_format(addr, out, sizeof(out));
	char *at = strstr(out, " at "), *end;

	cr_assert_eq(n, strlen(out), "returned %zu for \"%s\"", n, out);
	if (at) {
		end = strchr(at + 4, ' ');
		memmove(at, end ? end : at + strlen(at), strlen(end ? end : at) + 1);
	}
	return out;
}

/* The route `path` of a module descriptor, its handler's address. */
static uintptr_t route_handler(const struct sl_module *m, const char *path)
{
	for (const struct sl_route *r = m->routes; r && r->path; r++)
		if (strcmp(r->path, path) == 0)
			return (uintptr_t)r->handler;
	cr_assert_fail("module %s has no route %s", m->name, path);
	return 0;
}

static const struct sl_module *open_crash(void **handle)
{
	const struct sl_module *m;

	*handle = dlopen(CRASH_SO, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(*handle, "dlopen: %s", dlerror());
	m = dlsym(*handle, "sluice_module");
	cr_assert_not_null(m, "dlsym: %s", dlerror());
	return m;
}

TestSuite(symbols);

/* The executable is shown as "sluice", whatever its file is called. */
Test(symbols, static_function_of_the_executable)
{
	uintptr_t fn = (uintptr_t)symbols_test_target;

	symbols_test_target(2);
	symbols_load();
	cr_assert_str_eq(fmt(fn), "symbols_test_target+0x0 (sluice)");
	cr_assert_str_eq(fmt(fn + 5), "symbols_test_target+0x5 (sluice)");
}

Test(symbols, exported_function_of_a_library)
{
	char want[64];
	uintptr_t fn = (uintptr_t)dlsym(RTLD_DEFAULT, "getpid");
	Dl_info info;

	cr_assert_neq(fn, 0);
	cr_assert_neq(dladdr((void *)fn, &info), 0);
	symbols_load();
	snprintf(want, sizeof(want), " (%s)", strrchr(info.dli_fname, '/') ?
		 strrchr(info.dli_fname, '/') + 1 : info.dli_fname);
	fmt(fn + 1);
	/* glibc may name it by an alias (__getpid): the offset and object are what count. */
	cr_assert(strstr(out, "getpid+0x1 (") != NULL, "\"%s\"", out);
	cr_assert(strstr(out, want) != NULL, "\"%s\" does not end in \"%s\"", out, want);
}

/* A module's static handler, named from the module's own symbol table. */
Test(symbols, static_function_of_a_module)
{
	void *h;
	const struct sl_module *m = open_crash(&h);
	uintptr_t ok = route_handler(m, "/ok"), segv = route_handler(m, "/segv");

	symbols_load();
	cr_assert_str_eq(fmt(ok), "ok+0x0 (crash.so)");
	cr_assert_str_eq(fmt(ok + 3), "ok+0x3 (crash.so)");
	cr_assert_str_eq(fmt(segv + 1), "segv+0x1 (crash.so)");
	dlclose(h);
}

/* Objects loaded after the table was built are unknown until it is rebuilt. */
Test(symbols, load_rebuilds_the_table)
{
	void *h;
	const struct sl_module *m;
	uintptr_t ok;

	symbols_load();
	m = open_crash(&h);
	ok = route_handler(m, "/ok");
	cr_assert(strstr(fmt(ok), "crash.so") == NULL, "\"%s\" named before loading", out);
	symbols_load();
	cr_assert_str_eq(fmt(ok), "ok+0x0 (crash.so)");
	dlclose(h);
}

/* A module loaded the way sluice loads it (from a private copy) keeps its name. */
Test(symbols, module_loaded_by_sluice_keeps_its_file_name)
{
	static char conf[] = "test.conf", path[] = CRASH_SO, mount[] = "/";
	struct sl_config cfg = { .file = conf, .nmodules = 1 };
	struct modset ms;
	struct router rt = { 0 };
	struct match mt;
	char err[512] = "";

	cfg.modules[0] = (struct module_config){ .path = path, .mount = mount, .line = 1 };
	cr_assert_eq(module_load_all(&cfg, NULL, &ms, &rt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(router_match(&rt, "GET", "/fpe", &mt, NULL, 0), ROUTER_FOUND);
	symbols_load();
	cr_assert_str_eq(fmt((uintptr_t)mt.route->handler + 2), "fpe+0x2 (crash.so)");
	router_free(&rt);
}

/* Inside a module where no function is: the file and the offset from its start. */
Test(symbols, address_before_any_function_shows_file_offset)
{
	void *h;
	const struct sl_module *m = open_crash(&h);
	Dl_info info;

	cr_assert_neq(dladdr(m, &info), 0);
	symbols_load();
	/* The ELF header, mapped at the start of the object: no code there. */
	cr_assert_str_eq(fmt((uintptr_t)info.dli_fbase + 0x10), "crash.so+0x10");
	cr_assert_str_eq(fmt((uintptr_t)info.dli_fbase + 0x123), "crash.so+0x123");
	dlclose(h);
}

/*
 * The descriptor is data, after the last function: no function covers
 * it either, not even one whose symbol has no size (_fini).
 */
Test(symbols, data_after_the_code_shows_file_offset)
{
	void *h;
	const struct sl_module *m = open_crash(&h);
	Dl_info info;
	char want[64];

	cr_assert_neq(dladdr(m, &info), 0);
	symbols_load();
	snprintf(want, sizeof(want), "crash.so+0x%jx",
		 (uintmax_t)((uintptr_t)m - (uintptr_t)info.dli_fbase));
	cr_assert_str_eq(fmt((uintptr_t)m), want);
	dlclose(h);
}

Test(symbols, address_outside_every_object_is_hex)
{
	char want[64];
	void *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(page, MAP_FAILED);
	symbols_load();
	cr_assert_str_eq(fmt(0x1234), "0x1234");
	cr_assert_str_eq(fmt(0), "0x0");
	snprintf(want, sizeof(want), "0x%jx", (uintmax_t)(uintptr_t)page + 8);
	cr_assert_str_eq(fmt((uintptr_t)page + 8), want);
	munmap(page, 4096);
}

/* Before any table is built there is nothing to name: hex. */
Test(symbols, before_load_everything_is_hex)
{
	char want[64];
	uintptr_t fn = (uintptr_t)symbols_test_target;

	snprintf(want, sizeof(want), "0x%jx", (uintmax_t)fn);
	cr_assert_str_eq(fmt(fn), want);
}

/* Every size from 0 up: never a byte past `len`, always a string, the right prefix. */
Test(symbols, small_buffers_truncate_safely)
{
	const char *forms[3];
	uintptr_t addrs[3];
	char full[3][128], buf[160];
	void *h;
	const struct sl_module *m = open_crash(&h);
	Dl_info info;

	cr_assert_neq(dladdr(m, &info), 0);
	symbols_load();
	addrs[0] = (uintptr_t)symbols_test_target + 1;	/* name+off (file) */
	addrs[1] = (uintptr_t)info.dli_fbase + 0x10;	/* file+off */
	addrs[2] = 0x1234;				/* hex */
	for (int k = 0; k < 3; k++) {
		symbols_format(addrs[k], full[k], sizeof(full[k]));
		forms[k] = full[k];
	}
	for (int k = 0; k < 3; k++)
		for (size_t len = 0; len <= strlen(forms[k]) + 2; len++) {
			size_t n;

			memset(buf, '#', sizeof(buf));
			n = symbols_format(addrs[k], buf, len);
			for (size_t i = len; i < sizeof(buf); i++)
				cr_assert_eq(buf[i], '#', "len %zu: byte %zu written", len, i);
			if (len == 0) {
				cr_assert_eq(n, 0);
				continue;
			}
			cr_assert_eq(n, strlen(buf), "len %zu: returned %zu for \"%s\"", len, n, buf);
			cr_assert_lt(n, len);
			cr_assert_eq(n, strlen(forms[k]) < len - 1 ? strlen(forms[k]) : len - 1);
			cr_assert_eq(strncmp(buf, forms[k], n), 0, "len %zu: \"%s\" vs \"%s\"",
				     len, buf, forms[k]);
		}
	dlclose(h);
}
